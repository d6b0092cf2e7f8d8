/** Loss functions of the training recipes (method spec §6, compression spec §1.1). */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Multi-label soft-margin loss = per-class sigmoid cross-entropy averaged over batch and classes:
 * mean[ y·softplus(−z) + (1−y)·softplus(z) ]. Written with softplus for numerical stability.
 */
export function multiLabelSoftMargin(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.add(
    tf.mul(labels, tf.softplus(tf.neg(logits))),
    tf.mul(tf.sub(1, labels), tf.softplus(logits)),
  )) as tf.Scalar);
}

/**
 * Multi-label knowledge distillation: per-class Bernoulli KL(q‖p) at temperature T, p = σ(s/T),
 * q = σ(t/T), summed over classes and samples, divided by B·K, times T². Logs come from
 * log-sigmoid, so logits of ±100 stay finite (the reference adds 1e-7 inside the logs, quirk C9).
 */
export function multiLabelKd(student: tf.Tensor2D, teacher: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const s = tf.div(student, temperature);
    const t = tf.div(teacher, temperature);
    const q = tf.sigmoid(t);
    const logQ = logSigmoid(t), log1mQ = logSigmoid(tf.neg(t));
    const logP = logSigmoid(s), log1mP = logSigmoid(tf.neg(s));
    const kl = tf.add(tf.mul(q, tf.sub(logQ, logP)), tf.mul(tf.sub(1, q), tf.sub(log1mQ, log1mP)));
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/**
 * log σ(x) = −softplus(−x). Not `tf.logSigmoid`: its custom gradient closes over its input
 * instead of saving it, so the tidy around a loss would dispose what the backward pass needs.
 */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}
