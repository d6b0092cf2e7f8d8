import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { IntegratedGradients, quadrature } from './integrated_gradients.js';
import { GradientXInput } from './gradient_x_input.js';
import { SmoothGrad } from './smooth_grad.js';
import { targetGradient } from './gradients.js';
import { chainLayers } from './forward_trace.js';
import { oneHotTargets } from './attribution_method.js';
import { randomImages, relevanceSums as sums, tinyNet, topClasses } from './test_nets.js';

await tf.setBackend('cpu');

test('quadrature rules integrate what they should; weights sum to 1', () => {
  for (const m of ['gaussLegendre', 'riemannLeft', 'riemannRight', 'riemannMiddle', 'riemannTrapezoid'] as const) {
    const q = quadrature(m, 16);
    assert.ok(Math.abs(q.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12, m);
    assert.ok(q.alphas.every((a) => a >= 0 && a <= 1), m);
    const lin = q.alphas.reduce((s, a, i) => s + q.weights[i] * a, 0);
    if (m !== 'riemannLeft' && m !== 'riemannRight') assert.ok(Math.abs(lin - 0.5) < 1e-12, `${m} ∫α`);
  }
  const g = quadrature('gaussLegendre', 5); // exact up to degree 9
  const p9 = g.alphas.reduce((s, a, i) => s + g.weights[i] * a ** 9, 0);
  assert.ok(Math.abs(p9 - 0.1) < 1e-12, `∫α⁹ = ${p9}`);
});

test('targetGradient (fast custom conv input-gradient) equals tf.grad through GraphNet.forward', () => {
  const net = tinyNet({ blocks: [[4, 3], [5]], inputSize: [9, 10], numClasses: 3, params: 'random', seed: 17 });
  const x = randomImages(net, 2, 18);
  const oneHot = oneHotTargets([1, 2], 3);
  const ours = tf.tidy(() => targetGradient(chainLayers(net), x, oneHot).grad);
  const ref = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(net.forward(t as tf.Tensor4D).logits, oneHot)))(x));
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]);
  const scale = tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]);
  assert.ok(d <= 1e-5 * scale, `max |Δ| ${d} (scale ${scale})`);
  tf.dispose([x, oneHot, ours, ref]);
  net.dispose();
});

function logitsAt(net: ReturnType<typeof tinyNet>, x: tf.Tensor4D, classes: number[]): number[] {
  const l = net.predict(x);
  const v = l.dataSync();
  const k = l.shape[1];
  l.dispose();
  return classes.map((c, n) => v[n * k + c]);
}

test('IG completeness: Σ map ≈ z_c(x) − z_c(0) within 1 % at 64 steps (net with biases)', () => {
  // Quadrature error comes from ReLU kinks along the path; on such tiny random nets (|Δz| ≈ 0.03–0.3)
  // 64 Gauss–Legendre points give 0.05–0.4 % here (other seeds up to ~1.6 %; trapezoid up to ~9 %).
  const net = tinyNet({ blocks: [[4], [6]], inputSize: [10, 10], numClasses: 3, params: 'random', seed: 33 });
  const x = randomImages(net, 3, 34);
  const classes = [0, 1, 2];
  const zero = tf.zerosLike(x);
  const fx = logitsAt(net, x, classes);
  const f0 = logitsAt(net, zero, classes);
  for (const method of ['gaussLegendre', 'riemannMiddle'] as const) {
    const r = new IntegratedGradients({ steps: 64, method, internalBatchSize: 50 }).attribute(net, x, classes);
    sums(r.maps).forEach((s, n) => {
      const want = fx[n] - f0[n];
      assert.ok(Math.abs(s - want) <= 0.01 * Math.abs(want), `${method} image ${n}: Σ IG ${s}, Δz ${want}`);
    });
    tf.dispose(r.maps);
  }
  tf.dispose([x, zero]);
  net.dispose();
});

test('bias-free net (positively homogeneous): IG with a zero baseline = Gradient × Input, both sum to z_c', () => {
  const net = tinyNet({ params: 'biasFree', seed: 3 });
  const x = randomImages(net, 2, 6);
  const classes = topClasses(net, x);
  const ig = new IntegratedGradients({ steps: 5 }).attribute(net, x, classes);
  const gxi = new GradientXInput().attribute(net, x, classes);
  const a = ig.maps.dataSync(), b = gxi.maps.dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `[${i}] ${a[i]} vs ${b[i]}`);
  sums(gxi.maps).forEach((s, n) => assert.ok(Math.abs(s - gxi.targetLogit[n]) < 1e-4 * Math.abs(gxi.targetLogit[n])));
  const abs = new GradientXInput({ sign: 'absolute' }).attribute(net, x, classes);
  assert.deepEqual(Array.from(abs.maps.dataSync()), Array.from(b, Math.abs));
  tf.dispose([x, ig.maps, gxi.maps, abs.maps]);
  net.dispose();
});

test('SmoothGrad: zero noise gives Σ_ch |∇| (or Σ_ch ∇); seeded noise is reproducible', () => {
  const net = tinyNet({ seed: 5 });
  const x = randomImages(net, 2, 7);
  const classes = [2, 0];
  const grad = tf.tidy(() => targetGradient(chainLayers(net), x, oneHotTargets(classes, 3)).grad);
  const absSum = tf.tidy(() => tf.sum(tf.abs(grad), 3));
  const sum = tf.tidy(() => tf.sum(grad, 3));
  const a = new SmoothGrad({ noiseLevel: 0, samples: 3 }).attribute(net, x, classes);
  const s = new SmoothGrad({ noiseLevel: 0, samples: 2, absoluteGradients: false }).attribute(net, x, classes);
  const close = (p: tf.Tensor, q: tf.Tensor, what: string) => {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]);
    assert.ok(d < 1e-5, `${what}: ${d}`);
  };
  close(a.maps, absSum, 'abs');
  close(s.maps, sum, 'signed');
  const n1 = new SmoothGrad({ samples: 4, seed: 1, internalBatchSize: 3 }).attribute(net, x, classes);
  const n2 = new SmoothGrad({ samples: 4, seed: 1 }).attribute(net, x, classes);
  const n3 = new SmoothGrad({ samples: 4, seed: 2 }).attribute(net, x, classes);
  close(n1.maps, n2.maps, 'same seed, other chunking');
  assert.notDeepEqual(Array.from(n1.maps.dataSync()), Array.from(n3.maps.dataSync()));
  tf.dispose([x, grad, absSum, sum, a.maps, s.maps, n1.maps, n2.maps, n3.maps]);
  net.dispose();
});

test('IG baselines: black needs normalization; a constant baseline is used', () => {
  assert.throws(() => new IntegratedGradients({ baseline: 'black' }), /ig: invalid config: normalization/);
  const net = tinyNet({ seed: 8 });
  const x = randomImages(net, 1, 9);
  const base = tf.fill(x.shape, 0.5) as tf.Tensor4D;
  const r = new IntegratedGradients({ steps: 64, baseline: 0.5 }).attribute(net, x, [1]);
  const want = logitsAt(net, x, [1])[0] - logitsAt(net, base, [1])[0];
  const got = sums(r.maps)[0];
  assert.ok(Math.abs(got - want) <= 0.01 * Math.abs(want), `${got} vs ${want}`);
  tf.dispose([x, base, r.maps]);
  net.dispose();
});
