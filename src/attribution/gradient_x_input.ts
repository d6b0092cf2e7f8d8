/**
 * Gradient × Input (Shrikumar et al. 2016; beyond the paper's four methods): x ⊙ ∂z_c/∂x,
 * summed over channels. Signed by default (as captum's `InputXGradient`); `sign: 'absolute'`
 * gives |Σ_ch x ⊙ ∂z_c/∂x|. Equals Integrated Gradients with a zero baseline when the network is
 * linear along the path (bias-free ReLU networks are positively homogeneous, so then both sum to z_c).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, oneHotTargets, parseConfig,
} from './attribution_method.js';
import { logitsFunction, targetGradient } from './gradients.js';

export const GradientXInputConfigSchema = z.object({
  /** 'signed' = Σ_ch x ⊙ ∂z_c/∂x; 'absolute' = its absolute value. */
  sign: z.enum(['signed', 'absolute']).default('signed'),
}).strict();
export type GradientXInputConfig = z.infer<typeof GradientXInputConfigSchema>;

export class GradientXInput implements AttributionMethod {
  readonly kind = 'gradxinput' as const;
  readonly family = 'gradient' as const;
  readonly config: GradientXInputConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('gradxinput', GradientXInputConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    return tf.tidy(() => {
      const oneHot = oneHotTargets(classIndices, net.numClasses);
      const { grad, logits } = targetGradient(logitsFunction(net), images, oneHot);
      let maps = tf.sum(tf.mul(images, grad), 3) as tf.Tensor3D;
      if (this.config.sign === 'absolute') maps = tf.abs(maps);
      return { maps, ...logitsToHost(logits, classIndices) };
    });
  }
}
