/**
 * Runs a network in inference mode over a dataset split and collects logits and labels, plus the
 * split's difficult-only flags when the dataset has them (VOC), so that `predictionMetrics` of the
 * result gives the headline mAP of evaluation.md §1 (difficult-only pairs left out; `mAP_raw`,
 * per-image AP and F1 still count them as positives).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, SplitName } from '../data/dataset.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { evalBatches } from '../train/batches.js';
import { type PredictionMetrics, predictionMetrics } from './prediction_metrics.js';

export interface SplitLogits {
  readonly logits: Float32Array;
  readonly labels: Float32Array;
  readonly numImages: number;
  readonly numClasses: number;
  /** N×K difficult-only flags (`Dataset.difficultOnly`), absent when the dataset has none. */
  readonly difficultOnly?: Float32Array;
}

export async function collectLogits(net: GraphNet, data: Dataset, split: SplitName, opts: { batchSize?: number; limit?: number } = {}): Promise<SplitLogits> {
  const K = data.info.classNames.length;
  const n = Math.min(data.size(split), opts.limit ?? Infinity);
  const logits = new Float32Array(n * K);
  const labels = new Float32Array(n * K);
  for (const b of evalBatches(data, split, opts.batchSize ?? 64, n)) {
    const z = net.predict(b.x);
    logits.set(await z.data(), b.indices[0] * K);
    labels.set(await b.y.data(), b.indices[0] * K);
    tf.dispose([z, b.x, b.y]);
  }
  const flags = data.difficultOnly?.(split);
  const difficultOnly = flags ? firstRows(flags, data, split, n, K) : undefined;
  return { logits, labels, numImages: n, numClasses: K, ...(difficultOnly ? { difficultOnly } : {}) };
}

/** The first n rows of the split's difficult-only flags, checked for shape. */
function firstRows(all: Float32Array, data: Dataset, split: SplitName, n: number, K: number): Float32Array {
  if (all.length !== data.size(split) * K) {
    throw new Error(`dataset '${data.info.name}': difficultOnly('${split}') has ${all.length} values, want ${data.size(split)}×${K}`);
  }
  return all.slice(0, n * K);
}

/** Prediction metrics (mAP, F1 …, ×100) of a network on a split. */
export async function evaluatePredictions(net: GraphNet, data: Dataset, split: SplitName, opts: { batchSize?: number; limit?: number } = {}): Promise<PredictionMetrics> {
  return predictionMetrics(await collectLogits(net, data, split, opts));
}
