import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryRocAuc, pixelRocAuc, VOID_LABEL } from './roc_auc.js';
import { Rng } from '../engine/random.js';

/** Seeded uniform [0,1) stream for randomised property tests. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** O(n²): fraction of (pos, neg) pairs ordered correctly, ties ½. */
function slowAuc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < s.length; i++) {
    if (y[i] === 0) continue;
    for (let j = 0; j < s.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      if (s[i] > s[j]) wins += 1;
      else if (s[i] === s[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

test('spec check §2.4: (0.5,0.5,1,0)/(1,0,1,0) → 0.875', () => {
  const map = new Float32Array([0.5, 0.5, 1.0, 0.0]);
  const mask = new Uint8Array([1, 0, 1, 0]); // class 0 ↔ mask value 1
  const r = pixelRocAuc(map, mask, 0);
  assert.equal(r.auc, 0.875);
  assert.equal(r.degenerate, null);
  assert.equal(r.nPos, 2);
  assert.equal(r.nNeg, 2);
  assert.equal(binaryRocAuc([0.5, 0.5, 1, 0], [1, 0, 1, 0]).auc, 0.875);
});

test('constant map → 0.5; perfect → 1; inverted → 0', () => {
  const mask = new Uint8Array([3, 3, 0, 1, 0]); // class 2 at pixels 0,1; class 0 is a negative
  assert.equal(pixelRocAuc(new Float32Array(5), mask, 2).auc, 0.5);
  assert.equal(pixelRocAuc(new Float32Array([9, 8, 1, 2, 3]), mask, 2).auc, 1);
  assert.equal(pixelRocAuc(new Float32Array([0, 0, 1, 2, 3]), mask, 2).auc, 0);
});

test('void pixels are excluded; voidAsBackground counts them as negatives', () => {
  const map = new Float32Array([1, 0.2, 5, 0.1]);
  const mask = new Uint8Array([1, 0, VOID_LABEL, 0]);
  assert.equal(pixelRocAuc(map, mask, 0).auc, 1);
  const r = pixelRocAuc(map, mask, 0, { voidAsBackground: true });
  assert.equal(r.auc, 2 / 3);
  assert.equal(r.nNeg, 3);
});

test('other classes are negatives', () => {
  const map = new Float32Array([0.9, 0.95, 0.1]);
  const mask = new Uint8Array([1, 2, 0]);
  assert.equal(pixelRocAuc(map, mask, 0).auc, 0.5); // beats bg, loses to class 1
});

test('degenerate: class fills every used pixel, or is absent', () => {
  const map = new Float32Array([0.1, 0.2, 0.3]);
  const full = pixelRocAuc(map, new Uint8Array([5, 5, VOID_LABEL]), 4);
  assert.equal(full.degenerate, 'noNegatives');
  assert.equal(full.auc, null);
  const absent = pixelRocAuc(map, new Uint8Array([0, 2, 0]), 4);
  assert.equal(absent.degenerate, 'noPositives');
  assert.equal(pixelRocAuc(map, new Uint8Array([255, 255, 255]), 0).degenerate, 'noPositives');
});

test('bad inputs throw', () => {
  assert.throws(() => pixelRocAuc(new Float32Array(3), new Uint8Array(4), 0), RangeError);
  assert.throws(() => pixelRocAuc(new Float32Array(1), new Uint8Array(1), 254), RangeError);
  assert.throws(() => pixelRocAuc(new Float32Array([NaN, 1]), new Uint8Array([1, 0]), 0), RangeError);
});

test('random maps with ties and void vs O(n²) pair counting', () => {
  const r = rng(2024);
  for (let trial = 0; trial < 80; trial++) {
    const n = 2 + Math.floor(r() * 250);
    const levels = 1 + Math.floor(r() * 8);
    const map = Float32Array.from({ length: n }, () => Math.floor(r() * levels) / 7);
    const mask = Uint8Array.from({ length: n }, () => {
      const u = r();
      return u < 0.1 ? VOID_LABEL : u < 0.4 ? 1 : u < 0.6 ? 2 : 0;
    });
    const res = pixelRocAuc(map, mask, 0);
    const s: number[] = [];
    const y: number[] = [];
    for (let p = 0; p < n; p++) {
      if (mask[p] === VOID_LABEL) continue;
      s.push(map[p]);
      y.push(mask[p] === 1 ? 1 : 0);
    }
    const nPos = y.filter((v) => v === 1).length;
    if (nPos === 0 || nPos === y.length) {
      assert.notEqual(res.degenerate, null);
      continue;
    }
    assert.ok(res.auc !== null);
    assert.ok(Math.abs(res.auc - slowAuc(s, y)) < 1e-12, `trial ${trial}`);
    // Float64 (comparator) path agrees with the packed float32 path.
    assert.equal(pixelRocAuc(Float64Array.from(map, (v) => v + 1e-12), mask, 0).auc, res.auc);
  }
});

test('227×227 map: AUC equals the pair-counting reference on a subsample-free check', () => {
  const r = rng(5);
  const n = 227 * 227;
  const map = Float32Array.from({ length: n }, () => Math.round(r() * 255) / 255);
  const mask = Uint8Array.from({ length: n }, (_, p) => (p % 227 < 100 ? 8 : p % 13 === 0 ? VOID_LABEL : 0));
  const res = pixelRocAuc(map, mask, 7);
  // Histogram-based exact AUC (scores are multiples of 1/255): independent of the rank code path.
  const pos = new Float64Array(256), neg = new Float64Array(256);
  for (let p = 0; p < n; p++) {
    if (mask[p] === VOID_LABEL) continue;
    const b = Math.round(map[p] * 255);
    if (mask[p] === 8) pos[b]++; else neg[b]++;
  }
  let below = 0, num = 0, nPos = 0, nNeg = 0;
  for (let b = 0; b < 256; b++) { num += pos[b] * (below + neg[b] / 2); below += neg[b]; nPos += pos[b]; nNeg += neg[b]; }
  assert.ok(res.auc !== null && Math.abs(res.auc - num / (nPos * nNeg)) < 1e-9);
});
