/**
 * GraphNet's fused forward paths (inference: BN folded into FusedConv2D + ReLU; training: conv
 * without bias → fused BatchNorm+ReLU kernel) against the plain conv → +bias → BN → ReLU
 * sequence, on wasm and against the cpu backend; and old-format checkpoints through the fused path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/random.js';
import { relErr, useBackend } from '../engine/kernels/testing.js';
import { loadNet, saveNet } from './checkpoint.js';
import { setFusedForward, GraphNet } from './graph/graph_net.js';
import { vggPreset } from './vgg_config.js';
import { vggView } from './vgg_view.js';

const cfg = vggPreset({ width: 16, imageSize: 32, numClasses: 5 });

/** A net with non-trivial BN parameters and statistics (same values on every backend). */
function makeNet(): GraphNet {
  const net = GraphNet.create(cfg, 3);
  const rng = new Rng(4);
  for (const c of vggView(net).layout.convs) {
    net.weight(`${c.bn}/moving_mean`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.3, 0.3)));
    net.weight(`${c.bn}/moving_variance`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 2)));
    net.weight(`${c.bn}/gamma`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 1.5)));
    net.weight(`${c.bn}/beta`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.3, 0.3)));
    net.weight(`${c.name}/bias`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.5, 0.5)));
  }
  return net;
}

const rng = new Rng(5);
const B = 4;
const xValues = rng.uniformArray(B * 32 * 32 * 3, -1, 1);
const seedValues = rng.uniformArray(B * 5, -1, 1);

interface Outputs { logits: Float32Array; stats: Float32Array[]; grads: Map<string, Float32Array>; relu: Float32Array }

