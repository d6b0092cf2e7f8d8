/**
 * `evaluateModel` follows the dataset's evaluation splits: VOC computes prediction metrics on
 * Main val and localisation on Segmentation val; shapes (no `evalSplits`) both on 'test'; an
 * explicit `split` (or per-group split) overrides. Checked with a split-recording wrapper around a
 * generated VOC tree and a tiny real network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type Dataset, DEFAULT_EVAL_SPLITS, evalSplitsOf, type SplitName } from '../data/dataset.js';
import { createShapesDataset } from '../data/shapes.js';
import { openVocDataset, VOC_EVAL_SPLITS } from '../data/voc.js';
import { defaultFixtureSpec, writeVocTree } from '../data/voc_fixture.js';
import { collectLogits } from '../eval/collect_logits.js';
import { predictionMetrics } from '../eval/prediction_metrics.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { computePairMaps, evalSplitsFor, evaluateModel, maskPairs } from './evaluate_model.js';
import { predictionIntervals } from './metric_intervals.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const tmp = mkdtempSync(join(tmpdir(), 'apc-evalsplits-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const voc = openVocDataset(writeVocTree(join(tmp, 'voc'), defaultFixtureSpec()), { cacheDir: null, log: () => {}, imageSize: 32 });
const net = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 20 }), 1);
test.after(() => net.dispose());

/** Wraps a dataset and records which splits `get` reads. */
function recording(data: Dataset): { data: Dataset; seen: Set<SplitName> } {
  const seen = new Set<SplitName>();
  return {
    seen,
    data: {
      info: data.info,
      size: (s) => data.size(s),
      get: (s, i) => { seen.add(s); return data.get(s, i); },
      ...(data.difficultOnly ? { difficultOnly: (s: SplitName) => data.difficultOnly!(s) } : {}),
    },
  };
}

test('evalSplits: VOC says val / test; datasets without it default to test / test', () => {
  assert.deepEqual(voc.info.evalSplits, { prediction: 'val', localization: 'test' });
  assert.deepEqual(evalSplitsOf(voc), VOC_EVAL_SPLITS);
  const shapes = createShapesDataset({ imageSize: 32, sizes: { train: 2, val: 2, test: 2 }, statsSamples: 2 });
  assert.equal(shapes.info.evalSplits, undefined);
  assert.deepEqual(evalSplitsOf(shapes), DEFAULT_EVAL_SPLITS);
  assert.deepEqual(DEFAULT_EVAL_SPLITS, { prediction: 'test', localization: 'test' });
  // overrides: `split` sets both, per-group splits win over it
  assert.deepEqual(evalSplitsFor({ data: voc }), { prediction: 'val', localization: 'test' });
  assert.deepEqual(evalSplitsFor({ data: voc, split: 'test' }), { prediction: 'test', localization: 'test' });
  assert.deepEqual(evalSplitsFor({ data: shapes, split: 'val', localizationSplit: 'test' }), { prediction: 'val', localization: 'test' });
});

test('evaluateModel on VOC: prediction metrics on Main val (with difficult flags), localisation on Segmentation val', async () => {
  const { data, seen } = recording(voc);
  const ev = await evaluateModel(net, { data, methods: ['gradcam'], quiet: true });
  assert.deepEqual(ev.splits, { prediction: 'val', localization: 'test' });
  assert.deepEqual([...seen].sort(), ['test', 'val']);
  const want = predictionMetrics(await collectLogits(net, voc, 'val'));
  assert.ok(want.nDifficultOnly > 0, 'the fixture has a difficult-only val pair');
  assert.equal(ev.mAP, want.mAP);
  assert.equal(ev.prediction.mAP_raw, want.mAP_raw);
  assert.equal(ev.f1, want.F1);
  const loc = ev.attribution.gradcam.localization;
  assert.equal(loc.nCounted + loc.nMissed, maskPairs(voc, 'test').length);
  assert.equal(maskPairs(voc, 'test').length, 2); // aeroplane in 2008_000005, sheep in 2008_000007

  // teacher maps on the localisation split are accepted; maps of other pairs are refused
  const pairs = maskPairs(voc, 'test');
  const teacherMaps = new Map([['gradcam', computePairMaps(net, voc, 'test', pairs, 'gradcam')]]);
  const withTeacher = await evaluateModel(net, { data: voc, methods: ['gradcam'], quiet: true, teacherMaps });
  assert.equal(withTeacher.attribution.gradcam.agreement?.cosine.toFixed(6), '1.000000'); // the same net
  const wrong = new Map([['gradcam', computePairMaps(net, voc, 'test', pairs.slice(0, 1), 'gradcam')]]);
  await assert.rejects(evaluateModel(net, { data: voc, methods: ['gradcam'], quiet: true, teacherMaps: wrong }), /not the 2 'test' pairs/);
});

