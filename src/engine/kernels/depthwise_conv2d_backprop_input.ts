/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend (tfjs-backend-wasm 4.22 ships none).
 * With the channel multiplier M (filter W [KH,KW,C,M], dy [N,OH,OW,C·M]):
 *
 *   dx[n,ih,iw,c] = Σ_{m,kh,kw} dy[n, oh, ow, c·M+m] · W[kh,kw,c,m]   where ih = oh·sh + kh·dh − padTop, …
 *
 * Strategies (the tests run both against cpu):
 *  - 'dwconv' (default): the transposed convolution as a forward one, run by XNNPACK through the
 *    wasm DepthwiseConv2dNative kernel: dx = depthwise(dy′, F) with stride 1, the forward
 *    dilation, pad (KHe−1−padTop, …) and F the filter with its taps reversed (F[kh,kw] =
 *    W[KH−1−kh, KW−1−kw], seen as [KH,KW,C·M,1] — the same memory order). dy′ = dy for stride 1;
 *    for stride s it is dy spread on a grid with s−1 zeros between pixels (s² more multiply-adds,
 *    still faster than a JS loop, see below). For M > 1 the convolution runs over the C·M
 *    channels and the M neighbouring outputs of each input channel are summed. Padding the
 *    forward conv used beyond the kernel's reach (negative transposed padding) is handled by
 *    spreading dy into an explicitly padded buffer, cropping what falls outside.
 *  - 'js': a scatter loop, for tiny problems (no XNNPACK operator set-up per call).
 *
 * Measured (Node 20, 1 thread, batch 16 32×32×96 3×3 'same'; `npm run bench` has the train step):
 * see `chooseStrategy`.
 */
import { backend_util, DepthwiseConv2dNativeBackpropInput, util } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { dwConvInfo } from './depthwise_conv2d_backprop_filter.js';
import { callKernel, disposeAll, heapF32, type BackendWasm } from './wasm_util.js';

export type DwBackpropInputStrategy = 'auto' | 'dwconv' | 'js';

let forced: DwBackpropInputStrategy = 'auto';
/** For measurements and tests: force one implementation ('auto' restores the default choice). */
export function setDwBackpropInputStrategy(s: DwBackpropInputStrategy): void {
  forced = s;
}

type Info = backend_util.Conv2DInfo;

/**
 * Whether XNNPACK, as built into tfjs-backend-wasm 4.22, has a depthwise micro-kernel for a filter
 * of `taps` taps. Measured on batch 16, 32²×96, stride 1: 1, 3, 4, 9 and 25 taps run at
 * 0.13–0.25 ns per multiply-add; 2, 10, 15, 16, 36 and 49 taps fall back to a grouped GEMM with
 * one output per group at ≈1–3.5 ns (a 1×2 filter took 11 ms where a 3×3 took 2.7).
 */
export function xnnpackFastDepthwiseTaps(taps: number): boolean {
  return taps === 1 || taps === 3 || taps === 4 || taps === 9 || taps === 25;
}

/**
 * Writes dy [N,OH,OW,K] into the zeroed z [N,Hz,Wz,K] at rows oh·sh + top, columns ow·sw + left
 * (pixels landing outside z are dropped).
 */
function spread(dv: Float32Array, zv: Float32Array, N: number, OH: number, OW: number, K: number,
  sh: number, sw: number, top: number, left: number, Hz: number, Wz: number): void {
  zv.fill(0);
  const owMin = Math.max(0, Math.ceil(-left / sw));
  const owMax = Math.min(OW, Math.floor((Wz - 1 - left) / sw) + 1);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const r = oh * sh + top;
      if (r < 0 || r >= Hz) continue;
      let src = ((n * OH + oh) * OW + owMin) * K;
      let dst = ((n * Hz + r) * Wz + owMin * sw + left) * K;
      if (sw === 1) {
        if (owMax > owMin) zv.set(dv.subarray(src, src + (owMax - owMin) * K), dst);
        continue;
      }
      // element loop: a subarray per pixel would allocate (measured slower for K ≤ a few hundred)
      for (let ow = owMin; ow < owMax; ow++, dst += (sw - 1) * K) for (let k = 0; k < K; k++) zv[dst++] = dv[src++];
    }
  }
}

