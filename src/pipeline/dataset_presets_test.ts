/** `recipesFor`: shapes and mnist-multi keep their measured recipes; VOC gets the spec's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOC_AUGMENT } from '../train/batches.js';
import { SHAPES_KD_RECIPE, VOC_KD_RECIPE, VOC_KD_SEED } from './compress.js';
import { recipesFor } from './dataset_presets.js';
import { SHAPES_PRUNE_RECIPE, VOC_PRUNE_RECIPE } from './prune.js';
import {
  MNIST_MULTI_TEACHER_RECIPE, SHAPES_TEACHER_DROPOUT, SHAPES_TEACHER_RECIPE, VOC_TEACHER_DROPOUT, VOC_TEACHER_RECIPE, VOC_TEACHER_SEED,
} from './train_teacher.js';

test('shapes: the SHAPES_* recipes at 64 px, dropout 0', () => {
  const r = recipesFor('shapes');
  assert.equal(r.teacher, SHAPES_TEACHER_RECIPE);
  assert.equal(r.kd, SHAPES_KD_RECIPE);
  assert.equal(r.prune, SHAPES_PRUNE_RECIPE);
  assert.equal(r.imageSize, 64);
  assert.equal(r.teacherDropout, SHAPES_TEACHER_DROPOUT);
  assert.equal(r.teacherDropout, 0);
  assert.equal(r.seeds, undefined);
  assert.equal(r.matchingBeta, undefined);
});

test('mnist-multi: its own teacher recipe, the shapes KD and pruning recipes', () => {
  const r = recipesFor('mnist-multi');
  assert.equal(r.teacher, MNIST_MULTI_TEACHER_RECIPE);
  assert.equal(r.kd, SHAPES_KD_RECIPE);
  assert.equal(r.prune, SHAPES_PRUNE_RECIPE);
  assert.equal(r.imageSize, 64);
  assert.equal(r.teacherDropout, 0);
});

test('voc: the spec recipes (voc-protocol §7, compression §1.2, §2.5, §3.4)', () => {
  for (const name of ['voc', 'voc:/data/VOCdevkit', 'voc:/abs/VOC2012']) {
    const r = recipesFor(name);
    assert.equal(r.teacher, VOC_TEACHER_RECIPE, name);
    assert.equal(r.kd, VOC_KD_RECIPE, name);
  }
  const r = recipesFor('voc:/x');
  // teacher: SGD 0.1, momentum 0.9, wd 1e-4, batch 64, 60 epochs, ×0.1 at 10, 30, 40; seed 3; dropout 0.5
  assert.deepEqual({ ...r.teacher }, {
    epochs: 60, batchSize: 64, lr: 0.1, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [10, 30, 40], augment: VOC_AUGMENT,
  });
  assert.equal(r.teacherDropout, 0.5);
  assert.equal(VOC_TEACHER_DROPOUT, 0.5);
  assert.equal(r.imageSize, 227);
  // KD: SGD 0.1, momentum 0 (C6), wd 1e-4, batch 64, 350 epochs, ×0.1 at 150, 200, 250; a 0.9, T 4; seed 42
  assert.deepEqual({ ...r.kd }, {
    epochs: 350, batchSize: 64, lr: 0.1, momentum: 0, weightDecay: 1e-4, lrMilestones: [150, 200, 250], augment: VOC_AUGMENT,
    kd: { alpha: 0.9, temperature: 4 }, betaWarmupFraction: 0,
  });
  // pruning fine-tune: SGD 1e-3 constant, momentum 0.9, wd 1e-4, batch 64, 30 epochs
  assert.deepEqual({ ...r.prune }, { ...VOC_PRUNE_RECIPE, augment: VOC_AUGMENT });
  assert.deepEqual({ ...r.prune, augment: null }, {
    epochs: 30, batchSize: 64, lr: 1e-3, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [], augment: null,
  });
  assert.deepEqual(r.seeds, { teacher: 3, kd: 42 });
  assert.deepEqual([VOC_TEACHER_SEED, VOC_KD_SEED], [3, 42]);
  assert.equal(r.matchingBeta, 100);
  // the augmentation switch is on with the reference parameters (the dataset applies its own transform)
  assert.deepEqual(VOC_AUGMENT.scale, [0.08, 1]);
  assert.deepEqual(VOC_AUGMENT.ratio, [3 / 4, 4 / 3]);
  assert.equal(VOC_AUGMENT.flip, 0.5);
});

test('unknown datasets are an error', () => {
  assert.throws(() => recipesFor('mnist'), /no training recipes for dataset 'mnist'/);
  assert.throws(() => recipesFor('vocx'), /no training recipes/);
});
