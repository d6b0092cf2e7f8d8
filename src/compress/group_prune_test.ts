/**
 * Dependency-grouped structured pruning (graph.md §3, compression.md §2) on ResNet-18 and
 * MobileNetV2 topologies, and the VGG plan it must reproduce.
 *
 * Golden channel groups: test/fixtures/channel_groups/*.json. After a deliberate change of the
 * grouping rules, regenerate them with
 *   APC_UPDATE_GOLDEN=1 node --import tsx --test src/compress/group_prune_test.ts
 * and review the diff: every member the files list is cut by surgery.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { modelStats } from '../models/accounting.js';
import { loadNet, saveNet } from '../models/checkpoint.js';
import { WEIGHTS_BIN } from '../models/checkpoint_io.js';
import { loadModel } from '../models/load_model.js';
import { type ChannelCut, type ChannelGroup, channelGroups } from '../models/graph/channel_groups.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { parseGraphSpec } from '../models/graph/graph_spec.js';
import { archPreset, graphOf, type ModelConfig } from '../models/model_config.js';
import { vggLayout, vggPreset } from '../models/vgg_config.js';
import { channelGroupReport, formatChannelGroupReport } from './channel_group_report.js';
import { applyGroupPrunePlan, type GroupPrunePlan, groupPrune, groupRates, planGroupPrune, prunedGroupConfig } from './group_prune.js';
import { applyPrunePlan, cumulativeRate, filterImportance, planStructuredPrune, roundRates, structuredRates, topFilters } from './structured_prune.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const RESNET = archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 5 });
const MOBILENET = archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 5 });
const FIXTURES = new URL('../../test/fixtures/channel_groups/', import.meta.url).pathname;

function golden(file: string, config: ModelConfig) {
  const report = channelGroupReport(config, 0.5);
  const path = join(FIXTURES, file);
  if (process.env.APC_UPDATE_GOLDEN === '1') writeFileSync(path, `${JSON.stringify({ config, report }, null, 1)}\n`);
  const g = JSON.parse(readFileSync(path, 'utf8')) as { config: unknown; report: unknown };
  assert.deepEqual(config, g.config, `${file}: the fixture's config`);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), g.report, `${file}: channel groups differ from the golden file`);
  return report;
}

const has = (cuts: readonly ChannelCut[], weight: string, axis: number) => cuts.some((c) => c.weight === weight && c.axis === axis);
const BN = ['gamma', 'beta', 'moving_mean', 'moving_variance'];

test('golden channel groups: ResNet-18 topology (stages merged through add, block-inner groups, head rows)', () => {
  const r = golden('resnet18_w16.json', RESNET);
  const groups = r.groups;
  assert.equal(groups.length, 4 + 8 + 1);
  const find = (node: string) => groups.find((g) => g.members.includes(node))!;
  // stage 2: block convs, the downsample and every BN after them; consumed by each block's conv1 and stage 3's entry
  const s2 = find('layer2.0.downsample.0');
  for (const p of ['layer2.0.conv2', 'layer2.0.downsample.0', 'layer2.1.conv2']) assert.ok(has(s2.outputs, `${p}/kernel`, 3), p);
  for (const bn of ['layer2.0.bn2', 'layer2.0.downsample.1', 'layer2.1.bn2']) for (const v of BN) assert.ok(has(s2.outputs, `${bn}/${v}`, 0), `${bn}/${v}`);
  assert.deepEqual(s2.consumers.map((c) => `${c.weight}@${c.axis}`), ['layer2.1.conv1/kernel@2', 'layer3.0.conv1/kernel@2', 'layer3.0.downsample.0/kernel@2']);
  // a block-inner group: conv1 + bn1, consumed by conv2
  const inner = find('layer3.1.conv1');
  assert.deepEqual(inner.outputs.map((c) => c.weight), ['layer3.1.conv1/kernel', ...BN.map((v) => `layer3.1.bn1/${v}`)]);
  assert.deepEqual(inner.consumers, [{ weight: 'layer3.1.conv2/kernel', axis: 2, offset: 0 }]);
  // the last stage feeds the dense rows through global pooling (row r = channel r, no flatten period)
  assert.deepEqual(find('layer4.1.relu2').consumers.at(-1), { weight: 'fc/kernel', axis: 0, offset: 0 });
  assert.equal(find('fc').frozen, 'logits');
  assert.deepEqual(find('fc').outputs.map((c) => c.weight), ['fc/kernel', 'fc/bias']);
  assert.ok(groups.filter((g) => !g.frozen).every((g) => g.kept === Math.floor(g.width / 2)));
  assert.match(formatChannelGroupReport(r), /group 0: width 4 → 2 \(rate 0\.5\)\n {2}producers: conv1, layer1\.0\.conv2, layer1\.1\.conv2/);
});

test('golden channel groups: MobileNetV2 topology (every expansion group: expand conv, BN, depthwise, BN, projection input)', () => {
  const r = golden('mobilenetv2_w8.json', MOBILENET);
  const groups = r.groups;
  const find = (node: string) => groups.find((g) => g.members.includes(node))!;
  const graph = graphOf(MOBILENET);
  const expanding = graph.nodes.filter((n) => /^features\.\d+\.conv\.0\.0$/.test(n.name) && n.op === 'conv2d' && n.groups === 1);
  assert.equal(expanding.length, 16, 'blocks 2 … 17 expand');
  for (const e of expanding) {
    const b = e.name.replace(/\.conv\.0\.0$/, '');
    const g = find(e.name);
    assert.deepEqual(g.producers, [e.name]);
    assert.deepEqual(g.outputs.map((c) => `${c.weight}@${c.axis}`), [
      `${b}.conv.0.0/kernel@3`, ...BN.map((v) => `${b}.conv.0.1/${v}@0`),
      `${b}.conv.1.0/depthwise_kernel@2`, ...BN.map((v) => `${b}.conv.1.1/${v}@0`),
    ], b);
    assert.deepEqual(g.consumers.map((c) => `${c.weight}@${c.axis}`), [`${b}.conv.2/kernel@2`], b);
    assert.ok(!g.frozen);
  }
  // block 1 (expansion 1): no expand conv; its depthwise conv and BN belong to the stem's group
  const stem = find('features.0.0');
  assert.deepEqual(stem.producers, ['features.0.0']);
  assert.deepEqual(stem.outputs.map((c) => `${c.weight}@${c.axis}`), [
    'features.0.0/kernel@3', ...BN.map((v) => `features.0.1/${v}@0`),
    'features.1.conv.0.0/depthwise_kernel@2', ...BN.map((v) => `features.1.conv.0.1/${v}@0`),
  ]);
  assert.deepEqual(stem.consumers.map((c) => c.weight), ['features.1.conv.1/kernel']);
  // a residual stage: projections and the adds in one group, read by the next expand convs
  const s3 = find('features.3.add');
  assert.deepEqual(s3.producers, ['features.2.conv.2', 'features.3.conv.2']);
  assert.deepEqual(s3.consumers.map((c) => c.weight), ['features.3.conv.0.0/kernel', 'features.4.conv.0.0/kernel']);
  assert.equal(find('classifier.1').frozen, 'logits');
});

/** Random BN statistics and affine parameters, so a wrong cut of any BN vector shows in the logits. */
function randomizedNet(config: ModelConfig, seed: number): GraphNet {
  const net = GraphNet.create(config, seed);
  const rng = new Rng(seed + 100);
  const ranges: Record<string, [number, number]> = { moving_mean: [-0.3, 0.3], moving_variance: [0.5, 2], gamma: [0.5, 1.5], beta: [-0.2, 0.5] };
  tf.tidy(() => {
    for (const d of net.graph.weights) {
      const r = ranges[d.suffix];
      if (r) net.weight(d.name).assign(tf.tensor1d(rng.uniformArray(d.shape[0], r[0], r[1])));
    }
  });
  return net;
}

