/**
 * `Conv2DBackpropFilter` for the wasm backend (tfjs-backend-wasm ships none, so tf.grad through a
 * conv2d throws there).
 *
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh + kh − padTop, ow·sw + kw − padLeft, ci] · dy[n,oh,ow,co]
 *
 * Strategies (all exact up to float32 summation order; the tests run every one against cpu):
 *  - 'taps' (default): one XNNPACK fully-connected GEMM per filter tap over *shifted views* of a
 *    zero-padded, channel-major copy of x — no im2col; dy is the shared, once-packed weight
 *    operand (see viaTaps). Any stride (polyphase split), any padding.
 *  - 'stacked' (default when Ci ≤ 4): the same views copied into one [KH·KW·Ci, K] matrix and a
 *    single GEMM — better when the per-tap GEMMs would have only a few rows.
 *  - 'conv': the correlation as a convolution through the wasm Conv2D kernel (x as [Ci,H,W,N]
 *    "batch Ci, channels N", dy as the [OH,OW,N,Co] filter, dilation = stride), then HWIO.
 *  - 'js': plain loop with float64 accumulation, for tiny problems (< 20k multiply-adds).
 *
 * Measured (Node 20, 1 thread, batch 16, 3×3 'same', min of 7; shared machine so ±15%):
 *
 *   layer            MFLOP   taps    stacked  conv     (forward Conv2D ≈ 31 GFLOP/s)
 *   64²  3→16          57    7.3 ms   6.6 ms  10.8 ms
 *   64² 16→16         302   18.4     22.3     24.1
 *   32² 16→32         151    7.9      8.7     10.3
 *   32² 32→32         302   13.6     15.5     17.2
 *   16² 32→64         151    6.1      6.5      7.6
 *   16² 64→64         302   11.1     12.2     13.3
 *    8² 64→128        151    6.0      6.3      6.5
 *    8² 128→128       302   11.7     12.2     12.3
 *
 * (An im2col in JS + one GEMM was measured too: 23–29 ms on 64² 16→16; dropped.) What remains
 * above the GEMM time is XNNPACK packing the fresh dy (≈3 ms per 10⁶ values) and the JS copy of x.
 */
import { backend_util, Conv2DBackpropFilter, util } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, disposeAll, heapAlias, heapF32, releaseAlias, view, type BackendWasm } from './wasm_util.js';

export type BackpropFilterStrategy = 'auto' | 'taps' | 'stacked' | 'conv' | 'js';

let forced: BackpropFilterStrategy = (process.env.APC_BPF_STRATEGY as BackpropFilterStrategy | undefined) ?? 'auto';
/** For measurements and tests: force one implementation ('auto' restores the default choice). */
export function setBackpropFilterStrategy(s: BackpropFilterStrategy): void {
  forced = s;
}

type Info = backend_util.Conv2DInfo;

function convInfoOf(x: TensorInfo, attrs: Conv2DBackpropFilterAttrs): Info {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode,
    false, backend_util.convertConv2DDataFormat(dataFormat));
}

/** Via the wasm Conv2D kernel (see the header). */
function viaConv(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, c: Info): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW } = c;
  const { filterHeight: KH, filterWidth: KW, outChannels: Co, strideHeight: sh, strideWidth: sw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  // Bottom/right padding that makes the output exactly KH×KW; when negative (the forward conv
  // never reached the last rows/cols of x) we pad 0 and crop the surplus rows of the result.
  const pb = KH - H - pt + sh * (OH - 1);
  const pr = KW - W - pl + sw * (OW - 1);
  const xT = transposeOrView(backend, x, [3, 1, 2, 0]); // [Ci,H,W,N]
  const dyT = transposeOrView(backend, dy, [1, 2, 0, 3]); // [OH,OW,N,Co]
  const pad = [[0, 0], [pt, Math.max(0, pb)], [pl, Math.max(0, pr)], [0, 0]];
  const r = callKernel('Conv2D', 'wasm', backend, { x: xT.t, filter: dyT.t }, {
    strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined,
  });
  if (xT.owned) disposeAll(backend, xT.t);
  if (dyT.owned) disposeAll(backend, dyT.t);
  let res = r; // [Ci, KH', KW', Co]
  if (pb < 0 || pr < 0) {
    res = callKernel('Slice', 'wasm', backend, { x: r }, { begin: [0, 0, 0, 0], size: [Ci, KH, KW, Co] });
    disposeAll(backend, r);
  }
  const out = transposeOrView(backend, res, [1, 2, 0, 3]);
  if (out.owned) disposeAll(backend, res);
  return out.t;
}

/**
 * Transpose through the wasm kernel, or a free view when the permutation only moves size-1 axes
 * (the wasm Transpose would make a copy through Identity then).
 */
