/**
 * Grad-CAM (attribution spec §1): M = ReLU(Σ_k α_k A_k) at a layer (default the last ReLU,
 * `layout.gradCamLayer`), with α_k the spatial sum (reference, quirk A4) or mean of ∂z_c/∂A_k,
 * upsampled bilinearly with half-pixel centres to the input size.
 *
 * When the layer feeds maxPool → flatten → dense (always the case for the last ReLU of a
 * GraphNet), max-pool routing preserves per-channel sums, so α has the closed form
 * α_k = Σ_{pooled positions r} K[r·C + k, c]; otherwise α comes from `tf.grad`.
 *
 * A comes from the network's own inference forward (`net.forward({ capture: [layer] })`), so a
 * ReLU layer is read off the fused path (BN folded into the conv, one FusedConv2D + ReLU per
 * layer; a captured conv/BN output falls back to the plain sequence there, see models/vgg.ts).
 * With the closed form no tape is recorded at all. Ties in the pool windows do not matter: the
 * gradient of each pooled cell goes, whole, to one position of its window (tfjs's MaxPoolGrad
 * picks the first maximum, as `firstMaxPoolMask` does), so its spatial sum α_k is the same for
 * any tie rule, and the map ReLU(Σ_k α_k A_k) never reads the routing. `layerwiseGradCam` keeps
 * the previous unfused layer-by-layer path as the reference the tests and the bench compare with.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { GraphNet } from '../models/graph/graph_net.js';
import {
  type AttributionMethod, type AttributionResult, checkAttributeArgs, logitsToHost, oneHotTargets, parseConfig,
} from './attribution_method.js';
import { type Layer, layerIndex, runLayers, chainLayers } from './forward_trace.js';
import { targetGradient } from './gradients.js';
import { upsampleBilinear } from './upsample.js';

export const GradCamConfigSchema = z.object({
  /** Layer whose output A is explained; default the network's last ReLU (`layout.gradCamLayer`). */
  layer: z.string().min(1).optional(),
  /** Spatial pooling of ∂z_c/∂A into α (spec option `gradcamPooling`): 'sum' (reference) or 'mean' (÷h·w). */
  pooling: z.enum(['sum', 'mean']).default('sum'),
  /**
   * How ∂z_c/∂A is obtained: 'closedForm' (needs the layer to feed maxPool → flatten → dense),
   * 'autodiff' (`tf.grad` through the rest of the network) or 'auto' (closed form when possible).
   */
  gradients: z.enum(['auto', 'closedForm', 'autodiff']).default('auto'),
}).strict();
export type GradCamConfig = z.infer<typeof GradCamConfigSchema>;

/** True when `head` (the layers after A) is exactly maxPool → flatten → dense. */
export function hasClosedFormHead(head: readonly Layer[]): boolean {
  return head.length === 3 && head[0].kind === 'maxPool' && head[1].kind === 'flatten' && head[2].kind === 'dense';
}

/**
 * α (spatially summed ∂z_c/∂A) in closed form: α_k = Σ_r K[r·C + k, c] over the pooled
 * positions r of a [ho, wo, C] pool output. Dense kernel [ho·wo·C, K], one-hot [N, K] → [N, C].
 */
export function closedFormChannelWeights(denseKernel: tf.Tensor2D, pooledShape: readonly [number, number, number], oneHot: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [ho, wo, c] = pooledShape;
    const n = oneHot.shape[0];
    const kc = tf.matMul(oneHot, denseKernel, false, true); // [N, ho·wo·C]: column c of each image
    return tf.sum(tf.reshape(kc, [n, ho * wo, c]), 1) as tf.Tensor2D;
  });
}

/** α (spatially summed ∂z_c/∂A) by autodiff through `head`: acts [N,h,w,C] → [N, C]. */
export function autodiffChannelWeights(head: readonly Layer[], acts: tf.Tensor4D, oneHot: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    return tf.sum(targetGradient(head, acts, oneHot).grad, [1, 2]) as tf.Tensor2D;
  });
}

/** Σ_k w[n,k]·A[n,·,·,k]: acts [N,h,w,C], weights [N,C] → [N,h,w]. */
export function weightedChannelSum(acts: tf.Tensor4D, weights: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, , , c] = acts.shape;
    return tf.sum(tf.mul(acts, tf.reshape(weights, [n, 1, 1, c])), 3) as tf.Tensor3D;
  });
}

/**
 * Native Grad-CAM map [N,h,w] from the activations A of a layer and the layers after it (`head`,
 * ending in the logits). `gradients` as in the config; 'auto' picks the closed form when possible.
 */
