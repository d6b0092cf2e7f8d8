/**
 * RAP, Relative Attributing Propagation (attribution spec §3), as the reference computes it:
 *
 * 1. dense "first propagation" from a one-hot start: R_j = u_j·sdiv(z_c, Σu), u_j = x_j K[j,c],
 *    then A_j = |R_j|·sdiv(ΣR, Σ|R|) (sums to z_c, one sign);
 * 2. unflatten, zeroing positions where the last pool's activation is exactly 0;
 * 3. max-pools winner-take-all; 4. ReLU identity, BN identity except where the BN input or γ is 0;
 * 5. non-input convs: positive relevance to positive contributors, negative to negative ones,
 *    an extra R·N/T share to the negative contributors, then a per-image uniform shift that
 *    restores conservation; 6. z^B at the input conv with sdiv and no +1e-9;
 * 7. channel sum, negated when z_c < 0, then the positive part.
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
import { type BatchNormLayer, ForwardTrace, isChainNet } from './forward_trace.js';
import { type GraphPassResult, graphRelevancePass } from './graph_relevance.js';
import { GraphTrace } from './graph_trace.js';
import { ZbConfigFields, zbBoundsOf } from './zb_config.js';
import {
  type Composite, type PassResult, type RelevanceRule, passThrough, perImageSum, relevancePass, signedChannelSum,
  winnerTakeAll, zbPassInputs, zbRule,
} from './relevance.js';

export const RapConfigSchema = z.object({ ...ZbConfigFields }).strict().superRefine((c, ctx) => {
  if (c.zbBounds === 'channelRange' && !c.normalization) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['normalization'], message: "required when zbBounds is 'channelRange'" });
  }
});
export type RapConfig = z.infer<typeof RapConfigSchema>;

/**
 * Step 1 for a dense layer with input x ≥ 0; `relOut` is the one-hot start [N, K] (any linear
 * combination of classes works: u_j = x_j Σ_k K[j,k]·P_k, z = Σ_k z_k·P_k).
 */
export const rapFirstDense: RelevanceRule = {
  kind: 'rapFirstDense',
  propagate: (e, p) => {
    if (e.layer.kind !== 'dense') throw new Error(`rapFirstDense: layer '${e.layer.name}' is not dense`);
    const u = tf.mul(e.input, tf.matMul(p as tf.Tensor2D, e.layer.kernel, false, true)); // [N, D]
    const zc = tf.sum(tf.mul(e.output, p), 1, true); // [N, 1]
    const r = tf.mul(u, sdiv(zc, tf.sum(u, 1, true)));
    const abs = tf.abs(r);
    return tf.mul(abs, sdiv(tf.sum(r, 1, true), tf.sum(abs, 1, true)));
  },
};

/** Step 2: back to the pool's shape; relevance where the activation is exactly 0 is dropped. */
export const unflattenNonZero: RelevanceRule = {
  kind: 'unflattenNonZero',
  propagate: (e, r) => tf.mul(tf.reshape(r, e.input.shape), tf.cast(tf.notEqual(e.input, 0), 'float32')),
};

/** Step 4: BN identity, except 0 where the BN input or the channel's γ is exactly 0. */
export const rapBatchNorm: RelevanceRule = {
  kind: 'rapBatchNorm',
  propagate: (e, r) => {
    const bn = e.layer as BatchNormLayer;
    const keep = tf.logicalAnd(tf.notEqual(e.input, 0), tf.notEqual(bn.gamma, 0));
    return tf.mul(r, tf.cast(keep, 'float32'));
  },
};

/**
 * Step 5 before the shift: C = x ⊙ [convT(S1, W⁺) + convT(S2, |W⁻|)], with P = conv(x,W⁺),
 * N = conv(x,|W⁻|) on units with R ≠ 0, T = P + N, S1 = sdiv(R⁺,P),
 * S2 = sdiv(R⁺,T) + sdiv(R⁻,N) + sdiv(R⁻,T). x ≥ 0.
 */
