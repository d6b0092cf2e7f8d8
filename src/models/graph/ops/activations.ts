/** Element-wise ops without weights: relu, clip (ReLU6 is clip(0, 6)), dropout and identity. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { type OpDef, PASS_CHANNELS } from '../op.js';
import { relu6 } from '../../../engine/ops/relu6.js';

export const reluOp: OpDef<'relu'> = {
  kind: 'relu',
  outputShape: (_n, [input]) => input,
  forward: (_n, [x]) => tf.relu(x),
  channels: () => PASS_CHANNELS,
  keras: (n, [x]) => tfl.layers.activation({ name: n.name, activation: 'relu' }).apply(x) as SymbolicTensor,
  keepsNonNegative: () => true,
  outputNonNegative: () => true,
};

export const clipOp: OpDef<'clip'> = {
  kind: 'clip',
  outputShape: (_n, [input]) => input,
  // ReLU6 with apc's one-pass gradient (engine/ops/relu6.ts; same values as tf.relu6's)
  forward: (n, [x]) => (n.min === 0 && n.max === 6 ? relu6(x) : tf.clipByValue(x, n.min, n.max)),
  channels: () => PASS_CHANNELS,
  keras(n, [x]) {
    // Keras has clip(0, m) as ReLU(max_value=m); other ranges have no layer
    if (n.min !== 0) throw new Error(`node '${n.name}': clip(${n.min}, ${n.max}) has no Keras layer (only clip(0, m) = ReLU(max_value=m))`);
    return tfl.layers.reLU({ name: n.name, maxValue: n.max }).apply(x) as SymbolicTensor;
  },
  keepsNonNegative: () => true,
  outputNonNegative: (n) => n.min >= 0,
};

/**
 * Inverted dropout: training multiplies by a mask of 0 and 1/(1 − rate) drawn by the caller's
 * seeded stream (so a matching term can reuse the same mask); inference is the identity.
 */
export const dropoutOp: OpDef<'dropout'> = {
  kind: 'dropout',
  outputShape: (_n, [input]) => input,
  forward: (n, [x], ctx) => (ctx.training && n.rate > 0 ? tf.mul(x, ctx.dropoutMask(x.shape)) : x),
  channels: () => PASS_CHANNELS,
  keras: (n, [x]) => tfl.layers.dropout({ name: n.name, rate: n.rate }).apply(x) as SymbolicTensor,
  keepsNonNegative: () => true,
};

export const identityOp: OpDef<'identity'> = {
  kind: 'identity',
  outputShape: (_n, [input]) => input,
  forward: (_n, [x]) => x,
  channels: () => PASS_CHANNELS,
  keras: (n, [x]) => tfl.layers.activation({ name: n.name, activation: 'linear' }).apply(x) as SymbolicTensor,
  keepsNonNegative: () => true,
};
