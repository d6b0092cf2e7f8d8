/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend (tfjs-backend-wasm 4.22 ships none).
 * With the channel multiplier M (filter W [KH,KW,C,M], dy [N,OH,OW,C·M]):
 *
 *   dx[n,ih,iw,c] = Σ_{m,kh,kw} dy[n, oh, ow, c·M+m] · W[kh,kw,c,m]   where ih = oh·sh + kh·dh − padTop, …
 *
 * Strategies (the tests run each against cpu):
 *  - 'dwconv' (default at stride 1, and the fallback): the transposed convolution as a forward
 *    one, run by XNNPACK through the wasm DepthwiseConv2dNative kernel: dx = depthwise(dy′, F)
 *    with stride 1, the forward dilation, pad (KHe−1−padTop, …) and F the filter with its taps
 *    reversed (F[kh,kw] = W[KH−1−kh, KW−1−kw], seen as [KH,KW,C·M,1] — the same memory order).
 *    dy′ = dy for stride 1 (then as fast as the forward conv); for stride s, dy spread on a grid
 *    with s−1 zeros between pixels — s² more multiply-adds, most of them by zero. For M > 1 the
 *    convolution runs over the C·M channels and the M outputs of each input channel are summed.
 *    Forward padding beyond the kernel's reach (negative transposed padding) is handled by
 *    spreading dy into an explicitly padded buffer, cropping what falls outside.
 *  - 'simd' (default at stride > 1 when M = 1 and C is a multiple of 4): each dx pixel gathers only
 *    the taps that reach it, in a hand-assembled WebAssembly SIMD kernel (wasm_simd.ts) —
 *    3× faster than 'dwconv' at stride 2 (on par with the forward conv).
 *  - 'js': a scatter loop, for tiny problems (no XNNPACK operator set-up per call).
 *
 * Measured, batch 16, 32²×96, 3×3 'same', 1 thread, min of 30 on a busy 2-core VM (ms):
 *
 *   stride   dwconv   simd   js    forward conv, for scale
 *   1        2.75     2.3    84    2.7      (XNNPACK kept at stride 1: on par, and it uses the
 *   2        3.6      1.04   13    1.0       thread pool when apc runs the threaded build)
 */
import { backend_util, DepthwiseConv2dNativeBackpropInput, util } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { dwConvInfo } from './depthwise_conv2d_backprop_filter.js';
import { assemble, heapAddress, I32, instantiateKernel, op, V128, wasmMemoryOf, type WasmFunction } from './wasm_simd.js';
import { callKernel, disposeAll, heapF32, type BackendWasm } from './wasm_util.js';

export type DwBackpropInputStrategy = 'auto' | 'simd' | 'dwconv' | 'js';

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

/** Most taps per dx pixel the SIMD gather handles (3×3 at stride 1; any 5×5 or smaller at stride 2). */
const SIMD_MAX_TAPS = 9;

/**
 * SIMD gather kernel with T taps, for one dx row and one column phase (dx columns b + sw·j):
 *
 *   dx(j) = Σ_t dy_t(j) · w_t   for j < J, 4 channels per f32x4, `groups` channel groups
 *
 *   fn(dst, dstStep, J, groups, dyStep, dy_0 … dy_{T−1}, w_0 … w_{T−1})   — byte addresses/steps:
 *   dst = dx(0), dy_t = tap t's dy pixel for j = 0, w_t = tap t's filter entry for channel 0.
 * The T weight vectors of a channel group stay in registers; T = 0 writes zeros.
 */
function simdGatherProgram(T: number): WasmFunction {
  const [dst, dstStep, J, groups, dyStep] = [0, 1, 2, 3, 4];
  const dyAt = (t: number) => 5 + t;
  const wAt = (t: number) => 5 + T + t;
  const [g, j, off, pd, q] = [5 + 2 * T, 6 + 2 * T, 7 + 2 * T, 8 + 2 * T, 9 + 2 * T];
  const wv = (t: number) => 10 + 2 * T + t; // v128 locals
  const sum = 10 + 3 * T;
  const body = [
    ...op.i32Const(0), ...op.localSet(g),
    ...op.block, ...op.loop, // for g < groups
    ...op.localGet(g), ...op.localGet(groups), ...op.i32GeU, ...op.brIf(1),
    ...op.localGet(g), ...op.i32Const(16), ...op.i32Mul, ...op.localSet(off),
    ...Array.from({ length: T }, (_, t) => [...op.localGet(wAt(t)), ...op.localGet(off), ...op.i32Add, ...op.v128Load(), ...op.localSet(wv(t))]).flat(),
    ...op.localGet(dst), ...op.localGet(off), ...op.i32Add, ...op.localSet(pd),
    ...op.localGet(off), ...op.localSet(q),
    ...op.i32Const(0), ...op.localSet(j),
    ...op.block, ...op.loop, // for j < J
    ...op.localGet(j), ...op.localGet(J), ...op.i32GeU, ...op.brIf(1),
    ...op.v128Zero, ...op.localSet(sum),
    ...Array.from({ length: T }, (_, t) => [
      ...op.localGet(sum), ...op.localGet(dyAt(t)), ...op.localGet(q), ...op.i32Add, ...op.v128Load(), ...op.localGet(wv(t)),
      ...op.f32x4Mul, ...op.f32x4Add, ...op.localSet(sum)]).flat(),
    ...op.localGet(pd), ...op.localGet(sum), ...op.v128Store(),
    ...op.localGet(pd), ...op.localGet(dstStep), ...op.i32Add, ...op.localSet(pd),
    ...op.localGet(q), ...op.localGet(dyStep), ...op.i32Add, ...op.localSet(q),
    ...op.localGet(j), ...op.i32Const(1), ...op.i32Add, ...op.localSet(j),
    ...op.br(0), ...op.end, ...op.end,
    ...op.localGet(g), ...op.i32Const(1), ...op.i32Add, ...op.localSet(g),
    ...op.br(0), ...op.end, ...op.end,
  ];
  return { name: `gather${T}`, params: new Array<number>(5 + 2 * T).fill(I32), locals: [[5, I32], [T + 1, V128]], body };
}

