import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { registerKernelPack } from '../../engine/kernels/register.js';
import { Rng } from '../../engine/random.js';
import { archPreset, type ModelConfig } from '../model_config.js';
import { toLayersModel } from '../layers_export.js';
import { Graph } from './graph.js';
import { GraphNet, setFusedForward } from './graph_net.js';
import { parseGraphSpec } from './graph_spec.js';

await tf.setBackend('cpu');
registerKernelPack('cpu');

/** A network with non-trivial BN statistics and affine parameters (so folding is exercised). */
function randomized(config: ModelConfig, seed: number): GraphNet {
  const net = GraphNet.create(config, seed);
  const rng = new Rng(seed + 100);
  tf.tidy(() => {
    for (const d of net.graph.weights) {
      const v = net.weight(d.name);
      const n = v.size;
      if (d.suffix === 'moving_mean' || d.suffix === 'beta') v.assign(tf.tensor(rng.uniformArray(n, -0.2, 0.2), v.shape));
      if (d.suffix === 'moving_variance') v.assign(tf.tensor(rng.uniformArray(n, 0.5, 2), v.shape));
      if (d.suffix === 'gamma') v.assign(tf.tensor(rng.uniformArray(n, 0.5, 1.5), v.shape));
    }
  });
  return net;
}

const images = (n: number, size: number, seed = 3) => tf.tensor4d(new Rng(seed).uniformArray(n * size * size * 3, -2, 2), [n, size, size, 3]);

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]));
}

const FAMILIES: [string, ModelConfig][] = [
  ['resnet18', archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 5, dropout: 0.3 })],
  ['mobilenetv2', archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 5 })],
  ['vgg16', archPreset({ arch: 'vgg16', width: 16, imageSize: 32, numClasses: 5 })],
];

for (const [name, config] of FAMILIES) {
  test(`${name}: fused conv→BN→act paths equal node-by-node execution (inference and training, BN statistics and gradients)`, () => {
    const net = randomized(config, 1);
    const x = images(3, 32);
    const mask = net.dropoutRate > 0 ? net.dropoutMask(3, new Rng(9)) : undefined;
    const run = (fused: boolean) => {
      setFusedForward(fused);
      try {
        return tf.tidy(() => {
          const inf = net.forward(x).logits;
          const tr = net.forward(x, { training: true, dropoutMask: mask, rng: new Rng(2) });
          const grads = tf.grads((xx: tf.Tensor) => tf.sum(net.forward(xx as tf.Tensor4D, { training: true, dropoutMask: mask, rng: new Rng(2) }).logits))([x]);
          return { inf, train: tr.logits, means: tf.concat(tr.batchStats.map((s) => s.mean)), grad: grads[0] };
        });
      } finally {
        setFusedForward(true);
      }
    };
    const a = run(true);
    const b = run(false);
    assert.ok(maxRel(a.inf, b.inf) < 1e-4, `inference ${maxRel(a.inf, b.inf)}`);
    assert.ok(maxRel(a.train, b.train) < 1e-4, `training ${maxRel(a.train, b.train)}`);
    assert.ok(maxRel(a.means, b.means) < 1e-4, `BN means ${maxRel(a.means, b.means)}`);
    assert.ok(maxRel(a.grad, b.grad) < 1e-3, `input gradient ${maxRel(a.grad, b.grad)}`);
    tf.dispose([x, mask ?? [], Object.values(a), Object.values(b)]);
    net.dispose();
  });

  test(`${name}: the exported TF.js layers model predicts what the graph predicts`, () => {
    const net = randomized(config, 2);
    const x = images(2, 32, 4);
    const model = toLayersModel(net);
    const theirs = model.predict(x) as tf.Tensor;
    const ours = net.predict(x);
    assert.ok(maxRel(ours, theirs) < 1e-5, `max rel |Δ| ${maxRel(ours, theirs)}`);
    tf.dispose([x, theirs, ours]);
    model.dispose();
    net.dispose();
  });
}

test('overrides substitute a node: ∂z/∂A through the graph above the layer equals tf.grad with A captured', () => {
  const net = randomized(FAMILIES[0][1], 3);
  const x = images(2, 32, 5);
  const layer = 'layer3.0.relu2';
  const { activations } = net.forward(x, { capture: [layer] });
  const a = activations[layer];
  const viaOverride = tf.grad((t: tf.Tensor) => tf.sum(net.forward(x, { overrides: { [layer]: t } }).logits))(a);
  // independent: a custom identity on the captured node inside the full forward pass
  let seen: tf.Tensor | undefined;
  const full = tf.grad((t: tf.Tensor) => {
    const out = net.forward(x, { overrides: { [layer]: tf.add(t, tf.zerosLike(t)) } });
    seen = t;
    return tf.sum(out.logits);
  })(a);
  assert.ok(seen);
  assert.ok(maxRel(viaOverride, full) < 1e-6);
  // and the logits with A substituted by itself are the plain forward's
  const same = net.forward(x, { overrides: { [layer]: a } }).logits;
  assert.ok(maxRel(same, net.predict(x)) < 1e-5);
  tf.dispose([x, a, viaOverride, full, same]);
  net.dispose();
});

