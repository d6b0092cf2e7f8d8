/**
 * One explanation: the attribution map of (network, image, class, method), with the network's
 * prediction, on host arrays ready for `heatmap_image.ts`. Used by `apc explain` and the report.
 *
 * The networks are multi-label (per-class sigmoid, the soft-margin loss), so a class's
 * probability is σ(z_c), independent of the other classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttributionMethod, disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { modelNormalization } from '../models/input_normalization.js';

export interface Normalization {
  /** Per-channel mean of [0,1] pixels. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation. */
  readonly std: readonly number[];
}

export interface Prediction {
  /** Logits z, one per class. */
  readonly logits: Float32Array;
  /** σ(z) per class. */
  readonly probabilities: Float32Array;
  /** Index of the largest logit (first on ties). */
  readonly top1: number;
}

export interface Explanation extends Prediction {
  /** H·W map at the network's input size, as the method returns it (not normalised). */
  readonly map: Float32Array;
  readonly classIndex: number;
  readonly method: string;
}

/** The normalised input; a model that carries its own input metadata overrides `norm` (input_normalization.ts). */
function inputTensor(net: GraphNet, image: Float32Array, norm: Normalization): tf.Tensor4D {
  const [h, w] = net.inputSize;
  if (image.length !== h * w * 3) {
    throw new Error(`explain: image has ${image.length} values, the network needs ${h}×${w}×3 = ${h * w * 3} (resize it first)`);
  }
  const own = modelNormalization(net);
  const n = own ?? norm;
  return tf.tidy(() => {
    let x = tf.tensor4d(image, [1, h, w, 3]);
    if (own?.channelOrder === 'bgr') x = tf.reverse(x, 3);
    return tf.div(tf.sub(x, tf.tensor1d([...n.mean])), tf.tensor1d([...n.std])) as tf.Tensor4D;
  });
}

/** The logits of one normalised input. */
function logitsOf(net: GraphNet, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => Float32Array.from(net.predict(x).dataSync()));
}

function toPrediction(logits: Float32Array): Prediction {
  const probabilities = Float32Array.from(logits, (z) => 1 / (1 + Math.exp(-z)));
  let top1 = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k] > logits[top1]) top1 = k;
  return { logits, probabilities, top1 };
}

/** The network's prediction for one image (H·W·3 in [0,1] at its input size). */
export function predictImage(net: GraphNet, image: Float32Array, norm: Normalization): Prediction {
  return toPrediction(tf.tidy(() => logitsOf(net, inputTensor(net, image, norm))));
}

/**
 * The map of `method` (a registered kind with its default config, or a method object) for one
 * image and class (default: the network's top-1 class). No tensors are left behind.
 */
export function explainImage(
  net: GraphNet, method: string | AttributionMethod, image: Float32Array, norm: Normalization, classIndex?: number,
): Explanation {
  const m = typeof method === 'string' ? makeAttribution(method) : method;
  const x = inputTensor(net, image, norm);
  try {
    const c = classIndex ?? toPrediction(logitsOf(net, x)).top1;
    const r = m.attribute(net, x, [c]);
    try {
      return { ...toPrediction(r.logits), map: Float32Array.from(r.maps.dataSync()), classIndex: c, method: m.kind };
    } finally {
      disposeAttribution(r);
    }
  } finally {
    x.dispose();
  }
}

/**
 * Bilinear resize of an H·W·3 image (half-pixel centres, as OpenCV's default resize); returns the
 * input itself when the size already matches.
 */
export function resizeImage(image: Float32Array, height: number, width: number, outHeight: number, outWidth: number): Float32Array {
  if (height === outHeight && width === outWidth) return image;
  return tf.tidy(() => {
    const t = tf.tensor4d(image, [1, height, width, 3]);
    return Float32Array.from(tf.image.resizeBilinear(t, [outHeight, outWidth], false, true).dataSync());
  });
}
