/**
 * TF.js weight quantisation: a hand-computed uint8 code (nudged zero, ties to even), the uint8
 * error bound scale/2, apc's dequantisation = tfjs-core's own `io.decodeWeights` of the bytes
 * (bit for bit, uint8 and float16), and whole exports: `tf.loadLayersModel` reads exactly the
 * fake-quantised weights, and apc's `loadModel(EXPORTDIR)` gives the logits of the network holding
 * them (1e-5·max|z|) and stays within a stated bound of the float checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../../engine/random.js';
import { fileSystemIO } from '../checkpoint_io.js';
import { GraphNet } from '../graph/graph_net.js';
import { loadModel } from '../load_model.js';
import { archPreset } from '../model_config.js';
import { writeTfjsExport } from './tfjs_export.js';
import { dequantizeUint8, fakeQuantizeFloat16, fakeQuantizeUint8, quantizeUint8, quantizeWeightData } from './weight_quantization.js';

await tf.setBackend('cpu');
const tmp = mkdtempSync(join(tmpdir(), 'apc-quant-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('uint8 code by hand: range [-1, 3.25] nudged so 0 is code 60 exactly; 1.5 lies half way and rounds to even', () => {
  // scale = 4.25/255 = 1/60, zero point (0 − (−1))·60 = 60, so min stays −1; 1.5 → 150, 3.25 → 255
  const c = quantizeUint8([-1, 0, 1.5, 3.25, 1 / 120]);
  assert.equal(c.scale, 4.25 / 255);
  assert.equal(c.min, -60 * (4.25 / 255));
  assert.deepEqual([...c.q.subarray(0, 4)], [0, 60, 150, 255]);
  // 1/120 = code 60.5 (up to float64 rounding of the division): ties go to the even code 60
  const half = (1 / 120 - c.min) / c.scale;
  assert.ok(Math.abs(half - 60.5) < 1e-9);
  assert.equal(c.q[4], half === 60.5 ? 60 : Math.round(half));
  const back = dequantizeUint8(c);
  assert.equal(back[1], 0, 'zero is stored exactly');
  // a range without 0 is not nudged: min is the data's minimum
  const p = quantizeUint8([2, 4, 3]);
  assert.equal(p.min, 2);
  assert.deepEqual([...p.q], [0, 255, 128]); // (3−2)/(2/255) = 127.5 → 128 (even)
  // a constant tensor: all codes 0, scale 1, exact
  const k = quantizeUint8(Float32Array.of(0.3, 0.3));
  assert.deepEqual([k.scale, k.min, ...k.q], [1, Math.fround(0.3), 0, 0]);
});

test('uint8 error is at most scale/2 per weight (plus float32 rounding); zeros stay exactly zero', () => {
  const rng = new Rng(11);
  for (const [lo, hi] of [[-0.3, 0.7], [-2, -0.5], [0.1, 0.2], [-1e-3, 1e-3]]) {
    const v = Float32Array.from(rng.uniformArray(5000, lo, hi));
    for (let i = 0; i < v.length; i += 7) if (lo < 0 && hi > 0) v[i] = 0; // pruned weights
    const c = quantizeUint8(v);
    const back = dequantizeUint8(c);
    let worst = 0;
    for (let i = 0; i < v.length; i++) {
      const err = Math.abs(back[i] - v[i]);
      // float32 rounding of the dequantised value adds at most half an ulp of |value|
      assert.ok(err <= c.scale / 2 + Math.abs(v[i]) * 2 ** -24 + 1e-12, `value ${v[i]}: error ${err} > scale/2 = ${c.scale / 2}`);
      worst = Math.max(worst, err / c.scale);
      if (v[i] === 0) assert.equal(back[i], 0);
    }
    assert.ok(worst > 0.45, `the bound is tight (worst ${worst}·scale)`);
  }
});

test('dequantised weights equal tfjs-core\'s io.decodeWeights of the bytes, bit for bit (uint8 and float16)', () => {
  const rng = new Rng(5);
  const shapes = [[3, 3, 3, 8], [8], [40, 10], [1], [7]];
  const values = shapes.map((s, i) => {
    const v = Float32Array.from(rng.uniformArray(s.reduce((a, b) => a * b, 1), -0.5 - i, 0.25 + i));
    if (i === 3) v[0] = 0.125;
    return v;
  });
  values[4].fill(0.75); // constant tensor
  values[4][2] = 70000; // beyond float16's range: Infinity, as np.float16 gives
  const specs: tf.io.WeightsManifestEntry[] = shapes.map((shape, i) => ({ name: `w${i}`, shape, dtype: 'float32' }));
  const whole = new Float32Array(values.reduce((a, v) => a + v.length, 0));
  let at = 0;
  for (const v of values) { whole.set(v, at); at += v.length; }
  for (const dtype of ['uint8', 'float16'] as const) {
    const q = quantizeWeightData(specs, whole.buffer, dtype);
    assert.equal(q.weightData.byteLength, whole.length * (dtype === 'uint8' ? 1 : 2));
    const decoded = tf.io.decodeWeights(q.weightData, q.weightSpecs);
    values.forEach((v, i) => {
      const mine = dtype === 'uint8' ? fakeQuantizeUint8(v) : fakeQuantizeFloat16(v);
      const theirs = decoded[`w${i}`].dataSync() as Float32Array;
      assert.deepEqual(new Uint32Array(theirs.buffer, theirs.byteOffset, theirs.length), new Uint32Array(mine.buffer), `${dtype} w${i}`);
      const quant = q.weightSpecs[i].quantization!;
      assert.equal(quant.dtype, dtype);
      if (dtype === 'uint8') assert.ok(typeof quant.scale === 'number' && typeof quant.min === 'number');
      else assert.deepEqual(Object.keys(quant), ['dtype']);
    });
    tf.dispose(Object.values(decoded));
  }
});

test('export --quantize: tf.loadLayersModel reads exactly the fake-quantised weights; loadModel(EXPORTDIR) evaluates them', async () => {
  const config = archPreset({ arch: 'vgg16', width: 16, imageSize: 32, numClasses: 6 });
  const net = GraphNet.create(config, 3);
  const rng = new Rng(9);
  tf.tidy(() => {
    for (const d of net.graph.weights) {
      const w = net.weight(d.name);
      if (d.suffix === 'moving_variance') w.assign(tf.tensor(rng.uniformArray(w.size, 0.5, 2), w.shape));
      if (d.suffix === 'moving_mean' || d.suffix === 'beta') w.assign(tf.tensor(rng.uniformArray(w.size, -0.2, 0.2), w.shape));
    }
  });
  const x = tf.tensor4d(rng.uniformArray(4 * 32 * 32 * 3, -2, 2), [4, 32, 32, 3]);
  const z = net.predict(x);
  const zf = z.dataSync();
  const zmax = Math.max(...Array.from(zf, Math.abs));
  const before = tf.memory().numTensors;
  // measured on this net: float16 5.2e-4·max|z|, uint8 6.2e-3·max|z| (the bounds leave ~10× room)
  for (const [dtype, bound] of [['float16', 5e-3], ['uint8', 0.05]] as const) {
    const dir = join(tmp, dtype);
    const sizes = await writeTfjsExport(net, dir, { quantize: dtype });
    const params = net.graph.weights.reduce((a, d) => a + d.shape.reduce((p, q) => p * q, 1), 0);
    assert.equal(sizes.weights, params * (dtype === 'uint8' ? 1 : 2));
    assert.ok(sizes.weightsGzip > 0 && sizes.weightsGzip < sizes.weights * 1.01);
    const model = await tfl.loadLayersModel(fileSystemIO(dir));
    const quantised: tf.NamedTensorMap = {};
    for (const layer of model.layers) {
      for (const w of layer.weights) {
        const name = `${layer.name}/${w.originalName.split('/').pop()}`;
        const want = (dtype === 'uint8' ? fakeQuantizeUint8 : fakeQuantizeFloat16)(net.weight(name).dataSync());
        const got = w.read().dataSync() as Float32Array;
        assert.deepEqual(new Uint32Array(got.buffer, got.byteOffset, got.length), new Uint32Array(want.buffer), `${dtype} ${name}`);
        quantised[name] = tf.tensor(want, net.weight(name).shape);
      }
    }
    model.dispose();
    const reference = GraphNet.fromWeights(config, quantised);
    tf.dispose(Object.values(quantised));
    const loaded = await loadModel(dir);
    const zq = loaded.net.predict(x);
    const zr = reference.predict(x);
    const shipped = zq.dataSync();
    const ref = zr.dataSync();
    let vsRef = 0;
    let vsFloat = 0;
    for (let i = 0; i < zf.length; i++) {
      vsRef = Math.max(vsRef, Math.abs(shipped[i] - ref[i]));
      vsFloat = Math.max(vsFloat, Math.abs(shipped[i] - zf[i]));
    }
    assert.ok(vsRef <= 1e-5 * zmax, `${dtype}: loaded export vs the network holding the dequantised weights: ${vsRef}`);
    assert.ok(vsFloat <= bound * zmax, `${dtype}: loaded export vs float32: ${vsFloat / zmax}·max|z| > ${bound}`);
    assert.ok(vsFloat > 0, `${dtype}: quantisation changed nothing: the test would not see a decode bug`);
    tf.dispose([zq, zr]);
    loaded.net.dispose();
    reference.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  tf.dispose([x, z]);
  net.dispose();
});
