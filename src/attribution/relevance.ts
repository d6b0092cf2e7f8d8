/**
 * Top-down passes over a forward trace, split as zennit splits them: a *rule* maps the relevance
 * at one layer's output to its input; a *composite* says which rule each layer gets. LRP, RAP and
 * EBP are composites over the rules here and in their own modules (attribution spec §2–§4).
 *
 * Relevance tensors have the shape of the activation they belong to (NHWC, or [N, D] in the
 * head). Rules are pure functions of the trace entry and the incoming relevance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dSameInputGrad } from '../engine/ops/conv2d_same_input_grad.js';
import { type ConvGeometry, SAME_STRIDE_1 } from './conv_geometry.js';
import { oneHotTargets, sdiv, selectTargets } from './attribution_method.js';
import { type ForwardTrace, type TraceEntry, layerIndex, routeToArgmax } from './forward_trace.js';

export interface RelevanceRule {
  readonly kind: string;
  /** Relevance at the layer's input from the relevance at its output. */
  propagate(entry: TraceEntry, relOut: tf.Tensor): tf.Tensor;
}

export interface Composite {
  readonly kind: string;
  /** The rule for one layer of the trace (`entry.index === 0` is the input layer). */
  ruleFor(entry: TraceEntry): RelevanceRule;
}

export interface PassOptions {
  /** Stop once the relevance at this layer's output is known (default: propagate to the input). */
  readonly until?: string;
  /** Also return the relevance at every visited layer's input, keyed by layer name. */
  readonly record?: boolean;
}

export interface PassResult {
  /** Relevance at the stop point (the input, or the output of `until`). */
  readonly relevance: tf.Tensor;
  /** With `record`: relevance at each visited layer's input (the last one is `relevance`). */
  readonly perLayer?: ReadonlyMap<string, tf.Tensor>;
}

/**
 * Propagates `start` (relevance at the logits, [N, K]) down the trace with the composite's rules.
 * The tensors returned belong to the enclosing scope (call inside `tf.tidy`).
 */
export function relevancePass(trace: ForwardTrace, composite: Composite, start: tf.Tensor2D, opts: PassOptions = {}): PassResult {
  const stop = opts.until === undefined ? 0 : layerIndex(trace.layers, opts.until) + 1;
  const perLayer = opts.record ? new Map<string, tf.Tensor>() : undefined;
  let r: tf.Tensor = start;
  for (let i = trace.entries.length - 1; i >= stop; i--) {
    const entry = trace.entries[i];
    const rule = composite.ruleFor(entry);
    const prev = r;
    r = tf.tidy(() => rule.propagate(entry, prev));
    if (perLayer) perLayer.set(entry.layer.name, r);
    else if (prev !== start && prev !== r) prev.dispose();
  }
  return { relevance: r, perLayer };
}

/** ReLU, dropout and (by default) BatchNorm: relevance passes through unchanged (same tensor). */
export const passThrough: RelevanceRule = { kind: 'passThrough', propagate: (_e, r) => r };

/** Flatten: back to the shape of the layer input. */
export const unflatten: RelevanceRule = { kind: 'unflatten', propagate: (e, r) => tf.reshape(r, e.input.shape) };

/** Max-pool, ordinary gradient routing: each output cell's value goes to its cached arg-max. */
export const argmaxRouting: RelevanceRule = {
  kind: 'argmaxRouting',
  propagate: (e, r) => routeToArgmax(r as tf.Tensor4D, maskOf(e)),
};

/**
 * Max-pool, winner-take-all (LRP/RAP): as `argmaxRouting`, and a window whose maximum is 0 drops
 * its relevance. Unread rows/columns of floor pooling get 0.
 */
export const winnerTakeAll: RelevanceRule = {
  kind: 'winnerTakeAll',
  propagate: (e, r) => tf.mul(routeToArgmax(r as tf.Tensor4D, maskOf(e)), tf.cast(tf.notEqual(e.input, 0), 'float32')),
};

function maskOf(e: TraceEntry): tf.Tensor4D {
  if (!e.argmaxMask) throw new Error(`layer '${e.layer.name}': the trace has no arg-max mask (run it with argmaxMasks)`);
  return e.argmaxMask;
}

/** z^B bounds: 'imageMinMax' (reference, quirk A5) or per-channel 'channelRange' of [0,1] pixels. */
export type ZbBounds =
  | { readonly kind: 'imageMinMax' }
  | { readonly kind: 'channelRange'; readonly mean: readonly number[]; readonly std: readonly number[] };

/**
 * L and H: input-shaped bounds ([N,H,W,3] or broadcastable). 'imageMinMax': per image, the min and
 * max over all pixels and channels; 'channelRange': (0 − mean)/std and (1 − mean)/std per channel.
 */
