import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argsortAscending, midRanks } from './ranks.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** O(n²) mid-rank: #less + (#equal + 1) / 2. */
function slowMidRanks(v: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    let less = 0;
    let equal = 0;
    for (let j = 0; j < v.length; j++) {
      if (v[j] < v[i]) less++;
      else if (v[j] === v[i]) equal++;
    }
    out.push(less + (equal + 1) / 2);
  }
  return out;
}

test('midRanks: spec-style example with ties', () => {
  assert.deepEqual([...midRanks([0, 0, 1, 2])], [1.5, 1.5, 3, 4]);
  assert.deepEqual([...midRanks(new Float32Array([0, 1, 1, 3]))], [1, 2.5, 2.5, 4]);
});

test('midRanks: empty, single, constant', () => {
  assert.equal(midRanks([]).length, 0);
  assert.deepEqual([...midRanks([7])], [1]);
  assert.deepEqual([...midRanks(new Float32Array(5).fill(3))], [3, 3, 3, 3, 3]);
});

test('midRanks: negatives, -0/+0 tie, infinities', () => {
  const v = new Float32Array([-0, 0, -1.5, Infinity, -Infinity, 2, -3e-39]);
  assert.deepEqual([...midRanks(v)], slowMidRanks(v));
  assert.deepEqual([...midRanks(Array.from(v))], slowMidRanks(v));
  // Not float32-exact → comparator path.
  const w = [0.1, -0, 0, Infinity, -Infinity, 0.1, 1e-300];
  assert.deepEqual([...midRanks(w)], slowMidRanks(w));
});

test('midRanks/argsort: NaN throws', () => {
  assert.throws(() => midRanks(new Float32Array([1, NaN])), RangeError);
  assert.throws(() => midRanks([1, NaN]), RangeError);
  assert.throws(() => argsortAscending([0.1, NaN]), RangeError);
});

test('argsortAscending: ascending, ties in index order (both paths)', () => {
  const r = rng(1);
  for (const kind of ['f32', 'f64'] as const) {
    const n = 500;
    const v = kind === 'f32'
      ? Float32Array.from({ length: n }, () => Math.floor(r() * 20) - 10)
      : Float64Array.from({ length: n }, () => Math.floor(r() * 20) / 3 - 3);
    const order = argsortAscending(v);
    assert.deepEqual([...order].sort((a, b) => a - b), [...Array(n).keys()]);
    for (let t = 1; t < n; t++) {
      const a = v[order[t - 1]];
      const b = v[order[t]];
      assert.ok(a < b || (a === b && order[t - 1] < order[t]), `${kind} position ${t}`);
    }
  }
});

test('midRanks: random data with ties vs O(n²) reference', () => {
  const r = rng(42);
  for (let trial = 0; trial < 60; trial++) {
    const n = 1 + Math.floor(r() * 300);
    const levels = 1 + Math.floor(r() * 12);
    const f32 = Float32Array.from({ length: n }, () => Math.floor(r() * levels) * 0.37 - 1);
    assert.deepEqual([...midRanks(f32)], slowMidRanks(f32));
    const f64 = Array.from({ length: n }, () => (Math.floor(r() * levels) * 0.1) / 3);
    assert.deepEqual([...midRanks(f64)], slowMidRanks(f64));
  }
});

test('midRanks: 227×227 map sums to n(n+1)/2', () => {
  const r = rng(7);
  const n = 227 * 227;
  const v = Float32Array.from({ length: n }, () => Math.round(r() * 1000) / 1000);
  const ranks = midRanks(v);
  let sum = 0;
  for (const x of ranks) sum += x;
  assert.equal(sum, (n * (n + 1)) / 2);
});
