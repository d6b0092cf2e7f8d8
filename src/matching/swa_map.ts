/**
 * Sensitivity-weighted collapsed attribution (method spec §2), closed form of §2.4.
 *
 * When the matched layer is followed only by flatten → dropout → dense (the last pool), the
 * sensitivity is G_b[h,w,k] = D_b[r(h,w,k)]·K[r(h,w,k), c_b] with the NHWC row index
 * r(h,w,k) = (h·W + w)·C + k, so α_{b,k} = Σ_{h,w} D_b[r]·K[r, c_b]. The map
 * A_b = ReLU(Σ_k α_{b,k}·F_b[·,·,k]) is then an ordinary differentiable expression of F and K:
 * one first-order gradient of a loss containing it equals what double back-propagation gives.
 *
 * The same α is exact at the last ReLU (the input of the last pool): max-pool routing moves the
 * gradient inside each 2×2 window without changing its per-channel sum, so only the feature
 * map that α multiplies changes (§2.4, last paragraph). `layerShape` is therefore always the
 * shape of the flattened layer (the last pool), whichever of the two layers is matched.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DroppedChannels, channelKeepMask } from './stochastic.js';

/** [H, W, C] of the layer that is flattened into the dense head (the last pool). */
export type LayerShape = readonly [number, number, number];

function checkKernel(kernel: tf.Tensor2D, layerShape: LayerShape, op: string): void {
  const [h, w, c] = layerShape;
  if (kernel.rank !== 2) throw new Error(`${op}: kernel must be [denseIn, classes], got shape [${kernel.shape}]`);
  if (h * w * c !== kernel.shape[0]) {
    throw new Error(`${op}: layerShape [${layerShape}] has ${h * w * c} elements but kernel has ${kernel.shape[0]} rows`);
  }
}

function checkMask(mask: tf.Tensor2D, kernel: tf.Tensor2D, op: string): void {
  if (mask.rank !== 2 || mask.shape[1] !== kernel.shape[0]) {
    throw new Error(`${op}: dropoutMask must be [B, ${kernel.shape[0]}], got shape [${mask.shape}]`);
  }
}

/**
 * Channel weights α [B,C] for one class per sample (closed form §2.4).
 *
 * @param kernel dense kernel K [H·W·C, classes] (NHWC flatten order).
 * @param layerShape [H,W,C] of the flattened layer.
 * @param classes int32 [B]: the explained class c_b of each sample.
 * @param dropoutMask D [B, H·W·C] (entries 0 or 1/(1−rate)); null/absent = D ≡ 1 (inference).
 * @param dropped channels whose α is zeroed (stochastic matching, teacher side only, §5).
 */
export function swaChannelWeights(kernel: tf.Tensor2D, layerShape: LayerShape, classes: tf.Tensor1D,
  dropoutMask?: tf.Tensor2D | null, dropped?: DroppedChannels | null): tf.Tensor2D {
  checkKernel(kernel, layerShape, 'swaChannelWeights');
  if (classes.rank !== 1 || classes.dtype !== 'int32') throw new Error(`swaChannelWeights: classes must be an int32 [B] tensor, got ${classes.dtype} [${classes.shape}]`);
  const b = classes.shape[0];
  const c = layerShape[2];
  if (dropoutMask) {
    checkMask(dropoutMask, kernel, 'swaChannelWeights');
    if (dropoutMask.shape[0] !== b) throw new Error(`swaChannelWeights: dropoutMask has ${dropoutMask.shape[0]} rows for ${b} classes`);
  }
  return tf.tidy(() => {
    // Column selection as a product with one-hot rows rather than `gather`: same values, and
    // its gradient needs only MatMul (gather's needs UnsortedSegmentSum, absent on wasm).
    const select = tf.cast(tf.oneHot(classes, kernel.shape[1]), 'float32') as tf.Tensor2D;  // B, classes
    let alpha: tf.Tensor2D;
    if (dropoutMask) {
      const kc = tf.mul(tf.matMul(select, kernel, false, true), dropoutMask);             // B, H·W·C
      alpha = tf.sum(tf.reshape(kc, [b, -1, c]), 1) as tf.Tensor2D;                       // B, C
    } else {
      const table = tf.sum(tf.reshape(kernel, [-1, c, kernel.shape[1]]), 0) as tf.Tensor2D; // C, classes
      alpha = tf.matMul(select, table, false, true);                                      // B, C
    }
    if (dropped) alpha = tf.mul(alpha, channelKeepMask(dropped, b));
    return alpha;
  });
}

