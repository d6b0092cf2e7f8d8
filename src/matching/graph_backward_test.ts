/**
 * The explicit matching backward on any graph (graph.md §4): the sensitivity at every matchable
 * node of a small ResNet-18, a small MobileNetV2 and a hand-built graph with every op kind equals
 * autodiff's `tf.grad` of the selected logits w.r.t. that node (substituted with `overrides`), in
 * inference and training mode; WCAM's gradient w.r.t. the student's weights at an inner ResNet
 * block and an inner MobileNetV2 block matches central directional finite differences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradient functions
import { Rng } from '../engine/random.js';
import { GraphNet, drawDropoutMask, setFusedForward } from '../models/graph/graph_net.js';
import type { GraphSpecInput } from '../models/graph/graph_spec.js';
import { parseGraphSpec } from '../models/graph/graph_spec.js';
import { archPreset, type ModelConfig } from '../models/model_config.js';
import { MobileNetV2ConfigSchema } from '../models/families/mobilenet_v2.js';
import { backwardPath, checkMatchLayer, graphBackwardCaptures, graphSensitivity, matchableLayers } from './graph_backward.js';
import { type MatchingConfig, matchingCaptures, matchingLoss, parseMatchingConfig, teacherTarget } from './matching_term.js';
import { avgPoolInputGradient, convInputGradient, maxPoolInputGradient } from './window_backward.js';
import { OPS } from '../models/graph/ops/index.js';
import type { AvgPoolNode, Conv2dNode, MaxPoolNode } from '../models/graph/graph_spec.js';
import { Conv2dNodeSchema } from '../models/graph/graph_spec.js';

await tf.setBackend('cpu');
// node by node, so the reference forward from a substituted tensor recomputes the layers below it
// exactly as the capturing forward did (a folded conv–BN rounds differently and can flip a clip)
setFusedForward(false);

const B = 4;

function input(seed: number, b: number, size: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(b * size * size * 3, -1, 1), [b, size, size, 3]);
}

/**
 * A network with non-trivial BN parameters whose moving statistics are (perturbed) batch
 * statistics of a calibration batch, so inference-mode activations have unit scale.
 */
function calibrated(config: ModelConfig, seed: number): GraphNet {
  const net = GraphNet.create(config, seed);
  const rng = new Rng(seed + 1000);
  const size = net.inputSize[0];
  tf.tidy(() => {
    for (const node of net.graph.nodes) {
      if (node.op !== 'batchNorm') continue;
      const c = net.weight(`${node.name}/gamma`).size;
      net.weight(`${node.name}/gamma`).assign(tf.tensor1d(rng.uniformArray(c, 0.5, 1.5)));
      net.weight(`${node.name}/beta`).assign(tf.tensor1d(rng.uniformArray(c, -0.2, 0.3)));
    }
    const { batchStats } = net.forward(input(seed + 2000, 8, size), { training: true, rng });
    for (const st of batchStats) {
      net.weight(`${st.bn}/moving_mean`).assign(tf.add(st.mean, tf.tensor1d(rng.uniformArray(st.mean.size, -0.1, 0.1))));
      net.weight(`${st.bn}/moving_variance`).assign(tf.mul(st.variance, tf.tensor1d(rng.uniformArray(st.variance.size, 0.8, 1.25))));
    }
  });
  return net;
}

function randn(seed: number, shape: number[]): tf.Tensor {
  return tf.tensor(new Rng(seed).uniformArray(shape.reduce((a, b) => a * b, 1), -1, 1), shape);
}

