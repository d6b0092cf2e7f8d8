/**
 * `MaxPoolGrad` for wasm as a JS loop over the heap. The shipped C++ kernel loops per input pixel
 * and re-derives the argmax of every window touching it; on the VGG shapes (2×2/2 after each
 * block) it cost ≈15 ms per call at 16×64×64×16.
 *
 * Semantics follow the cpu backend exactly (it is the reference): per window and channel the
 * gradient goes to the *first* position (row-major in the window) holding the maximum, compared
 * with a strict `>` starting from −∞ — so ties after a ReLU go to the top-left zero, and a
 * window of NaN/−∞ only passes no gradient. Overlapping windows accumulate.
 */
import { backend_util, MaxPoolGrad, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { heapF32, type BackendWasm } from './wasm_util.js';

export function maxPoolGradImpl(
  x: Float32Array, dy: Float32Array, dx: Float32Array, c: backend_util.Conv2DInfo,
): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  dx.fill(0);
  const best = new Float32Array(C);
  const arg = new Int32Array(C);
  let o = 0; // dy offset
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const r0 = oh * sh - pt;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(H, r0 + fh);
      for (let ow = 0; ow < OW; ow++, o += C) {
        const c0 = ow * sw - pl;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(W, c0 + fw);
        best.fill(-Infinity);
        arg.fill(-1);
        for (let r = rMin; r < rMax; r++) {
          for (let col = cMin; col < cMax; col++) {
            const base = ((n * H + r) * W + col) * C;
            for (let d = 0; d < C; d++) {
              const v = x[base + d];
              if (v > best[d]) {
                best[d] = v;
                arg[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < C; d++) {
          const a = arg[d];
          if (a >= 0) dx[a] += dy[o + d];
        }
      }
    }
  }
}

/** Specialisation for non-overlapping windows of 2×2 (stride 2, no padding needed inside x). */
export function maxPoolGrad2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, c: backend_util.Conv2DInfo): boolean {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  if (c.filterHeight !== 2 || c.filterWidth !== 2 || c.strideHeight !== 2 || c.strideWidth !== 2) return false;
  if (c.padInfo.top !== 0 || c.padInfo.left !== 0 || 2 * OH > H || 2 * OW > W) return false;
  dx.fill(0);
  const row = W * C;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      let p = (n * H + 2 * oh) * row;
      for (let ow = 0; ow < OW; ow++, p += 2 * C) {
        for (let d = 0; d < C; d++, o++) {
          const i00 = p + d;
          const i10 = i00 + row;
          const v00 = x[i00], v01 = x[i00 + C], v10 = x[i10], v11 = x[i10 + C];
          // Usual case (no NaN, no −∞; a predictable branch): the first maximum in row-major
          // order without data-dependent branches (they mispredict on ReLU'd data and cost ≈3×):
          // first max of each row pair, then the second row's only if strictly greater.
          if ((+(v00 > -Infinity) & +(v01 > -Infinity) & +(v10 > -Infinity) & +(v11 > -Infinity)) === 1) {
            const w1 = i00 + C * +(v01 > v00);
            const w2 = i10 + C * +(v11 > v10);
            dx[w1 + (w2 - w1) * +(x[w2] > x[w1])] = dy[o];
            continue;
          }
          let m = -Infinity;
          let a = -1;
          if (v00 > m) { m = v00; a = i00; }
          if (v01 > m) { m = v01; a = i00 + C; }
          if (v10 > m) { m = v10; a = i10; }
          if (v11 > m) { m = v11; a = i10 + C; }
          if (a >= 0) dx[a] = dy[o];
        }
      }
    }
  }
  return true;
}

export function maxPoolGradWasm(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
  backend: BackendWasm;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  util.assert(input.dtype === 'float32' && dy.dtype === 'float32', () => 'MaxPoolGrad (apc): float32 only');
  const c = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize,
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const dx = backend.makeOutput(input.shape, 'float32');
  const xv = heapF32(backend, input);
  const dyv = heapF32(backend, dy);
  const dxv = heapF32(backend, dx);
  if (!maxPoolGrad2x2(xv, dyv, dxv, c)) maxPoolGradImpl(xv, dyv, dxv, c);
  return dx;
}

export const maxPoolGradWasmConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm as unknown as KernelFunc,
};
