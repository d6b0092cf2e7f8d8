import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { trainStep } from '../train/fit.js';
import { SgdMomentum } from '../train/sgd.js';
import { compressionObjective } from './objective.js';

tf.enableProdMode();
await tf.setBackend('cpu');

test('KD (+ matching) steps leak no tensors and never touch the teacher', async () => {
  const cfg = (w: number) => VggConfigSchema.parse({ kind: 'vgg', blocks: [[w], [w]], inputSize: [8, 8], numClasses: 3 });
  const teacher = GraphNet.create(cfg(6), 1);
  const before = teacher.snapshot();
  const rng = new Rng(2);
  const x = tf.tensor4d(rng.uniformArray(4 * 8 * 8 * 3, -1, 1), [4, 8, 8, 3]);
  const y = tf.tensor2d([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0], [4, 3]);
  for (const kind of ['none', 'ewa', 'swa'] as const) {
    const student = GraphNet.create(cfg(4), 3);
    const opt = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const objective = compressionObjective({ teacher, kd: { alpha: 0.9, temperature: 4 }, matching: parseMatchingConfig({ kind, beta: kind === 'none' ? 0 : 1 }) });
    const vars = student.trainableVariables();
    await trainStep(student, objective, opt, vars, { x, y, indices: [0, 1, 2, 3] }, rng); // creates momentum buffers
    const n0 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = await trainStep(student, objective, opt, vars, { x, y, indices: [0, 1, 2, 3] }, rng);
      assert.ok(Number.isFinite(r.loss), `${kind}: loss ${r.loss}`);
      if (kind !== 'none') assert.ok('match' in r.parts, `${kind}: match part logged`);
    }
    assert.equal(tf.memory().numTensors, n0, `${kind}: tensor count flat across steps`);
    opt.dispose(); student.dispose();
  }
  for (const [k, v] of teacher.weights) assert.deepEqual(v.dataSync(), before[k].dataSync(), `teacher ${k} unchanged`);
  tf.dispose([x, y, ...Object.values(before)]); teacher.dispose();
});

test('pruning fine-tuning without KD or matching runs no teacher forward; with matching it does', async () => {
  const cfg = VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [4]], inputSize: [8, 8], numClasses: 3 });
  const teacher = GraphNet.create(cfg, 1);
  let calls = 0;
  const forward = teacher.forward.bind(teacher);
  teacher.forward = (x, o) => { calls++; return forward(x, o); };
  const rng = new Rng(4);
  const x = tf.tensor4d(rng.uniformArray(2 * 8 * 8 * 3, -1, 1), [2, 8, 8, 3]);
  const y = tf.tensor2d([1, 0, 0, 0, 1, 1], [2, 3]);
  for (const [kind, expected] of [['none', 0], ['swa', 2]] as const) {
    calls = 0;
    const student = GraphNet.create(cfg, 1);
    const opt = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const objective = compressionObjective({ teacher, matching: parseMatchingConfig({ kind, beta: kind === 'none' ? 0 : 1 }) });
    for (let i = 0; i < 2; i++) {
      const r = await trainStep(student, objective, opt, student.trainableVariables(), { x, y, indices: [0, 1] }, rng);
      assert.ok(Number.isFinite(r.loss));
    }
    assert.equal(calls, expected, `${kind}: teacher forwards`);
    opt.dispose(); student.dispose();
  }
  tf.dispose([x, y]); teacher.dispose();
});

test('β warm-up follows batch.step, so a resumed stage continues the ramp instead of restarting it', () => {
  const cfg = (w: number) => VggConfigSchema.parse({ kind: 'vgg', blocks: [[w], [w]], inputSize: [8, 8], numClasses: 3 });
  const teacher = GraphNet.create(cfg(6), 1);
  const student = GraphNet.create(cfg(4), 3);
  const x = tf.tensor4d(new Rng(2).uniformArray(2 * 8 * 8 * 3, -1, 1), [2, 8, 8, 3]);
  const y = tf.tensor2d([1, 0, 0, 0, 1, 1], [2, 3]);
  const matching = parseMatchingConfig({ kind: 'swa', beta: 1 });
  const make = () => compressionObjective({ teacher, kd: { alpha: 0.9, temperature: 4 }, matching, betaWarmupSteps: 4 });
  /** The objective's loss for one batch, without a parameter update. */
  const lossAt = (objective: ReturnType<typeof make>, step?: number): { total: number; match: number } => {
    const batch = { x, y, indices: [0, 1], ...(step === undefined ? {} : { step }) };
    objective.beforeStep!(batch, new Rng(5));
    const r = objective.loss(student, batch, new Rng(5));
    const out = { total: r.loss.dataSync()[0], match: r.parts.match.dataSync()[0] };
    tf.dispose([r.loss, ...Object.values(r.parts), ...r.stats.flatMap((s) => [s.mean, s.variance])]);
    objective.afterStep!();
    return out;
  };
  const running = make();
  for (let s = 0; s < 2; s++) lossAt(running); // an uninterrupted stage counts its own steps
  const uninterrupted = lossAt(running); // step 2: β·3/4
  const resumed = lossAt(make(), 2); // a fresh objective told the position
  const restarted = lossAt(make()); // what a resume used to do: step 0, β·1/4
  assert.ok(uninterrupted.match > 0);
  assert.equal(resumed.total, uninterrupted.total);
  assert.notEqual(restarted.total, uninterrupted.total);
  assert.ok(Math.abs((uninterrupted.total - restarted.total) - uninterrupted.match / 2) < 1e-5, 'the difference is β·(3/4 − 1/4)·L_AM');
  tf.dispose([x, y]);
  teacher.dispose(); student.dispose();
});
