import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  f1Ref,
  mapPerImageRef,
  mapRaw,
  meanAveragePrecision,
  perClassAveragePrecision,
  predictionMetrics,
  sampleF1,
  type PredictionInput,
} from './prediction_metrics.js';
import { averagePrecision } from './average_precision.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const close = (a: number, b: number, tol = 1e-4) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

function input(rows: number[][], labels: number[][], dif?: number[][]): PredictionInput {
  return {
    logits: Float32Array.from(rows.flat()),
    labels: Uint8Array.from(labels.flat()),
    numImages: rows.length,
    numClasses: rows[0]?.length ?? 0,
    difficultOnly: dif === undefined ? undefined : Uint8Array.from(dif.flat()),
  };
}

test('spec check: per-image AP of (0.1,0.9,0.5)/(1,0,1) = 58.3333', () => {
  close(mapPerImageRef(input([[0.1, 0.9, 0.5]], [[1, 0, 1]])), 58.3333);
});

test('mAP is per class (column) AP_interp ×100; mAP_raw uses AP_raw', () => {
  // Column 0 = spec §1.1 list (0.9,0.8,0.7)/(0,1,1); column 1 perfectly ranked.
  const x = input(
    [[0.9, 0.2], [0.8, 0.9], [0.7, 0.1]],
    [[0, 0], [1, 1], [1, 0]],
  );
  close(meanAveragePrecision(x), 100 * (2 / 3 + 1) / 2);
  close(mapRaw(x), 100 * (7 / 12 + 1) / 2);
  assert.deepEqual(
    perClassAveragePrecision(x, 'voc').map((v) => (v === null ? null : +v.toFixed(6))),
    [0.666667, 1],
  );
});

test('difficult-only pairs are removed from mAP but not from mAP_raw', () => {
  // Class 0: image 0 (top score) is a difficult-only positive; image 2 a normal positive.
  const x = input(
    [[0.9], [0.8], [0.7]],
    [[1], [0], [1]],
    [[1], [0], [0]],
  );
  // voc: list (0.8,0.7)/(0,1) → P=1/2 at R=1 → AP 0.5
  close(meanAveragePrecision(x), 50);
  // raw: (0.9,0.8,0.7)/(1,0,1) → 1·½ + ⅔·½
  close(mapRaw(x), 100 * (0.5 + 1 / 3));
  // Without the flags, nothing is removed.
  close(meanAveragePrecision({ ...x, difficultOnly: undefined }), 100 * (0.5 + (2 / 3) * 0.5));
});

test('classes without positives are skipped and counted', () => {
  // Class 1 has no positives; class 2 only a difficult-only positive.
  const x = input(
    [[0.9, 0.3, 0.5], [0.1, 0.4, 0.2]],
    [[1, 0, 1], [0, 0, 0]],
    [[0, 0, 1], [0, 0, 0]],
  );
  const m = predictionMetrics(x);
  assert.deepEqual(m.perClassAP, [1, null, null]);
  assert.deepEqual(m.perClassAPRaw, [1, null, 1]);
  assert.equal(m.nClassesSkipped, 2);
  assert.equal(m.nClassesSkippedRaw, 1);
  assert.equal(m.mAP, 100);
  assert.equal(m.mAP_raw, 100);
  // Image 1 has no positive label: skipped by the per-image variant.
  assert.equal(m.nImagesSkippedPerImage, 1);
  assert.equal(m.mAP_perImage_ref, 100);
  // No class with positives at all → NaN.
  assert.ok(Number.isNaN(meanAveragePrecision(input([[1, 2]], [[0, 0]]))));
});

test('F1: predicted iff logit > 0; empty prediction → 0; ×100', () => {
  const x = input(
    [
      [2, -1, 0.3, 0], // predicted {0,2}; true {0,1} → 2·1/4 = 0.5
      [-1, -2, -3, 0], // nothing predicted (0 is not > 0) → 0
      [1, 1, 1, 1], // predicted all; true {3} → 2·1/5 = 0.4
      [0.5, -1, -1, -1], // predicted {0}; true {0} → 1
    ],
    [
      [1, 1, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 0, 1],
      [1, 0, 0, 0],
    ],
  );
  close(sampleF1(x), (100 * (0.5 + 0 + 0.4 + 1)) / 4, 1e-9);
  // F1_ref: logit ≥ 0.5. Row 0 → {0}; true {0,1} → 2/3. Row 1 → ∅ → 0.
  // Row 2 → all → 0.4. Row 3 → {0} (0.5 ≥ 0.5) → 1.
  close(f1Ref(x), (100 * (2 / 3 + 0 + 0.4 + 1)) / 4, 1e-9);
  // Image with no labels and a prediction → 0; all-empty → 0.
  close(sampleF1(input([[1, -1]], [[0, 0]])), 0, 0);
  close(sampleF1(input([[-1, -1]], [[0, 0]])), 0, 0);
  assert.ok(Number.isNaN(sampleF1(input([], []))));
});

test('predictionMetrics bundles the individual functions; ranking-only APs', () => {
  const r = rng(9);
  const n = 40;
  const k = 5;
  const logits = Float32Array.from({ length: n * k }, () => Math.round((r() * 6 - 3) * 4) / 4);
  const labels = Uint8Array.from({ length: n * k }, () => (r() < 0.3 ? 1 : 0));
  for (let i = 0; i < n; i++) labels[i * k + (i % k)] = 1; // every image has a positive
  const difficultOnly = Uint8Array.from(labels, (y) => (y === 1 && r() < 0.2 ? 1 : 0));
  const x: PredictionInput = { logits, labels, numImages: n, numClasses: k, difficultOnly };
  const m = predictionMetrics(x);
  assert.equal(m.mAP, meanAveragePrecision(x));
  assert.equal(m.mAP_raw, mapRaw(x));
  assert.equal(m.mAP_perImage_ref, mapPerImageRef(x));
  assert.equal(m.F1, sampleF1(x));
  assert.equal(m.F1_ref, f1Ref(x));
  assert.equal(m.numImages, n);
  assert.equal(m.numClasses, k);

  // Per-class AP equals AP of the explicitly filtered column.
  for (let c = 0; c < k; c++) {
    const s: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      if (difficultOnly[i * k + c] !== 0) continue;
      s.push(logits[i * k + c]);
      y.push(labels[i * k + c]);
    }
    assert.equal(m.perClassAP[c], averagePrecision(s, y, { interpolated: true }));
  }
  // Sigmoid probabilities give identical APs.
  const probs = Float32Array.from(logits, (z) => 1 / (1 + Math.exp(-z)));
  const mp = predictionMetrics({ ...x, logits: probs });
  assert.equal(mp.mAP, m.mAP);
  assert.equal(mp.mAP_raw, m.mAP_raw);
  assert.equal(mp.mAP_perImage_ref, m.mAP_perImage_ref);
});

test('shape errors throw', () => {
  assert.throws(
    () => meanAveragePrecision({ logits: new Float32Array(5), labels: new Uint8Array(6), numImages: 2, numClasses: 3 }),
    RangeError,
  );
  assert.throws(
    () => predictionMetrics({ ...input([[1, 2]], [[1, 0]]), difficultOnly: new Uint8Array(3) }),
    RangeError,
  );
});
