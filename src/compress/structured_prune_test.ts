import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { modelStats } from '../models/accounting.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { type VggConfig, vggLayout, vggParamCount, vggPreset } from '../models/vgg_config.js';
import { vggView } from '../models/vgg_view.js';
import {
  applyPrunePlan, cumulativeRate, filterImportance, keptFilters, L1FilterImportance, planStructuredPrune, prunedConfig,
  roundRates, scrambledDenseRows, structuredPrune, structuredRates, topFilters,
} from './structured_prune.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const VGG16 = vggPreset({ arch: 'vgg16', width: 1, imageSize: 227 });

test('reference recipe widths and params for p ∈ {0.3, 0.5, 0.7} (spec §2.1, §4)', () => {
  const table = [
    { p: 0.3, first: 44, deep: 358, params: 8675188, convWeights: 8314488, macs: 11949599468 },
    { p: 0.5, first: 32, deep: 256, params: 5512852, convWeights: 5253984, macs: 10177155680 },
    { p: 0.7, first: 19, deep: 153, params: 3269153, convWeights: 3113118, macs: 8769633993 },
  ];
  const layout = vggLayout(VGG16);
  for (const row of table) {
    const rates = structuredRates(layout, row.p);
    assert.deepEqual(rates, [row.p, 0, 0, 0, 0, 0, 0, row.p, row.p, row.p, row.p, row.p, row.p]);
    const cfg = prunedConfig(VGG16, rates);
    assert.deepEqual(cfg.blocks, [[row.first, 64], [128, 128], [256, 256, 256], [row.deep, row.deep, row.deep], [row.deep, row.deep, row.deep]], `p=${row.p}`);
    assert.equal(vggParamCount(cfg), row.params, `params p=${row.p}`);
    const s = modelStats(cfg);
    assert.equal(s.params, row.params);
    assert.equal(s.convWeights, row.convWeights);
    assert.equal(s.macs, row.macs);
  }
});

test('small-image recipe: conv1_1 and the convs of the last two blocks; explicit lists are validated', () => {
  const layout = vggLayout(vggPreset({ width: 4, imageSize: 64 }));
  assert.deepEqual(structuredRates(layout, 0.5), [0.5, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  const explicit = [0, 0.1, 0, 0, 0, 0, 0, 0, 0, 0.9];
  assert.deepEqual(structuredRates(layout, explicit), explicit);
  assert.throws(() => structuredRates(layout, [0.1]), /1 rates given, the network has 10 convs/);
  assert.throws(() => structuredRates(layout, 1.5), /rate must be in \[0, 1\]/);
  assert.equal(keptFilters(3, 0.99), 1, 'at least one filter is kept');
});

test('iterative widths: relative to the original widths; the last round equals one-shot at P_R (spec §2.4)', () => {
  const layout = vggLayout(VGG16);
  for (const [p, R] of [[0.3, 3], [0.5, 2], [0.2, 5]] as const) {
    const base = structuredRates(layout, p);
    const oneShot = prunedConfig(VGG16, structuredRates(layout, cumulativeRate(p, R)));
    assert.deepEqual(prunedConfig(VGG16, roundRates(base, R)).blocks, oneShot.blocks, `p=${p} R=${R}`);
    // widths shrink monotonically over rounds
    let prev = VGG16.blocks.flat();
    for (let t = 1; t <= R; t++) {
      const w = prunedConfig(VGG16, roundRates(base, t)).blocks.flat();
      w.forEach((c, i) => assert.ok(c <= prev[i]));
      prev = w;
    }
  }
  assert.equal(prunedConfig(VGG16, roundRates(structuredRates(layout, 0.3), 2)).blocks[0][0], Math.floor(64 * (1 - (1 - 0.7 ** 2))));
});

test('filter ranking: L1 over the whole kernel, ties to the lower index, kept set ascending', () => {
  assert.deepEqual(topFilters([1, 3, 3, 2, 3], 2), [1, 2]);
  assert.deepEqual(topFilters([5, 1, 4, 4], 3), [0, 2, 3]);
  const vals = new Rng(2).uniformArray(9 * 2 * 3, -1, 1);
  const k = tf.tensor4d(vals, [3, 3, 2, 3]);
  const s = new L1FilterImportance().score(k);
  const ref = [0, 1, 2].map((o) => { let a = 0; for (let i = o; i < vals.length; i += 3) a += Math.abs(vals[i]); return a; });
  Array.from(s.dataSync()).forEach((v, o) => assert.ok(Math.abs(v - ref[o]) < 1e-5));
  assert.equal(filterImportance({ kind: 'l2' }).kind, 'l2');
  assert.throws(() => filterImportance({ kind: 'fpgm' }), /unknown filter importance 'fpgm'; known: l1, l2/);
  tf.dispose([k, s]);
});

/** Small net with non-trivial BN statistics, so a wrong cut of any BN vector shows in the logits. */
function smallNet(cfg: VggConfig, seed: number): GraphNet {
  const net = GraphNet.create(cfg, seed);
  const rng = new Rng(seed + 100);
  tf.tidy(() => {
    for (const c of vggView(net).layout.convs) {
      net.weight(`${c.bn}/moving_mean`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.3, 0.3)));
      net.weight(`${c.bn}/moving_variance`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 2)));
      net.weight(`${c.bn}/gamma`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 1.5)));
      net.weight(`${c.bn}/beta`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.1, 0.5)));
    }
  });
  return net;
}

