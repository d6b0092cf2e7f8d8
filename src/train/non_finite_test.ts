/**
 * A step whose loss is non-finite (a NaN pixel in the batch) changes nothing: weights, BN moving
 * statistics and momentum buffers stay bit-identical, no tensor leaks, and trainStep says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { labelObjective, trainStep } from './fit.js';
import { multiLabelSoftMargin } from './losses.js';
import { SgdMomentum } from './sgd.js';

tf.enableProdMode();
await tf.setBackend('cpu');

test('a non-finite step leaves weights, BN statistics and momentum bit-identical', async () => {
  const net = GraphNet.create(VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [4]], inputSize: [8, 8], numClasses: 3 }), 1);
  const opt = new SgdMomentum({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const vars = net.trainableVariables();
  const rng = new Rng(2);
  const pixels = rng.uniformArray(4 * 8 * 8 * 3, -1, 1);
  const y = tf.tensor2d([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0], [4, 3]);
  const objective = labelObjective(multiLabelSoftMargin);
  const good = { x: tf.tensor4d(pixels, [4, 8, 8, 3]), y, indices: [0, 1, 2, 3] };
  const first = await trainStep(net, objective, opt, vars, good, rng); // creates the momentum buffers
  assert.equal(first.nonFinite, undefined);
  const nanPixels = Float32Array.from(pixels); // a copy: the cpu backend may keep `pixels` itself
  nanPixels[100] = NaN;
  const bad = { x: tf.tensor4d(nanPixels, [4, 8, 8, 3]), y, indices: [0, 1, 2, 3] };
  const all = () => [...net.weights.values()].map((w) => w.dataSync().slice());
  const weightsBefore = all();
  const momentum = opt.state(vars);
  const momentumBefore = momentum.map((m) => m.dataSync().slice());
  tf.dispose(momentum);
  const tensors = tf.memory().numTensors;
  const r = await trainStep(net, objective, opt, vars, bad, rng);
  assert.equal(r.nonFinite, 'loss');
  assert.ok(Number.isNaN(r.loss));
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaked');
  assert.deepEqual(all(), weightsBefore);
  const momentumAfter = opt.state(vars);
  assert.deepEqual(momentumAfter.map((m) => m.dataSync().slice()), momentumBefore);
  tf.dispose([...momentumAfter, bad.x]);
  // and the next good step still trains
  const again = await trainStep(net, objective, opt, vars, good, rng);
  assert.ok(Number.isFinite(again.loss));
  assert.notDeepEqual(all(), weightsBefore);
  tf.dispose([good.x, y]);
  opt.dispose(); net.dispose();
});
