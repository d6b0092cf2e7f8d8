import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AgreementAccumulator,
  evaluateLocalizationPair,
  LocalizationAccumulator,
  presentClasses,
  summarizeAgreement,
  summarizeLocalization,
} from './localization.js';
import { pixelRocAuc } from './roc_auc.js';
import { cosineSimilarity, minMaxNormalize } from './agreement.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

// 2×2 image: class 0 (mask 1) at pixel 0 and 2, background at 1, void at 3.
const H = 2;
const W = 2;
const mask = new Uint8Array([1, 0, 1, 255]);

test('presentClasses: background and void excluded', () => {
  assert.deepEqual(presentClasses(new Uint8Array([0, 3, 255, 1, 3, 20])), [0, 2, 19]);
  assert.deepEqual(presentClasses(new Uint8Array([0, 255])), []);
});

test('pair rules, tallies and means (§2.2, §2.6)', () => {
  const acc = new LocalizationAccumulator();
  // counted, AUC = 1 (0.9, 0.8 > 0.1), hit
  acc.add({ imageId: 'a', classIndex: 0, logit: 2, map: new Float32Array([0.9, 0.1, 0.8, 0]), mask, height: H, width: W });
  // counted, AUC = 0.25 (pos 0.2, 0.9 vs neg 0.9: 0 + ½ of 2 pairs), peak on background: miss
  acc.add({ imageId: 'b', classIndex: 0, logit: 0.1, map: new Float32Array([0.2, 0.9, 0.9, 0]), mask, height: H, width: W });
  // missed (z ≤ 0), map never looked at (even NaN)
  acc.add({ imageId: 'c', classIndex: 0, logit: 0, map: new Float32Array([NaN, 0, 0, 0]), mask, height: H, width: W });
  acc.add({ imageId: 'd', classIndex: 0, logit: -3, map: new Float32Array(4), mask, height: H, width: W });
  // non-finite
  acc.add({ imageId: 'e', classIndex: 0, logit: 1, map: new Float32Array([Infinity, 0, 0, 0]), mask, height: H, width: W });
  // degenerate: class 1 fills every non-void pixel → AUC excluded, pointing still counts (hit)
  acc.add({ imageId: 'f', classIndex: 1, logit: 1, map: new Float32Array([0, 1, 0, 0]), mask: new Uint8Array([2, 2, 2, 255]), height: H, width: W });
  // constant map: AUC 0.5, pointing miss
  acc.add({ imageId: 'g', classIndex: 0, logit: 1, map: new Float32Array(4), mask, height: H, width: W });

  const r = acc.result();
  assert.equal(r.nGtPairs, 7);
  assert.equal(r.nMissed, 2);
  assert.equal(r.nCounted, 5);
  assert.equal(r.nNonFinite, 1);
  assert.equal(r.nDegenerate, 1);
  assert.equal(r.nAuc, 3);
  assert.equal(r.nPointing, 4);
  assert.equal(r.meanAUC, (1 + 0.25 + 0.5) / 3);
  assert.equal(r.pointingAcc, 2 / 4);
  assert.equal(r.records.length, 7);
  assert.deepEqual(r.records.map((x) => x.status), ['counted', 'counted', 'missed', 'missed', 'nonFinite', 'counted', 'counted']);
  assert.deepEqual(r.records[0], {
    imageId: 'a', classIndex: 0, logit: 2, status: 'counted', auc: 1, degenerate: null, hit: true,
    peak: { index: 0, row: 0, col: 0 },
  });
  assert.equal(r.records[5].degenerate, 'noNegatives');
  assert.equal(r.records[6].peak, null);
  // Per-class breakdown.
  assert.deepEqual(r.perClass.map((c) => [c.classIndex, c.nCounted, c.nMissed, c.nDegenerate]), [[0, 4, 2, 0], [1, 1, 0, 1]]);
  assert.equal(r.perClass[1].pointingAcc, 1);
  assert.ok(Number.isNaN(r.perClass[1].meanAUC));
  // Recomputable from the records.
  assert.deepEqual(summarizeLocalization(r.records), r);
});

test('options reach AUC and pointing (tolerance, void-as-background, constant peak)', () => {
  const map = new Float32Array([0.1, 0.9, 0.5, 1]); // peak on void (pixel 3)
  const pair = { imageId: 'x', classIndex: 0, logit: 1, map, mask, height: H, width: W };
  const def = evaluateLocalizationPair(pair);
  assert.equal(def.hit, false);
  assert.equal(def.auc, pixelRocAuc(map, mask, 0).auc);
  assert.equal(evaluateLocalizationPair(pair, { pointingTolerancePx: 1 }).hit, true);
  assert.equal(
    evaluateLocalizationPair(pair, { voidAsBackground: true }).auc,
    pixelRocAuc(map, mask, 0, { voidAsBackground: true }).auc,
  );
  const constant = { ...pair, map: new Float32Array(4) };
  assert.equal(evaluateLocalizationPair(constant).hit, false);
  assert.equal(evaluateLocalizationPair(constant, { constantMapPeakAtOrigin: true }).hit, true);
});

