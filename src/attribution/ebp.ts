/**
 * Excitation Backprop, W⁺ rule (attribution spec §4): marginal winning probabilities from
 * P_out = onehot(c) (value 1) through the dense layer, the flatten and the last max-pool
 * (gradient routing), read out at the Grad-CAM layer: map = max(Σ_k E_k, 0), upsampled like
 * Grad-CAM. Option `contrastive` (Zhang et al.'s c-MWP, not in the reference): subtract the
 * map of the dual unit whose dense weights are negated, before the channel sum's clipping.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, oneHotTargets, parseConfig,
} from './attribution_method.js';
import { ForwardTrace, isChainNet } from './forward_trace.js';
import { graphRelevancePass } from './graph_relevance.js';
import { GraphTrace } from './graph_trace.js';
import { type Composite, type RelevanceRule, argmaxRouting, relevancePass, unflatten } from './relevance.js';
import { upsampleBilinear } from './upsample.js';

export const EbpConfigSchema = z.object({
  /** c-EBP: E(c) − E(dual of c), the dual using −K at the dense layer (Zhang et al. 2016). Default false. */
  contrastive: z.boolean().default(false),
  /** Read-out node (a feature map); default the network's Grad-CAM layer (`gradCamLayer`, VGG: the last ReLU). */
  layer: z.string().min(1).optional(),
}).strict();
export type EbpConfig = z.infer<typeof EbpConfigSchema>;

/** Added to o⁺ as in the reference. */
export const EBP_EPSILON = 1e-10;

/**
 * Dense W⁺ rule: P_j = x_j · Σ_c K⁺[j,c] · P_c / (o⁺_c + 1e-10), o⁺_c = Σ_i x_i K⁺[i,c];
 * terms with o⁺_c ≤ 0 are 0. `negate` uses −K (the contrastive dual).
 */
export function ebpDense(negate = false): RelevanceRule {
  return {
    kind: negate ? 'ebpDenseDual' : 'ebpDense',
    propagate: (e, p) => {
      if (e.layer.kind !== 'dense') throw new Error(`ebpDense: layer '${e.layer.name}' is not dense`);
      const kp = tf.relu(negate ? tf.neg(e.layer.kernel) : e.layer.kernel) as tf.Tensor2D;
      const x = e.input as tf.Tensor2D;
      const o = tf.matMul(x, kp);
      const s = tf.where(tf.greater(o, 0), tf.div(p, tf.add(o, EBP_EPSILON)), tf.zerosLike(o)) as tf.Tensor2D;
      return tf.mul(x, tf.matMul(s, kp, false, true));
    },
  };
}

function ebpComposite(negate: boolean): Composite {
  const dense = ebpDense(negate);
  return {
    kind: negate ? 'ebpDual' : 'ebp',
    ruleFor: (e) => {
      switch (e.layer.kind) {
        case 'dense': return dense;
        case 'flatten': return unflatten;
        case 'maxPool': return argmaxRouting;
        default: throw new Error(`ebp: no rule below the read-out layer (reached '${e.layer.name}')`);
      }
    },
  };
}

/**
 * EBP on any graph (`graphRelevancePass` with EBP's rules, graph.md §4), read out at `layer`:
 * map = max(Σ_k E_k, 0), upsampled like Grad-CAM.
 */
export function graphEbp(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], layer: string, contrastive = false): AttributionResult {
  return tf.tidy(() => {
    const trace = GraphTrace.run(net, images);
    const oneHot = oneHotTargets(classIndices, net.numClasses);
    let e = graphRelevancePass({ method: 'ebp', trace }, oneHot, { until: layer }).relevance;
    if (contrastive) e = tf.sub(e, graphRelevancePass({ method: 'ebp', trace, negateOutput: true }, oneHot, { until: layer }).relevance);
    const native = tf.relu(tf.sum(e, 3)) as tf.Tensor3D;
    const maps = upsampleBilinear(native, net.inputSize);
    return { maps, native, ...logitsToHost(trace.logits, classIndices) };
  });
}

export class Ebp implements AttributionMethod {
  readonly kind = 'ebp' as const;
  readonly family = 'layer' as const;
  readonly config: EbpConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('ebp', EbpConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    const layer = this.config.layer ?? net.gradCamLayer;
    if (net.activationShape(layer).length !== 3) throw new Error(`ebp: layer '${layer}' output is not a feature map`);
    if (layer !== net.gradCamLayer || !isChainNet(net)) return graphEbp(net, images, classIndices, layer, this.config.contrastive);
    return tf.tidy(() => {
      const trace = ForwardTrace.ofNet(net, images, { argmaxMasks: [net.matchLayer] });
      const oneHot = oneHotTargets(classIndices, net.numClasses);
      const until = net.gradCamLayer;
      let e = relevancePass(trace, ebpComposite(false), oneHot, { until }).relevance;
      if (this.config.contrastive) e = tf.sub(e, relevancePass(trace, ebpComposite(true), oneHot, { until }).relevance);
      const native = tf.relu(tf.sum(e, 3)) as tf.Tensor3D;
      const maps = upsampleBilinear(native, net.inputSize);
      return { maps, native, ...logitsToHost(trace.logits, classIndices) };
    });
  }
}
