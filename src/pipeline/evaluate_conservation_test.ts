/**
 * `evaluate --json` records per relevance method how much of z_c reaches the map (LRP, RAP) and
 * EBP's map sum: by hand on made-up maps, and on a real run over a small ResNet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createShapesDataset } from '../data/shapes.js';
import { registerKernelPack } from '../engine/kernels/register.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { conservationOf, evaluateModel } from './evaluate_model.js';

tf.enableProdMode();
await tf.setBackend('cpu');
registerKernelPack('cpu');

test('conservationOf by hand: means over pairs with z_c > 0 only', () => {
  const pairs = [{ image: 0, classIndex: 0 }, { image: 1, classIndex: 0 }, { image: 2, classIndex: 1 }];
  const maps = [Float32Array.of(1, 1), Float32Array.of(0.5, 0), Float32Array.of(9, 9)];
  const logits = Float32Array.of(4, 1, -2); // the third pair is not counted
  const mass = Float32Array.of(4, 0.5, 7);
  assert.deepEqual(conservationOf({ method: 'lrp', pairs, maps, logits, mass }), { mapRatio: (2 / 4 + 0.5 / 1) / 2, relevanceRatio: (1 + 0.5) / 2, n: 2 });
  assert.deepEqual(conservationOf({ method: 'ebp', pairs, maps, logits, mass }), { mapSum: (4 + 0.5) / 2, n: 2 });
  assert.equal(conservationOf({ method: 'gradcam', pairs, maps, logits }), undefined);
});

test('conservationOf counts pairs with a NaN/Infinity map or mass and never averages them in', () => {
  const pairs = [0, 1, 2, 3].map((image) => ({ image, classIndex: 0 }));
  const maps = [Float32Array.of(1, 1), Float32Array.of(NaN, 0), Float32Array.of(0.5, 0), Float32Array.of(Infinity, 0)];
  const logits = Float32Array.of(4, 2, 1, -1); // pair 3 has z_c ≤ 0: neither counted nor tallied
  const mass = Float32Array.of(4, 2, Infinity, 3);
  // lrp: pair 1 (NaN map) and pair 2 (infinite mass) are tallied; only pair 0 is averaged
  assert.deepEqual(conservationOf({ method: 'lrp', pairs, maps, logits, mass }), { mapRatio: 2 / 4, relevanceRatio: 1, n: 1, nNonFinite: 2 });
  assert.deepEqual(conservationOf({ method: 'rap', pairs, maps, logits }), { mapRatio: (2 / 4 + 0.5 / 1) / 2, n: 2, nNonFinite: 1 });
});

test('evaluateModel on a ResNet records LRP/RAP Σ/z_c and the EBP map sum in its JSON', async () => {
  const data = createShapesDataset({ imageSize: 32, sizes: { train: 2, val: 2, test: 3 }, statsSamples: 2 });
  const net = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: data.info.classNames.length }), 2);
  const ev = await evaluateModel(net, { data, methods: ['gradcam', 'lrp', 'rap', 'ebp'], quiet: true });
  const json = JSON.parse(JSON.stringify(ev)) as typeof ev;
  assert.equal(json.attribution.gradcam.conservation, undefined);
  for (const m of ['lrp', 'rap']) {
    const c = json.attribution[m].conservation!;
    assert.ok(c.n > 0, 'pairs with z_c > 0 on this seed');
    assert.ok(Number.isFinite(c.mapRatio) && Number.isFinite(c.relevanceRatio), `${m}: ${JSON.stringify(c)}`);
    if (m === 'lrp') assert.ok(c.relevanceRatio! <= 1 + 1e-4 && Math.abs(c.mapRatio! - c.relevanceRatio!) < 1e-4, JSON.stringify(c));
  }
  const e = json.attribution.ebp.conservation!;
  assert.ok(e.n > 0 && Math.abs(e.mapSum! - 1) < 1e-3, JSON.stringify(e));
  net.dispose();
});