/**
 * Reference of spec §2.3: the unpruned net with the removed channels' post-ReLU activations at
 * exactly 0 — obtained by setting their BN γ = β = 0 (BN output 0 → ReLU 0).
 */
function maskedReference(net: GraphNet, keeps: readonly (readonly number[])[]): GraphNet {
  const ref = net.clone();
  tf.tidy(() => {
    vggView(net).layout.convs.forEach((c, i) => {
      const m = new Float32Array(c.outChannels);
      for (const k of keeps[i]) m[k] = 1;
      const mask = tf.tensor1d(m);
      for (const v of ['gamma', 'beta']) ref.weight(`${c.bn}/${v}`).assign(tf.mul(ref.weight(`${c.bn}/${v}`), mask));
    });
  });
  return ref;
}

/**
 * Tensors that building a network leaks by itself (GraphNet.create does not dispose the initial
 * tensors it wraps in variables; 0 once fixed), so leak checks measure only our own code.
 */
function buildLeak(net: GraphNet): number {
  const n = tf.memory().numTensors;
  net.clone().dispose();
  return tf.memory().numTensors - n;
}

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

test('surgery equivalence: pruned logits = unpruned logits with removed channels zeroed after ReLU (spec §2.3)', () => {
  // 3 blocks so the first conv, a middle conv and the LAST conv (dense rows) are all cut.
  const cfg = smallConfig([[8, 6], [10], [12, 9]], 16);
  const net = smallNet(cfg, 3);
  const before = net.snapshot();
  const perBuild = buildLeak(net);
  const n0 = tf.memory().numTensors;
  const rates = [0.5, 0.34, 0, 0.3, 0.45];
  const { net: pruned, plan } = structuredPrune(net, rates);
  assert.deepEqual(vggView(pruned).config.blocks, [[4, 3], [10], [8, 4]]);
  assert.deepEqual(plan.dense.keep, plan.convs[4].keep);
  assert.equal(pruned.weight('fc/kernel').shape[0], 2 * 2 * 4);
  const x = tf.tidy(() => tf.tensor4d(new Rng(9).uniformArray(3 * 16 * 16 * 3, -1, 1), [3, 16, 16, 3]));
  const ref = maskedReference(net, plan.convs.map((c) => c.keep));
  const a = pruned.predict(x);
  const b = ref.predict(x);
  const d = relDiff(a, b);
  assert.ok(d < 1e-4, `relative |Δlogit| ${d}`);
  // the test is sensitive: the reference's scrambled dense cut (quirk C1) gives other logits
  const scrambled = applyPrunePlan(net, plan, { compat: { scrambledDenseColumns: true } });
  const c = scrambled.predict(x);
  assert.ok(relDiff(c, b) > 1e-2, 'the scrambled head must differ');
  // caller's network untouched
  for (const [k, v] of Object.entries(before)) assert.deepEqual(net.weight(k).dataSync(), v.dataSync(), k);
  tf.dispose([a, b, c, x]); pruned.dispose(); ref.dispose(); scrambled.dispose();
  assert.equal(tf.memory().numTensors, n0 + 3 * perBuild, 'no tensor leaked by pruning');
  tf.dispose(Object.values(before)); net.dispose();
});

