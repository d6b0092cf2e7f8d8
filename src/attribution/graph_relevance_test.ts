/**
 * LRP, RAP and EBP on any graph (graph.md §4): hand-computed add splits, depthwise/strided conv
 * and overlapping max-pool rules against slow loops, conservation on a bias-free ResNet, the
 * graph pass against the VGG chain path, and MobileNetV2/ResNet end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { ResNetConfigSchema } from '../models/families/resnet.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { type Conv2dNode, type GraphSpecInput, type NodeSpecInput, parseGraphSpec } from '../models/graph/graph_spec.js';
import { convolve } from '../models/graph/ops/conv2d.js';
import { type ModelConfig, archPreset } from '../models/model_config.js';
import { convGeometry } from './conv_geometry.js';
import { Ebp } from './ebp.js';
import { graphRelevancePass } from './graph_relevance.js';
import { GraphTrace } from './graph_trace.js';
import { LrpConfigSchema, lrpGraphPass, lrpPass } from './lrp.js';
import { RapConfigSchema, rapGraphPass, rapPass } from './rap.js';
import { makeAttribution, unsupportedReason } from './registry.js';
import { randomImages, relevanceSums, tinyNet, topClasses } from './test_nets.js';

await tf.setBackend('cpu');
registerKernelPack('cpu');

/** A GraphNet of a hand-written spec with the given weights (others keep their initialisation). */
function graphNet(input: [number, number, number], nodes: NodeSpecInput[], output: string, weights: Record<string, number[]> = {}, seed = 1): GraphNet {
  const spec: GraphSpecInput = { kind: 'graph', input: { shape: input }, nodes, output };
  const net = GraphNet.create(parseGraphSpec(spec), seed);
  tf.tidy(() => {
    for (const [name, values] of Object.entries(weights)) net.weight(name).assign(tf.tensor(values, net.weight(name).shape));
  });
  return net;
}

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

function close(got: ArrayLike<number>, want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= tol, `${what}[${i}] = ${got[i]}, want ${w}`));
}

/**
 * x (1×1×3) → flatten → a = dense A, b = dense B (no biases) → logits = a + b.
 * A = [[1, −1], [0.5, 0], [0, 0]], B = [[0, 0], [0, 0], [2, −1]], x = (1, 2, 0.5):
 * a = (2, −1), b = (1, −0.5), z = (3, −1.5).
 */
const addNet = () => graphNet([1, 1, 3], [
  { op: 'flatten', name: 'f', inputs: ['input'] },
  { op: 'dense', name: 'a', inputs: ['f'], units: 2, useBias: false },
  { op: 'dense', name: 'b', inputs: ['f'], units: 2, useBias: false },
  { op: 'add', name: 'sum', inputs: ['a', 'b'] },
], 'sum', { 'a/kernel': [1, -1, 0.5, 0, 0, 0], 'b/kernel': [0, 0, 0, 0, 2, -1] });

test('add by hand, every rule: R_a = a⁺·R/(a⁺+b⁺), R_b = b⁺·R/(a⁺+b⁺); an equal split where a⁺+b⁺ = 0', () => {
  const net = addNet();
  const x = tf.tensor4d([1, 2, 0.5], [1, 1, 1, 3]);
  const trace = GraphTrace.run(net, x);
  close(trace.logits.dataSync(), [3, -1.5], 1e-6, 'logits');
  // class 0: a⁺ = 2, b⁺ = 1 → shares 2/3, 1/3; class 1: a⁺ = b⁺ = 0 → halves
  const cases = [
    { method: 'lrp' as const, start: [[3, 0], [0, -1.5]], a: [[2, 0], [0, -0.75]], b: [[1, 0], [0, -0.75]] },
    { method: 'rap' as const, start: [[1, 0], [0, 1]], a: [[2 / 3, 0], [0, 0.5]], b: [[1 / 3, 0], [0, 0.5]] },
    { method: 'ebp' as const, start: [[1, 0], [0, 1]], a: [[2 / 3, 0], [0, 0.5]], b: [[1 / 3, 0], [0, 0.5]] },
  ];
  const low = tf.scalar(-1);
  const high = tf.scalar(1);
  for (const c of cases) {
    for (let cls = 0; cls < 2; cls++) {
      tf.tidy(() => {
        const p = graphRelevancePass({ method: c.method, trace, low, high }, tf.tensor2d([c.start[cls]]), { record: true });
        close(p.perTensor!.get('a')!.dataSync(), c.a[cls], 1e-6, `${c.method} class ${cls} R_a`);
        close(p.perTensor!.get('b')!.dataSync(), c.b[cls], 1e-6, `${c.method} class ${cls} R_b`);
        if (c.method === 'lrp' && cls === 0) {
          // z⁺ through a: (1·1, 2·0.5, 0)·2/2; through b: (0, 0, 0.5·2)·1/1; summed where f fans out
          close(p.relevance.dataSync(), [1, 1, 1], 1e-6, 'LRP R_input');
        }
      });
    }
  }
  trace.dispose();
  tf.dispose([x, low, high]);
  net.dispose();
});

