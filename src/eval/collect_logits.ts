/** Runs a network in inference mode over a dataset split and collects logits and labels. */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, SplitName } from '../data/dataset.js';
import type { VggNet } from '../models/vgg.js';
import { evalBatches } from '../train/batches.js';
import { type PredictionMetrics, predictionMetrics } from './prediction_metrics.js';

export interface SplitLogits {
  readonly logits: Float32Array;
  readonly labels: Float32Array;
  readonly numImages: number;
  readonly numClasses: number;
}

export async function collectLogits(net: VggNet, data: Dataset, split: SplitName, opts: { batchSize?: number; limit?: number } = {}): Promise<SplitLogits> {
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
  return { logits, labels, numImages: n, numClasses: K };
}

/** Prediction metrics (mAP, F1 …, ×100) of a network on a split. */
export async function evaluatePredictions(net: VggNet, data: Dataset, split: SplitName, opts: { batchSize?: number; limit?: number } = {}): Promise<PredictionMetrics> {
  return predictionMetrics(await collectLogits(net, data, split, opts));
}
