/**
 * The compression objective mixes its terms as method spec §6 says:
 * L = (1 − α)·BCE + α·KD + β·L_AM, with BCE and KD recomputed here in float64 from the two
 * networks' logits (student: training-mode forward, teacher: inference mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { compressionObjective } from './objective.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function slowBce(z: number[][], y: number[][]): number {
  let s = 0;
  z.forEach((row, b) => row.forEach((v, c) => { s += y[b][c] ? softplus(-v) : softplus(v); }));
  return s / (z.length * z[0].length);
}

function slowKd(s: number[][], t: number[][], T: number): number {
  let sum = 0;
  s.forEach((row, b) => row.forEach((v, c) => {
    const p = sigmoid(v / T), q = sigmoid(t[b][c] / T);
    sum += q * Math.log(q / p) + (1 - q) * Math.log((1 - q) / (1 - p));
  }));
  return (sum / (s.length * s[0].length)) * T * T;
}

test('objective = (1 − α)·BCE + α·KD + β·L_AM with α = 0.7, T = 3, β = 2.5', () => {
  const cfg = (w: number) => VggConfigSchema.parse({ kind: 'vgg', blocks: [[w], [w]], inputSize: [8, 8], numClasses: 3, dropout: 0 });
  const teacher = GraphNet.create(cfg(6), 1);
  const student = GraphNet.create(cfg(4), 2);
  const rng = new Rng(3);
  const x = tf.tensor4d(rng.uniformArray(4 * 8 * 8 * 3, -1, 1), [4, 8, 8, 3]);
  const yRows = [[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0]];
  const y = tf.tensor2d(yRows);
  const batch = { x, y, indices: [0, 1, 2, 3] };
  const alpha = 0.7, T = 3, beta = 2.5;
  const objective = compressionObjective({ teacher, kd: { alpha, temperature: T }, matching: parseMatchingConfig({ kind: 'swa', beta }) });
  objective.beforeStep!(batch, rng);
  const r = objective.loss(student, batch, rng);
  const total = r.loss.dataSync()[0];
  const match = r.parts.match.dataSync()[0];
  assert.ok(match > 0, 'the matching term is active');
  const zs = tf.tidy(() => student.forward(x, { training: true }).logits).arraySync() as number[][];
  const zt = tf.tidy(() => teacher.predict(x)).arraySync() as number[][];
  const bce = slowBce(zs, yRows);
  const kd = slowKd(zs, zt, T);
  assert.ok(Math.abs(r.parts.label.dataSync()[0] - bce) < 1e-5, `label ${r.parts.label.dataSync()[0]} vs ${bce}`);
  assert.ok(Math.abs(r.parts.kd.dataSync()[0] - kd) < 1e-5, `kd ${r.parts.kd.dataSync()[0]} vs ${kd}`);
  const want = (1 - alpha) * bce + alpha * kd + beta * match;
  assert.ok(Math.abs(total - want) < 1e-5 * Math.max(1, want), `total ${total}, want ${want}`);
  tf.dispose([r.loss, ...Object.values(r.parts), ...r.stats.flatMap((s) => [s.mean, s.variance])]);
  objective.afterStep!();
  tf.dispose([x, y]);
  teacher.dispose(); student.dispose();
});
