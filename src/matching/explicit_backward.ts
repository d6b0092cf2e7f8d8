/**
 * Explicit backward pass from the logits down to a named layer (method spec §2.5).
 *
 * For a matched layer that is not the last pool (or the last ReLU), the sensitivity
 * G = ∂z_c/∂F depends on parameters and activations above F, and the loss must be
 * differentiated through G (double back-propagation). TF.js registers no gradient for the
 * max-pool backward kernel, so nesting `tf.grad` fails. Instead the backward pass is written
 * here as an ordinary forward expression of the parameters and the captured activations:
 *
 * - dense:   dX = dZ·Kᵀ ⊙ D
 * - maxpool: dY routed to the first maximum (row-major) of each 2×2 window by a 0/1 mask
 * - relu:    dX = dY ⊙ [Y > 0]
 * - BN:      training  dX = (γ/s)·(dY − mean(dY) − X̂·mean(dY ⊙ X̂)), s = √(var_batch+ε)
 *            inference dX = dY·γ/√(var_run+ε)
 * - conv:    dX = conv2d(dY, rot180(W) with in/out swapped, 'same') (the conv's input gradient
 *            for a 3×3/1 'same' conv)
 *
 * The 0/1 masks are built with `tf.step`, whose registered gradient is zero, so they act as
 * constants on the tape. One `tf.variableGrads` over a loss containing the result gives the
 * exact second-order-aware gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import type { ConvLayerInfo, VggLayout } from '../models/vgg_config.js';
import { vggView } from '../models/vgg_view.js';

/** One named layer of the VGG forward pass, in forward order. */
export type LayerNode =
  | { readonly kind: 'conv' | 'bn' | 'relu'; readonly name: string; readonly conv: ConvLayerInfo }
  | { readonly kind: 'pool'; readonly name: string; readonly block: number };

/** All named layers (conv, bn, relu, pool) in forward order. */
export function layerSequence(layout: VggLayout): LayerNode[] {
  const seq: LayerNode[] = [];
  layout.pools.forEach((pool, bi) => {
    for (const c of layout.convs.filter((cv) => cv.block === bi + 1)) {
      seq.push({ kind: 'conv', name: c.name, conv: c }, { kind: 'bn', name: c.bn, conv: c }, { kind: 'relu', name: c.relu, conv: c });
    }
    seq.push({ kind: 'pool', name: pool.name, block: bi + 1 });
  });
  return seq;
}

function indexOfLayer(seq: readonly LayerNode[], layer: string, op: string): number {
  const i = seq.findIndex((n) => n.name === layer);
  if (i < 0) throw new Error(`${op}: unknown layer '${layer}'; known: ${seq.map((n) => n.name).join(', ')}`);
  return i;
}

/**
 * Activations the forward pass must capture for `explicitSensitivity` at `layer` (the layer
 * itself included, since the map multiplies it). Training mode also needs the conv outputs
 * below each BN passed (for X̂ and the batch statistics).
 */
export function explicitBackwardCaptures(layout: VggLayout, layer: string, training: boolean): string[] {
  const seq = layerSequence(layout);
  const start = indexOfLayer(seq, layer, 'explicitBackwardCaptures');
  const names = new Set<string>([layer]);
  for (let i = seq.length - 1; i > start; i--) {
    const n = seq[i];
    if (n.kind === 'pool') names.add(seq[i - 1].name);            // the ReLU feeding the pool
    else if (n.kind === 'relu') names.add(n.name);
    else if (n.kind === 'bn' && training) names.add(n.conv.name);
  }
  return [...names];
}

export interface ExplicitBackwardOptions {
  /** Whether the forward that produced `activations` ran in training mode (BN batch statistics). */
  readonly training: boolean;
  /** Dropout multiplier D [B, denseIn] used by that forward; absent = D ≡ 1. */
  readonly dropoutMask?: tf.Tensor2D | null;
}

/**
 * G = ∂(Σ_{b,c} dLogits[b,c]·z_{b,c}) / ∂F at `layer`, as an explicit differentiable
 * expression (§2.5). With `dLogits` = one-hot(c_b) this is the sensitivity of §2.2. In training
 * mode a BN between F and the logits couples the samples (batch statistics), so row b then also
 * holds ∂z_{b',c_{b'}}/∂F_b for b' ≠ b — exactly what autodiff of the batched sum gives.
 *
 * @param activations captured by `net.forward` (at least `explicitBackwardCaptures(...)`); to
 *   differentiate the result w.r.t. the parameters, that forward must run inside the tape.
 * @param dLogits [B, classes] seed (a constant).
 * @returns G with the shape of the layer's output, [B,H,W,C].
 */
