/**
 * ReLU6 = min(max(x, 0), 6) (MobileNetV2's `clip`), with its gradient dy·[0 < x ≤ 6] from apc's
 * one-pass kernel where it is registered (wasm, cpu; kernels/relu6_grad.ts) and tfjs's own
 * gradient elsewhere. Values and gradients equal `tf.relu6`'s.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ApcRelu6Grad } from '../kernels/relu6_grad.js';

export function relu6(x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(ApcRelu6Grad, tf.getBackend()) == null) return tf.relu6(x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([input]);
    return {
      value: tf.relu6(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(ApcRelu6Grad, { dy, x: saved[0] }) as tf.Tensor,
    };
  });
  return f(x) as tf.Tensor;
}