test('conv input gradients of every geometry are the forward conv\'s adjoint, ⟨x, convT(s)⟩ = ⟨conv(x), s⟩, and equal tf.grad', () => {
  const cases: NodeSpecInput[] = [
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3], strides: [2, 2], pads: [0, 1, 0, 1] },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [1, 1], strides: [2, 2] },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3], dilations: [2, 2], pads: [2, 2, 2, 2] },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [7, 7], strides: [2, 2], pads: [3, 3, 3, 3] },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 6, kernelSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], groups: 3 },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 3, kernelSize: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], groups: 3 },
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 3, kernelSize: [3, 3], pads: [0, 2, 1, 1], groups: 3 },
  ];
  for (const raw of cases) {
    const node = parseGraphSpec({ kind: 'graph', input: { shape: [9, 8, 3] }, nodes: [raw, { op: 'globalAvgPool', name: 'g', inputs: ['c'] }], output: 'g' }).nodes[0] as Conv2dNode;
    tf.tidy(() => {
      const x = tf.randomUniform([2, 9, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
      const m = node.filters / (node.groups === 1 ? 1 : 3);
      const k = tf.randomUniform([...node.kernelSize, 3, node.groups === 1 ? node.filters : m], -1, 1, 'float32', 2) as tf.Tensor4D;
      const y = convolve(node, x, k);
      const s = tf.randomUniform(y.shape, -1, 1, 'float32', 3) as tf.Tensor4D;
      const got = convGeometry(node, x.shape).inputGrad(s, k);
      assert.deepEqual(got.shape, x.shape);
      const lhs = tf.sum(tf.mul(x, got)).dataSync()[0];
      const rhs = tf.sum(tf.mul(y, s)).dataSync()[0];
      assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.max(1, Math.abs(rhs)), `${JSON.stringify(raw)}: ${lhs} vs ${rhs}`);
      // tfjs has no gradient for dilated convs; elsewhere tf.grad is a second reference
      if (node.dilations.every((d) => d === 1)) {
        const want = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(convolve(node, t as tf.Tensor4D, k), s)))(x);
        assert.ok(maxRel(got, want) < 1e-5, `${JSON.stringify(raw)}: ${maxRel(got, want)}`);
      }
    });
  }
});

