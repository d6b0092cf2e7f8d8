/**
 * `Sum` for wasm when the reduced axes are the leading ones (x seen as [R, K], out [K]) — the
 * shape of every bias gradient (Σ over N,H,W of dy [N,H,W,C]) and of BN-style per-channel sums.
 * The shipped kernel first transposes the reduced axes to the end (a full copy, ≈4 ms per 10⁶
 * values) and then sums; this sweeps x once, accumulating in float64 (the cpu backend sums in
 * float64 too). Other axis sets, dtypes other than float32 and empty tensors go to the original.
 */
import { backend_util, getKernel, Sum, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { heapF32, runConfig, type BackendWasm } from './wasm_util.js';

let original: KernelConfig | undefined;

/** out[k] = Σ_r x[r·K + k] (float64 accumulation). */
export function columnSums(x: Float32Array, K: number, out: Float64Array): void {
  const len = x.length;
  if (K >= 64) {
    for (let off = 0; off < len; off += K) for (let k = 0; k < K; k++) out[k] += x[off + k];
    return;
  }
  // Small K: blocks of rows in L1, one local accumulator per column.
  const BS = Math.max(K, Math.floor(4096 / K) * K);
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let k = 0; k < K; k++) {
      let a = 0;
      for (let i = start + k; i < end; i += K) a += x[i];
      out[k] += a;
    }
  }
}

function sumWasm(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: SumAttrs }): TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  const axes = util.parseAxisParam(attrs.axis, x.shape).slice().sort((a, b) => a - b);
  const leading = axes.every((a, i) => a === i);
  if (!leading || axes.length === 0 || x.dtype !== 'float32' || util.sizeFromShape(x.shape) === 0) {
    if (!original) throw new Error('Sum (apc): original wasm kernel unavailable');
    return runConfig(original, backend, { x }, attrs as unknown as Record<string, unknown>);
  }
  const kept = x.shape.slice(axes.length);
  const K = util.sizeFromShape(kept);
  const outShape = attrs.keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
  const out = backend.makeOutput(outShape, 'float32');
  const acc = new Float64Array(K);
  columnSums(heapF32(backend, x), K, acc);
  heapF32(backend, out).set(acc);
  return out;
}

export function makeSumWasmConfig(): KernelConfig {
  if (!original) {
    const current = getKernel(Sum, 'wasm');
    if (current && current.kernelFunc !== (sumWasm as unknown as KernelFunc)) original = current;
  }
  const setup = original?.setupFunc;
  return { kernelName: Sum, backendName: 'wasm', kernelFunc: sumWasm as unknown as KernelFunc, ...(setup ? { setupFunc: setup } : {}) };
}
