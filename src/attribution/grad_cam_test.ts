import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { structuredPrune, structuredRates } from '../compress/structured_prune.js';
import { relErr, useBackend } from '../engine/kernels/testing.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { type Layer, firstMaxPoolMask, layerIndex, routeToArgmax, runLayers, chainLayers } from './forward_trace.js';
import {
  GradCam, autodiffChannelWeights, closedFormChannelWeights, gradCamFromActivations, layerwiseGradCam,
} from './grad_cam.js';
import { type AttributionResult, disposeAttribution, oneHotTargets } from './attribution_method.js';
import { targetGradient } from './gradients.js';
import { upsampleBilinear } from './upsample.js';
import { randomImages, tinyNet, weightValues } from './test_nets.js';
import { vggView } from '../models/vgg_view.js';

await tf.setBackend('cpu');

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
}

test('§6.1: Grad-CAM by hand, closed form and autodiff', () => {
  // A: 2×2×2, channel 0 = [[1,2],[3,4]], channel 1 = [[0,5],[1,0]] (NHWC)
  const acts = tf.tensor4d([1, 0, 2, 5, 3, 1, 4, 0], [1, 2, 2, 2]);
  const head: Layer[] = [
    { kind: 'maxPool', name: 'pool' }, { kind: 'flatten', name: 'flatten' },
    { kind: 'dense', name: 'fc', kernel: tf.tensor2d([[0.5, 1], [-1, 2]]), bias: tf.zeros([2]) },
  ];
  const expected = [[0.5, 0, 0.5, 2], [1, 12, 5, 4]];
  for (const gradients of ['closedForm', 'autodiff'] as const) {
    for (const c of [0, 1]) {
      const oneHot = oneHotTargets([c], 2);
      const m = gradCamFromActivations(acts, head, oneHot, { pooling: 'sum', gradients });
      close(m.dataSync(), expected[c], 1e-6, `${gradients} class ${c}`);
      const mean = gradCamFromActivations(acts, head, oneHot, { pooling: 'mean', gradients });
      close(mean.dataSync(), expected[c].map((v) => v / 4), 1e-6, `${gradients} class ${c} mean`);
      tf.dispose([oneHot, m, mean]);
    }
  }
  const oneHot = oneHotTargets([0], 2);
  const alpha = closedFormChannelWeights((head[2] as { kernel: tf.Tensor2D }).kernel, [1, 1, 2], oneHot);
  close(alpha.dataSync(), [0.5, -1], 1e-7, 'α class 0');
  tf.dispose([acts, oneHot, alpha, (head[2] as { kernel: tf.Tensor }).kernel, (head[2] as { bias: tf.Tensor }).bias]);
});

test('§6.2: closed-form α equals the spatial sum of autodiff ∂z_c/∂A (random net, uneven widths, odd size)', () => {
  const net = tinyNet({ blocks: [[5], [7, 3], [6]], inputSize: [21, 19], numClasses: 5, seed: 3 });
  const x = randomImages(net, 3);
  const layers = chainLayers(net);
  const li = layerIndex(layers, net.gradCamLayer);
  const acts = runLayers(layers, x, 0, li + 1) as tf.Tensor4D;
  assert.deepEqual(acts.shape, [3, 5, 4, 6]);
  const oneHot = oneHotTargets([0, 4, 2], 5);
  const a = closedFormChannelWeights(net.weight('fc/kernel') as tf.Tensor2D, [2, 2, 6], oneHot);
  const b = autodiffChannelWeights(layers.slice(li + 1), acts, oneHot);
  const av = a.dataSync(), bv = b.dataSync();
  const scale = Math.max(...Array.from(av, Math.abs));
  for (let i = 0; i < av.length; i++) assert.ok(Math.abs(av[i] - bv[i]) <= 1e-5 * scale, `α[${i}] ${av[i]} vs ${bv[i]}`);
  tf.dispose([x, acts, oneHot, a, b]);
  net.dispose();
});

