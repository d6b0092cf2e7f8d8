import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import {
  curveAuc, descendingRanks, faithfulnessCurves, gaussianBlur, noisyLinearImputation, pixelsAtStep, summarizeFaithfulness,
} from './faithfulness.js';

await tf.setBackend('cpu');

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A hand-built linear model: z_0 = Σ w·x + b over pixels and channels, z_1 = −z_0. */
function linearModel(w: Float32Array, h: number, wd: number, ch: number, bias: number) {
  const weights = tf.tensor4d(w, [1, h, wd, ch]);
  const logitsOf = (x: tf.Tensor4D) => tf.tidy(() => {
    const z0 = tf.add(tf.sum(tf.mul(x, weights), [1, 2, 3]), bias);
    return tf.stack([z0, tf.neg(z0)], 1) as tf.Tensor2D;
  });
  const hostLogit = (x: ArrayLike<number>) => { let z = bias; for (let i = 0; i < w.length; i++) z += w[i] * x[i]; return z; };
  return { weights, logitsOf, hostLogit };
}

/** Slow reference blur: direct 2-D sum with the normalised Gaussian and symmetric (edge-repeating) padding. */
function slowBlur(x: Float32Array, h: number, w: number, ch: number, sigma: number): Float32Array {
  // the radius is ⌈3σ⌉, capped per axis at the image's size (symmetric padding needs it)
  const ry = Math.min(Math.ceil(3 * sigma), h);
  const rx = Math.min(Math.ceil(3 * sigma), w);
  const g = (d: number) => Math.exp(-(d * d) / (2 * sigma * sigma));
  let normY = 0;
  let normX = 0;
  for (let d = -ry; d <= ry; d++) normY += g(d);
  for (let d = -rx; d <= rx; d++) normX += g(d);
  const reflect = (i: number, n: number) => (i < 0 ? -i - 1 : i >= n ? 2 * n - i - 1 : i);
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let c = 0; c < ch; c++) {
    let s = 0;
    for (let dy = -ry; dy <= ry; dy++) for (let dx = -rx; dx <= rx; dx++) {
      s += (g(dy) * g(dx)) / (normY * normX) * x[(reflect(y + dy, h) * w + reflect(xx + dx, w)) * ch + c];
    }
    out[(y * w + xx) * ch + c] = s;
  }
  return out;
}

test('gaussianBlur equals a direct 2-D convolution with symmetric padding; a constant image stays constant', () => {
  const [h, w, ch] = [7, 9, 3];
  const x = new Rng(3).uniformArray(h * w * ch, -2, 2);
  for (const sigma of [0.7, 1.5, 4]) {
    const got = tf.tidy(() => gaussianBlur(tf.tensor4d(x, [1, h, w, ch]), sigma).dataSync());
    const want = slowBlur(x, h, w, ch, sigma);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `σ ${sigma} at ${i}: ${got[i]} vs ${want[i]}`);
  }
  const c = tf.tidy(() => gaussianBlur(tf.fill([1, 5, 5, 3], 0.7) as tf.Tensor4D, 2).dataSync());
  for (const v of c) assert.ok(Math.abs(v - 0.7) < 1e-6);
});

test('descendingRanks: largest first, ties in row-major order; NaN and wrong length are errors', () => {
  assert.deepEqual([...descendingRanks([0.1, 0.5, 0.5, -1], 4)], [2, 0, 1, 3]);
  assert.throws(() => descendingRanks([0, NaN], 2, 7), /map 7 has NaN at pixel 1/);
  assert.throws(() => descendingRanks([0, 1, 2], 4), /3 values, the images have 4 pixels/);
  assert.equal(pixelsAtStep(1, 20, 4096), 205);
  assert.equal(pixelsAtStep(20, 20, 4096), 4096);
});

test('curveAuc: trapezoid over fraction 0..1 (hand values)', () => {
  assert.equal(curveAuc([0, 1]), 0.5);
  assert.equal(curveAuc([1, 1, 1]), 1);
  assert.ok(Math.abs(curveAuc([1, 0.5, 0, 0]) - (0.75 + 0.25 + 0) / 3) < 1e-15);
  assert.throws(() => curveAuc([1]), /at least 2 points/);
});

