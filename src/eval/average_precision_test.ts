import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averagePrecision, averagePrecisions, averagePrecisionsOfGroups } from './average_precision.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const close = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Straight from the spec formulas: O(n·m). */
function bruteAP(s: number[], y: number[]): { raw: number; interp: number } {
  const nPos = y.filter((v) => v !== 0).length;
  const thresholds = [...new Set(s)].sort((a, b) => b - a);
  const prec: number[] = [];
  const rec: number[] = [];
  for (const t of thresholds) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] >= t) {
        if (y[i] !== 0) tp++;
        else fp++;
      }
    }
    prec.push(tp / (tp + fp));
    rec.push(tp / nPos);
  }
  let raw = 0;
  let interp = 0;
  for (let k = 0; k < thresholds.length; k++) {
    const d = rec[k] - (k === 0 ? 0 : rec[k - 1]);
    raw += d * prec[k];
    interp += d * Math.max(...prec.slice(k));
  }
  return { raw, interp };
}

test('spec check §1.1: (0.9,0.8,0.7)/(0,1,1)', () => {
  const s = new Float32Array([0.9, 0.8, 0.7]);
  const y = new Uint8Array([0, 1, 1]);
  close(averagePrecision(s, y, { interpolated: false }), 0.583333);
  close(averagePrecision(s, y, { interpolated: true }), 0.666667);
  close(averagePrecision(s, y, { interpolated: false }), 7 / 12, 1e-15);
  close(averagePrecision(s, y, { interpolated: true }), 2 / 3, 1e-15);
});

test('perfect and worst rankings', () => {
  assert.equal(averagePrecision([3, 2, 1, 0], [1, 1, 0, 0], { interpolated: false }), 1);
  assert.equal(averagePrecision([3, 2, 1, 0], [1, 1, 0, 0], { interpolated: true }), 1);
  // positives last: precisions 1/3 and 2/4 at recalls 0.5 and 1
  close(averagePrecision([3, 2, 1, 0], [0, 0, 1, 1], { interpolated: false }), 0.5 * (1 / 3) + 0.5 * 0.5, 1e-15);
  close(averagePrecision([3, 2, 1, 0], [0, 0, 1, 1], { interpolated: true }), 0.5 * 0.5 + 0.5 * 0.5, 1e-15);
});

test('tied scores form one threshold', () => {
  // All tied: one threshold with precision = nPos / n, recall 1.
  const ap = averagePrecisions([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]);
  assert.equal(ap.raw, 0.25);
  assert.equal(ap.interpolated, 0.25);
  // Order within a tie must not matter.
  const a = averagePrecisions([1, 0.5, 0.5, 0], [0, 1, 0, 1]);
  const b = averagePrecisions([1, 0.5, 0.5, 0], [0, 0, 1, 1]);
  assert.deepEqual(a, b);
  // thresholds 1 (P 0), 0.5 (P 1/3, R 1/2), 0 (P 1/2, R 1)
  close(a.raw, 0.5 * (1 / 3) + 0.5 * 0.5, 1e-15);
  close(a.interpolated, 0.5 * 0.5 + 0.5 * 0.5, 1e-15);
});

test('no positives → NaN; single positive; length mismatch and NaN scores throw', () => {
  assert.ok(Number.isNaN(averagePrecision([1, 2], [0, 0], { interpolated: true })));
  assert.ok(Number.isNaN(averagePrecision([], [], { interpolated: false })));
  assert.equal(averagePrecision([0.3], [1], { interpolated: true }), 1);
  assert.throws(() => averagePrecisions([1, 2], [1]), RangeError);
  assert.throws(() => averagePrecisions([1, NaN], [1, 0]), RangeError);
});

test('ranking only: monotone transform (logit → sigmoid) gives the same AP', () => {
  const z = [2.1, -0.3, 0.7, -1.2, 0.7, 3.3];
  const y = [1, 0, 0, 1, 1, 0];
  const p = z.map((v) => 1 / (1 + Math.exp(-v)));
  assert.deepEqual(averagePrecisions(z, y), averagePrecisions(p, y));
});

test('random lists with ties vs brute force', () => {
  const r = rng(123);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(r() * 60);
    const levels = 1 + Math.floor(r() * 10);
    const s = Array.from({ length: n }, () => Math.floor(r() * levels) / levels);
    const y = Array.from({ length: n }, () => (r() < 0.35 ? 1 : 0));
    if (!y.includes(1)) y[Math.floor(r() * n)] = 1;
    const want = bruteAP(s, y);
    const got = averagePrecisions(Float32Array.from(s), Uint8Array.from(y));
    close(got.raw, want.raw, 1e-12);
    close(got.interpolated, want.interp, 1e-12);
    assert.ok(got.interpolated >= got.raw - 1e-15);
  }
});

test('averagePrecisionsOfGroups: weighted tie groups = the list with items repeated; empty groups change nothing', () => {
  // thresholds 0.9 > 0.8 > 0.7: (0 pos, 1 neg), (1 pos, 0 neg), (1 pos, 0 neg) is the spec check
  const spec = averagePrecisionsOfGroups([0, 1, 1], [1, 0, 0], 3);
  assert.deepEqual(spec, averagePrecisions([0.9, 0.8, 0.7], [0, 1, 1]));
  close(spec.raw, 0.583333);
  close(spec.interpolated, 0.666667);
  // weights 2, 0, 3 on the groups (0.9: 1 pos + 1 neg, 0.8: 1 neg, 0.7: 1 pos)
  const weighted = averagePrecisionsOfGroups([2, 0, 3], [2, 0, 0], 3);
  assert.deepEqual(weighted, averagePrecisions([0.9, 0.9, 0.9, 0.9, 0.7, 0.7, 0.7], [1, 0, 1, 0, 1, 1, 1]));
  assert.deepEqual(averagePrecisionsOfGroups([0, 2, 0, 3], [0, 2, 0, 0], 4), weighted);
  assert.ok(Number.isNaN(averagePrecisionsOfGroups([0, 0], [3, 1], 2).raw));
});