test('GradCam.attribute: native map at the last ReLU, upsampled maps, both gradient paths agree', () => {
  const net = tinyNet({ blocks: [[4], [6]], inputSize: [10, 10], numClasses: 3, seed: 2 });
  const x = randomImages(net, 2);
  const classes = [1, 2];
  const closed = new GradCam({ gradients: 'closedForm' }).attribute(net, x, classes);
  const auto = new GradCam({ gradients: 'autodiff' }).attribute(net, x, classes);
  assert.deepEqual(closed.native!.shape, [2, 5, 5]);
  assert.deepEqual(closed.maps.shape, [2, 10, 10]);
  close(closed.native!.dataSync(), auto.native!.dataSync(), 1e-5, 'native');
  const up = upsampleBilinear(closed.native!, [10, 10]);
  close(closed.maps.dataSync(), up.dataSync(), 1e-6, 'maps');
  assert.ok(Math.min(...closed.maps.dataSync()) >= 0);
  const ref = net.predict(x);
  const lv = ref.dataSync();
  close(closed.targetLogit, [lv[1], lv[5]], 1e-5, 'targetLogit');
  // an earlier layer is explained by autodiff
  const early = new GradCam({ layer: 'relu1_1' }).attribute(net, x, classes);
  assert.deepEqual(early.native!.shape, [2, 10, 10]);
  assert.throws(() => new GradCam({ layer: 'relu1_1', gradients: 'closedForm' }).attribute(net, x, classes), /closedForm/);
  tf.dispose([x, closed.maps, closed.native!, auto.maps, auto.native!, up, ref, early.maps, early.native!]);
  net.dispose();
});

test('bad configs name the field', () => {
  assert.throws(() => new GradCam({ pooling: 'max' }), /gradcam: invalid config: pooling/);
  assert.throws(() => new GradCam({ polling: 'sum' }), /gradcam: invalid config/);
});

// ---------------------------------------------------------------------------------------------
// The fused path (GradCam.attribute: A from net.forward's fused inference path, closed-form α,
// no tape) against the previous layer-by-layer path (layerwiseGradCam).

/**
 * Per image n, max |got − ref| / s_n with s_n = max_{h,w} Σ_k |α_{n,k}|·|A_{n,h,w,k}| (÷ h·w for
 * 'mean' pooling), i.e. relative to the size of the terms the map sums. s_n ≥ max |ref_n|, and
 * it is the scale of float32 rounding in either path: an image whose terms nearly cancel has a
 * small map but the same absolute rounding as the others (and an all-zero map after the ReLU).
 */
function mapRelErr(got: tf.Tensor3D, ref: tf.Tensor3D, scales: readonly number[]): number {
  const n = ref.shape[0];
  const per = ref.size / n;
  const a = got.dataSync(), b = ref.dataSync();
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let diff = 0;
    for (let j = i * per; j < (i + 1) * per; j++) diff = Math.max(diff, Math.abs(a[j] - b[j]));
    worst = Math.max(worst, diff / Math.max(scales[i], 1e-30));
  }
  return worst;
}

/** s_n of `mapRelErr`, from the layer-by-layer activations and autodiff α. */
function termScales(net: GraphNet, x: tf.Tensor4D, classes: number[], cfg: { layer?: string; pooling?: string }): number[] {
  return tf.tidy(() => {
    const layers = chainLayers(net);
    const li = layerIndex(layers, cfg.layer ?? net.gradCamLayer);
    const acts = runLayers(layers, x, 0, li + 1) as tf.Tensor4D;
    let alpha = autodiffChannelWeights(layers.slice(li + 1), acts, oneHotTargets(classes, net.numClasses));
    if (cfg.pooling === 'mean') alpha = tf.div(alpha, acts.shape[1] * acts.shape[2]);
    const [n, , , c] = acts.shape;
    const terms = tf.sum(tf.mul(tf.abs(acts), tf.reshape(tf.abs(alpha), [n, 1, 1, c])), 3);
    return Array.from(tf.max(tf.reshape(terms, [n, -1]), 1).dataSync());
  });
}

function compareWithLayerwise(label: string, net: GraphNet, x: tf.Tensor4D, classes: number[], cfg: Record<string, unknown> = {}, tol = 1e-5): void {
  const fused = new GradCam(cfg).attribute(net, x, classes);
  const ref = layerwiseGradCam(net, x, classes, cfg);
  const scales = termScales(net, x, classes, cfg);
  try {
    assert.deepEqual(fused.native!.shape, ref.native!.shape, `${label}: native shape`);
    const eNative = mapRelErr(fused.native!, ref.native!, scales);
    const eMaps = mapRelErr(fused.maps, ref.maps, scales);
    assert.ok(eNative <= tol, `${label}: native maps rel err ${eNative}`);
    assert.ok(eMaps <= tol, `${label}: upsampled maps rel err ${eMaps}`);
    assert.ok(relErr(fused.logits, ref.logits) <= tol, `${label}: logits rel err ${relErr(fused.logits, ref.logits)}`);
    assert.ok(relErr(fused.targetLogit, ref.targetLogit) <= tol, `${label}: target logits`);
  } finally {
    disposeAttribution(fused as AttributionResult); disposeAttribution(ref);
  }
}

