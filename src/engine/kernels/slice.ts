/**
 * `Slice`, `SplitV` and `Unpack` for wasm that copy only the slice. The shipped Slice starts with
 * `backend.readSync(x)` — a copy of the *whole* input into a fresh JS ArrayBuffer — and SplitV /
 * Unpack call it once per output, so tf.split (the gradient of tf.concat), tf.unstack and the
 * gradient of tf.pad (a slice of dy) each copied their full input per piece, and the
 * multi-megabyte ArrayBuffers sent V8 into full GCs: one 1-element slice of a 16×32×32×96 tensor
 * took 1–30 ms. Here the input is read through a view of the heap. Strings keep the originals.
 * Measured on 16×32×32×192 (medians): split in two along axis 3 75 → 2.9 ms, a border-cropping
 * slice 47 → 0.8 ms.
 */
import { backend_util, getKernel, Slice, slice_util, SplitV, Unpack, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, SliceAttrs, SplitVAttrs, TensorInfo, UnpackAttrs } from '@tensorflow/tfjs-core';
import type { BackendWasm } from './wasm_util.js';

type Heap = Float32Array | Int32Array | Uint8Array;

/** x[begin : begin + size] into a new tensor (numeric dtypes). */
export function sliceHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const n = util.sizeFromShape(size);
  if (n === 0) return out;
  // Views after the allocation (it may move the heap).
  const xv = backend.typedArrayFromHeap(x) as Heap;
  const ov = backend.typedArrayFromHeap(out) as Heap;
  const strides = [...util.computeStrides(x.shape), 1]; // (computeStrides omits the last axis' 1)
  if (slice_util.isSliceContinous(x.shape, begin, size)) {
    const off = slice_util.computeFlatOffset(begin, strides);
    ov.set(xv.subarray(off, off + n));
    return out;
  }
  // Copy runs along the innermost axes that the slice takes whole (at least the last axis).
  const rank = x.shape.length;
  let k = rank - 1; // axes k.. are copied as one run
  let run = size[rank - 1];
  while (k > 0 && size[k] === x.shape[k] && begin[k] === 0) {
    k--;
    run *= size[k];
  }
  // axes [0, k) are iterated; axis k's run starts at begin[k]
  const outer = k; // number of iterated axes
  const idx = new Array<number>(outer).fill(0);
  const runs = n / run;
  for (let r = 0, o = 0; r < runs; r++, o += run) {
    let src = begin[k] * strides[k];
    for (let d = 0; d < outer; d++) src += (begin[d] + idx[d]) * strides[d];
    if (run >= 64) ov.set(xv.subarray(src, src + run), o);
    else for (let i = 0; i < run; i++) ov[o + i] = xv[src + i];
    for (let d = outer - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

const originals = new Map<string, KernelConfig>();

/** Numeric data on the heap (strings live in JS; anything else goes to the originals too). */
const onHeap = (t: TensorInfo) => t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool';

function original(name: string, backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: unknown): TensorInfo | TensorInfo[] {
  const config = originals.get(name);
  if (!config) throw new Error(`${name} (apc): original wasm kernel unavailable`);
  return (config.kernelFunc as KernelFunc)({ inputs, backend: backend as never, attrs: attrs as never });
}

function sliceWasm(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: SliceAttrs }): TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  if (!onHeap(x)) return original(Slice, backend, { x }, attrs) as TensorInfo;
  const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  return sliceHeap(backend, x, begin, size);
}

function splitVWasm(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: SplitVAttrs }): TensorInfo[] {
  const { inputs: { x }, backend, attrs } = args;
  if (!onHeap(x)) return original(SplitV, backend, { x }, attrs) as TensorInfo[];
  const axis = util.parseAxisParam(attrs.axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x, attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const piece = sliceHeap(backend, x, begin, size);
    begin[axis] += s;
    return piece;
  });
}

function unpackWasm(args: { inputs: { value: TensorInfo }; backend: BackendWasm; attrs: UnpackAttrs }): TensorInfo[] {
  const { inputs: { value }, backend, attrs } = args;
  if (!onHeap(value)) return original(Unpack, backend, { value }, attrs) as TensorInfo[];
  const rank = value.shape.length;
  const axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    const piece = sliceHeap(backend, value, begin, size);
    outs.push({ dataId: piece.dataId, dtype: piece.dtype, shape: outShape });
  }
  return outs;
}

const funcs: [string, KernelFunc][] = [
  [Slice, sliceWasm as unknown as KernelFunc],
  [SplitV, splitVWasm as unknown as KernelFunc],
  [Unpack, unpackWasm as unknown as KernelFunc],
];

/** Configs replacing the three registered wasm kernels (originals kept for strings, setupFuncs chained). */
export function makeSliceWasmConfigs(): KernelConfig[] {
  const configs: KernelConfig[] = [];
  for (const [name, fn] of funcs) {
    if (!originals.has(name)) {
      const current = getKernel(name, 'wasm');
      if (current && current.kernelFunc !== fn) originals.set(name, current);
    }
    const setup = originals.get(name)?.setupFunc;
    configs.push({ kernelName: name, backendName: 'wasm', kernelFunc: fn, ...(setup ? { setupFunc: setup } : {}) });
  }
  return configs;
}
