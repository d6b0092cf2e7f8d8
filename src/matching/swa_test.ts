/**
 * Method spec §8 checks 1–2: closed form vs autodiff, explicit backward vs autodiff, and the
 * gradient of L_AM (closed form vs explicit path vs central finite differences).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradient functions
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { explicitBackwardCaptures, explicitSensitivity, forwardFromLayer, layerSequence } from './explicit_backward.js';
import { matchingCaptures, matchingLoss, parseMatchingConfig, teacherTarget, type MatchingConfig } from './matching_term.js';
import { l2NormalizePerSample, normalizedMapMse } from './normalize.js';
import { swaChannelWeights, swaMap } from './swa_map.js';
import { vggView } from '../models/vgg_view.js';

await tf.setBackend('cpu');

/**
 * Tiny VGG with non-trivial BN parameters. `scale` multiplies the conv and dense kernels (a
 * finite-difference step of 1e-2 is then small against the weights); the moving statistics are
 * set to the batch statistics of a calibration batch so that inference-mode activations have
 * unit scale, as in a trained network.
 */
function tinyNet(seed: number, opts: { blocks?: number[][]; size?: number; numClasses?: number; scale?: number } = {}): GraphNet {
  const size = opts.size ?? 16;
  const net = GraphNet.create(VggConfigSchema.parse({ kind: 'vgg', blocks: opts.blocks ?? [[4], [4]], inputSize: [size, size], numClasses: opts.numClasses ?? 3 }), seed);
  const rng = new Rng(seed + 1000);
  const scale = opts.scale ?? 1;
  tf.tidy(() => {
    for (const c of vggView(net).layout.convs) {
      const k = net.weight(`${c.name}/kernel`);
      k.assign(tf.mul(k, scale));
      net.weight(`${c.bn}/gamma`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, 0.5, 1.5)));
      net.weight(`${c.bn}/beta`).assign(tf.tensor1d(rng.uniformArray(c.outChannels, -0.2, 0.3)));
    }
    const fc = net.weight('fc/kernel');
    fc.assign(tf.mul(fc, scale));
    const { batchStats } = net.forward(input(seed + 2000, 8, size), { training: true, dropoutMask: net.dropoutMask(8, rng) });
    for (const st of batchStats) {
      net.weight(`${st.bn}/moving_mean`).assign(tf.add(st.mean, tf.tensor1d(rng.uniformArray(st.mean.size, -0.1, 0.1))));
      net.weight(`${st.bn}/moving_variance`).assign(tf.mul(st.variance, tf.tensor1d(rng.uniformArray(st.variance.size, 0.8, 1.25))));
    }
  });
  return net;
}

function input(seed: number, b: number, size = 16): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(b * size * size * 3, -1, 1), [b, size, size, 3]);
}

function relErr(a: tf.Tensor | number, b: tf.Tensor | number): number {
  const x = typeof a === 'number' ? [a] : Array.from(a.dataSync());
  const y = typeof b === 'number' ? [b] : Array.from(b.dataSync());
  assert.equal(x.length, y.length);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) { num = Math.max(num, Math.abs(x[i] - y[i])); den = Math.max(den, Math.abs(x[i]), Math.abs(y[i])); }
  return den === 0 ? num : num / den;
}

/** Spatial sum of tf.grad(Σ_b z_{b,c_b} w.r.t. F) at `layer`, through forwardFromLayer. */
function autodiffAlpha(net: GraphNet, layer: string, f: tf.Tensor4D, classes: tf.Tensor1D, training: boolean, mask?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sum(autodiffG(net, layer, f, classes, training, mask), [1, 2]) as tf.Tensor2D);
}
function autodiffG(net: GraphNet, layer: string, f: tf.Tensor4D, classes: tf.Tensor1D, training: boolean, mask?: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const onehot = tf.cast(tf.oneHot(classes, net.numClasses), 'float32');
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(forwardFromLayer(net, layer, x as tf.Tensor4D, { training, dropoutMask: mask }), onehot)));
    return g(f) as tf.Tensor4D;
  });
}

