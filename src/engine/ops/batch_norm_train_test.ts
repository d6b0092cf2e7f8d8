import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { ApcBatchNormTrain, ApcBatchNormTrainGrad } from '../kernels/batch_norm.js';
import { registerKernelPack } from '../kernels/register.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from '../kernels/testing.js';
import { batchNormTrain, hasBatchNormKernels } from './batch_norm_train.js';

const TOL = 1e-4; // relErr (see kernels/testing.ts): max |a − ref| / max |ref|
const EPS = 1e-3;
const SHAPES = [[4, 6, 5, 8], [9, 12], [1, 3, 3, 2]];

function inputs(shape: number[], seed: number) {
  const rng = new Rng(seed);
  const C = shape[shape.length - 1];
  const size = shape.reduce((a, b) => a * b);
  return { x: randomValues(rng, size, 0.3, 1.5), gamma: randomValues(rng, C, 1, 0.3), beta: randomValues(rng, C, 0, 0.3), dy: randomValues(rng, size) };
}

type In = ReturnType<typeof inputs>;

/** y, mean, variance and d(Σ y⊙dy)/d(x, γ, β) through `bn`. */
function evaluate(shape: number[], v: In, useOp: boolean): Float32Array[] {
  return valuesOf(() => {
    const x = tf.tensor(v.x, shape);
    const gamma = tf.tensor1d(v.gamma);
    const beta = tf.tensor1d(v.beta);
    const dy = tf.tensor(v.dy, shape);
    const axes = shape.slice(0, -1).map((_, i) => i);
    const handWritten = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, axes);
      return { y: tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, EPS))), g), b), mean, variance };
    };
    const bn = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      useOp ? batchNormTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS) : handWritten(a, g, b);
    const { y, mean, variance } = bn(x, gamma, beta);
    // BN of an intermediate (a·1.5, created and disposed inside the tape, like a conv output).
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(bn(tf.mul(a, 1.5), g, b).y, dy)))([x, gamma, beta]);
    return [y, mean, variance, ...grads];
  });
}

const NAMES = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];

test('batchNormTrain: values and gradients equal a hand-written BN differentiated on cpu (fused cpu, fused wasm, fallback ops)', async () => {
  await useBackend('cpu');
  const data = SHAPES.map((s, i) => inputs(s, 100 + i));
  const refs = SHAPES.map((s, i) => evaluate(s, data[i], false));
  const check = (label: string) => SHAPES.forEach((s, i) => {
    const got = evaluate(s, data[i], true);
    got.forEach((g, k) => {
      const e = relErr(g, refs[i][k]);
      assert.ok(e <= TOL, `${label} ${s} ${NAMES[k]}: relErr ${e}`);
    });
  });
  assert.ok(hasBatchNormKernels('cpu'));
  check('cpu fused');
  // Fallback path: the same op without the kernels (as on webgl or tfjs-node).
  tf.unregisterKernel(ApcBatchNormTrain, 'cpu');
  tf.unregisterKernel(ApcBatchNormTrainGrad, 'cpu');
  try {
    assert.ok(!hasBatchNormKernels('cpu'));
    check('cpu ops');
  } finally {
    registerKernelPack('cpu');
  }
  await useBackend('wasm');
  assert.ok(hasBatchNormKernels('wasm'));
  check('wasm fused');
});