/**
 * Reference of compression.md §2.3 on a graph: the unpruned net with every removed channel at 0
 * after its activation, everywhere in its group — that channel of every producer-side parameter
 * at 0 (kernel out-channel, bias, depthwise channel, BN γ and β; not the moving statistics): a
 * conv or BN output 0, ReLU/ReLU6 0, pooling and add of zeros 0. Zeroing only the kernels would
 * not do: BN would still add β − γμ/σ.
 */
function maskedReference(net: GraphNet, plan: GroupPrunePlan): GraphNet {
  const ref = net.clone();
  const groups = channelGroups(net.graph);
  tf.tidy(() => groups.forEach((g, i) => {
    const kept = new Set(plan.groups[i].keep);
    for (const c of g.outputs) {
      if (/\/moving_(mean|variance)$/.test(c.weight)) continue;
      const w = ref.weight(c.weight);
      // the group's channels sit at c.offset of the weight's axis (after a concat)
      const m = new Float32Array(w.shape[c.axis]).fill(1);
      for (let k = 0; k < g.width; k++) if (!kept.has(k)) m[c.offset + k] = 0;
      const shape = w.shape.map((d, a) => (a === c.axis ? d : 1));
      w.assign(tf.mul(w, tf.reshape(tf.tensor1d(m), shape)));
    }
  }));
  return ref;
}

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

