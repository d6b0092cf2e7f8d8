/** dense: [F] → [units] with kernel [F, units] (Keras layout) and an optional bias. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { OpDef } from '../op.js';

export const denseOp: OpDef<'dense'> = {
  kind: 'dense',
  outputShape(n, [input]) {
    if (input.length !== 1) throw new Error(`dense needs a flat [F] input (add a flatten or globalAvgPool before it), got [${input}]`);
    return [n.units];
  },
  weights(n, [input]) {
    const fanIn = input[0];
    return [
      { suffix: 'kernel', shape: [fanIn, n.units], trainable: true, init: { kind: 'uniform', fanIn } },
      ...(n.useBias ? [{ suffix: 'bias', shape: [n.units], trainable: true, init: { kind: 'uniform' as const, fanIn } }] : []),
    ];
  },
  // output channels: kernel columns and bias; input channels: kernel rows
  channels: (n) => ({ output: 'new', outAxes: [{ suffix: 'kernel', axis: 1 }, ...(n.useBias ? [{ suffix: 'bias', axis: 0 }] : [])], inAxes: [{ suffix: 'kernel', axis: 0 }] }),
  resize: (n, _inputs, outChannels) => ({ ...n, units: outChannels }),
  forward(n, [x], ctx) {
    const y = tf.matMul(x as tf.Tensor2D, ctx.weight('kernel') as tf.Tensor2D);
    return n.useBias ? tf.add(y, ctx.weight('bias')) : y;
  },
  keras: (n, [x]) => tfl.layers.dense({ name: n.name, units: n.units, useBias: n.useBias }).apply(x) as SymbolicTensor,
  macs: (_n, [input], output, nonZero) => nonZero ?? input[0] * output[0],
};
