/**
 * Trains a teacher from scratch: the library function behind `apc train` and the first stage of
 * `apc run`. Writes `OUT/last` every epoch and `OUT/best` when val mAP improves; resumes from
 * `OUT/last`.
 */
import { existsSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../engine/backend.js';
import { APC_VERSION } from '../version.js';
import { evaluatePredictions } from '../eval/collect_logits.js';
import { checkpointPaths } from '../models/checkpoint_io.js';
import { loadNet, loadOptimizerState, saveNet } from '../models/checkpoint.js';
import { VggNet } from '../models/vgg.js';
import { type VggConfig, vggParamCount } from '../models/vgg_config.js';
import { type AugmentOptions, DEFAULT_AUGMENT } from '../train/batches.js';
import { fit, labelObjective, type TrainState } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';

export interface TeacherRecipe {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** 0-based epochs at whose start lr is multiplied by 0.1. */
  lrMilestones: number[];
  augment: AugmentOptions | null;
  /** Use only the first N training images. */
  trainLimit?: number;
  /** Evaluate on at most N validation images per epoch. */
  valLimit?: number;
}

/** Teacher recipe for the 64×64 shapes presets (chosen by measurement; see README). */
export const SHAPES_TEACHER_RECIPE: TeacherRecipe = {
  epochs: 12, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
  lrMilestones: [8, 11], augment: DEFAULT_AUGMENT,
};

export interface TrainTeacherOptions {
  data: Dataset;
  config: VggConfig;
  recipe: TeacherRecipe;
  seed: number;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  /** Extra provenance (command line, preset …). */
  provenance?: Record<string, unknown>;
}

export interface TrainTeacherResult {
  net: VggNet;
  state: TrainState;
  bestDir: string;
  seconds: number;
  val: { mAP: number; F1: number };
}

export async function trainTeacher(opts: TrainTeacherOptions): Promise<TrainTeacherResult> {
  const paths = checkpointPaths(opts.outDir);
  let net: VggNet;
  let resume: { state: TrainState; optimizerState?: tf.Tensor[] } | undefined;
  if (opts.resume && existsSync(paths.last)) {
    const loaded = await loadNet(paths.last);
    net = loaded.net;
    const state = loaded.meta.trainState as TrainState | undefined;
    if (!state) throw new Error(`${paths.last}/apc.json has no trainState: it was not written by 'apc train'`);
    resume = { state, optimizerState: await loadOptimizerState(paths.last) };
    if (state.epoch >= opts.recipe.epochs) process.stderr.write(`resume: ${paths.last} already finished ${state.epoch} epochs\n`);
  } else {
    if (opts.resume) process.stderr.write(`resume: no checkpoint at ${paths.last}, starting fresh\n`);
    net = VggNet.create(opts.config, opts.seed);
  }
  const r = opts.recipe;
  const meta = (state: TrainState, which: string) => ({
    kind: 'teacher', which, dataset: opts.data.info.name, classNames: opts.data.info.classNames,
    imageSize: opts.data.info.height, normalization: { mean: opts.data.info.mean, std: opts.data.info.std },
    params: vggParamCount(net.config), recipe: r, seed: opts.seed, trainState: state,
    metrics: state.history.at(-1)?.metrics ?? {},
    provenance: { apc: APC_VERSION, backend: currentBackend()?.name, savedAt: new Date().toISOString(), ...opts.provenance },
  });
  const report = await fit(net, labelObjective(multiLabelSoftMargin), {
    data: opts.data, epochs: r.epochs, batchSize: r.batchSize, seed: opts.seed,
    sgd: { lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay }, lrMilestones: r.lrMilestones,
    augment: r.augment ?? undefined, trainLimit: r.trainLimit, label: 'teacher', quiet: opts.quiet, selectBy: 'mAP', resume,
    evaluate: async (n) => {
      const m = await evaluatePredictions(n, opts.data, 'val', { limit: r.valLimit });
      return { mAP: m.mAP, F1: m.F1 };
    },
    checkpoint: async (which, n, state, optimizer) => {
      const buffers = which === 'last' ? optimizer.state(n.trainableVariables()) : undefined;
      try {
        await saveNet(which === 'best' ? paths.best : paths.last, n, meta(state, which), buffers);
      } finally {
        if (buffers) tf.dispose(buffers);
      }
    },
  });
  net.dispose();
  const best = await loadNet(paths.best);
  const bestRecord = report.state.history[report.state.bestEpoch];
  return {
    net: best.net, state: report.state, bestDir: paths.best, seconds: report.seconds,
    val: { mAP: bestRecord?.metrics.mAP ?? NaN, F1: bestRecord?.metrics.F1 ?? NaN },
  };
}