export function explicitSensitivity(net: GraphNet, activations: Readonly<Record<string, tf.Tensor>>, layer: string,
  dLogits: tf.Tensor2D, opts: ExplicitBackwardOptions): tf.Tensor4D {
  const { layout, config } = vggView(net, 'the explicit matching backward (an inner matched layer)');
  const seq = layerSequence(layout);
  const start = indexOfLayer(seq, layer, 'explicitSensitivity');
  const act = (name: string): tf.Tensor4D => {
    const t = activations[name];
    if (!t) throw new Error(`explicitSensitivity: activation '${name}' was not captured; capture explicitBackwardCaptures(layout, '${layer}', ${opts.training})`);
    return t as tf.Tensor4D;
  };
  const kernel = net.forwardWeight('fc/kernel') as tf.Tensor2D;
  const b = dLogits.shape[0];
  if (dLogits.rank !== 2 || dLogits.shape[1] !== kernel.shape[1]) throw new Error(`explicitSensitivity: dLogits must be [B, ${kernel.shape[1]}], got [${dLogits.shape}]`);
  const eps = config.bnEpsilon;
  return tf.tidy(() => {
    const last = layout.pools[layout.pools.length - 1];
    let g: tf.Tensor = tf.matMul(dLogits, kernel, false, true);                       // B, denseIn
    if (opts.dropoutMask) g = tf.mul(g, opts.dropoutMask);
    g = tf.reshape(g, [b, last.height, last.width, last.channels]);
    for (let i = seq.length - 1; i > start; i--) {
      const n = seq[i];
      if (n.kind === 'pool') g = maxPoolBackward(g as tf.Tensor4D, act(seq[i - 1].name));
      else if (n.kind === 'relu') g = tf.mul(g, tf.step(act(n.name)));
      else if (n.kind === 'bn') {
        const gamma = net.forwardWeight(`${n.name}/gamma`) as tf.Tensor1D;
        if (opts.training) g = batchNormTrainBackward(g as tf.Tensor4D, act(n.conv.name), gamma, eps);
        else g = tf.mul(g, tf.div(gamma, tf.sqrt(tf.add(net.forwardWeight(`${n.name}/moving_variance`), eps))));
      } else g = convInputGradient(g as tf.Tensor4D, net.forwardWeight(`${n.name}/kernel`) as tf.Tensor4D);
    }
    return g as tf.Tensor4D;
  });
}

/**
 * Gradient of a 2×2/2 'valid' max-pool w.r.t. its input, routed to the first maximum of each
 * window in row-major order (the CPU kernel's tie rule). `dPooled` [B,H',W',C], `input`
 * [B,H,W,C] with H' = ⌊H/2⌋; an odd last row/column receives zero. The selection mask is
 * built from `tf.step`, so it is a constant for differentiation.
 */
export function maxPoolBackward(dPooled: tf.Tensor4D, input: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = input.shape;
  const hp = Math.floor(h / 2), wp = Math.floor(w / 2);
  if (dPooled.shape.join() !== [b, hp, wp, c].join()) throw new Error(`maxPoolBackward: dPooled [${dPooled.shape}] does not match input [${input.shape}] pooled 2×2`);
  return tf.tidy(() => {
    const cropped = h === 2 * hp && w === 2 * wp ? input : tf.slice(input, [0, 0, 0, 0], [b, 2 * hp, 2 * wp, c]);
    const windows = tf.reshape(tf.transpose(tf.reshape(cropped, [b, hp, 2, wp, 2, c]), [0, 1, 3, 2, 4, 5]), [b, hp, wp, 4, c]);
    const mx = tf.max(windows, 3, true);
    const isMax = tf.sub(1, tf.step(tf.sub(mx, windows)));                          // 1 where equal to the max
    // Maxima earlier in the window (an exclusive prefix sum over the 4 positions), spelled out
    // with slices and adds: tfjs's Cumsum gradient fails on this 5-D layout inside a tape.
    const [m0, m1, m2] = tf.split(isMax, 4, 3);
    const before = tf.concat([tf.zerosLike(m0), m0, tf.add(m0, m1), tf.add(tf.add(m0, m1), m2)], 3);
    const select = tf.mul(isMax, tf.sub(1, tf.step(before)));                        // first maximum only
    const routed = tf.mul(tf.expandDims(dPooled, 3), select);                        // B, H', W', 4, C
    let out: tf.Tensor = tf.reshape(tf.transpose(tf.reshape(routed, [b, hp, wp, 2, 2, c]), [0, 1, 3, 2, 4, 5]), [b, 2 * hp, 2 * wp, c]);
    if (h !== 2 * hp || w !== 2 * wp) out = tf.pad(out, [[0, 0], [0, h - 2 * hp], [0, w - 2 * wp], [0, 0]]);
    return out as tf.Tensor4D;
  });
}

