import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { TraceEntry } from './forward_trace.js';
import { Rap, RapConfigSchema, rapConv, rapConvContributions, rapFirstDense, rapPass, uniformShift } from './rap.js';
import { denseEntry, randomImages, relevanceSums as sums, tinyNet, topClasses } from './test_nets.js';

await tf.setBackend('cpu');

test('§6.3: RAP first propagation by hand, A = (0.242857, 0.971429, 0.485714), Σ = z_c', () => {
  const e = denseEntry([[1, 2, 1]], [[0.5], [1], [-1]], [0.2]);
  const a = tf.tidy(() => rapFirstDense.propagate(e, tf.tensor2d([[1]])));
  const v = a.dataSync();
  [0.242857, 0.971429, 0.485714].forEach((want, i) => assert.ok(Math.abs(v[i] - want) < 1e-6, `A[${i}] = ${v[i]}`));
  assert.ok(Math.abs(v[0] + v[1] + v[2] - 1.7) < 1e-6);
});

test('§6.4: RAP conv rule by hand (1×1 conv, one pixel): C = (1, 0.5), after the shift (0.55, 0.05)', () => {
  const x = tf.tensor4d([1, 2], [1, 1, 1, 2]);
  // W[i, j]: output 0 has weights (1, −0.5), output 1 has (0.5, 0.5)
  const w = tf.tensor4d([1, 0.5, -0.5, 0.5], [1, 1, 2, 2]);
  const r = tf.tensor4d([1, -0.4], [1, 1, 1, 2]);
  const c = rapConvContributions(x, w, r);
  assert.deepEqual(Array.from(c.dataSync()).map((v) => +v.toFixed(6)), [1, 0.5]);
  const shifted = tf.tidy(() => uniformShift(c, r));
  assert.deepEqual(Array.from(shifted.dataSync()).map((v) => +v.toFixed(6)), [0.55, 0.05]);
  const e: TraceEntry = { layer: { kind: 'conv2d', name: 'c', kernel: w, bias: tf.zeros([2]) }, index: 1, input: x, output: x, inputNonNegative: true };
  const viaRule = tf.tidy(() => rapConv.propagate(e, r));
  assert.deepEqual(Array.from(viaRule.dataSync()).map((v) => +v.toFixed(6)), [0.55, 0.05]);
  tf.dispose([x, w, r, c, shifted, viaRule]);
});

test('§6.7: RAP conserves relevance across every non-input conv (net with biases, odd size)', () => {
  const net = tinyNet({ blocks: [[4, 5], [6]], inputSize: [11, 10], numClasses: 3, params: 'random', seed: 13 });
  const x = randomImages(net, 3, 14);
  const classes = [0, 1, 2];
  tf.tidy(() => {
    const p = rapPass(net, x, classes, RapConfigSchema.parse({}), true);
    const z = p.targetLogit.dataSync();
    const entries = p.trace.entries;
    for (const e of entries) {
      if (e.layer.kind !== 'conv2d' || e.index === 0) continue;
      const above = entries[e.index + 1].layer.name; // relevance at this conv's output = at the BN's input
      const rIn = sums(p.perLayer!.get(e.layer.name)!);
      const rOut = sums(p.perLayer!.get(above)!);
      rIn.forEach((s, n) => assert.ok(Math.abs(s - rOut[n]) <= 1e-4 * Math.max(Math.abs(rOut[n]), 1e-3), `${e.layer.name}: Σ R_in ${s} vs Σ R ${rOut[n]}`));
    }
    // first propagation sums to z_c
    sums(p.perLayer!.get('fc')!).forEach((s, n) => assert.ok(Math.abs(s - z[n]) <= 1e-4 * Math.abs(z[n]), `fc: ${s} vs ${z[n]}`));
  });
  tf.dispose(x);
  net.dispose();
});

test('§6.7: on a bias-free net the input relevance (before clipping) sums to z_c; the map is ≥ 0', () => {
  const net = tinyNet({ blocks: [[4, 3], [5]], inputSize: [11, 9], numClasses: 3, params: 'biasFree', seed: 7 });
  const x = randomImages(net, 3, 8);
  const classes = topClasses(net, x);
  tf.tidy(() => {
    const p = rapPass(net, x, classes, RapConfigSchema.parse({}));
    const z = p.targetLogit.dataSync();
    sums(p.relevance).forEach((s, n) => assert.ok(Math.abs(s - z[n]) <= 1e-4 * Math.abs(z[n]), `Σ R_in ${s} vs z_c ${z[n]}`));
  });
  const r = new Rap().attribute(net, x, classes);
  assert.ok(Math.min(...r.maps.dataSync()) >= 0);
  tf.dispose([x, r.maps]);
  net.dispose();
});
