import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { ApcBatchNormTrain, ApcBatchNormTrainGrad } from './batch_norm.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-4; // relErr (see testing.ts): max |a − ref| / max |ref|
const EPS = 1e-5;

interface Case { shape: number[]; mean: number; std: number }
const cases: Case[] = [
  { shape: [3, 5, 4, 6], mean: 0, std: 1 },
  { shape: [1, 7, 9, 3], mean: 0, std: 2 },
  { shape: [7, 10], mean: 0.5, std: 1 },
  { shape: [4, 8, 8, 16], mean: 50, std: 0.1 }, // |mean| ≫ std: the one-pass variance must hold
  { shape: [2, 3, 3, 1], mean: 0, std: 1 },
];

interface Inputs { x: Float32Array; gamma: Float32Array; beta: Float32Array; dy: Float32Array }

function makeInputs(rng: Rng, c: Case): Inputs {
  const C = c.shape[c.shape.length - 1];
  const size = c.shape.reduce((a, b) => a * b);
  return {
    x: randomValues(rng, size, c.mean, c.std),
    gamma: randomValues(rng, C, 1, 0.3),
    beta: randomValues(rng, C, 0, 0.3),
    dy: randomValues(rng, size),
  };
}

/** The case's inputs as tensors x, γ, β, dy (in the current scope). */
function tensorsOf(c: Case, v: Inputs): { x: tf.Tensor; gamma: tf.Tensor1D; beta: tf.Tensor1D; dy: tf.Tensor } {
  return { x: tf.tensor(v.x, c.shape), gamma: tf.tensor1d(v.gamma), beta: tf.tensor1d(v.beta), dy: tf.tensor(v.dy, c.shape) };
}

/** Reference: composite tfjs ops (forward) and autodiff through them (backward), on cpu. */
function reference(c: Case, v: Inputs): Float32Array[] {
  return valuesOf(() => {
    const C = c.shape[c.shape.length - 1];
    const axes = c.shape.slice(0, -1).map((_, i) => i);
    const { x, gamma, beta, dy } = tensorsOf(c, v);
    const bn = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, axes);
      return tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, EPS))), g), b);
    };
    const { mean, variance } = tf.moments(x, axes);
    const y = bn(x, gamma, beta);
    const [dx, dg, db] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(bn(a, b, d), dy)))([x, gamma, beta]);
    void C;
    return [y, mean, variance, dx, dg, db];
  });
}

function viaKernels(c: Case, v: Inputs): Float32Array[] {
  return valuesOf(() => {
    const { x, gamma, beta, dy } = tensorsOf(c, v);
    const [y, mean, variance] = tf.engine().runKernel(ApcBatchNormTrain, { x, gamma, beta }, { epsilon: EPS }) as tf.Tensor[];
    const [dx, dg, db] = tf.engine().runKernel(ApcBatchNormTrainGrad,
      { dy, x, gamma, batchMean: mean, batchVariance: variance }, { epsilon: EPS }) as tf.Tensor[];
    return [y, mean, variance, dx, dg, db];
  });
}

const NAMES = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];

test('ApcBatchNormTrain / ApcBatchNormTrainGrad on wasm and cpu match composite ops + autodiff on cpu', async (t) => {
  const rng = new Rng(5);
  const inputs = cases.map((c) => makeInputs(rng, c));
  await useBackend('cpu');
  const refs = cases.map((c, i) => reference(c, inputs[i]));
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    let worst = 0;
    cases.forEach((c, i) => {
      const before = memorySnapshot();
      const got = viaKernels(c, inputs[i]);
      assert.deepEqual(memorySnapshot(), before, `leak on ${backend}`);
      got.forEach((g, k) => {
        // The variance of the |mean| ≫ std case is compared to float64 maths below, not to
        // float32 tf.moments (which loses digits to cancellation there).
        if (c.mean === 50 && NAMES[k] !== 'mean') return;
        const e = relErr(g, refs[i][k]);
        assert.ok(e <= TOL, `${backend} ${c.shape} ${NAMES[k]}: relErr ${e}`);
        worst = Math.max(worst, e);
      });
    });
    t.diagnostic(`${backend}: max relErr ${worst.toExponential(1)}`);
  }
});