/** Relative logit difference between the pruned net and `net` with the plan's removed channels zeroed. */
function diffToMasked(net: GraphNet, pruned: GraphNet, plan: GroupPrunePlan, x: tf.Tensor4D): number {
  const ref = maskedReference(net, plan);
  const a = pruned.predict(x);
  const b = ref.predict(x);
  const d = relDiff(a, b);
  tf.dispose([a, b]);
  ref.dispose();
  return d;
}

/** Params (§4: kernels, biases, BN γ/β, dense) and MACs of `config` with each node's kept width, counted by hand. */
function handAccounting(config: ModelConfig, plan: GroupPrunePlan): { params: number; macs: number } {
  const graph = graphOf(config);
  const groups = channelGroups(graph);
  const width = new Map<string, number>([['input', 3]]);
  groups.forEach((g, i) => { for (const m of g.members) width.set(m, plan.groups[i].keep.length); });
  let params = 0;
  let macs = 0;
  for (const n of graph.nodes) {
    const cin = width.get(n.inputs[0])!;
    const cout = width.get(n.name)!;
    const [h, w] = graph.shape(n.name);
    if (n.op === 'conv2d') {
      const perOut = n.kernelSize[0] * n.kernelSize[1] * (n.groups === 1 ? cin : 1);
      params += perOut * cout + (n.useBias ? cout : 0);
      macs += h * w * perOut * cout;
    } else if (n.op === 'batchNorm') {
      params += 2 * cout;
    } else if (n.op === 'dense') {
      params += cin * cout + cout;
      macs += cin * cout;
    }
  }
  return { params, macs };
}

const TORCH = new URL('../../test/fixtures/torch/', import.meta.url).pathname;
/** The ONNX fixtures' graphs (torchvision topologies exported by PyTorch, test/fixtures/torch) as apc imports them. */
const imported = async (file: string) => { const m = await loadModel(join(TORCH, file)); const c = m.net.config; m.net.dispose(); return c; };

const CASES = [
  { name: 'ResNet-18', config: async () => RESNET, seed: 3 },
  { name: 'MobileNetV2', config: async () => MOBILENET, seed: 4 },
  { name: 'imported ONNX ResNet', config: () => imported('resnet.onnx'), seed: 5 },
  { name: 'imported ONNX MobileNetV2', config: () => imported('mobilenetv2.onnx'), seed: 6 },
];

