/**
 * LRP with the z⁺ rule (α = 1, β = 0) and the z^B rule at the input conv (attribution spec §2).
 *
 * Start R = z_c·onehot(c) (the logit, not 1); dense and conv layers use z⁺ (bias never in a
 * denominator); max-pools route winner-take-all through the cached first arg-max; ReLU, dropout
 * and BN pass relevance through (or BN is folded into the conv before it); the input conv uses
 * z^B. The heat-map is the channel sum at the input, negated when z_c < 0, not clipped.
 *
 * A plain VGG chain runs these rules over `ForwardTrace`; any other graph (residual, depthwise …)
 * runs the same rules per op kind (`graph_rules.ts`, graph.md §4) through `graphRelevancePass`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, parseConfig, sdiv,
} from './attribution_method.js';
import { type ConvGeometry, SAME_STRIDE_1 } from './conv_geometry.js';
import { ZbConfigFields, zbBoundsOf } from './zb_config.js';
import { type BatchNormLayer, ForwardTrace, type TraceEntry, batchNormScale, isChainNet } from './forward_trace.js';
import { type GraphPassResult, graphRelevancePass } from './graph_relevance.js';
import { GraphTrace } from './graph_trace.js';
import {
  type Composite, type PassResult, type RelevanceRule, type ZbBounds, passThrough, relevancePass,
  perImageSum, signedChannelSum, unflatten, winnerTakeAll, zbPassInputs, zbRule,
} from './relevance.js';

export { ZbConfigFields, zbBoundsOf };

export const LrpConfigSchema = z.object({
  ...ZbConfigFields,
  /**
   * BatchNorm handling (spec option `lrpBatchNorm`): 'passThrough' = relevance unchanged;
   * 'fold' = W' = W·γ/√(var+ε) per output channel in the preceding conv's rule.
   */
  batchNorm: z.enum(['passThrough', 'fold']).default('passThrough'),
  compat: z.object({
    /**
     * Quirk A3: the reference's BN rule R·Xs/(Xs + 1e-9) with Xs = X·γ/√(var² + ε) (its variance
     * squared). Only with batchNorm 'passThrough'.
     */
    lrpBnEpsilon: z.boolean().default(false),
  }).strict().default({}),
}).strict().superRefine((c, ctx) => {
  if (c.zbBounds === 'channelRange' && !c.normalization) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['normalization'], message: "required when zbBounds is 'channelRange'" });
  }
  if (c.compat.lrpBnEpsilon && c.batchNorm === 'fold') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['compat', 'lrpBnEpsilon'], message: "only applies with batchNorm 'passThrough'" });
  }
});
export type LrpConfig = z.infer<typeof LrpConfigSchema>;

/**
 * Dense z⁺ (spec §2), general mixed-sign form:
 * R_j = Σ_c x⁺_j K⁺[j,c]·sdiv(R_c, Σ_i x⁺_i K⁺[i,c]) + x⁻_j K⁻[j,c]·sdiv(R_c, Σ_i x⁻_i K⁻[i,c]);
 * the second term is skipped when the input is structurally ≥ 0.
 */
export const zPlusDense: RelevanceRule = {
  kind: 'zPlusDense',
  propagate: (e, r) => {
    if (e.layer.kind !== 'dense') throw new Error(`zPlusDense: layer '${e.layer.name}' is not dense`);
    const k = e.layer.kernel;
    const term = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.mul(x, tf.matMul(sdiv(r, tf.matMul(x, w)) as tf.Tensor2D, w, false, true));
    const x = e.input as tf.Tensor2D;
    const pos = term(e.inputNonNegative ? x : tf.relu(x) as tf.Tensor2D, tf.relu(k) as tf.Tensor2D);
    return e.inputNonNegative ? pos : tf.add(pos, term(tf.minimum(x, 0) as tf.Tensor2D, tf.minimum(k, 0) as tf.Tensor2D));
  },
};

/**
 * Conv z⁺ (spec §2): Z = conv(x, W⁺) (no bias), S = sdiv(R, Z), R_in = x ⊙ convT(S, W⁺);
 * plus the x⁻/W⁻ term when the input may be negative. `kernel` overrides the layer's (BN fold).
 */
export function zPlusConv(kernel?: (e: TraceEntry) => tf.Tensor4D): RelevanceRule {
  return {
    kind: 'zPlusConv',
    propagate: (e, r) => {
      if (e.layer.kind !== 'conv2d') throw new Error(`zPlusConv: layer '${e.layer.name}' is not a conv`);
      const w = kernel ? kernel(e) : e.layer.kernel;
      return zPlusConvRelevance(e.input as tf.Tensor4D, w, r as tf.Tensor4D, e.inputNonNegative, SAME_STRIDE_1);
    },
  };
}

/**
 * The conv z⁺ formula for one conv of any geometry: x ⊙ convT(sdiv(R, conv(x, W⁺)), W⁺), plus
 * the separately normalised x⁻/W⁻ term (spec §2) unless `nonNegative`.
 */
