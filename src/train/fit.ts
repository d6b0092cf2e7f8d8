/**
 * The one training loop. Teacher training, distillation and pruning fine-tuning differ only in
 * their `Objective` (which loss terms) and hooks; none of them writes its own loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import { InterruptedError, interruptSignal, whileCheckpointable } from '../engine/interrupt.js';
import { Rng } from '../engine/random.js';
import type { BatchStat, GraphNet } from '../models/graph/graph_net.js';
import { type AugmentOptions, epochOrder, hostBatch, toTensors } from './batches.js';
import { DEFAULT_MAX_SKIPPED_BATCHES, NonFiniteError, type NonFinitePolicy } from './non_finite.js';
import { createProgress } from './progress.js';
import { SgdMomentum, type SgdOptions, stepLr } from './sgd.js';

export interface TrainBatch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor2D;
  readonly indices: readonly number[];
  /**
   * 0-based position of this batch in the stage (epoch × steps per epoch + step), set by `fit`:
   * schedules over steps (β warm-up) read it, so a resumed run continues them where they were.
   */
  readonly step?: number;
}

export interface LossResult {
  readonly loss: tf.Scalar;
  /** Named parts of the loss for logging (e.g. label, kd, match). */
  readonly parts: Record<string, tf.Scalar>;
  /** BN batch statistics from the training-mode forward, for the moving averages. */
  readonly stats: readonly BatchStat[];
}

export interface Objective {
  /** Work done outside the gradient tape before the step (e.g. teacher targets); disposed by `afterStep`. */
  beforeStep?(batch: TrainBatch, rng: Rng): void;
  /** The loss, computed inside the gradient tape. */
  loss(net: GraphNet, batch: TrainBatch, rng: Rng): LossResult;
  afterStep?(): void;
}

export type EpochMetrics = Record<string, number>;

export interface EpochRecord {
  readonly epoch: number;
  readonly lr: number;
  readonly trainLoss: number;
  readonly parts: Record<string, number>;
  readonly metrics: EpochMetrics;
  readonly msPerStep: number;
  readonly seconds: number;
}

/** Everything needed to resume: stored in the checkpoint metadata. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  bestValue: number;
  bestEpoch: number;
  history: EpochRecord[];
  /**
   * Set only in a checkpoint written mid-epoch (on SIGINT/SIGTERM): steps of epoch `epoch`
   * already done, and that epoch's running sums, so a resume continues at the next step.
   */
  step?: number;
  partial?: { steps: number; lossSum: number; partSums: Record<string, number>; stepMs: number };
  /** Batches skipped for a non-finite loss or gradient (`onNonFinite: 'skip-batch'`). */
  skippedBatches?: number;
}

export interface FitOptions {
  readonly data: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly sgd: SgdOptions;
  /** 0-based epochs at whose start the learning rate is multiplied by `lrGamma`. */
  readonly lrMilestones: readonly number[];
  readonly lrGamma?: number;
  readonly augment?: AugmentOptions;
  /** Use only the first N training samples (quick runs and tests). */
  readonly trainLimit?: number;
  /** Metrics after each epoch (inference mode); the key `selectBy` picks the best checkpoint. */
  readonly evaluate: (net: GraphNet, epoch: number) => Promise<EpochMetrics> | EpochMetrics;
  readonly selectBy: string;
  /**
   * Persists 'last' after every epoch and 'best' when the selected metric strictly improves;
   * also 'last' mid-epoch when a signal stops the run (`state.step` set).
   */
  readonly checkpoint?: (which: 'last' | 'best', net: GraphNet, state: TrainState, optimizer: SgdMomentum) => Promise<void>;
  /** Continue from a saved state (net already holds the last weights). */
  readonly resume?: { state: TrainState; optimizerState?: tf.Tensor[] };
  /** Called with the gradients before the update (e.g. pruning masks) — rarely needed. */
  readonly optimizer?: SgdMomentum;
  readonly label?: string;
  readonly quiet?: boolean;
  /** Stop after this many steps in total (benchmarks, smoke tests). */
  readonly maxSteps?: number;
  /** A non-finite loss or gradient: stop (default) or skip the batch, at most `maxSkippedBatches` times. */
  readonly onNonFinite?: NonFinitePolicy;
  readonly maxSkippedBatches?: number;
}

