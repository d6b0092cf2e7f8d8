/**
 * `AvgPoolGrad` for wasm. The shipped C++ kernel is a scalar loop that re-derives, per input
 * pixel, every window covering it: 12.6 ms on 16×32×32×96 2×2/2 where the forward pool takes
 * 0.9 ms, 24 ms for 3×3/2, 21 ms for a 7×7 global pool on 16×7×7×1024 (forward 0.3 ms).
 *
 * Semantics follow tfjs (cpu and the shipped wasm kernel agree): each window spreads
 * dy / (filterHeight·filterWidth) over its in-bounds pixels — the full window size even where the
 * window hangs over the padding (the forward pool divides by the in-bounds count there, so at
 * padded borders tfjs's avgPool gradient is not the exact derivative; we keep tfjs's choice).
 *
 * Strategies (same shapes, ms):          2×2/2   3×3/2 'same'   3×3/1 'same'   7×7 global
 *  - 'dwconv': the transposed depthwise    1.9       3.7            2.7           38
 *    convolution with a constant 1/(fh·fw) filter, i.e. DepthwiseConv2dNativeBackpropInput's
 *    XNNPACK path — the default where XNNPACK has a micro-kernel for fh·fw taps;
 *  - 'js': scatter of each dy pixel's      4.4       8.5           33             1.9
 *    channel vector over its window, one contiguous run of (columns × C) per window row.
 */
import { AvgPoolGrad, backend_util, util } from '@tensorflow/tfjs-core';
import type { AvgPoolGradAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { dwBackpropInputViaDwconv, xnnpackFastDepthwiseTaps } from './depthwise_conv2d_backprop_input.js';
import { disposeAll, heapF32, type BackendWasm } from './wasm_util.js';

export type AvgPoolGradStrategy = 'auto' | 'js' | 'dwconv';

let forced: AvgPoolGradStrategy = 'auto';
/** For measurements and tests: force one implementation ('auto' restores the default choice). */
export function setAvgPoolGradStrategy(s: AvgPoolGradStrategy): void {
  forced = s;
}

export function avgPoolGradJs(dy: Float32Array, dx: Float32Array, c: backend_util.Conv2DInfo): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const scale = 1 / (fh * fw);
  dx.fill(0);
  const v = new Float32Array(C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const r0 = Math.max(0, oh * sh - pt);
      const r1 = Math.min(H, oh * sh - pt + fh);
      for (let ow = 0; ow < OW; ow++) {
        const c0 = Math.max(0, ow * sw - pl);
        const c1 = Math.min(W, ow * sw - pl + fw);
        if (r1 <= r0 || c1 <= c0) continue;
        const src = ((n * OH + oh) * OW + ow) * C;
        for (let k = 0; k < C; k++) v[k] = dy[src + k] * scale;
        for (let r = r0; r < r1; r++) {
          const end = ((n * H + r) * W + c1) * C;
          for (let i = ((n * H + r) * W + c0) * C; i < end; i += C) {
            for (let k = 0; k < C; k++) dx[i + k] += v[k];
          }
        }
      }
    }
  }
}

function chooseStrategy(c: backend_util.Conv2DInfo): Exclude<AvgPoolGradStrategy, 'auto'> {
  if (forced !== 'auto') return forced;
  return xnnpackFastDepthwiseTaps(c.filterHeight * c.filterWidth) ? 'dwconv' : 'js';
}

export function avgPoolGradWasm(args: {
  inputs: { dy: TensorInfo; input: TensorInfo };
  backend: BackendWasm;
  attrs: AvgPoolGradAttrs;
}): TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  util.assert(input.dtype === 'float32' && dy.dtype === 'float32', () => 'AvgPoolGrad (apc): float32 only');
  const shape = input.shape as [number, number, number, number];
  const c = backend_util.computePool2DInfo(shape, attrs.filterSize, attrs.strides, 1, attrs.pad);
  util.assert(util.arraysEqual(dy.shape, c.outShape), () => `AvgPoolGrad: dy shape ${dy.shape} does not match the pool output ${c.outShape}`);
  if (chooseStrategy(c) === 'dwconv') {
    const C = shape[3];
    const { filterHeight: fh, filterWidth: fw } = c;
    const f = backend.makeOutput([fh, fw, C, 1], 'float32');
    heapF32(backend, f).fill(1 / (fh * fw));
    const dc = backend_util.computeConv2DInfo(shape, [fh, fw, C, 1], attrs.strides, 1, attrs.pad, undefined, true);
    const dx = dwBackpropInputViaDwconv(backend, dy, f, dc);
    disposeAll(backend, f);
    return dx;
  }
  const dx = backend.makeOutput(shape, 'float32');
  avgPoolGradJs(heapF32(backend, dy), heapF32(backend, dx), c);
  return dx;
}

export const avgPoolGradWasmConfig: KernelConfig = {
  kernelName: AvgPoolGrad,
  backendName: 'wasm',
  kernelFunc: avgPoolGradWasm as unknown as KernelFunc,
};
