/**
 * Training-mode BatchNorm as two fused kernels, for `wasm` (loops over the heap) and `cpu` (the
 * same loops over the backend's Float32Arrays). They replace the ~15 small kernels (Mean, Sub,
 * Square, Tile, Mul, Sum, RealDiv, …) the composite op and its autodiff gradient would run.
 *
 * ApcBatchNormTrain      inputs x [..., C], gamma [C], beta [C]; attr epsilon
 *                        outputs y (shape of x), batchMean [C], batchVariance [C] (biased: / M)
 * ApcBatchNormTrainGrad  inputs dy, x, gamma, batchMean, batchVariance (, y); attr epsilon
 *                        outputs dx, dgamma, dbeta — the exact batch-statistics backward
 *                        dx = (γ/s)·(dy − mean(dy) − x̂·mean(dy⊙x̂)), s = √(var+ε), x̂ = (x−μ)/s
 *
 * Attr `relu` (default false) fuses a ReLU after the normalisation: ApcBatchNormTrain then outputs
 * y = max(0, BN(x)), and ApcBatchNormTrainGrad takes that y as an extra input and differentiates
 * through the ReLU first (dy ← dy·[y > 0], the derivative tfjs's Relu gradient uses), so the
 * pair replaces BN + Relu + Step + Multiply without another pass over the activations.
 *
 * Means are over all axes but the last (M = size / C). Reductions accumulate in float64, one pass
 * per reduction (the variance uses sums shifted by the channel's first value, which keeps the
 * one-pass formula exact enough even when |mean| ≫ std).
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { f32Access } from './wasm_util.js';

export const ApcBatchNormTrain = 'ApcBatchNormTrain';
export const ApcBatchNormTrainGrad = 'ApcBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  epsilon: number;
  /** Fused ReLU (see the header). */
  relu?: boolean;
}

/*
 * Loop structure (measured, Node 20): rows are processed in blocks of ~4096 elements (16 KB, in
 * L1); within a block each channel (4 at a time when C % 4 == 0) is swept with its accumulators in
 * locals. ≈1 ns/element per pass against ≈2.5–3 for the plain row-major loop with per-channel
 * typed-array accumulators.
 *
 * The fused-ReLU variants (channelSumsMasked, channelAffineMasked, channelAffineRelu) repeat that
 * scaffolding on purpose: folded into channelSums / channelAffine as extra branches they measured
 * ≈2–3% slower on the BN+ReLU backward (microbench, medians of paired rounds, same process).
 */
function blockSize(C: number): number {
  return Math.max(C, Math.floor(4096 / C) * C);
}

/** s1[c] += Σ (x−k[c]), s2[c] += Σ (x−k[c])²; or, with `w`, s1 += Σ w, s2 += Σ w·(x−k). */
function channelSums(x: Float32Array, w: Float32Array | null, C: number, k: Float64Array, s1: Float64Array, s2: Float64Array): void {
  const len = x.length;
  const BS = blockSize(C);
  const C4 = C % 4 === 0 ? C : 0;
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let c = 0; c < C4; c += 4) {
      const k0 = k[c], k1 = k[c + 1], k2 = k[c + 2], k3 = k[c + 3];
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      if (w === null) {
        for (let i = start + c; i < end; i += C) {
          const d0 = x[i] - k0, d1 = x[i + 1] - k1, d2 = x[i + 2] - k2, d3 = x[i + 3] - k3;
          a0 += d0; a1 += d1; a2 += d2; a3 += d3;
          b0 += d0 * d0; b1 += d1 * d1; b2 += d2 * d2; b3 += d3 * d3;
        }
      } else {
        for (let i = start + c; i < end; i += C) {
          const g0 = w[i], g1 = w[i + 1], g2 = w[i + 2], g3 = w[i + 3];
          a0 += g0; a1 += g1; a2 += g2; a3 += g3;
          b0 += g0 * (x[i] - k0); b1 += g1 * (x[i + 1] - k1); b2 += g2 * (x[i + 2] - k2); b3 += g3 * (x[i + 3] - k3);
        }
      }
      s1[c] += a0; s1[c + 1] += a1; s1[c + 2] += a2; s1[c + 3] += a3;
      s2[c] += b0; s2[c + 1] += b1; s2[c + 2] += b2; s2[c + 3] += b3;
    }
    for (let c = C4; c < C; c++) {
      const k0 = k[c];
      let a0 = 0, b0 = 0;
      if (w === null) {
        for (let i = start + c; i < end; i += C) { const d = x[i] - k0; a0 += d; b0 += d * d; }
      } else {
        for (let i = start + c; i < end; i += C) { const g = w[i]; a0 += g; b0 += g * (x[i] - k0); }
      }
      s1[c] += a0;
      s2[c] += b0;
    }
  }
}