test('conv input gradient is the adjoint of the forward: ⟨G(dY), u⟩ = ⟨dY, conv(u)⟩ (strides, asymmetric pads, dilation, depthwise ×1 and ×2)', () => {
  const cases: Partial<Conv2dNode>[] = [
    { kernelSize: [3, 3], strides: [2, 2], pads: [0, 1, 1, 0] },
    { kernelSize: [3, 2], strides: [1, 1], pads: [2, 2, 0, 1], dilations: [2, 1] },
    { kernelSize: [3, 3], strides: [1, 1], pads: [2, 2, 2, 2], dilations: [2, 2] },
    { kernelSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], groups: 4, filters: 4 },
    { kernelSize: [3, 3], strides: [1, 1], pads: [1, 0, 1, 1], groups: 4, filters: 8, dilations: [1, 2] },
    { kernelSize: [3, 3], strides: [2, 1], pads: [1, 0, 1, 1], groups: 4, filters: 8 },
  ];
  cases.forEach((c, i) => tf.tidy(() => {
    const node = Conv2dNodeSchema.parse({ op: 'conv2d', name: 'c', inputs: ['x'], filters: 5, useBias: false, ...c });
    const inShape = [7, 8, 4];
    const [w] = OPS.conv2d.weights!(node, [inShape]);
    const kernel = randn(10 + i, [...w.shape]) as tf.Tensor4D;
    const u = randn(20 + i, [2, ...inShape]) as tf.Tensor4D;
    const y = OPS.conv2d.forward(node, [u], { weight: () => kernel } as never);
    const dy = randn(30 + i, y.shape);
    const g = convInputGradient(dy as tf.Tensor4D, kernel, node, inShape);
    assert.deepEqual(g.shape, u.shape);
    const lhs = tf.sum(tf.mul(g, u)).dataSync()[0], rhs = tf.sum(tf.mul(dy, y)).dataSync()[0];
    assert.ok(Math.abs(lhs - rhs) <= 1e-5 * Math.max(1, Math.abs(rhs)), `case ${i}: ${lhs} vs ${rhs}`);
    if (node.dilations.every((d) => d === 1)) {
      // tfjs differentiates undilated convs: the same numbers as its own backprop kernels
      const ref = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(OPS.conv2d.forward(node, [x], { weight: () => kernel } as never), dy)))(u);
      assert.ok(tf.max(tf.abs(tf.sub(g, ref))).dataSync()[0] <= 1e-5, `case ${i} vs tf.grad`);
    }
  }));
});

test('average-pool input gradient is the adjoint of the forward, also where TF \'same\' pads are left out of the count', () => {
  for (const [pads, countIncludePad] of [[[1, 1, 1, 1], false], [[1, 1, 1, 1], true], [[1, 0, 2, 1], false], [[0, 0, 0, 0], true]] as const) {
    tf.tidy(() => {
      const node = { op: 'avgPool', name: 'a', inputs: ['x'], poolSize: [3, 3], strides: [2, 2], pads, countIncludePad } as unknown as AvgPoolNode;
      const u = randn(1, [2, 5, 6, 3]) as tf.Tensor4D;
      const y = OPS.avgPool.forward(node, [u], {} as never);
      const dy = randn(2, y.shape) as tf.Tensor4D;
      const g = avgPoolInputGradient(dy, node, [5, 6, 3]);
      const lhs = tf.sum(tf.mul(g, u)).dataSync()[0], rhs = tf.sum(tf.mul(dy, y)).dataSync()[0];
      assert.ok(Math.abs(lhs - rhs) <= 1e-5 * Math.max(1, Math.abs(rhs)), `pads [${pads}] count pads ${countIncludePad}: ${lhs} vs ${rhs}`);
    });
  }
});

test('max-pool routing equals tf.grad for overlapping 3×3/2 windows with −∞ pads and ties (first maximum, overlaps accumulate)', () => {
  for (const pads of [[1, 1, 1, 1], [0, 1, 1, 0], [0, 0, 0, 0]]) {
    tf.tidy(() => {
      const node = { op: 'maxPool', name: 'p', inputs: ['x'], poolSize: [3, 3], strides: [2, 2], pads } as unknown as MaxPoolNode;
      // ReLU'd values: many windows tie at 0, and negative-free maps test the −∞ pads
      const x = tf.relu(tf.round(tf.mul(randn(3, [2, 7, 8, 3]), 2))) as tf.Tensor4D;
      const y = OPS.maxPool.forward(node, [x], {} as never);
      const dy = randn(4, y.shape) as tf.Tensor4D;
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(OPS.maxPool.forward(node, [t], {} as never), dy)))(x);
      const g = maxPoolInputGradient(dy, x, node);
      assert.ok(tf.max(tf.abs(tf.sub(g, ref))).dataSync()[0] <= 1e-6, `pads [${pads}]`);
    });
  }
});