/** Logits, BN statistics and d(Σ logits⊙R)/dθ of one forward (+ the last ReLU's output). */
function evaluate(training: boolean, fused: boolean): Outputs {
  setFusedForward(fused);
  const net = makeNet();
  try {
    const x = tf.tensor4d(xValues, [B, 32, 32, 3]);
    const seed = tf.tensor2d(seedValues, [B, 5]);
    const mask = net.dropoutMask(B, new Rng(6));
    const f = net.forward(x, { training, dropoutMask: mask, capture: [net.gradCamLayer] });
    const out: Outputs = {
      logits: f.logits.dataSync() as Float32Array,
      stats: f.batchStats.flatMap((s) => [s.mean.dataSync() as Float32Array, s.variance.dataSync() as Float32Array]),
      grads: new Map(), relu: f.activations[net.gradCamLayer].dataSync() as Float32Array,
    };
    tf.dispose([f.logits, ...Object.values(f.activations), ...f.batchStats.flatMap((s) => [s.mean, s.variance])]);
    const { value, grads } = tf.variableGrads(() => {
      const r = net.forward(x, { training, dropoutMask: mask });
      return tf.sum(tf.mul(r.logits, seed)) as tf.Scalar;
    }, net.trainableVariables());
    for (const [k, g] of Object.entries(grads)) out.grads.set(k.replace(/^apc:/, '').replace(/#\d+$/, ''), g.dataSync() as Float32Array);
    tf.dispose([value, ...Object.values(grads), x, seed, mask]);
    return out;
  } finally {
    net.dispose();
    setFusedForward(true);
  }
}

function compare(label: string, got: Outputs, ref: Outputs, tol: number): void {
  assert.ok(relErr(got.logits, ref.logits) <= tol, `${label} logits: relErr ${relErr(got.logits, ref.logits)}`);
  assert.ok(relErr(got.relu, ref.relu) <= tol, `${label} last ReLU: relErr ${relErr(got.relu, ref.relu)}`);
  got.stats.forEach((s, i) => assert.ok(relErr(s, ref.stats[i]) <= tol, `${label} batch statistic ${i}: relErr ${relErr(s, ref.stats[i])}`));
  for (const [k, g] of ref.grads) {
    const ours = got.grads.get(k);
    assert.ok(ours, `${label}: no gradient for ${k}`);
    if (/conv\d_\d\/bias$/.test(k) && got !== ref) {
      // BN with batch statistics cancels a conv bias: its gradient is 0 (the fused path returns
      // exactly 0; the plain path float32 rounding noise). In inference mode it is a real gradient.
      const scale = Math.max(...Array.from(ref.grads.get('fc/bias')!, Math.abs));
      if (ours.every((v) => v === 0)) {
        assert.ok(Math.max(...Array.from(g, Math.abs)) <= 1e-4 * scale, `${label} ${k}: reference gradient not ≈ 0`);
        continue;
      }
    }
    assert.ok(relErr(ours, g) <= tol, `${label} ∂/∂${k}: relErr ${relErr(ours, g)}`);
  }
}

test('fused inference forward (BN folded into FusedConv2D + ReLU) equals the plain sequence, wasm and cpu', async () => {
  await useBackend('cpu');
  const cpuRef = evaluate(false, false);
  compare('cpu fused vs cpu plain', evaluate(false, true), cpuRef, 1e-5);
  await useBackend('wasm');
  const wasmRef = evaluate(false, false);
  compare('wasm plain vs cpu plain', wasmRef, cpuRef, 1e-5);
  compare('wasm fused vs cpu plain', evaluate(false, true), cpuRef, 1e-5);
});

test('fused training forward (bias-free conv → fused BN+ReLU) equals the plain sequence: logits, batch statistics, gradients', async () => {
  await useBackend('cpu');
  const cpuRef = evaluate(true, false);
  compare('cpu fused vs cpu plain', evaluate(true, true), cpuRef, 1e-4);
  await useBackend('wasm');
  compare('wasm fused vs cpu plain', evaluate(true, true), cpuRef, 1e-4);
  const fused = evaluate(true, true);
  for (const c of makeNetLayout()) assert.ok(fused.grads.get(`${c}/bias`)!.every((v) => v === 0), `${c}/bias gradient is exactly 0`);
});

function makeNetLayout(): string[] {
  const net = GraphNet.create(cfg, 0);
  const names = vggView(net).layout.convs.map((c) => c.name);
  net.dispose();
  return names;
}

test('capturing a conv or BN output runs that layer unfused, with the same values', async () => {
  await useBackend('wasm');
  const net = makeNet();
  const x = tf.tensor4d(xValues, [B, 32, 32, 3]);
  try {
    for (const training of [false, true]) {
      const mask = net.dropoutMask(B, new Rng(6));
      const values = (fused: boolean) => {
        setFusedForward(fused);
        const r = net.forward(x, { training, dropoutMask: mask, capture: ['conv2_1', 'bn3_1', 'relu3_1'] });
        const v = ['conv2_1', 'bn3_1', 'relu3_1'].map((n) => r.activations[n].dataSync() as Float32Array);
        v.push(r.logits.dataSync() as Float32Array);
        tf.dispose([r.logits, ...Object.values(r.activations), ...r.batchStats.flatMap((s) => [s.mean, s.variance])]);
        return v;
      };
      const plain = values(false);
      const fused = values(true);
      setFusedForward(true);
      fused.forEach((v, i) => assert.ok(relErr(v, plain[i]) <= 1e-5, `training=${training} output ${i}: relErr ${relErr(v, plain[i])}`));
      mask.dispose();
    }
  } finally {
    setFusedForward(true);
    x.dispose();
    net.dispose();
  }
});

test('a checkpoint (unchanged format) loads and gives the plain path\'s logits through the fused path', async () => {
  await useBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'apc-fused-'));
  const net = makeNet();
  const x = tf.tensor4d(xValues, [B, 32, 32, 3]);
  try {
    setFusedForward(false);
    const plain = net.predict(x);
    await saveNet(dir, net, {});
    setFusedForward(true);
    const { net: loaded } = await loadNet(dir);
    const fused = loaded.predict(x);
    assert.ok(relErr(fused.dataSync(), plain.dataSync()) <= 1e-5, `logits relErr ${relErr(fused.dataSync(), plain.dataSync())}`);
    tf.dispose([plain, fused]);
    loaded.dispose();
  } finally {
    setFusedForward(true);
    x.dispose();
    net.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
