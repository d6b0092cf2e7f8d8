import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cosineSimilarity,
  minMaxNormalize,
  peakDistance,
  spearman,
  summarize,
  topkCount,
  topkIoU,
} from './agreement.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const close = (a: number | null, b: number, tol = 1e-6) =>
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('minMaxNormalize: range [0,1]; constant → zeros', () => {
  assert.deepEqual([...minMaxNormalize([2, 4, 3])], [0, 1, 0.5]);
  assert.deepEqual([...minMaxNormalize(new Float32Array([-1, -1]))], [0, 0]);
  assert.deepEqual([...minMaxNormalize(new Float32Array(3).fill(5))], [0, 0, 0]);
  assert.equal(minMaxNormalize([]).length, 0);
});

test('cosine: value and edge cases', () => {
  close(cosineSimilarity([1, 0], [1, 1]), Math.SQRT1_2, 1e-12);
  assert.equal(cosineSimilarity([0, 0, 0], [0, 0, 0]), 1);
  assert.equal(cosineSimilarity([0, 0, 0], [0, 1, 0]), 0);
  assert.equal(cosineSimilarity([0, 2, 0], new Float32Array(3)), 0);
  assert.equal(cosineSimilarity([1, -1], [-1, 1]), -1);
  assert.throws(() => cosineSimilarity([1], [1, 2]), RangeError);
});

test('spearman: spec check (0,0,1,2) vs (0,1,1,3) = 0.833333', () => {
  close(spearman([0, 0, 1, 2], [0, 1, 1, 3]), 0.833333);
  close(spearman(new Float32Array([0, 0, 1, 2]), new Float32Array([0, 1, 1, 3])), 5 / 6, 1e-15);
});

test('spearman: monotone invariance, reversal, constant → null', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 400]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
  assert.equal(spearman([1, 2, 3], new Float32Array(3)), null);
  assert.equal(spearman([1], [2]), null);
});

test('spearman: random with ties vs Pearson of O(n²) mid-ranks', () => {
  const r = rng(31);
  const slowRanks = (v: number[]) =>
    v.map((x) => v.filter((y) => y < x).length + (v.filter((y) => y === x).length + 1) / 2);
  const pearson = (x: number[], y: number[]) => {
    const mx = x.reduce((s, v) => s + v, 0) / x.length;
    const my = y.reduce((s, v) => s + v, 0) / y.length;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < x.length; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) ** 2;
      syy += (y[i] - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  };
  for (let trial = 0; trial < 100; trial++) {
    const n = 2 + Math.floor(r() * 80);
    const a = Array.from({ length: n }, () => Math.floor(r() * 5));
    const b = a.map((v) => (r() < 0.5 ? v : Math.floor(r() * 5)));
    const got = spearman(a, b);
    const constant = new Set(a).size === 1 || new Set(b).size === 1;
    if (constant) {
      assert.equal(got, null);
      continue;
    }
    close(got, pearson(slowRanks(a), slowRanks(b)), 1e-12);
  }
});

test('topkIoU: spec check 50% → 1/3', () => {
  const a = new Float32Array([0.9, 0.1, 0.8, 0]);
  const b = new Float32Array([0.7, 0.6, 0.2, 0]);
  assert.equal(topkIoU(a, b, 0.5), 1 / 3);
});

test('topkIoU: ties at the threshold, min excluded, empty sets', () => {
  // m = ceil(0.25·4) = 1; a has a tie at the top → S(a) = {0,1}; S(b) = {0}
  assert.equal(topkIoU([5, 5, 1, 0], [9, 1, 1, 0], 0.25), 1 / 2);
  // All-zero maps: both sets empty → 1; one empty → 0.
  assert.equal(topkIoU(new Float32Array(4), new Float32Array(4), 0.5), 1);
  assert.equal(topkIoU(new Float32Array(4), [0, 0, 0, 1], 0.5), 0);
  // v_m = min: {a ≥ v_m} is everything, but min is excluded: S(a) = {0}.
  assert.equal(topkIoU([1, 0, 0, 0], [1, 0, 0, 0], 0.75), 1);
  assert.equal(topkIoU([1, 0, 0, 0], [0, 1, 1, 1], 1), 0);
  assert.throws(() => topkIoU([1], [1], 0), RangeError);
  assert.throws(() => topkIoU([1], [1], 1.5), RangeError);
});

