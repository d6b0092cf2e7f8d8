import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { TraceEntry } from './forward_trace.js';
import { Lrp, LrpConfigSchema, lrpPass, zPlusConv, zPlusDense } from './lrp.js';
import { convTranspose } from './relevance.js';
import './gradients.js'; // registers gradient functions for tf.grad
import { denseEntry, randomImages, relevanceSums as sums, tinyNet, topClasses } from './test_nets.js';
import type { GraphNet } from '../models/graph/graph_net.js';

await tf.setBackend('cpu');

test('§6.3: LRP dense z⁺ by hand, R = (0.34, 1.36, 0)', () => {
  const e = denseEntry([[1, 2, 1]], [[0.5], [1], [-1]], [0.2]);
  const z = e.output.dataSync()[0];
  assert.ok(Math.abs(z - 1.7) < 1e-6);
  const r = tf.tidy(() => zPlusDense.propagate(e, tf.tensor2d([[z]])));
  const v = r.dataSync();
  [0.34, 1.36, 0].forEach((want, i) => assert.ok(Math.abs(v[i] - want) < 1e-6, `R[${i}] = ${v[i]}`));
});

test('dense z⁺ mixed-sign form: two separately normalised terms (reference α1β0)', () => {
  const x = [1, -2, 0.5];
  const k = [[0.5, -1], [1, 2], [-1, 0.3]];
  const e = denseEntry([x], k, [0, 0], false);
  const rOut = [0.7, -0.2];
  const r = tf.tidy(() => zPlusDense.propagate(e, tf.tensor2d([rOut])));
  const want = x.map((xj, j) => {
    let s = 0;
    for (let c = 0; c < 2; c++) {
      let zp = 0, zn = 0;
      x.forEach((xi, i) => { zp += Math.max(xi, 0) * Math.max(k[i][c], 0); zn += Math.min(xi, 0) * Math.min(k[i][c], 0); });
      if (zp !== 0) s += Math.max(xj, 0) * Math.max(k[j][c], 0) * rOut[c] / zp;
      if (zn !== 0) s += Math.min(xj, 0) * Math.min(k[j][c], 0) * rOut[c] / zn;
    }
    return s;
  });
  const v = r.dataSync();
  want.forEach((w, i) => assert.ok(Math.abs(v[i] - w) < 1e-6, `R[${i}] = ${v[i]}, want ${w}`));
});

test('convT(S, W) is the input-gradient of Σ conv(X, W) ⊙ S', () => {
  const x = tf.randomUniform([2, 5, 6, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 2) as tf.Tensor4D;
  const s = tf.randomUniform([2, 5, 6, 4], -1, 1, 'float32', 3) as tf.Tensor4D;
  const ours = convTranspose(s, w);
  const { grad } = tf.tidy(() => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t as tf.Tensor4D, w, 1, 'same'), s)))(x);
    return { grad: g };
  });
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, grad))).dataSync()[0]);
  assert.ok(d < 1e-5, `max |Δ| ${d}`);
  tf.dispose([x, w, s, ours, grad]);
});

