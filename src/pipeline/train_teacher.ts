/** Trains a teacher from scratch: the library function behind `apc train` and `apc run`'s first stage. */
import type { Dataset } from '../data/dataset.js';
import { VggNet } from '../models/vgg.js';
import type { VggConfig } from '../models/vgg_config.js';
import { DEFAULT_AUGMENT } from '../train/batches.js';
import { labelObjective } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';
import { type StageResult, type TrainRecipe, trainToCheckpoints } from './train_to_checkpoints.js';

/** Teacher recipe for the 64×64 shapes presets (chosen by measurement; see README). */
export const SHAPES_TEACHER_RECIPE: TrainRecipe = {
  epochs: 8, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 1e-4,
  lrMilestones: [6], augment: DEFAULT_AUGMENT,
};

export interface TrainTeacherOptions {
  data: Dataset;
  config: VggConfig;
  recipe: TrainRecipe;
  seed: number;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  provenance?: Record<string, unknown>;
}

export function trainTeacher(opts: TrainTeacherOptions): Promise<StageResult> {
  return trainToCheckpoints({
    ...opts, label: 'teacher', meta: { kind: 'teacher', compression: 'none' },
    createNet: () => VggNet.create(opts.config, opts.seed),
    objective: () => labelObjective(multiLabelSoftMargin),
  });
}
