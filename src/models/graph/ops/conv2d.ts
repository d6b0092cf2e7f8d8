/**
 * conv2d: a dense convolution (groups 1, kernel HWIO `kernel`) or a depthwise one (groups = input
 * channels, kernel [kh, kw, C, multiplier] `depthwise_kernel`), with strides, dilation and explicit
 * per-side zero padding, plus an optional bias.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { kerasPadding, pair } from '../keras_layers.js';
import type { Conv2dNode } from '../graph_spec.js';
import type { OpDef, Shape, WeightDef } from '../op.js';
import { tfPadding, windowOutput } from '../padding.js';

export function isDepthwise(node: Conv2dNode): boolean {
  return node.groups > 1 || node.depthwise === true;
}

/** Name suffix of the node's kernel: `kernel` (HWIO) or `depthwise_kernel` ([kh, kw, C, m]). */
export function kernelSuffix(node: Conv2dNode): string {
  return isDepthwise(node) ? 'depthwise_kernel' : 'kernel';
}

function checkInput(node: Conv2dNode, input: Shape): void {
  if (input.length !== 3) throw new Error(`conv2d needs an [H, W, C] input, got [${input}]`);
  const c = input[2];
  if (isDepthwise(node)) {
    if (node.groups !== c) throw new Error(`groups ${node.groups} is neither 1 nor the input's ${c} channels (only dense and depthwise convolutions are supported)`);
    if (node.filters % c !== 0) throw new Error(`a depthwise conv over ${c} channels needs a multiple of ${c} filters, got ${node.filters}`);
  }
}

/** The convolution without bias, differentiable w.r.t. x and the kernel. */
export function convolve(node: Conv2dNode, x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  const pad = tfPadding(node.pads, h, w, node.kernelSize, node.strides, node.dilations);
  const [sh, sw] = node.strides;
  const [dh, dw] = node.dilations;
  // numbers rather than pairs where both sides agree: the kernels then see today's exact attrs
  const strides: number | [number, number] = sh === sw ? sh : [sh, sw];
  const dilations: number | [number, number] = dh === dw ? dh : [dh, dw];
  if (isDepthwise(node)) return tf.depthwiseConv2d(x, kernel, strides, pad, 'NHWC', dilations);
  return dh === 1 && dw === 1 ? tf.conv2d(x, kernel, strides, pad) : tf.conv2d(x, kernel, strides, pad, 'NHWC', dilations);
}

export const conv2dOp: OpDef<'conv2d'> = {
  kind: 'conv2d',
  outputShape(node, [input]) {
    checkInput(node, input);
    const [h, w] = input;
    const [kh, kw] = node.kernelSize;
    const [t, b, l, r] = node.pads;
    const oh = windowOutput(h, kh, node.strides[0], node.dilations[0], t, b);
    const ow = windowOutput(w, kw, node.strides[1], node.dilations[1], l, r);
    if (oh < 1 || ow < 1) throw new Error(`a ${kh}×${kw} conv over a ${h}×${w} input leaves no output`);
    return [oh, ow, node.filters];
  },
  weights(node, [input]) {
    const [kh, kw] = node.kernelSize;
    const c = input[2];
    const fanIn = kh * kw * (c / node.groups);
    const defs: WeightDef[] = [{
      suffix: kernelSuffix(node),
      shape: isDepthwise(node) ? [kh, kw, c, node.filters / c] : [kh, kw, c, node.filters],
      trainable: true, init: { kind: 'uniform', fanIn },
    }];
    if (node.useBias) defs.push({ suffix: 'bias', shape: [node.filters], trainable: true, init: { kind: 'uniform', fanIn } });
    return defs;
  },
  channels(node) {
    const bias = node.useBias ? [{ suffix: 'bias', axis: 0 }] : [];
    // dense conv: out-channels on axis 3, in-channels on axis 2; depthwise (multiplier 1): channel c
    // of the input is channel c of the output, its kernel's axis 2
    if (!isDepthwise(node)) return { output: 'new', outAxes: [{ suffix: 'kernel', axis: 3 }, ...bias], inAxes: [{ suffix: 'kernel', axis: 2 }] };
    if (node.filters === node.groups) return { output: 'pass', outAxes: [{ suffix: 'depthwise_kernel', axis: 2 }, ...bias], inAxes: [] };
    return { output: 'opaque', outAxes: [], inAxes: [] };
  },
  resize(node, [input], outChannels) {
    if (!isDepthwise(node)) return { ...node, filters: outChannels };
    const c = input[2];
    const { depthwise: _, ...rest } = node;
    // one channel left: groups 1 alone would make it a dense conv (another channel rule and weight name)
    return { ...rest, groups: c, filters: c * (node.filters / node.groups), ...(c === 1 ? { depthwise: true as const } : {}) };
  },
  forward(node, [x], ctx) {
    const y = convolve(node, x as tf.Tensor4D, ctx.weight(kernelSuffix(node)) as tf.Tensor4D);
    return node.useBias ? tf.add(y, ctx.weight('bias')) : y;
  },
  keras(node, [input], ctx) {
    if (node.strides.some((s) => s > 1) && node.dilations.some((d) => d > 1)) {
      throw new Error(`node '${node.name}': Keras has no conv with both strides and dilation > 1`);
    }
    const { x, padding } = kerasPadding(node.name, input, ctx.inputShapes[0], node.pads, node.kernelSize, node.strides, node.dilations, true, '');
    const common = { name: node.name, kernelSize: pair(node.kernelSize), strides: pair(node.strides), dilationRate: pair(node.dilations), padding, useBias: node.useBias };
    const layer = isDepthwise(node)
      ? tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: node.filters / node.groups })
      : tfl.layers.conv2d({ ...common, filters: node.filters });
    return layer.apply(x) as SymbolicTensor;
  },
  macs(node, [input], output, nonZeroWeights) {
    const [kh, kw] = node.kernelSize;
    const perPosition = nonZeroWeights ?? kh * kw * (input[2] / node.groups) * node.filters;
    return output[0] * output[1] * perPosition;
  },
};
