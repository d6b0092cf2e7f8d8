/**
 * Cases shared by the depthwise backprop kernel tests: geometry of the forward depthwise conv
 * (x [n,h,w,c], filter [kh,kw,c,m]) and a cpu reference that also covers dilations — the cpu
 * backprop kernels ignore the `dilations` attribute, so for d > 1 the reference runs them on the
 * equivalent undilated filter with zeros between the taps (same padding, same output shape).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { randomValues, valuesOf } from './testing.js';

export type DwPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export interface DwCase {
  n: number; h: number; w: number; c: number; m: number; kh: number; kw: number;
  s: [number, number]; pad: DwPad; d?: [number, number]; round?: 'floor' | 'round' | 'ceil';
}

export function dwLabel(c: DwCase): string {
  return `${c.n}x${c.h}x${c.w}x${c.c}·${c.m} k${c.kh}x${c.kw} s${c.s}${c.d ? ` d${c.d}` : ''} ${JSON.stringify(c.pad)}`;
}

export function dwOutShape(c: DwCase): number[] {
  return tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.c], [c.kh, c.kw, c.c, c.m], c.s, c.d ?? 1, c.pad,
    c.round, true).outShape;
}

/** The kernel-level test matrix: strides 1/2/mixed × 'same'/'valid'/explicit asymmetric × 3×3/1×3, then edge cases. */
export function dwCases(): DwCase[] {
  const cases: DwCase[] = [];
  let i = 0;
  for (const s of [[1, 1], [2, 2], [1, 2]] as [number, number][]) {
    for (const pad of ['same', 'valid', [[0, 0], [2, 0], [0, 1], [0, 0]]] as DwPad[]) {
      for (const [kh, kw] of [[3, 3], [1, 3]]) {
        const n = [1, 2, 3][i % 3];
        const c = [5, 8, 3][i++ % 3];
        cases.push({ n, h: 9, w: 8, c, m: 1, kh, kw, s, pad });
      }
    }
  }
  cases.push({ n: 2, h: 7, w: 9, c: 4, m: 2, kh: 3, kw: 3, s: [1, 1], pad: 'same' }); // channel multiplier
  cases.push({ n: 2, h: 8, w: 7, c: 3, m: 3, kh: 3, kw: 3, s: [2, 2], pad: [[0, 0], [1, 0], [0, 2], [0, 0]] });
  cases.push({ n: 3, h: 6, w: 6, c: 1, m: 1, kh: 3, kw: 3, s: [1, 1], pad: 'same' }); // one channel
  cases.push({ n: 2, h: 16, w: 16, c: 32, m: 1, kh: 3, kw: 3, s: [2, 2], pad: 'same' }); // MobileNet-like
  cases.push({ n: 2, h: 11, w: 10, c: 6, m: 1, kh: 5, kw: 5, s: [2, 2], pad: 'same' });
  cases.push({ n: 2, h: 8, w: 9, c: 5, m: 1, kh: 2, kw: 2, s: [1, 1], pad: 'same' }); // even kernel: 'same' pads bottom/right only
  cases.push({ n: 2, h: 6, w: 6, c: 4, m: 1, kh: 3, kw: 3, s: [2, 2], pad: 'valid' }); // last row/col never read
  cases.push({ n: 2, h: 5, w: 6, c: 3, m: 1, kh: 3, kw: 3, s: [1, 1], pad: [[0, 0], [3, 0], [0, 4], [0, 0]] }); // pad ≥ K
  cases.push({ n: 1, h: 5, w: 5, c: 2, m: 2, kh: 3, kw: 1, s: [2, 1], pad: [[0, 0], [0, 4], [3, 0], [0, 0]] });
  cases.push({ n: 2, h: 8, w: 8, c: 3, m: 1, kh: 3, kw: 3, s: [2, 2], pad: 1, round: 'ceil' }); // numeric pad + rounding
  cases.push({ n: 2, h: 9, w: 10, c: 4, m: 1, kh: 3, kw: 3, s: [1, 1], pad: 'same', d: [2, 2] }); // dilation
  cases.push({ n: 2, h: 9, w: 10, c: 3, m: 2, kh: 3, kw: 2, s: [1, 1], pad: [[0, 0], [1, 3], [2, 0], [0, 0]], d: [2, 3] });
  cases.push({ n: 1, h: 12, w: 12, c: 7, m: 1, kh: 3, kw: 3, s: [1, 1], pad: 'valid', d: [3, 1] });
  return cases;
}

