/**
 * Shared driver of every training stage (teacher, distillation, pruning fine-tuning): resume from
 * OUT/last, run `fit` with val mAP selection, write OUT/last every epoch (with optimizer state)
 * and OUT/best on improvement, and return the best network.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import { currentBackend } from '../engine/backend.js';
import { recoverDirectory, replaceDirectory } from '../engine/files.js';
import { InterruptedError, interruptSignal } from '../engine/interrupt.js';
import { evaluatePredictions } from '../eval/collect_logits.js';
import { checkpointPaths } from '../models/checkpoint_io.js';
import { loadNet, loadOptimizerState, saveNet } from '../models/checkpoint.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { modelStats } from '../models/accounting.js';
import type { AugmentOptions } from '../train/batches.js';
import { fit, type Objective, type TrainState } from '../train/fit.js';
import type { NonFinitePolicy } from '../train/non_finite.js';
import type { SgdMomentum } from '../train/sgd.js';
import { APC_VERSION } from '../version.js';

/** SGD recipe of one training stage. */
export interface TrainRecipe {
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

/** Scales a recipe's schedule to another epoch count, keeping its shape. */
export function withEpochs<R extends TrainRecipe>(recipe: R, epochs: number | undefined): R {
  if (!epochs || epochs === recipe.epochs) return recipe;
  return { ...recipe, epochs, lrMilestones: recipe.lrMilestones.map((m) => Math.round((m / recipe.epochs) * epochs)) };
}

export interface StageOptions {
  data: Dataset;
  outDir: string;
  seed: number;
  recipe: TrainRecipe;
  /** Fresh network when not resuming (the stage may start from a copy of another). */
  createNet: () => GraphNet;
  objective: (net: GraphNet) => Objective;
  /** Stage-specific metadata for apc.json (kind, compression, matching …). */
  meta: Record<string, unknown>;
  resume?: boolean;
  quiet?: boolean;
  label: string;
  provenance?: Record<string, unknown>;
  /**
   * Builds the optimizer `fit` uses, given the network actually trained (fresh from `createNet`
   * or resumed from OUT/last), e.g. to install pruning masks keyed by ITS variable names. Give it
   * the recipe's momentum and weight decay (`fit` sets the learning rate every epoch). Default: a
   * plain SgdMomentum from the recipe. Its momentum buffers are disposed after training; masks
   * stay the caller's.
   */
  optimizer?: (net: GraphNet) => SgdMomentum;
  /** A non-finite loss or gradient: stop the stage (default) or skip the batch (bounded). */
  onNonFinite?: NonFinitePolicy;
}

export interface StageResult {
  net: GraphNet;
  state: TrainState;
  bestDir: string;
  seconds: number;
  /** Val metrics of the best epoch. */
  val: Record<string, number>;
}

export async function trainToCheckpoints(opts: StageOptions): Promise<StageResult> {
  const paths = checkpointPaths(opts.outDir);
  // a kill between the two renames of a checkpoint swap leaves only the parked old copy
  await recoverDirectory(paths.last);
  await recoverDirectory(paths.best);
  let net: GraphNet;
  let resume: { state: TrainState; optimizerState?: tf.Tensor[] } | undefined;
  if (opts.resume && existsSync(paths.last)) {
    const loaded = await loadNet(paths.last);
    net = loaded.net;
    const state = loaded.meta.trainState as TrainState | undefined;
    if (!state) throw new Error(`${paths.last}/apc.json has no trainState: it was not written by an apc training stage`);
    resume = { state, optimizerState: await loadOptimizerState(paths.last) };
    const where = state.epoch >= opts.recipe.epochs ? `complete (${state.epoch} epochs), not retrained`
      : state.step !== undefined ? `in epoch ${state.epoch + 1} after step ${state.step}` : `after epoch ${state.epoch}`;
    process.stderr.write(`${opts.label}: resuming from ${paths.last}: ${where}\n`);
  } else {
    net = opts.createNet();
  }
  const r = opts.recipe;
  const meta = (state: TrainState, which: string) => ({
    ...opts.meta, which, dataset: opts.data.info.name, classNames: opts.data.info.classNames,
    imageSize: opts.data.info.height, normalization: { mean: opts.data.info.mean, std: opts.data.info.std },
    params: modelStats(net.config).params, recipe: r, seed: opts.seed, trainState: state,
    metrics: state.history.at(-1)?.metrics ?? {},
    provenance: { apc: APC_VERSION, backend: currentBackend()?.name, savedAt: new Date().toISOString(), ...opts.provenance },
  });
  const optimizer = opts.optimizer?.(net);
  let report: Awaited<ReturnType<typeof fit>>;
  try {
    report = await fit(net, opts.objective(net), {
      optimizer,
      data: opts.data, epochs: r.epochs, batchSize: r.batchSize, seed: opts.seed,
      sgd: { lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay }, lrMilestones: r.lrMilestones,
      augment: r.augment ?? undefined, trainLimit: r.trainLimit, label: opts.label, quiet: opts.quiet, selectBy: 'mAP', resume,
      onNonFinite: opts.onNonFinite,
      evaluate: async (n) => {
        const m = await evaluatePredictions(n, opts.data, 'val', { limit: r.valLimit });
        return { mAP: m.mAP, F1: m.F1 };
      },
      checkpoint: async (which, n, state, optimizer) => {
        const buffers = which === 'last' ? optimizer.state(n.trainableVariables()) : undefined;
        const dir = which === 'best' ? paths.best : paths.last;
        try {
          // the whole directory at once: a kill mid-save leaves the previous checkpoint loadable
          await replaceDirectory(dir, (staged) => saveNet(staged, n, meta(state, which), buffers));
        } catch (err) {
          throw new Error(`${opts.label}: cannot save checkpoint ${dir} (the previous one is kept): ${(err as Error).message}`, { cause: err });
        } finally {
          if (buffers) tf.dispose(buffers);
        }
      },
    });
  } finally {
    // also when the stage fails (non-finite values, a full disk, a signal): the checkpoints stay
    optimizer?.dispose();
    net.dispose();
  }
  const signal = interruptSignal();
  if (signal) throw new InterruptedError(`${opts.label}: stopped by ${signal} after the stage completed (${paths.last}); rerun with --resume to continue`, signal);
  if (!existsSync(paths.best)) throw new Error(`${opts.label}: no epoch produced a finite val mAP, so ${paths.best} was never written`);
  const best = await loadNet(paths.best);
  return { net: best.net, state: report.state, bestDir: paths.best, seconds: report.seconds,
    val: report.state.history[report.state.bestEpoch]?.metrics ?? {} };
}