export interface FitReport {
  readonly state: TrainState;
  readonly seconds: number;
  readonly steps: number;
}

/**
 * Trains `net` in place with SGD; returns the history. Every random stream (order, augmentation,
 * dropout) is derived from (seed, epoch, step), so a run resumed from any checkpoint it wrote
 * continues bit for bit as if uninterrupted.
 */
export function fit(net: GraphNet, objective: Objective, opts: FitOptions): Promise<FitReport> {
  return whileCheckpointable(() => fitLoop(net, objective, opts));
}

async function fitLoop(net: GraphNet, objective: Objective, opts: FitOptions): Promise<FitReport> {
  const optimizer = opts.optimizer ?? new SgdMomentum({ ...opts.sgd });
  try {
    return await fitWith(net, objective, optimizer, opts);
  } finally {
    if (!opts.optimizer) optimizer.dispose();
  }
}

async function fitWith(net: GraphNet, objective: Objective, optimizer: SgdMomentum, opts: FitOptions): Promise<FitReport> {
  const started = Date.now();
  const vars = net.trainableVariables();
  if (opts.resume?.optimizerState) {
    optimizer.setState(vars, opts.resume.optimizerState);
    tf.dispose(opts.resume.optimizerState);
  }
  const state: TrainState = opts.resume
    ? structuredClone(opts.resume.state)
    : { epoch: 0, bestValue: -Infinity, bestEpoch: -1, history: [] };
  // JSON (apc.json) stores the initial -Infinity as null
  if (typeof state.bestValue !== 'number') state.bestValue = -Infinity;
  const lrAt = stepLr(opts.sgd.lr, opts.lrMilestones, opts.lrGamma ?? 0.1);
  const nTrain = Math.min(opts.data.size('train'), opts.trainLimit ?? Infinity);
  if (nTrain === 0) throw new Error(`dataset '${opts.data.info.name}' has an empty train split`);
  const stepsPerEpoch = Math.ceil(nTrain / opts.batchSize);
  let totalSteps = 0;
  const label = opts.label ?? 'train';
  const maxSkips = opts.maxSkippedBatches ?? DEFAULT_MAX_SKIPPED_BATCHES;
  if (state.step !== undefined) {
    process.stderr.write(`${label}: continuing epoch ${state.epoch + 1} at step ${state.step + 1} of ${stepsPerEpoch}\n`);
  }

  for (let epoch = state.epoch; epoch < opts.epochs; epoch++) {
    const epochStart = Date.now();
    optimizer.options.lr = lrAt(epoch);
    const order = epochOrder(nTrain, opts.seed, epoch);
    const progress = createProgress({ label: `${label} epoch ${epoch + 1}/${opts.epochs}`, total: stepsPerEpoch, quiet: opts.quiet });
    // a checkpoint written mid-epoch (on a signal) continues that epoch's step and sums
    const partial = epoch === state.epoch ? state.partial : undefined;
    const firstStep = epoch === state.epoch ? state.step ?? 0 : 0;
    delete state.step; delete state.partial;
    let lossSum = partial?.lossSum ?? 0;
    const partSums: Record<string, number> = { ...partial?.partSums };
    let stepMs = partial?.stepMs ?? 0;
    let steps = partial?.steps ?? 0;
    for (let s = firstStep; s < stepsPerEpoch; s++) {
      if (opts.maxSteps !== undefined && totalSteps >= opts.maxSteps) break;
      // let a pending SIGINT/SIGTERM handler run (the step's awaits are microtasks only)
      await new Promise((resolve) => setImmediate(resolve));
      const signal = interruptSignal();
      if (signal) {
        progress.stop();
        const at: TrainState = { ...structuredClone(state), step: s, partial: { steps, lossSum, partSums: { ...partSums }, stepMs } };
        await opts.checkpoint?.('last', net, at, optimizer);
        throw new InterruptedError(`${label}: stopped by ${signal} at epoch ${epoch + 1}, step ${s + 1} of ${stepsPerEpoch}`
          + `${opts.checkpoint ? '; checkpoint written, rerun with --resume to continue from there' : ''}`, signal);
      }
      const t0 = performance.now();
      const indices = Array.from(order.subarray(s * opts.batchSize, Math.min(nTrain, (s + 1) * opts.batchSize)));
      const rng = Rng.derive(opts.seed, 'step', epoch, s);
      const hb = hostBatch(opts.data, 'train', indices, opts.augment, rng);
      const { x, y } = toTensors(opts.data, hb);
      const batch: TrainBatch = { x, y, indices, step: epoch * stepsPerEpoch + s };
      const { loss: lossValue, parts, nonFinite } = await trainStep(net, objective, optimizer, vars, batch, rng);
      tf.dispose([x, y]);
      if (nonFinite) {
        const where = `${label}: non-finite ${nonFinite} (loss ${lossValue}) at epoch ${epoch + 1}, step ${s + 1} of ${stepsPerEpoch}, batch samples [${indices.join(', ')}]`;
        state.skippedBatches = (state.skippedBatches ?? 0) + 1;
        if (opts.onNonFinite !== 'skip-batch' || state.skippedBatches > maxSkips) {
          progress.stop();
          const why = opts.onNonFinite === 'skip-batch' ? `more than ${maxSkips} batches skipped` : '--on-nonfinite skip-batch skips such batches';
          throw new NonFiniteError(`${where}; stage stopped, the last good checkpoint is kept (${why}; or try a lower --lr)`,
            { stage: label, epoch: epoch + 1, step: s + 1, samples: indices });
        }
        process.stderr.write(`${where}: batch skipped (${state.skippedBatches} of at most ${maxSkips})\n`);
        continue;
      }
      lossSum += lossValue;
      for (const [k, v] of Object.entries(parts)) partSums[k] = (partSums[k] ?? 0) + v;
      steps++; totalSteps++;
      stepMs += performance.now() - t0;
      progress.update(steps, { loss: lossSum / steps, 'ms/step': stepMs / steps });
    }
    const metrics = await opts.evaluate(net, epoch);
    const parts: Record<string, number> = {};
    for (const [k, v] of Object.entries(partSums)) parts[k] = v / Math.max(steps, 1);
    const record: EpochRecord = {
      epoch, lr: optimizer.options.lr, trainLoss: lossSum / Math.max(steps, 1), parts, metrics,
      msPerStep: stepMs / Math.max(steps, 1), seconds: (Date.now() - epochStart) / 1000,
    };
    state.history.push(record);
    state.epoch = epoch + 1;
    const value = metrics[opts.selectBy];
    const improved = value !== undefined && value > state.bestValue;
    if (improved) { state.bestValue = value; state.bestEpoch = epoch; }
    progress.stop(`${label} epoch ${epoch + 1}/${opts.epochs}: loss ${record.trainLoss.toFixed(4)} · ${
      Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' · ')} · ${record.msPerStep.toFixed(0)} ms/step · ${record.seconds.toFixed(0)} s${improved ? ' · best' : ''}`);
    if (opts.checkpoint) {
      if (improved) await opts.checkpoint('best', net, state, optimizer);
      await opts.checkpoint('last', net, state, optimizer);
    }
    if (opts.maxSteps !== undefined && totalSteps >= opts.maxSteps) break;
  }
  if (state.skippedBatches) process.stderr.write(`${label}: ${state.skippedBatches} batch(es) skipped for a non-finite loss or gradient\n`);
  return { state, seconds: (Date.now() - started) / 1000, steps: totalSteps };
}

