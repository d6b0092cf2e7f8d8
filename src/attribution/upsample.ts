/**
 * Map upsampling for layer-level methods (Grad-CAM, EBP): bilinear with half-pixel centres and
 * edge clamping (attribution spec §1). Source coordinate = (dst + 0.5)·in/out − 0.5, clamped to
 * [0, in − 1]; this is OpenCV's default linear resize and
 * `tf.image.resizeBilinear(x, size, alignCorners = false, halfPixelCenters = true)`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** [N, h, w] → [N, H, W]. Returns a new tensor (a copy when the size is unchanged). */
export function upsampleBilinear(maps: tf.Tensor3D, size: readonly [number, number]): tf.Tensor3D {
  if (maps.rank !== 3) throw new Error(`upsampleBilinear: maps must be [N, h, w], got [${maps.shape}]`);
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new Error(`upsampleBilinear: size must be two positive integers, got [${size}]`);
  }
  return tf.tidy(() => {
    if (maps.shape[1] === h && maps.shape[2] === w) return tf.clone(maps);
    const x = tf.expandDims(maps, 3) as tf.Tensor4D;
    return tf.squeeze(tf.image.resizeBilinear(x, [h, w], false, true), [3]) as tf.Tensor3D;
  });
}
