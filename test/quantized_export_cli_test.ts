/**
 * `apc export --quantize`: the uint8 TF.js export prints its raw and gzip sizes, and `apc predict
 * --model EXPORTDIR` computes the logits of the network holding the dequantised weights (the model
 * as it ships); uint8 is refused for ONNX with one line and no file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readNpy, writeNpy } from '../src/data/npy.js';
import { Rng } from '../src/engine/random.js';
import { saveNet } from '../src/models/checkpoint.js';
import { fakeQuantizeUint8 } from '../src/models/export/weight_quantization.js';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { vggPreset } from '../src/models/vgg_config.js';
import { apc } from './apc_cli.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'apc-quant-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('apc export --quantize uint8 → apc predict on the export folder gives the dequantised network\'s logits; ONNX refuses uint8', async () => {
  const config = vggPreset({ width: 16, imageSize: 64, numClasses: 10 });
  const net = GraphNet.create(config, 7);
  const ckpt = join(dir, 'ckpt');
  await saveNet(ckpt, net, { kind: 'teacher', dataset: 'shapes' });
  const x = new Rng(4).uniformArray(2 * 64 * 64 * 3, -2, 2);
  await writeNpy(join(dir, 'x.npy'), [2, 64, 64, 3], Float32Array.from(x));
  const held: tf.NamedTensorMap = {};
  for (const [name, v] of net.weights) held[name] = tf.tensor(fakeQuantizeUint8(v.dataSync() as Float32Array), v.shape);
  const quantised = GraphNet.fromWeights(config, held);
  tf.dispose(Object.values(held));
  const want = tf.tidy(() => Float32Array.from(quantised.predict(tf.tensor4d(x, [2, 64, 64, 3])).dataSync()));
  quantised.dispose(); net.dispose();

  const out = join(dir, 'uint8');
  const e = apc(['export', '--model', ckpt, '--format', 'tfjs', '--quantize', 'uint8', '--out', out]);
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, /uint8 weights/);
  assert.match(e.out, /weights\.bin [\d.]+ KiB · gzip [\d.]+ KiB/);
  const p = apc(['predict', '--model', out, '--input', join(dir, 'x.npy'), '--layout', 'nhwc', '--out', join(dir, 'z.npy')]);
  assert.equal(p.code, 0, p.err);
  const got = (await readNpy(join(dir, 'z.npy'))).data as Float32Array;
  const zmax = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * zmax, `logit ${i}: ${got[i]} vs ${want[i]}`);

  const bad = apc(['export', '--model', ckpt, '--format', 'onnx', '--quantize', 'uint8', '--out', join(dir, 'm.onnx')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--quantize uint8 applies to --format tfjs only/);
  assert.ok(!existsSync(join(dir, 'm.onnx')));
});
