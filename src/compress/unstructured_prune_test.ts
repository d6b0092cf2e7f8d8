import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { modelStats } from '../models/accounting.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { type VggConfig, vggPreset } from '../models/vgg_config.js';
import { SgdMomentum } from '../train/sgd.js';
import {
  applyMasks, disposeMasks, globalMagnitudeMasks, installMasks, kernelSparsity, nonzeroMasks, prunableWeights, sparsitySchedule,
} from './unstructured_prune.js';

tf.enableProdMode();
await tf.setBackend('cpu');

function smallConfig(): VggConfig {
  return { ...vggPreset({ width: 64, imageSize: 64, numClasses: 4 }), blocks: [[4, 6], [8]], inputSize: [8, 8] };
}

test('sparsity schedule P_t = 1 − 0.8^t matches the spec table; k_16 for VGG16', () => {
  const table = [0.2, 0.36, 0.488, 0.5904, 0.6723, 0.7379, 0.7903, 0.8322, 0.8658, 0.8926, 0.9141, 0.9313, 0.945, 0.956, 0.9648, 0.9719];
  table.forEach((p, i) => assert.equal(Number(sparsitySchedule(0.2, i + 1).toFixed(4)), p, `t=${i + 1}`));
  const N = 14710464; // VGG16 conv weights (spec §3.1)
  assert.equal(modelStats(vggPreset({ arch: 'vgg16', imageSize: 227 })).convWeights, N);
  const k16 = Math.floor(sparsitySchedule(0.2, 16) * N);
  assert.equal(k16, 14296401);
  assert.equal(N - k16, 414063);
  assert.throws(() => sparsitySchedule(1, 1), /unstructured rate must be in \[0, 1\)/);
});

test('16 rounds: exactly k_t zeros after round t, nested masks, dense layer / biases / BN untouched', () => {
  const net0 = GraphNet.create(smallConfig(), 11);
  let net = net0.clone();
  const N = prunableWeights(net).reduce((a, n) => a + net.weight(n).size, 0);
  const rng = new Rng(5);
  let prev: Map<string, tf.Tensor> | undefined;
  for (let t = 1; t <= 16; t++) {
    const P = sparsitySchedule(0.2, t);
    const r = globalMagnitudeMasks(net, { sparsity: P, previous: prev });
    assert.equal(r.k, Math.floor(P * N));
    assert.equal(r.zeros, r.k, `round ${t}`);
    assert.equal(r.layers.reduce((a, l) => a + l.zeros, 0), r.k);
    const next = applyMasks(net, r.masks);
    assert.equal(kernelSparsity(next).reduce((a, l) => a + l.zeros, 0), r.k, `zeros in the weights after round ${t}`);
    assert.equal(modelStats(next).nonZeroConvWeights, N - r.k);
    if (prev) {
      for (const [name, m] of r.masks) {
        const a = m.dataSync(), b = prev.get(name)!.dataSync();
        for (let i = 0; i < a.length; i++) assert.ok(a[i] <= b[i], `mask of ${name} grew at ${i} in round ${t}`);
      }
      disposeMasks(prev);
    }
    // "fine-tune": perturb the surviving weights, so later rounds rank changed magnitudes
    tf.tidy(() => {
      for (const name of prunableWeights(next)) {
        const w = next.weight(name);
        w.assign(tf.mul(tf.add(w, tf.tensor(rng.uniformArray(w.size, -0.05, 0.05), w.shape)), r.masks.get(name)!));
      }
    });
    net.dispose();
    net = next;
    prev = r.masks;
  }
  for (const name of ['fc/kernel', 'conv1_1/bias', 'bn1_1/gamma', 'bn2_1/beta']) {
    assert.deepEqual(net.weight(name).dataSync(), net0.weight(name).dataSync(), name);
  }
  disposeMasks(prev!); net.dispose(); net0.dispose();
});

test('ties go to the lower canonical index; compat.thresholdInclusive prunes ≥ k+1 (quirk C4)', () => {
  const net = GraphNet.create(smallConfig(), 2);
  tf.tidy(() => {
    for (const name of prunableWeights(net)) net.weight(name).assign(tf.onesLike(net.weight(name)));
  });
  const N = prunableWeights(net).reduce((a, n) => a + net.weight(n).size, 0);
  const r = globalMagnitudeMasks(net, { sparsity: 0.5 });
  const k = Math.floor(0.5 * N);
  const flat = prunableWeights(net).flatMap((n) => Array.from(r.masks.get(n)!.dataSync()));
  assert.deepEqual(flat, flat.map((_, i) => (i < k ? 0 : 1)), 'the first k canonical indices are pruned');
  // conv1_1 (108 weights) entirely, then the start of conv1_2
  assert.equal(r.layers[0].sparsity, 1);
  const inc = globalMagnitudeMasks(net, { sparsity: 0.5, compat: { thresholdInclusive: true } });
  assert.equal(inc.zeros, N, 'all ties at τ go');
  tf.tidy(() => {
    const w = net.weight('conv1_2/kernel');
    w.assign(tf.tensor(new Rng(1).uniformArray(w.size, 2, 3), w.shape));
  });
  const inc2 = globalMagnitudeMasks(net, { sparsity: 0.1, compat: { thresholdInclusive: true } });
  assert.ok(inc2.zeros >= Math.floor(0.1 * N) + 1);
  disposeMasks(r.masks); disposeMasks(inc.masks); disposeMasks(inc2.masks); net.dispose();
});

