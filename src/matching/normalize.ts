/** Per-sample L2 normalisation and the distances of the matching loss (method spec §3). */
import * as tf from '@tensorflow/tfjs-core';

/** Floor of the map norm: â = a / max(‖a‖₂, 1e-12); an all-zero map stays all-zero. */
export const NORM_FLOOR = 1e-12;

/**
 * Flattens the last two axes (H, W) of each map and divides by max(‖a‖₂, 1e-12):
 * [B,H,W] → [B,H·W], [B,K,H,W] → [B,K,H·W].
 *
 * The norm is computed as √max(‖a‖², 1e-24), which has the same value but a finite gradient
 * at an all-zero map (√ of exactly 0 would give 0·∞ = NaN in the backward pass).
 */
export function l2NormalizePerSample(maps: tf.Tensor): tf.Tensor {
  if (maps.rank < 3) throw new Error(`l2NormalizePerSample: maps must be [B,H,W] or [B,K,H,W], got shape [${maps.shape}]`);
  return tf.tidy(() => {
    const lead = maps.shape.slice(0, -2);
    const flat = tf.reshape(maps, [...lead, maps.shape.at(-2)! * maps.shape.at(-1)!]);
    const sumSq = tf.sum(tf.square(flat), -1, true);
    const norm = tf.sqrt(tf.maximum(sumSq, NORM_FLOOR * NORM_FLOOR));
    return tf.div(flat, norm);
  });
}

/**
 * Top-1 / EWA distance: L = (1/(B·H·W))·Σ_b ‖â^T_b − â^S_b‖², i.e. the mean squared difference
 * over batch and positions. Inputs are normalised maps [B, H·W] (from `l2NormalizePerSample`).
 */
export function normalizedMapMse(teacher: tf.Tensor, student: tf.Tensor): tf.Scalar {
  assertSameShape(teacher, student, 'normalizedMapMse');
  return tf.tidy(() => tf.mean(tf.squaredDifference(teacher, student)) as tf.Scalar);
}

/**
 * 'teacherPositive' distance: d_{b,c} = (1/(H·W))·‖â^T_{b,c} − â^S_{b,c}‖² and
 * L = (1/B)·Σ_b Σ_c w_{b,c}·d_{b,c}, where `weights` [B,K] are ω_{b,c} restricted to P_b and
 * already divided by Σ_{c∈P_b} ω_{b,c} (rows sum to 1; see `teacherTarget`).
 * Maps are normalised [B,K,H·W].
 */
export function weightedClassMapMse(teacher: tf.Tensor3D, student: tf.Tensor3D, weights: tf.Tensor2D): tf.Scalar {
  assertSameShape(teacher, student, 'weightedClassMapMse');
  if (weights.rank !== 2 || weights.shape[0] !== teacher.shape[0] || weights.shape[1] !== teacher.shape[1]) {
    throw new Error(`weightedClassMapMse: weights must be [${teacher.shape.slice(0, 2)}], got [${weights.shape}]`);
  }
  return tf.tidy(() => {
    const d = tf.mean(tf.squaredDifference(teacher, student), 2);   // B, K
    return tf.mean(tf.sum(tf.mul(d, weights), 1)) as tf.Scalar;
  });
}

function assertSameShape(a: tf.Tensor, b: tf.Tensor, op: string): void {
  if (a.shape.join() !== b.shape.join()) throw new Error(`${op}: teacher maps [${a.shape}] and student maps [${b.shape}] differ in shape`);
}