test('linear model: the map w⊙(x − baseline) gives the steepest deletion curve (brute force over all pixel subsets)', () => {
  // 3×3 image, 2 channels, 9 steps → one pixel per step; every subset of each size is tried.
  const [h, w, ch] = [3, 3, 2];
  const rng = new Rng(11);
  const wts = rng.uniformArray(h * w * ch, -1, 1);
  const xs = rng.uniformArray(h * w * ch, -1.5, 1.5);
  const sigma = 1;
  const model = linearModel(wts, h, w, ch, 0.3);
  const x = tf.tensor4d(xs, [1, h, w, ch]);
  const base = tf.tidy(() => gaussianBlur(x, sigma).dataSync());
  // each pixel's contribution to z that deleting it removes: Σ_c w (x − b)
  const gain = Float32Array.from({ length: h * w }, (_, p) => {
    let s = 0;
    for (let c = 0; c < ch; c++) s += wts[p * ch + c] * (xs[p * ch + c] - base[p * ch + c]);
    return s;
  });
  const z0 = model.hostLogit(xs);
  const steps = h * w;
  const best = new Float64Array(steps + 1).fill(Infinity);
  for (let subset = 0; subset < 1 << steps; subset++) {
    let z = z0;
    let size = 0;
    for (let p = 0; p < steps; p++) if (subset & (1 << p)) { z -= gain[p]; size++; }
    best[size] = Math.min(best[size], sigmoid(z));
  }
  const n0 = tf.memory().numTensors;
  const opt = { steps, blurSigma: sigma };
  const optimal = faithfulnessCurves(model.logitsOf, x, [gain], [0], opt).deletion[0];
  for (let k = 0; k <= steps; k++) assert.ok(Math.abs(optimal[k] - best[k]) < 1e-5, `step ${k}: ${optimal[k]} vs brute-force minimum ${best[k]}`);
  // any other order is never below it, and some random order is strictly above somewhere
  let strictlyWorse = 0;
  for (let trial = 0; trial < 5; trial++) {
    const other = faithfulnessCurves(model.logitsOf, x, [rng.uniformArray(h * w, 0, 1)], [0], opt).deletion[0];
    for (let k = 0; k <= steps; k++) assert.ok(other[k] >= optimal[k] - 1e-6, `random order beats the optimum at step ${k}`);
    if (curveAuc(other) > curveAuc(optimal) + 1e-4) strictlyWorse++;
  }
  assert.ok(strictlyWorse > 0, 'no random order was worse: the test cannot tell orders apart');
  // the reversed map gives the highest curve: its AUC is the largest
  const reversed = faithfulnessCurves(model.logitsOf, x, [gain.map((g) => -g)], [0], opt).deletion[0];
  assert.ok(curveAuc(reversed) > curveAuc(optimal));
  assert.equal(tf.memory().numTensors, n0, 'faithfulnessCurves leaked tensors');
  tf.dispose([x, model.weights]);
});

test('end points: deletion 0 % = image, 100 % = blurred image; insertion the reverse; batch of pairs; class index picks z_c', () => {
  const [n, h, w, ch] = [3, 8, 8, 3];
  const rng = new Rng(5);
  const wts = rng.uniformArray(h * w * ch, -0.2, 0.2);
  const xs = rng.uniformArray(n * h * w * ch, -2, 2);
  const model = linearModel(wts, h, w, ch, -0.1);
  const x = tf.tensor4d(xs, [n, h, w, ch]);
  const blurred = tf.tidy(() => gaussianBlur(x, 2).dataSync()) as Float32Array;
  const maps = Array.from({ length: n }, () => rng.uniformArray(h * w, 0, 1));
  const classes = [0, 1, 0];
  const steps = 4;
  const n0 = tf.memory().numTensors;
  const curves = faithfulnessCurves(model.logitsOf, x, maps, classes, { steps, blurSigma: 2 });
  assert.equal(tf.memory().numTensors, n0);
  const img = (i: number, a: Float32Array) => a.subarray(i * h * w * ch, (i + 1) * h * w * ch);
  for (let i = 0; i < n; i++) {
    const sign = classes[i] === 0 ? 1 : -1; // z_1 = −z_0
    const full = sigmoid(sign * model.hostLogit(img(i, xs)));
    const base = sigmoid(sign * model.hostLogit(img(i, blurred)));
    const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
    near(curves.deletion[i][0], full, `pair ${i} deletion 0 %`);
    near(curves.deletion[i][steps], base, `pair ${i} deletion 100 %`);
    near(curves.insertion[i][0], base, `pair ${i} insertion 0 %`);
    near(curves.insertion[i][steps], full, `pair ${i} insertion 100 %`);
    // the batch does not mix pairs: pair i alone gives the same curve
    const xi = tf.slice(x, [i], [1]) as tf.Tensor4D;
    const alone = faithfulnessCurves(model.logitsOf, xi, [maps[i]], [classes[i]], { steps, blurSigma: 2 });
    xi.dispose();
    for (let k = 0; k <= steps; k++) near(alone.deletion[0][k], curves.deletion[i][k], `pair ${i} alone, step ${k}`);
  }
  const s = summarizeFaithfulness(curves, { steps });
  assert.equal(s.nPairs, n);
  assert.equal(s.baseline, 'blur');
  assert.equal(s.deletionCurve.length, steps + 1);
  const meanAuc = curves.deletion.reduce((a, c) => a + curveAuc(c), 0) / n;
  assert.ok(Math.abs(s.deletionAuc - meanAuc) < 1e-12, 'AUC of the mean curve = mean of the AUCs');
  assert.ok(Number.isNaN(summarizeFaithfulness({ deletion: [], insertion: [] }).deletionAuc));
  x.dispose(); model.weights.dispose();
});

