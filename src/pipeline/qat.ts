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
import { type StageResult, type TrainRecipe, trainToCheckpoints } from './train_to_checkpoints.js';

/** What a QAT checkpoint's apc.json records under `quantization`. */
export const QAT_QUANTIZATION = 'uint8';

export interface QatOptions extends CompressionStageOptions {
  /** Fine-tuning recipe (the dataset's pruning fine-tuning recipe by default in the CLI). */
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
