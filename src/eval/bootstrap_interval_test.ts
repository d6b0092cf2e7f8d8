/**
 * Bootstrap intervals: known answers (constant data, quantiles of a known list, the normal
 * approximation for a mean), determinism, and the fast resample statistics against slow
 * references that build each resampled data set and call the metric functions themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../engine/random.js';
import {
  bootstrapInterval, bootstrapIntervals, bootstrapReplicates, meanAveragePrecisionStatistic, meanStatistic, percentileInterval, ratioStatistic,
  sampleF1Statistic, unitSums,
} from './bootstrap_interval.js';
import { meanAveragePrecision, type PredictionInput, sampleF1 } from './prediction_metrics.js';

/** Rows of a row-major N×K array repeated as often as `counts` says (the resampled data set). */
function expandRows<T extends Float32Array | Uint8Array>(values: T, k: number, counts: Uint32Array, make: (n: number) => T): T {
  const total = counts.reduce((s, c) => s + c, 0);
  const out = make(total * k);
  let at = 0;
  counts.forEach((c, i) => {
    for (let r = 0; r < c; r++) out.set(values.subarray(i * k, (i + 1) * k), k * at++);
  });
  return out;
}

function resampled(input: PredictionInput & { labels: Uint8Array; difficultOnly?: Uint8Array }, counts: Uint32Array): PredictionInput {
  const k = input.numClasses;
  return {
    logits: expandRows(input.logits, k, counts, (n) => new Float32Array(n)),
    labels: expandRows(input.labels, k, counts, (n) => new Uint8Array(n)),
    numImages: counts.reduce((s, c) => s + c, 0),
    numClasses: k,
    ...(input.difficultOnly ? { difficultOnly: expandRows(input.difficultOnly, k, counts, (n) => new Uint8Array(n)) } : {}),
  };
}

/** N×K scores with ties (a coarse grid), sparse labels, a rare class, and some difficult-only pairs. */
function predictionCase(n: number, k: number, seed: number) {
  const rng = new Rng(seed);
  const logits = new Float32Array(n * k);
  const labels = new Uint8Array(n * k);
  const difficultOnly = new Uint8Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const rate = c === k - 1 ? 0.02 : 0.2; // the last class has few positives: some resamples draw none
      const y = rng.next() < rate ? 1 : 0;
      labels[i * k + c] = y;
      logits[i * k + c] = Math.round(4 * (rng.normal() + 1.5 * y - 0.8)) / 4; // quarter steps: many ties
      if (y && rng.next() < 0.1) difficultOnly[i * k + c] = 1;
    }
  }
  return { logits, labels, difficultOnly, numImages: n, numClasses: k };
}

test('bootstrapReplicates: each resample draws n units; the same seed draws the same resamples', () => {
  const seen: number[][] = [];
  const totals: number[] = [];
  bootstrapReplicates(7, (c) => { totals.push(c.reduce((s, x) => s + x, 0)); seen.push([...c]); return 0; }, { resamples: 50, seed: 3 });
  assert.deepEqual(totals, Array(50).fill(7));
  assert.ok(seen.some((c) => c.some((x) => x > 1)), 'with replacement: some unit is drawn twice');
  const again: number[][] = [];
  bootstrapReplicates(7, (c) => { again.push([...c]); return 0; }, { resamples: 50, seed: 3 });
  assert.deepEqual(again, seen);
  const other: number[][] = [];
  bootstrapReplicates(7, (c) => { other.push([...c]); return 0; }, { resamples: 50, seed: 4 });
  assert.notDeepEqual(other, seen);
});

test('percentileInterval: quantiles with linear interpolation; non-finite values left out, most of them → none', () => {
  const values = Array.from({ length: 101 }, (_, i) => 100 - i); // 0..100 in any order
  const near = (ci: { lo: number; hi: number } | undefined, lo: number, hi: number) =>
    assert.ok(ci && Math.abs(ci.lo - lo) < 1e-9 && Math.abs(ci.hi - hi) < 1e-9, `${JSON.stringify(ci)} vs [${lo}, ${hi}]`);
  near(percentileInterval(values, 0.9), 5, 95);
  near(percentileInterval([0, 1], 0.5), 0.25, 0.75);
  near(percentileInterval([...values, NaN, NaN], 0.9), 5, 95);
  assert.equal(percentileInterval([1, NaN, NaN]), undefined);
  assert.throws(() => percentileInterval(values, 1), /level/);
});

test('constant data: a zero-width interval at the constant', () => {
  // 0.75 · (whole number) / 40 is exact in floating point, so the width is exactly 0
  const ci = bootstrapInterval(40, meanStatistic(new Float64Array(40).fill(0.75)), { seed: 1 });
  assert.deepEqual(ci, { lo: 0.75, hi: 0.75 });
  assert.equal(bootstrapInterval(0, meanStatistic([])), undefined);
});

