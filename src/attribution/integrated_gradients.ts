/**
 * Integrated Gradients (Sundararajan et al. 2017; beyond the paper's four methods):
 * IG(x) = (x − x') ⊙ ∫₀¹ ∂z_c/∂x (x' + α(x − x')) dα, summed over channels.
 *
 * Conventions follow captum's `IntegratedGradients`: a zero baseline (here zeros in normalised
 * space, i.e. the dataset-mean image), Gauss–Legendre quadrature by default, interpolation
 * points batched (`internalBatchSize`). The map is the **signed** channel sum, so
 * Σ map ≈ z_c(x) − z_c(x') (completeness); `sign: 'absolute'` gives |Σ_ch IG|, captum's
 * `visualize_image_attr(sign='absolute_value')`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  NormalizationSchema, type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, oneHotTargets, parseConfig,
} from './attribution_method.js';
import { logitsFunction, weightedGradientSum } from './gradients.js';

export const IntegrationMethodSchema = z.enum(['gaussLegendre', 'riemannLeft', 'riemannRight', 'riemannMiddle', 'riemannTrapezoid']);
export type IntegrationMethod = z.infer<typeof IntegrationMethodSchema>;

export const IntegratedGradientsConfigSchema = z.object({
  /** Integration points per image (captum `n_steps`). */
  steps: z.number().int().min(1).max(4096).default(50),
  /** Quadrature on [0,1] (captum `method`); 'riemannTrapezoid' uses proper trapezoid weights. */
  method: IntegrationMethodSchema.default('gaussLegendre'),
  /**
   * x': 'zeros' = all-zero normalised input (the mean image); 'black' = pixel value 0 per
   * channel, which needs `normalization`; a number = that constant in normalised space.
   */
  baseline: z.union([z.enum(['zeros', 'black']), z.number()]).default('zeros'),
  /** Input normalisation (mean/std of [0,1] pixels); required by baseline 'black'. */
  normalization: NormalizationSchema.optional(),
  /** 'signed' = Σ_ch IG (keeps completeness); 'absolute' = |Σ_ch IG|. */
  sign: z.enum(['signed', 'absolute']).default('signed'),
  /** Gradient evaluations per batch (captum `internal_batch_size`); memory grows with it. */
  internalBatchSize: z.number().int().min(1).default(16),
}).strict().superRefine((c, ctx) => {
  if (c.baseline === 'black' && !c.normalization) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['normalization'], message: "required when baseline is 'black'" });
  }
  if (c.method === 'riemannTrapezoid' && c.steps < 2) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['steps'], message: "'riemannTrapezoid' needs at least 2 steps" });
  }
});
export type IntegratedGradientsConfig = z.infer<typeof IntegratedGradientsConfigSchema>;

/** Gauss–Legendre nodes and weights on [−1, 1] (Newton iteration on P_n). */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  const m = Math.floor((n + 1) / 2);
  for (let i = 0; i < m; i++) {
    let x = Math.cos(Math.PI * (i + 0.75) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1, p1 = 0;
      for (let j = 1; j <= n; j++) {
        const p2 = p1;
        p1 = p0;
        p0 = ((2 * j - 1) * x * p1 - (j - 1) * p2) / j;
      }
      dp = n * (x * p0 - p1) / (x * x - 1);
      const dx = p0 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = weights[n - 1 - i] = 2 / ((1 - x * x) * dp * dp);
  }
  return { nodes, weights };
}

/** Points α_k ∈ [0,1] and weights w_k with Σ w_k f(α_k) ≈ ∫₀¹ f. */
export function quadrature(method: IntegrationMethod, steps: number): { alphas: number[]; weights: number[] } {
  const m = steps;
  const range = (f: (k: number) => number) => Array.from({ length: m }, (_, k) => f(k));
  switch (method) {
    case 'gaussLegendre': {
      const g = gaussLegendre(m);
      return { alphas: g.nodes.map((x) => (x + 1) / 2), weights: g.weights.map((w) => w / 2) };
    }
    case 'riemannLeft': return { alphas: range((k) => k / m), weights: range(() => 1 / m) };
    case 'riemannRight': return { alphas: range((k) => (k + 1) / m), weights: range(() => 1 / m) };
    case 'riemannMiddle': return { alphas: range((k) => (k + 0.5) / m), weights: range(() => 1 / m) };
    case 'riemannTrapezoid':
      return { alphas: range((k) => k / (m - 1)), weights: range((k) => (k === 0 || k === m - 1 ? 0.5 : 1) / (m - 1)) };
  }
}

/** Baseline x' as a tensor broadcastable to [1,H,W,3]. */
export function baselineTensor(cfg: IntegratedGradientsConfig): tf.Tensor4D {
  if (cfg.baseline === 'zeros') return tf.zeros([1, 1, 1, 3]);
  if (cfg.baseline === 'black') {
    const { mean, std } = cfg.normalization!;
    return tf.tensor4d(mean.map((m, i) => -m / std[i]), [1, 1, 1, 3]);
  }
  return tf.fill([1, 1, 1, 3], cfg.baseline) as tf.Tensor4D;
}

export class IntegratedGradients implements AttributionMethod {
  readonly kind = 'ig' as const;
  readonly family = 'gradient' as const;
  readonly config: IntegratedGradientsConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('ig', IntegratedGradientsConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return JSON.parse(JSON.stringify(this.config)) as Record<string, unknown>;
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    return tf.tidy(() => {
      const layers = logitsFunction(net);
      const oneHot = oneHotTargets(classIndices, net.numClasses);
      const { alphas, weights } = quadrature(this.config.method, this.config.steps);
      const alpha = tf.tensor1d(alphas);
      const base = baselineTensor(this.config);
      const diff = tf.sub(images, base) as tf.Tensor4D;
      const avg = weightedGradientSum(layers, oneHot, {
        images: images.shape[0], points: alphas.length, weights, batchSize: this.config.internalBatchSize,
        input: (n, k) => tf.add(base, tf.mul(tf.reshape(tf.gather(alpha, k), [-1, 1, 1, 1]), tf.gather(diff, n))) as tf.Tensor4D,
      });
      let maps = tf.sum(tf.mul(diff, avg), 3) as tf.Tensor3D;
      if (this.config.sign === 'absolute') maps = tf.abs(maps);
      const logits = layers(images) as tf.Tensor2D;
      return { maps, ...logitsToHost(logits, classIndices) };
    });
  }
}
