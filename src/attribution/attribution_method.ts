/**
 * The one contract every attribution method implements, plus the helpers they share.
 *
 * A method is bound to its (validated, JSON-round-trippable) config at construction; the network
 * is an argument of `attribute`, so one method object explains teacher and student alike.
 * Every method runs the network in inference mode (BN running statistics, dropout = identity),
 * reads its weights without changing them, treats the images of a batch independently (the map
 * of an image does not depend on the rest of the batch) and returns tensors that the caller owns
 * (`disposeAttribution`). The registry that resolves `--attribution gradcam,lrp,…` is in
 * `registry.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';

/** Registered method names (the CLI's `--attribution` values). */
export type AttributionKind =
  | 'gradcam' | 'lrp' | 'rap' | 'ebp' | 'ig' | 'smoothgrad' | 'gradxinput';

/**
 * - 'layer': a map at an inner layer, upsampled (Grad-CAM, EBP);
 * - 'relevance': an explicit top-down pass to the input (LRP, RAP);
 * - 'gradient': input gradients (Integrated Gradients, SmoothGrad, Gradient × Input).
 */
export type AttributionFamily = 'layer' | 'relevance' | 'gradient';

export interface AttributionResult {
  /** [N, H, W] at the network's input resolution, one map per image. Caller disposes. */
  readonly maps: tf.Tensor3D;
  /** [N, h, w] before upsampling, for methods with a coarser native map (Grad-CAM, EBP). */
  readonly native?: tf.Tensor3D;
  /** z_c: the logit of each image's target class (inference mode). */
  readonly targetLogit: Float32Array;
  /** All logits, row-major [N × numClasses]. */
  readonly logits: Float32Array;
  /**
   * LRP and RAP: per image, the input relevance summed over pixels and channels before the sign
   * flip and clipping (conservation: equals z_c on a bias-free network).
   */
  readonly relevanceSum?: Float32Array;
}

export interface AttributionMethod {
  readonly kind: AttributionKind;
  readonly family: AttributionFamily;
  /** The validated config with every default filled in; `makeAttribution(kind, getConfig())` rebuilds it. */
  getConfig(): Record<string, unknown>;
  /**
   * Maps for `images` (normalised NHWC, the network's input size) and one target class per
   * image. Inference mode; never changes `net`; images are independent; no tensors leak.
   */
  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult;
}

/** Disposes every tensor of a result. */
export function disposeAttribution(r: AttributionResult): void {
  tf.dispose(r.maps);
  if (r.native) tf.dispose(r.native);
}

/** Input normalisation x = (u − mean)/std of [0,1] pixels u, for options that need pixel values. */
export const NormalizationSchema = z.object({
  /** Per-channel mean of [0,1] pixels. */
  mean: z.array(z.number()).length(3),
  /** Per-channel standard deviation (positive). */
  std: z.array(z.number().positive()).length(3),
}).strict();

/** Parses a method config, naming the method and the offending field on failure. */
export function parseConfig<S extends z.ZodTypeAny>(kind: string, schema: S, cfg: unknown): z.infer<S> {
  const r = schema.safeParse(cfg ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`);
    throw new Error(`${kind}: invalid config: ${issues.join('; ')}`);
  }
  return r.data;
}

/** Checks `images` and `classIndices` against the network; throws naming the argument. */
export function checkAttributeArgs(kind: string, net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): void {
  const [h, w] = net.inputSize;
  if (images.rank !== 4 || images.shape[1] !== h || images.shape[2] !== w || images.shape[3] !== 3) {
    throw new Error(`${kind}.attribute: images must be [N, ${h}, ${w}, 3], got [${images.shape}]`);
  }
  if (classIndices.length !== images.shape[0]) {
    throw new Error(`${kind}.attribute: classIndices has ${classIndices.length} entries for ${images.shape[0]} images`);
  }
  const k = net.numClasses;
  for (const c of classIndices) {
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new Error(`${kind}.attribute: class index ${c} is not an integer in [0, ${k})`);
    }
  }
}

/** One-hot [N, K] of the target classes. */
export function oneHotTargets(classIndices: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(classIndices), 'int32'), numClasses), 'float32') as tf.Tensor2D);
}

/** Per-image z_c from logits [N, K] and a one-hot [N, K]: a [N] tensor. */
export function selectTargets(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, oneHot), 1) as tf.Tensor1D;
}

/** Reads logits to host arrays for the result (small; one sync per call). */
export function logitsToHost(logits: tf.Tensor2D, classIndices: readonly number[]): { logits: Float32Array; targetLogit: Float32Array } {
  const all = Float32Array.from(logits.dataSync());
  const k = logits.shape[1];
  return { logits: all, targetLogit: Float32Array.from(classIndices, (c, n) => all[n * k + c]) };
}

/** `a / b` where `b ≠ 0`, else 0 (spec §0 `sdiv`); broadcasting. */
export function sdiv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.divNoNan(a, b);
}
