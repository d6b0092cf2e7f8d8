/**
 * Difficult-only flags reach the prediction metrics through `collectLogits` (evaluation.md §1):
 * the headline mAP leaves difficult-only (image, class) pairs out of the class's list, while
 * mAP_raw, the per-image AP and F1 count them as positives. Hand-computed on a generated VOC tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createShapesDataset } from '../data/shapes.js';
import { openVocDataset } from '../data/voc.js';
import { VOC_CLASS_NAMES } from '../data/voc_annotations.js';
import { blockMask, writeVocTree } from '../data/voc_fixture.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { collectLogits, evaluatePredictions } from './collect_logits.js';
import { predictionMetrics } from './prediction_metrics.js';

await tf.setBackend('cpu');

const tmp = mkdtempSync(join(tmpdir(), 'apc-difficult-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const DOG = VOC_CLASS_NAMES.indexOf('dog');
const CAT = VOC_CLASS_NAMES.indexOf('cat');

/** A stand-in network that returns fixed logit rows, batch after batch. */
function fixedNet(rows: readonly (readonly number[])[]): GraphNet {
  let at = 0;
  return {
    predict(x: tf.Tensor4D) {
      const n = x.shape[0];
      const out = tf.tensor2d(rows.slice(at, at + n).map((r) => [...r]), [n, rows[0].length]);
      at += n;
      return out;
    },
  } as unknown as GraphNet;
}

/** A 20-class logit row: −10 everywhere except the given classes. */
function row(values: Record<number, number>): number[] {
  const r = new Array<number>(20).fill(-10);
  for (const [k, v] of Object.entries(values)) r[Number(k)] = v;
  return r;
}

// Main val: A dog · B dog (only difficult) · C cat · D dog + difficult dog (not difficult-only)
const root = writeVocTree(join(tmp, 'voc'), {
  images: [
    { id: '2012_000001', width: 16, height: 12, objects: [{ name: 'dog' }] },
    { id: '2012_000002', width: 16, height: 12, objects: [{ name: 'dog', difficult: true }, { name: 'dog', difficult: true }] },
    { id: '2012_000003', width: 16, height: 12, objects: [{ name: 'cat' }], mask: blockMask(16, 12, CAT + 1, 3, 3, 10, 9) },
    { id: '2012_000004', width: 16, height: 12, objects: [{ name: 'dog' }, { name: 'dog', difficult: true }] },
    { id: '2012_000005', width: 16, height: 12, objects: [{ name: 'cow' }] },
  ],
  train: ['2012_000005'],
  val: ['2012_000001', '2012_000002', '2012_000003', '2012_000004'],
  segVal: ['2012_000003'],
});
const LOGITS = [
  row({ [DOG]: 1, [CAT]: -1 }), // A
  row({ [DOG]: 3, [CAT]: 4 }), // B
  row({ [DOG]: 2, [CAT]: 5 }), // C
  row({ [DOG]: 0, [CAT]: -3 }), // D
];
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test('VOC mAP: difficult-only pairs left out of the headline mAP, counted by mAP_raw, per-image AP and F1', async () => {
  const ds = openVocDataset(root, { cacheDir: null, log: () => {}, imageSize: 8 });
  const got = await collectLogits(fixedNet(LOGITS), ds, 'val');
  assert.ok(got.difficultOnly, 'collectLogits passes the flags along');
  assert.deepEqual([...got.difficultOnly.keys()].filter((i) => got.difficultOnly![i] !== 0), [1 * 20 + DOG]); // only B·dog (D has an easy dog)
  assert.deepEqual([DOG, CAT].map((k) => [0, 1, 2, 3].map((i) => got.labels[i * 20 + k])), [[1, 1, 0, 1], [0, 0, 1, 0]]);

  const m = predictionMetrics(got);
  // dog, B removed: C(−) 2, A(+) 1, D(+) 0 → precisions 0, ½, ⅔ at recalls 0, ½, 1 → AP_interp = ½·⅔ + ½·⅔ = ⅔
  close(m.perClassAP[DOG] as number, 2 / 3, 'AP_interp dog');
  // dog, B kept as positive: B(+) 3, C(−) 2, A(+) 1, D(+) 0 → AP_raw = ⅓·1 + ⅓·⅔ + ⅓·¾ = 29/36
  close(m.perClassAPRaw[DOG] as number, 29 / 36, 'AP_raw dog');
  // cat: C(+) 5 is ranked first → 1 in both
  assert.equal(m.perClassAP[CAT], 1);
  assert.equal(m.perClassAPRaw[CAT], 1);
  close(m.mAP, 100 * (2 / 3 + 1) / 2, 'mAP'); // 83.33
  close(m.mAP_raw, 100 * (29 / 36 + 1) / 2, 'mAP_raw'); // 90.28
  assert.equal(m.nClassesSkipped, 18);
  assert.equal(m.nDifficultOnly, 1);
  // per image (difficult positive): A 1; B cat 4 (−) above dog 3 (+) → ½; C 1; D 1 → 87.5
  close(m.mAP_perImage_ref, 87.5, 'mAP_perImage_ref');
  // F1 (z > 0; B's dog counts): A {dog}/{dog} 1; B {dog,cat}/{dog} ⅔; C {dog,cat}/{cat} ⅔; D {} 0
  close(m.F1, 100 * (1 + 2 / 3 + 2 / 3 + 0) / 4, 'F1');
  close(m.F1_ref, 100 * (1 + 2 / 3 + 2 / 3 + 0) / 4, 'F1_ref'); // D's dog logit 0 < 0.5 too

  // without the flags the headline would keep B's dog: AP_interp = ⅓ + ⅓·¾ + ⅓·¾ = ⅚
  const noFlags = predictionMetrics({ ...got, difficultOnly: undefined });
  close(noFlags.mAP, 100 * (5 / 6 + 1) / 2, 'mAP without flags');
  // and evaluatePredictions (checkpoint selection) uses the flags
  close((await evaluatePredictions(fixedNet(LOGITS), ds, 'val')).mAP, m.mAP, 'evaluatePredictions');
});

test('collectLogits: flags cut to the limit; batches in order; datasets without flags give none', async () => {
  const ds = openVocDataset(root, { cacheDir: null, log: () => {}, imageSize: 8 });
  const two = await collectLogits(fixedNet(LOGITS), ds, 'val', { limit: 2, batchSize: 1 });
  assert.equal(two.numImages, 2);
  assert.equal(two.difficultOnly?.length, 40);
  assert.equal(two.difficultOnly?.[20 + DOG], 1);
  assert.deepEqual([...two.logits], [...LOGITS[0], ...LOGITS[1]]);
  // Segmentation val ('test') has flags too
  assert.deepEqual([...(await collectLogits(fixedNet(LOGITS), ds, 'test')).difficultOnly!], new Array(20).fill(0));

  const shapes = createShapesDataset({ seed: 0, imageSize: 32, sizes: { train: 2, val: 2, test: 2 }, statsSamples: 2 });
  const s = await collectLogits(fixedNet([new Array(10).fill(0), new Array(10).fill(1)]), shapes, 'val');
  assert.equal(s.difficultOnly, undefined);
  assert.equal(predictionMetrics(s).nDifficultOnly, 0);
});
