/**
 * VOC-format data without pretrained weights: the teacher, KD and pruning fine-tuning recipes
 * `recipesFor` picks for `voc:PATH` when the teacher was NOT started from pretrained weights (no
 * `--init`). The spec's VOC recipes (lr 0.1, batch 64, crops of 8–100 %, dropout 0.5) are the
 * reference's for fine-tuning ImageNet weights; from scratch they barely learn in a short run
 * (issue 19: VGG16/4 at 64 px, 2,000 exported images, val mAP 12 after 10 epochs, chance ≈ 10;
 * KD students with no predicted positives).
 *
 * Measured on the VOC export of shapes at 64 px (VGG16/8, first 2,000 train images, 300 val, 4
 * epochs, lr ×0.1 at epoch 3, batch 32, lr 0.05, dropout 0; 2 heavily shared cores, so short runs;
 * README "VOC from scratch"), best val mAP: no crops 36.5, crops of 50–100 % 29.8, crops of
 * 8–100 % (the spec's range) 25.8; the native shapes set with the same settings 28.7. Crops slow a
 * short from-scratch run far more than they regularise, so the teacher and KD run without them.
 */
import { DEFAULT_AUGMENT } from '../train/batches.js';
import type { KdRecipe } from './compress.js';
import type { TrainRecipe } from './train_to_checkpoints.js';

/** Teacher from scratch: SGD 0.05, momentum 0.9, wd 1e-4, batch 32, no crops, lr ×0.1 at 75 % of the run. */
export const VOC_SCRATCH_TEACHER_RECIPE: TrainRecipe = {
  epochs: 30, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [22], augment: null,
};

/** Head dropout of a from-scratch VOC teacher and its students (the shapes recipes' 0). */
export const VOC_SCRATCH_DROPOUT = 0;

/** KD students: the teacher's optimiser settings (with momentum, unlike the spec's C6), β warmed up over half the run. */
export const VOC_SCRATCH_KD_RECIPE: KdRecipe = {
  ...VOC_SCRATCH_TEACHER_RECIPE, kd: { alpha: 0.9, temperature: 4 }, betaWarmupFraction: 0.5,
};

/**
 * Pruning fine-tuning: the shapes fine-tuning recipe (constant lr 5e-3, momentum 0.9, wd 5e-4,
 * batch 32, crops of 75–100 % + flip, applied by the VOC train transform). Not separately measured.
 */
export const VOC_SCRATCH_PRUNE_RECIPE: TrainRecipe = {
  epochs: 8, batchSize: 32, lr: 5e-3, momentum: 0.9, weightDecay: 5e-4, lrMilestones: [], augment: DEFAULT_AUGMENT,
};
