/**
 * Determinism and hygiene of training: a training-mode forward that must draw a dropout mask
 * without an explicit random stream is an error (no clock seed), and a trainable variable the
 * loss gives no gradient is reported by name rather than silently left unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { labelObjective, reportMissingGradients, trainStep } from './fit.js';
import { multiLabelSoftMargin } from './losses.js';
import { SgdMomentum } from './sgd.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const cfg = VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [4]], inputSize: [8, 8], numClasses: 3, dropout: 0.5 });

test('a training forward that needs a dropout mask and has no random stream is an error; with one it repeats exactly', () => {
  const net = GraphNet.create(cfg, 1);
  const x = tf.tensor4d(new Rng(2).uniformArray(2 * 8 * 8 * 3, -1, 1), [2, 8, 8, 3]);
  assert.throws(() => tf.tidy(() => net.forward(x, { training: true }).logits), /training mode draws a dropout mask for '\w+' and needs an explicit random stream/);
  const a = tf.tidy(() => net.forward(x, { training: true, rng: new Rng(7) }).logits);
  const b = tf.tidy(() => net.forward(x, { training: true, rng: new Rng(7) }).logits);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  // inference needs no stream
  tf.dispose(tf.tidy(() => net.forward(x).logits));
  tf.dispose([a, b, x]);
  net.dispose();
});

test('a trainable variable without a gradient is reported by name (once) and left unchanged', async () => {
  const net = GraphNet.create(cfg, 3);
  const orphan = tf.variable(tf.ones([2]), true, 'apc:orphan/kernel#0');
  const x = tf.tensor4d(new Rng(4).uniformArray(2 * 8 * 8 * 3, -1, 1), [2, 8, 8, 3]);
  const y = tf.tensor2d([[1, 0, 0], [0, 1, 1]]);
  const opt = new SgdMomentum({ lr: 0.1, momentum: 0.9, weightDecay: 1e-2 });
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    for (let i = 0; i < 2; i++) {
      await trainStep(net, labelObjective(multiLabelSoftMargin), opt, [...net.trainableVariables(), orphan], { x, y, indices: [0, 1] }, new Rng(5 + i));
    }
  } finally {
    process.stderr.write = write;
  }
  const warnings = lines.filter((l) => l.includes('no gradient'));
  assert.equal(warnings.length, 1, 'reported once, not every step');
  assert.match(warnings[0], /trainable variable 'orphan\/kernel' got no gradient from the loss and is not updated/);
  assert.deepEqual(Array.from(orphan.dataSync()), [1, 1]);
  // the connected weights all have gradients: nothing to report
  const grads = tf.variableGrads(() => multiLabelSoftMargin(net.forward(x, { training: true, rng: new Rng(9) }).logits, y), net.trainableVariables());
  const quiet: string[] = [];
  assert.deepEqual(reportMissingGradients(net.trainableVariables(), grads.grads, (l) => quiet.push(l)), []);
  assert.deepEqual(quiet, []);
  tf.dispose([grads.value, ...Object.values(grads.grads), x, y, orphan]);
  opt.dispose();
  net.dispose();
});
