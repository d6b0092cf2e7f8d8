/**
 * The ops a MobileNet-style network adds to the VGG set, forward and gradient on wasm (with the
 * pack) against cpu: each op alone, then a small depthwise-separable network's loss, parameter
 * gradients and input gradient (what gradient-based attribution needs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts): max |a − ref| / max |ref|

type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/** A named computation: from seeded inputs, returns [forward output, ...gradients]. */
interface OpCase { name: string; run: (rng: Rng) => tf.Tensor[] }

const t = (rng: Rng, shape: number[], std = 1) => tf.tensor(randomValues(rng, shape.reduce((a, b) => a * b), 0, std), shape);

/** Forward y = f(x…) and the gradients of Σ y·r (r random) with respect to every input. */
function withGrads(rng: Rng, inputs: tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor): tf.Tensor[] {
  const y = f(...inputs);
  const r = t(rng, y.shape);
  return [y, ...tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs)];
}

const opCases: OpCase[] = [];
for (const [n, c] of [[1, 3], [2, 8], [3, 5]]) {
  // tf.maxPool 3×3 stride 2 with explicit padding: overlapping windows, ties (ReLU'd coarse values).
  for (const pad of [[[0, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [0, 1], [1, 0], [0, 0]], 'same', 'valid'] as (Explicit | 'same' | 'valid')[]) {
    opCases.push({ name: `maxPool 3x3/2 ${JSON.stringify(pad)} n${n} c${c}`, run: (rng) => {
      const x = tf.tensor(randomValues(rng, n * 9 * 10 * c).map((v) => Math.max(0, Math.round(v * 2) / 2)), [n, 9, 10, c]);
      return withGrads(rng, [x], (a) => tf.maxPool(a as tf.Tensor4D, 3, 2, pad));
    } });
  }
  opCases.push({ name: `clipByValue n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 5, 4, c], 2)], (a) => tf.clipByValue(a, -1, 1.5)) });
  opCases.push({ name: `relu6 n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 5, 4, c], 5)], (a) => tf.relu6(a)) });
  opCases.push({ name: `mean over [1,2] n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 6, 7, c])], (a) => tf.mean(a, [1, 2])) });
  opCases.push({ name: `mean over [1,2] keepDims n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 6, 7, c])], (a) => tf.mean(a, [1, 2], true)) });
  opCases.push({ name: `pad n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 5, 6, c])], (a) => tf.pad(a, [[0, 0], [1, 2], [0, 1], [0, 0]])) });
  opCases.push({ name: `concat axis 3 n${n} c${c}`, run: (rng) =>
    withGrads(rng, [t(rng, [n, 4, 5, c]), t(rng, [n, 4, 5, 2]), t(rng, [n, 4, 5, c + 1])], (a, b, d) => tf.concat([a, b, d], 3)) });
  // depthwise forward with explicit per-side padding and dilation (gradients: tfjs has none for dilation > 1)
  for (const [pad, d] of [[[[0, 0], [1, 0], [0, 2], [0, 0]], 1], [[[0, 0], [2, 1], [1, 3], [0, 0]], 2], ['same', [2, 1]]] as [Explicit | 'same', number | [number, number]][]) {
    opCases.push({ name: `depthwiseConv2d pad ${JSON.stringify(pad)} dilation ${d} n${n} c${c}`, run: (rng) => {
      const x = t(rng, [n, 9, 8, c]);
      const f = t(rng, [3, 3, c, 1]);
      const y = tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad, 'NHWC', d);
      return d === 1 ? withGrads(rng, [x, f], (a, w) => tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, pad)) : [y];
    } });
  }
}

test('MobileNet ops on wasm: forward and gradients equal cpu, no tensors left behind', async (tc) => {
  await useBackend('cpu');
  const refs = opCases.map((c, i) => valuesOf(() => c.run(new Rng(100 + i))));
  await useBackend('wasm');
  let worst = 0;
  opCases.forEach((c, i) => {
    const before = memorySnapshot();
    const got = valuesOf(() => c.run(new Rng(100 + i)));
    assert.deepEqual(memorySnapshot(), before, `leak: ${c.name}`);
    assert.equal(got.length, refs[i].length);
    got.forEach((v, o) => {
      const e = relErr(v, refs[i][o]);
      assert.ok(e <= TOL, `${c.name} output ${o}: relErr ${e}`);
      worst = Math.max(worst, e);
    });
  });
  tc.diagnostic(`max relErr ${worst.toExponential(1)} over ${opCases.length} cases`);
});

/**
 * A MobileNet-v1-like stack (conv 3×3/2 → relu6 → [depthwise 3×3 → relu6 → pointwise 1×1 →
 * relu6] ×3 with strides 1, 2 and explicit padding, a 1×3 depthwise, pad + concat, avgPool,
 * global mean, dense, sigmoid cross-entropy): loss, every parameter gradient and ∂loss/∂x.
 */
function mobileNetGrads(seed: number, batch: number): Float32Array[] {
  const rng = new Rng(seed);
  return valuesOf(() => {
    const x = t(rng, [batch, 20, 18, 3]);
    const params = [
      t(rng, [3, 3, 3, 8], 0.3),
      t(rng, [3, 3, 8, 1], 0.3), t(rng, [1, 1, 8, 16], 0.3), t(rng, [16], 0.1),
      t(rng, [3, 3, 16, 1], 0.3), t(rng, [1, 1, 16, 16], 0.25),
      t(rng, [1, 3, 16, 2], 0.3), t(rng, [1, 1, 32, 24], 0.2),
      t(rng, [40, 5], 0.2), t(rng, [5], 0.1),
    ];
    const labels = tf.tensor2d(Array.from({ length: batch * 5 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [batch, 5]);
    const f = (input: tf.Tensor, ...p: tf.Tensor[]) => {
      let h = tf.relu6(tf.conv2d(input as tf.Tensor4D, p[0] as tf.Tensor4D, 2, 'same')) as tf.Tensor4D; // 10×9×8
      h = tf.relu6(tf.depthwiseConv2d(h, p[1] as tf.Tensor4D, 1, 'same'));
      h = tf.relu6(tf.add(tf.conv2d(h, p[2] as tf.Tensor4D, 1, 'valid'), p[3])) as tf.Tensor4D; // 10×9×16
      h = tf.relu6(tf.depthwiseConv2d(h, p[4] as tf.Tensor4D, 2, [[0, 0], [1, 0], [1, 1], [0, 0]])); // 5×5×16
      h = tf.clipByValue(tf.conv2d(h, p[5] as tf.Tensor4D, 1, 'valid'), 0, 6) as tf.Tensor4D;
      const side = tf.depthwiseConv2d(h, p[6] as tf.Tensor4D, 1, 'same'); // 1×3, multiplier 2 → 32
      h = tf.relu6(tf.conv2d(side, p[7] as tf.Tensor4D, 1, 'valid')) as tf.Tensor4D; // 5×5×24
      const pooled = tf.avgPool(tf.pad(h, [[0, 0], [1, 0], [0, 1], [0, 0]]), 3, 2, 'same'); // 3×3×24
      const skip = tf.maxPool(h, 3, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]); // 3×3×24
      const feat = tf.mean(tf.concat([pooled, tf.slice(skip, [0, 0, 0, 0], [-1, -1, -1, 16])], 3), [1, 2]); // 40
      const logits = tf.add(tf.matMul(feat as tf.Tensor2D, p[8] as tf.Tensor2D), p[9]);
      return tf.losses.sigmoidCrossEntropy(labels, logits);
    };
    const { value, grads } = tf.valueAndGrads(f)([x, ...params]);
    return [value, ...grads];
  });
}

test('a small MobileNet training step on wasm + pack: loss, parameter and input gradients equal cpu', async () => {
  for (const batch of [1, 3]) {
    await useBackend('cpu');
    const ref = mobileNetGrads(9, batch);
    await useBackend('wasm');
    const before = memorySnapshot();
    const got = mobileNetGrads(9, batch);
    assert.deepEqual(memorySnapshot(), before, `leak at batch ${batch}`);
    got.forEach((g, i) => assert.ok(relErr(g, ref[i]) <= TOL, `batch ${batch} output ${i}: relErr ${relErr(g, ref[i])}`));
  }
});
