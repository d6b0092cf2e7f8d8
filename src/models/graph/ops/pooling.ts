/**
 * Pooling: maxPool (padding is −∞: padded cells never win), avgPool (PyTorch's count_include_pad
 * or TF's count of real pixels only) and globalAvgPool ([H, W, C] → [C]).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { kerasPadding, pair } from '../keras_layers.js';
import type { AvgPoolNode, MaxPoolNode } from '../graph_spec.js';
import { type OpDef, PASS_CHANNELS, type Shape } from '../op.js';
import { isZeroPads, tfPadding, windowOutput } from '../padding.js';

/** The lowest float32: a finite −∞ for max-pool padding (∞ would give 0·∞ = NaN in backward masks). */
export const MAX_POOL_PAD_VALUE = -3.4028234663852886e38;

function poolShape(op: string, node: MaxPoolNode | AvgPoolNode, input: Shape): Shape {
  if (input.length !== 3) throw new Error(`${op} needs an [H, W, C] input, got [${input}]`);
  const [h, w, c] = input;
  const [t, b, l, r] = node.pads;
  const [kh, kw] = node.poolSize;
  if (t >= kh || b >= kh || l >= kw || r >= kw) throw new Error(`${op} pads [${node.pads}] must be smaller than the ${kh}×${kw} window`);
  const oh = windowOutput(h, kh, node.strides[0], 1, t, b);
  const ow = windowOutput(w, kw, node.strides[1], 1, l, r);
  if (oh < 1 || ow < 1) throw new Error(`a ${kh}×${kw} ${op} over a ${h}×${w} input leaves no output`);
  return [oh, ow, c];
}

function padNhwc(x: tf.Tensor4D, pads: readonly number[], value: number): tf.Tensor4D {
  return tf.pad(x, [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]], value);
}

export const maxPoolOp: OpDef<'maxPool'> = {
  kind: 'maxPool',
  outputShape: (n, [input]) => poolShape('maxPool', n, input),
  channels: () => PASS_CHANNELS,
  forward(n, [input]) {
    const x = input as tf.Tensor4D;
    const pad = tfPadding(n.pads, x.shape[1], x.shape[2], n.poolSize, n.strides);
    // 'same' and 'valid' pool kernels skip out-of-range cells (−∞ semantics); other pads explicitly
    if (pad === 'same' || pad === 'valid') return tf.maxPool(x, n.poolSize, n.strides, pad);
    return tf.maxPool(padNhwc(x, n.pads, MAX_POOL_PAD_VALUE), n.poolSize, n.strides, 'valid');
  },
  keras(n, [input], ctx) {
    // zero padding equals −∞ padding only when no input value is negative
    const { x, padding } = kerasPadding(n.name, input, ctx.inputShapes[0], n.pads, n.poolSize, n.strides, [1, 1], ctx.nonNegativeInput(0),
      `a padded max-pool whose input can be negative has no exact Keras form (Keras pads with zeros, the pool needs −∞)`);
    return tfl.layers.maxPooling2d({ name: n.name, poolSize: pair(n.poolSize), strides: pair(n.strides), padding }).apply(x) as SymbolicTensor;
  },
  keepsNonNegative: () => true,
};

export const avgPoolOp: OpDef<'avgPool'> = {
  kind: 'avgPool',
  outputShape: (n, [input]) => poolShape('avgPool', n, input),
  channels: () => PASS_CHANNELS,
  forward(n, [input]) {
    const x = input as tf.Tensor4D;
    if (isZeroPads(n.pads)) return tf.avgPool(x, n.poolSize, n.strides, 'valid');
    // Not tf.avgPool(…, 'same') even where it would fit: its forward excludes padded cells from the
    // count, but tfjs's registered AvgPoolGrad divides by the full window, so training would get a
    // wrong gradient at the borders. Padding explicitly keeps forward and gradient consistent.
    const summed = tf.avgPool(padNhwc(x, n.pads, 0), n.poolSize, n.strides, 'valid');
    if (n.countIncludePad) return summed;
    // mean over real pixels only: rescale by window size / number of real pixels in the window
    const ones = padNhwc(tf.ones([1, x.shape[1], x.shape[2], 1]), n.pads, 0);
    const real = tf.avgPool(ones, n.poolSize, n.strides, 'valid');
    return tf.div(summed, real);
  },
  keras(n, [input], ctx) {
    const p = tfPadding(n.pads, ctx.inputShapes[0][0], ctx.inputShapes[0][1], n.poolSize, n.strides);
    if (p === 'same' && n.countIncludePad) throw new Error(`node '${n.name}': an average pool that counts padded zeros as 'same' has no Keras form (Keras 'same' excludes them)`);
    const { x, padding } = p === 'same' ? { x: input, padding: 'same' as const }
      : kerasPadding(n.name, input, ctx.inputShapes[0], n.pads, n.poolSize, n.strides, [1, 1], n.countIncludePad,
        `an average pool over explicit pads that excludes them has no Keras form`);
    return tfl.layers.averagePooling2d({ name: n.name, poolSize: pair(n.poolSize), strides: pair(n.strides), padding }).apply(x) as SymbolicTensor;
  },
  keepsNonNegative: () => true,
};

export const globalAvgPoolOp: OpDef<'globalAvgPool'> = {
  kind: 'globalAvgPool',
  outputShape(_n, [input]) {
    if (input.length !== 3) throw new Error(`globalAvgPool needs an [H, W, C] input, got [${input}]`);
    return [input[2]];
  },
  forward: (_n, [x]) => tf.mean(x, [1, 2]),
  channels: () => PASS_CHANNELS,
  keras: (n, [x]) => tfl.layers.globalAveragePooling2d({ name: n.name }).apply(x) as SymbolicTensor,
  keepsNonNegative: () => true,
};