test('depthwise 3×3/2 conv with asymmetric pads, multiplier 2: LRP z⁺ and EBP W⁺ per channel equal slow loops', () => {
  // input → relu → depthwise (the conv rule, not z^B) → global average pool → dense
  const net = graphNet([7, 6, 3], [
    { op: 'relu', name: 'r', inputs: ['input'] },
    { op: 'conv2d', name: 'dw', inputs: ['r'], filters: 6, kernelSize: [3, 3], strides: [2, 2], pads: [0, 1, 1, 1], groups: 3, useBias: false },
    { op: 'globalAvgPool', name: 'g', inputs: ['dw'] },
    { op: 'dense', name: 'fc', inputs: ['g'], units: 2 },
  ], 'fc', {}, 4);
  const x = tf.tensor4d(new Rng(9).uniformArray(7 * 6 * 3, -1, 2), [1, 7, 6, 3]);
  const trace = GraphTrace.run(net, x);
  const xv = trace.value('r').dataSync();
  const wv = net.weight('dw/depthwise_kernel').dataSync(); // [3, 3, 3, 2]
  const [oh, ow] = [3, 3]; // ⌊(7 + 1 − 3)/2⌋ + 1, ⌊(6 + 2 − 3)/2⌋ + 1
  const X = (i: number, j: number, c: number) => (i < 0 || j < 0 || i >= 7 || j >= 6 ? 0 : xv[(i * 6 + j) * 3 + c]);
  for (const method of ['lrp', 'ebp'] as const) {
    tf.tidy(() => {
      const p = graphRelevancePass({ method, trace, low: tf.scalar(-1), high: tf.scalar(1) }, tf.tensor2d([[1, 0]]), { record: true });
      const rOut = p.perTensor!.get('dw')!.dataSync();
      const got = p.perTensor!.get('r')!.dataSync();
      const slow = new Float64Array(7 * 6 * 3);
      for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let c = 0; c < 3; c++) for (let m = 0; m < 2; m++) {
        const o = c * 2 + m;
        const taps: [number, number, number][] = [];
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
          const ii = i * 2 + a, jj = j * 2 + b - 1; // pads top 0, left 1
          taps.push([ii, jj, X(ii, jj, c) * Math.max(wv[((a * 3 + b) * 3 + c) * 2 + m], 0)]);
        }
        const z = taps.reduce((s, t) => s + t[2], 0);
        const share = method === 'ebp' ? (z > 0 ? rOut[(i * ow + j) * 6 + o] / (z + 1e-10) : 0) : (z !== 0 ? rOut[(i * ow + j) * 6 + o] / z : 0);
        for (const [ii, jj, v] of taps) if (ii >= 0 && jj >= 0 && ii < 7 && jj < 6) slow[(ii * 6 + jj) * 3 + c] += v * share;
      }
      close(got, Array.from(slow), 1e-6, `${method} R_in`);
      assert.ok(Math.abs(relevanceSums(p.perTensor!.get('r')!)[0] - relevanceSums(p.perTensor!.get('dw')!)[0]) < 1e-5, 'z⁺ conserves');
    });
  }
  trace.dispose();
  x.dispose();
  net.dispose();
});

test('overlapping 3×3/2 max-pool with −∞ padding (ResNet stem): winner-take-all to the first maximum, overlaps accumulate', () => {
  const net = graphNet([7, 7, 3], [
    { op: 'relu', name: 'r', inputs: ['input'] },
    { op: 'maxPool', name: 'mp', inputs: ['r'], poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    { op: 'flatten', name: 'f', inputs: ['mp'] },
    { op: 'dense', name: 'fc', inputs: ['f'], units: 2 },
  ], 'fc', {}, 5);
  // heavy ties (values in {0, 1, 2}) so the first-maximum rule matters
  const x = tf.tensor4d(Array.from(new Rng(3).uniformArray(7 * 7 * 3, -1, 3), (v) => Math.max(0, Math.floor(v))), [1, 7, 7, 3]);
  const trace = GraphTrace.run(net, x);
  const xv = trace.value('r').dataSync();
  for (const method of ['lrp', 'rap', 'ebp'] as const) {
    tf.tidy(() => {
      const start = method === 'lrp' ? tf.mul(trace.logits, tf.tensor2d([[1, 0]])) : tf.tensor2d([[1, 0]]);
      const p = graphRelevancePass({ method, trace, low: tf.scalar(-1), high: tf.scalar(3) }, start as tf.Tensor2D, { record: true });
      const rOut = p.perTensor!.get('mp')!.dataSync();
      const got = p.perTensor!.get('r')!.dataSync();
      const slow = new Float64Array(7 * 7 * 3);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let c = 0; c < 3; c++) {
        let best = -Infinity, at = -1;
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
          const ii = 2 * i + a - 1, jj = 2 * j + b - 1;
          if (ii < 0 || jj < 0 || ii >= 7 || jj >= 7) continue;
          const v = xv[(ii * 7 + jj) * 3 + c];
          if (v > best) { best = v; at = (ii * 7 + jj) * 3 + c; }
        }
        if (method !== 'ebp' && best === 0) continue; // LRP/RAP drop windows whose maximum is 0
        slow[at] += rOut[(i * 4 + j) * 3 + c];
      }
      close(got, Array.from(slow), 1e-6, `${method} max-pool routing`);
    });
  }
  trace.dispose();
  x.dispose();
  net.dispose();
});

/**
 * A network whose BN layers only scale (mean 0, β 0, γ > 0: a BN shift would put relevance on
 * units whose positive contributions are 0, which z⁺ drops) and whose dense bias is 0.
 */
