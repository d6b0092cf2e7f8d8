import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ForwardTrace, firstMaxPoolMask, routeToArgmax } from './forward_trace.js';
import './gradients.js'; // registers gradient functions for tf.grad
import { randomImages, tinyNet } from './test_nets.js';

await tf.setBackend('cpu');

test('§6.10: a tied window [[5,5],[1,0]] routes everything to its top-left element', () => {
  const x = tf.tensor4d([5, 5, 1, 0], [1, 2, 2, 1]);
  const mask = firstMaxPoolMask(x);
  assert.deepEqual([...mask.dataSync()], [1, 0, 0, 0]);
  const r = routeToArgmax(tf.tensor4d([7], [1, 1, 1, 1]), mask);
  assert.deepEqual([...r.dataSync()], [7, 0, 0, 0]);
  tf.dispose([x, mask, r]);
});

test('first-max mask: one winner per window, ties in row-major order, unread odd rows/columns 0', () => {
  // 5×5, one channel: windows cover rows/cols 0..3; row 4 and col 4 are never read.
  const v = [
    1, 3, 2, 2, 9,
    3, 0, 2, 2, 9,
    0, 0, 4, 1, 9,
    0, 0, 4, 4, 9,
    9, 9, 9, 9, 9,
  ];
  const x = tf.tensor4d(v, [1, 5, 5, 1]);
  const mask = firstMaxPoolMask(x);
  assert.deepEqual([...mask.dataSync()], [
    0, 1, 1, 0, 0,
    0, 0, 0, 0, 0,
    1, 0, 1, 0, 0,
    0, 0, 0, 0, 0,
    0, 0, 0, 0, 0,
  ]);
  tf.dispose([x, mask]);
});

/** Slow reference: explicit first maximum of each window in row-major order. */
function referenceMask(x: tf.Tensor4D): Float32Array {
  const [n, h, w, c] = x.shape;
  const v = x.dataSync();
  const out = new Float32Array(v.length);
  const at = (b: number, i: number, j: number, k: number) => ((b * h + i) * w + j) * c + k;
  for (let b = 0; b < n; b++) for (let i = 0; i + 1 < h; i += 2) for (let j = 0; j + 1 < w; j += 2) for (let k = 0; k < c; k++) {
    let best = at(b, i, j, k);
    for (const [di, dj] of [[0, 1], [1, 0], [1, 1]]) if (v[at(b, i + di, j + dj, k)] > v[best]) best = at(b, i + di, j + dj, k);
    out[best] = 1;
  }
  return out;
}

test('the mask equals an explicit first-max construction on heavily tied data (odd size)', () => {
  const x = tf.tidy(() => tf.cast(tf.randomUniform([2, 9, 7, 5], 0, 3, 'int32', 11), 'float32')) as tf.Tensor4D;
  const mask = firstMaxPoolMask(x);
  assert.deepEqual(Array.from(mask.dataSync()), Array.from(referenceMask(x)));
  tf.dispose([x, mask]);
});

test('the mask routes like the max-pool gradient (random data, several channels, odd size)', () => {
  const x = tf.randomUniform([2, 7, 9, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const up = tf.randomUniform([2, 3, 4, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
  const mask = firstMaxPoolMask(x);
  const ours = routeToArgmax(up, mask);
  const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), up)))(x);
  assert.deepEqual(Array.from(ours.dataSync(), (v) => v + 0), Array.from(grad.dataSync(), (v) => v + 0)); // −0 → 0
  tf.dispose([x, up, mask, ours, grad]);
});

test('trace logits and activations equal GraphNet.forward (inference mode); dispose frees the trace', () => {
  const net = tinyNet({ blocks: [[3, 5], [6]], inputSize: [11, 9], numClasses: 4 });
  const x = randomImages(net, 2);
  const ref = net.forward(x, { capture: ['relu2_1', 'pool1', 'bn1_2'] });
  const n0 = tf.memory().numTensors;
  const trace = ForwardTrace.ofNet(net, x);
  const close = (a: tf.Tensor, b: tf.Tensor, what: string) => {
    assert.deepEqual(a.shape, b.shape, what);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    assert.ok(d < 1e-5, `${what}: max |Δ| ${d}`);
  };
  close(trace.logits, ref.logits, 'logits');
  close(trace.entry('relu2_1').output, ref.activations.relu2_1, 'relu2_1');
  close(trace.entry('pool1').output, ref.activations.pool1, 'pool1');
  close(trace.entry('bn1_2').output, ref.activations.bn1_2, 'bn1_2');
  assert.equal(trace.entry('conv2_1').inputNonNegative, true);
  assert.equal(trace.entry('conv1_1').inputNonNegative, false);
  assert.deepEqual(trace.entry('pool2').argmaxMask!.shape, [2, 5, 4, 6]);
  trace.dispose();
  assert.equal(tf.memory().numTensors, n0);
  tf.dispose([x, ref.logits, ...Object.values(ref.activations)]);
  net.dispose();
});
