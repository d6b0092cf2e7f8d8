/**
 * Quantisation-aware fine-tuning (`apc compress --method qat [--match wcam]`): the student is a
 * copy of the teacher whose forward sees every weight as the uint8 TF.js export stores it
 * (compress/fake_quant.ts, straight-through gradients), trained with the pruning fine-tuning loss
 * L = L_BCE + β·L_AM against the frozen float teacher (β = 0 without matching). Each epoch's val
 * mAP is that of the fake-quantised network, i.e. of the uint8 export, so OUT/best is the best
 * shipped model. Checkpoints hold the float weights; apc.json records `quantization: 'uint8'`, and
 * `loadModel` / `apc export` read such a checkpoint as its uint8 model.
 */
import { compressionObjective } from '../compress/objective.js';
import { UINT8_FAKE_QUANT } from '../models/export/fake_quant.js';
import type { CompressionStageOptions } from './compress.js';
import type { DatasetRecipes } from './dataset_presets.js';
import { SHAPES_PRUNE_RECIPE } from './prune.js';
import { type StageResult, type TrainRecipe, trainToCheckpoints } from './train_to_checkpoints.js';

/**
 * A dataset's QAT fine-tuning recipe: its pruning fine-tuning recipe with a fifth of the learning
 * rate and the teacher's augmentation and weight decay — QAT nudges a converged model. On shapes
 * the pruning recipe as is (lr 5e-3 with the crop augmentation the teacher never saw) took the
 * quick study teacher (float val mAP 90.5, its uint8 export as good) to a uint8 val mAP of 77.0 in
 * one epoch; this recipe gave 90.5 after 32 steps.
 */
export function qatRecipe(recipes: DatasetRecipes): TrainRecipe {
  const base = recipes.prune ?? SHAPES_PRUNE_RECIPE;
  return { ...base, lr: base.lr / 5, weightDecay: recipes.teacher.weightDecay, augment: recipes.teacher.augment };
}

/** What a QAT checkpoint's apc.json records under `quantization`. */
export const QAT_QUANTIZATION = 'uint8';

export interface QatOptions extends CompressionStageOptions {
  /** Fine-tuning recipe (`qatRecipe` of the dataset in the CLI). */
  recipe: TrainRecipe;
}

export function quantizationAwareFineTune(opts: QatOptions): Promise<StageResult> {
  return trainToCheckpoints({
    ...opts, label: opts.label ?? `qat+${opts.matching.kind}`,
    meta: { kind: 'student', compression: 'qat', quantization: QAT_QUANTIZATION, matching: opts.matching, teacher: opts.teacherDir },
    createNet: () => opts.teacher.clone(),
    weightView: UINT8_FAKE_QUANT,
    objective: () => compressionObjective({ teacher: opts.teacher, matching: opts.matching }),
  });
}