export function zPlusConvRelevance(x: tf.Tensor4D, w: tf.Tensor4D, r: tf.Tensor4D, nonNegative: boolean, geom: ConvGeometry): tf.Tensor4D {
  const term = (xs: tf.Tensor4D, ws: tf.Tensor4D) =>
    tf.mul(xs, geom.inputGrad(sdiv(r, geom.forward(xs, ws)) as tf.Tensor4D, ws));
  const pos = term(nonNegative ? x : tf.relu(x) as tf.Tensor4D, tf.relu(w) as tf.Tensor4D);
  return (nonNegative ? pos : tf.add(pos, term(tf.minimum(x, 0) as tf.Tensor4D, tf.minimum(w, 0) as tf.Tensor4D))) as tf.Tensor4D;
}

/** Quirk A3: R·Xs/(Xs + 1e-9), Xs = X·γ/√(var² + ε). */
export const referenceBnEpsilon: RelevanceRule = {
  kind: 'referenceBnEpsilon',
  propagate: (e, r) => {
    const bn = e.layer as BatchNormLayer;
    const scale = tf.div(bn.gamma, tf.sqrt(tf.add(tf.square(bn.movingVariance), bn.epsilon)));
    const xs = tf.mul(e.input, scale);
    return tf.div(tf.mul(r, xs), tf.add(xs, 1e-9));
  },
};

/** The LRP composite for a traced GraphNet-style network. `low`/`high`: z^B bounds tensors. */
export function lrpComposite(trace: ForwardTrace, cfg: LrpConfig, low: tf.Tensor, high: tf.Tensor): Composite {
  // 'fold': the conv feeding a BN uses W·γ/√(var+ε) per output channel.
  const folded = (e: TraceEntry): tf.Tensor4D => {
    const next = trace.layers[e.index + 1];
    const w = (e.layer as { kernel: tf.Tensor4D }).kernel;
    return next?.kind === 'batchNorm' ? tf.mul(w, batchNormScale(next)) as tf.Tensor4D : w;
  };
  const kernel = cfg.batchNorm === 'fold' ? folded : undefined;
  const input = zbRule(low, high, 1e-9, kernel);
  const conv = zPlusConv(kernel);
  const bn = cfg.compat.lrpBnEpsilon ? referenceBnEpsilon : passThrough;
  return {
    kind: 'lrpZPlusZB',
    ruleFor: (e) => {
      switch (e.layer.kind) {
        case 'conv2d': return e.index === 0 ? input : conv;
        case 'dense': return zPlusDense;
        case 'maxPool': return winnerTakeAll;
        case 'flatten': return unflatten;
        case 'batchNorm': return cfg.batchNorm === 'fold' ? passThrough : bn;
        case 'relu': return passThrough;
      }
    },
  };
}

/**
 * LRP relevance for a batch: `relevance` at the input [N,H,W,3] (signed as propagated) and, with
 * `record`, at every layer's input. Tensors belong to the enclosing scope.
 */
export function lrpPass(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], cfg: LrpConfig, record = false): PassResult & { trace: ForwardTrace; targetLogit: tf.Tensor1D } {
  const trace = ForwardTrace.ofNet(net, images);
  const { oneHot, targetLogit, low, high } = zbPassInputs(trace.logits, images, classIndices, zbBoundsOf(cfg));
  const start = tf.mul(trace.logits, oneHot) as tf.Tensor2D;
  return { ...relevancePass(trace, lrpComposite(trace, cfg, low, high), start, { record }), trace, targetLogit };
}

/**
 * LRP on any graph (`graphRelevancePass`): the same rules per op kind (graph.md §4); `relevance`
 * at the input [N,H,W,C] and, with `record`, at every tensor. Tensors belong to the enclosing scope.
 */
export function lrpGraphPass(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], cfg: LrpConfig, record = false): GraphPassResult & { trace: GraphTrace; targetLogit: tf.Tensor1D } {
  const trace = GraphTrace.run(net, images);
  const { oneHot, targetLogit, low, high } = zbPassInputs(trace.logits, images, classIndices, zbBoundsOf(cfg));
  const start = tf.mul(trace.logits, oneHot) as tf.Tensor2D;
  const ctx = { method: 'lrp' as const, trace, low, high, batchNorm: cfg.batchNorm, lrpBnEpsilon: cfg.compat.lrpBnEpsilon };
  return { ...graphRelevancePass(ctx, start, { record }), trace, targetLogit };
}

export class Lrp implements AttributionMethod {
  readonly kind = 'lrp' as const;
  readonly family = 'relevance' as const;
  readonly config: LrpConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('lrp', LrpConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return JSON.parse(JSON.stringify(this.config)) as Record<string, unknown>;
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    return tf.tidy(() => {
      const p = isChainNet(net) ? lrpPass(net, images, classIndices, this.config) : lrpGraphPass(net, images, classIndices, this.config);
      const maps = signedChannelSum(p.relevance as tf.Tensor4D, p.targetLogit);
      return { maps, ...logitsToHost(p.trace.logits, classIndices), relevanceSum: perImageSum(p.relevance) };
    });
  }
}
