/**
 * Input gradients of the window ops (conv2d incl. depthwise, max-pool, average pool) as ordinary
 * differentiable expressions, for the explicit matching backward on any graph (graph.md §4).
 *
 * tfjs registers no gradient for the kernels that compute these gradients (MaxPoolGrad,
 * AvgPoolGrad, DepthwiseConv2dNativeBackpropInput/Filter …), so a sensitivity computed with them
 * cannot itself be differentiated. Here each is written with ops whose first-order gradients
 * exist (pad, slice, reshape, concat, conv2d and depthwiseConv2d at stride 1 and dilation 1):
 *
 * - conv: insert stride−1 zeros between the rows and columns of dY, pad by the (dilated) kernel
 *   extent − 1, correlate with the flipped kernel (in/out swapped; per channel for depthwise), and
 *   crop the forward's pads. A dilated kernel is materialised with zeros between its taps.
 * - pools: each of the kh·kw window offsets places its share of dY (a 0/1 first-maximum selection
 *   for max-pool, 1/count for average pool) on the strided grid it read; overlapping windows add.
 *
 * Selections are built by `constantOf`, so they are constants on the tape (their true derivative
 * is zero almost everywhere).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AvgPoolNode, Conv2dNode, MaxPoolNode } from '../models/graph/graph_spec.js';
import { MAX_POOL_PAD_VALUE } from '../models/graph/ops/pooling.js';
import { windowOutput } from '../models/graph/padding.js';

/**
 * `f(x)` as a constant for differentiation: the ops inside run as one custom kernel (tfjs records
 * nothing inside it) whose gradient is zero. For masks that are piecewise constant in x.
 */
export function constantOf<T extends tf.Tensor>(x: tf.Tensor, f: (x: tf.Tensor) => T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.tidy(() => f(input)), gradFunc: () => tf.zeros(input.shape) };
  });
  return op(x) as T;
}

/** Inserts s − 1 zeros between neighbours along axis 1 (rows) and 2 (columns): [B,H,W,C] → [B,(H−1)sh+1,(W−1)sw+1,C]. */
export function insertZeros(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  return tf.tidy(() => {
    let y: tf.Tensor = x;
    const [b, h, w, c] = x.shape;
    if (sh > 1) {
      const spread = tf.concat([tf.expandDims(y, 2), tf.zeros([b, h, sh - 1, w, c])], 2);
      y = tf.slice(tf.reshape(spread, [b, h * sh, w, c]), [0, 0, 0, 0], [b, (h - 1) * sh + 1, w, c]);
    }
    if (sw > 1) {
      const rows = y.shape[1]!;
      const spread = tf.concat([tf.expandDims(y, 3), tf.zeros([b, rows, w, sw - 1, c])], 3);
      y = tf.slice(tf.reshape(spread, [b, rows, w * sw, c]), [0, 0, 0, 0], [b, rows, (w - 1) * sw + 1, c]);
    }
    return y as tf.Tensor4D;
  });
}

/** A kernel [kh, kw, a, b] with d − 1 zero taps between its taps: [(kh−1)dh+1, (kw−1)dw+1, a, b]. */
function dilateKernel(kernel: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  if (dh === 1 && dw === 1) return kernel;
  // the same zero insertion as for dY, with the kernel's spatial axes moved to positions 1 and 2
  return tf.tidy(() => {
    const [kh, kw, a, b] = kernel.shape;
    const asImage = tf.reshape(kernel, [1, kh, kw, a * b]) as tf.Tensor4D;
    const spread = insertZeros(asImage, dh, dw);
    return tf.reshape(spread, [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b]) as tf.Tensor4D;
  });
}

/**
 * Adds padding or crops so that a gradient over rows/columns [0, n) of the padded input becomes
 * one over the real input: the padded input has `padded` rows, real ones start at `before`.
 */
function cropToInput(full: tf.Tensor4D, paddedH: number, paddedW: number, pads: readonly number[], h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, fh, fw, c] = full.shape;
    let y: tf.Tensor4D = full;
    if (fh < paddedH || fw < paddedW) y = tf.pad(y, [[0, 0], [0, Math.max(0, paddedH - fh)], [0, Math.max(0, paddedW - fw)], [0, 0]]);
    return tf.slice(y, [0, pads[0], pads[2], 0], [b, h, w, c]);
  });
}

/**
 * ∂⟨dY, conv(x)⟩/∂x for a conv2d node (any stride, explicit pads, dilation, dense or depthwise
 * with any multiplier), as a differentiable function of dY and the kernel. `inShape` = [H, W, C].
 */
export function convInputGradient(dy: tf.Tensor4D, kernel: tf.Tensor4D, node: Conv2dNode, inShape: readonly number[]): tf.Tensor4D {
  const [h, w] = inShape;
  const [t, bottom, l, r] = node.pads;
  const [sh, sw] = node.strides;
  const [dh, dw] = node.dilations;
  return tf.tidy(() => {
    const k = dilateKernel(kernel, dh, dw);
    const [kh, kw] = k.shape;
    let u = insertZeros(dy, sh, sw);
    u = tf.pad(u, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]]);
    const flipped = tf.reverse(k, [0, 1]) as tf.Tensor4D;
    let full: tf.Tensor4D;
    if (node.groups === 1) {
      full = tf.conv2d(u, tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D, 1, 'valid');
    } else {
      // depthwise [kh, kw, C, m]: output channel c·m + j reads input channel c through tap (c, j)
      const [, , c, m] = flipped.shape;
      if (m === 1) full = tf.depthwiseConv2d(u, flipped, 1, 'valid');
      else {
        const [b, uh, uw] = u.shape;
        const perMultiplier = tf.reshape(u, [b, uh, uw, c, m]);
        const terms = Array.from({ length: m }, (_, j) => tf.depthwiseConv2d(
          tf.reshape(tf.slice(perMultiplier, [0, 0, 0, 0, j], [b, uh, uw, c, 1]), [b, uh, uw, c]) as tf.Tensor4D,
          tf.slice(flipped, [0, 0, 0, j], [kh, kw, c, 1]), 1, 'valid'));
        full = tf.addN(terms) as tf.Tensor4D;
      }
    }
    return cropToInput(full, h + t + bottom, w + l + r, node.pads, h, w);
  });
}