type Gather = (...args: number[]) => void;

function simdGathers(backend: BackendWasm): Gather[] | undefined {
  const memory = wasmMemoryOf(backend);
  if (!memory) return undefined;
  const exports = instantiateKernel(memory, 'dwBackpropInputGather', (shared) =>
    assemble(Array.from({ length: SIMD_MAX_TAPS + 1 }, (_, T) => simdGatherProgram(T)), shared));
  return exports ? Array.from({ length: SIMD_MAX_TAPS + 1 }, (_, T) => exports[`gather${T}`] as Gather) : undefined;
}

/**
 * The SIMD gather's geometry — strided case without the s² zeros: each dx pixel gathers only the
 * taps that reach it. Per dx row the contributing (kh, dy row) pairs are fixed, per column phase b
 * (dx columns b + sw·j) the (kw, dy column j + cw) pairs. Null where it does not apply: M > 1,
 * C not a multiple of 4, more than SIMD_MAX_TAPS taps per pixel, no SIMD in the engine.
 */
function simdPlan(backend: BackendWasm, c: Info) {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  if (CM !== C || C % 4 !== 0 || C === 0 || H === 0 || W === 0) return null;
  // Column phases: dx column b + sw·j (j < J) gets tap kw from dy column j + cw.
  const phases = Array.from({ length: Math.min(sw, W) }, (_, b) => {
    const taps: { kw: number; cw: number }[] = [];
    for (let kw = 0; kw < KW; kw++) {
      const e = b + pl - kw * dw;
      if (((e % sw) + sw) % sw === 0) taps.push({ kw, cw: e / sw });
    }
    return { b, J: Math.ceil((W - b) / sw), taps };
  });
  const rowTaps = (ih: number) => {
    const taps: { kh: number; oh: number }[] = [];
    for (let kh = 0; kh < KH; kh++) {
      const e = ih + pt - kh * dh;
      if (e >= 0 && e % sh === 0 && e / sh < OH) taps.push({ kh, oh: e / sh });
    }
    return taps;
  };
  let maxRow = 0;
  for (let ih = 0; ih < H; ih++) maxRow = Math.max(maxRow, rowTaps(ih).length);
  if (phases.some((p) => p.taps.length * maxRow > SIMD_MAX_TAPS)) return null;
  const gathers = simdGathers(backend);
  return gathers ? { phases, rowTaps, gathers } : null;
}

/** Whether the SIMD gather handles this geometry on this backend (for tests). */
export function dwBackpropInputSimdApplies(backend: BackendWasm, c: Info): boolean {
  return simdPlan(backend, c) !== null;
}

/** dx by the SIMD gather; dy is copied with zero columns around so every read is in bounds. */
function viaSimd(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: Info): TensorInfo | null {
  const plan = simdPlan(backend, c);
  if (!plan) return null;
  const { phases, rowTaps, gathers } = plan;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { filterWidth: KW, strideWidth: sw } = c;
  // dy columns read: j + cw for j < J; zero margins L (left) and R (right) make them all valid.
  let lo = 0;
  let hi = OW - 1;
  for (const p of phases) for (const t of p.taps) { lo = Math.min(lo, t.cw); hi = Math.max(hi, p.J - 1 + t.cw); }
  const L = -lo;
  const OWp = L + hi + 1;
  const dyp = L === 0 && OWp === OW ? undefined : backend.makeOutput([N, OH, OWp, C], 'float32');
  const dx = backend.makeOutput([N, H, W, C], 'float32');
  if (dyp) {
    const src = heapF32(backend, dy);
    const dst = heapF32(backend, dyp);
    dst.fill(0);
    for (let r = 0; r < N * OH; r++) dst.set(src.subarray(r * OW * C, (r + 1) * OW * C), (r * OWp + L) * C);
  }
  const dyAddr = heapAddress(backend, dyp ?? dy);
  const wAddr = heapAddress(backend, filter);
  const dxAddr = heapAddress(backend, dx);
  const args: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      const rows = rowTaps(ih);
      for (const p of phases) {
        const T = rows.length * p.taps.length;
        args.length = 0;
        args.push(dxAddr + 4 * ((n * H + ih) * W + p.b) * C, 4 * sw * C, p.J, C / 4, 4 * C);
        for (const r of rows) for (const t of p.taps) args.push(dyAddr + 4 * ((n * OH + r.oh) * OWp + L + t.cw) * C);
        for (const r of rows) for (const t of p.taps) args.push(wAddr + 4 * (r.kh * KW + t.kw) * C);
        gathers[T](...args);
      }
    }
  }
  if (dyp) disposeAll(backend, dyp);
  return dx;
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
  if (macs < 20_000) return 'js';
  // Stride 1: XNNPACK runs the transposed conv as fast as the forward one. Strided: the SIMD
  // gather skips the zeros XNNPACK would multiply (where it applies; else 'dwconv').
  return c.strideHeight > 1 || c.strideWidth > 1 ? 'simd' : 'dwconv';
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
  const strategy = chooseStrategy(c);
  if (strategy === 'js') return viaJs(backend, dy, filter, c);
  return (strategy === 'simd' ? viaSimd(backend, dy, filter, c) : null) ?? dwBackpropInputViaDwconv(backend, dy, filter, c);
}

export const depthwiseConv2dBackpropInputWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropInputWasm as unknown as KernelFunc,
};