for (const c of CASES) {
  test(`${c.name} surgery at ρ = 0.5: logits = the unpruned net with removed channels zeroed; accounting; a smaller checkpoint`, async () => {
    const config = await c.config();
    const net = randomizedNet(config, c.seed);
    const before = net.snapshot();
    const [h, w, ch] = net.graph.inputShape;
    const x = tf.tidy(() => tf.tensor4d(new Rng(c.seed).uniformArray(2 * h * w * ch, -1, 1), [2, h, w, ch]));
    const n0 = tf.memory().numTensors;
    const rates = groupRates(config, 0.5);
    const { net: pruned, plan } = groupPrune(net, rates);
    assert.equal(plan.config.kind, 'graph');
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, 'plans are plain JSON');
    plan.groups.forEach((g) => assert.equal(g.keep.length, g.frozen ? g.width : Math.floor(g.width / 2)));
    assert.equal(tf.memory().numTensors, n0 + pruned.graph.weights.length, 'surgery leaves only the new network');
    const ref = maskedReference(net, plan);
    const a = pruned.predict(x);
    const b = ref.predict(x);
    const full = net.predict(x);
    const d = relDiff(a, b);
    assert.ok(d < 1e-4, `relative |Δlogit| ${d}`);
    assert.ok(relDiff(full, b) > 1e-3, 'the removed channels matter (the comparison can fail)');
    // params and MACs of the pruned net = a hand count from the kept widths
    const hand = handAccounting(config, plan);
    const stats = modelStats(pruned);
    assert.equal(stats.params, hand.params);
    assert.equal(stats.macs, hand.macs);
    assert.ok(stats.params < modelStats(net).params / 2.5, `${stats.params} vs ${modelStats(net).params}`);
    // the checkpoint is physically smaller and reloads to the same logits
    const dir = await mkdtemp(join(tmpdir(), 'apc-gprune-'));
    try {
      await saveNet(join(dir, 'full'), net, {});
      await saveNet(join(dir, 'pruned'), pruned, {});
      const full4 = net.graph.weights.reduce((s, w) => s + 4 * w.shape.reduce((p, v) => p * v, 1), 0);
      const pruned4 = pruned.graph.weights.reduce((s, w) => s + 4 * w.shape.reduce((p, v) => p * v, 1), 0);
      assert.equal((await stat(join(dir, 'full', WEIGHTS_BIN))).size, full4);
      assert.equal((await stat(join(dir, 'pruned', WEIGHTS_BIN))).size, pruned4);
      assert.ok(pruned4 < full4 / 2.5, `${pruned4} vs ${full4} bytes`);
      const { net: back } = await loadNet(join(dir, 'pruned'));
      assert.equal(back.config.kind, 'graph');
      const l = back.predict(x);
      assert.equal(relDiff(l, a), 0);
      tf.dispose(l); back.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const [k, v] of Object.entries(before)) assert.deepEqual(net.weight(k).dataSync(), v.dataSync(), `${k}: the caller's network is untouched`);
    tf.dispose([a, b, full, x]); tf.dispose(Object.values(before)); pruned.dispose(); ref.dispose(); net.dispose();
  });
}

test('iterative widths on a graph: relative to the original widths; round R equals one-shot at P_R (spec §2.4)', () => {
  const net = randomizedNet(RESNET, 7);
  const base = groupRates(RESNET, 0.3);
  const originalWidths = channelGroups(net.graph).map((g) => g.width);
  const oneShot = prunedGroupConfig(RESNET, groupRates(RESNET, cumulativeRate(0.3, 2)));
  assert.deepEqual(prunedGroupConfig(RESNET, roundRates(base, 2)), oneShot);
  const r1 = groupPrune(net, roundRates(base, 1), undefined, { originalWidths });
  const r2 = groupPrune(r1.net, roundRates(base, 2), undefined, { originalWidths });
  assert.deepEqual(r2.net.config, oneShot);
  assert.deepEqual(r2.plan.groups.map((g) => g.originalWidth), originalWidths);
  // a plan only removes channels, and only fits the network it was made for
  assert.throws(() => planGroupPrune(r1.net, roundRates(base, 1).map(() => 0), undefined, { originalWidths }), /has 2 channels, rate 0 of its original 4 keeps 4/);
  assert.throws(() => applyGroupPrunePlan(r1.net, r1.plan), /plan group 0 is group 0 of width 4, the network has group 0 \(conv1, layer1.0.conv2, layer1.1.conv2\) of width 2/);
  assert.throws(() => planGroupPrune(net, base.map(() => 0.5)), /frozen \(logits\), its rate must be 0/);
  r1.net.dispose(); r2.net.dispose(); net.dispose();
});

