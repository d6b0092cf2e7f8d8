/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend (tfjs-backend-wasm 4.22 ships none,
 * so tf.grad through a depthwiseConv2d — every MobileNet block — throws there). With the channel
 * multiplier M (filter [KH,KW,C,M], dy [N,OH,OW,C·M]):
 *
 *   dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·sh + kh·dh − padTop, ow·sw + kw·dw − padLeft, c] · dy[n,oh,ow,c·M+m]
 *
 * Each channel is its own dot product, so unlike the dense case there is no GEMM to hand to
 * XNNPACK. Two implementations of the same loop nest over a zero-padded x (any stride, dilation,
 * padding), summing each output row's products and adding the row sums up in float64:
 *  - 'simd' (default for M = 1, ≤ 12 taps, ≥ 4 channels): a hand-assembled WebAssembly SIMD row
 *    kernel (wasm_simd.ts) on the backend's heap, 4 channels per f32x4, all taps' sums in
 *    registers; the C mod 4 last channels go to the JS loop;
 *  - 'js': the same in JS, one channel at a time (dwBackpropFilterRows).
 *
 * Measured, batch 16, 32²×96, 3×3 'same', 1 thread, min of 30 on a busy 2-core VM (ms; the
 * bench's depthwise rows time the whole step):
 *
 *   stride   simd   js     XNNPACK (below)   forward conv, for scale
 *   1        2.8    11.9   30.7              2.7
 *   2        1.2     3.6   11.1              1.0
 *
 * 'XNNPACK' is the correlation as a depthwise convolution: x as a [1,H,W,N·C] image, dy as a
 * [OH,OW,N·C,M] filter (stride and dilation of the forward conv swapped), then a sum over n. It
 * loses because XNNPACK's fast depthwise micro-kernels only cover a few tap counts
 * (`xnnpackFastDepthwiseTaps`): an OH×OW filter goes through its grouped GEMM with one output per
 * group. Per-tap Multiply + Sum kernels would stream 2–3 full tensors per tap.
 */
import { backend_util, DepthwiseConv2dNativeBackpropFilter, util } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { assemble, heapAddress, I32, instantiateKernel, op, V128, wasmMemoryOf, type WasmFunction } from './wasm_simd.js';
import { disposeAll, heapF32, type BackendWasm } from './wasm_util.js';

export type DwBackpropFilterStrategy = 'auto' | 'simd' | 'js';

let forced: DwBackpropFilterStrategy = 'auto';
/** For measurements and tests: force one implementation ('auto' restores the default choice). */
export function setDwBackpropFilterStrategy(s: DwBackpropFilterStrategy): void {
  forced = s;
}

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
 * The JS loops over a zero-padded x (xp [N,Hp,Wp,C]: every tap of every output position reads
 * inside it, no bounds checks), adding into acc [taps][C·M] from channel k0 on, in float64 (as
 * the cpu kernel). Per (n, output row) and channel the taps' sums are locals while one pass runs
 * along the row: each dy value is loaded once for all 9 taps of a 3×3 filter (for up to 3 taps of
 * a filter row otherwise), and V8 keeps the sums in registers — ≈3.5× faster than updating an
 * accumulator array per multiply-add. The row loops are small functions of their own, so V8
 * optimises each as a whole function early on instead of on-stack-replacing one big loop nest.
 */
export function dwBackpropFilterRows(xp: Float32Array, Hp: number, Wp: number, dv: Float32Array, c: Info,
  acc: Float64Array = new Float64Array(c.filterHeight * c.filterWidth * c.outChannels), k0 = 0): Float64Array {
  const { batchSize: N, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const g: RowGeom = { M: CM / C, CM, OW, k0, xs: sw * C, tw: dw * C, tapRow: dh * Wp * C, KH, KW };
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

/** Most taps the SIMD kernel keeps in registers (one f32x4 sum each, plus dy and a temporary). */
const SIMD_MAX_TAPS = 12;

/**
 * The SIMD row kernel for a KH×KW filter (M = 1): for each group of 4 channels, one f32x4 sum per
 * tap in a local while the loop runs along the output row (each dy vector loaded once for all
 * taps), then the sums are widened to float64 and added to acc [taps][C] (float64: the row sums
 * are short, the sum over rows is not).
 *
 *   row(x0, d0, acc, ow, groups, xs, dstep, tw, tapRow, accTap)   — all addresses/steps in bytes:
 *   x0/d0 the row's first x tap / dy pixel, xs/dstep per output column, tw/tapRow between kw/kh
 *   taps, accTap between taps in acc.
 */
function simdRowProgram(KH: number, KW: number): WasmFunction {
  const T = KH * KW;
  const [x0, d0, acc, ow, groups, xs, dstep, tw, tapRow, accTap] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [g, j, xi, di, rb, p, ap] = [10, 11, 12, 13, 14, 15, 16];
  const d = 17;
  const sum = (t: number) => 18 + t;
  const taps: number[] = [];
  for (let kh = 0; kh < KH; kh++) {
    if (kh === 0) taps.push(...op.localGet(xi), ...op.localSet(rb));
    else taps.push(...op.localGet(rb), ...op.localGet(tapRow), ...op.i32Add, ...op.localSet(rb));
    for (let kw = 0; kw < KW; kw++) {
      if (kw === 0) taps.push(...op.localGet(rb), ...op.localSet(p));
      else taps.push(...op.localGet(p), ...op.localGet(tw), ...op.i32Add, ...op.localSet(p));
      const t = kh * KW + kw;
      taps.push(...op.localGet(sum(t)), ...op.localGet(p), ...op.v128Load(), ...op.localGet(d), ...op.f32x4Mul, ...op.f32x4Add,
        ...op.localSet(sum(t)));
    }
  }
  const flush: number[] = [];
  const high = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]; // lanes 2,3 → 0,1
  for (let t = 0; t < T; t++) {
    flush.push(
      ...op.localGet(ap), ...op.localGet(ap), ...op.v128Load(), ...op.localGet(sum(t)), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.v128Store(),
      ...op.localGet(ap), ...op.localGet(ap), ...op.v128Load(16), ...op.localGet(sum(t)), ...op.localGet(sum(t)), ...op.shuffle(high),
      ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.v128Store(16),
      ...op.localGet(ap), ...op.localGet(accTap), ...op.i32Add, ...op.localSet(ap));
  }
  const body = [
    ...op.i32Const(0), ...op.localSet(g),
    ...op.block, ...op.loop, // for g < groups
    ...op.localGet(g), ...op.localGet(groups), ...op.i32GeU, ...op.brIf(1),
    ...Array.from({ length: T }, (_, t) => [...op.v128Zero, ...op.localSet(sum(t))]).flat(),
    ...op.localGet(x0), ...op.localGet(g), ...op.i32Const(16), ...op.i32Mul, ...op.i32Add, ...op.localSet(xi),
    ...op.localGet(d0), ...op.localGet(g), ...op.i32Const(16), ...op.i32Mul, ...op.i32Add, ...op.localSet(di),
    ...op.i32Const(0), ...op.localSet(j),
    ...op.block, ...op.loop, // for j < ow
    ...op.localGet(j), ...op.localGet(ow), ...op.i32GeU, ...op.brIf(1),
    ...op.localGet(di), ...op.v128Load(), ...op.localSet(d),
    ...taps,
    ...op.localGet(xi), ...op.localGet(xs), ...op.i32Add, ...op.localSet(xi),
    ...op.localGet(di), ...op.localGet(dstep), ...op.i32Add, ...op.localSet(di),
    ...op.localGet(j), ...op.i32Const(1), ...op.i32Add, ...op.localSet(j),
    ...op.br(0), ...op.end, ...op.end,
    ...op.localGet(acc), ...op.localGet(g), ...op.i32Const(32), ...op.i32Mul, ...op.i32Add, ...op.localSet(ap),
    ...flush,
    ...op.localGet(g), ...op.i32Const(1), ...op.i32Add, ...op.localSet(g),
    ...op.br(0), ...op.end, ...op.end,
  ];
  return { name: 'row', params: new Array<number>(10).fill(I32), locals: [[7, I32], [1 + T, V128]], body };
}

/** Whether the SIMD row kernel for KH×KW instantiates on this backend (for tests and diagnostics). */
export function dwBackpropFilterSimdAvailable(backend: BackendWasm, KH: number, KW: number): boolean {
  return simdRow(backend, KH, KW) !== undefined;
}

type SimdRow = (x0: number, d0: number, acc: number, ow: number, groups: number, xs: number, dstep: number, tw: number,
  tapRow: number, accTap: number) => void;

function simdRow(backend: BackendWasm, KH: number, KW: number): SimdRow | undefined {
  const memory = wasmMemoryOf(backend);
  if (!memory) return undefined;
  const exports = instantiateKernel(memory, `dwBackpropFilter${KH}x${KW}`, (shared) => assemble([simdRowProgram(KH, KW)], shared));
  return exports?.row as SimdRow | undefined;
}

interface RowGeom {
  M: number; CM: number; OW: number;
  /** First channel to do (the SIMD kernel has done those before it). */
  k0: number;
  /** x offsets: per output column, between kw taps, between kh taps. */
  xs: number; tw: number; tapRow: number;
  KH: number; KW: number;
}

function row3x3(xp: Float32Array, dv: Float32Array, acc: Float64Array, x0: number, d0: number, g: RowGeom): void {
  const { M, CM, OW, xs, tw, tapRow, k0 } = g;
  const tw2 = 2 * tw;
  for (let k = k0; k < CM; k++) {
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
  const { M, CM, OW, xs, tw, tapRow, KH, KW, k0 } = g;
  for (let kh = 0; kh < KH; kh++) {
    for (let k = k0; k < CM; k++) {
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

function compute(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, c: Info): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM } = c;
  const { filterHeight: KH, filterWidth: KW } = c;
  const T = KH * KW;
  const useSimd = forced !== 'js' && CM === C && T <= SIMD_MAX_TAPS && C >= 4;
  const row = useSimd ? simdRow(backend, KH, KW) : undefined;
  const [Hp, Wp] = paddedSize(c);
  const noPad = c.padInfo.top === 0 && c.padInfo.left === 0 && Hp <= H && Wp <= W;
  // Allocations first (each may move the heap), views after. The padded x lives on the wasm heap
  // rather than in a JS array: a fresh multi-MB ArrayBuffer per call drives V8 into frequent full
  // GCs (external-memory pressure). acc: float64 [T, C·M], 8-byte aligned.
  const xp = noPad ? undefined : backend.makeOutput([N * Hp * Wp * C], 'float32');
  const accT = backend.makeOutput([2 * T * CM + 2], 'float32');
  const out = backend.makeOutput([KH, KW, C, CM / C], 'float32');
  const accAddr = Math.ceil(heapAddress(backend, accT) / 8) * 8;
  const memory = heapF32(backend, out).buffer;
  const acc = new Float64Array(memory, accAddr, T * CM);
  acc.fill(0);
  const [rows, rowsH, rowsW] = xp ? [xp, Hp, Wp] : [x, H, W];
  if (xp) padX(heapF32(backend, x), heapF32(backend, xp), c, Hp, Wp);
  let k0 = 0;
  if (row) {
    // SIMD over channel groups of 4; JS for the C mod 4 remaining channels.
    const groups = Math.floor(C / 4);
    const xAddr = heapAddress(backend, rows);
    const dAddr = heapAddress(backend, dy);
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        row(xAddr + 4 * (n * rowsH + oh * sh) * rowsW * C, dAddr + 4 * (n * OH + oh) * OW * C, accAddr, OW, groups,
          4 * sw * C, 4 * C, 4 * dw * C, 4 * dh * rowsW * C, 8 * C);
      }
    }
    k0 = 4 * groups;
  }
  if (k0 < CM) dwBackpropFilterRows(heapF32(backend, rows), rowsH, rowsW, heapF32(backend, dy), c, acc, k0);
  heapF32(backend, out).set(acc);
  disposeAll(backend, accT, xp);
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
  return compute(backend, x, dy, c);
}

export const depthwiseConv2dBackpropFilterWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilterWasm as unknown as KernelFunc,
};
