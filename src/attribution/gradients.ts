/**
 * Gradients of the target logits, for the autodiff paths (Grad-CAM's fallback, Integrated
 * Gradients, SmoothGrad, Gradient × Input).
 *
 * `@tensorflow/tfjs-core` alone registers no gradient functions (the union package does it);
 * importing `@tensorflow/tfjs-layers` (already a dependency) registers all of tfjs-core's
 * gradient configs in the global registry, so `tf.grad` works whichever entry point runs.
 */
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import { type Layer, chainLayers, runLayers } from './forward_trace.js';

/** Inference logits as a differentiable function of the input. */
export type LogitsFn = (x: tf.Tensor) => tf.Tensor;

/**
 * The network's inference logits as a function of its input: on a VGG-style chain the
 * layer-by-layer path (its conv input-gradient is apc's fast custom one), on any other graph the
 * graph executor.
 */
export function logitsFunction(net: GraphNet): LogitsFn {
  let layers: Layer[];
  try {
    layers = chainLayers(net);
  } catch {
    return (t) => net.forward(t as tf.Tensor4D).logits;
  }
  return (t) => runLayers(layers, t);
}

function asFunction(f: readonly Layer[] | LogitsFn): LogitsFn {
  return typeof f === 'function' ? f : (t) => runLayers(f, t);
}

/**
 * ∂(Σ_n z_{n,c_n})/∂x through `f` (layers or a function from x to the logits). Because the images
 * of a batch do not interact in inference mode, row n of the result is ∂z_{n,c_n}/∂x_n. Also
 * returns the logits.
 */
export function targetGradient(f: readonly Layer[] | LogitsFn, x: tf.Tensor, oneHot: tf.Tensor2D): { grad: tf.Tensor; logits: tf.Tensor2D } {
  const logitsOf = asFunction(f);
  return tf.tidy(() => {
    // dy = one-hot: the gradient of Σ logits ⊙ oneHot, with the logits as the value
    const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => logitsOf(t))([x], oneHot);
    return { grad: grads[0], logits: value as tf.Tensor2D };
  });
}

export interface GradientSumOptions {
  /** Number of images N. */
  readonly images: number;
  /** Points per image (interpolation steps, noise samples). */
  readonly points: number;
  /** Inputs whose gradients are taken, for images `n[i]` at points `k[i]` (int32 [B]) → [B,H,W,3]. */
  readonly input: (n: tf.Tensor1D, k: tf.Tensor1D) => tf.Tensor4D;
  /** Weight of point k in the sum (quadrature weight, 1/m for a mean). */
  readonly weights: readonly number[];
  /** Applied to each gradient before weighting (e.g. |·| for SmoothGrad). */
  readonly transform?: (g: tf.Tensor) => tf.Tensor;
  /** Gradient evaluations per `tf.grad` call; pairs (n, k) are cut into chunks of this size. */
  readonly batchSize: number;
}

/**
 * Σ_k w_k·T(∂z_{c_n}/∂x)(input(n, k)) for every image n: [N,H,W,3]. Points of all images are
 * batched together (chunks of `batchSize`), so the sum for an image does not depend on the others.
 */
export function weightedGradientSum(layers: readonly Layer[] | LogitsFn, oneHot: tf.Tensor2D, opts: GradientSumOptions): tf.Tensor4D {
  const total = opts.images * opts.points;
  const batch = Math.max(1, Math.floor(opts.batchSize));
  let acc: tf.Tensor4D | undefined;
  for (let start = 0; start < total; start += batch) {
    const end = Math.min(total, start + batch);
    const nIdx = Int32Array.from({ length: end - start }, (_, i) => Math.floor((start + i) / opts.points));
    const kIdx = Int32Array.from({ length: end - start }, (_, i) => (start + i) % opts.points);
    const next = tf.tidy(() => {
      const n = tf.tensor1d(nIdx, 'int32');
      const k = tf.tensor1d(kIdx, 'int32');
      let g = targetGradient(layers, opts.input(n, k), tf.gather(oneHot, n)).grad;
      if (opts.transform) g = opts.transform(g);
      // per-image weighted sum as a matMul with S[n, b] = w_{k_b}·[n_b = n] (portable: wasm has no
      // UnsortedSegmentSum)
      const sel = new Float32Array(opts.images * nIdx.length);
      nIdx.forEach((nn, b) => { sel[nn * nIdx.length + b] = opts.weights[kIdx[b]]; });
      const [, h, w, c] = g.shape;
      const flat = tf.matMul(tf.tensor2d(sel, [opts.images, nIdx.length]), tf.reshape(g, [nIdx.length, -1]));
      const part = tf.reshape(flat, [opts.images, h, w, c]) as tf.Tensor4D;
      return acc ? tf.add(acc, part) as tf.Tensor4D : part;
    });
    if (acc) acc.dispose();
    acc = next;
  }
  return acc!;
}