for (const training of [false, true]) {
  test(`closed-form α equals the spatial sum of tf.grad at the last pool and the last relu (${training ? 'training' : 'inference'} mode)`, () => {
    const net = tinyNet(1);
    const n0 = tf.memory().numTensors;
    tf.tidy(() => {
      const x = input(2, 4);
      const mask = net.dropoutMask(4, new Rng(3));
      const { logits, activations } = net.forward(x, { training, dropoutMask: mask, capture: ['pool2', 'relu2_1', 'relu1_1', 'pool1'] });
      const d = training ? mask : undefined;
      // the reference head reproduces the network's logits from each captured layer
      for (const layer of ['pool2', 'relu2_1', 'relu1_1', 'pool1']) {
        const again = forwardFromLayer(net, layer, activations[layer] as tf.Tensor4D, { training, dropoutMask: d });
        assert.ok(relErr(again, logits) < 1e-5, `forwardFromLayer(${layer}) logits`);
      }
      const classes = tf.tensor1d([0, 2, 1, 2], 'int32');
      const alpha = swaChannelWeights(net.weight('fc/kernel') as tf.Tensor2D, [4, 4, 4], classes, d);
      for (const layer of ['pool2', 'relu2_1']) {
        const ref = autodiffAlpha(net, layer, activations[layer] as tf.Tensor4D, classes, training, d);
        const e = relErr(alpha, ref);
        assert.ok(e <= 1e-5, `${layer}: rel err ${e}`);
      }
    });
    assert.equal(tf.memory().numTensors, n0);
    net.dispose();
  });

  test(`explicit backward equals tf.grad at every layer (${training ? 'training' : 'inference'} mode)`, () => {
    const net = tinyNet(4);
    tf.tidy(() => {
      const x = input(5, 4);
      const mask = net.dropoutMask(4, new Rng(6));
      const d = training ? mask : undefined;
      const layers = layerSequence(vggView(net).layout).map((n) => n.name);
      const capture = [...new Set(layers.flatMap((l) => explicitBackwardCaptures(vggView(net).layout, l, training)))];
      const { activations } = net.forward(x, { training, dropoutMask: mask, capture });
      const classes = tf.tensor1d([1, 0, 2, 1], 'int32');
      const onehot = tf.cast(tf.oneHot(classes, 3), 'float32') as tf.Tensor2D;
      for (const layer of layers) {
        const g = explicitSensitivity(net, activations, layer, onehot, { training, dropoutMask: d });
        const ref = autodiffG(net, layer, activations[layer] as tf.Tensor4D, classes, training, d);
        const e = relErr(g, ref);
        assert.ok(e <= 1e-5, `${layer}: rel err ${e}`);
      }
    });
    net.dispose();
  });
}

test('explicit path at the last pool reproduces the closed-form α (1e-5)', () => {
  const net = tinyNet(7);
  tf.tidy(() => {
    const mask = net.dropoutMask(4, new Rng(8));
    const { activations } = net.forward(input(9, 4), { training: true, dropoutMask: mask, capture: ['pool2', 'relu2_1', 'conv2_1'] });
    const classes = tf.tensor1d([2, 2, 0, 1], 'int32');
    const onehot = tf.cast(tf.oneHot(classes, 3), 'float32') as tf.Tensor2D;
    const closed = swaChannelWeights(net.weight('fc/kernel') as tf.Tensor2D, [4, 4, 4], classes, mask);
    for (const layer of ['pool2', 'relu2_1']) {
      const explicit = tf.sum(explicitSensitivity(net, activations, layer, onehot, { training: true, dropoutMask: mask }), [1, 2]);
      assert.ok(relErr(closed, explicit) <= 1e-5, layer);
    }
  });
  net.dispose();
});

// ---- §8.2 gradient check ----------------------------------------------------------------

// the brief's tiny net: blocks [[4],[4]] on 8×8 inputs (pool2 is 2×2); kernels ×10, see tinyNet
const B = 4;
const GSIZE = 8;
const GSCALE = 10;
interface Setup { teacher: GraphNet; student: GraphNet; x: tf.Tensor4D; mask: tf.Tensor2D }
function gradSetup(): Setup {
  const teacher = tinyNet(11, { size: GSIZE, scale: GSCALE });
  const student = tinyNet(12, { size: GSIZE, scale: GSCALE });
  const x = input(13, B, GSIZE);
  const mask = student.dropoutMask(B, new Rng(14));
  return { teacher, student, x, mask };
}
/** Teacher outputs in inference mode, outside the tape. */
function teacherForward(s: Setup, cfg: MatchingConfig): { logits: tf.Tensor2D; activations: Record<string, tf.Tensor> } {
  return tf.tidy(() => {
    const r = s.teacher.forward(s.x, { capture: matchingCaptures(cfg, s.teacher, false) });
    return { logits: r.logits, activations: r.activations };
  });
}
function disposeSetup(s: Setup): void { s.teacher.dispose(); s.student.dispose(); tf.dispose([s.x, s.mask]); }