test('topkCount: ceil with float-noise guard', () => {
  assert.equal(topkCount(100, 0.15), 15); // 0.15·100 = 15.000000000000002 in float64
  assert.equal(topkCount(100, 0.07), 7); // 7.000000000000001
  assert.equal(topkCount(227 * 227, 0.05), 2577); // 2576.45
  assert.equal(topkCount(227 * 227, 0.15), 7730); // 7729.35
  assert.equal(topkCount(3, 0.01), 1);
  assert.equal(topkCount(4, 0.5), 2);
});

test('topkIoU: random vs naive set construction', () => {
  const r = rng(4);
  for (let trial = 0; trial < 100; trial++) {
    const n = 1 + Math.floor(r() * 60);
    const a = Array.from({ length: n }, () => Math.floor(r() * 6));
    const b = Array.from({ length: n }, () => Math.floor(r() * 6));
    const frac = [0.05, 0.1, 0.15, 0.2, 0.5][trial % 5];
    const m = topkCount(n, frac);
    const set = (v: number[]) => {
      const desc = [...v].sort((x, y) => y - x);
      const min = Math.min(...v);
      return new Set(v.flatMap((x, p) => (x >= desc[m - 1] && x > min ? [p] : [])));
    };
    const sa = set(a);
    const sb = set(b);
    const inter = [...sa].filter((p) => sb.has(p)).length;
    const union = new Set([...sa, ...sb]).size;
    assert.equal(topkIoU(a, b, frac), union === 0 ? 1 : inter / union);
  }
});

test('peakDistance: normalised by the diagonal; constant → null', () => {
  const a = new Float32Array(9);
  const b = new Float32Array(9);
  a[0] = 1; // (0,0)
  b[8] = 1; // (2,2)
  close(peakDistance(a, b, 3, 3), Math.hypot(2, 2) / Math.hypot(3, 3), 1e-15);
  assert.equal(peakDistance(a, a, 3, 3), 0);
  assert.equal(peakDistance(a, new Float32Array(9), 3, 3), null);
  // 227×227: corner to corner = 226√2 / 227√2
  const n = 227 * 227;
  const c = new Float32Array(n);
  const d = new Float32Array(n);
  c[0] = 1;
  d[n - 1] = 1;
  close(peakDistance(c, d, 227, 227), 226 / 227, 1e-12);
  assert.throws(() => peakDistance(a, b, 2, 4), RangeError);
});

test('identical maps: cosine 1, spearman 1, IoU 1, distance 0', () => {
  const r = rng(8);
  const m = minMaxNormalize(Float32Array.from({ length: 227 * 227 }, () => Math.round(r() * 50)));
  assert.equal(cosineSimilarity(m, m), 1);
  assert.equal(spearman(m, m), 1);
  for (const f of [0.05, 0.1, 0.15, 0.2]) assert.equal(topkIoU(m, m, f), 1);
  assert.equal(peakDistance(m, m, 227, 227), 0);
});

test('summarize: mean, median (odd/even), empty', () => {
  assert.deepEqual(summarize([3, 1, 2]), { mean: 2, median: 2, n: 3 });
  assert.deepEqual(summarize([4, 1, 2, 10]), { mean: 4.25, median: 3, n: 4 });
  const e = summarize([]);
  assert.equal(e.n, 0);
  assert.ok(Number.isNaN(e.mean) && Number.isNaN(e.median));
});