test('dense rows: only the last conv is cut, on a 4×4 last pool (NHWC row order)', () => {
  const cfg = smallConfig([[4], [7]], 16);
  const net = smallNet(cfg, 5);
  const rates = [0, 0.5];
  const plan = planStructuredPrune(net, rates);
  assert.equal(plan.dense.keep.length, 3);
  const pruned = applyPrunePlan(net, plan);
  // row (h·W + w)·C' + j of the new kernel is row (h·W + w)·C + keep[j] of the old one
  const oldK = net.weight('fc/kernel').arraySync() as number[][];
  const newK = pruned.weight('fc/kernel').arraySync() as number[][];
  for (let p = 0; p < 16; p++) {
    plan.dense.keep.forEach((k, j) => assert.deepEqual(newK[p * 3 + j], oldK[p * 7 + k]));
  }
  const x = tf.tidy(() => tf.tensor4d(new Rng(4).uniformArray(2 * 16 * 16 * 3, -1, 1), [2, 16, 16, 3]));
  const ref = maskedReference(net, plan.convs.map((c) => c.keep));
  const a = pruned.predict(x);
  const b = ref.predict(x);
  assert.ok(relDiff(a, b) < 1e-4);
  tf.dispose([a, b, x]); pruned.dispose(); ref.dispose(); net.dispose();
});

test('quirk C1 row map: identity when nothing is cut; a permutation-free selection of the right size otherwise', () => {
  assert.deepEqual(scrambledDenseRows(4, 3, [0, 1, 2]), Array.from({ length: 12 }, (_, i) => i));
  const rows = scrambledDenseRows(49, 8, [1, 4, 6]);
  assert.equal(rows.length, 49 * 3);
  assert.equal(new Set(rows).size, rows.length);
});

test('plans are pure, relative to original widths, and rejected for another network', () => {
  const cfg = smallConfig([[8], [8]], 8);
  const net = smallNet(cfg, 1);
  const n0 = tf.memory().numTensors;
  const plan = planStructuredPrune(net, [0.5, 0.25]);
  assert.equal(tf.memory().numTensors, n0);
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, 'plans are plain JSON');
  const pruned = applyPrunePlan(net, plan);
  // round 2 of an iterative schedule: widths relative to the original 8, scored on current weights
  const plan2 = planStructuredPrune(pruned, [0.75, 0.5], undefined, { originalWidths: [8, 8] });
  assert.deepEqual(vggView(plan2).config.blocks, [[2], [4]]);
  assert.throws(() => planStructuredPrune(pruned, [0, 0], undefined, { originalWidths: [8, 8] }), /conv1_1 has 4 filters, rate 0 of its original 8 keeps 8/);
  assert.throws(() => applyPrunePlan(pruned, plan), /plan layer 0 is conv1_1 of width 8, the network has conv1_1 of width 4/);
  pruned.dispose(); net.dispose();
});

function smallConfig(blocks: number[][], size: number): VggConfig {
  return { ...vggPreset({ width: 64, imageSize: 64, numClasses: 5 }), blocks, inputSize: [size, size] };
}

test('quirk C1 row map: the exact order derived by hand from the reference\'s tiled channel mask', () => {
  // P = 2 positions, C = 3 channels, keep channels 0 and 2. PyTorch column i = c·P + p is kept iff
  // keep[i mod 3]: L = (0, 2, 3, 5). New NHWC row p·2 + j takes old NHWC row (L[j·2 + p] mod 2)·3 + ⌊L[j·2 + p] / 2⌋:
  // (p, j) = (0, 0): L[0] = 0 → 0; (0, 1): L[2] = 3 → 4; (1, 0): L[1] = 2 → 1; (1, 1): L[3] = 5 → 5.
  assert.deepEqual(scrambledDenseRows(2, 3, [0, 2]), [0, 4, 1, 5]);
  // the correct cut keeps rows p·3 + c for c ∈ {0, 2}: (0, 2, 3, 5) — C1 is not it
  // P = 4, C = 2, keep (1): L = (1, 3, 5, 7); row p takes (L[p] mod 4)·2 + ⌊L[p] / 4⌋ = 2, 6, 3, 7
  assert.deepEqual(scrambledDenseRows(4, 2, [1]), [2, 6, 3, 7]);
});
