/**
 * VOC-format data without pretrained weights: the teacher, KD and pruning fine-tuning recipes
 * `recipesFor` picks for `voc:PATH` when the teacher was NOT started from pretrained weights (no
 * `--init`). The spec's VOC recipes (lr 0.1, batch 64, crops of 8–100 %, dropout 0.5) are the
 * reference's for fine-tuning ImageNet weights; from scratch they barely learn in a short run
 * (issue 19: VGG16/4 at 64 px, 2,000 exported images, val mAP 12 after 10 epochs, chance ≈ 10;
 * KD students with no predicted positives). What was tried is in the README ("VOC from scratch").
 */
import type { AugmentOptions } from '../train/batches.js';
import type { KdRecipe } from './compress.js';
import type { TrainRecipe } from './train_to_checkpoints.js';

/**
 * Milder crops than the reference's 8–100 %: small crops of a from-scratch network's few
 * training images cost far more learning per epoch than they regularise (README table).
 */
export const VOC_SCRATCH_AUGMENT: AugmentOptions = { scale: [0.5, 1], ratio: [3 / 4, 4 / 3], flip: 0.5, minVisibleFraction: 0.3 };

/** Teacher from scratch: SGD 0.05, momentum 0.9, wd 1e-4, batch 32, lr ×0.1 at 75 % of the run. */
export const VOC_SCRATCH_TEACHER_RECIPE: TrainRecipe = {
  epochs: 30, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [22], augment: VOC_SCRATCH_AUGMENT,
};

/** Head dropout of a from-scratch VOC teacher and its students. */
export const VOC_SCRATCH_DROPOUT = 0;

/** KD students: the teacher's optimiser settings (with momentum, unlike the spec's C6), β warmed up over half the run. */
export const VOC_SCRATCH_KD_RECIPE: KdRecipe = {
  ...VOC_SCRATCH_TEACHER_RECIPE, kd: { alpha: 0.9, temperature: 4 }, betaWarmupFraction: 0.5,
};

/** Pruning fine-tuning: constant lr 5e-3 (the teacher's late-schedule lr), momentum 0.9, wd 5e-4, batch 32. */
export const VOC_SCRATCH_PRUNE_RECIPE: TrainRecipe = {
  epochs: 8, batchSize: 32, lr: 5e-3, momentum: 0.9, weightDecay: 5e-4, lrMilestones: [], augment: VOC_SCRATCH_AUGMENT,
};
