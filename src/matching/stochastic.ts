/**
 * Stochastic matching (method spec §5): a random set E of teacher channels is left out of the
 * teacher's collapsed map. Only the teacher's α is masked; the student's map, the logits and the
 * KD term never see E. EWA ignores it (§4).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/random.js';

/** Channels left out of the teacher's map for one batch. */
export interface DroppedChannels {
  /** 'batch' (default): one set E for all samples; 'sample' (extension): one set per sample. */
  readonly scope: 'batch' | 'sample';
  /** Teacher channel count C_T at the matched layer. */
  readonly total: number;
  /** Ascending distinct channel ids: one list ('batch') or one list per sample ('sample'). */
  readonly channels: readonly (readonly number[])[];
}

/**
 * |E| = ⌊p·C_T⌋. A relative slack of 1e-9 keeps products such as 0.29·100 = 28.999999999999996
 * from losing a channel to floating-point rounding.
 */
export function droppedChannelCount(channels: number, p: number): number {
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`droppedChannelCount: channels must be a positive integer, got ${channels}`);
  if (!(p >= 0 && p < 1)) throw new Error(`droppedChannelCount: p must lie in [0, 1), got ${p}`);
  return Math.floor(p * channels * (1 + 1e-9));
}

/**
 * Draws E uniformly without replacement: once for the batch (scope 'batch') or once per sample
 * (scope 'sample', `batch` draws). Advances `rng`.
 */
export function drawDroppedChannels(channels: number, p: number, rng: Rng,
  scope: 'batch' | 'sample' = 'batch', batch = 1): DroppedChannels {
  const count = droppedChannelCount(channels, p);
  const draws = scope === 'batch' ? 1 : batch;
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`drawDroppedChannels: batch must be a positive integer, got ${batch}`);
  const lists: number[][] = [];
  for (let i = 0; i < draws; i++) lists.push(rng.sampleWithoutReplacement(channels, count));
  return { scope, total: channels, channels: lists };
}

/**
 * 0/1 keep mask (0 at dropped channels): [1, C] for scope 'batch' (broadcasts over the batch),
 * [batch, C] for scope 'sample'. Caller owns the tensor.
 */
export function channelKeepMask(dropped: DroppedChannels, batch: number): tf.Tensor2D {
  const rows = dropped.scope === 'batch' ? 1 : batch;
  if (dropped.scope === 'sample' && dropped.channels.length !== batch) {
    throw new Error(`channelKeepMask: ${dropped.channels.length} per-sample channel lists for a batch of ${batch}`);
  }
  const values = new Float32Array(rows * dropped.total).fill(1);
  for (let r = 0; r < rows; r++) {
    for (const k of dropped.channels[r]) {
      if (!Number.isInteger(k) || k < 0 || k >= dropped.total) throw new Error(`channelKeepMask: channel ${k} outside [0, ${dropped.total})`);
      values[r * dropped.total + k] = 0;
    }
  }
  return tf.tensor2d(values, [rows, dropped.total]);
}
