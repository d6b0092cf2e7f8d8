/** Ops that move or combine values: pad, add, concat (channels), flatten (NHWC order). */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { type OpDef, PASS_CHANNELS, product } from '../op.js';

export const padOp: OpDef<'pad'> = {
  kind: 'pad',
  outputShape(n, [input]) {
    if (input.length !== 3) throw new Error(`pad needs an [H, W, C] input, got [${input}]`);
    const [t, b, l, r] = n.pads;
    return [input[0] + t + b, input[1] + l + r, input[2]];
  },
  channels: () => PASS_CHANNELS,
  forward: (n, [x]) => tf.pad(x, [[0, 0], [n.pads[0], n.pads[1]], [n.pads[2], n.pads[3]], [0, 0]], n.value),
  keras(n, [x]) {
    if (n.value !== 0) throw new Error(`node '${n.name}': padding with ${n.value} has no Keras layer (ZeroPadding2D pads with 0)`);
    return tfl.layers.zeroPadding2d({ name: n.name, padding: [[n.pads[0], n.pads[1]], [n.pads[2], n.pads[3]]] }).apply(x) as SymbolicTensor;
  },
  keepsNonNegative: (n) => n.value >= 0,
};

export const addOp: OpDef<'add'> = {
  kind: 'add',
  outputShape(_n, inputs) {
    const first = inputs[0];
    for (const s of inputs) {
      if (s.length !== first.length || s.some((d, i) => d !== first[i])) {
        throw new Error(`add needs equal input shapes, got ${inputs.map((x) => `[${x}]`).join(' and ')}`);
      }
    }
    return first;
  },
  // one rule for all inputs: the spaces of every input and of the output merge
  channels: () => PASS_CHANNELS,
  forward: (_n, inputs) => inputs.slice(1).reduce((acc, t) => tf.add(acc, t), inputs[0]),
  keras: (n, inputs) => tfl.layers.add({ name: n.name }).apply([...inputs]) as SymbolicTensor,
  keepsNonNegative: () => true,
};

export const concatOp: OpDef<'concat'> = {
  kind: 'concat',
  outputShape(_n, inputs) {
    const first = inputs[0];
    for (const s of inputs) {
      if (s.length !== first.length || s.slice(0, -1).some((d, i) => d !== first[i])) {
        throw new Error(`concat needs inputs that differ only in channels, got ${inputs.map((x) => `[${x}]`).join(' and ')}`);
      }
    }
    return [...first.slice(0, -1), inputs.reduce((sum, s) => sum + s[s.length - 1], 0)];
  },
  channels: () => ({ output: 'concat', outAxes: [], inAxes: [] }),
  forward: (_n, inputs) => tf.concat(inputs as tf.Tensor[], -1),
  keras: (n, inputs) => tfl.layers.concatenate({ name: n.name, axis: -1 }).apply([...inputs]) as SymbolicTensor,
  keepsNonNegative: () => true,
};

export const flattenOp: OpDef<'flatten'> = {
  kind: 'flatten',
  outputShape: (_n, [input]) => [product(input)],
  channels: () => ({ output: 'flatten', outAxes: [], inAxes: [] }),
  forward: (_n, [x]) => (x.rank === 2 ? x : tf.reshape(x, [x.shape[0], x.size / x.shape[0]])),
  keras: (n, [x]) => tfl.layers.flatten({ name: n.name }).apply(x) as SymbolicTensor,
  keepsNonNegative: () => true,
};