const NETS: { label: string; blocks: number[][]; inputSize: [number, number]; numClasses: number }[] = [
  { label: 'uneven widths, odd size', blocks: [[5], [7, 3], [6]], inputSize: [21, 19], numClasses: 5 },
  { label: 'vgg16s-like /4 @64', blocks: [[16, 16], [32, 32], [64, 64, 64], [64, 64, 64]], inputSize: [64, 64], numClasses: 10 },
  { label: 'two blocks @8', blocks: [[8], [8]], inputSize: [8, 8], numClasses: 3 },
  { label: 'one channel at the end', blocks: [[4], [1]], inputSize: [12, 10], numClasses: 4 },
];

test('fused Grad-CAM equals the layer-by-layer path (≤1e-5 rel) on random nets; sum/mean, closed form/autodiff, other layers', () => {
  for (const spec of NETS) {
    for (const seed of [3, 11]) {
      const net = tinyNet({ ...spec, seed });
      const x = randomImages(net, 4, seed + 1);
      const classes = [0, 1, 2, 3].map((i) => (i * 7 + seed) % spec.numClasses);
      const label = `${spec.label} seed ${seed}`;
      compareWithLayerwise(label, net, x, classes);
      compareWithLayerwise(`${label} mean`, net, x, classes, { pooling: 'mean' });
      compareWithLayerwise(`${label} autodiff`, net, x, classes, { gradients: 'autodiff' });
      // Early layers: α by the tape through the rest of the net. ∂z_c/∂A jumps where a ReLU above
      // A flips, so on a deep net a float32-level change of A (fused vs unfused convs below it)
      // can move α by far more than 1e-5: end to end only on the shallow nets, and everywhere
      // the captured A itself (the only input that changed) against the layer-by-layer one.
      for (const layer of ['relu1_1', 'pool1', 'bn2_1']) {
        if (vggView(net).layout.convs.length <= 4) compareWithLayerwise(`${label} ${layer}`, net, x, classes, { layer });
        const [fusedA, refA] = tf.tidy(() => {
          const layers = chainLayers(net);
          const f = net.forward(x, { capture: [layer] });
          return [f.activations[layer].dataSync(), runLayers(layers, x, 0, layerIndex(layers, layer) + 1).dataSync()];
        });
        assert.ok(relErr(fusedA, refA) <= 1e-5, `${label}: captured ${layer} rel err ${relErr(fusedA, refA)}`);
      }
      tf.dispose(x); net.dispose();
    }
  }
});

test('fused Grad-CAM equals the layer-by-layer path on structurally pruned nets', () => {
  for (const p of [0.3, 0.7]) {
    const dense = tinyNet({ blocks: [[8], [12, 10], [16]], inputSize: [20, 20], numClasses: 5, seed: 9 });
    const { net } = structuredPrune(dense, structuredRates(vggView(dense).layout, p));
    assert.notDeepEqual(vggView(net).config.blocks, vggView(dense).config.blocks, 'pruning changed the widths');
    const x = randomImages(net, 3, 4);
    compareWithLayerwise(`pruned p=${p}`, net, x, [4, 0, 2]);
    tf.dispose(x); net.dispose(); dense.dispose();
  }
});

/**
 * A net whose last conv block gives exact ties in the pool windows: channel 0 is a positive
 * constant (every 2×2 window a 4-way tie), channel 1 is 0 after the ReLU (tied zeros), the rest
 * is random (with ReLU zeros of its own).
 */
function tiedNet(): GraphNet {
  const net = tinyNet({ blocks: [[6], [5]], inputSize: [12, 12], numClasses: 4, seed: 21 });
  const last = vggView(net).layout.convs[vggView(net).layout.convs.length - 1];
  const set = (name: string, f: (v: Float32Array) => void) => {
    const w = net.weight(name);
    const v = Float32Array.from(w.dataSync());
    f(v);
    tf.tidy(() => w.assign(tf.tensor(v, w.shape)));
  };
  const cout = last.outChannels;
  set(`${last.name}/kernel`, (v) => { for (let i = 0; i < v.length; i++) if (i % cout < 2) v[i] = 0; });
  set(`${last.name}/bias`, (v) => { v[0] = 0.7; v[1] = -0.4; });
  set(`${last.bn}/moving_mean`, (v) => { v[0] = 0; v[1] = 0; });
  set(`${last.bn}/moving_variance`, (v) => { v[0] = 1; v[1] = 1; });
  set(`${last.bn}/gamma`, (v) => { v[0] = 1.2; v[1] = 1; });
  set(`${last.bn}/beta`, (v) => { v[0] = 0.1; v[1] = 0; });
  return net;
}