/**
 * As channelSums with w, but w[i] counts only where m[i] > 0: s1 += Σ w·[m>0], s2 += Σ w·[m>0]·(x−k).
 * The mask is applied branch-free (w·[m>0]): a data-dependent branch costs ≈4× on random signs.
 */
function channelSumsMasked(x: Float32Array, w: Float32Array, m: Float32Array, C: number, k: Float64Array, s1: Float64Array, s2: Float64Array): void {
  const len = x.length;
  const BS = blockSize(C);
  const C4 = C % 4 === 0 ? C : 0;
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let c = 0; c < C4; c += 4) {
      const k0 = k[c], k1 = k[c + 1], k2 = k[c + 2], k3 = k[c + 3];
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let i = start + c; i < end; i += C) {
        const g0 = w[i] * +(m[i] > 0), g1 = w[i + 1] * +(m[i + 1] > 0);
        const g2 = w[i + 2] * +(m[i + 2] > 0), g3 = w[i + 3] * +(m[i + 3] > 0);
        a0 += g0; a1 += g1; a2 += g2; a3 += g3;
        b0 += g0 * (x[i] - k0); b1 += g1 * (x[i + 1] - k1); b2 += g2 * (x[i + 2] - k2); b3 += g3 * (x[i + 3] - k3);
      }
      s1[c] += a0; s1[c + 1] += a1; s1[c + 2] += a2; s1[c + 3] += a3;
      s2[c] += b0; s2[c + 1] += b1; s2[c + 2] += b2; s2[c + 3] += b3;
    }
    for (let c = C4; c < C; c++) {
      const k0 = k[c];
      let a0 = 0, b0 = 0;
      for (let i = start + c; i < end; i += C) {
        const g = w[i] * +(m[i] > 0);
        a0 += g; b0 += g * (x[i] - k0);
      }
      s1[c] += a0;
      s2[c] += b0;
    }
  }
}

/** out = p[c]·(u·[m>0] − q[c]) + r[c]·(v − t[c]) per channel (mask branch-free). */
function channelAffineMasked(
  out: Float32Array, u: Float32Array, m: Float32Array, C: number, p: Float64Array, q: Float64Array,
  v: Float32Array, r: Float64Array, t: Float64Array,
): void {
  const len = u.length;
  const BS = blockSize(C);
  const C4 = C % 4 === 0 ? C : 0;
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let c = 0; c < C4; c += 4) {
      const p0 = p[c], p1 = p[c + 1], p2 = p[c + 2], p3 = p[c + 3];
      const q0 = q[c], q1 = q[c + 1], q2 = q[c + 2], q3 = q[c + 3];
      const r0 = r[c], r1 = r[c + 1], r2 = r[c + 2], r3 = r[c + 3];
      const t0 = t[c], t1 = t[c + 1], t2 = t[c + 2], t3 = t[c + 3];
      for (let i = start + c; i < end; i += C) {
        out[i] = p0 * (u[i] * +(m[i] > 0) - q0) + r0 * (v[i] - t0);
        out[i + 1] = p1 * (u[i + 1] * +(m[i + 1] > 0) - q1) + r1 * (v[i + 1] - t1);
        out[i + 2] = p2 * (u[i + 2] * +(m[i + 2] > 0) - q2) + r2 * (v[i + 2] - t2);
        out[i + 3] = p3 * (u[i + 3] * +(m[i + 3] > 0) - q3) + r3 * (v[i + 3] - t3);
      }
    }
    for (let c = C4; c < C; c++) {
      const pc = p[c], qc = q[c], rc = r[c], tc = t[c];
      for (let i = start + c; i < end; i += C) out[i] = pc * (u[i] * +(m[i] > 0) - qc) + rc * (v[i] - tc);
    }
  }
}