/**
 * Exact training-mode BatchNorm backward w.r.t. its input (biased batch variance, as in the
 * forward): dX = (γ/s)·(dY − mean(dY) − X̂·mean(dY ⊙ X̂)), means over N,H,W, s = √(var+ε).
 * `x` is the BN input (the conv output); the statistics are recomputed from it, so the result
 * is differentiable through them.
 */
export function batchNormTrainBackward(dY: tf.Tensor4D, x: tf.Tensor4D, gamma: tf.Tensor1D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const s = tf.sqrt(tf.add(variance, eps));
    const xHat = tf.div(tf.sub(x, mean), s);
    const inner = tf.sub(tf.sub(dY, tf.mean(dY, [0, 1, 2])), tf.mul(xHat, tf.mean(tf.mul(dY, xHat), [0, 1, 2])));
    return tf.mul(tf.div(gamma, s), inner) as tf.Tensor4D;
  });
}

/** Input gradient of a 3×3 (odd k×k), stride 1, 'same' conv: a conv with the kernel rotated by 180° and in/out swapped. */
export function convInputGradient(dY: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  if (kh % 2 !== 1 || kw % 2 !== 1) throw new Error(`convInputGradient: kernel must have odd height and width, got [${kernel.shape}]`);
  return tf.tidy(() => tf.conv2d(dY, tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, 'same'));
}

/**
 * The rest of the forward pass from the output `features` of `layer` to the logits (the
 * reference the explicit path is tested against with `tf.grad`; first order only). Training
 * mode uses batch statistics (biased variance) in BN and applies `dropoutMask` when given.
 */
export function forwardFromLayer(net: GraphNet, layer: string, features: tf.Tensor4D,
  opts: ExplicitBackwardOptions): tf.Tensor2D {
  const { layout, config } = vggView(net, 'forwardFromLayer');
  const seq = layerSequence(layout);
  const start = indexOfLayer(seq, layer, 'forwardFromLayer');
  const eps = config.bnEpsilon;
  return tf.tidy(() => {
    let h: tf.Tensor4D = features;
    for (let i = start + 1; i < seq.length; i++) {
      const n = seq[i];
      if (n.kind === 'pool') h = tf.maxPool(h, 2, 2, 'valid');
      else if (n.kind === 'relu') h = tf.relu(h);
      else if (n.kind === 'conv') h = tf.add(tf.conv2d(h, net.weight(`${n.name}/kernel`) as tf.Tensor4D, 1, 'same'), net.weight(`${n.name}/bias`));
      else {
        const gamma = net.weight(`${n.name}/gamma`), beta = net.weight(`${n.name}/beta`);
        if (opts.training) {
          const { mean, variance } = tf.moments(h, [0, 1, 2]);
          h = tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
        } else {
          h = tf.batchNorm4d(h, net.weight(`${n.name}/moving_mean`) as tf.Tensor1D, net.weight(`${n.name}/moving_variance`) as tf.Tensor1D,
            beta as tf.Tensor1D, gamma as tf.Tensor1D, eps);
        }
      }
    }
    let flat: tf.Tensor = tf.reshape(h, [h.shape[0], layout.denseIn]);
    if (opts.dropoutMask) flat = tf.mul(flat, opts.dropoutMask);
    return tf.add(tf.matMul(flat as tf.Tensor2D, net.weight('fc/kernel') as tf.Tensor2D), net.weight('fc/bias')) as tf.Tensor2D;
  });
}