/** L_AM of the student at fixed x, D; inference-mode BN (spec §8.2). */
function studentLoss(s: Setup, cfg: MatchingConfig, target: ReturnType<typeof teacherTarget>): tf.Scalar {
  const { activations } = s.student.forward(s.x, { capture: matchingCaptures(cfg, s.student, false) });
  return matchingLoss(target, { net: s.student, activations, training: false, dropoutMask: s.mask });
}

/** Same loss built by hand from the explicit backward (the §2.5 path) at a closed-form layer. */
function explicitLoss(s: Setup, layer: string, target: ReturnType<typeof teacherTarget>): tf.Scalar {
  const capture = explicitBackwardCaptures(vggView(s.student).layout, layer, false);
  const { activations } = s.student.forward(s.x, { capture });
  const onehot = tf.cast(tf.oneHot(target.classes!, 3), 'float32') as tf.Tensor2D;
  const g = explicitSensitivity(s.student, activations, layer, onehot, { training: false, dropoutMask: s.mask });
  const map = swaMap(activations[layer] as tf.Tensor4D, tf.sum(g, [1, 2]) as tf.Tensor2D);
  return normalizedMapMse(target.layers[0].maps, l2NormalizePerSample(map));
}

const CHECKED = ['conv2_1/kernel', 'bn2_1/gamma', 'fc/kernel', 'conv1_1/kernel', 'bn1_1/gamma'];

function grads(s: Setup, loss: () => tf.Scalar): Record<string, tf.Tensor> {
  const vars = CHECKED.map((n) => s.student.weight(n));
  const { value, grads: g } = tf.variableGrads(loss, vars);
  value.dispose();
  const out: Record<string, tf.Tensor> = {};
  CHECKED.forEach((n, i) => { out[n] = g[vars[i].name]; });
  return out;
}

/**
 * Central difference (h = 1e-2, spec §8.2) at one weight element. L_AM is piecewise smooth (ReLU
 * and max-pool switches, the map's ReLU), and a ±h step that crosses a switch measures a chord,
 * not the derivative. Among the 8 elements with the largest |analytic gradient| the first whose
 * difference quotient is stable in h (FD(h) ≈ FD(h/4)) is used; that check involves only the
 * loss values, never the analytic gradient being tested.
 */
function finiteDifference(s: Setup, name: string, analytic: tf.Tensor, loss: () => tf.Scalar, h = 1e-2): { fd: number; an: number; idx: number } {
  const a = analytic.dataSync();
  const order = Array.from(a.keys()).sort((i, j) => Math.abs(a[j]) - Math.abs(a[i])).slice(0, 8);
  const v = s.student.weight(name);
  const orig = v.dataSync().slice();
  const at = (idx: number, delta: number): number => {
    const w = orig.slice(); w[idx] += delta;
    tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
    const l = tf.tidy(loss);
    const r = l.dataSync()[0]; l.dispose();
    return r;
  };
  const quotient = (idx: number, step: number) => (at(idx, step) - at(idx, -step)) / (2 * step);
  let chosen: { fd: number; an: number; idx: number } | undefined;
  for (const idx of order) {
    const fd = quotient(idx, h);
    const fine = quotient(idx, h / 4);
    if (Math.abs(fd - fine) <= 2e-3 * Math.max(Math.abs(fd), Math.abs(fine))) { chosen = { fd, an: a[idx], idx }; break; }
  }
  tf.tidy(() => v.assign(tf.tensor(orig, v.shape)));
  assert.ok(chosen, `${name}: no element among the 8 largest gradients is smooth over ±${h}`);
  return chosen;
}

