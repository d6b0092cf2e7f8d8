/**
 * The study's faithfulness and sanity plumbing: which pairs are used, batching over chunks gives
 * the same curves as one batch, and the teacher's sanity check runs on its predicted pairs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createShapesDataset } from '../data/shapes.js';
import { faithfulnessCurves, summarizeFaithfulness } from '../eval/faithfulness.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { hostBatch, toTensors } from '../train/batches.js';
import { computePairMaps, maskPairs, type PairMaps } from './evaluate_model.js';
import { faithfulnessPairIndices, pairFaithfulness, teacherSanity } from './evaluate_faithfulness.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const data = createShapesDataset({ imageSize: 32, sizes: { train: 4, val: 4, test: 8 } });
const net = GraphNet.create(vggPreset({ arch: 'vgg11', width: 16, imageSize: 32, numClasses: data.info.classNames.length }), 2);
test.after(() => net.dispose());

test('faithfulnessPairIndices: predicted pairs (z_c > 0) with finite maps, the first `limit`', () => {
  const maps: PairMaps = {
    method: 'gradcam',
    pairs: [0, 1, 2, 3, 4].map((image) => ({ image, classIndex: 0 })),
    maps: [new Float32Array([1, 2]), new Float32Array([1, NaN]), new Float32Array([0, 0]), new Float32Array([3, 1]), new Float32Array([2, 2])],
    logits: new Float32Array([0.5, 2, -1, 0.1, 3]),
  };
  assert.deepEqual(faithfulnessPairIndices(maps), [0, 3, 4]);
  assert.deepEqual(faithfulnessPairIndices(maps, 2), [0, 3]);
});

test('pairFaithfulness in chunks equals one batch of the same pairs; records steps, baseline and nPairs', () => {
  const pairs = maskPairs(data, 'test');
  const own = computePairMaps(net, data, 'test', pairs, 'gradcam');
  // every pair counts as predicted, so the test does not depend on an untrained net's logits
  const maps: PairMaps = { ...own, logits: new Float32Array(own.logits.length).fill(1) };
  const n = Math.min(5, pairs.length);
  const chunked = pairFaithfulness(net, data, 'test', maps, { nPairs: n, steps: 4, batchSize: 2 });
  const { x, y } = toTensors(data, hostBatch(data, 'test', pairs.slice(0, n).map((p) => p.image)));
  const whole = summarizeFaithfulness(faithfulnessCurves((v) => net.predict(v), x, maps.maps.slice(0, n), pairs.slice(0, n).map((p) => p.classIndex), { steps: 4 }), { steps: 4 });
  tf.dispose([x, y]);
  assert.equal(chunked.nPairs, n);
  assert.equal(chunked.steps, 4);
  assert.equal(chunked.baseline, 'blur');
  for (let k = 0; k <= 4; k++) {
    assert.ok(Math.abs(chunked.deletionCurve[k] - whole.deletionCurve[k]) < 1e-6);
    assert.ok(Math.abs(chunked.insertionCurve[k] - whole.insertionCurve[k]) < 1e-6);
  }
  assert.ok(Math.abs(chunked.deletionAuc - whole.deletionAuc) < 1e-6);
});

test('teacherSanity: predicted pairs first, topped up with the others; one result per method; no pairs → empty', () => {
  const pairs = maskPairs(data, 'test').slice(0, 6);
  const logits = Float32Array.from(pairs, (_, i) => (i % 2 === 0 ? 1 : -1));
  const r = teacherSanity(net, data, 'test', pairs, logits, ['gradcam'], { nPairs: 2, maxSteps: 3 });
  assert.deepEqual(Object.keys(r), ['gradcam']);
  assert.equal(r.gradcam.nImages, 2);
  assert.equal(r.gradcam.layers.length, 3);
  assert.equal(r.gradcam.layers.at(-1)!.layer, 'conv1_1', 'the last compared state has every block random');
  const none = teacherSanity(net, data, 'test', pairs, new Float32Array(pairs.length).fill(-1), ['gradcam'], { nPairs: 3, maxSteps: 1 });
  assert.equal(none.gradcam.nImages, 3, 'a teacher that predicts nothing is still checked');
  assert.deepEqual(teacherSanity(net, data, 'test', [], new Float32Array(0), ['gradcam']), {});
});