export function transposeOrView(backend: BackendWasm, x: TensorInfo, perm: number[]): { t: TensorInfo; owned: boolean } {
  const shape = perm.map((p) => x.shape[p]);
  const order = perm.filter((p) => x.shape[p] !== 1);
  let sorted = true;
  for (let i = 1; i < order.length; i++) if (order[i] < order[i - 1]) sorted = false;
  if (sorted) return { t: view(x, shape), owned: false };
  return { t: callKernel('Transpose', 'wasm', backend, { x }, { perm }), owned: true };
}

/**
 * One XNNPACK GEMM per filter tap over shifted views (no im2col). Polyphase split of x by the
 * stride: for phase (bh,bw) ∈ [0,sh)×[0,sw), xs[ph][ci][n][m][j] = x[n, sh·m+bh−pt, sw·j+bw−pl, ci]
 * (0 outside), on a grid m ∈ [0,Hm), j ∈ [0,Wm) with Hm = OH + ⌈KH/sh⌉ − 1. Tap (kh,kw) = (sh·a+bh,
 * sw·b+bw) then reads, for every grid point q = (n,m,j), xs[ph][ci][q + a·Wm + b] — a contiguous
 * [Ci, K] matrix at a shifted offset (K = N·Hm·Wm). dy is laid out on the same grid (zeros for
 * m ≥ OH or j ≥ OW, which also cancel the wrapped reads), so dW[kh,kw] = A_tap [Ci,K] × dyg [K,Co].
 * All taps share dyg, so XNNPACK packs it once (its operator cache is keyed on the weights id).
 */
function viaTaps(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, c: Info, stack: boolean): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW } = c;
  const { filterHeight: KH, filterWidth: KW, outChannels: Co, strideHeight: sh, strideWidth: sw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const PH = Math.min(sh, KH);
  const PW = Math.min(sw, KW);
  const KHa = Math.ceil(KH / sh);
  const KWa = Math.ceil(KW / sw);
  // Per phase: grid rows [mMin, mMax) hold x rows (others are zeros). Rows beyond what any tap
  // reads are dropped. The period Hm must hold the data and make every read past the data land in
  // zeros — this period's trailing zeros or the next period's leading ones: OH−1+a < Hm+mMin.
  const rowRange = (b: number, s: number, p: number, size: number, O: number, Ka: number): [number, number] => {
    const lo = Math.max(0, Math.ceil((p - b) / s));
    const hi = Math.min(O + Math.ceil((Ka * s - b) / s) - 1, Math.floor((size - 1 + p - b) / s) + 1);
    return [lo, Math.max(lo, hi)];
  };
  let Hm = OH;
  let Wm = OW;
  for (let b = 0; b < PH; b++) {
    const [lo, hi] = rowRange(b, sh, pt, H, OH, KHa);
    Hm = Math.max(Hm, hi, OH + Math.ceil((KH - b) / sh) - 1 - lo);
  }
  for (let b = 0; b < PW; b++) {
    const [lo, hi] = rowRange(b, sw, pl, W, OW, KWa);
    Wm = Math.max(Wm, hi, OW + Math.ceil((KW - b) / sw) - 1 - lo);
  }
  const K = N * Hm * Wm;
  // Zeros after each phase block: the last rows' shifted reads must not reach the next phase
  // (whose leading rows may hold data).
  const slack = (KHa - 1) * Wm + KWa;
  const phaseStride = Ci * K + slack;
  const xsSize = PH * PW * phaseStride;
  const xs = backend.makeOutput([xsSize], 'float32');
  const dyg = backend.makeOutput([1, K, Co], 'float32');
  {
    const xv = heapF32(backend, x);
    const sv = heapF32(backend, xs);
    sv.fill(0);
    // Contiguous reads of x, Ci strided writes (measured faster than the transposed order).
    for (let bh = 0; bh < PH; bh++) {
      const [mMin, mMax] = rowRange(bh, sh, pt, H, OH, KHa);
      for (let bw = 0; bw < PW; bw++) {
        const [jMin, jMax] = rowRange(bw, sw, pl, W, OW, KWa);
        const phBase = (bh * PW + bw) * phaseStride;
        const srcSkip = (sw - 1) * Ci;
        for (let n = 0; n < N; n++) {
          for (let m = mMin; m < mMax; m++) {
            const ih = sh * m + bh - pt;
            let dst = phBase + (n * Hm + m) * Wm + jMin;
            let src = ((n * H + ih) * W + (sw * jMin + bw - pl)) * Ci;
            for (let j = jMin; j < jMax; j++, dst++, src += srcSkip) {
              for (let ci = 0, d = dst; ci < Ci; ci++, d += K) sv[d] = xv[src++];
            }
          }
        }
      }
    }
    const dv = heapF32(backend, dy);
    const gv = heapF32(backend, dyg);
    const rowIn = OW * Co;
    const rowOut = Wm * Co;
    let g = 0;
    let d = 0;
    for (let n = 0; n < N; n++) {
      for (let m = 0; m < Hm; m++) {
        if (m < OH) {
          gv.set(dv.subarray(d, d + rowIn), g);
          d += rowIn;
          gv.fill(0, g + rowIn, g + rowOut);
        } else {
          gv.fill(0, g, g + rowOut);
        }
        g += rowOut;
      }
    }
  }
  const tapOffset = (kh: number, kw: number) =>
    ((kh % sh) * PW + (kw % sw)) * phaseStride + Math.floor(kh / sh) * Wm + Math.floor(kw / sw);
  let out: TensorInfo;
  if (stack) {
    // One GEMM with all taps stacked: A [KH·KW·Ci, K] copied from the shifted views.
    const a = backend.makeOutput([1, KH * KW * Ci, K], 'float32');
    const av = heapF32(backend, a);
    const sv = heapF32(backend, xs);
    let row = 0;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const off = tapOffset(kh, kw);
        for (let ci = 0; ci < Ci; ci++, row += K) av.set(sv.subarray(off + ci * K, off + ci * K + K), row);
      }
    }
    disposeAll(backend, xs);
    out = callKernel('BatchMatMul', 'wasm', backend, { a, b: dyg }, { transposeA: false, transposeB: false });
    disposeAll(backend, a, dyg);
    out.shape = [KH, KW, Ci, Co];
    return out;
  }
  const taps: TensorInfo[] = [];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const a = heapAlias(backend, xs, tapOffset(kh, kw), [1, Ci, K]);
      taps.push(callKernel('BatchMatMul', 'wasm', backend, { a, b: dyg }, { transposeA: false, transposeB: false }));
      releaseAlias(backend, a);
    }
  }
  out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  const ov = heapF32(backend, out);
  const tapSize = Ci * Co;
  for (let t = 0; t < taps.length; t++) ov.set(heapF32(backend, taps[t]), t * tapSize);
  disposeAll(backend, xs, dyg, ...taps);
  return out;
}

