/**
 * The one training loop. Teacher training, distillation and pruning fine-tuning differ only in
 * their `Objective` (which loss terms) and hooks; none of them writes its own loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import { Rng } from '../engine/random.js';
import type { BatchStat, GraphNet } from '../models/graph/graph_net.js';
import { type AugmentOptions, epochOrder, hostBatch, toTensors } from './batches.js';
import { createProgress } from './progress.js';
import { SgdMomentum, type SgdOptions, stepLr } from './sgd.js';

export interface TrainBatch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor2D;
  readonly indices: readonly number[];
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
  /** Persists 'last' after every epoch and 'best' when the selected metric strictly improves. */
  readonly checkpoint?: (which: 'last' | 'best', net: GraphNet, state: TrainState, optimizer: SgdMomentum) => Promise<void>;
  /** Continue from a saved state (net already holds the last weights). */
  readonly resume?: { state: TrainState; optimizerState?: tf.Tensor[] };
  /** Called with the gradients before the update (e.g. pruning masks) — rarely needed. */
  readonly optimizer?: SgdMomentum;
  readonly label?: string;
  readonly quiet?: boolean;
  /** Stop after this many steps in total (benchmarks, smoke tests). */
  readonly maxSteps?: number;
}

export interface FitReport {
  readonly state: TrainState;
  readonly seconds: number;
  readonly steps: number;
}

/** Trains `net` in place with SGD; returns the history. */
export async function fit(net: GraphNet, objective: Objective, opts: FitOptions): Promise<FitReport> {
  const started = Date.now();
  const vars = net.trainableVariables();
  const optimizer = opts.optimizer ?? new SgdMomentum({ ...opts.sgd });
  if (opts.resume?.optimizerState) {
    optimizer.setState(vars, opts.resume.optimizerState);
    tf.dispose(opts.resume.optimizerState);
  }
  const state: TrainState = opts.resume
    ? structuredClone(opts.resume.state)
    : { epoch: 0, bestValue: -Infinity, bestEpoch: -1, history: [] };
  const lrAt = stepLr(opts.sgd.lr, opts.lrMilestones, opts.lrGamma ?? 0.1);
  const nTrain = Math.min(opts.data.size('train'), opts.trainLimit ?? Infinity);
  if (nTrain === 0) throw new Error(`dataset '${opts.data.info.name}' has an empty train split`);
  const stepsPerEpoch = Math.ceil(nTrain / opts.batchSize);
  let totalSteps = 0;

  for (let epoch = state.epoch; epoch < opts.epochs; epoch++) {
    const epochStart = Date.now();
    optimizer.options.lr = lrAt(epoch);
    const order = epochOrder(nTrain, opts.seed, epoch);
    const progress = createProgress({ label: `${opts.label ?? 'train'} epoch ${epoch + 1}/${opts.epochs}`, total: stepsPerEpoch, quiet: opts.quiet });
    let lossSum = 0;
    const partSums: Record<string, number> = {};
    let stepMs = 0;
    let steps = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (opts.maxSteps !== undefined && totalSteps >= opts.maxSteps) break;
      const t0 = performance.now();
      const indices = Array.from(order.subarray(s * opts.batchSize, Math.min(nTrain, (s + 1) * opts.batchSize)));
      const rng = Rng.derive(opts.seed, 'step', epoch, s);
      const hb = hostBatch(opts.data, 'train', indices, opts.augment, rng);
      const { x, y } = toTensors(opts.data, hb);
      const batch: TrainBatch = { x, y, indices };
      const { loss: lossValue, parts } = await trainStep(net, objective, optimizer, vars, batch, rng);
      tf.dispose([x, y]);
      if (!Number.isFinite(lossValue)) {
        throw new Error(`training diverged at epoch ${epoch + 1}, step ${s + 1}: loss is ${lossValue} (try a lower --lr)`);
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
    progress.stop(`${opts.label ?? 'train'} epoch ${epoch + 1}/${opts.epochs}: loss ${record.trainLoss.toFixed(4)} · ${
      Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' · ')} · ${record.msPerStep.toFixed(0)} ms/step · ${record.seconds.toFixed(0)} s${improved ? ' · best' : ''}`);
    if (opts.checkpoint) {
      if (improved) await opts.checkpoint('best', net, state, optimizer);
      await opts.checkpoint('last', net, state, optimizer);
    }
    if (opts.maxSteps !== undefined && totalSteps >= opts.maxSteps) break;
  }
  if (!opts.optimizer) optimizer.dispose();
  return { state, seconds: (Date.now() - started) / 1000, steps: totalSteps };
}

/**
 * One optimisation step: objective hooks, gradients of the loss w.r.t. `vars`, the SGD update and
 * the BN moving-statistics update. Returns the loss and its parts as numbers; leaks no tensor.
 */
export async function trainStep(net: GraphNet, objective: Objective, optimizer: SgdMomentum, vars: tf.Variable[],
  batch: TrainBatch, rng: Rng): Promise<{ loss: number; parts: Record<string, number> }> {
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
  optimizer.step(vars, grads);
  net.updateMovingStatistics(kept!.stats);
  const loss = (await value.data())[0];
  const parts: Record<string, number> = {};
  for (const [k, t] of Object.entries(kept!.parts)) parts[k] = (await t.data())[0];
  tf.dispose([value, ...Object.values(grads), ...Object.values(kept!.parts), ...kept!.stats.flatMap((st) => [st.mean, st.variance])]);
  objective.afterStep?.();
  return { loss, parts };
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