export function gradCamFromActivations(
  acts: tf.Tensor4D, head: readonly Layer[], oneHot: tf.Tensor2D,
  opts: Pick<GradCamConfig, 'pooling' | 'gradients'> = { pooling: 'sum', gradients: 'auto' },
): tf.Tensor3D {
  return tf.tidy(() => {
    const closed = hasClosedFormHead(head);
    if (opts.gradients === 'closedForm' && !closed) {
      throw new Error(`gradcam: gradients 'closedForm' needs maxPool → flatten → dense after the layer, got ${head.map((l) => l.kind).join(' → ')}`);
    }
    const [, h, w, c] = acts.shape;
    let alpha: tf.Tensor2D;
    if (closed && opts.gradients !== 'autodiff') {
      const dense = head[2] as Extract<Layer, { kind: 'dense' }>;
      alpha = closedFormChannelWeights(dense.kernel, [Math.floor(h / 2), Math.floor(w / 2), c], oneHot);
    } else {
      alpha = autodiffChannelWeights(head, acts, oneHot);
    }
    if (opts.pooling === 'mean') alpha = tf.div(alpha, h * w);
    return tf.relu(weightedChannelSum(acts, alpha));
  });
}

export class GradCam implements AttributionMethod {
  readonly kind = 'gradcam' as const;
  readonly family = 'layer' as const;
  readonly config: GradCamConfig;

  constructor(cfg: unknown = {}) {
    this.config = parseConfig('gradcam', GradCamConfigSchema, cfg);
  }

  getConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  attribute(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]): AttributionResult {
    checkAttributeArgs(this.kind, net, images, classIndices);
    if (!isChain(net)) return graphGradCam(net, images, classIndices, this.config);
    return tf.tidy(() => {
      const layers = chainLayers(net);
      const li = featureLayerIndex(layers, this.config.layer ?? net.gradCamLayer);
      const name = layers[li].name;
      const { logits, activations } = net.forward(images, { capture: [name] });
      return camResult(net, activations[name] as tf.Tensor4D, layers.slice(li + 1), logits, classIndices, this.config);
    });
  }
}

/** True when `chainLayers` accepts the network (a VGG-style chain). */
function isChain(net: GraphNet): boolean {
  try {
    chainLayers(net);
    return true;
  } catch {
    return false;
  }
}

/**
 * Grad-CAM on any graph (residual, depthwise …): A from the network's own forward, ∂z_c/∂A by
 * autodiff of the part of the graph above the layer (`forward` with A substituted at the node,
 * so the layers below are not differentiated). The closed form is a VGG-chain shortcut only.
 */
export function graphGradCam(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], config: GradCamConfig): AttributionResult {
  const layer = config.layer ?? net.gradCamLayer;
  if (net.activationShape(layer).length !== 3) throw new Error(`gradcam: layer '${layer}' output is not a feature map`);
  if (config.gradients === 'closedForm') throw new Error(`gradcam: gradients 'closedForm' needs a VGG-style chain; use 'auto' or 'autodiff'`);
  return tf.tidy(() => {
    const { logits, activations } = net.forward(images, { capture: [layer] });
    const acts = activations[layer] as tf.Tensor4D;
    const oneHot = oneHotTargets(classIndices, net.numClasses);
    const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(net.forward(images, { overrides: { [layer]: a } }).logits, oneHot)))(acts);
    const [, h, w] = acts.shape;
    let alpha = tf.sum(grad, [1, 2]) as tf.Tensor2D;
    if (config.pooling === 'mean') alpha = tf.div(alpha, h * w);
    const native = tf.relu(weightedChannelSum(acts, alpha)) as tf.Tensor3D;
    const maps = upsampleBilinear(native, net.inputSize);
    return { maps, native, ...logitsToHost(logits, classIndices) };
  });
}

/** Maps (native and upsampled) and host logits from A, the layers after it and the logits. */
function camResult(net: GraphNet, acts: tf.Tensor4D, head: readonly Layer[], logits: tf.Tensor2D, classIndices: readonly number[],
  config: Pick<GradCamConfig, 'pooling' | 'gradients'>) {
  const oneHot = oneHotTargets(classIndices, net.numClasses);
  const native = gradCamFromActivations(acts, head, oneHot, config);
  const maps = upsampleBilinear(native, net.inputSize);
  return { maps, native, ...logitsToHost(logits, classIndices) };
}

/** Index of the explained layer; it must give a feature map (not 'flatten' or the dense layer). */
function featureLayerIndex(layers: readonly Layer[], name: string): number {
  const li = layerIndex(layers, name);
  const kind = layers[li].kind;
  if (kind === 'flatten' || kind === 'dense') throw new Error(`gradcam: layer '${name}' output is not a feature map`);
  return li;
}

/**
 * The reference path: Grad-CAM with A from an unfused layer-by-layer forward (conv → +bias → BN →
 * ReLU as separate ops, `runLayers`) and the logits from the layers above A. This was
 * `GradCam.attribute` before it used the fused forward; tests and the bench compare with it.
 * Same arguments and result as `new GradCam(cfg).attribute(net, images, classIndices)`.
 */
export function layerwiseGradCam(net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[], cfg: unknown = {}): AttributionResult {
  const config = parseConfig('gradcam', GradCamConfigSchema, cfg);
  checkAttributeArgs('gradcam', net, images, classIndices);
  return tf.tidy(() => {
    const layers = chainLayers(net);
    const li = featureLayerIndex(layers, config.layer ?? net.gradCamLayer);
    const acts = runLayers(layers, images, 0, li + 1) as tf.Tensor4D;
    const head = layers.slice(li + 1);
    return camResult(net, acts, head, runLayers(head, acts) as tf.Tensor2D, classIndices, config);
  });
}