function biasFree(config: ModelConfig, seed: number): GraphNet {
  const net = GraphNet.create(config, seed);
  const rng = new Rng(seed + 1);
  tf.tidy(() => {
    for (const d of net.graph.weights) {
      const v = net.weight(d.name);
      if (d.suffix === 'moving_mean' || d.suffix === 'beta' || d.name === 'fc/bias') v.assign(tf.zerosLike(v));
      if (d.suffix === 'gamma') v.assign(tf.tensor(rng.uniformArray(v.size, 0.5, 1.5), v.shape));
      if (d.suffix === 'moving_variance') v.assign(tf.tensor(rng.uniformArray(v.size, 0.5, 2), v.shape));
    }
  });
  return net;
}

// the ImageNet stem (7×7/2 conv, pads 3; 3×3/2 max-pool, pads 1) and strided 1×1 downsample convs
const biasFreeResNet = () => biasFree(ResNetConfigSchema.parse({ kind: 'resnet', blocks: [1, 1, 1], widths: [8, 12, 16], stem: 'imagenet', inputSize: [48, 48], numClasses: 4 }), 11);
// depthwise convs, ReLU6, linear bottlenecks (conv inputs of both signs), residual adds
const biasFreeMobileNet = () => biasFree(archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 4 }), 13);

for (const [name, make, methods] of [['ResNet', biasFreeResNet, ['lrp', 'lrp fold', 'rap']], ['MobileNetV2', biasFreeMobileNet, ['rap']]] as const) test(`conservation on a bias-free ${name}: |ΣR_input − z_c|/|z_c| ≤ 1e-3 for ${methods.join(', ')}`, () => {
  const net = make();
  const x = randomImages(net, 3, 21);
  const classes = topClasses(net, x);
  for (const [name, run] of [
    ['lrp', () => lrpGraphPass(net, x, classes, LrpConfigSchema.parse({}))],
    ['lrp fold', () => lrpGraphPass(net, x, classes, LrpConfigSchema.parse({ batchNorm: 'fold' }))],
    ['rap', () => rapGraphPass(net, x, classes, RapConfigSchema.parse({}))],
  ] as const) {
    if (!(methods as readonly string[]).includes(name)) continue;
    const { sums, z } = tf.tidy(() => {
      const p = run();
      return { sums: relevanceSums(p.relevance), z: Array.from(p.targetLogit.dataSync()) };
    });
    sums.forEach((s, i) => {
      assert.ok(z[i] !== 0);
      assert.ok(Math.abs(s - z[i]) / Math.abs(z[i]) <= 1e-3, `${name} image ${i}: ΣR ${s} vs z_c ${z[i]}`);
    });
  }
  tf.dispose(x);
  net.dispose();
});

test('VGG: the graph pass gives the chain path\'s relevance (LRP pass-through and fold, RAP, EBP) on an odd-sized net', () => {
  const net = tinyNet({ inputSize: [9, 9], params: 'random' });
  const x = randomImages(net, 2, 8);
  const classes = topClasses(net, x);
  for (const cfg of [{}, { batchNorm: 'fold' }]) {
    const c = LrpConfigSchema.parse(cfg);
    tf.tidy(() => {
      const d = maxRel(lrpGraphPass(net, x, classes, c).relevance, lrpPass(net, x, classes, c).relevance);
      assert.ok(d < 1e-5, `LRP ${JSON.stringify(cfg)}: ${d}`);
    });
  }
  tf.tidy(() => {
    const c = RapConfigSchema.parse({});
    const d = maxRel(rapGraphPass(net, x, classes, c).relevance, rapPass(net, x, classes, c).relevance);
    assert.ok(d < 1e-4, `RAP: ${d}`);
  });
  // EBP: an explicit read-out layer takes the graph path; the default one the chain's
  const chain = new Ebp().attribute(net, x, classes);
  const graph = new Ebp({ layer: net.gradCamLayer }).attribute(net, x, classes);
  const graph2 = new Ebp({ layer: net.gradCamLayer, contrastive: true }).attribute(net, x, classes);
  const chain2 = new Ebp({ contrastive: true }).attribute(net, x, classes);
  assert.ok(maxRel(graph.native!, chain.native!) < 1e-5);
  assert.ok(maxRel(graph2.native!, chain2.native!) < 1e-5);
  tf.dispose([chain.maps, chain.native!, graph.maps, graph.native!, graph2.maps, graph2.native!, chain2.maps, chain2.native!, x]);
  net.dispose();
});

