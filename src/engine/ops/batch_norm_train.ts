/**
 * Training-mode BatchNorm over all axes but the last (NHWC conv maps or [N, C] dense activations):
 *
 *   μ = mean(x), σ² = mean((x−μ)²) (biased), y = γ·(x−μ)/√(σ²+ε) + β
 *
 * Differentiable through `y` with respect to x, γ and β with the exact batch-statistics backward
 * (the dependence of μ and σ² on x included). `mean` and `variance` are returned for the moving
 * averages and carry no gradient.
 *
 * Options (both exact rewrites, used by GraphNet's training forward):
 *  - `relu`: y = max(0, BN(x)) in one kernel (forward and backward), instead of BN then Relu.
 *  - `bias`: x is a conv output *without* its bias b, and the result is that of BN(x + b). A
 *    per-channel constant cancels in batch-statistics BN, so y is BN(x) and needs no add over the
 *    activations; only the reported mean is mean(x) + b (what the moving mean must track), and
 *    ∂L/∂b = Σ ∂L/∂(x+b) over N,H,W = 0 exactly (the sum of a batch-statistics BN's input
 *    gradient vanishes). b still receives that zero gradient, so an optimiser treats it exactly
 *    as before (weight decay, momentum).
 *
 * On a backend where the apc kernels `ApcBatchNormTrain` / `ApcBatchNormTrainGrad` are registered
 * (wasm, cpu — see kernels/register.ts) forward and backward are one fused kernel each; elsewhere
 * ordinary tfjs ops with the same semantics are used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ApcBatchNormTrain, ApcBatchNormTrainGrad } from '../kernels/batch_norm.js';

export interface BatchNormTrainResult<T extends tf.Tensor> {
  y: T;
  /** Batch mean per channel, shape [C]. */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel, shape [C]. */
  variance: tf.Tensor1D;
}

/** Whether the fused kernels are registered for the given (default: active) backend. */
export function hasBatchNormKernels(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(ApcBatchNormTrain, backendName) != null && tf.getKernel(ApcBatchNormTrainGrad, backendName) != null;
}

function reduceAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

function forwardOps(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const axes = reduceAxes(x.rank);
  const mean = tf.mean(x, axes);
  const xmu = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xmu), axes);
  const y = tf.add(tf.mul(tf.mul(xmu, tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
  return [y, mean, variance];
}

function backwardOps(
  dyIn: tf.Tensor, x: tf.Tensor, gamma: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, epsilon: number, y: tf.Tensor | null,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const dy = y ? tf.mul(dyIn, tf.step(y)) : dyIn;
  const axes = reduceAxes(x.rank);
  const M = x.size / x.shape[x.rank - 1];
  const inv = tf.rsqrt(tf.add(variance, epsilon));
  const xhat = tf.mul(tf.sub(x, mean), inv);
  const dbeta = tf.sum(dy, axes);
  const dgamma = tf.sum(tf.mul(dy, xhat), axes);
  const dx = tf.mul(tf.mul(gamma, inv),
    tf.sub(tf.sub(dy, tf.div(dbeta, M)), tf.mul(xhat, tf.div(dgamma, M))));
  return [dx, dgamma, dbeta];
}

export interface BatchNormTrainOptions {
  /** Fuse a ReLU after the normalisation. */
  readonly relu?: boolean;
  /** Per-channel bias that x lacks (see the header): y unchanged, mean + bias, zero gradient. */
  readonly bias?: tf.Tensor1D;
}

/**
 * Batch-statistics BatchNorm. `gamma` and `beta` have shape [C] with C = x.shape[last].
 * Allocates exactly y, mean and variance in the caller's scope (plus, under a gradient tape, the
 * tensors tfjs saves for the backward pass).
 */
export function batchNormTrain<T extends tf.Tensor>(
  x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5, opts: BatchNormTrainOptions = {},
): BatchNormTrainResult<T> {
  const C = x.shape[x.rank - 1];
  if (x.rank < 1 || gamma.size !== C || beta.size !== C) {
    throw new Error(`batchNormTrain: x ${JSON.stringify(x.shape)} needs gamma/beta of ${C} values, got ${gamma.shape} / ${beta.shape}`);
  }
  if (x.dtype !== 'float32') throw new Error(`batchNormTrain: float32 only, got ${x.dtype}`);
  const relu = opts.relu === true;
  const bias = opts.bias;
  if (bias && bias.size !== C) throw new Error(`batchNormTrain: bias of shape ${bias.shape} for ${C} channels`);
  const fused = hasBatchNormKernels();
  let keptMean: tf.Tensor | undefined;
  let keptVar: tf.Tensor | undefined;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[]; // (x, gamma, beta[, bias], save)
    const save = args[args.length - 1] as tf.GradSaveFunc;
    let [y, mean, variance] = fused
      ? tf.engine().runKernel(ApcBatchNormTrain, { x: xi, gamma: g, beta: b }, { epsilon, relu }) as tf.Tensor[]
      : forwardOps(xi, g, b, epsilon);
    if (relu && !fused) y = tf.relu(y);
    // customGrad runs this inside a tidy that keeps only `value`: keep the statistics here and
    // hand them back to the caller's scope below.
    keptMean = tf.keep(mean);
    keptVar = tf.keep(variance);
    // `save` keeps clones alive until the backward pass (gradients() disposes everything else the
    // forward pass created, x included when it is an intermediate like a conv output).
    save(relu ? [xi, g, mean, variance, y] : [xi, g, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, vs, ys] = saved;
        const [dx, dgamma, dbeta] = fused
          ? tf.engine().runKernel(ApcBatchNormTrainGrad,
            { dy, x: xs, gamma: gs, batchMean: ms, batchVariance: vs, ...(relu ? { y: ys } : {}) }, { epsilon, relu }) as tf.Tensor[]
          : tf.tidy(() => backwardOps(dy, xs, gs, ms, vs, epsilon, relu ? ys : null));
        const grads = [dx, tf.reshape(dgamma, gamma.shape), tf.reshape(dbeta, beta.shape)];
        if (bias) grads.push(tf.zeros(bias.shape));
        return grads;
      },
    };
  });
  const y = (bias ? f(x, gamma, beta, bias) : f(x, gamma, beta)) as T;
  const mean = (bias ? tf.tidy(() => tf.add(tf.reshape(keptMean!, [C]), bias)) : tf.reshape(keptMean!, [C])) as tf.Tensor1D;
  const variance = tf.reshape(keptVar!, [C]) as tf.Tensor1D;
  keptMean!.dispose();
  keptVar!.dispose();
  return { y, mean, variance };
}
