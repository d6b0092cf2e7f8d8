/** explainImage / predictImage / resizeImage on a tiny random net: agreement with the method, no leaks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import { tinyNet } from '../attribution/test_nets.js';
import { Rng } from '../engine/random.js';
import { explainImage, predictImage, resizeImage } from './explain.js';

await tf.setBackend('cpu');

const net = tinyNet({ blocks: [[4], [5]], inputSize: [8, 10], numClasses: 4, params: 'random', seed: 3 });
const image = new Rng(9).uniformArray(8 * 10 * 3, 0, 1);
const norm = { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };

test('explainImage equals the method on the normalised image; default class = top-1; no tensors leak', () => {
  const n0 = tf.memory().numTensors;
  const pred = predictImage(net, image, norm);
  const e = explainImage(net, 'lrp', image, norm);
  assert.equal(tf.memory().numTensors, n0, 'no leaks');
  assert.equal(e.classIndex, pred.top1);
  assert.equal(e.top1, pred.top1);
  assert.equal(e.top1, pred.logits.indexOf(Math.max(...pred.logits)));
  assert.equal(e.method, 'lrp');
  assert.equal(e.map.length, 80);
  pred.logits.forEach((z, k) => assert.ok(Math.abs(pred.probabilities[k] - 1 / (1 + Math.exp(-z))) < 1e-6));
  const x = tf.div(tf.sub(tf.tensor4d(image, [1, 8, 10, 3]), tf.tensor1d(norm.mean)), tf.tensor1d(norm.std)) as tf.Tensor4D;
  const r = makeAttribution('gradcam').attribute(net, x, [2]);
  const g = explainImage(net, makeAttribution('gradcam'), image, norm, 2);
  assert.equal(g.classIndex, 2);
  assert.deepEqual(g.map, Float32Array.from(r.maps.dataSync()));
  assert.deepEqual(g.logits, r.logits);
  disposeAttribution(r);
  x.dispose();
  assert.throws(() => explainImage(net, 'gradcam', new Float32Array(12), norm), /image has 12 values, the network needs 8×10×3/);
});

test('resizeImage: same size is the input; bilinear half-pixel resize of a constant stays constant', () => {
  assert.equal(resizeImage(image, 8, 10, 8, 10), image);
  const n0 = tf.memory().numTensors;
  const c = resizeImage(new Float32Array(5 * 7 * 3).fill(0.25), 5, 7, 8, 10);
  assert.equal(tf.memory().numTensors, n0);
  assert.equal(c.length, 8 * 10 * 3);
  assert.ok(c.every((v) => Math.abs(v - 0.25) < 1e-6));
  // 2×1 → 4×1 (one channel shown): half-pixel centres give 0, 0.25, 0.75, 1 (attribution spec §6.9 row pattern)
  const col = resizeImage(Float32Array.from([0, 0, 0, 1, 1, 1]), 2, 1, 4, 1);
  assert.deepEqual(Array.from(col.filter((_, i) => i % 3 === 0), (v) => Math.round(v * 100) / 100), [0, 0.25, 0.75, 1]);
});