test('evaluateModel: an explicit split puts both groups on it; no methods needs no masks', async () => {
  const a = recording(voc);
  const both = await evaluateModel(net, { data: a.data, split: 'test', methods: ['gradcam'], quiet: true });
  assert.deepEqual(both.splits, { prediction: 'test', localization: 'test' });
  assert.deepEqual([...a.seen], ['test']);
  assert.equal(both.mAP, predictionMetrics(await collectLogits(net, voc, 'test')).mAP);

  const b = recording(voc);
  const predOnly = await evaluateModel(net, { data: b.data, methods: [], quiet: true });
  assert.deepEqual([...b.seen], ['val']);
  assert.deepEqual(predOnly.attribution, {});
  // Main val has no masks: localisation there is a clear error
  await assert.rejects(evaluateModel(net, { data: voc, split: 'val', methods: ['gradcam'], quiet: true }), /split 'val' has no masks/);
});

test('evaluateModel on shapes: both groups on test, as before', async () => {
  const shapes = createShapesDataset({ imageSize: 32, sizes: { train: 2, val: 3, test: 4 }, statsSamples: 2 });
  const snet = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 10 }), 2);
  try {
    const { data, seen } = recording(shapes);
    const ev = await evaluateModel(snet, { data, methods: ['gradcam'], quiet: true });
    assert.deepEqual(ev.splits, { prediction: 'test', localization: 'test' });
    assert.deepEqual([...seen], ['test']);
    assert.equal(ev.mAP, predictionMetrics(await collectLogits(snet, shapes, 'test')).mAP);
  } finally {
    snet.dispose();
  }
});

test('evaluateModel: bootstrap intervals over test images next to the point values, seeded, optional', async () => {
  const shapes = createShapesDataset({ imageSize: 32, sizes: { train: 2, val: 2, test: 12 }, statsSamples: 2 });
  const snet = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 10 }), 3);
  try {
    const pairs = maskPairs(shapes, 'test');
    const teacherMaps = new Map([['gradcam', computePairMaps(snet, shapes, 'test', pairs, 'gradcam')]]);
    const opts = { data: shapes, methods: ['gradcam'], quiet: true, teacherMaps, seed: 4, bootstrap: { resamples: 200 } };
    const ev = await evaluateModel(snet, opts);
    assert.deepEqual(ev.ciMethod && { kind: ev.ciMethod.kind, level: ev.ciMethod.level, resamples: ev.ciMethod.resamples, seed: ev.ciMethod.seed },
      { kind: 'percentile bootstrap over test images', level: 0.95, resamples: 200, seed: 4 });
    const ci = ev.ci95!;
    const a = ev.attribution.gradcam;
    const point: Record<string, number> = { mAP: ev.mAP, f1: ev.f1, 'gradcam.auc': a.auc, 'gradcam.pointing': a.pointing,
      'gradcam.cosine': a.agreement!.cosine, 'gradcam.spearman': a.agreement!.spearman, 'gradcam.topkIoU': a.agreement!.topkIoU };
    // every defined metric has an interval, and only those
    assert.deepEqual(Object.keys(ci).sort(), Object.keys(point).filter((k) => Number.isFinite(point[k])).sort());
    assert.ok(ci.mAP && ci.f1 && ci['gradcam.cosine'], 'mAP, F1 and cosine are defined here');
    for (const [k, [lo, hi]] of Object.entries(ci)) assert.ok(lo <= hi, `${k}: [${lo}, ${hi}]`);
    // agreement of a network with itself is 1 on every pair, so on every resample
    assert.deepEqual(ci['gradcam.cosine'], [1, 1]);
    // mAP and F1: the intervals of the prediction split's logits, with the evaluation's seed
    assert.deepEqual({ mAP: ci.mAP, f1: ci.f1 },
      predictionIntervals(await collectLogits(snet, shapes, 'test'), { mAP: ev.mAP, f1: ev.f1 }, { resamples: 200, seed: 4 }));
    assert.deepEqual((await evaluateModel(snet, opts)).ci95, ci, 'same seed, same intervals');
    const none = await evaluateModel(snet, { ...opts, bootstrap: false });
    assert.equal(none.ci95, undefined);
    assert.equal(none.ciMethod, undefined);
    assert.equal(none.mAP, ev.mAP);
  } finally {
    snet.dispose();
  }
});
