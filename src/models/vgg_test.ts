import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GraphNet } from './graph/graph_net.js';
import { vggPreset, vggLayout, vggParamCount } from './vgg_config.js';
import { toLayersModel, fromLayersModel } from './layers_export.js';
import { Rng } from '../engine/random.js';
import { vggView } from './vgg_view.js';

await tf.setBackend('cpu');

test('reference VGG16-BN family parameter counts match the spec', () => {
  // voc-protocol.md §6.1: 15,224,916 / 3,935,284 / 1,048,356 / 294,364
  const expected = [[1, 15224916], [2, 3935284], [4, 1048356], [8, 294364]];
  for (const [width, params] of expected) {
    assert.equal(vggParamCount(vggPreset({ arch: 'vgg16', width, imageSize: 227 })), params, `width /${width}`);
  }
});

test('reference layout at 227: relu5_3 14×14, pool5 7×7, dense in 49·C', () => {
  const layout = vggLayout(vggPreset({ width: 8, imageSize: 227 }));
  assert.equal(layout.gradCamLayer, 'relu5_3');
  assert.equal(layout.matchLayer, 'pool5');
  assert.deepEqual(layout.pools.map((p) => p.height), [113, 56, 28, 14, 7]);
  assert.equal(layout.convs.at(-1)!.height, 14);
  assert.equal(layout.denseIn, 49 * 64);
});

test('small-image preset: 4 blocks, last conv block 8×8, matched layer 4×4', () => {
  const layout = vggLayout(vggPreset({ width: 4, imageSize: 64 }));
  assert.equal(layout.convs.length, 10);
  assert.equal(layout.gradCamLayer, 'relu4_3');
  assert.equal(layout.matchLayer, 'pool4');
  assert.equal(layout.convs.at(-1)!.height, 8);
  assert.equal(layout.pools.at(-1)!.height, 4);
});

test('bad preset options name the flag', () => {
  assert.throws(() => vggPreset({ arch: 'resnet' }), /--arch 'resnet'/);
  assert.throws(() => vggPreset({ width: 0 }), /--width/);
});

test('same seed gives the same weights; inference logits equal the layers model', () => {
  const cfg = vggPreset({ width: 16, imageSize: 32, numClasses: 5 });
  const a = GraphNet.create(cfg, 7);
  const b = GraphNet.create(cfg, 7);
  for (const [k, v] of a.weights) assert.deepEqual(v.dataSync(), b.weights.get(k)!.dataSync(), k);
  // make BN non-trivial so the conversion of moving statistics is exercised
  const rng = new Rng(1);
  for (const c of vggView(a).layout.convs) {
    a.weight(`${c.bn}/moving_mean`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.2, 0.2)));
    a.weight(`${c.bn}/moving_variance`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 2)));
    a.weight(`${c.bn}/gamma`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 1.5)));
  }
  const x = tf.tensor4d(rng.uniformArray(2 * 32 * 32 * 3, -1, 1), [2, 32, 32, 3]);
  const ours = a.predict(x);
  const layers = toLayersModel(a);
  const theirs = layers.predict(x) as tf.Tensor;
  const d = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0];
  assert.ok(d < 1e-4, `max |Δlogit| ${d}`);
  const back = fromLayersModel(layers, cfg);
  const again = back.predict(x);
  assert.deepEqual(again.dataSync(), ours.dataSync());
  tf.dispose([x, ours, theirs, again]); a.dispose(); b.dispose(); back.dispose(); layers.dispose();
});

test('training forward: BN moving statistics follow PyTorch semantics', () => {
  const cfg = vggPreset({ width: 32, imageSize: 16, numClasses: 3 });
  const net = GraphNet.create(cfg, 1);
  const rng = new Rng(2);
  const x = tf.tensor4d(rng.uniformArray(4 * 16 * 16 * 3, 0, 2), [4, 16, 16, 3]);
  const r = net.forward(x, { training: true, rng, capture: ['conv1_1'] });
  const conv = r.activations.conv1_1;
  const { mean, variance } = tf.moments(conv, [0, 1, 2]);
  const n = conv.size / conv.shape[3]!;
  net.updateMovingStatistics(r.batchStats);
  const mm = net.weight('bn1_1/moving_mean').dataSync();
  const mv = net.weight('bn1_1/moving_variance').dataSync();
  const em = mean.dataSync(), ev = variance.dataSync();
  for (let i = 0; i < mm.length; i++) {
    assert.ok(Math.abs(mm[i] - 0.1 * em[i]) < 1e-5);
    assert.ok(Math.abs(mv[i] - (0.9 + 0.1 * ev[i] * n / (n - 1))) < 1e-4);
  }
  net.dispose();
});

test('creating and disposing networks leaks no tensors', () => {
  const cfg = vggPreset({ width: 32, imageSize: 16, numClasses: 3 });
  GraphNet.create(cfg, 0).dispose(); // warm-up
  const n0 = tf.memory().numTensors;
  const a = GraphNet.create(cfg, 1);
  const b = a.clone();
  a.dispose(); b.dispose();
  assert.equal(tf.memory().numTensors, n0);
});
