import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import { randomImages, tinyNet, topClasses, weightValues } from '../attribution/test_nets.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { type Explainer, mapRankSimilarity, randomisationBlocks, SANITY_THRESHOLD, sanityCheck, sanityStepIndices } from './sanity_check.js';

await tf.setBackend('cpu');

/** A registered method as an explainer: its input-resolution maps on the host. */
function explainer(kind: string): Explainer {
  const m = makeAttribution(kind);
  return (net, images, classes) => {
    const r = m.attribute(net, images, classes);
    const v = r.maps.dataSync() as Float32Array;
    const [n, h, w] = r.maps.shape;
    disposeAttribution(r);
    return Array.from({ length: n }, (_, i) => v.slice(i * h * w, (i + 1) * h * w));
  };
}

/** A fake method that ignores the network: the input's intensity (sum over channels). */
const inputIntensity: Explainer = (_net, images) => {
  const [n, h, w] = images.shape;
  const v = tf.tidy(() => tf.sum(images, 3).dataSync()) as Float32Array;
  return Array.from({ length: n }, (_, i) => v.slice(i * h * w, (i + 1) * h * w));
};

test('mapRankSimilarity: Spearman; both constant → 1, one constant → 0', () => {
  assert.ok(Math.abs(mapRankSimilarity([0, 0, 1, 2], [0, 1, 1, 3]) - 5 / 6) < 1e-12);
  assert.equal(mapRankSimilarity([1, 1, 1], [2, 2, 2]), 1);
  assert.equal(mapRankSimilarity([1, 1, 1], [1, 2, 3]), 0);
  assert.equal(mapRankSimilarity([3, 2, 1], [0, 0, 0]), 0);
});

test('sanityStepIndices: every block when few; evenly spaced with the last when many', () => {
  assert.deepEqual(sanityStepIndices(4, 16), [0, 1, 2, 3]);
  assert.deepEqual(sanityStepIndices(10, 4), [2, 4, 7, 9]);
  assert.deepEqual(sanityStepIndices(53, 16).at(-1), 52);
  assert.equal(sanityStepIndices(53, 16).length, 16);
});

test('randomisationBlocks: conv and dense nodes output first, each with its BatchNorm; works on ResNet and MobileNetV2 graphs', () => {
  const vgg = tinyNet({ blocks: [[4], [4]] });
  const b = randomisationBlocks(vgg);
  assert.deepEqual(b.map((x) => x.layer), ['fc', 'conv2_1', 'conv1_1']);
  assert.deepEqual(b[1].weights, ['conv2_1/kernel', 'conv2_1/bias', 'bn2_1/gamma', 'bn2_1/beta', 'bn2_1/moving_mean', 'bn2_1/moving_variance']);
  vgg.dispose();
  for (const arch of ['resnet18', 'mobilenetv2']) {
    const cfg = archPreset({ arch, width: 16, imageSize: 32, numClasses: 3 });
    const net = GraphNet.create(cfg, 1);
    const blocks = randomisationBlocks(net);
    const order = net.graph.nodes.map((n) => n.name);
    const kernels = net.graph.nodes.filter((n) => n.op === 'conv2d' || n.op === 'dense').map((n) => n.name);
    assert.deepEqual(blocks.map((x) => x.layer), [...kernels].reverse(), `${arch}: every kernel node, reverse topological order`);
    for (let i = 1; i < blocks.length; i++) assert.ok(order.indexOf(blocks[i].layer) < order.indexOf(blocks[i - 1].layer));
    // every weight of the network is in exactly one block
    const all = blocks.flatMap((x) => x.weights).sort();
    assert.deepEqual(all, net.graph.weights.map((w) => w.name).sort(), `${arch}: blocks cover each weight once`);
    // the cascade runs on the family's graph: the last compared state has every block random
    const x = randomImages(net, 2, 3);
    const r = sanityCheck(net, { gradcam: explainer('gradcam') }, x, [0, 1], { maxSteps: 2 });
    assert.deepEqual(r.gradcam.layers.map((l) => l.layer), [blocks[Math.round(blocks.length / 2) - 1].layer, blocks.at(-1)!.layer]);
    for (const l of r.gradcam.layers) assert.ok(Number.isFinite(l.spearman));
    x.dispose();
    net.dispose();
  }
});

test('a method that ignores the parameters fails; Grad-CAM on a small net passes; the caller\'s net is unchanged; no leaks', () => {
  const net = tinyNet({ blocks: [[8], [8], [8]], inputSize: [16, 16], numClasses: 3, seed: 3 });
  const x = randomImages(net, 8, 7);
  const classes = topClasses(net, x);
  const w0 = weightValues(net);
  const explainers = { gradcam: explainer('gradcam'), intensity: inputIntensity };
  explainers.gradcam(net, x, classes); // warm up (kernel registration, caches) before counting tensors
  const n0 = tf.memory().numTensors;
  const r = sanityCheck(net, explainers, x, classes, { seed: 1 });
  assert.equal(tf.memory().numTensors, n0, 'sanityCheck leaked tensors');
  assert.deepEqual(weightValues(net), w0, 'sanityCheck changed the caller\'s weights');
  assert.deepEqual(r.intensity.layers.map((l) => l.layer), ['fc', 'conv3_1', 'conv2_1', 'conv1_1']);
  for (const l of r.intensity.layers) assert.equal(l.spearman, 1);
  assert.equal(r.intensity.passed, false);
  assert.equal(r.intensity.threshold, SANITY_THRESHOLD);
  assert.equal(r.intensity.nImages, 8);
  const last = r.gradcam.layers.at(-1)!.spearman;
  assert.ok(last < SANITY_THRESHOLD, `Grad-CAM on a fully random net: Spearman ${last}`);
  assert.equal(r.gradcam.passed, true);
  assert.ok(r.gradcam.layers[0].spearman < 1, 'randomising the output layer alone changes Grad-CAM');
  // reproducible from the seed
  const again = sanityCheck(net, { gradcam: explainers.gradcam }, x, classes, { seed: 1 });
  assert.deepEqual(again.gradcam, r.gradcam);
  x.dispose();
  net.dispose();
});
