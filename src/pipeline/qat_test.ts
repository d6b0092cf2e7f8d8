/**
 * Quantisation-aware training: the fake-quant op's forward is the uint8 export's value and its
 * gradient is straight-through; a network read through the fake-quant view computes exactly the
 * logits of the network holding the dequantised weights; and a QAT run with WCAM matching leaves
 * a checkpoint whose uint8 export reproduces the fake-quantised weights bit for bit, so the
 * shipped model's logits are the ones it was trained and selected as.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createShapesDataset } from '../data/shapes.js';
import { Rng } from '../engine/random.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { loadNet, readCheckpointMeta } from '../models/checkpoint.js';
import { fileSystemIO } from '../models/checkpoint_io.js';
import { fakeQuantizeUint8Tensor, UINT8_FAKE_QUANT } from '../models/export/fake_quant.js';
import { writeTfjsExport } from '../models/export/tfjs_export.js';
import { fakeQuantizeUint8 } from '../models/export/weight_quantization.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { loadModel } from '../models/load_model.js';
import { vggPreset } from '../models/vgg_config.js';
import { quantizationAwareFineTune } from './qat.js';
import type { TrainRecipe } from './train_to_checkpoints.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const cfg = vggPreset({ width: 32, imageSize: 32, numClasses: 10 });

function bits(a: tf.Tensor | Float32Array): Uint32Array {
  const f = a instanceof Float32Array ? a : Float32Array.from(a.dataSync() as Float32Array);
  return new Uint32Array(f.buffer, f.byteOffset, f.length);
}

test('fake quantisation: forward = the uint8 export\'s values, gradient straight through', () => {
  const w = tf.variable(tf.tensor(new Rng(1).uniformArray(60, -0.4, 0.9), [6, 10]));
  const c = tf.tensor(new Rng(2).uniformArray(60, -1, 1), [6, 10]);
  const before = tf.memory().numTensors;
  const y = fakeQuantizeUint8Tensor(w);
  assert.deepEqual(bits(y), bits(fakeQuantizeUint8(w.dataSync() as Float32Array)));
  assert.notDeepEqual(bits(y), bits(w), 'quantisation changes the values');
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(fakeQuantizeUint8Tensor(w), c)) as tf.Scalar, [w]);
  assert.deepEqual(bits(grads[w.name]), bits(c), 'd/dw Σ c·fq(w) = c');
  tf.dispose([y, value, grads[w.name]]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([w, c]);
});

test('the fake-quant view computes the logits of the network holding the dequantised weights (inference and training mode, same dropout)', () => {
  const net = GraphNet.create(cfg, 4);
  const view = net.withWeightView(UINT8_FAKE_QUANT);
  const held: tf.NamedTensorMap = {};
  for (const [name, v] of net.weights) held[name] = tf.tensor(fakeQuantizeUint8(v.dataSync() as Float32Array), v.shape);
  const quantised = GraphNet.fromWeights(cfg, held);
  tf.dispose(Object.values(held));
  const x = tf.tensor4d(new Rng(3).uniformArray(2 * 32 * 32 * 3, -2, 2), [2, 32, 32, 3]);
  for (const training of [false, true]) {
    const [a, b, plain] = tf.tidy(() => [view, quantised, net].map((n) => Float32Array.from(n.forward(x, { training, rng: new Rng(7) }).logits.dataSync())));
    assert.deepEqual(bits(a), bits(b), `training=${training}`);
    assert.notDeepEqual(bits(a), bits(plain), 'the view is not the float network');
  }
  x.dispose(); quantised.dispose(); net.dispose();
});

test('QAT with WCAM: the checkpoint\'s uint8 export reproduces the fake-quantised weights exactly and ships the trained logits', async () => {
  const out = await mkdtemp(join(tmpdir(), 'apc-qat-'));
  try {
    const data = createShapesDataset({ imageSize: 32, sizes: { train: 16, val: 8, test: 8 }, statsSamples: 8 });
    const recipe: TrainRecipe = { epochs: 1, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [], augment: null };
    const teacher = GraphNet.create(cfg, 1);
    const teacherKernel = teacher.weight('conv2_1/kernel').dataSync().slice();
    const r = await quantizationAwareFineTune({
      data, teacher, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }), recipe, seed: 3, outDir: out, quiet: true,
    });
    assert.ok(Number.isFinite(r.val.mAP));
    assert.deepEqual(teacher.weight('conv2_1/kernel').dataSync(), teacherKernel, 'teacher untouched');
    const meta = await readCheckpointMeta(r.bestDir);
    assert.equal(meta.compression, 'qat');
    assert.equal(meta.quantization, 'uint8');
    const trained = await loadNet(r.bestDir); // the float weights
    assert.notDeepEqual(trained.net.weight('conv2_1/kernel').dataSync(), teacherKernel, 'fine-tuning moved the float weights');
    const exportDir = join(out, 'uint8');
    await writeTfjsExport(trained.net, exportDir, { quantize: 'uint8' });
    const model = await tfl.loadLayersModel(fileSystemIO(exportDir));
    let n = 0;
    for (const layer of model.layers) {
      for (const w of layer.weights) {
        const name = `${layer.name}/${w.originalName.split('/').pop()}`;
        const fq = tf.tidy(() => Float32Array.from(UINT8_FAKE_QUANT(name, trained.net.weight(name)).dataSync() as Float32Array));
        assert.deepEqual(bits(w.read()), bits(fq), name);
        n++;
      }
    }
    assert.equal(n, trained.net.weights.size);
    model.dispose();
    // apc reads the QAT checkpoint as its uint8 model: the same logits as the shipped export
    const asTrained = await loadModel(r.bestDir);
    const shipped = await loadModel(exportDir);
    const x = tf.tensor4d(new Rng(8).uniformArray(2 * 32 * 32 * 3, -2, 2), [2, 32, 32, 3]);
    const [za, zb, zf] = tf.tidy(() => [asTrained.net, shipped.net, trained.net].map((m) => Float32Array.from(m.predict(x).dataSync())));
    const zmax = Math.max(...Array.from(zf, Math.abs));
    for (let i = 0; i < za.length; i++) assert.ok(Math.abs(za[i] - zb[i]) <= 1e-5 * zmax, `logit ${i}: ${za[i]} vs ${zb[i]}`);
    assert.notDeepEqual(bits(za), bits(zf), 'the float weights alone are not the shipped model');
    x.dispose(); asTrained.net.dispose(); shipped.net.dispose(); trained.net.dispose(); r.net.dispose(); teacher.dispose();
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