test('ties in the pool windows: tfjs routes to the first maximum, α (and so the map) does not depend on the tie rule', () => {
  const net = tiedNet();
  const x = randomImages(net, 3, 8);
  const classes = [0, 3, 1];
  const layers = chainLayers(net);
  const li = layerIndex(layers, net.gradCamLayer);
  const head = layers.slice(li + 1);
  tf.tidy(() => {
    const acts = runLayers(layers, x, 0, li + 1) as tf.Tensor4D;
    const a = acts.arraySync();
    assert.ok(a.every((img) => img.every((row) => row.every((px) => px[0] > 0 && px[0] === img[0][0][0] && px[1] === 0))),
      'channel 0 is one positive constant, channel 1 all zero');
    const oneHot = oneHotTargets(classes, 4);
    // the tape's ∂z_c/∂A (tfjs MaxPoolGrad) …
    const g = targetGradient(head, acts, oneHot).grad as tf.Tensor4D;
    // … equals the dense column routed to the FIRST maximum of each window
    const [n, h, w, c] = acts.shape;
    const kc = tf.reshape(tf.matMul(oneHot, (head[2] as Extract<Layer, { kind: 'dense' }>).kernel, false, true), [n, h / 2, w / 2, c]) as tf.Tensor4D;
    const routed = routeToArgmax(kc, firstMaxPoolMask(acts));
    const plain = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => v + 0); // −0 → 0
    assert.deepEqual(plain(g), plain(routed), 'tape gradient = first-max routing');
    // any other tie rule (here: last maximum, via the mask of the 180°-rotated windows) gives the
    // same α, because each pooled cell's gradient stays whole inside its window
    const flipped = tf.reverse(acts, [1, 2]) as tf.Tensor4D;
    const lastMax = tf.reverse(firstMaxPoolMask(flipped), [1, 2]) as tf.Tensor4D;
    const routedLast = routeToArgmax(kc, lastMax);
    assert.notDeepEqual(plain(routedLast), plain(routed), 'the two tie rules route differently');
    const alphaFirst = tf.sum(routed, [1, 2]), alphaLast = tf.sum(routedLast, [1, 2]);
    const closed = closedFormChannelWeights((head[2] as Extract<Layer, { kind: 'dense' }>).kernel, [h / 2, w / 2, c], oneHot);
    assert.ok(relErr(alphaLast.dataSync(), alphaFirst.dataSync()) <= 1e-6, 'α is tie-rule independent');
    assert.ok(relErr(closed.dataSync(), alphaFirst.dataSync()) <= 1e-6, 'closed-form α = Σ of the routed gradient');
  });
  compareWithLayerwise('tied windows', net, x, classes);
  compareWithLayerwise('tied windows, autodiff', net, x, classes, { gradients: 'autodiff' });
  tf.dispose(x); net.dispose();
});

test('fused Grad-CAM on wasm equals the cpu layer-by-layer path; no tensor leaks, weights untouched', async () => {
  const net = tinyNet({ blocks: [[16, 16], [32, 32], [64, 64, 64]], inputSize: [32, 32], numClasses: 6, seed: 5 });
  const values = weightValues(net);
  const xv = randomImages(net, 4, 6);
  const xValues = xv.dataSync().slice();
  const classes = [5, 0, 2, 3];
  const ref = layerwiseGradCam(net, xv, classes);
  const refNative = ref.native!.dataSync().slice();
  const refMaps = ref.maps.dataSync().slice();
  const scales = termScales(net, xv, classes, {});
  disposeAttribution(ref); xv.dispose();
  const weights = net.snapshot();
  net.dispose();
  try {
    await useBackend('wasm');
    const { GraphNet } = await import('../models/graph/graph_net.js');
    const wnet = GraphNet.fromWeights(net.config, weights);
    tf.dispose(Object.values(weights));
    const x = tf.tensor4d(xValues, [4, 32, 32, 3]);
    const method = new GradCam();
    disposeAttribution(method.attribute(wnet, x, classes)); // warm-up
    const n0 = tf.memory().numTensors;
    const r = method.attribute(wnet, x, classes);
    const native = tf.tensor3d(refNative, r.native!.shape);
    const maps = tf.tensor3d(refMaps, r.maps.shape);
    assert.ok(mapRelErr(r.native!, native, scales) <= 1e-5, `wasm fused vs cpu layerwise: ${mapRelErr(r.native!, native, scales)}`);
    assert.ok(mapRelErr(r.maps, maps, scales) <= 1e-5, 'upsampled maps');
    tf.dispose([native, maps]);
    disposeAttribution(r);
    assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
    for (const [k, v] of weightValues(wnet)) assert.deepEqual(v, values.get(k), `weight ${k} unchanged`);
    tf.dispose(x); wnet.dispose();
  } finally {
    await useBackend('cpu');
  }
});