test('gradient of L_AM at the last pool: closed form = explicit path (1e-4) = finite differences (2e-2)', () => {
  const s = gradSetup();
  const cfg = parseMatchingConfig({ kind: 'swa', layer: 'pool2' });
  const t = teacherForward(s, cfg);
  const target = teacherTarget(cfg, { net: s.teacher, activations: t.activations, logits: t.logits, training: false });
  const closed = () => studentLoss(s, cfg, target);
  const explicit = () => explicitLoss(s, 'pool2', target);
  const l0 = tf.tidy(closed).dataSync()[0];
  assert.ok(l0 > 0, 'loss is positive for different nets');
  assert.ok(Math.abs(l0 - tf.tidy(explicit).dataSync()[0]) <= 1e-6, 'same loss value');
  const n0 = tf.memory().numTensors;
  const gc = grads(s, closed);
  const ge = grads(s, explicit);
  for (const n of CHECKED) {
    const e = relErr(gc[n], ge[n]);
    assert.ok(e <= 1e-4, `${n}: closed vs explicit rel err ${e}`);
  }
  for (const n of ['conv2_1/kernel', 'bn2_1/gamma', 'fc/kernel', 'conv1_1/kernel']) {
    const { fd, an } = finiteDifference(s, n, gc[n], closed);
    const e = relErr(fd, an);
    assert.ok(e <= 2e-2, `${n}: analytic ${an} vs finite difference ${fd} (rel err ${e})`);
  }
  tf.dispose([...Object.values(gc), ...Object.values(ge)]);
  assert.equal(tf.memory().numTensors, n0, 'no tensors leaked by the gradient computations');
  target.dispose();
  tf.dispose([t.logits, ...Object.values(t.activations)]);
  disposeSetup(s);
});

test('gradient of L_AM at an earlier layer (explicit path through conv/BN/ReLU/pool) = finite differences', () => {
  const s = gradSetup();
  for (const layer of ['relu1_1', 'pool1']) {
    const cfg = parseMatchingConfig({ kind: 'swa', layer });
    const t = teacherForward(s, cfg);
    const target = teacherTarget(cfg, { net: s.teacher, activations: t.activations, logits: t.logits, training: false });
    const loss = () => studentLoss(s, cfg, target);
    const g = grads(s, loss);
    for (const n of ['conv2_1/kernel', 'bn2_1/gamma', 'fc/kernel', 'conv1_1/kernel', 'bn1_1/gamma']) {
      const { fd, an } = finiteDifference(s, n, g[n], loss);
      const e = relErr(fd, an);
      assert.ok(e <= 2e-2, `${layer} ${n}: analytic ${an} vs finite difference ${fd} (rel err ${e})`);
    }
    // the second-order part is real: conv2_1 and bn2_1 act on the loss only through G
    assert.ok(Array.from(g['conv2_1/kernel'].dataSync()).some((v) => v !== 0));
    tf.dispose(Object.values(g));
    target.dispose();
    tf.dispose([t.logits, ...Object.values(t.activations)]);
  }
  disposeSetup(s);
});

test('training-mode student: variableGrads through the explicit path runs and matches finite differences', () => {
  const s = gradSetup();
  const cfg = parseMatchingConfig({ kind: 'swa', layer: 'relu1_1' });
  const t = teacherForward(s, cfg);
  const target = teacherTarget(cfg, { net: s.teacher, activations: t.activations, logits: t.logits, training: false });
  const loss = () => {
    const r = s.student.forward(s.x, { training: true, dropoutMask: s.mask, capture: matchingCaptures(cfg, s.student, true) });
    return matchingLoss(target, { net: s.student, activations: r.activations, training: true, dropoutMask: r.dropoutMask });
  };
  const g = grads(s, loss);
  for (const n of ['bn2_1/gamma', 'conv1_1/kernel', 'bn1_1/gamma']) {
    const { fd, an } = finiteDifference(s, n, g[n], loss);
    const e = relErr(fd, an);
    assert.ok(e <= 2e-2, `${n}: analytic ${an} vs finite difference ${fd} (rel err ${e})`);
  }
  tf.dispose(Object.values(g));
  target.dispose();
  tf.dispose([t.logits, ...Object.values(t.activations)]);
  disposeSetup(s);
});
