import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { GRAPH_RELEVANCE_RULES } from './graph_rules.js';
import { lrpGraphPass, LrpConfigSchema } from './lrp.js';
import { randomImages, topClasses } from './test_nets.js';
await tf.setBackend('cpu');
registerKernelPack('cpu');
const net = GraphNet.create(archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 4 }), 13);
const rng = new Rng(14);
tf.tidy(() => {
  for (const d of net.graph.weights) {
    const v = net.weight(d.name);
      if (d.suffix === 'moving_mean' || d.suffix === 'beta' || d.name.endsWith('1/bias')) v.assign(tf.zerosLike(v));
      if (d.suffix === 'gamma') v.assign(tf.tensor(rng.uniformArray(v.size, 0.5, 1.5), v.shape));
      if (d.suffix === 'moving_variance') v.assign(tf.tensor(rng.uniformArray(v.size, 0.5, 2), v.shape));
  }
});
const x = randomImages(net, 3, 21);
const classes = topClasses(net, x);
const R = GRAPH_RELEVANCE_RULES as any;
for (const k of Object.keys(R)) {
  const f = R[k];
  R[k] = (t: any, r: tf.Tensor, ctx: any) => {
    const outs = f(t, r, ctx);
    const a = tf.sum(r).dataSync()[0];
    const b = outs.reduce((s: number, o: tf.Tensor) => s + tf.sum(o).dataSync()[0], 0);
    if (Math.abs(a - b) > 1e-3 * Math.abs(a)) console.log(t.node.name, t.node.op, a, b, t.inputNonNegative);
    return outs;
  };
}
const p = lrpGraphPass(net, x, classes, LrpConfigSchema.parse({}));
console.log(tf.sum(p.relevance).dataSync(), tf.sum(p.targetLogit).dataSync());