/**
 * One optimisation step: objective hooks, gradients of the loss w.r.t. `vars`, the SGD update and
 * the BN moving-statistics update. Returns the loss and its parts as numbers; leaks no tensor.
 * When the loss or any gradient is NaN/±Infinity nothing is updated and `nonFinite` says which.
 */
export async function trainStep(net: GraphNet, objective: Objective, optimizer: SgdMomentum, vars: tf.Variable[],
  batch: TrainBatch, rng: Rng): Promise<{ loss: number; parts: Record<string, number>; nonFinite?: 'loss' | 'gradient' }> {
  objective.beforeStep?.(batch, rng);
  let kept: LossResult | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = objective.loss(net, batch, rng);
    kept = r;
    for (const st of r.stats) { tf.keep(st.mean); tf.keep(st.variance); }
    for (const p of Object.values(r.parts)) tf.keep(p);
    return r.loss;
  }, vars);
  reportMissingGradients(vars, grads);
  // one number that is non-finite iff some gradient entry is (or their sum overflows float32)
  const gradList = Object.values(grads);
  // loss and gradient sum read back together: one device sync per step, not two
  const lossAndGradSum = tf.tidy(() => tf.stack([tf.reshape(value, []), gradList.length ? tf.addN(gradList.map((g) => tf.sum(g))) : tf.scalar(0)]));
  const [loss, gradTotal] = await lossAndGradSum.data();
  lossAndGradSum.dispose();
  const nonFinite = !Number.isFinite(loss) ? 'loss' : !Number.isFinite(gradTotal) ? 'gradient' : undefined;
  if (!nonFinite) {
    optimizer.step(vars, grads);
    net.updateMovingStatistics(kept!.stats);
  }
  const parts: Record<string, number> = {};
  for (const [k, t] of Object.entries(kept!.parts)) parts[k] = (await t.data())[0];
  tf.dispose([value, ...Object.values(grads), ...Object.values(kept!.parts), ...kept!.stats.flatMap((st) => [st.mean, st.variance])]);
  objective.afterStep?.();
  return nonFinite ? { loss, parts, nonFinite } : { loss, parts };
}

