/**
 * Fake quantisation for quantisation-aware training (QAT): the forward uses the weight a uint8
 * TF.js export would load back — the per-tensor affine code of `quantizeUint8`, dequantised as
 * tfjs-core does, bit for bit — and the backward passes the gradient straight through
 * (∂fq(w)/∂w := 1, the straight-through estimator), so the float weights keep learning while the
 * loss sees the shipped model. Every weight falls inside its own tensor's [min, max], so there is
 * no clipped region to mask the gradient in.
 *
 * The code is computed on the host in float64 (as the exporter does), not with float32 tensor
 * ops, so a QAT model's uint8 export reproduces the trained forward exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WeightView } from '../graph/graph_net.js';
import { fakeQuantizeUint8 } from './weight_quantization.js';

const straightThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const w = args[0] as tf.Tensor;
  return { value: tf.tensor(fakeQuantizeUint8(w.dataSync() as Float32Array), w.shape, 'float32'), gradFunc: (dy: tf.Tensor) => dy };
});

/** fq(w): the uint8 export's value of every entry of `w`, with a straight-through gradient. */
export function fakeQuantizeUint8Tensor(w: tf.Tensor): tf.Tensor {
  return straightThrough(w);
}

/** The weight view of a QAT network: every weight (kernels, biases, BN parameters and statistics) as the uint8 export stores it. */
export const UINT8_FAKE_QUANT: WeightView = (_name, w) => fakeQuantizeUint8Tensor(w);