/** Every op kind and the awkward geometries: asymmetric pads, dilation, depthwise ×2, overlapping pools, concat. */
function zooGraph(): ModelConfig {
  const nodes: GraphSpecInput['nodes'] = [
    { op: 'conv2d', name: 'stem', inputs: ['input'], filters: 6, kernelSize: [3, 3], strides: [2, 2], pads: [0, 1, 1, 0] },
    { op: 'batchNorm', name: 'stem_bn', inputs: ['stem'] },
    { op: 'clip', name: 'stem_act', inputs: ['stem_bn'], min: 0, max: 6 },
    { op: 'maxPool', name: 'pool', inputs: ['stem_act'], poolSize: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] },
    { op: 'conv2d', name: 'dw', inputs: ['pool'], filters: 12, groups: 6, kernelSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], useBias: false },
    { op: 'batchNorm', name: 'dw_bn', inputs: ['dw'] },
    { op: 'relu', name: 'dw_act', inputs: ['dw_bn'] },
    { op: 'conv2d', name: 'dil', inputs: ['dw_act'], filters: 12, kernelSize: [3, 3], pads: [1, 1, 1, 1] },
    { op: 'add', name: 'res', inputs: ['dil', 'dw_act'] },
    { op: 'dropout', name: 'res_drop', inputs: ['res'], rate: 0.25 },
    { op: 'pad', name: 'padded', inputs: ['res_drop'], pads: [1, 0, 0, 1] },
    // (not TF 'same' pads: tfjs's 'same' AvgPoolGrad divides by the full window, see the adjoint test)
    { op: 'avgPool', name: 'avg_a', inputs: ['padded'], poolSize: [3, 3], strides: [2, 2], pads: [1, 0, 1, 0], countIncludePad: false },
    { op: 'avgPool', name: 'avg_b', inputs: ['padded'], poolSize: [3, 3], strides: [2, 2], pads: [0, 1, 0, 1], countIncludePad: true },
    { op: 'concat', name: 'cat', inputs: ['avg_a', 'avg_b'] },
    { op: 'identity', name: 'same', inputs: ['cat'] },
    { op: 'conv2d', name: 'mix', inputs: ['same'], filters: 8, kernelSize: [1, 1] },
    { op: 'relu', name: 'mix_act', inputs: ['mix'] },
    { op: 'flatten', name: 'flat', inputs: ['mix_act'] },
    { op: 'dropout', name: 'drop', inputs: ['flat'], rate: 0.5 },
    { op: 'dense', name: 'fc', inputs: ['drop'], units: 3 },
  ];
  return parseGraphSpec({ kind: 'graph', input: { shape: [15, 15, 3] }, nodes, output: 'fc' });
}

const NETS: readonly { name: string; config: () => ModelConfig }[] = [
  { name: 'resnet18', config: () => archPreset({ arch: 'resnet18', width: 16, imageSize: 16, numClasses: 3, dropout: 0.3 }) },
  { name: 'mobilenetv2', config: () => archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 16, numClasses: 3 }) },
  { name: 'zoo', config: zooGraph },
];

function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  assert.equal(x.length, y.length);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) { num = Math.max(num, Math.abs(x[i] - y[i])); den = Math.max(den, Math.abs(x[i]), Math.abs(y[i])); }
  return den === 0 ? num : num / den;
}

for (const { name, config } of NETS) {
  for (const training of [false, true]) {
    test(`${name}: explicit sensitivity = tf.grad at every matchable node (${training ? 'training' : 'inference'} mode)`, () => {
      const net = calibrated(config(), 7);
      const size = net.inputSize[0];
      const layers = matchableLayers(net.graph);
      const n0 = tf.memory().numTensors;
      let worst = 0, worstLayer = '';
      tf.tidy(() => {
        const x = input(8, B, size);
        const mask = net.dropoutRate > 0 ? net.dropoutMask(B, new Rng(9)) : undefined;
        // inner dropouts (the zoo's res_drop): the same masks in both forwards; the explicit
        // backward is not told them and recovers them from the captures
        const dropoutMasks: Record<string, tf.Tensor> = {};
        for (const n of net.graph.nodes) {
          if (n.op !== 'dropout' || n.name === net.headDropout?.name) continue;
          const perSample = net.graph.shape(n.inputs[0]).reduce((a, d) => a * d, 1);
          dropoutMasks[n.name] = drawDropoutMask([B, perSample], n.rate, new Rng(10));
        }
        const capture = [...new Set(layers.flatMap((l) => graphBackwardCaptures(net.graph, l, training)))];
        const { activations, logits } = net.forward(x, { training, dropoutMask: mask, dropoutMasks, capture });
        const seed = tf.cast(tf.oneHot(tf.tensor1d([1, 0, 2, 1], 'int32'), 3), 'float32') as tf.Tensor2D;
        for (const layer of layers) {
          tf.tidy(() => {
            const g = graphSensitivity(net, activations, layer, seed, { training, dropoutMask: training ? mask : undefined });
            const ref = tf.grad((f: tf.Tensor) => {
              const r = net.forward(x, { training, dropoutMask: mask, dropoutMasks, overrides: { [layer]: f } });
              return tf.sum(tf.mul(r.logits, seed));
            })(activations[layer]);
            assert.deepEqual(g.shape, ref.shape, layer);
            const e = relErr(g, ref);
            if (e > worst) { worst = e; worstLayer = layer; }
            assert.ok(e <= 1e-4, `${layer}: rel err ${e}`);
          });
        }
        assert.ok(logits.shape[0] === B);
      });
      assert.equal(tf.memory().numTensors, n0, 'no tensors leaked');
      process.stdout.write(`# ${name} ${training ? 'training' : 'inference'}: ${layers.length} layers, max rel err ${worst.toExponential(2)} (${worstLayer})\n`);
      net.dispose();
    });
  }
}

