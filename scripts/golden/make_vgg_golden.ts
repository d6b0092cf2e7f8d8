/**
 * Golden outputs of the pre-graph VGG implementation (commit 9288881, `VggNet` in
 * src/models/vgg.ts), so the graph model can be held to them (issue "Bring your own model": the
 * VGG maps must equal the old ones within 1e-6).
 *
 * This script runs against THAT commit's API, not today's: to regenerate,
 *   git worktree add /tmp/apc-9288881 9288881 && cd /tmp/apc-9288881 && npm ci
 *   cp <this file> scripts/golden/ && node --import tsx scripts/golden/make_vgg_golden.ts OUTDIR
 * It writes OUTDIR/net (an old-format checkpoint: model.json Sequential + apc.json kind 'vgg'),
 * OUTDIR/student (a student checkpoint) and OUTDIR/golden.json + golden.bin (float32 arrays,
 * offsets in the JSON): inputs, inference logits, the seven methods' maps, a training forward with
 * a fixed dropout mask, one SGD step of the label objective, one KD+WCAM step (closed form at
 * pool3) and one SWA step at an inner layer (explicit backward at pool2). cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { registerKernelPack } from '../../src/engine/kernels/register.js';
import { Rng } from '../../src/engine/random.js';
import { VggNet } from '../../src/models/vgg.js';
import { VggConfigSchema } from '../../src/models/vgg_config.js';
import { saveNet } from '../../src/models/checkpoint.js';
import { makeAttribution } from '../../src/attribution/registry.js';
import { trainStep, labelObjective } from '../../src/train/fit.js';
import { SgdMomentum } from '../../src/train/sgd.js';
import { multiLabelSoftMargin } from '../../src/train/losses.js';
import { compressionObjective } from '../../src/compress/objective.js';
import { parseMatchingConfig } from '../../src/matching/matching_term.js';

const out = process.argv[2];
if (!out) throw new Error('usage: make_vgg_golden.ts OUTDIR');
mkdirSync(out, { recursive: true });
await tf.setBackend('cpu');
registerKernelPack('cpu');

const arrays: Record<string, { offset: number; shape: number[] }> = {};
const chunks: Float32Array[] = [];
let offset = 0;
function put(name: string, t: tf.Tensor | Float32Array, shape?: number[]): void {
  const data = t instanceof Float32Array ? t : Float32Array.from(t.dataSync());
  arrays[name] = { offset, shape: shape ?? (t instanceof Float32Array ? [t.length] : t.shape) };
  chunks.push(data);
  offset += data.length;
}

const cfg = VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [6, 6], [8]], inputSize: [16, 16], numClasses: 4, dropout: 0.5 });
const net = VggNet.create(cfg, 11);
const rng = new Rng(99);
for (const c of net.layout.convs) {
  const k = c.outChannels;
  const set = (n: string, v: Float32Array) => tf.tidy(() => net.weight(n).assign(tf.tensor(v, net.weight(n).shape)));
  set(`${c.bn}/moving_mean`, rng.uniformArray(k, -0.2, 0.2));
  set(`${c.bn}/moving_variance`, rng.uniformArray(k, 0.5, 2));
  set(`${c.bn}/gamma`, rng.uniformArray(k, 0.2, 1.5));
  set(`${c.bn}/beta`, rng.uniformArray(k, -0.1, 0.3));
}
await saveNet(join(out, 'net'), net, { dataset: 'golden', classNames: ['a', 'b', 'c', 'd'] });

const x = tf.tensor4d(new Rng(5).uniformArray(3 * 16 * 16 * 3, -2, 2), [3, 16, 16, 3]);
put('x', x);
const logits = net.predict(x);
put('logits', logits);
const classes = Array.from(tf.argMax(logits, 1).dataSync());
const methods = ['gradcam', 'lrp', 'rap', 'ebp', 'ig', 'smoothgrad', 'gradxinput'];
for (const m of methods) {
  const r = makeAttribution(m).attribute(net, x, classes);
  put(`maps.${m}`, r.maps);
}
const camAuto = makeAttribution('gradcam', { layer: 'relu2_2', gradients: 'autodiff' }).attribute(net, x, classes);
put('maps.gradcam_relu2_2', camAuto.maps);

// training forward with a fixed dropout mask
const mask = net.dropoutMask(3, new Rng(7));
const tr = net.forward(x, { training: true, dropoutMask: mask, capture: ['relu2_2', 'pool3', 'bn2_1'] });
put('train.logits', tr.logits);
put('train.relu2_2', tr.activations.relu2_2);
put('train.bn2_1', tr.activations.bn2_1);
tr.batchStats.forEach((s, i) => { put(`train.stat${i}.mean`, s.mean); put(`train.stat${i}.variance`, s.variance); });

// one label step
const y = tf.tensor2d([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 1]]);
const stepNet = net.clone();
const opt = new SgdMomentum({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
const r1 = await trainStep(stepNet, labelObjective(multiLabelSoftMargin), opt, stepNet.trainableVariables(), { x, y, indices: [0, 1, 2] }, new Rng(3));
put('step.loss', new Float32Array([r1.loss]));
for (const [k, v] of stepNet.weights) put(`step.w.${k}`, v);

// KD + WCAM step (closed form at the last pool) and SWA at pool2 (explicit backward)
const scfg = VggConfigSchema.parse({ kind: 'vgg', blocks: [[2], [3, 3], [4]], inputSize: [16, 16], numClasses: 4, dropout: 0.5 });
const student0 = VggNet.create(scfg, 21);
await saveNet(join(out, 'student'), student0, { dataset: 'golden' });
for (const [tag, matching] of [['wcam', { kind: 'swa', beta: 1 }], ['swa_pool2', { kind: 'swa', beta: 1, layer: 'pool2' }], ['ewa', { kind: 'ewa', beta: 1 }]] as const) {
  const s = student0.clone();
  const o = new SgdMomentum({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const obj = compressionObjective({ teacher: net, kd: { alpha: 0.9, temperature: 4 }, matching: parseMatchingConfig(matching) });
  const r = await trainStep(s, obj, o, s.trainableVariables(), { x, y, indices: [0, 1, 2] }, new Rng(4));
  put(`${tag}.loss`, new Float32Array([r.loss]));
  put(`${tag}.match`, new Float32Array([r.parts.match ?? NaN]));
  for (const [k, v] of s.weights) put(`${tag}.w.${k}`, v);
}

const total = new Float32Array(offset);
let o = 0;
for (const c of chunks) { total.set(c, o); o += c.length; }
writeFileSync(join(out, 'golden.bin'), Buffer.from(total.buffer));
writeFileSync(join(out, 'golden.json'), JSON.stringify({ commit: '9288881', backend: 'cpu', classes, arrays }, null, 1));
console.log(`wrote ${Object.keys(arrays).length} arrays, ${offset} floats`);