test('VGG: the group planner reproduces planStructuredPrune (rates, kept filters, config, weights)', () => {
  const cfg = { ...vggPreset({ width: 16, imageSize: 32, numClasses: 5 }) };
  const net = randomizedNet(cfg, 11);
  const layout = vggLayout(cfg);
  for (const p of [0.3, 0.5, 0.7]) {
    const today = planStructuredPrune(net, structuredRates(layout, p));
    const grouped = planGroupPrune(net, groupRates(cfg, p));
    const free = grouped.groups.filter((g) => !g.frozen);
    assert.deepEqual(free.map((g) => g.producers), today.convs.map((c) => [c.name]));
    assert.deepEqual(free.map((g) => g.rate), today.convs.map((c) => c.rate));
    assert.deepEqual(free.map((g) => g.keep), today.convs.map((c) => c.keep), `p=${p}`);
    assert.deepEqual(grouped.config, today.config);
    if (p === 0.5) {
      const a = applyPrunePlan(net, today);
      const b = applyGroupPrunePlan(net, grouped);
      for (const d of a.graph.weights) assert.deepEqual(b.weight(d.name).dataSync(), a.weight(d.name).dataSync(), d.name);
      a.dispose(); b.dispose();
    }
  }
  net.dispose();
});

test('concat offsets and NHWC flatten rows: groups side by side through a concat, a BN over the concat, dense rows r mod C', () => {
  const cbr = (name: string, input: string, filters: number) => [
    { op: 'conv2d', name, inputs: [input], filters, kernelSize: [3, 3], pads: [1, 1, 1, 1] },
    { op: 'batchNorm', name: `${name}.bn`, inputs: [name] }, { op: 'relu', name: `${name}.relu`, inputs: [`${name}.bn`] }];
  const config = parseGraphSpec({
    kind: 'graph', input: { shape: [4, 4, 3] }, output: 'fc', nodes: [
      ...cbr('a', 'input', 4), ...cbr('b', 'input', 6),
      { op: 'concat', name: 'cat', inputs: ['a.relu', 'b.relu'] },
      { op: 'batchNorm', name: 'cat.bn', inputs: ['cat'] }, { op: 'relu', name: 'cat.relu', inputs: ['cat.bn'] },
      ...cbr('d', 'cat.relu', 5),
      { op: 'maxPool', name: 'pool', inputs: ['d.relu'], poolSize: [2, 2], strides: [2, 2] },
      { op: 'flatten', name: 'flat', inputs: ['pool'] }, { op: 'dense', name: 'fc', inputs: ['flat'], units: 3 },
    ],
  });
  const groups = channelGroups(graphOf(config));
  const find = (n: string) => groups.find((g) => g.producers.includes(n))!;
  assert.deepEqual(find('b').outputs.filter((c) => c.weight.startsWith('cat.bn/')).map((c) => c.offset), [4, 4, 4, 4]);
  assert.deepEqual(find('b').consumers, [{ weight: 'd/kernel', axis: 2, offset: 4 }]);
  assert.deepEqual(find('a').consumers, [{ weight: 'd/kernel', axis: 2, offset: 0 }]);
  assert.deepEqual(find('d').consumers, [{ weight: 'fc/kernel', axis: 0, offset: 0, period: 5 }]);
  const net = randomizedNet(config, 21);
  const { net: pruned, plan } = groupPrune(net, groupRates(config, 0.5));
  assert.deepEqual(plan.groups.map((g) => g.keep.length), [2, 3, 2, 3]);
  assert.deepEqual(pruned.weight('d/kernel').shape, [3, 3, 5, 2]);
  assert.deepEqual(pruned.weight('cat.bn/gamma').shape, [5]);
  // dense row (h·2 + w)·2 + j of the cut kernel is row (h·2 + w)·5 + keep[j] of the original
  const keepD = plan.groups[groups.indexOf(find('d'))].keep;
  const oldK = net.weight('fc/kernel').arraySync() as number[][];
  const newK = pruned.weight('fc/kernel').arraySync() as number[][];
  for (let p = 0; p < 4; p++) keepD.forEach((k, j) => assert.deepEqual(newK[p * 2 + j], oldK[p * 5 + k]));
  const x = tf.tidy(() => tf.tensor4d(new Rng(5).uniformArray(3 * 4 * 4 * 3, -1, 1), [3, 4, 4, 3]));
  const d = diffToMasked(net, pruned, plan, x);
  assert.ok(d < 1e-4, `relative |Δlogit| ${d}`);
  x.dispose(); pruned.dispose(); net.dispose();
});