/** out = max(0, p[c]·(u − q[c]) + z[c]) per channel. */
function channelAffineRelu(out: Float32Array, u: Float32Array, C: number, p: Float64Array, q: Float64Array, z: Float64Array): void {
  const len = u.length;
  const BS = blockSize(C);
  const C4 = C % 4 === 0 ? C : 0;
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let c = 0; c < C4; c += 4) {
      const p0 = p[c], p1 = p[c + 1], p2 = p[c + 2], p3 = p[c + 3];
      const q0 = q[c], q1 = q[c + 1], q2 = q[c + 2], q3 = q[c + 3];
      const z0 = z[c], z1 = z[c + 1], z2 = z[c + 2], z3 = z[c + 3];
      for (let i = start + c; i < end; i += C) {
        const y0 = p0 * (u[i] - q0) + z0, y1 = p1 * (u[i + 1] - q1) + z1;
        const y2 = p2 * (u[i + 2] - q2) + z2, y3 = p3 * (u[i + 3] - q3) + z3;
        // branch-free ReLU (y·[y>0]); a data-dependent branch costs ≈4× on random signs
        out[i] = y0 * +(y0 > 0); out[i + 1] = y1 * +(y1 > 0);
        out[i + 2] = y2 * +(y2 > 0); out[i + 3] = y3 * +(y3 > 0);
      }
    }
    for (let c = C4; c < C; c++) {
      const pc = p[c], qc = q[c], zc = z[c];
      for (let i = start + c; i < end; i += C) { const y = pc * (u[i] - qc) + zc; out[i] = y * +(y > 0); }
    }
  }
}

/** out = p[c]·(u − q[c]) + r[c]·(v − t[c]) + z[c] per channel (the v term only when v is given). */
function channelAffine(
  out: Float32Array, u: Float32Array, C: number, p: Float64Array, q: Float64Array, z: Float64Array,
  v: Float32Array | null, r: Float64Array, t: Float64Array,
): void {
  const len = u.length;
  const BS = blockSize(C);
  const C4 = C % 4 === 0 ? C : 0;
  for (let start = 0; start < len; start += BS) {
    const end = Math.min(len, start + BS);
    for (let c = 0; c < C4; c += 4) {
      const p0 = p[c], p1 = p[c + 1], p2 = p[c + 2], p3 = p[c + 3];
      const q0 = q[c], q1 = q[c + 1], q2 = q[c + 2], q3 = q[c + 3];
      const z0 = z[c], z1 = z[c + 1], z2 = z[c + 2], z3 = z[c + 3];
      if (v === null) {
        for (let i = start + c; i < end; i += C) {
          out[i] = p0 * (u[i] - q0) + z0;
          out[i + 1] = p1 * (u[i + 1] - q1) + z1;
          out[i + 2] = p2 * (u[i + 2] - q2) + z2;
          out[i + 3] = p3 * (u[i + 3] - q3) + z3;
        }
      } else {
        const r0 = r[c], r1 = r[c + 1], r2 = r[c + 2], r3 = r[c + 3];
        const t0 = t[c], t1 = t[c + 1], t2 = t[c + 2], t3 = t[c + 3];
        for (let i = start + c; i < end; i += C) {
          out[i] = p0 * (u[i] - q0) + r0 * (v[i] - t0) + z0;
          out[i + 1] = p1 * (u[i + 1] - q1) + r1 * (v[i + 1] - t1) + z1;
          out[i + 2] = p2 * (u[i + 2] - q2) + r2 * (v[i + 2] - t2) + z2;
          out[i + 3] = p3 * (u[i + 3] - q3) + r3 * (v[i + 3] - t3) + z3;
        }
      }
    }
    for (let c = C4; c < C; c++) {
      const pc = p[c], qc = q[c], zc = z[c];
      if (v === null) {
        for (let i = start + c; i < end; i += C) out[i] = pc * (u[i] - qc) + zc;
      } else {
        const rc = r[c], tc = t[c];
        for (let i = start + c; i < end; i += C) out[i] = pc * (u[i] - qc) + rc * (v[i] - tc) + zc;
      }
    }
  }
}

/** Statistics + normalisation (+ ReLU when `relu`). Writes y, mean, variance (float32). */
export function batchNormTrainImpl(
  x: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array, relu = false,
): void {
  const C = gamma.length;
  const M = x.length / C;
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) shift[c] = M > 0 ? x[c] : 0;
  channelSums(x, null, C, shift, s1, s2);
  const mu = new Float64Array(C);
  const scale = new Float64Array(C);
  const b = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m1 = s1[c] / M;
    const v = Math.max(0, s2[c] / M - m1 * m1);
    mu[c] = shift[c] + m1;
    mean[c] = mu[c];
    variance[c] = v;
    scale[c] = gamma[c] / Math.sqrt(v + epsilon);
    b[c] = beta[c];
  }
  if (relu) channelAffineRelu(y, x, C, scale, mu, b);
  else channelAffine(y, x, C, scale, mu, b, null, scale, mu);
}

