/**
 * The graph model reproduces the pre-graph VGG implementation: a checkpoint written by it (commit
 * 9288881, test/fixtures/vgg_golden, made by scripts/golden/make_vgg_golden.ts) loads, and
 * inference logits, training forward and BN statistics, all seven attribution methods' maps, one
 * SGD step and one KD + matching step (closed form, explicit backward at an inner layer, EWA)
 * equal what that code computed, within 1e-6 (cpu backend, as the golden run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { registerKernelPack } from '../../engine/kernels/register.js';
import { Rng } from '../../engine/random.js';
import { loadNet } from '../checkpoint.js';
import { makeAttribution } from '../../attribution/registry.js';
import { labelObjective, trainStep } from '../../train/fit.js';
import { SgdMomentum } from '../../train/sgd.js';
import { multiLabelSoftMargin } from '../../train/losses.js';
import { compressionObjective } from '../../compress/objective.js';
import { parseMatchingConfig } from '../../matching/matching_term.js';

await tf.setBackend('cpu');
registerKernelPack('cpu');

const dir = new URL('../../../test/fixtures/vgg_golden/', import.meta.url).pathname;
const index = JSON.parse(readFileSync(`${dir}golden.json`, 'utf8')) as { classes: number[]; arrays: Record<string, { offset: number; shape: number[] }> };
const bin = readFileSync(`${dir}golden.bin`);
const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
function golden(name: string): { data: Float32Array; shape: number[] } {
  const a = index.arrays[name];
  assert.ok(a, `golden array ${name}`);
  const n = a.shape.reduce((p, v) => p * v, 1);
  return { data: all.subarray(a.offset, a.offset + n), shape: a.shape };
}
function close(name: string, t: tf.Tensor | Float32Array | number, tol = 1e-6): void {
  const g = golden(name);
  const v = typeof t === 'number' ? new Float32Array([t]) : t instanceof Float32Array ? t : t.dataSync() as Float32Array;
  assert.equal(v.length, g.data.length, `${name}: length`);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < v.length; i++) {
    worst = Math.max(worst, Math.abs(v[i] - g.data[i]));
    scale = Math.max(scale, Math.abs(g.data[i]));
  }
  assert.ok(worst <= tol * Math.max(1, scale), `${name}: max |Δ| ${worst} (scale ${scale})`);
}

const { net } = await loadNet(`${dir}net`);
const x = tf.tensor4d(golden('x').data, golden('x').shape as [number, number, number, number]);
const y = tf.tensor2d([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 1]]);

test('an old-format VGG checkpoint loads as a graph and gives the same logits', () => {
  assert.equal(net.config.kind, 'vgg');
  assert.equal(net.gradCamLayer, 'relu3_1');
  assert.equal(net.matchLayer, 'pool3');
  close('logits', net.predict(x));
});

test('VGG attribution maps of all seven methods equal the pre-graph implementation within 1e-6', () => {
  for (const m of ['gradcam', 'lrp', 'rap', 'ebp', 'ig', 'smoothgrad', 'gradxinput']) {
    const r = makeAttribution(m).attribute(net, x, index.classes);
    close(`maps.${m}`, r.maps);
    tf.dispose([r.maps, r.native ?? []]);
  }
  const r = makeAttribution('gradcam', { layer: 'relu2_2', gradients: 'autodiff' }).attribute(net, x, index.classes);
  close('maps.gradcam_relu2_2', r.maps);
  tf.dispose([r.maps, r.native ?? []]);
});

test('training forward with a given dropout mask: logits, captures and BN statistics unchanged', () => {
  const mask = net.dropoutMask(3, new Rng(7));
  const tr = net.forward(x, { training: true, dropoutMask: mask, capture: ['relu2_2', 'pool3', 'bn2_1'] });
  close('train.logits', tr.logits);
  close('train.relu2_2', tr.activations.relu2_2);
  close('train.bn2_1', tr.activations.bn2_1);
  tr.batchStats.forEach((s, i) => { close(`train.stat${i}.mean`, s.mean); close(`train.stat${i}.variance`, s.variance); });
});

test('one SGD step and one KD step with WCAM, SWA at an inner layer and EWA give the same weights', async () => {
  const stepNet = net.clone();
  const opt = new SgdMomentum({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const r1 = await trainStep(stepNet, labelObjective(multiLabelSoftMargin), opt, stepNet.trainableVariables(), { x, y, indices: [0, 1, 2] }, new Rng(3));
  close('step.loss', r1.loss);
  for (const [k, v] of stepNet.weights) close(`step.w.${k}`, v);
  stepNet.dispose(); opt.dispose();
  const { net: student0 } = await loadNet(`${dir}student`);
  for (const [tag, matching] of [['wcam', { kind: 'swa', beta: 1 }], ['swa_pool2', { kind: 'swa', beta: 1, layer: 'pool2' }], ['ewa', { kind: 'ewa', beta: 1 }]] as const) {
    const s = student0.clone();
    const o = new SgdMomentum({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const obj = compressionObjective({ teacher: net, kd: { alpha: 0.9, temperature: 4 }, matching: parseMatchingConfig(matching) });
    const r = await trainStep(s, obj, o, s.trainableVariables(), { x, y, indices: [0, 1, 2] }, new Rng(4));
    close(`${tag}.loss`, r.loss);
    close(`${tag}.match`, r.parts.match);
    for (const [k, v] of s.weights) close(`${tag}.w.${k}`, v);
    s.dispose(); o.dispose();
  }
  student0.dispose();
});