/** Via XNNPACK's depthwise convolution (see the header). */
export function dwBackpropInputViaDwconv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: Info): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const M = CM / C;
  const KHe = (KH - 1) * dh + 1;
  const KWe = (KW - 1) * dw + 1;
  const OHd = (OH - 1) * sh + 1;
  const OWd = (OW - 1) * sw + 1;
  const pt = KHe - 1 - c.padInfo.top;
  const pl = KWe - 1 - c.padInfo.left;
  const pb = H + KHe - 1 - OHd - pt;
  const pr = W + KWe - 1 - OWd - pl;
  // Taps reversed; within a tap the [C,M] block is already the [C·M] channel order.
  const T = KH * KW;
  const f = backend.makeOutput([KH, KW, CM, 1], 'float32');
  {
    const wv = heapF32(backend, filter);
    const fv = heapF32(backend, f);
    for (let t = 0; t < T; t++) fv.set(wv.subarray((T - 1 - t) * CM, (T - t) * CM), t * CM);
  }
  let input = dy;
  let pad = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0) {
    // All padding explicit in the buffer (what lands outside it reaches no dx pixel).
    const Hz = H + KHe - 1;
    const Wz = W + KWe - 1;
    input = backend.makeOutput([N, Hz, Wz, CM], 'float32');
    spread(heapF32(backend, dy), heapF32(backend, input), N, OH, OW, CM, sh, sw, pt, pl, Hz, Wz);
    pad = [[0, 0], [0, 0], [0, 0], [0, 0]];
  } else if (sh > 1 || sw > 1) {
    input = backend.makeOutput([N, OHd, OWd, CM], 'float32');
    spread(heapF32(backend, dy), heapF32(backend, input), N, OH, OW, CM, sh, sw, 0, 0, OHd, OWd);
  }
  const r = callKernel('DepthwiseConv2dNative', 'wasm', backend, { x: input, filter: f },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [dh, dw], dimRoundingMode: undefined });
  disposeAll(backend, f);
  if (input !== dy) disposeAll(backend, input);
  if (M === 1) return r;
  // [N,H,W,C·M] → [N,H,W,C]: sum the M outputs of each input channel.
  const out = backend.makeOutput([N, H, W, C], 'float32');
  const rv = heapF32(backend, r);
  const ov = heapF32(backend, out);
  for (let i = 0, j = 0; i < ov.length; i++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += rv[j++];
    ov[i] = s;
  }
  disposeAll(backend, r);
  return out;
}

/** Scatter loop (float64 accumulation): dy pixel × filter tap into dx, taps in bounds only. */
export function dwBackpropInputJs(dv: Float32Array, wv: Float32Array, c: Info): Float64Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const M = CM / C;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const d0 = ((n * OH + oh) * OW + ow) * CM;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh * dh - pt;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw * dw - pl;
            if (iw < 0 || iw >= W) continue;
            const x0 = ((n * H + ih) * W + iw) * C;
            const w0 = (kh * KW + kw) * CM;
            if (M === 1) {
              for (let k = 0; k < C; k++) dx[x0 + k] += dv[d0 + k] * wv[w0 + k];
            } else {
              for (let k = 0; k < CM; k++) dx[x0 + Math.floor(k / M)] += dv[d0 + k] * wv[w0 + k];
            }
          }
        }
      }
    }
  }
  return dx;
}

function viaJs(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: Info): TensorInfo {
  const dx = dwBackpropInputJs(heapF32(backend, dy), heapF32(backend, filter), c);
  const out = backend.makeOutput(c.inShape, 'float32');
  heapF32(backend, out).set(dx);
  return out;
}

function chooseStrategy(c: Info): Exclude<DwBackpropInputStrategy, 'auto'> {
  if (forced !== 'auto') return forced;
  // Tiny problems: no XNNPACK operator creation and weight packing per call.
  const macs = c.batchSize * c.outHeight * c.outWidth * c.filterHeight * c.filterWidth * c.outChannels;
  return macs < 20_000 ? 'js' : 'dwconv';
}

export function depthwiseConv2dBackpropInputWasm(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  util.assert(dy.dtype === 'float32' && filter.dtype === 'float32', () => 'DepthwiseConv2dNativeBackpropInput (wasm): float32 only');
  const c = dwConvInfo(attrs.inputShape, filter.shape, attrs);
  util.assert(util.arraysEqual(dy.shape, c.outShape),
    () => `DepthwiseConv2dNativeBackpropInput: dy shape ${dy.shape} does not match the forward output ${c.outShape}`);
  return chooseStrategy(c) === 'dwconv' ? dwBackpropInputViaDwconv(backend, dy, filter, c) : viaJs(backend, dy, filter, c);
}

export const depthwiseConv2dBackpropInputWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropInputWasm as unknown as KernelFunc,
};