test('empty accumulator → NaN means, zero counts; shape errors throw', () => {
  const r = new LocalizationAccumulator().result();
  assert.ok(Number.isNaN(r.meanAUC) && Number.isNaN(r.pointingAcc));
  assert.equal(r.nGtPairs, 0);
  assert.throws(
    () => evaluateLocalizationPair({ imageId: 'x', classIndex: 0, logit: 1, map: new Float32Array(3), mask, height: H, width: W }),
    RangeError,
  );
});

test('agreement: pair selection, constant maps, non-finite, summaries', () => {
  const acc = new AgreementAccumulator();
  const base = { classIndex: 0, height: 2, width: 2 };
  const t1 = new Float32Array([0.9, 0.1, 0.8, 0]);
  const s1 = new Float32Array([0.7, 0.6, 0.2, 0]);
  acc.add({ ...base, imageId: 'a', teacherLogit: 1, studentLogit: 2, teacherMap: t1, studentMap: s1 });
  acc.add({ ...base, imageId: 'b', teacherLogit: 1, studentLogit: 1, teacherMap: t1, studentMap: t1 });
  acc.add({ ...base, imageId: 'c', teacherLogit: 1, studentLogit: 0, teacherMap: t1, studentMap: t1 }); // skipped
  acc.add({ ...base, imageId: 'd', teacherLogit: -1, studentLogit: 1, teacherMap: t1, studentMap: t1 }); // skipped
  acc.add({ ...base, imageId: 'e', teacherLogit: 1, studentLogit: 1, teacherMap: t1, studentMap: new Float32Array([NaN, 0, 0, 0]) });
  acc.add({ ...base, imageId: 'f', teacherLogit: 1, studentLogit: 1, teacherMap: t1, studentMap: new Float32Array(4).fill(2) }); // constant
  const r = acc.result();
  assert.equal(r.n, 3);
  assert.equal(r.nSkipped, 2);
  assert.equal(r.nNonFinite, 1);
  assert.equal(r.spearman.n, 2);
  assert.equal(r.spearman.nConstant, 1);
  assert.equal(r.peakDistance.n, 2);
  assert.equal(r.peakDistance.nConstant, 1);
  assert.deepEqual(Object.keys(r.topkIoU).map(Number), [5, 10, 15, 20]);
  assert.equal(r.topkIoU[15].n, 3);

  // Pair 'a' uses min-max-normalised maps.
  const ra = r.records[0];
  assert.equal(ra.status, 'used');
  assert.equal(ra.cosine, cosineSimilarity(minMaxNormalize(t1), minMaxNormalize(s1)));
  // Identical maps: cosine 1, Spearman 1, IoU 1, distance 0.
  const rb = r.records[1];
  assert.equal(rb.cosine, 1);
  assert.equal(rb.spearman, 1);
  assert.equal(rb.peakDistance, 0);
  assert.deepEqual(rb.topkIoU, { 5: 1, 10: 1, 15: 1, 20: 1 });
  // Constant student map → all zeros after normalisation: cosine 0, IoU 0 (teacher's set is non-empty).
  const rf = r.records[5];
  assert.equal(rf.constant, true);
  assert.equal(rf.cosine, 0);
  assert.equal(rf.topkIoU[15], 0);
  // Cosine summary over the 3 used pairs.
  assert.equal(r.cosine.median, ra.cosine);
  assert.deepEqual(summarizeAgreement(r.records), r);
});

test('agreement: custom percents (spec check 50% → 1/3) and teacherTop1 mode', () => {
  const acc = new AgreementAccumulator({ topkPercents: [50], requirePositiveLogits: false });
  acc.add({
    imageId: 'a', classIndex: 3, teacherLogit: -1, studentLogit: -2, height: 2, width: 2,
    teacherMap: new Float32Array([0.9, 0.1, 0.8, 0]),
    studentMap: new Float32Array([0.7, 0.6, 0.2, 0]),
  });
  const r = acc.result();
  assert.equal(r.n, 1);
  assert.equal(r.topkIoU[50].mean, 1 / 3);
});

test('227×227 pairs: accumulators count and agree on near-identical maps', () => {
  const r = rng(3);
  const n = 227 * 227;
  const loc = new LocalizationAccumulator();
  const agr = new AgreementAccumulator();
  const m = Uint8Array.from({ length: n }, (_, p) => (p % 227 < 80 && p < n / 2 ? 5 : p % 31 === 0 ? 255 : 0));
  for (let i = 0; i < 4; i++) {
    const a = Float32Array.from({ length: n }, () => r());
    const b = Float32Array.from(a, (v) => v + 0.3 * r());
    loc.add({ imageId: `i${i}`, classIndex: 4, logit: 1, map: a, mask: m, height: 227, width: 227 });
    agr.add({ imageId: `i${i}`, classIndex: 4, teacherLogit: 1, studentLogit: 1, teacherMap: a, studentMap: b, height: 227, width: 227 });
  }
  assert.equal(loc.result().nCounted, 4);
  assert.ok(agr.result().spearman.mean > 0.9);
});
