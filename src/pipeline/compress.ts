/**
 * Compresses a teacher: the library function behind `apc compress`. Knowledge distillation
 * trains a narrower student of the same layout from scratch with the KD loss, optionally plus
 * attribution matching (method spec §6).
 */
import type { Dataset } from '../data/dataset.js';
import { compressionObjective, type KdSettings } from '../compress/objective.js';
import type { MatchingConfig } from '../matching/matching_term.js';
import { VggNet } from '../models/vgg.js';
import type { VggConfig } from '../models/vgg_config.js';
import { DEFAULT_AUGMENT } from '../train/batches.js';
import { type StageResult, type TrainRecipe, trainToCheckpoints } from './train_to_checkpoints.js';

export interface KdRecipe extends TrainRecipe {
  kd: KdSettings;
  /** Linear warm-up of β over this many steps (0 = none). */
  betaWarmupSteps: number;
}

/** KD recipe for the 64×64 shapes presets (see README for how it was chosen). */
export const SHAPES_KD_RECIPE: KdRecipe = {
  epochs: 8, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [6],
  augment: DEFAULT_AUGMENT, kd: { alpha: 0.9, temperature: 4 }, betaWarmupSteps: 0,
};

/** What every compression stage (distillation, structured and unstructured pruning) takes. */
export interface CompressionStageOptions {
  data: Dataset;
  /** The trained network: the frozen, inference-mode teacher (and, for pruning, the start). Not modified. */
  teacher: VggNet;
  /** Teacher checkpoint directory (recorded in apc.json). */
  teacherDir?: string;
  matching: MatchingConfig;
  seed: number;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  label?: string;
  provenance?: Record<string, unknown>;
}

export interface DistillOptions extends CompressionStageOptions {
  studentConfig: VggConfig;
  recipe: KdRecipe;
}

export function distill(opts: DistillOptions): Promise<StageResult> {
  const r = opts.recipe;
  return trainToCheckpoints({
    ...opts, label: opts.label ?? `kd+${opts.matching.kind}`,
    meta: { kind: 'student', compression: 'kd', matching: opts.matching, teacher: opts.teacherDir },
    createNet: () => VggNet.create(opts.studentConfig, opts.seed),
    objective: () => compressionObjective({ teacher: opts.teacher, kd: r.kd, matching: opts.matching, betaWarmupSteps: r.betaWarmupSteps }),
  });
}
