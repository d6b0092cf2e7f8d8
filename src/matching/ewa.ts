/** Equally-weighted attribution (activation attention transfer), method spec §4. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Q_b[h,w] = (1/C)·Σ_k F_b[h,w,k]²: the channel mean of squared activations, over the network's
 * own channel count. No class, no gradient, no ReLU. F: [B,H,W,C] → [B,H,W].
 */
export function ewaMap(features: tf.Tensor4D): tf.Tensor3D {
  if (features.rank !== 4) throw new Error(`ewaMap: features must be [B,H,W,C], got shape [${features.shape}]`);
  return tf.tidy(() => tf.mean(tf.square(features), 3) as tf.Tensor3D);
}