/** The window offsets (i, j) in row-major order. */
function offsets(kh: number, kw: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) out.push([i, j]);
  return out;
}

/**
 * Σ over window offsets of `shares[k]` [B, Ho, Wo, C] placed on the padded input's strided grid
 * at offset k, cropped to the real input: the scatter-add every pool's input gradient is.
 */
function scatterWindows(shares: readonly tf.Tensor4D[], node: MaxPoolNode | AvgPoolNode, inShape: readonly number[]): tf.Tensor4D {
  const [h, w] = inShape;
  const [t, bottom, l, r] = node.pads;
  const [kh, kw] = node.poolSize;
  const [sh, sw] = node.strides;
  const hp = h + t + bottom, wp = w + l + r;
  return tf.tidy(() => {
    const placed = offsets(kh, kw).map(([i, j], k) => {
      const u = insertZeros(shares[k], sh, sw);
      const [, uh, uw] = u.shape;
      return tf.pad(u, [[0, 0], [i, hp - i - uh], [j, wp - j - uw], [0, 0]]) as tf.Tensor4D;
    });
    return cropToInput(tf.addN(placed) as tf.Tensor4D, hp, wp, node.pads, h, w);
  });
}

/**
 * Gradient of a max-pool node w.r.t. its input `x` [B,H,W,C]: dY routed to the first maximum of
 * each window in row-major order (the CPU kernel's rule; padded cells are −∞ and never win),
 * accumulated where windows overlap. Differentiable in dY; the routing is a constant.
 */
export function maxPoolInputGradient(dy: tf.Tensor4D, x: tf.Tensor4D, node: MaxPoolNode): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [t, bottom, l, r] = node.pads;
  const [kh, kw] = node.poolSize;
  const [sh, sw] = node.strides;
  const ho = windowOutput(h, kh, sh, 1, t, bottom), wo = windowOutput(w, kw, sw, 1, l, r);
  if (dy.shape.join() !== [b, ho, wo, c].join()) throw new Error(`maxPoolInputGradient: dY [${dy.shape}] does not match the pool of '${node.name}' over [${x.shape}] ([${b},${ho},${wo},${c}])`);
  return tf.tidy(() => {
    // [K, B, Ho, Wo, C]: 1 at the window offset that wins, 0 elsewhere
    const select = constantOf(x, (input) => {
      const xp = tf.pad(input as tf.Tensor4D, [[0, 0], [t, bottom], [l, r], [0, 0]], MAX_POOL_PAD_VALUE);
      const views = offsets(kh, kw).map(([i, j]) =>
        tf.stridedSlice(xp, [0, i, j, 0], [b, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c], [1, sh, sw, 1]));
      const stacked = tf.stack(views);
      const isMax = tf.cast(tf.equal(stacked, tf.max(stacked, 0, true)), 'float32');
      const earlier = tf.sub(tf.cumsum(isMax, 0), isMax);
      return tf.mul(isMax, tf.cast(tf.equal(earlier, 0), 'float32'));
    });
    const shares = tf.unstack(select).map((s) => tf.mul(dy, s) as tf.Tensor4D);
    return scatterWindows(shares, node, [h, w, c]);
  });
}

/**
 * Gradient of an average-pool node w.r.t. its input: dY / (window count) spread over each
 * window, the count being kh·kw (PyTorch's count_include_pad, or no pads) or the real pixels in
 * the window (TF 'same', count_include_pad false), accumulated where windows overlap.
 */
export function avgPoolInputGradient(dy: tf.Tensor4D, node: AvgPoolNode, inShape: readonly number[]): tf.Tensor4D {
  const [h, w] = inShape;
  const [t, bottom, l, r] = node.pads;
  const [kh, kw] = node.poolSize;
  const [sh, sw] = node.strides;
  const ho = windowOutput(h, kh, sh, 1, t, bottom), wo = windowOutput(w, kw, sw, 1, l, r);
  const padded = node.pads.some((p) => p !== 0);
  const inverseCount = new Float32Array(ho * wo);
  for (let oh = 0; oh < ho; oh++) {
    for (let ow = 0; ow < wo; ow++) {
      const rows = Math.min(h, oh * sh - t + kh) - Math.max(0, oh * sh - t);
      const cols = Math.min(w, ow * sw - l + kw) - Math.max(0, ow * sw - l);
      inverseCount[oh * wo + ow] = 1 / (padded && !node.countIncludePad ? rows * cols : kh * kw);
    }
  }
  return tf.tidy(() => {
    const share = tf.mul(dy, tf.tensor4d(inverseCount, [1, ho, wo, 1])) as tf.Tensor4D;
    return scatterWindows(offsets(kh, kw).map(() => share), node, inShape);
  });
}
