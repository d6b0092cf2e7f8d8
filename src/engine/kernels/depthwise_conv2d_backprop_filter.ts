/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend (tfjs-backend-wasm 4.22 ships none,
 * so tf.grad through a depthwiseConv2d — every MobileNet block — throws there). With the channel
 * multiplier M (filter [KH,KW,C,M], dy [N,OH,OW,C·M]):
 *
 *   dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·sh + kh·dh − padTop, ow·sw + kw·dw − padLeft, c] · dy[n,oh,ow,c·M+m]
 *
 * Each channel is its own dot product, so unlike the dense case there is no GEMM to hand to
 * XNNPACK; this is a JS loop (see `dwBackpropFilterJs`). Any M, stride, dilation and padding.
 *
 * XNNPACK was measured too, and lost on every shape tried (batch 16; 64²×32, 32²×96, 16²×256,
 * 8²×512, 4²×1024; strides 1 and 2): the correlation is itself a depthwise convolution — x as a
 * [1,H,W,N·C] image, dy as a [OH,OW,N·C,M] filter, stride = dilation and dilation = stride of the
 * forward conv, then a sum over n — but XNNPACK's depthwise micro-kernels stop at 25 taps and
 * larger filters go through its grouped GEMM with one output channel per group: 28 ms against the
 * loop's ≈10 ms at 32²×96 stride 1 (even 4²×1024, a 16-tap filter, lost 5.7 to 3.6 ms on the
 * transposes and weight packing). Per-tap Multiply + Sum kernels would stream 2–3 full tensors per tap.
 */
import { backend_util, DepthwiseConv2dNativeBackpropFilter, util } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { disposeAll, heapF32, type BackendWasm } from './wasm_util.js';

type Info = backend_util.Conv2DInfo;

/** The forward conv's geometry (depthwise: outChannels = C·M). */
export function dwConvInfo(
  xShape: number[], filterShape: number[], attrs: { strides: [number, number] | number; dilations: [number, number] | number;
    pad: DepthwiseConv2dNativeBackpropFilterAttrs['pad']; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): Info {
  return backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
}

/** Rows × columns of x that the taps read, from padTop/padLeft on: [Hp, Wp]. */
function paddedSize(c: Info): [number, number] {
  return [(c.outHeight - 1) * c.strideHeight + (c.filterHeight - 1) * c.dilationHeight + 1,
    (c.outWidth - 1) * c.strideWidth + (c.filterWidth - 1) * c.dilationWidth + 1];
}

/** xp [N,Hp,Wp,C] = x shifted by (padTop, padLeft), zeros around: one row copy per (n, row). */
function padX(xv: Float32Array, xp: Float32Array, c: Info, Hp: number, Wp: number): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  xp.fill(0);
  const w1 = Math.min(W, Wp - pl); // x columns [0, w1) land inside a padded row
  if (w1 <= 0) return;
  for (let n = 0; n < N; n++) {
    for (let r = Math.max(0, pt); r < Math.min(Hp, H + pt); r++) {
      const src = (n * H + r - pt) * W * C;
      xp.set(xv.subarray(src, src + w1 * C), ((n * Hp + r) * Wp + pl) * C);
    }
  }
}

/**
 * Loops over a zero-padded x (xp [N,Hp,Wp,C]: every tap of every output position reads inside
 * it, no bounds checks), summing in float64 (as the cpu kernel). Per (n, output row) and channel
 * the taps' sums are locals while one pass runs along the row: each dy value is loaded once for
 * all 9 taps of a 3×3 filter (for up to 3 taps of a filter row otherwise), and V8 keeps the sums
 * in registers — ≈3.5× faster than updating an accumulator array per multiply-add (7–8 ms
 * against 26–30 ms for batch 16, 32²×96, 3×3, stride 1, on an idle core). The row loops are small
 * functions of their own, so V8 optimises each as a whole function early on instead of
 * on-stack-replacing one big loop nest.
 */
export function dwBackpropFilterRows(xp: Float32Array, Hp: number, Wp: number, dv: Float32Array, c: Info): Float64Array {
  const { batchSize: N, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const acc = new Float64Array(KH * KW * CM);
  const g: RowGeom = { M: CM / C, CM, OW, xs: sw * C, tw: dw * C, tapRow: dh * Wp * C, KH, KW };
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const x0 = (n * Hp + oh * sh) * Wp * C; // tap (0,0) of output column 0
      const d0 = (n * OH + oh) * OW * CM;
      if (KH === 3 && KW === 3) row3x3(xp, dv, acc, x0, d0, g);
      else rowGeneric(xp, dv, acc, x0, d0, g);
    }
  }
  return acc;
}