test('SgdMomentum with masks (wd on): masked weights and their momentum stay exactly 0 (spec §3.3)', () => {
  const cfg = smallConfig();
  const net0 = GraphNet.create(cfg, 4);
  const r = globalMagnitudeMasks(net0, { sparsity: 0.6 });
  const net = applyMasks(net0, r.masks);
  const opt = new SgdMomentum({ lr: 0.1, momentum: 0.9, weightDecay: 1e-2 });
  installMasks(opt, net, r.masks);
  const vars = net.trainableVariables();
  const x = tf.tensor4d(new Rng(3).uniformArray(2 * 8 * 8 * 3, -1, 1), [2, 8, 8, 3]);
  for (let step = 0; step < 3; step++) {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(net.forward(x, { training: true, rng: new Rng(step) }).logits)) as tf.Scalar, vars);
    // the raw gradient of masked weights is not zero: only the mask keeps them at 0
    if (step === 0) {
      const g = grads[net.weight('conv1_1/kernel').name].dataSync();
      const m = r.masks.get('conv1_1/kernel')!.dataSync();
      assert.ok(g.some((v, i) => m[i] === 0 && v !== 0));
    }
    opt.step(vars, grads);
    tf.dispose([value, ...Object.values(grads)]);
  }
  const state = opt.state(vars);
  let checked = 0;
  vars.forEach((v, i) => {
    const name = [...net.weights].find(([, w]) => w === v)![0];
    const m = r.masks.get(name);
    if (!m) return;
    const w = v.dataSync(), mom = state[i].dataSync(), md = m.dataSync();
    let moved = false;
    for (let j = 0; j < md.length; j++) {
      if (md[j] === 0) { assert.ok(w[j] === 0, `${name}[${j}] = ${w[j]}`); assert.ok(mom[j] === 0, `momentum ${name}[${j}] = ${mom[j]}`); checked++; }
      else if (mom[j] !== 0) moved = true;
    }
    assert.ok(moved, `${name}: unmasked weights are trained`);
  });
  assert.equal(checked, r.zeros);
  tf.dispose([x, ...state]); opt.dispose(); disposeMasks(r.masks); net.dispose(); net0.dispose();
});

test('applyMasks returns a new net; nonzeroMasks reads the zero pattern; bad masks are named', () => {
  const net = GraphNet.create(smallConfig(), 8);
  const before = net.weight('conv1_2/kernel').dataSync().slice();
  const r = globalMagnitudeMasks(net, { sparsity: 0.3 });
  const masked = applyMasks(net, r.masks);
  assert.deepEqual(net.weight('conv1_2/kernel').dataSync(), before, 'caller untouched');
  const nz = nonzeroMasks(masked);
  for (const [name, m] of r.masks) assert.deepEqual(nz.get(name)!.dataSync(), m.dataSync(), name);
  const bad = new Map([['conv1_1/kernel', tf.ones([3, 3, 3, 1])]]);
  assert.throws(() => applyMasks(net, bad), /mask 'conv1_1\/kernel' has shape \[3,3,3,1\], the weight \[3,3,3,4\]/);
  assert.throws(() => globalMagnitudeMasks(net, { sparsity: 1.5 }), /target sparsity must be in \[0, 1\]/);
  disposeMasks(bad); disposeMasks(nz); disposeMasks(r.masks); masked.dispose(); net.dispose();
});

test('the pruned weights are exactly the k smallest |w| over all conv kernels (sorted on the host)', () => {
  const net = GraphNet.create(smallConfig(), 7);
  const names = prunableWeights(net);
  const all = names.flatMap((name) => Array.from(net.weight(name).dataSync(), (w, i) => ({ name, i, mag: Math.abs(w) })));
  for (const sparsity of [0.1, 0.37, 0.8]) {
    const r = globalMagnitudeMasks(net, { sparsity });
    const k = Math.floor(sparsity * all.length);
    const smallest = new Set([...all].sort((a, b) => a.mag - b.mag).slice(0, k).map((e) => `${e.name}:${e.i}`));
    const pruned = new Set(names.flatMap((name) => Array.from(r.masks.get(name)!.dataSync()).flatMap((m, i) => (m === 0 ? [`${name}:${i}`] : []))));
    assert.equal(pruned.size, k, `${sparsity}: ${k} weights pruned`);
    assert.deepEqual([...pruned].filter((p) => !smallest.has(p)), [], `${sparsity}: every pruned weight is among the k smallest`);
    disposeMasks(r.masks);
  }
  net.dispose();
});