/** Random inputs for a case: x, the filter and dy. */
export function dwInputs(rng: Rng, c: DwCase): { x: Float32Array; filter: Float32Array; dy: Float32Array; dyShape: number[] } {
  const dyShape = dwOutShape(c);
  return {
    x: randomValues(rng, c.n * c.h * c.w * c.c),
    filter: randomValues(rng, c.kh * c.kw * c.c * c.m),
    dy: randomValues(rng, dyShape.reduce((a, b) => a * b)),
    dyShape,
  };
}

function attrsOf(c: DwCase, d: [number, number]): Record<string, unknown> {
  return { strides: c.s, pad: c.pad, dilations: d, dimRoundingMode: c.round };
}

/** The filter with (d−1) zeros between taps: [(kh−1)dh+1, (kw−1)dw+1, c, m]. */
function dilatedFilter(c: DwCase, f: Float32Array): { values: Float32Array; kh: number; kw: number } {
  const [dh, dw] = c.d ?? [1, 1];
  const kh = (c.kh - 1) * dh + 1;
  const kw = (c.kw - 1) * dw + 1;
  const cm = c.c * c.m;
  const values = new Float32Array(kh * kw * cm);
  for (let i = 0; i < c.kh; i++) {
    for (let j = 0; j < c.kw; j++) values.set(f.subarray((i * c.kw + j) * cm, (i * c.kw + j + 1) * cm), (i * dh * kw + j * dw) * cm);
  }
  return { values, kh, kw };
}

/** DepthwiseConv2dNativeBackpropInput on the current backend. `reference`: the cpu formulation for dilations. */
export function runBackpropInput(c: DwCase, v: { filter: Float32Array; dy: Float32Array; dyShape: number[] }, reference = false): Float32Array {
  return valuesOf(() => {
    const dy = tf.tensor(v.dy, v.dyShape);
    if (reference && c.d) {
      const f = dilatedFilter(c, v.filter);
      return tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: tf.tensor4d(f.values, [f.kh, f.kw, c.c, c.m]) },
        { ...attrsOf(c, [1, 1]), inputShape: [c.n, c.h, c.w, c.c] }) as tf.Tensor;
    }
    return tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: tf.tensor4d(v.filter, [c.kh, c.kw, c.c, c.m]) },
      { ...attrsOf(c, c.d ?? [1, 1]), inputShape: [c.n, c.h, c.w, c.c] }) as tf.Tensor;
  })[0];
}

/** DepthwiseConv2dNativeBackpropFilter on the current backend. `reference`: the cpu formulation for dilations. */
export function runBackpropFilter(c: DwCase, v: { x: Float32Array; dy: Float32Array; dyShape: number[] }, reference = false): Float32Array {
  const run = (kh: number, kw: number, d: [number, number]) => valuesOf(() =>
    tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',
      { x: tf.tensor4d(v.x, [c.n, c.h, c.w, c.c]), dy: tf.tensor(v.dy, v.dyShape) },
      { ...attrsOf(c, d), filterShape: [kh, kw, c.c, c.m] }) as tf.Tensor)[0];
  if (!(reference && c.d)) return run(c.kh, c.kw, c.d ?? [1, 1]);
  const [dh, dw] = c.d;
  const kh = (c.kh - 1) * dh + 1;
  const kw = (c.kw - 1) * dw + 1;
  const full = run(kh, kw, [1, 1]);
  const cm = c.c * c.m;
  const out = new Float32Array(c.kh * c.kw * cm);
  for (let i = 0; i < c.kh; i++) {
    for (let j = 0; j < c.kw; j++) out.set(full.subarray((i * dh * kw + j * dw) * cm, (i * dh * kw + j * dw + 1) * cm), (i * c.kw + j) * cm);
  }
  return out;
}
