/**
 * A convolution's geometry for the relevance rules: its forward without bias and its input
 * gradient (spec §0's convT) for any kernel size, stride, dilation, explicit per-side padding and
 * depthwise grouping of a graph node. The input gradient calls the backprop kernels directly (no
 * tape, no second forward): Conv2DBackpropInput and DepthwiseConv2dNativeBackpropInput, which apc's
 * kernel pack supplies on wasm; a stride-1 odd 'same' conv uses `conv2dSameInputGrad` as VGG does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dSameInputGrad } from '../engine/ops/conv2d_same_input_grad.js';
import type { Conv2dNode } from '../models/graph/graph_spec.js';
import { convolve, isDepthwise } from '../models/graph/ops/conv2d.js';
import { tfPadding } from '../models/graph/padding.js';

export interface ConvGeometry {
  /** conv(x, W) without bias. */
  forward(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D;
  /** convT(S, W): the input gradient of Σ forward(x, W) ⊙ S (S output-shaped, result input-shaped). */
  inputGrad(s: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D;
}

/** VGG's 3×3/1 'same' convolution (attribution spec §0). */
export const SAME_STRIDE_1: ConvGeometry = {
  forward: (x, w) => tf.conv2d(x, w, 1, 'same'),
  inputGrad: (s, w) => conv2dSameInputGrad(s, w),
};

/** The geometry of a graph conv node for inputs of shape `inputShape` ([N, H, W, C]). */
export function convGeometry(node: Conv2dNode, inputShape: readonly [number, number, number, number]): ConvGeometry {
  const [n, h, w, c] = inputShape;
  const [kh, kw] = node.kernelSize;
  const [sh, sw] = node.strides;
  const [dh, dw] = node.dilations;
  const depthwise = isDepthwise(node);
  const stride1 = sh === 1 && sw === 1;
  const undilated = dh === 1 && dw === 1;
  const symmetricSame = kh % 2 === 1 && kw % 2 === 1 && node.pads[0] === (kh - 1) / 2 && node.pads[1] === (kh - 1) / 2
    && node.pads[2] === (kw - 1) / 2 && node.pads[3] === (kw - 1) / 2;
  const strides: [number, number] = [sh, sw];
  return {
    forward: (x, k) => convolve(node, x, k),
    inputGrad(s, k) {
      if (depthwise) {
        const pad = tfPadding(node.pads, h, w, node.kernelSize, node.strides, node.dilations);
        return tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: s, filter: k },
          { strides, dilations: [dh, dw], pad, inputShape: [n, h, w, c] } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      }
      if (stride1 && undilated && symmetricSame) return conv2dSameInputGrad(s, k);
      // a dilated kernel is the undilated one with zeros between its taps
      const kernel = undilated ? k : dilateKernel(k, dh, dw);
      const pad = tfPadding(node.pads, h, w, [kernel.shape[0], kernel.shape[1]], node.strides);
      return tf.conv2dTranspose(s, kernel, [n, h, w, c], strides, pad);
    },
  };
}

/** [kh, kw, I, O] → [(kh−1)·dh + 1, (kw−1)·dw + 1, I, O] with dh−1 (dw−1) zero taps between taps. */
function dilateKernel(k: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, i, o] = k.shape;
    const spread = tf.pad(tf.reshape(k, [kh, 1, kw, 1, i, o]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
    return tf.slice(tf.reshape(spread, [kh * dh, kw * dw, i, o]), [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, i, o]) as tf.Tensor4D;
  });
}