/**
 * Channel weights for every class at once (the 'teacherPositive' variant):
 * α[b,c,k] = Σ_p D'[b,p,k]·K'[p,k,c] with D' = D as [B,H·W,C] and K' = K as [H·W,C,classes].
 * Returns [B, classes, C]. `batch` is needed only when no dropout mask gives it.
 */
export function swaChannelWeightsAllClasses(kernel: tf.Tensor2D, layerShape: LayerShape, batch: number,
  dropoutMask?: tf.Tensor2D | null, dropped?: DroppedChannels | null): tf.Tensor3D {
  checkKernel(kernel, layerShape, 'swaChannelWeightsAllClasses');
  const c = layerShape[2];
  const n = kernel.shape[1];
  if (dropoutMask) {
    checkMask(dropoutMask, kernel, 'swaChannelWeightsAllClasses');
    if (dropoutMask.shape[0] !== batch) throw new Error(`swaChannelWeightsAllClasses: dropoutMask has ${dropoutMask.shape[0]} rows for a batch of ${batch}`);
  }
  return tf.tidy(() => {
    const k3 = tf.reshape(kernel, [-1, c, n]);                                              // HW, C, N
    let alpha: tf.Tensor3D;
    if (dropoutMask) {
      const d = tf.transpose(tf.reshape(dropoutMask, [batch, -1, c]), [2, 0, 1]);           // C, B, HW
      const kk = tf.transpose(k3, [1, 0, 2]);                                               // C, HW, N
      alpha = tf.transpose(tf.matMul(d as tf.Tensor3D, kk as tf.Tensor3D), [1, 2, 0]) as tf.Tensor3D;  // B, N, C
    } else {
      const table = tf.transpose(tf.sum(k3, 0));                                            // N, C
      alpha = tf.broadcastTo(tf.expandDims(table, 0), [batch, n, c]) as tf.Tensor3D;
    }
    if (dropped) alpha = tf.mul(alpha, tf.expandDims(channelKeepMask(dropped, batch), 1)) as tf.Tensor3D;
    return alpha;
  });
}

/** A_b = ReLU(Σ_k α_{b,k}·F_b[·,·,k]): F [B,H,W,C], α [B,C] → [B,H,W]. */
export function swaMap(features: tf.Tensor4D, alpha: tf.Tensor2D): tf.Tensor3D {
  const [b, , , c] = features.shape;
  if (features.rank !== 4) throw new Error(`swaMap: features must be [B,H,W,C], got shape [${features.shape}]`);
  if (alpha.rank !== 2 || alpha.shape[0] !== b || alpha.shape[1] !== c) {
    throw new Error(`swaMap: alpha must be [${b}, ${c}] to match features [${features.shape}], got [${alpha.shape}]`);
  }
  return tf.tidy(() => tf.relu(tf.sum(tf.mul(features, tf.reshape(alpha, [b, 1, 1, c])), 3)) as tf.Tensor3D);
}

/** All-class maps: F [B,H,W,C], α [B,K,C] → ReLU(Σ_k F·α) [B,K,H,W]. */
export function swaMapAllClasses(features: tf.Tensor4D, alpha: tf.Tensor3D): tf.Tensor4D {
  const [b, h, w, c] = features.shape;
  if (features.rank !== 4) throw new Error(`swaMapAllClasses: features must be [B,H,W,C], got shape [${features.shape}]`);
  if (alpha.rank !== 3 || alpha.shape[0] !== b || alpha.shape[2] !== c) {
    throw new Error(`swaMapAllClasses: alpha must be [${b}, K, ${c}] to match features [${features.shape}], got [${alpha.shape}]`);
  }
  return tf.tidy(() => {
    const f = tf.reshape(features, [b, h * w, c]) as tf.Tensor3D;
    const m = tf.matMul(alpha, f, false, true);                                             // B, K, HW
    return tf.relu(tf.reshape(m, [b, alpha.shape[1], h, w])) as tf.Tensor4D;
  });
}
