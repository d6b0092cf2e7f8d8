import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapPeak, pointingGame } from './pointing_game.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const shape = { height: 3, width: 4 };

test('mapPeak: first maximum in row-major order; constant → null', () => {
  const map = new Float32Array([0, 1, 5, 0, 5, 0, 0, 0, 0, 0, 0, 5]);
  assert.deepEqual(mapPeak(map, 4), { index: 2, row: 0, col: 2 });
  assert.deepEqual(mapPeak([-3, -1, -2, -1], 2), { index: 1, row: 0, col: 1 });
  assert.equal(mapPeak(new Float32Array(12), 4), null);
  assert.equal(mapPeak(new Float32Array(12).fill(-7), 4), null);
  assert.equal(mapPeak([], 4), null);
  assert.deepEqual(mapPeak([0, Infinity, 1, 2], 2), { index: 1, row: 0, col: 1 });
  assert.throws(() => mapPeak([0, NaN], 2), RangeError);
});

test('hit iff the mask at the peak is exactly k+1', () => {
  const map = new Float32Array(12);
  map[6] = 1; // row 1, col 2
  const mask = new Uint8Array(12);
  mask[6] = 3; // class 2
  assert.equal(pointingGame(map, mask, 2, shape).hit, true);
  assert.equal(pointingGame(map, mask, 1, shape).hit, false); // another class
  mask[6] = 0;
  assert.equal(pointingGame(map, mask, 2, shape).hit, false); // background
  mask[6] = 255;
  assert.equal(pointingGame(map, mask, 2, shape).hit, false); // void
  const r = pointingGame(map, mask, 2, shape);
  assert.deepEqual(r.peak, { index: 6, row: 1, col: 2 });
  assert.equal(r.constant, false);
});

test('ties at the max: the first one counts', () => {
  const map = new Float32Array([0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]);
  const mask = new Uint8Array(12);
  mask[6] = 1;
  assert.equal(pointingGame(map, mask, 0, shape).hit, false);
  mask[1] = 1;
  assert.equal(pointingGame(map, mask, 0, shape).hit, true);
});

test('constant (incl. all-zero) map is a miss; compat peak at origin', () => {
  const mask = new Uint8Array(12).fill(1);
  const r = pointingGame(new Float32Array(12), mask, 0, shape);
  assert.deepEqual(r, { hit: false, peak: null, constant: true });
  const c = pointingGame(new Float32Array(12).fill(0.3), mask, 0, shape, { constantMapPeakAtOrigin: true });
  assert.equal(c.hit, true);
  assert.deepEqual(c.peak, { index: 0, row: 0, col: 0 });
  assert.equal(c.constant, true);
  mask[0] = 0;
  assert.equal(pointingGame(new Float32Array(12), mask, 0, shape, { constantMapPeakAtOrigin: true }).hit, false);
});

test('tolerancePx: Euclidean distance to any pixel of class k', () => {
  const s = { height: 5, width: 5 };
  const map = new Float32Array(25);
  map[0] = 1; // peak (0,0)
  const mask = new Uint8Array(25);
  mask[2 * 5 + 2] = 1; // class 0 at (2,2): distance √8 ≈ 2.83
  mask[0 * 5 + 2] = 2; // class 1 at (0,2): distance 2 (not class 0)
  assert.equal(pointingGame(map, mask, 0, s).hit, false);
  assert.equal(pointingGame(map, mask, 0, s, { tolerancePx: 2 }).hit, false);
  assert.equal(pointingGame(map, mask, 0, s, { tolerancePx: 2.8 }).hit, false);
  assert.equal(pointingGame(map, mask, 0, s, { tolerancePx: Math.sqrt(8) }).hit, true);
  assert.equal(pointingGame(map, mask, 0, s, { tolerancePx: 15 }).hit, true);
  assert.equal(pointingGame(map, mask, 1, s, { tolerancePx: 2 }).hit, true);
  assert.throws(() => pointingGame(map, mask, 0, s, { tolerancePx: -1 }), RangeError);
  assert.throws(() => pointingGame(map, mask, 0, { height: 4, width: 5 }), RangeError);
});

test('tolerance: random vs brute force over all pixels', () => {
  const r = rng(77);
  for (let trial = 0; trial < 200; trial++) {
    const height = 1 + Math.floor(r() * 12);
    const width = 1 + Math.floor(r() * 12);
    const n = height * width;
    const map = Float32Array.from({ length: n }, () => Math.floor(r() * 4));
    const mask = Uint8Array.from({ length: n }, () => (r() < 0.1 ? 1 : r() < 0.1 ? 255 : 0));
    const tol = r() < 0.2 ? 0 : r() * 6;
    const got = pointingGame(map, mask, 0, { height, width }, { tolerancePx: tol });
    const peak = mapPeak(map, width);
    let want = false;
    if (peak !== null) {
      for (let p = 0; p < n; p++) {
        const d = Math.hypot(Math.floor(p / width) - peak.row, (p % width) - peak.col);
        if (mask[p] === 1 && d <= tol + 1e-12) want = true;
      }
    }
    assert.equal(got.hit, want, `trial ${trial}`);
  }
});