export function rapConvContributions(x: tf.Tensor4D, kernel: tf.Tensor4D, r: tf.Tensor4D, geom: ConvGeometry = SAME_STRIDE_1): tf.Tensor4D {
  return tf.tidy(() => {
    const wp = tf.relu(kernel) as tf.Tensor4D;
    const wn = tf.relu(tf.neg(kernel)) as tf.Tensor4D;
    const active = tf.cast(tf.notEqual(r, 0), 'float32');
    const p = tf.mul(geom.forward(x, wp), active);
    const n = tf.mul(geom.forward(x, wn), active);
    const t = tf.add(p, n);
    const rp = tf.relu(r);
    const rn = tf.minimum(r, 0);
    const s1 = sdiv(rp, p) as tf.Tensor4D;
    const s2 = tf.add(tf.add(sdiv(rp, t), sdiv(rn, n)), sdiv(rn, t)) as tf.Tensor4D;
    return tf.mul(x, tf.add(geom.inputGrad(s1, wp), geom.inputGrad(s2, wn))) as tf.Tensor4D;
  });
}

/**
 * Per-image uniform shift: Δ = ΣC − ΣR, n = #{C ≠ 0}, R_in = C − sdiv(Δ, n)·[C ≠ 0], so that
 * ΣR_in = ΣR whenever some C ≠ 0.
 */
export function uniformShift(c: tf.Tensor, r: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const axes = c.shape.map((_, i) => i).slice(1);
    const raxes = r.shape.map((_, i) => i).slice(1);
    const nz = tf.cast(tf.notEqual(c, 0), 'float32');
    const delta = tf.sub(tf.sum(c, axes, true), tf.reshape(tf.sum(r, raxes), [-1, ...axes.map(() => 1)]));
    return tf.sub(c, tf.mul(sdiv(delta, tf.sum(nz, axes, true)), nz));
  });
}

/** Step 5 for a non-input conv. */
export const rapConv: RelevanceRule = {
  kind: 'rapConv',
  propagate: (e, r) => {
    if (e.layer.kind !== 'conv2d') throw new Error(`rapConv: layer '${e.layer.name}' is not a conv`);
    return uniformShift(rapConvContributions(e.input as tf.Tensor4D, e.layer.kernel, r as tf.Tensor4D), r);
  },
};

export function rapComposite(low: tf.Tensor, high: tf.Tensor): Composite {
  const input = zbRule(low, high, 0);
  return {
    kind: 'rap',
    ruleFor: (e) => {
      switch (e.layer.kind) {
        case 'conv2d': return e.index === 0 ? input : rapConv;
        case 'dense': return rapFirstDense;
        case 'maxPool': return winnerTakeAll;
        case 'flatten': return unflattenNonZero;
        case 'batchNorm': return rapBatchNorm;
        case 'relu': return passThrough;
      }
    },
  };
}

/**
 * RAP relevance for a batch: `relevance` at the input [N,H,W,3] before the sign flip and clipping
 * and, with `record`, at every layer's input. Tensors belong to the enclosing scope.
 */
export function rapPass(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], cfg: RapConfig, record = false): PassResult & { trace: ForwardTrace; targetLogit: tf.Tensor1D } {
  const trace = ForwardTrace.ofNet(net, images);
  const { oneHot, targetLogit, low, high } = zbPassInputs(trace.logits, images, classIndices, zbBoundsOf(cfg));
  return { ...relevancePass(trace, rapComposite(low, high), oneHot, { record }), trace, targetLogit };
}

/**
 * RAP on any graph (`graphRelevancePass`, graph.md §4): `relevance` at the input before the sign
 * flip and clipping and, with `record`, at every tensor. Tensors belong to the enclosing scope.
 */
export function rapGraphPass(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], cfg: RapConfig, record = false): GraphPassResult & { trace: GraphTrace; targetLogit: tf.Tensor1D } {
  const trace = GraphTrace.run(net, images);
  const { oneHot, targetLogit, low, high } = zbPassInputs(trace.logits, images, classIndices, zbBoundsOf(cfg));
  return { ...graphRelevancePass({ method: 'rap', trace, low, high }, oneHot, { record }), trace, targetLogit };
}

export class Rap implements AttributionMethod {
  readonly kind = 'rap' as const;
  readonly family = 'relevance' as const;
  readonly config: RapConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('rap', RapConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return JSON.parse(JSON.stringify(this.config)) as Record<string, unknown>;
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    return tf.tidy(() => {
      const p = isChainNet(net) ? rapPass(net, images, classIndices, this.config) : rapGraphPass(net, images, classIndices, this.config);
      const maps = tf.relu(signedChannelSum(p.relevance as tf.Tensor4D, p.targetLogit)) as tf.Tensor3D;
      return { maps, ...logitsToHost(p.trace.logits, classIndices), relevanceSum: perImageSum(p.relevance) };
    });
  }
}
