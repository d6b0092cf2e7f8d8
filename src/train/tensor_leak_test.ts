/**
 * fit's trainStep leaks no tensor: the tensor count (and the backend's data buckets) stay flat
 * across training steps, for the plain label objective and for compression objectives with
 * matching (KD + SWA/WCAM, stochastic SWA, EWA, pruning-style SWA without KD, and SWA at a
 * layer without the closed form, whose explicit backward is differentiated), on wasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { compressionObjective } from '../compress/objective.js';
import { memorySnapshot, useBackend } from '../engine/kernels/testing.js';
import { Rng } from '../engine/random.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { labelObjective, type Objective, trainStep } from './fit.js';
import { multiLabelSoftMargin } from './losses.js';
import { SgdMomentum } from './sgd.js';

test('tensor count is flat across trainStep calls (label, KD + matching objectives)', async () => {
  await useBackend('wasm');
  const teacher = GraphNet.create(vggPreset({ width: 16, imageSize: 32, numClasses: 5 }), 1);
  const student = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 5 }), 2);
  const rng = new Rng(3);
  const B = 4;
  const x = tf.tensor4d(rng.uniformArray(B * 32 * 32 * 3, -1, 1), [B, 32, 32, 3]);
  const y = tf.tensor2d(Array.from({ length: B * 5 }, () => (rng.next() < 0.3 ? 1 : 0)), [B, 5]);
  const batch = { x, y, indices: [0, 1, 2, 3] };
  const kd = { alpha: 0.9, temperature: 4 };
  const objectives: [string, Objective][] = [
    ['label', labelObjective(multiLabelSoftMargin)],
    ['kd+swa', compressionObjective({ teacher, kd, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }) })],
    ['kd+swa-stochastic', compressionObjective({ teacher, kd, matching: parseMatchingConfig({ kind: 'swa', beta: 1, stochastic: 0.3 }) })],
    ['kd+ewa', compressionObjective({ teacher, kd, matching: parseMatchingConfig({ kind: 'ewa', beta: 1 }) })],
    ['prune+swa', compressionObjective({ teacher, matching: parseMatchingConfig({ kind: 'swa', beta: 1, matchClasses: 'teacherPositive' }) })],
    ['kd+swa@pool3 (explicit backward)', compressionObjective({ teacher, kd, matching: parseMatchingConfig({ kind: 'swa', beta: 1, layer: 'pool3' }) })],
  ];
  try {
    for (const [name, objective] of objectives) {
      const opt = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
      const vars = student.trainableVariables();
      await trainStep(student, objective, opt, vars, batch, rng); // creates the momentum buffers
      const before = memorySnapshot();
      const counts: number[] = [];
      for (let s = 0; s < 4; s++) {
        const r = await trainStep(student, objective, opt, vars, batch, rng);
        assert.ok(Number.isFinite(r.loss), `${name}: loss ${r.loss}`);
        counts.push(tf.memory().numTensors);
      }
      assert.deepEqual(counts, counts.map(() => before.tensors), `${name}: numTensors per step ${counts} (before ${before.tensors})`);
      assert.deepEqual(memorySnapshot(), before, `${name}: data buckets flat`);
      opt.dispose();
    }
  } finally {
    tf.dispose([x, y]);
    teacher.dispose();
    student.dispose();
  }
});
