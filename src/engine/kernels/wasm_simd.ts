/**
 * Hand-written WebAssembly SIMD kernels that run directly on the tfjs-backend-wasm heap.
 *
 * Why: some gradients have no XNNPACK formulation that is fast (the depthwise filter gradient is
 * a per-channel dot product, not a GEMM), and a JS loop is scalar. A few dozen wasm SIMD
 * instructions (f32x4 over 4 channels) are several times faster, and by importing the backend's
 * own WebAssembly.Memory they read and write tensors in place — no copies. There is no wasm
 * toolchain among apc's dependencies, so the modules are assembled here from a small instruction
 * vocabulary (the binary format is simple: a few sections, LEB128 integers).
 *
 * Use `wasmMemoryOf(backend)` for the heap, `instantiateKernel(memory, key, build)` to get (and
 * cache per memory) a module's exports; both return undefined where this cannot work (no SIMD in
 * the engine, no memory object exposed), so callers keep a JS fallback.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from './wasm_util.js';

export const I32 = 0x7f;
export const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instructions, as byte arrays (spread them into a function body). Memory accesses take a byte address. */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32GeU: [0x4f],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
  /** v128.load / v128.store with a constant byte offset (alignment hint 1: any address). */
  v128Load: (offset = 0) => [0xfd, 0x00, 0x00, ...uleb(offset)],
  v128Store: (offset = 0) => [0xfd, 0x0b, 0x00, ...uleb(offset)],
  v128Zero: [0xfd, 0x0c, ...new Array<number>(16).fill(0)],
  /** i8x16.shuffle of two v128 operands by 16 lane indices. */
  shuffle: (lanes: number[]) => [0xfd, 0x0d, ...lanes],
  f32x4Add: [0xfd, 0xe4, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
  f64x2Add: [0xfd, 0xf0, 0x01],
  f64x2PromoteLowF32x4: [0xfd, 0x5f],
} as const;

export interface WasmFunction {
  name: string;
  params: number[];
  /** Extra locals, as [count, type] runs. */
  locals: [number, number][];
  /** Instructions, without the final `end`. */
  body: number[];
}

/** A module importing `env.memory` (shared or not) and exporting `fns`. */
export function assemble(fns: WasmFunction[], sharedMemory: boolean): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec([])]);
  // Shared memories must declare a maximum; 65536 pages (4 GiB) admits any actual maximum.
  const limits = sharedMemory ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  const codes = fns.map((f) => {
    const code = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

interface EmscriptenHeap {
  asm?: { memory?: unknown };
  wasmMemory?: unknown;
}

/** The backend's heap as a WebAssembly.Memory (single-threaded build: exported; threaded: imported). */
export function wasmMemoryOf(backend: BackendWasm): WebAssembly.Memory | undefined {
  const m = (backend as unknown as { wasm: EmscriptenHeap }).wasm;
  const mem = m.asm?.memory ?? m.wasmMemory;
  return mem instanceof WebAssembly.Memory ? mem : undefined;
}

/** Byte address of a tensor's data on the heap. */
export function heapAddress(backend: BackendWasm, t: TensorInfo): number {
  const internals = backend as unknown as { dataIdMap: { get(d: object): { memoryOffset: number } } };
  return internals.dataIdMap.get(t.dataId).memoryOffset;
}

const cache = new WeakMap<WebAssembly.Memory, Map<string, WebAssembly.Exports | null>>();

/**
 * The exports of the module `build(shared)` assembles, instantiated against `memory` (cached per
 * memory and key); undefined if the engine rejects it (no SIMD) — callers then use their JS path.
 */
export function instantiateKernel(memory: WebAssembly.Memory, key: string, build: (sharedMemory: boolean) => Uint8Array<ArrayBuffer>): WebAssembly.Exports | undefined {
  let perMemory = cache.get(memory);
  if (!perMemory) {
    perMemory = new Map();
    cache.set(memory, perMemory);
  }
  let exports = perMemory.get(key);
  if (exports === undefined) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = build(shared);
    exports = null;
    if (WebAssembly.validate(bytes)) {
      try {
        exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
      } catch {
        exports = null;
      }
    }
    perMemory.set(key, exports);
  }
  return exports ?? undefined;
}