/**
 * Backward. Writes dx, dgamma, dbeta (float32). With `reluOut` (the fused forward's output y),
 * dy is first masked by [y > 0].
 */
export function batchNormTrainGradImpl(
  dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array,
  epsilon: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, reluOut: Float32Array | null = null,
): void {
  const C = gamma.length;
  const M = x.length / C;
  const sdy = new Float64Array(C);
  const sdyx = new Float64Array(C);
  const mu = new Float64Array(C);
  for (let c = 0; c < C; c++) mu[c] = mean[c];
  if (reluOut) channelSumsMasked(x, dy, reluOut, C, mu, sdy, sdyx);
  else channelSums(x, dy, C, mu, sdy, sdyx);
  const k1 = new Float64Array(C);
  const k2 = new Float64Array(C);
  const a = new Float64Array(C);
  const zero = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(variance[c] + epsilon);
    dbeta[c] = sdy[c];
    dgamma[c] = sdyx[c] * inv;
    k1[c] = gamma[c] * inv;
    a[c] = M > 0 ? sdy[c] / M : 0;
    k2[c] = M > 0 ? -(k1[c] * inv * inv * sdyx[c]) / M : 0;
  }
  // dx = k1·(dy − a) + k2·(x − μ), k1 = γ/s, a = mean(dy), k2 = −γ·Σdy(x−μ)/(M·s³)
  if (reluOut) channelAffineMasked(dx, dy, reluOut, C, k1, a, x, k2, mu);
  else channelAffine(dx, dy, C, k1, a, zero, x, k2, mu);
}

function checkShapes(name: string, x: TensorInfo, perChannel: TensorInfo[]): number {
  util.assert(x.shape.length >= 1, () => `${name}: x must have rank ≥ 1`);
  const C = x.shape[x.shape.length - 1];
  for (const t of [x, ...perChannel]) {
    util.assert(t.dtype === 'float32', () => `${name}: float32 only, got ${t.dtype}`);
  }
  for (const t of perChannel) {
    util.assert(util.sizeFromShape(t.shape) === C, () => `${name}: per-channel input of shape ${t.shape} for ${C} channels`);
  }
  return C;
}

function trainKernel(backendName: 'wasm' | 'cpu'): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { epsilon, relu } = attrs as unknown as BatchNormTrainAttrs;
    const C = checkShapes(ApcBatchNormTrain, x, [gamma, beta]);
    const io = f32Access(backend, backendName);
    const y = io.out(x.shape);
    const mean = io.out([C]);
    const variance = io.out([C]);
    batchNormTrainImpl(io.f32(x), io.f32(gamma), io.f32(beta), epsilon, io.f32(y), io.f32(mean), io.f32(variance), relu === true);
    return [y, mean, variance];
  };
}

function gradKernel(backendName: 'wasm' | 'cpu'): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, x, gamma, batchMean, batchVariance, y } = inputs as Record<string, TensorInfo | undefined> as Record<string, TensorInfo>;
    const { epsilon, relu } = attrs as unknown as BatchNormTrainAttrs;
    checkShapes(ApcBatchNormTrainGrad, x, [gamma, batchMean, batchVariance]);
    util.assert(util.arraysEqual(dy.shape, x.shape), () => `${ApcBatchNormTrainGrad}: dy ${dy.shape} vs x ${x.shape}`);
    util.assert(!relu || (y != null && util.arraysEqual(y.shape, x.shape)), () => `${ApcBatchNormTrainGrad}: relu needs the forward output y of shape ${x.shape}`);
    const io = f32Access(backend, backendName);
    const dx = io.out(x.shape);
    const dgamma = io.out(gamma.shape);
    const dbeta = io.out(gamma.shape);
    batchNormTrainGradImpl(io.f32(dy), io.f32(x), io.f32(gamma), io.f32(batchMean), io.f32(batchVariance), epsilon,
      io.f32(dx), io.f32(dgamma), io.f32(dbeta), relu ? io.f32(y) : null);
    return [dx, dgamma, dbeta];
  };
}

const configs = new Map<string, KernelConfig[]>();

/** The two kernel configs for `wasm` or `cpu` (same objects on every call). */
export function batchNormKernelConfigs(backendName: 'wasm' | 'cpu'): KernelConfig[] {
  let c = configs.get(backendName);
  if (!c) {
    c = [
      { kernelName: ApcBatchNormTrain, backendName, kernelFunc: trainKernel(backendName) },
      { kernelName: ApcBatchNormTrainGrad, backendName, kernelFunc: gradKernel(backendName) },
    ];
    configs.set(backendName, c);
  }
  return c;
}
