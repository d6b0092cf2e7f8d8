/**
 * Per-op rules of the explicit matching backward (graph.md §4, last column): for each op kind,
 * the input gradients given the output gradient, as differentiable expressions of the weights,
 * the output gradient and captured forward activations, plus which activations it reads. One
 * table over every op kind, as `ops/index.ts`'s `OPS` (the compiler checks none is missing).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NodeOf, OpKind } from '../models/graph/graph_spec.js';
import { kernelSuffix } from '../models/graph/ops/conv2d.js';
import type { Shape } from '../models/graph/op.js';
import { batchNormTrainBackward } from './explicit_backward.js';
import { avgPoolInputGradient, convInputGradient, maxPoolInputGradient } from './window_backward.js';

/** What one node's backward may read. */
export interface BackwardContext {
  /** Whether the forward ran in training mode (BN batch statistics, active dropout). */
  readonly training: boolean;
  /** The node's weight `<node>/<suffix>`. */
  weight(suffix: string): tf.Tensor;
  /** A captured activation (one that `captures` named). */
  activation(name: string): tf.Tensor;
  /** Per-sample shapes of the node's inputs. */
  readonly inputShapes: readonly Shape[];
  /** The multiplier this dropout node applies to the gradient; null = D ≡ 1. */
  dropoutMask(): tf.Tensor | null;
}

export interface OpBackward<K extends OpKind> {
  /** Activations (node names) the backward reads, besides weights. */
  captures?(node: NodeOf<K>, training: boolean): string[];
  /** One gradient per input (the same tensor may serve several inputs). */
  backward(node: NodeOf<K>, dy: tf.Tensor, ctx: BackwardContext): tf.Tensor[];
}

const passThrough = { backward: (_n: unknown, dy: tf.Tensor) => [dy] };

/** 0/1 mask of lo < y < hi, from the output y (equivalent to the input's for clip and ReLU). */
function openInterval(y: tf.Tensor, lo: number, hi: number): tf.Tensor {
  return tf.mul(tf.step(tf.sub(y, lo)), tf.step(tf.sub(hi, y)));
}

export const OP_BACKWARD: { readonly [K in OpKind]: OpBackward<K> } = {
  dense: { backward: (_n, dy, ctx) => [tf.matMul(dy as tf.Tensor2D, ctx.weight('kernel') as tf.Tensor2D, false, true)] },
  flatten: { backward: (_n, dy, ctx) => [tf.reshape(dy, [dy.shape[0], ...ctx.inputShapes[0]])] },
  dropout: {
    // training mode: the input and output, from which a mask nobody handed over is recovered
    captures: (n, training) => (training && n.rate > 0 ? [n.inputs[0], n.name] : []),
    backward(_n, dy, ctx) {
      const mask = ctx.dropoutMask();
      return [mask ? tf.mul(dy, tf.reshape(mask, dy.shape)) : dy];
    },
  },
  identity: passThrough,
  relu: {
    captures: (n) => [n.name],
    backward: (n, dy, ctx) => [tf.mul(dy, tf.step(ctx.activation(n.name)))],
  },
  clip: {
    captures: (n) => [n.name],
    backward: (n, dy, ctx) => [tf.mul(dy, openInterval(ctx.activation(n.name), n.min, n.max))],
  },
  batchNorm: {
    captures: (n, training) => (training ? [n.inputs[0]] : []),
    backward(n, dy, ctx) {
      const gamma = ctx.weight('gamma') as tf.Tensor1D;
      if (!ctx.training) return [tf.mul(dy, tf.div(gamma, tf.sqrt(tf.add(ctx.weight('moving_variance'), n.epsilon))))];
      const x = ctx.activation(n.inputs[0]);
      if (x.rank === 4) return [batchNormTrainBackward(dy as tf.Tensor4D, x as tf.Tensor4D, gamma, n.epsilon)];
      // a BN over vectors [B, C]: the same formula with N·1·1 positions
      const as4d = (t: tf.Tensor) => tf.reshape(t, [t.shape[0], 1, 1, t.shape[1]!]) as tf.Tensor4D;
      return [tf.reshape(batchNormTrainBackward(as4d(dy), as4d(x), gamma, n.epsilon), dy.shape)];
    },
  },
  conv2d: {
    backward: (n, dy, ctx) => [convInputGradient(dy as tf.Tensor4D, ctx.weight(kernelSuffix(n)) as tf.Tensor4D, n, ctx.inputShapes[0])],
  },
  maxPool: {
    captures: (n) => [n.inputs[0]],
    backward: (n, dy, ctx) => [maxPoolInputGradient(dy as tf.Tensor4D, ctx.activation(n.inputs[0]) as tf.Tensor4D, n)],
  },
  avgPool: { backward: (n, dy, ctx) => [avgPoolInputGradient(dy as tf.Tensor4D, n, ctx.inputShapes[0])] },
  globalAvgPool: {
    backward(_n, dy, ctx) {
      const [h, w, c] = ctx.inputShapes[0];
      return [tf.mul(tf.reshape(dy, [dy.shape[0], 1, 1, c]), tf.fill([1, h, w, 1], 1 / (h * w)))];
    },
  },
  pad: {
    backward(n, dy, ctx) {
      const [h, w, c] = ctx.inputShapes[0];
      return [tf.slice(dy, [0, n.pads[0], n.pads[2], 0], [dy.shape[0], h, w, c])];
    },
  },
  add: { backward: (n, dy) => n.inputs.map(() => dy) },
  concat: { backward: (_n, dy, ctx) => tf.split(dy, ctx.inputShapes.map((s) => s[s.length - 1]), -1) },
};