test('a depthwise conv cut to one channel stays depthwise (same groups, so later rounds line up)', () => {
  const config = archPreset({ arch: 'mobilenetv2', width: 16, imageSize: 32, numClasses: 5 }); // stem and block 1: 2 channels
  const net = randomizedNet(config, 8);
  const { net: pruned, plan } = groupPrune(net, groupRates(config, 0.5));
  const dw = pruned.graph.node('features.1.conv.0.0');
  assert.ok(dw.op === 'conv2d' && dw.groups === 1 && dw.filters === 1 && dw.depthwise === true);
  assert.deepEqual(pruned.weight('features.1.conv.0.0/depthwise_kernel').shape, [3, 3, 1, 1]);
  const strip = (gs: readonly ChannelGroup[]) => gs.map((g) => ({ id: g.id, producers: g.producers, members: g.members, frozen: g.frozen }));
  assert.deepEqual(strip(channelGroups(pruned.graph)), strip(channelGroups(net.graph)));
  const x = tf.tidy(() => tf.tensor4d(new Rng(6).uniformArray(2 * 32 * 32 * 3, -1, 1), [2, 32, 32, 3]));
  const d = diffToMasked(net, pruned, plan, x);
  assert.ok(d < 1e-4, `relative |Δlogit| ${d}`);
  x.dispose(); pruned.dispose(); net.dispose();
});

test('importance: the criterion summed over a group\'s producers (conv kernels and dense columns), l1 or l2', () => {
  const net = randomizedNet(RESNET, 9);
  const groups = channelGroups(net.graph);
  const stage1 = groups.findIndex((g) => g.producers.includes('conv1'));
  const handScores = (kind: 'l1' | 'l2', producers: readonly string[], rows: (w: GraphNet, p: string) => number[][]) => {
    const s = new Array<number>(rows(net, producers[0])[0].length).fill(0);
    for (const p of producers) {
      const r = rows(net, p);
      s.forEach((_, o) => { s[o] += kind === 'l1' ? r.reduce((a, row) => a + Math.abs(row[o]), 0) : Math.sqrt(r.reduce((a, row) => a + row[o] ** 2, 0)); });
    }
    return s;
  };
  // HWIO kernel as rows of out-channels
  const convRows = (w: GraphNet, p: string) => { const k = w.weight(`${p}/kernel`); const d = k.dataSync(); const O = k.shape[3]!; return Array.from({ length: d.length / O }, (_, i) => Array.from(d.subarray(i * O, (i + 1) * O))); };
  for (const kind of ['l1', 'l2'] as const) {
    const plan = planGroupPrune(net, groupRates(RESNET, 0.5), filterImportance({ kind }));
    assert.equal(plan.importance, kind);
    const s = handScores(kind, groups[stage1].producers, convRows);
    assert.equal(groups[stage1].producers.length, 3);
    assert.deepEqual(plan.groups[stage1].keep, topFilters(s, 2), kind);
  }
  net.dispose();
  // a hidden dense layer is a producer too: its kernel columns are its filters
  const mlp = parseGraphSpec({
    kind: 'graph', input: { shape: [2, 2, 3] }, output: 'fc', nodes: [
      { op: 'flatten', name: 'flat', inputs: ['input'] }, { op: 'dense', name: 'h', inputs: ['flat'], units: 6 },
      { op: 'relu', name: 'h.relu', inputs: ['h'] }, { op: 'dense', name: 'fc', inputs: ['h.relu'], units: 3 },
    ],
  });
  const m = GraphNet.create(mlp, 2);
  const plan = planGroupPrune(m, groupRates(mlp, 0.5));
  const rows = m.weight('h/kernel').arraySync() as number[][];
  assert.deepEqual(plan.groups.map((g) => g.frozen), ['input', undefined, 'logits'], 'the flatten of the input is a member of the frozen input group');
  assert.deepEqual(plan.groups[1].keep, topFilters(rows[0].map((_, o) => rows.reduce((a, r) => a + Math.abs(r[o]), 0)), 3));
  const pruned = applyGroupPrunePlan(m, plan);
  assert.deepEqual(pruned.weight('fc/kernel').shape, [3, 3]);
  m.dispose(); pruned.dispose();
});