export function zbBoundTensors(x: tf.Tensor4D, bounds: ZbBounds): { low: tf.Tensor; high: tf.Tensor } {
  return tf.tidy(() => {
    if (bounds.kind === 'channelRange') {
      const c = x.shape[3];
      if (bounds.mean.length !== c || bounds.std.length !== c) {
        throw new Error(`zbBounds 'channelRange': normalization needs ${c} means and stds`);
      }
      const low = bounds.mean.map((m, i) => (0 - m) / bounds.std[i]);
      const high = bounds.mean.map((m, i) => (1 - m) / bounds.std[i]);
      return { low: tf.tensor4d(low, [1, 1, 1, c]), high: tf.tensor4d(high, [1, 1, 1, c]) };
    }
    return { low: tf.min(x, [1, 2, 3], true), high: tf.max(x, [1, 2, 3], true) };
  });
}

/**
 * What every z^B-based pass (LRP, RAP; chain or graph) starts from: the one-hot targets [N, K], z_c
 * [N] and the z^B bounds. Tensors belong to the enclosing scope.
 */
export function zbPassInputs(logits: tf.Tensor2D, images: tf.Tensor4D, classIndices: readonly number[], bounds: ZbBounds):
  { oneHot: tf.Tensor2D; targetLogit: tf.Tensor1D; low: tf.Tensor; high: tf.Tensor } {
  const oneHot = oneHotTargets(classIndices, logits.shape[1]);
  const targetLogit = selectTargets(logits, oneHot);
  return { oneHot, targetLogit, ...zbBoundTensors(images, bounds) };
}

/** convT(S, W) of spec §0: the input-gradient of a 'same', stride-1 conv; HWIO kernel as is. */
export function convTranspose(s: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  return conv2dSameInputGrad(s, kernel);
}

/**
 * z^B rule at the input conv (spec §2): with L, H the bounds broadcast over the input and
 * zero-padded like x,
 *   Z = conv(x,W) − conv(L,W⁺) − conv(H,W⁻) + ε,   S = R/Z (sdiv when ε = 0),
 *   R_in = x⊙convT(S,W) − L⊙convT(S,W⁺) − H⊙convT(S,W⁻).
 * LRP uses ε = 1e-9; RAP uses ε = 0. No bias anywhere. `kernel` overrides the layer's (BN fold).
 */
export function zbRule(low: tf.Tensor, high: tf.Tensor, epsilon: number, kernel?: (e: TraceEntry) => tf.Tensor4D): RelevanceRule {
  return {
    kind: 'zB',
    propagate: (e, r) => {
      if (e.layer.kind !== 'conv2d') throw new Error(`zB rule: layer '${e.layer.name}' is not a conv`);
      const w = kernel ? kernel(e) : e.layer.kernel;
      const x = e.input as tf.Tensor4D;
      const lo = tf.mul(tf.onesLike(x), low) as tf.Tensor4D;
      const hi = tf.mul(tf.onesLike(x), high) as tf.Tensor4D;
      return zbRelevance(x, lo, hi, w, r as tf.Tensor4D, epsilon, SAME_STRIDE_1);
    },
  };
}

/**
 * The z^B formula of `zbRule` for one conv of any geometry; `lo`, `hi` are input-shaped (zero
 * where the conv's input is padding, so padded taps contribute nothing).
 */
export function zbRelevance(x: tf.Tensor4D, lo: tf.Tensor4D, hi: tf.Tensor4D, w: tf.Tensor4D, r: tf.Tensor4D, epsilon: number, geom: ConvGeometry): tf.Tensor4D {
  const wp = tf.relu(w) as tf.Tensor4D;
  const wn = tf.minimum(w, 0) as tf.Tensor4D;
  let z = tf.sub(tf.sub(geom.forward(x, w), geom.forward(lo, wp)), geom.forward(hi, wn));
  let s: tf.Tensor;
  if (epsilon !== 0) {
    z = tf.add(z, epsilon);
    s = tf.div(r, z);
  } else {
    s = sdiv(r, z);
  }
  const s4 = s as tf.Tensor4D;
  return tf.sub(tf.sub(
    tf.mul(x, geom.inputGrad(s4, w)),
    tf.mul(lo, geom.inputGrad(s4, wp))),
    tf.mul(hi, geom.inputGrad(s4, wn))) as tf.Tensor4D;
}

/** Channel sum of input relevance [N,H,W,C] → [N,H,W], times −1 for images whose z_c < 0. */
export function signedChannelSum(rIn: tf.Tensor4D, targetLogit: tf.Tensor1D): tf.Tensor3D {
  return tf.tidy(() => {
    const sign = tf.where(tf.less(targetLogit, 0), tf.fill(targetLogit.shape, -1), tf.onesLike(targetLogit));
    return tf.mul(tf.sum(rIn, 3), tf.reshape(sign, [-1, 1, 1])) as tf.Tensor3D;
  });
}

/** Σ over all axes but the batch, to the host (one sync). */
export function perImageSum(t: tf.Tensor): Float32Array {
  return Float32Array.from(tf.tidy(() => tf.sum(t, t.shape.map((_, i) => i).slice(1))).dataSync());
}

