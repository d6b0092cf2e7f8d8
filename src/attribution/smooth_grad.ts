/**
 * SmoothGrad (Smilkov et al. 2017; beyond the paper's four methods): the mean of input gradients
 * over noisy copies x + ε, ε ~ N(0, σ²), σ = noiseLevel·(max x − min x) per image.
 *
 * Convention as captum's `NoiseTunnel(Saliency(model))` with its default `abs=True`: the mean of
 * |∂z_c/∂x| per channel, then summed over channels (non-negative). `absoluteGradients: false`
 * averages the signed gradients instead (signed channel sum).
 *
 * The noise is seeded and shared by the images of a batch (sample k adds the same standard
 * normal field, scaled by each image's σ), so an image's map does not depend on its batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, oneHotTargets, parseConfig,
} from './attribution_method.js';
import { Rng } from '../engine/random.js';
import { logitsFunction, weightedGradientSum } from './gradients.js';

export const SmoothGradConfigSchema = z.object({
  /** Noisy samples per image (Smilkov et al. use 50). */
  samples: z.number().int().min(1).max(4096).default(50),
  /** σ as a fraction of the image's value range max x − min x (Smilkov et al.: 10–20 %). */
  noiseLevel: z.number().min(0).default(0.15),
  /** Seed of the noise. */
  seed: z.number().int().default(0),
  /** Mean of |gradient| (captum Saliency abs=True, default) or of the signed gradient. */
  absoluteGradients: z.boolean().default(true),
  /** Gradient evaluations per batch; memory grows with it. */
  internalBatchSize: z.number().int().min(1).default(16),
}).strict();
export type SmoothGradConfig = z.infer<typeof SmoothGradConfigSchema>;

export class SmoothGrad implements AttributionMethod {
  readonly kind = 'smoothgrad' as const;
  readonly family = 'gradient' as const;
  readonly config: SmoothGradConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('smoothgrad', SmoothGradConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    return tf.tidy(() => {
      const { samples, noiseLevel, seed, absoluteGradients, internalBatchSize } = this.config;
      const [, h, w, c] = images.shape;
      const layers = logitsFunction(net);
      const oneHot = oneHotTargets(classIndices, net.numClasses);
      // tfjs treats seed 0 as "unseeded": derive a non-zero seed from ours
      const noise = tf.randomNormal([samples, h, w, c], 0, 1, 'float32', 1 + Rng.derive(seed, 'smoothgrad').nextUint32());
      const sigma = tf.mul(tf.sub(tf.max(images, [1, 2, 3], true), tf.min(images, [1, 2, 3], true)), noiseLevel);
      const mean = weightedGradientSum(layers, oneHot, {
        images: images.shape[0], points: samples, weights: new Array<number>(samples).fill(1 / samples),
        batchSize: internalBatchSize, transform: absoluteGradients ? tf.abs : undefined,
        input: (n, k) => tf.add(tf.gather(images, n), tf.mul(tf.gather(sigma, n), tf.gather(noise, k))) as tf.Tensor4D,
      });
      const maps = tf.sum(mean, 3) as tf.Tensor3D;
      const logits = layers(images) as tf.Tensor2D;
      return { maps, ...logitsToHost(logits, classIndices) };
    });
  }
}