for (const [name, config] of [
  ['mobilenetv2', archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 4 })],
  ['resnet18', archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 4 })],
] as const) {
  test(`${name}: LRP, RAP and EBP run end to end: finite maps, non-negative where the spec requires, no tensor leaks`, () => {
    const net = GraphNet.create(config, 3);
    // non-trivial BN statistics, so activations are not tiny
    const rng = new Rng(4);
    tf.tidy(() => {
      for (const d of net.graph.weights) {
        const v = net.weight(d.name);
        if (d.suffix === 'moving_mean' || d.suffix === 'beta') v.assign(tf.tensor(rng.uniformArray(v.size, -0.2, 0.2), v.shape));
        if (d.suffix === 'moving_variance') v.assign(tf.tensor(rng.uniformArray(v.size, 0.05, 0.2), v.shape));
      }
    });
    const x = randomImages(net, 2, 6);
    const classes = topClasses(net, x);
    for (const m of ['lrp', 'rap', 'ebp']) {
      assert.equal(unsupportedReason(m, net), undefined);
      const warm = makeAttribution(m).attribute(net, x, classes); // first calls may cache constants
      tf.dispose([warm.maps, warm.native ?? []]);
      const before = tf.memory().numTensors;
      const r = makeAttribution(m).attribute(net, x, classes);
      const [finite, min] = tf.tidy(() => [tf.all(tf.isFinite(r.maps)).dataSync()[0], tf.min(r.maps).dataSync()[0]]);
      assert.equal(finite, 1, `${m}: finite`);
      assert.deepEqual(r.maps.shape, [2, 32, 32]);
      // z_c > 0 (top classes): LRP relevance is ≥ 0 (spec §6.6), RAP and EBP maps are clipped at 0
      assert.ok(r.targetLogit.every((z) => z > 0));
      assert.ok(min >= -1e-6, `${m}: min ${min}`);
      if (m === 'ebp') {
        const total = tf.tidy(() => Array.from(tf.sum(r.native!, [1, 2]).dataSync()));
        total.forEach((t) => assert.ok(Math.abs(t - 1) < 1e-3, `EBP native map sums to ${t}`));
      } else if (m === 'lrp') {
        // z⁺ never creates relevance (spec §6.5 on real networks: 0 ≤ Σ map ≤ z_c)
        r.relevanceSum!.forEach((s, i) => assert.ok(s >= 0 && s <= r.targetLogit[i] * (1 + 1e-4), `${m}: ΣR ${s} vs z_c ${r.targetLogit[i]}`));
      }
      tf.dispose([r.maps, r.native ?? []]);
      assert.equal(tf.memory().numTensors, before, `${m}: tensors leaked`);
    }
    tf.dispose(x);
    net.dispose();
  });
}

test('Grad-CAM at a named inner ResNet layer: ReLU(Σ_k α_k A_k) with α the spatial sum of ∂z_c/∂A by tf.grad', () => {
  const net = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 4 }), 5);
  const x = randomImages(net, 2, 7);
  const layer = 'layer3.0.relu2';
  const r = makeAttribution('gradcam', { layer }).attribute(net, x, [0, 2]);
  const want = tf.tidy(() => {
    const a = net.forward(x, { capture: [layer] }).activations[layer];
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d([0, 2], 'int32'), 4), 'float32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(net.forward(x, { overrides: { [layer]: t } }).logits, oneHot)))(a);
    return tf.relu(tf.sum(tf.mul(a, tf.sum(g, [1, 2], true)), 3));
  });
  assert.deepEqual(r.native!.shape.slice(1), net.activationShape(layer).slice(0, 2));
  assert.ok(maxRel(r.native!, want) < 1e-5, `${maxRel(r.native!, want)}`);
  tf.dispose([r.maps, r.native!, want, x]);
  net.dispose();
});