test('batchNormTrain is leak-free with and without a gradient tape; statistics carry no gradient', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const v = inputs([2, 4, 4, 3], 7);
    const x = tf.tensor4d(v.x, [2, 4, 4, 3]);
    const gamma = tf.variable(tf.tensor1d(v.gamma));
    const beta = tf.variable(tf.tensor1d(v.beta));
    const before = memorySnapshot();
    const r = batchNormTrain(x, gamma, beta, EPS);
    assert.equal(tf.memory().numTensors, before.tensors + 3, 'allocates exactly y, mean, variance');
    tf.dispose([r.y, r.mean, r.variance]);
    assert.deepEqual(memorySnapshot(), before);
    // Inside variableGrads; the statistics escape the tape untouched (no gradient through them).
    const withStats = tf.variableGrads(() => {
      const o = batchNormTrain(x, gamma, beta, EPS);
      return tf.add(tf.sum(tf.square(o.y)), tf.add(tf.sum(o.mean), tf.sum(o.variance))) as tf.Scalar;
    });
    const withoutStats = tf.variableGrads(() => tf.sum(tf.square(batchNormTrain(x, gamma, beta, EPS).y)) as tf.Scalar);
    for (const name of Object.keys(withoutStats.grads)) {
      assert.ok(relErr(withStats.grads[name].dataSync(), withoutStats.grads[name].dataSync()) === 0, name);
    }
    tf.dispose([withStats.value, withoutStats.value, ...Object.values(withStats.grads), ...Object.values(withoutStats.grads)]);
    assert.deepEqual(memorySnapshot(), before, `${backend}: numTensors / data buckets flat after variableGrads`);
    tf.dispose([x, gamma, beta]);
  }
});

test('batchNormTrain {relu, bias}: equals ReLU(BN(x + b)) by plain ops on cpu; mean includes b; ∂/∂b = 0 (reference ≈ 0)', async () => {
  const shape = [3, 5, 4, 8];
  const v = inputs(shape, 21);
  const bias = randomValues(new Rng(22), 8, 0, 0.5);
  const axes = [0, 1, 2];
  const dy = tf.tensor(v.dy, shape);
  const run = (fusedOp: boolean) => valuesOf(() => {
    const x = tf.tensor(v.x, shape);
    const gamma = tf.tensor1d(v.gamma);
    const beta = tf.tensor1d(v.beta);
    const b = tf.tensor1d(bias);
    const f = (a: tf.Tensor, g: tf.Tensor, bt: tf.Tensor, bb: tf.Tensor) => {
      if (fusedOp) return batchNormTrain(tf.mul(a, 1.5), g as tf.Tensor1D, bt as tf.Tensor1D, EPS, { relu: true, bias: bb as tf.Tensor1D });
      const pre = tf.add(tf.mul(a, 1.5), bb);
      const { mean, variance } = tf.moments(pre, axes);
      return { y: tf.relu(tf.add(tf.mul(tf.div(tf.sub(pre, mean), tf.sqrt(tf.add(variance, EPS))), g), bt)), mean, variance };
    };
    const { y, mean, variance } = f(x, gamma, beta, b);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, bt: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(a, g, bt, bb).y, dy)))([x, gamma, beta, b]);
    return [y, mean, variance, ...grads];
  });
  await useBackend('cpu');
  const ref = run(false);
  const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta', 'dbias'];
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const got = run(true);
    got.slice(0, 6).forEach((g, k) => {
      const e = relErr(g, ref[k]);
      assert.ok(e <= TOL, `${backend} ${names[k]}: relErr ${e}`);
    });
    assert.ok(got[6].every((d) => d === 0), `${backend}: bias gradient is exactly 0`);
    // the reference's bias gradient is 0 up to float32 rounding of Σ dx
    const scale = Math.max(...Array.from(ref[3], Math.abs)) * v.x.length / 8;
    assert.ok(Math.max(...Array.from(ref[6], Math.abs)) <= 1e-5 * scale, `reference dbias ${ref[6]}`);
  }
  // without a gradient tape: exactly y, mean, variance are allocated
  const x = tf.tensor(v.x, shape);
  const gamma = tf.tensor1d(v.gamma);
  const beta = tf.tensor1d(v.beta);
  const b = tf.tensor1d(bias);
  const before = memorySnapshot();
  const r = batchNormTrain(x, gamma, beta, EPS, { relu: true, bias: b });
  assert.equal(tf.memory().numTensors, before.tensors + 3);
  tf.dispose([r.y, r.mean, r.variance]);
  assert.deepEqual(memorySnapshot(), before);
  tf.dispose([x, gamma, beta, b, dy]);
});
