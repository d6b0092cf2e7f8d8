/**
 * Small helpers shared by the kernels of the pack: calling another registered kernel from inside
 * a kernel, heap views, disposal of intermediates, and a backend-neutral way to read/write the
 * values behind a TensorInfo for the `wasm` and `cpu` backends.
 */
import { getKernel, util } from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

export type { BackendWasm, MathBackendCPU };

/** Runs the kernel registered as `name` for the backend called `backendName`. */
export function callKernel(
  name: string,
  backendName: string,
  backend: unknown,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const config = getKernel(name, backendName);
  if (config == null) throw new Error(`kernel '${name}' is not registered for backend '${backendName}'`);
  return runConfig(config, backend, inputs, attrs);
}

/** Runs a kernel from its config (e.g. the original config saved before replacing it). */
export function runConfig(
  config: KernelConfig,
  backend: unknown,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const fn = config.kernelFunc as KernelFunc;
  const out = fn({ inputs, backend: backend as never, attrs: attrs as NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`kernel '${config.kernelName}' returned several outputs`);
  return out;
}

/** Same TensorInfo seen with another (equal-size) shape; no copy, no refcount (do not dispose). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  if (util.sizeFromShape(shape) !== util.sizeFromShape(t.shape)) {
    throw new Error(`view: shape ${shape} does not match ${t.shape}`);
  }
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Float32 view of a wasm tensor on the heap. Take it after every allocation (heap may grow). */
export function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function disposeAll(backend: { disposeData(dataId: object): unknown }, ...infos: (TensorInfo | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/**
 * Access to float32 memory of one backend: allocate an output and get views for reading/writing.
 * On wasm, `out()` allocates on the heap (which can move the heap: call `f32()` for every view
 * afterwards); on cpu it allocates a Float32Array owned by the new tensor.
 */
export interface F32Access {
  readonly name: 'wasm' | 'cpu';
  out(shape: number[], dtype?: DataType): TensorInfo;
  f32(t: TensorInfo): Float32Array;
  dispose(t: TensorInfo): void;
}

export function f32Access(backend: unknown, name: 'wasm' | 'cpu'): F32Access {
  if (name === 'wasm') {
    const b = backend as BackendWasm;
    return {
      name,
      out: (shape, dtype = 'float32') => b.makeOutput(shape, dtype),
      f32: (t) => b.typedArrayFromHeap(t) as Float32Array,
      dispose: (t) => { b.disposeData(t.dataId); },
    };
  }
  const b = backend as MathBackendCPU;
  return {
    name,
    out: (shape, dtype = 'float32') =>
      b.makeTensorInfo(shape, dtype, util.getTypedArrayFromDType(dtype as 'float32', util.sizeFromShape(shape))),
    f32: (t) => {
      const v = b.data.get(t.dataId).values;
      if (!(v instanceof Float32Array)) throw new Error(`expected float32 values, got ${t.dtype}`);
      return v;
    },
    dispose: (t) => { b.disposeData(t.dataId); },
  };
}

interface WasmInternals {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number }; delete(dataId: object): void };
  wasm: { tfjs: { disposeData(id: number): void } };
}

/**
 * A float32 tensor that aliases `shape` elements of `base`'s heap memory starting `floatOffset`
 * elements in (no copy). Lets XNNPACK kernels read shifted views. The alias must be released with
 * `releaseAlias` — never `disposeData`, which would free() an interior pointer.
 */
export function heapAlias(backend: BackendWasm, base: TensorInfo, floatOffset: number, shape: number[]): TensorInfo {
  const size = util.sizeFromShape(shape);
  if (floatOffset < 0 || floatOffset + size > util.sizeFromShape(base.shape)) {
    throw new Error(`heapAlias: [${floatOffset}, ${floatOffset + size}) outside a tensor of ${util.sizeFromShape(base.shape)}`);
  }
  const { memoryOffset } = (backend as unknown as WasmInternals).dataIdMap.get(base.dataId);
  return backend.makeOutput(shape, 'float32', memoryOffset + 4 * floatOffset);
}

export function releaseAlias(backend: BackendWasm, alias: TensorInfo): void {
  const b = backend as unknown as WasmInternals;
  const d = b.dataIdMap.get(alias.dataId);
  b.wasm.tfjs.disposeData(d.id); // also runs the C++ disposal callbacks (cached XNNPACK operators)
  b.dataIdMap.delete(alias.dataId);
}