test('fused statistics are float64-accurate when |mean| ≫ std', async () => {
  const c = cases[3];
  const v = makeInputs(new Rng(9), c);
  const C = c.shape[c.shape.length - 1];
  const M = v.x.length / C;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let i = 0; i < v.x.length; i++) mean[i % C] += v.x[i] / M;
  for (let i = 0; i < v.x.length; i++) variance[i % C] += (v.x[i] - mean[i % C]) ** 2 / M;
  // float64 y and exact backward from the same statistics.
  const y = new Float64Array(v.x.length);
  const dx = new Float64Array(v.x.length);
  const sdy = new Float64Array(C);
  const sdyxh = new Float64Array(C);
  const inv = Array.from(variance, (s2) => 1 / Math.sqrt(s2 + EPS));
  for (let i = 0; i < v.x.length; i++) {
    const c0 = i % C;
    const xh = (v.x[i] - mean[c0]) * inv[c0];
    y[i] = xh * v.gamma[c0] + v.beta[c0];
    sdy[c0] += v.dy[i];
    sdyxh[c0] += v.dy[i] * xh;
  }
  for (let i = 0; i < v.x.length; i++) {
    const c0 = i % C;
    const xh = (v.x[i] - mean[c0]) * inv[c0];
    dx[i] = v.gamma[c0] * inv[c0] * (v.dy[i] - sdy[c0] / M - xh * sdyxh[c0] / M);
  }
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const got = viaKernels(c, v);
    const checks: [string, ArrayLike<number>, ArrayLike<number>, number][] = [
      ['mean', got[1], mean, 1e-6], ['variance', got[2], variance, 1e-4], ['y', got[0], y, TOL],
      ['dx', got[3], dx, TOL], ['dgamma', got[4], sdyxh, TOL], ['dbeta', got[5], sdy, TOL],
    ];
    for (const [name, a, ref, tol] of checks) {
      assert.ok(relErr(a, ref) <= tol, `${backend} ${name}: relErr ${relErr(a, ref)}`);
    }
  }
});

test('fused ReLU (attr relu): y = max(0, BN(x)) and the backward through the ReLU match composite ops + autodiff on cpu', async () => {
  const rng = new Rng(11);
  const shapes = cases.filter((c) => c.mean !== 50); // C = 6, 3, 10, 1 (unrolled and remainder loops)
  shapes.push({ shape: [2, 6, 6, 8], mean: 0, std: 1 });
  const inputs = shapes.map((c) => makeInputs(rng, c));
  await useBackend('cpu');
  const refs = shapes.map((c, i) => valuesOf(() => {
    const v = inputs[i];
    const axes = c.shape.slice(0, -1).map((_, k) => k);
    const { x, gamma, beta, dy } = tensorsOf(c, v);
    const bnRelu = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, axes);
      return tf.relu(tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, EPS))), g), b));
    };
    const [dx, dg, db] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(bnRelu(a, b, d), dy)))([x, gamma, beta]);
    return [bnRelu(x, gamma, beta), dx, dg, db];
  }));
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    shapes.forEach((c, i) => {
      const v = inputs[i];
      const before = memorySnapshot();
      const got = valuesOf(() => {
        const { x, gamma, beta, dy } = tensorsOf(c, v);
        const [y, mean, variance] = tf.engine().runKernel(ApcBatchNormTrain, { x, gamma, beta }, { epsilon: EPS, relu: true }) as tf.Tensor[];
        const [dx, dg, db] = tf.engine().runKernel(ApcBatchNormTrainGrad,
          { dy, x, gamma, batchMean: mean, batchVariance: variance, y }, { epsilon: EPS, relu: true }) as tf.Tensor[];
        return [y, dx, dg, db];
      });
      assert.deepEqual(memorySnapshot(), before, `leak on ${backend}`);
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, k) => {
        const e = relErr(got[k], refs[i][k]);
        assert.ok(e <= TOL, `${backend} ${c.shape} relu ${name}: relErr ${e}`);
      });
      assert.ok(got[0].every((a) => a >= 0), `${backend}: ReLU output is non-negative`);
    });
  }
});