test('matchable layers, backward paths and captures on a ResNet; unknown names list the valid ones', () => {
  const net = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize: 16, numClasses: 3 }), 1);
  const g = net.graph;
  const layers = matchableLayers(g);
  assert.ok(layers.includes('maxpool') && layers.includes('layer2.0.add') && layers.includes('layer4.1.relu2'));
  assert.ok(!layers.includes('avgpool') && !layers.includes('fc'));
  // from layer3.1.relu1 the path is block 3.1's second half, its add, block 4 and the head; the
  // shortcut of 3.1 starts below the layer, so it is not on the path
  const path = backwardPath(g, 'layer3.1.relu1').map((n) => n.name);
  assert.deepEqual(path.slice(0, 4), ['layer3.1.conv2', 'layer3.1.bn2', 'layer3.1.add', 'layer3.1.relu2']);
  assert.ok(path.includes('layer4.0.downsample.0') && path.at(-1) === 'fc' && !path.includes('layer3.0.relu2'));
  assert.deepEqual(graphBackwardCaptures(g, 'layer4.1.relu1', false).sort(), ['layer4.1.relu1', 'layer4.1.relu2']);
  assert.deepEqual(graphBackwardCaptures(g, 'layer4.1.relu1', true).sort(), ['layer4.1.conv2', 'layer4.1.relu1', 'layer4.1.relu2']);
  assert.ok(graphBackwardCaptures(g, 'bn1', false).includes('relu'), 'the stem pool reads the stem ReLU');
  assert.throws(() => checkMatchLayer(g, 'layer9.relu'), /unknown layer 'layer9\.relu'; layers of this graph: conv1, bn1, relu, maxpool, layer1\.0\.conv1/);
  assert.throws(() => checkMatchLayer(g, 'avgpool'), /'avgpool' is not a feature map \(its output is \[32\]\)/);
  net.dispose();
});

// ---- WCAM's gradient at an inner block vs central directional finite differences ----------------

/**
 * Everything in the student's forward and map that is only piecewise smooth, as one fingerprint:
 * each ReLU/clip's active set, each max-pool's routing (a fixed random dY routed to the first
 * maxima), and the sign of the WCAM map before its ReLU. A finite-difference step whose
 * fingerprint differs from the centre's crossed a kink and measures a chord.
 */
function kinkFingerprint(net: GraphNet, x: tf.Tensor4D, cfg: MatchingConfig, classes: tf.Tensor1D, mask: tf.Tensor2D): Float32Array {
  return tf.tidy(() => {
    const g = net.graph;
    const acts = g.nodes.filter((n) => n.op === 'relu' || n.op === 'clip').map((n) => n.name);
    const pools = g.nodes.filter((n) => n.op === 'maxPool');
    const layer = cfg.layer as string;
    const capture = [...new Set([...acts, ...pools.map((p) => p.inputs[0]), ...matchingCaptures(cfg, net, false)])];
    const { activations } = net.forward(x, { capture });
    const parts: tf.Tensor[] = acts.map((a) => {
      const y = activations[a];
      return tf.add(tf.step(y), tf.step(tf.sub(y, 5.999999)));
    });
    for (const p of pools) {
      const out = g.shape(p.name);
      const dy = tf.tensor4d(new Rng(1).uniformArray(x.shape[0] * out[0] * out[1] * out[2], 1, 2), [x.shape[0], out[0], out[1], out[2]]);
      parts.push(maxPoolInputGradient(dy, activations[p.inputs[0]] as tf.Tensor4D, p));
    }
    const seed = tf.cast(tf.oneHot(classes, net.numClasses), 'float32') as tf.Tensor2D;
    const alpha = tf.sum(graphSensitivity(net, activations, layer, seed, { training: false, dropoutMask: mask }), [1, 2]);
    const f = activations[layer] as tf.Tensor4D;
    parts.push(tf.step(tf.sum(tf.mul(f, tf.reshape(alpha, [alpha.shape[0], 1, 1, -1])), 3)));
    return tf.concat(parts.map((t) => tf.reshape(t, [-1]))).dataSync() as Float32Array;
  });
}