interface RowGeom {
  M: number; CM: number; OW: number;
  /** x offsets: per output column, between kw taps, between kh taps. */
  xs: number; tw: number; tapRow: number;
  KH: number; KW: number;
}

function row3x3(xp: Float32Array, dv: Float32Array, acc: Float64Array, x0: number, d0: number, g: RowGeom): void {
  const { M, CM, OW, xs, tw, tapRow } = g;
  const tw2 = 2 * tw;
  for (let k = 0; k < CM; k++) {
    let a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0, c0 = 0, c1 = 0, c2 = 0;
    let xi = x0 + (M === 1 ? k : Math.floor(k / M));
    let di = d0 + k;
    for (let j = 0; j < OW; j++, xi += xs, di += CM) {
      const d = dv[di];
      const r1 = xi + tapRow;
      const r2 = r1 + tapRow;
      a0 += xp[xi] * d; a1 += xp[xi + tw] * d; a2 += xp[xi + tw2] * d;
      b0 += xp[r1] * d; b1 += xp[r1 + tw] * d; b2 += xp[r1 + tw2] * d;
      c0 += xp[r2] * d; c1 += xp[r2 + tw] * d; c2 += xp[r2 + tw2] * d;
    }
    acc[k] += a0; acc[CM + k] += a1; acc[2 * CM + k] += a2;
    acc[3 * CM + k] += b0; acc[4 * CM + k] += b1; acc[5 * CM + k] += b2;
    acc[6 * CM + k] += c0; acc[7 * CM + k] += c1; acc[8 * CM + k] += c2;
  }
}

function rowGeneric(xp: Float32Array, dv: Float32Array, acc: Float64Array, x0: number, d0: number, g: RowGeom): void {
  const { M, CM, OW, xs, tw, tapRow, KH, KW } = g;
  for (let kh = 0; kh < KH; kh++) {
    for (let k = 0; k < CM; k++) {
      const xr = x0 + kh * tapRow + (M === 1 ? k : Math.floor(k / M));
      const a = kh * KW * CM + k;
      let kw = 0;
      for (; kw + 3 <= KW; kw += 3) { // three taps per pass over the row
        let s0 = 0, s1 = 0, s2 = 0;
        for (let j = 0, xi = xr + kw * tw, di = d0 + k; j < OW; j++, xi += xs, di += CM) {
          const d = dv[di];
          s0 += xp[xi] * d; s1 += xp[xi + tw] * d; s2 += xp[xi + 2 * tw] * d;
        }
        acc[a + kw * CM] += s0; acc[a + (kw + 1) * CM] += s1; acc[a + (kw + 2) * CM] += s2;
      }
      for (; kw < KW; kw++) {
        let s = 0;
        for (let j = 0, xi = xr + kw * tw, di = d0 + k; j < OW; j++, xi += xs, di += CM) s += xp[xi] * dv[di];
        acc[a + kw * CM] += s;
      }
    }
  }
}

function viaJs(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, c: Info): TensorInfo {
  const [Hp, Wp] = paddedSize(c);
  let acc: Float64Array;
  if (c.padInfo.top === 0 && c.padInfo.left === 0 && Hp <= c.inHeight && Wp <= c.inWidth) {
    acc = dwBackpropFilterRows(heapF32(backend, x), c.inHeight, c.inWidth, heapF32(backend, dy), c);
  } else {
    // On the wasm heap rather than a JS array: a fresh multi-MB ArrayBuffer per call drives V8 into
    // frequent full GCs (external-memory pressure).
    const xp = backend.makeOutput([c.batchSize * Hp * Wp * c.inChannels], 'float32');
    const xpv = heapF32(backend, xp);
    padX(heapF32(backend, x), xpv, c, Hp, Wp);
    acc = dwBackpropFilterRows(xpv, Hp, Wp, heapF32(backend, dy), c);
    disposeAll(backend, xp);
  }
  const out = backend.makeOutput([c.filterHeight, c.filterWidth, c.inChannels, c.outChannels / c.inChannels], 'float32');
  heapF32(backend, out).set(acc);
  return out;
}

export function depthwiseConv2dBackpropFilterWasm(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  util.assert(x.dtype === 'float32' && dy.dtype === 'float32', () => 'DepthwiseConv2dNativeBackpropFilter (wasm): float32 only');
  const c = dwConvInfo(x.shape, attrs.filterShape, attrs);
  util.assert(util.arraysEqual(dy.shape, c.outShape),
    () => `DepthwiseConv2dNativeBackpropFilter: dy shape ${dy.shape} does not match the forward output ${c.outShape}`);
  return viaJs(backend, x, dy, c);
}

export const depthwiseConv2dBackpropFilterWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilterWasm as unknown as KernelFunc,
};