test('mean of n iid values: close to mean ± 1.96·sd/√n, contains the mean, deterministic per seed', () => {
  const rng = new Rng(11);
  const n = 400;
  const values = Float64Array.from({ length: n }, () => 5 + 2 * rng.normal());
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const half = (1.96 * sd) / Math.sqrt(n);
  const ci = bootstrapInterval(n, meanStatistic(values), { resamples: 4000, seed: 5 })!;
  assert.ok(ci.lo < mean && mean < ci.hi);
  // Monte-Carlo error of the 2.5 % / 97.5 % quantiles with B = 4000 is a few % of the half-width
  assert.ok(Math.abs(ci.lo - (mean - half)) < 0.1 * half, `lo ${ci.lo} vs ${mean - half}`);
  assert.ok(Math.abs(ci.hi - (mean + half)) < 0.1 * half, `hi ${ci.hi} vs ${mean + half}`);
  assert.deepEqual(bootstrapInterval(n, meanStatistic(values), { resamples: 4000, seed: 5 }), ci);
  assert.notDeepEqual(bootstrapInterval(n, meanStatistic(values), { resamples: 4000, seed: 6 }), ci);
  // several statistics share the resamples: each interval is the one it gets alone
  const both = bootstrapIntervals(n, { mean: meanStatistic(values), first: meanStatistic(values.subarray(0, n)) }, { resamples: 4000, seed: 5 });
  assert.deepEqual(both, { mean: ci, first: ci });
});

test('mAP statistic equals meanAveragePrecision of each resampled data set (ties, difficult-only pairs, a rare class)', () => {
  const input = predictionCase(60, 5, 2);
  const fast = meanAveragePrecisionStatistic(input);
  assert.equal(fast(new Uint32Array(60).fill(1)), meanAveragePrecision(input), 'all images once: the point estimate');
  const slow = (counts: Uint32Array) => meanAveragePrecision(resampled(input, counts));
  const a = bootstrapReplicates(60, fast, { resamples: 300, seed: 9 });
  const b = bootstrapReplicates(60, slow, { resamples: 300, seed: 9 });
  assert.deepEqual([...a], [...b]); // bit-identical: the same counts and the same arithmetic
  const ci = percentileInterval(a)!;
  const point = meanAveragePrecision(input);
  assert.ok(ci.lo < point && point < ci.hi, `${point} in [${ci.lo}, ${ci.hi}]`);
});

test('F1 statistic equals sampleF1 of each resampled data set', () => {
  const input = predictionCase(50, 4, 8);
  const slow = (counts: Uint32Array) => sampleF1(resampled(input, counts));
  const a = bootstrapReplicates(50, sampleF1Statistic(input), { resamples: 200, seed: 1 });
  const b = bootstrapReplicates(50, slow, { resamples: 200, seed: 1 });
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-9, `resample ${i}: ${v} vs ${b[i]}`));
});

test('ratio statistic: a mean over pairs with each image\'s pairs resampled together', () => {
  // image 0: pairs 0.2, 0.4; image 1: pair 1.0 (and an uncounted pair); image 2: no counted pair
  const { sums, counts } = unitSums(3, [0, 0, 1, 1, 2], [0.2, 0.4, 1.0, null, null]);
  assert.deepEqual([...sums], [0.6000000000000001, 1, 0]);
  assert.deepEqual([...counts], [2, 1, 0]);
  const stat = ratioStatistic(sums, counts);
  assert.ok(Math.abs(stat(Uint32Array.of(1, 1, 1)) - 1.6 / 3) < 1e-12, 'all images once: the mean of the 3 counted pairs');
  assert.ok(Math.abs(stat(Uint32Array.of(0, 2, 1)) - 1) < 1e-12);
  assert.ok(Math.abs(stat(Uint32Array.of(2, 1, 0)) - 2.2 / 5) < 1e-12);
  assert.ok(Number.isNaN(stat(Uint32Array.of(0, 0, 3))), 'no counted pair drawn');
  // against a slow reference: the mean of the expanded list of pair values
  const rng = new Rng(4);
  const unitOf = Array.from({ length: 90 }, () => rng.int(30));
  const values = unitOf.map(() => (rng.next() < 0.1 ? null : rng.next()));
  const u = unitSums(30, unitOf, values);
  const slow = (c: Uint32Array) => {
    const drawn = values.flatMap((v, j) => (v === null ? [] : Array<number>(c[unitOf[j]]).fill(v)));
    return drawn.length ? drawn.reduce((s, v) => s + v, 0) / drawn.length : NaN;
  };
  const a = bootstrapReplicates(30, ratioStatistic(u.sums, u.counts), { resamples: 200, seed: 2 });
  const b = bootstrapReplicates(30, slow, { resamples: 200, seed: 2 });
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-9, `resample ${i}: ${v} vs ${b[i]}`));
});