test('z^B through an explicit pad node (Keras ZeroPadding2D + valid conv) equals z^B of the conv with those pads', () => {
  const tail: NodeSpecInput[] = [
    { op: 'batchNorm', name: 'bn', inputs: ['c'] },
    { op: 'relu', name: 'r', inputs: ['bn'] },
    { op: 'globalAvgPool', name: 'g', inputs: ['r'] },
    { op: 'dense', name: 'fc', inputs: ['g'], units: 3 },
  ];
  const padded = graphNet([8, 8, 3], [
    { op: 'pad', name: 'p', inputs: ['input'], pads: [0, 1, 0, 1] },
    { op: 'conv2d', name: 'c', inputs: ['p'], filters: 4, kernelSize: [3, 3], strides: [2, 2] },
    ...tail,
  ], 'fc', {}, 7);
  const inline = graphNet([8, 8, 3], [
    { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3], strides: [2, 2], pads: [0, 1, 0, 1] },
    ...tail,
  ], 'fc', {}, 7);
  const x = randomImages(padded, 2, 3);
  const classes = topClasses(padded, x);
  tf.tidy(() => {
    const a = lrpGraphPass(padded, x, classes, LrpConfigSchema.parse({})).relevance;
    const b = lrpGraphPass(inline, x, classes, LrpConfigSchema.parse({})).relevance;
    assert.ok(maxRel(a, b) < 1e-5, `LRP ${maxRel(a, b)}`);
    const c = rapGraphPass(padded, x, classes, RapConfigSchema.parse({})).relevance;
    const d = rapGraphPass(inline, x, classes, RapConfigSchema.parse({})).relevance;
    assert.ok(maxRel(c, d) < 1e-5, `RAP ${maxRel(c, d)}`);
    // and z^B conserves at the input conv (no bias in its rule): ΣR_in equals ΣR at the conv's output
    const p = lrpGraphPass(padded, x, classes, LrpConfigSchema.parse({}), true);
    const atConv = relevanceSums(p.perTensor!.get('c')!);
    relevanceSums(p.relevance).forEach((s, i) => assert.ok(Math.abs(s - atConv[i]) <= 1e-4 * Math.abs(atConv[i]), `${s} vs ${atConv[i]}`));
  });
  tf.dispose(x);
  padded.dispose();
  inline.dispose();
});

test('concat splits by channel ranges; a padded 3×3 average pool (TF counting) shares in proportion to the window\'s inputs; fan-out sums', () => {
  // r feeds the concat directly and through the pool: its relevance is the sum of both paths
  const net = graphNet([6, 5, 3], [
    { op: 'relu', name: 'r', inputs: ['input'] },
    { op: 'avgPool', name: 'ap', inputs: ['r'], poolSize: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: false },
    { op: 'concat', name: 'cat', inputs: ['r', 'ap'] },
    { op: 'globalAvgPool', name: 'g', inputs: ['cat'] },
    { op: 'dense', name: 'fc', inputs: ['g'], units: 2 },
  ], 'fc', {}, 8);
  const x = tf.tensor4d(new Rng(5).uniformArray(6 * 5 * 3, -1, 2), [1, 6, 5, 3]);
  const trace = GraphTrace.run(net, x);
  const xv = trace.value('r').dataSync();
  for (const method of ['lrp', 'rap', 'ebp'] as const) {
    tf.tidy(() => {
      const start = method === 'lrp' ? tf.mul(trace.logits, tf.tensor2d([[1, 0]])) : tf.tensor2d([[1, 0]]);
      const p = graphRelevancePass({ method, trace, low: tf.scalar(-1), high: tf.scalar(2) }, start as tf.Tensor2D, { record: true });
      const cat = p.perTensor!.get('cat')!.dataSync(); // [6, 5, 6]
      const slow = new Float64Array(6 * 5 * 3);
      for (let i = 0; i < 6; i++) for (let j = 0; j < 5; j++) for (let c = 0; c < 3; c++) {
        slow[(i * 5 + j) * 3 + c] += cat[(i * 5 + j) * 6 + c]; // the concat's first 3 channels
        const rPool = cat[(i * 5 + j) * 6 + 3 + c]; // its last 3: the pool's output
        const win: number[] = [];
        for (let a = -1; a <= 1; a++) for (let b = -1; b <= 1; b++) if (i + a >= 0 && i + a < 6 && j + b >= 0 && j + b < 5) win.push(((i + a) * 5 + j + b) * 3 + c);
        const total = win.reduce((s, k) => s + xv[k], 0);
        if (total !== 0) for (const k of win) slow[k] += xv[k] * rPool / total;
      }
      close(p.perTensor!.get('r')!.dataSync(), Array.from(slow), 1e-6, `${method} R at r`);
    });
  }
  trace.dispose();
  x.dispose();
  net.dispose();
});