function sameFingerprint(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

interface FdReport { checked: number; skipped: number; unresolved: number; worst: number }

/**
 * WCAM (kind 'swa', top-1) at `layer`: student in inference mode with a fixed head dropout mask
 * (method spec §8.2). For random directions v (within one named tensor, or over all weights), compares ⟨∇L, v⟩ from one `tf.variableGrads` through the explicit backward with
 * (L(w + hv) − L(w − hv)) / 2h, skipping directions whose step flips a kink.
 */
const STEPS = [5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4];
const FD_BATCH = 1;
const FD_AGREE = 5e-4;

function directionalCheck(teacher: GraphNet, student: GraphNet, layer: string, size: number, tensors: readonly string[]): FdReport {
  const cfg = parseMatchingConfig({ kind: 'swa', layer });
  const x = input(31, FD_BATCH, size);
  const mask = student.dropoutMask(FD_BATCH, new Rng(32));
  const t = tf.tidy(() => {
    const r = teacher.forward(x, { capture: matchingCaptures(cfg, teacher, false) });
    return { logits: r.logits, activations: r.activations };
  });
  const target = teacherTarget(cfg, { net: teacher, ...t, training: false });
  const loss = (): tf.Scalar => {
    const { activations } = student.forward(x, { capture: matchingCaptures(cfg, student, false) });
    return matchingLoss(target, { net: student, activations, training: false, dropoutMask: mask });
  };
  const vars = student.trainableVariables();
  const { value, grads } = tf.variableGrads(loss, vars);
  assert.ok(value.dataSync()[0] > 1e-4, `L_AM ${value.dataSync()[0]}: the maps differ`);
  value.dispose();
  const origin = vars.map((v) => v.dataSync().slice());
  // weights that reach L only through masks (BN β above the layer, the head bias) get no gradient
  const g = vars.map((v) => grads[v.name]?.dataSync().slice() ?? new Float32Array(v.size));
  tf.dispose(Object.values(grads));
  const setWeights = (dir: Float32Array[], step: number) => tf.tidy(() => vars.forEach((v, i) => {
    v.assign(tf.tensor(origin[i].map((w, j) => w + step * dir[i][j]), v.shape));
  }));
  const evalAt = (dir: Float32Array[], step: number): { l: number; fp: Float32Array } => {
    setWeights(dir, step);
    const l = tf.tidy(loss);
    const r = { l: l.dataSync()[0], fp: kinkFingerprint(student, x, cfg, target.classes!, mask) };
    l.dispose();
    return r;
  };
  const defs = student.graph.weights.filter((d) => d.trainable);
  const centre = kinkFingerprint(student, x, cfg, target.classes!, mask);
  const report: FdReport = { checked: 0, skipped: 0, unresolved: 0, worst: 0 };
  const rng = new Rng(33);
  // one family of directions per named tensor (above the layer they act on L only through the
  // sensitivity, below it only through F), and one over all weights
  for (const fam of [...tensors, 'all']) {
    for (let k = 0; k < 2; k++) {
      // a direction scaled per tensor by its RMS, so h is a relative step for every weight
      const dir = defs.map((d, i) => {
        if (fam !== 'all' && d.name !== fam) return new Float32Array(origin[i].length);
        let sq = 0;
        for (const w of origin[i]) sq += w * w;
        const rms = Math.sqrt(sq / origin[i].length) || 1;
        return Float32Array.from(rng.uniformArray(origin[i].length, -1, 1), (u) => u * rms);
      });
      let analytic = 0;
      dir.forEach((d, i) => d.forEach((v, j) => { analytic += v * g[i][j]; }));
      // the largest step h whose ±h and ±h/2 cross no kink and whose central differences agree,
      // |D(h) − D(h/2)| ≤ FD_AGREE·|D|: a resolved derivative, neither curvature- (h²) nor float32
      // round-off-dominated (∝ 1/h); this uses only loss values, never the gradient under test.
      // D(h) is then the estimate (its h² error is at most 4/3 of the disagreement; Richardson's
      // extrapolation would triple the round-off instead)
      let fd: number | undefined;
      let kinked = true;
      for (const h of STEPS) {
        const pts = [h, -h, h / 2, -h / 2].map((step) => evalAt(dir, step));
        if (!pts.every((p) => sameFingerprint(p.fp, centre))) continue;
        kinked = false;
        const d = (pts[0].l - pts[1].l) / (2 * h), dHalf = (pts[2].l - pts[3].l) / h;
        if (Math.abs(d - dHalf) > FD_AGREE * Math.max(Math.abs(d), Math.abs(dHalf))) continue;
        fd = d;
        break;
      }
      if (fd === undefined) { if (kinked) report.skipped++; else report.unresolved++; continue; }
      assert.ok(analytic !== 0, `${fam}: zero directional derivative`);
      const e = Math.abs(fd - analytic) / Math.max(Math.abs(fd), Math.abs(analytic));
      report.checked++;
      report.worst = Math.max(report.worst, e);
      assert.ok(e <= 1e-3, `${layer} (${fam} direction ${k}): analytic ${analytic} vs finite difference ${fd} (rel err ${e})`);
    }
  }
  setWeights(origin.map((o) => new Float32Array(o.length)), 0);
  target.dispose();
  tf.dispose([x, mask, t.logits, ...Object.values(t.activations)]);
  return report;
}

const FD_CASES = [
  { name: 'resnet18', layer: 'layer2.1.relu1', size: 16, widths: [8, 16],
    tensors: ['fc/kernel', 'layer2.1.conv2/kernel', 'layer3.0.bn1/gamma', 'layer3.0.downsample.0/kernel', 'layer4.1.conv1/kernel', 'layer1.0.conv1/kernel', 'conv1/kernel'], make: (w: number) => archPreset({ arch: 'resnet18', width: w, imageSize: 16, numClasses: 3, dropout: 0.3 }) },
  // matched at the stem ReLU: the sensitivity runs back through the overlapping 3×3/2 max-pool
  { name: 'resnet18', layer: 'relu', size: 12, widths: [8, 16],
    tensors: ['fc/kernel', 'layer1.0.conv1/kernel', 'layer1.1.bn2/gamma', 'layer2.0.downsample.0/kernel', 'layer3.1.conv2/kernel', 'bn1/gamma', 'conv1/kernel'], make: (w: number) => archPreset({ arch: 'resnet18', width: w, imageSize: 12, numClasses: 3, dropout: 0.3 }) },
  // MobileNetV2-shaped but short (the family at 16 px has ~20k ReLU6 units, too many to find a
  // step that flips none): stem, an expansion-1 block, two stages of two inverted residuals
  { name: 'mobilenetv2-shaped', layer: 'features.3.add', size: 8, widths: [2, 1],
    tensors: ['classifier.1/kernel', 'features.4.conv.1.0/depthwise_kernel', 'features.4.conv.1.1/gamma', 'features.5.conv.0.0/kernel', 'features.5.conv.1.0/depthwise_kernel',
      'features.3.conv.1.0/depthwise_kernel', 'features.2.conv.1.0/depthwise_kernel'],
    make: (w: number) => MobileNetV2ConfigSchema.parse({
      kind: 'mobilenetv2', stemChannels: 4 * w, stemStride: 2, lastChannels: 16 * w, inputSize: [8, 8], numClasses: 3,
      blocks: [{ expansion: 1, channels: 4 * w, repeats: 1, stride: 1 }, { expansion: 3, channels: 6 * w, repeats: 2, stride: 2 }, { expansion: 3, channels: 8 * w, repeats: 2, stride: 2 }],
    }) },
];
for (const c of FD_CASES) {
  test(`${c.name}: WCAM's gradient at ${c.layer} matches central directional finite differences (cpu, ≤ 1e-3)`, () => {
    const teacher = calibrated(c.make(c.widths[0]), 41), student = calibrated(c.make(c.widths[1]), 42);
    const r = directionalCheck(teacher, student, c.layer, c.size, c.tensors);
    process.stdout.write(`# ${c.name} at ${c.layer}: ${r.checked} directions checked, ${r.skipped} skipped (kink crossed), ${r.unresolved} unresolved (D(h) ≠ D(h/2) at every kink-free h), max rel err ${r.worst.toExponential(2)}\n`);
    assert.ok(r.checked >= 4, `only ${r.checked} of 16 directions were checked`);
    teacher.dispose(); student.dispose();
  });
}