test('max-pool padding is −∞ (a padded cell never wins), average pool counts pads as PyTorch or not as TF', () => {
  const spec = (op: Record<string, unknown>) => parseGraphSpec({
    kind: 'graph', input: { shape: [4, 4, 1] }, output: 'fc',
    nodes: [{ name: 'p', inputs: ['input'], ...op }, { op: 'flatten', name: 'f', inputs: ['p'] }, { op: 'dense', name: 'fc', inputs: ['f'], units: 1 }],
  });
  const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => -1 - i), [1, 4, 4, 1]); // all negative
  const act = (s: ReturnType<typeof spec>) => {
    const net = GraphNet.create(s, 0);
    const r = net.forward(x, { capture: ['p'] }).activations.p;
    const v = Array.from(r.dataSync());
    net.dispose();
    return v;
  };
  // 3×3/2 with pads 1: each window's largest real cell (x[0,0], x[0,1], x[1,0], x[1,1]); zero padding would give 0
  assert.deepEqual(act(spec({ op: 'maxPool', poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })), [-1, -2, -5, -6]);
  // 2×2/2 pads [0,1,0,1] average, counting pads (÷4) vs not (÷ real cells)
  const inc = act(spec({ op: 'avgPool', poolSize: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true }));
  const exc = act(spec({ op: 'avgPool', poolSize: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false }));
  assert.ok(Math.abs(inc[0] - (-1 / 4)) < 1e-6 && Math.abs(exc[0] - (-1)) < 1e-6, `${inc[0]} ${exc[0]}`);
  assert.ok(Math.abs(inc[1] - (-(2 + 3) / 4)) < 1e-6 && Math.abs(exc[1] - (-(2 + 3) / 2)) < 1e-6);
  x.dispose();
});

test('average pool that leaves pads out of the count: the gradient is the adjoint of the forward (3×3/1 same and 2×2/2 end pads)', () => {
  // tfjs's own AvgPoolGrad for a 'same' average divides by the full window; the op must not use it
  for (const node of [
    { poolSize: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] },
    { poolSize: [2, 2], strides: [2, 2], pads: [0, 1, 0, 1] },
  ]) {
    const spec = parseGraphSpec({
      kind: 'graph', input: { shape: [5, 5, 2] }, output: 'fc',
      nodes: [{ op: 'avgPool', name: 'p', inputs: ['input'], countIncludePad: false, ...node }, { op: 'flatten', name: 'f', inputs: ['p'] }, { op: 'dense', name: 'fc', inputs: ['f'], units: 1 }],
    });
    const net = GraphNet.create(spec, 0);
    const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const pooled = () => net.forward(x, { capture: ['p'] }).activations.p;
    const dy = tf.randomNormal(pooled().shape, 0, 1, 'float32', 4);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(net.forward(v as tf.Tensor4D, { capture: ['p'] }).activations.p, dy)))(x);
    // adjoint by hand: each output cell spreads dy / (real cells of its window) over those cells
    const [kh, kw] = node.poolSize, [sh, sw] = node.strides, [t, , l] = node.pads;
    const dyv = dy.arraySync() as number[][][][];
    const want = Array.from({ length: 5 }, () => Array.from({ length: 5 }, () => [0, 0]));
    for (let oh = 0; oh < dyv[0].length; oh++) {
      for (let ow = 0; ow < dyv[0][0].length; ow++) {
        const cells: [number, number][] = [];
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
          const h = oh * sh - t + i, w = ow * sw - l + j;
          if (h >= 0 && h < 5 && w >= 0 && w < 5) cells.push([h, w]);
        }
        for (const [h, w] of cells) for (let c = 0; c < 2; c++) want[h][w][c] += dyv[0][oh][ow][c] / cells.length;
      }
    }
    const got = g.arraySync() as number[][][][];
    for (let h = 0; h < 5; h++) for (let w = 0; w < 5; w++) for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(got[0][h][w][c] - want[h][w][c]) < 1e-5, `${JSON.stringify(node)} at ${h},${w},${c}: ${got[0][h][w][c]} vs ${want[h][w][c]}`);
    }
    tf.dispose([x, dy, g]);
    net.dispose();
  }
});