const reportedWithoutGradient = new Set<string>();

/**
 * Warns (once per variable) about trainable variables the loss gave no gradient: the optimiser
 * leaves them unchanged, which is almost always a disconnected layer rather than intent.
 * Returns the weight names without a gradient this step.
 */
export function reportMissingGradients(vars: readonly tf.Variable[], grads: tf.NamedTensorMap,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string[] {
  const without = vars.filter((v) => grads[v.name] === undefined);
  const fresh = without.filter((v) => !reportedWithoutGradient.has(v.name)).map((v) => {
    reportedWithoutGradient.add(v.name);
    return weightName(v);
  });
  if (fresh.length) warn(`apc: warning: trainable variable${fresh.length > 1 ? 's' : ''} ${fresh.map((n) => `'${n}'`).join(', ')} got no gradient from the loss and ${fresh.length > 1 ? 'are' : 'is'} not updated`);
  return without.map(weightName);
}

/** `conv1_1/kernel` for a GraphNet variable ('apc:conv1_1/kernel#12'); other names as they are. */
function weightName(v: tf.Variable): string {
  return /^apc:(.+)#\d+$/.exec(v.name)?.[1] ?? v.name;
}

/** Plain label objective: training-mode forward and multi-label soft-margin loss. */
export function labelObjective(lossFn: (logits: tf.Tensor2D, labels: tf.Tensor2D) => tf.Scalar): Objective {
  return {
    loss(net, batch, rng) {
      const f = net.forward(batch.x, { training: true, rng });
      const loss = lossFn(f.logits, batch.y);
      return { loss, parts: { label: loss }, stats: f.batchStats };
    },
  };
}
