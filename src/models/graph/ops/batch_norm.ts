/**
 * batchNorm over the last axis with its own ε and momentum (PyTorch 1e-5 / 0.1, Keras 1e-3 /
 * 0.01 in PyTorch's sense; graph.md §1). Training mode normalises with the batch statistics
 * (apc's fused kernel) and records them; inference uses the moving statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { batchNormTrain } from '../../../engine/ops/batch_norm_train.js';
import type { BatchNormNode } from '../graph_spec.js';
import type { OpDef, OpContext } from '../op.js';

export interface BatchNormParams {
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
  readonly movingMean: tf.Tensor1D;
  readonly movingVariance: tf.Tensor1D;
}

/** BN's per-channel vectors, in weight order. */
const BN_VECTORS = ['gamma', 'beta', 'moving_mean', 'moving_variance'] as const;

export function batchNormParams(ctx: Pick<OpContext, 'weight'>): BatchNormParams {
  return {
    gamma: ctx.weight('gamma') as tf.Tensor1D, beta: ctx.weight('beta') as tf.Tensor1D,
    movingMean: ctx.weight('moving_mean') as tf.Tensor1D, movingVariance: ctx.weight('moving_variance') as tf.Tensor1D,
  };
}

/**
 * Inference BN folded into the preceding conv: [W·s, (b − μ)·s + β], s = γ/√(σ² + ε) (s over
 * the output channels; a depthwise kernel [kh, kw, C, 1] scales the same way). Done on every
 * forward: measured ≈3 % of a batch-8/16 vgg16s/8 forward on wasm, too little to cache copies
 * that would have to follow every reassignment of the weights.
 */
export function foldIntoConv(kernel: tf.Tensor4D, bias: tf.Tensor1D | null, bn: BatchNormParams, eps: number, depthwise: boolean): [tf.Tensor4D, tf.Tensor1D] {
  return tf.tidy(() => {
    const s = tf.div(bn.gamma, tf.sqrt(tf.add(bn.movingVariance, eps)));
    const k = depthwise ? tf.mul(kernel, tf.reshape(s, [1, 1, -1, kernel.shape[3]])) : tf.mul(kernel, s);
    const centred = bias ? tf.sub(bias, bn.movingMean) : tf.neg(bn.movingMean);
    return [k as tf.Tensor4D, tf.add(tf.mul(centred, s), bn.beta) as tf.Tensor1D];
  });
}

export const batchNormOp: OpDef<'batchNorm'> = {
  kind: 'batchNorm',
  outputShape(_node, [input]) {
    return input;
  },
  weights(_node, [input]) {
    const c = [input[input.length - 1]];
    return [
      { suffix: 'gamma', shape: c, trainable: true, init: { kind: 'constant', value: 1 } },
      { suffix: 'beta', shape: c, trainable: true, init: { kind: 'constant', value: 0 } },
      { suffix: 'moving_mean', shape: c, trainable: false, init: { kind: 'constant', value: 0 } },
      { suffix: 'moving_variance', shape: c, trainable: false, init: { kind: 'constant', value: 1 } },
    ];
  },
  channels: () => ({ output: 'pass', outAxes: BN_VECTORS.map((suffix) => ({ suffix, axis: 0 })), inAxes: [] }),
  forward(node: BatchNormNode, [x], ctx) {
    const p = batchNormParams(ctx);
    if (ctx.training) {
      const r = batchNormTrain(x, p.gamma, p.beta, node.epsilon);
      ctx.recordBatchStat({ bn: node.name, mean: r.mean, variance: r.variance, count: x.size / x.shape[x.rank - 1] });
      return r.y;
    }
    if (x.rank === 4) return tf.batchNorm4d(x as tf.Tensor4D, p.movingMean, p.movingVariance, p.beta, p.gamma, node.epsilon);
    return tf.batchNorm(x, p.movingMean, p.movingVariance, p.beta, p.gamma, node.epsilon);
  },
  // Keras momentum is the weight of the old value: PyTorch 0.1 ↔ Keras 0.9
  keras: (n, [x]) => tfl.layers.batchNormalization({ name: n.name, axis: -1, epsilon: n.epsilon, momentum: 1 - n.momentum }).apply(x) as SymbolicTensor,
  };
