import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { batchNormTrain } from '../ops/batch_norm_train.js';
import { profileKernels, registerKernelPack } from './register.js';
import { memorySnapshot, randomValues, relErr, useBackend } from './testing.js';

const TOL = 1e-4; // relErr (see testing.ts): max |a − ref| / max |ref|

test('registerKernelPack: names per backend, idempotent, nothing for other backends', async () => {
  await useBackend('wasm', false);
  const first = registerKernelPack('wasm');
  const configs = first.map((n) => tf.getKernel(n, 'wasm'));
  const second = registerKernelPack('wasm');
  assert.deepEqual(second, first);
  second.forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm'), configs[i], n));
  for (const n of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'ApcBatchNormTrain', 'ApcBatchNormTrainGrad',
    'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'AvgPoolGrad', 'DepthwiseConv2dNative', 'ApcRelu6Grad']) {
    assert.ok(first.includes(n), n);
  }
  assert.deepEqual(registerKernelPack('cpu'), ['ApcBatchNormTrain', 'ApcBatchNormTrainGrad', 'ApcRelu6Grad']);
  assert.deepEqual(registerKernelPack('webgl'), []);
});

/** A small VGG block stack: (conv3×3+bias → BN → ReLU) ×2, pool, conv, pool, dense; loss and all gradients. */
function vggGrads(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const t = (shape: number[], std = 1, mean = 0) => tf.tensor(randomValues(rng, shape.reduce((a, b) => a * b), mean, std), shape);
  return tf.tidy(() => {
    const x = t([3, 12, 10, 3]) as tf.Tensor4D;
    const params: tf.Tensor[] = [
      t([3, 3, 3, 8], 0.3), t([8], 0.1), t([8], 0.2, 1), t([8], 0.1),
      t([3, 3, 8, 8], 0.2), t([8], 0.1), t([8], 0.2, 1), t([8], 0.1),
      t([3, 3, 8, 6], 0.2), t([6], 0.1), t([6], 0.2, 1), t([6], 0.1),
      t([3 * 2 * 6, 5], 0.2), t([5], 0.1),
    ];
    const labels = tf.tensor2d(Array.from({ length: 15 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [3, 5]);
    const block = (h: tf.Tensor4D, p: tf.Tensor[]) => {
      const conv = tf.add(tf.conv2d(h, p[0] as tf.Tensor4D, 1, 'same'), p[1]) as tf.Tensor4D;
      return tf.relu(batchNormTrain(conv, p[2] as tf.Tensor1D, p[3] as tf.Tensor1D, 1e-5).y) as tf.Tensor4D;
    };
    const f = (...ps: tf.Tensor[]) => {
      let h = block(x, ps.slice(0, 4));
      h = tf.maxPool(block(h, ps.slice(4, 8)), 2, 2, 'valid');
      h = tf.maxPool(block(h, ps.slice(8, 12)), 2, 2, 'valid');
      const logits = tf.add(tf.matMul(tf.reshape(h, [3, 36]), ps[12] as tf.Tensor2D), ps[13]);
      return tf.losses.sigmoidCrossEntropy(labels, logits);
    };
    const { value, grads } = tf.valueAndGrads(f)(params);
    return [value, ...grads];
  }).map((r) => {
    const v = r.dataSync() as Float32Array;
    r.dispose();
    return v;
  });
}

test('a small VGG-BN training step: loss and every gradient on wasm + pack equal cpu', async () => {
  await useBackend('cpu');
  const ref = vggGrads(1);
  await useBackend('wasm');
  const before = memorySnapshot();
  const got = vggGrads(1);
  assert.deepEqual(memorySnapshot(), before);
  const maxAbs = (v: Float32Array) => v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  got.forEach((g, i) => {
    if (i === 2 || i === 6 || i === 10) {
      // Conv biases feeding a BatchNorm: their gradient is 0 in exact arithmetic (BN removes any
      // per-channel shift), so both backends return rounding noise — check it is noise-sized.
      assert.ok(maxAbs(g) <= 1e-5 * maxAbs(got[i - 1]) && maxAbs(ref[i]) <= 1e-5 * maxAbs(ref[i - 1]), `output ${i}`);
      return;
    }
    assert.ok(relErr(g, ref[i]) <= TOL, `output ${i}: relErr ${relErr(g, ref[i])}`);
  });
});

test('profileKernels sums kernel time by name', async () => {
  await useBackend('wasm');
  const a = tf.ones([64, 64]);
  const { kernels, wallMs } = await profileKernels(() => { tf.dispose(tf.matMul(tf.add(a, a), a)); });
  a.dispose();
  assert.ok(wallMs >= 0);
  assert.deepEqual(kernels.map((k) => k.kernel).sort(), ['Add', 'BatchMatMul']);
  assert.ok(kernels.every((k) => k.count === 1 && k.ms >= 0));
});
