import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointBytes, modelStats, referenceFlops } from './accounting.js';
import { GraphNet } from './graph/graph_net.js';
import { type VggConfig, vggParamCount, vggPreset } from './vgg_config.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const withBlocks = (first: number, deep: number): VggConfig => ({
  ...vggPreset({ arch: 'vgg16', imageSize: 227 }),
  blocks: [[first, 64], [128, 128], [256, 256, 256], [deep, deep, deep], [deep, deep, deep]],
});

// compression spec §4: params, conv weights, MACs @227, reference FLOPs @224
const TABLE: { name: string; cfg: VggConfig; params: number; convWeights: number; macs: number; refFlops: number }[] = [
  { name: 'teacher', cfg: vggPreset({ arch: 'vgg16', width: 1, imageSize: 227 }), params: 15224916, convWeights: 14710464, macs: 15449113792, refFlops: 30754601492 },
  { name: '/2', cfg: vggPreset({ arch: 'vgg16', width: 2, imageSize: 227 }), params: 3935284, convWeights: 3678048, macs: 3884664416, refFlops: 7747337492 },
  { name: '/4', cfg: vggPreset({ arch: 'vgg16', width: 4, imageSize: 227 }), params: 1048356, convWeights: 919728, macs: 982359088, refFlops: 1966177940 },
  { name: '/8', cfg: vggPreset({ arch: 'vgg16', width: 8, imageSize: 227 }), params: 294364, convWeights: 230040, macs: 251186264, refFlops: 506216276 },
  { name: 'p=0.3', cfg: withBlocks(44, 358), params: 8675188, convWeights: 8314488, macs: 11949599468, refFlops: 23782223618 },
  { name: 'p=0.5', cfg: withBlocks(32, 256), params: 5512852, convWeights: 5253984, macs: 10177155680, refFlops: 20253203732 },
  { name: 'p=0.7', cfg: withBlocks(19, 153), params: 3269153, convWeights: 3113118, macs: 8769633993, refFlops: 17455446273 },
];

test('params, conv weights, MACs @227 and the reference FLOP counter @224 match the spec table', () => {
  for (const row of TABLE) {
    const s = modelStats(row.cfg);
    assert.equal(s.params, row.params, `${row.name} params`);
    assert.equal(vggParamCount(row.cfg), row.params, `${row.name} vggParamCount`);
    assert.equal(s.convWeights, row.convWeights, `${row.name} conv weights`);
    assert.equal(s.macs, row.macs, `${row.name} MACs`);
    assert.equal(s.flops, 2 * row.macs);
    assert.equal(s.sparseMacs, row.macs, 'dense config: sparse = dense');
    assert.equal(s.nonZeroParams, row.params);
    assert.equal(s.sparsity, 0);
    assert.equal(referenceFlops(row.cfg), row.refFlops, `${row.name} reference FLOPs`);
  }
});

test('VGG16 at 224×224 is ~15.5 GMAC; MACs scale ≈ 1/width²', () => {
  const m224 = modelStats(vggPreset({ arch: 'vgg16', imageSize: 224 })).macs;
  assert.ok(m224 > 15.2e9 && m224 < 15.6e9, `${m224}`);
  const base = TABLE[0].macs;
  for (const [i, w] of [[1, 2], [2, 4], [3, 8]]) {
    const ratio = (TABLE[i].macs / base) * w * w;
    assert.ok(ratio > 1 && ratio < 1.1, `width /${w}: MACs·w²/MACs₁ = ${ratio}`); // conv1_1 (C_in = 3) scales as 1/w
  }
});

test('sparse counts from masks and from a network’s zero weights', () => {
  const cfg: VggConfig = { ...vggPreset({ width: 64, imageSize: 64, numClasses: 3 }), blocks: [[2], [3]], inputSize: [8, 8] };
  const dense = modelStats(cfg);
  // conv1_1 27·2 = 54 weights at 8×8, conv2_1 9·2·3 = 54 weights at 4×4, dense 2·2·3 → 3
  assert.deepEqual(dense.layers.map((l) => [l.name, l.weights, l.macs]), [['conv1_1', 54, 64 * 54], ['conv2_1', 54, 16 * 54], ['fc', 36, 36]]);
  assert.equal(dense.params, 54 + 6 + 54 + 9 + 36 + 3);
  const net = GraphNet.create(cfg, 1);
  const m1 = new Float32Array(54); m1.fill(1, 0, 10); // 10 of 54 kept
  const masks = new Map([['conv1_1/kernel', tf.tensor(m1, [3, 3, 3, 2])]]);
  const s = modelStats(net, { masks });
  assert.equal(s.nonZeroConvWeights, 10 + 54);
  assert.equal(s.nonZeroParams, dense.params - 44);
  assert.equal(s.sparseMacs, 64 * 10 + 16 * 54 + 36);
  assert.equal(s.sparsity, 44 / 108);
  assert.equal(referenceFlops(net, { masks, inputSize: [8, 8] }) - referenceFlops(cfg, { inputSize: [8, 8] }), -2 * 44 * 64);
  // without masks a net's exact zeros are counted
  net.weight('conv2_1/kernel').assign(tf.zeros([3, 3, 2, 3]));
  assert.equal(modelStats(net).nonZeroConvWeights, 54);
  assert.throws(() => modelStats(cfg, { masks: new Map([['conv1_1/kernel', tf.ones([3])]]) }), /mask 'conv1_1\/kernel' has 3 entries, the layer 54/);
  tf.dispose([...masks.values()]); net.dispose();
});

test('checkpointBytes sums model.json and weights.bin', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'apc-acc-'));
  try {
    await writeFile(join(dir, 'model.json'), 'x'.repeat(123));
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(4000));
    await writeFile(join(dir, 'apc.json'), '{}');
    assert.equal(await checkpointBytes(dir), 4123);
    await assert.rejects(checkpointBytes(join(dir, 'missing')), /checkpointBytes: cannot read .*model\.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