test('noisyLinearImputation: kept pixels untouched; an isolated hole becomes the ROAD neighbour mean; noise only on holes', () => {
  const [h, w] = [5, 5];
  const xs = new Rng(2).uniformArray(h * w, 0, 1);
  const removed = new Float32Array(h * w);
  removed[2 * w + 2] = 1; // centre pixel
  const x = tf.tensor4d(xs, [1, h, w, 1]);
  const r = tf.tensor4d(removed, [1, h, w, 1]);
  const zero = tf.zeros([1, h, w, 1]) as tf.Tensor4D;
  const out = tf.tidy(() => noisyLinearImputation(x, r, zero, 3).dataSync());
  const at = (y: number, xx: number) => xs[y * w + xx];
  const want = (at(1, 2) + at(3, 2) + at(2, 1) + at(2, 3)) / 6 + (at(1, 1) + at(1, 3) + at(3, 1) + at(3, 3)) / 12;
  assert.ok(Math.abs(out[2 * w + 2] - want) < 1e-6, `${out[2 * w + 2]} vs ${want}`);
  for (let p = 0; p < h * w; p++) if (p !== 2 * w + 2) assert.equal(out[p], xs[p]);
  const noise = tf.fill([1, h, w, 1], 0.5) as tf.Tensor4D;
  const noisy = tf.tidy(() => noisyLinearImputation(x, r, noise, 3).dataSync());
  assert.ok(Math.abs(noisy[2 * w + 2] - want - 0.5) < 1e-6);
  assert.equal(noisy[0], xs[0]);
  tf.dispose([x, r, zero, noise]);
});

test("ROAD baseline: curves run batched, insertion at 100 % = the image's score, seeded noise is reproducible", () => {
  const [n, h, w, ch] = [2, 6, 6, 3];
  const rng = new Rng(9);
  const wts = rng.uniformArray(h * w * ch, -0.3, 0.3);
  const xs = rng.uniformArray(n * h * w * ch, -1, 1);
  const model = linearModel(wts, h, w, ch, 0);
  const x = tf.tensor4d(xs, [n, h, w, ch]);
  const maps = [rng.uniformArray(h * w, 0, 1), rng.uniformArray(h * w, 0, 1)];
  const opt = { steps: 3, baseline: 'road' as const, seed: 4 };
  const n0 = tf.memory().numTensors;
  const a = faithfulnessCurves(model.logitsOf, x, maps, [0, 0], opt);
  const b = faithfulnessCurves(model.logitsOf, x, maps, [0, 0], opt);
  assert.equal(tf.memory().numTensors, n0);
  assert.deepEqual(a, b);
  for (let i = 0; i < n; i++) {
    const full = sigmoid(model.hostLogit(xs.subarray(i * h * w * ch, (i + 1) * h * w * ch)));
    assert.ok(Math.abs(a.deletion[i][0] - full) < 1e-5);
    assert.ok(Math.abs(a.insertion[i][3] - full) < 1e-5);
  }
  assert.equal(summarizeFaithfulness(a, opt).baseline, 'road');
  assert.throws(() => faithfulnessCurves(model.logitsOf, x, maps, [0, 0], { baseline: 'zero' as never }), /baseline must be 'blur' or 'road', got 'zero'/);
  assert.throws(() => faithfulnessCurves(model.logitsOf, x, maps, [0, 0], { steps: 0 }), /steps must be a positive integer/);
  assert.throws(() => faithfulnessCurves(model.logitsOf, x, maps.slice(1), [0, 0]), /2 images, 1 maps and 2 class indices/);
  x.dispose(); model.weights.dispose();
});