test('conv z⁺ equals a slow per-unit loop (1 image, 4×4×2 → 3 channels)', () => {
  const x = tf.randomUniform([1, 4, 4, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 2, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
  const r = tf.randomUniform([1, 4, 4, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
  const e: TraceEntry = { layer: { kind: 'conv2d', name: 'c', kernel: w, bias: tf.zeros([3]) }, index: 1, input: x, output: x, inputNonNegative: true };
  const fast = tf.tidy(() => zPlusConv().propagate(e, r)).dataSync();
  const xv = x.dataSync(), wv = w.dataSync(), rv = r.dataSync();
  const X = (i: number, j: number, c: number) => (i < 0 || j < 0 || i > 3 || j > 3 ? 0 : xv[(i * 4 + j) * 2 + c]);
  const W = (a: number, b: number, ci: number, co: number) => Math.max(wv[((a * 3 + b) * 2 + ci) * 3 + co], 0);
  const slow = new Float64Array(32);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let co = 0; co < 3; co++) {
    let z = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) for (let ci = 0; ci < 2; ci++) z += X(i + a - 1, j + b - 1, ci) * W(a, b, ci, co);
    if (z === 0) continue;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) for (let ci = 0; ci < 2; ci++) {
      const ii = i + a - 1, jj = j + b - 1;
      if (ii < 0 || jj < 0 || ii > 3 || jj > 3) continue;
      slow[(ii * 4 + jj) * 2 + ci] += X(ii, jj, ci) * W(a, b, ci, co) * rv[(i * 4 + j) * 3 + co] / z;
    }
  }
  slow.forEach((v, i) => assert.ok(Math.abs(v - fast[i]) < 1e-5, `R_in[${i}] ${fast[i]} vs ${v}`));
  tf.dispose([x, w, r]);
});

function conservationCheck(net: GraphNet, x: tf.Tensor4D, classes: number[], cfg: object, tol: number): void {
  tf.tidy(() => {
    const p = lrpPass(net, x, classes, LrpConfigSchema.parse(cfg), true);
    const z = p.targetLogit.dataSync();
    z.forEach((v) => assert.ok(v > 0, `test needs z_c > 0, got ${v}`));
    for (const [name, r] of p.perLayer!) {
      sums(r).forEach((s, n) => assert.ok(Math.abs(s - z[n]) <= tol * z[n], `${name}: Σ R = ${s}, z_c = ${z[n]}`));
    }
  });
}

test('§6.5: LRP conserves z_c at every layer on a bias-free net (odd size, uneven widths)', () => {
  const net = tinyNet({ blocks: [[4, 3], [5]], inputSize: [11, 9], numClasses: 3, params: 'biasFree', seed: 7 });
  const x = randomImages(net, 3, 8);
  const classes = topClasses(net, x);
  conservationCheck(net, x, classes, {}, 1e-4);
  conservationCheck(net, x, classes, { batchNorm: 'fold' }, 1e-4);
  const r = new Lrp().attribute(net, x, classes);
  sums(r.maps).forEach((s, n) => assert.ok(Math.abs(s - r.targetLogit[n]) <= 1e-4 * r.targetLogit[n], `Σ map ${s} vs z_c ${r.targetLogit[n]}`));
  tf.dispose([x, r.maps]);
  net.dispose();
});

test('§6.5: z_c < 0 flips the map: Σ map = −z_c on a bias-free net', () => {
  const net = tinyNet({ params: 'biasFree', seed: 9, numClasses: 4 });
  const x = randomImages(net, 2, 3);
  const logits = net.predict(x);
  const lv = logits.dataSync();
  const classes = [0, 1].map((n) => { const row = Array.from(lv.slice(n * 4, n * 4 + 4)); return row.indexOf(Math.min(...row)); });
  const r = new Lrp().attribute(net, x, classes);
  sums(r.maps).forEach((s, n) => {
    assert.ok(r.targetLogit[n] < 0);
    assert.ok(Math.abs(s + r.targetLogit[n]) <= 1e-4 * Math.abs(r.targetLogit[n]), `Σ map ${s} vs z_c ${r.targetLogit[n]}`);
  });
  tf.dispose([x, logits, r.maps]);
  net.dispose();
});

test('§6.6: LRP relevance ≥ 0 everywhere when z_c > 0; 0 ≤ Σ map ≤ z_c on a net with biases', () => {
  const net = tinyNet({ blocks: [[4], [6, 5]], inputSize: [10, 12], numClasses: 3, params: 'random', seed: 11 });
  const x = randomImages(net, 3, 12);
  const classes = topClasses(net, x);
  for (const cfg of [{}, { batchNorm: 'fold' }, { compat: { lrpBnEpsilon: true } }]) {
    tf.tidy(() => {
      const p = lrpPass(net, x, classes, LrpConfigSchema.parse(cfg), true);
      const z = p.targetLogit.dataSync();
      z.forEach((v) => assert.ok(v > 0, `test needs z_c > 0, got ${v}`));
      for (const [name, r] of p.perLayer!) {
        const m = tf.min(r).dataSync()[0];
        assert.ok(m >= -1e-6, `${JSON.stringify(cfg)} ${name}: min R = ${m}`);
      }
      const maps = tf.sum(p.relevance, 3);
      sums(maps).forEach((s, n) => assert.ok(s >= 0 && s <= z[n] * (1 + 1e-4), `Σ map ${s}, z_c ${z[n]}`));
    });
  }
  tf.dispose(x);
  net.dispose();
});

test('config: compat and fold exclude each other; channelRange needs normalization', () => {
  assert.throws(() => new Lrp({ batchNorm: 'fold', compat: { lrpBnEpsilon: true } }), /lrp: invalid config: compat.lrpBnEpsilon/);
  assert.throws(() => new Lrp({ zbBounds: 'channelRange' }), /lrp: invalid config: normalization/);
  const m = new Lrp({ zbBounds: 'channelRange', normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
  const net = tinyNet();
  const x = randomImages(net, 1);
  const r = m.attribute(net, x, [0]);
  assert.ok(r.maps.dataSync().every(Number.isFinite));
  tf.dispose([x, r.maps]);
  net.dispose();
});