/** Plain JS loop over the heap; float64 accumulation per filter row. */
function viaJs(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, c: Info): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW } = c;
  const { filterHeight: KH, filterWidth: KW, outChannels: Co, strideHeight: sh, strideWidth: sw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const acc = new Float64Array(KH * KW * Ci * Co);
  const xv = heapF32(backend, x);
  const dv = heapF32(backend, dy);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dBase = ((n * OH + oh) * OW + ow) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh - pt;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw - pl;
            if (iw < 0 || iw >= W) continue;
            const xBase = ((n * H + ih) * W + iw) * Ci;
            const wBase = (kh * KW + kw) * Ci * Co;
            for (let ci = 0; ci < Ci; ci++) {
              const xval = xv[xBase + ci];
              if (xval === 0) continue;
              const w0 = wBase + ci * Co;
              for (let co = 0; co < Co; co++) acc[w0 + co] += xval * dv[dBase + co];
            }
          }
        }
      }
    }
  }
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  heapF32(backend, out).set(acc);
  return out;
}

function chooseStrategy(c: Info): Exclude<BackpropFilterStrategy, 'auto'> {
  if (forced !== 'auto') return forced;
  // Tiny problems: the JS loop has no kernel-call overhead.
  const flops = c.batchSize * c.outHeight * c.outWidth * c.filterHeight * c.filterWidth * c.inChannels * c.outChannels;
  if (flops < 20_000) return 'js';
  // Few input channels: one GEMM with the taps stacked keeps XNNPACK's row tiles full.
  if (c.inChannels <= 4) return 'stacked';
  return 'taps';
}

export function conv2DBackpropFilterWasm(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  let { x, dy } = inputs;
  util.assert(x.dtype === 'float32' && dy.dtype === 'float32', () => 'Conv2DBackpropFilter (wasm): float32 only');
  let nchw = false;
  if (attrs.dataFormat === 'NCHW') {
    // Work in NHWC: transpose both inputs (the filter layout HWIO does not depend on dataFormat).
    nchw = true;
    x = callKernel('Transpose', 'wasm', backend, { x }, { perm: [0, 2, 3, 1] });
    dy = callKernel('Transpose', 'wasm', backend, { x: dy }, { perm: [0, 2, 3, 1] });
  }
  const c = convInfoOf(x, { ...attrs, dataFormat: 'NHWC' });
  util.assert(util.arraysEqual(dy.shape, c.outShape),
    () => `Conv2DBackpropFilter: dy shape ${dy.shape} does not match the forward output ${c.outShape}`);
  let out: TensorInfo;
  const strategy = chooseStrategy(c);
  if (strategy === 'taps' || strategy === 'stacked') out = viaTaps(backend, x, dy, c, strategy === 'stacked');
  else if (strategy === 'conv') out = viaConv(backend, x, dy, c);
  else out = viaJs(backend, x, dy, c);
  if (nchw) disposeAll(backend, x, dy);
  return out;
}

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};