test('graph validation names the node and the problem', () => {
  const base = { kind: 'graph', input: { shape: [8, 8, 3] }, output: 'fc' };
  const ok = [{ op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3] }, { op: 'flatten', name: 'f', inputs: ['c'] }, { op: 'dense', name: 'fc', inputs: ['f'], units: 2 }];
  assert.ok(Graph.parse({ ...base, nodes: ok }));
  assert.throws(() => Graph.parse({ ...base, nodes: [{ op: 'resize', name: 'r', inputs: ['input'] }, ...ok] }), /unsupported op 'resize' \(node 'r'\); supported: conv2d, batchNorm/);
  assert.throws(() => Graph.parse({ ...base, nodes: [ok[1], ok[0], ok[2]] }), /node 0 'f' \(flatten\): input 'c' is not the graph input or an earlier node/);
  assert.throws(() => Graph.parse({ ...base, nodes: [ok[0], { ...ok[0] }, ...ok.slice(1)] }), /node 1 'c' \(conv2d\): a node with this name comes earlier/);
  assert.throws(() => Graph.parse({ ...base, nodes: [ok[0], { op: 'dense', name: 'fc', inputs: ['c'], units: 2 }] }), /'fc' \(dense\): dense needs a flat \[F\] input/);
  assert.throws(() => Graph.parse({ ...base, nodes: [{ ...ok[0], groups: 2 }, ...ok.slice(1)] }), /groups 2 is neither 1 nor the input's 3 channels/);
  assert.throws(() => Graph.parse({ ...base, nodes: [{ ...ok[0], name: 'a/b' }, ...ok.slice(1)] }), /node names are letters, digits/);
  assert.throws(() => Graph.parse({ ...base, output: 'c', nodes: ok }), /output 'c' must give logits \[K\], it gives \[6,6,4\]/);
});

test('the head dropout draws one mask per batch from the stream, reusable across forwards', () => {
  const net = GraphNet.create(FAMILIES[0][1], 0);
  const x = images(4, 32);
  const a = net.forward(x, { training: true, rng: new Rng(1) });
  const b = net.forward(x, { training: true, dropoutMask: a.dropoutMask });
  assert.ok(a.dropoutMask && maxRel(a.logits, b.logits) < 1e-6);
  const m = Array.from(a.dropoutMask.dataSync());
  assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6) && m.includes(0));
  tf.dispose([x, a.logits, b.logits, a.dropoutMask, ...a.batchStats.flatMap((s) => [s.mean, s.variance]), ...b.batchStats.flatMap((s) => [s.mean, s.variance])]);
  net.dispose();
});

test('forward and create/dispose leak no tensors', () => {
  const net = GraphNet.create(FAMILIES[1][1], 0);
  const x = images(2, 32);
  tf.tidy(() => { net.forward(x, { training: true, rng: new Rng(1) }); }); // warm-up
  const n0 = tf.memory().numTensors;
  tf.tidy(() => { net.forward(x, { training: true, rng: new Rng(1) }); net.forward(x, { capture: ['features.3.add'] }); });
  net.clone().dispose();
  assert.equal(tf.memory().numTensors, n0);
  x.dispose();
  net.dispose();
});

test('TF.js export: a padded max-pool is ZeroPadding2D + valid after a ReLU, and refused (naming the node) where its input can be negative', () => {
  const spec = (pre: 'relu' | 'identity') => parseGraphSpec({
    kind: 'graph', input: { shape: [8, 8, 3] }, output: 'fc',
    nodes: [
      { op: 'conv2d', name: 'c', inputs: ['input'], filters: 4, kernelSize: [3, 3], pads: [1, 1, 1, 1] },
      { op: pre, name: 'a', inputs: ['c'] },
      { op: 'maxPool', name: 'pool', inputs: ['a'], poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      { op: 'flatten', name: 'f', inputs: ['pool'] }, { op: 'dense', name: 'fc', inputs: ['f'], units: 2 },
    ],
  });
  const ok = GraphNet.create(spec('relu'), 0);
  const model = toLayersModel(ok);
  const x = images(2, 8);
  assert.ok(model.layers.some((l) => l.name === 'pool_pad'));
  assert.ok(maxRel(model.predict(x) as tf.Tensor, ok.predict(x)) < 1e-5);
  model.dispose();
  const bad = GraphNet.create(spec('identity'), 0);
  assert.throws(() => toLayersModel(bad), /node 'pool': a padded max-pool whose input can be negative has no exact Keras form/);
  tf.dispose(x); ok.dispose(); bad.dispose();
});
