/**
 * The Keras / TF.js layers importer against tfjs-layers itself: the fixtures in test/fixtures/keras
 * (made by scripts/fixtures/make_keras_fixtures.ts) import to networks whose logits equal what
 * tfjs-layers computed; the Keras 3 form of a config imports to the same graph; apc's own export
 * re-imports; models built here exercise the layers the fixtures do not; bad files fail with one
 * line naming the file and the layer or field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../data/npy.js';
import { Rng } from '../../engine/random.js';
import { fileSystemIO } from '../checkpoint_io.js';
import { GraphNet } from '../graph/graph_net.js';
import type { GraphSpec } from '../graph/graph_spec.js';
import { toLayersModel } from '../layers_export.js';
import { archPreset } from '../model_config.js';
import { ModelFileError } from './errors.js';
import { float32ToHalfBitsArray } from './half.js';
import { type ImportedModel, importedNet } from './imported_model.js';
import { importKeras, importKerasFile } from './keras_import.js';
import { readKerasFiles } from './keras_import_files.js';

await tf.setBackend('cpu');

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'keras');

type Json = Record<string, unknown>;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'apc-keras-'));
}

async function npy(path: string): Promise<tf.Tensor> {
  const a = await readNpy(path);
  return tf.tensor(a.data as Float32Array, a.shape);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** The imported model's logits for `x`. */
function logitsOf(m: ImportedModel, x: tf.Tensor): tf.Tensor {
  const net = importedNet(m);
  try {
    return net.predict(x as tf.Tensor4D);
  } finally {
    net.dispose();
  }
}

function spec(m: ImportedModel): GraphSpec {
  assert.equal(m.config.kind, 'graph');
  return m.config as GraphSpec;
}

function node(m: ImportedModel, name: string): Json {
  const n = spec(m).nodes.find((x) => x.name === name);
  assert.ok(n, `node ${name}`);
  return n as unknown as Json;
}

/** A model saved by TF.js into a temp folder; returns its model.json path. */
async function saveModel(model: tfl.LayersModel): Promise<string> {
  const dir = tmp();
  await model.save(fileSystemIO(dir));
  return join(dir, 'model.json');
}

function oneLine(err: unknown, ...parts: (string | RegExp)[]): boolean {
  assert.ok(err instanceof ModelFileError, `a ModelFileError, got ${String(err)}`);
  assert.ok(!/[\r\n]/.test(err.message), `one line: ${err.message}`);
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(err.message.includes(p), `'${p}' in: ${err.message}`);
    else assert.match(err.message, p);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The fixtures

test('functional fixture: logits equal tfjs-layers\' pre-softmax output, the softmax is stripped and recorded', async (t) => {
  const m = await importKerasFile(join(FIXTURES, 'functional', 'model.json'));
  const x = await npy(join(FIXTURES, 'functional', 'input.npy'));
  const logits = logitsOf(m, x);
  const dLogits = maxDiff(logits, await npy(join(FIXTURES, 'functional', 'logits.npy')));
  const dProbs = maxDiff(tf.softmax(logits), await npy(join(FIXTURES, 'functional', 'output.npy')));
  t.diagnostic(`functional: max |logits − tfjs logits| = ${dLogits.toExponential(2)}, max |softmax − tfjs output| = ${dProbs.toExponential(2)}`);
  assert.ok(dLogits <= 1e-5, `logits differ by ${dLogits}`);
  assert.ok(dProbs <= 1e-5, `probabilities differ by ${dProbs}`);

  const g = spec(m);
  assert.deepEqual(g.source?.strippedActivation, { layer: 'softmax', activation: 'softmax' });
  assert.equal(g.source?.format, 'keras');
  assert.equal(g.source?.dialect, 'keras2');
  assert.ok(m.notes.some((n) => n.includes('stripped the softmax')), m.notes.join(' | '));
  assert.ok(m.notes.some((n) => n.includes('input normalization not given')), m.notes.join(' | '));
  assert.deepEqual(g.input, { shape: [12, 12, 3], normalization: { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' } });
  assert.equal(g.output, 'logits');
  assert.deepEqual(g.nodes.map((n) => `${n.name}:${n.op}`), [
    'stem:conv2d', 'stem_bn:batchNorm', 'stem_relu:clip', 'dw:conv2d', 'dw_bn:batchNorm', 'dw_relu:clip', 'project:conv2d',
    'residual:add', 'pad:pad', 'down:conv2d', 'down_relu:relu', 'gap:globalAvgPool', 'drop:dropout', 'logits:dense',
  ]);
  // BN: Keras ε and momentum 0.99 → PyTorch-sense 0.01
  assert.deepEqual({ ...node(m, 'stem_bn') }, { name: 'stem_bn', op: 'batchNorm', inputs: ['stem'], epsilon: 1e-3, momentum: 0.01 });
  assert.deepEqual(node(m, 'stem_relu'), { name: 'stem_relu', op: 'clip', inputs: ['stem_bn'], min: 0, max: 6 });
  assert.equal(node(m, 'dw').groups, 8);
  assert.deepEqual(node(m, 'residual').inputs, ['stem_relu', 'project']);
  assert.deepEqual(node(m, 'pad').pads, [0, 1, 0, 1]);
  assert.deepEqual(node(m, 'down').pads, [0, 0, 0, 0]);
  assert.equal(m.weights.get('dw/depthwise_kernel')!.shape.join(), '3,3,8,1');
  const gamma = m.weights.get('stem_bn/gamma')!.data;
  assert.ok(gamma.some((v) => Math.abs(v - 1) > 0.1), 'γ is not trivial');
});

test("Conv2D 'same' with stride 2 on an even input gets TF's asymmetric pads (the extra pixel bottom/right)", async () => {
  const m = await importKerasFile(join(FIXTURES, 'functional', 'model.json'));
  // 12 → 6 with a 3×3 kernel: total padding 1, all of it after
  assert.deepEqual(node(m, 'stem').pads, [0, 1, 0, 1]);
  assert.deepEqual(node(m, 'stem').strides, [2, 2]);
  // the stride-1 depthwise 'same' pads symmetrically
  assert.deepEqual(node(m, 'dw').pads, [1, 1, 1, 1]);
});

test('sequential fixture: the output equals tfjs-layers\' (input shape from the first layer, Flatten of a 4×4×6 map)', async (t) => {
  const m = await importKerasFile(join(FIXTURES, 'sequential'));
  const x = await npy(join(FIXTURES, 'sequential', 'input.npy'));
  const d = maxDiff(logitsOf(m, x), await npy(join(FIXTURES, 'sequential', 'output.npy')));
  t.diagnostic(`sequential: max |logits − tfjs output| = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-5, `differ by ${d}`);
  const g = spec(m);
  assert.deepEqual(g.nodes.map((n) => `${n.name}:${n.op}`), ['conv:conv2d', 'conv_relu:relu', 'pool:maxPool', 'flatten:flatten', 'fc:dense']);
  assert.equal(g.source?.modelClass, 'Sequential');
  assert.equal(g.source?.strippedActivation, undefined);
  assert.equal(m.weights.get('fc/kernel')!.shape.join(), '96,4');
});

test('Keras 3 form of the functional config imports to the same graph and weights as the Keras 2 form', async () => {
  const k2 = await importKerasFile(join(FIXTURES, 'functional', 'model.json'));
  const k3 = await importKerasFile(join(FIXTURES, 'keras3', 'model.json'));
  const { source: s2, ...g2 } = spec(k2);
  const { source: s3, ...g3 } = spec(k3);
  assert.deepEqual(g3, g2);
  assert.equal(s3?.dialect, 'keras3');
  assert.equal(s3?.kerasVersion, '3.6.0');
  assert.deepEqual(s3?.strippedActivation, s2?.strippedActivation);
  assert.deepEqual([...k3.weights.keys()].sort(), [...k2.weights.keys()].sort());
  for (const [k, w] of k2.weights) assert.deepEqual(k3.weights.get(k), w, k);
  assert.deepEqual(k3.notes, k2.notes);
});

test('the Keras H5 conversion form { model_config, training_config, keras_version } of a Keras 2 config imports the same', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'functional', 'model.json'));
  const top = files.modelJson.modelTopology as Json;
  const wrapped = { modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: { class_name: 'Functional', config: (top as Json).config }, training_config: { loss: 'mse' } } };
  const a = importKeras(files.modelJson, files.weights, { file: 'a/model.json' });
  const b = importKeras(wrapped, files.weights, { file: 'a/model.json' });
  assert.deepEqual(spec(b).nodes, spec(a).nodes);
  assert.equal(spec(b).source?.kerasVersion, '2.15.0');
  assert.equal(spec(b).source?.modelClass, 'Functional');
});

test('Sequential configs in Keras 3 form (an InputLayer with batch_shape, module fields) and as a bare list (Keras < 2.2.3) import the same', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'sequential', 'model.json'));
  const base = importKeras(files.modelJson, files.weights, { file: 'm.json' });
  const layers = ((files.modelJson.modelTopology as Json).config as { layers: Json[] }).layers;
  const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const k3Layers = layers.map((l) => {
    const { batch_input_shape: _b, dtype: _d, ...config } = l.config as Json;
    return { module: 'keras.layers', class_name: l.class_name, config: { ...config, dtype: policy }, registered_name: null };
  });
  const keras3 = {
    modelTopology: {
      keras_version: '3.6.0', backend: 'tensorflow',
      model_config: {
        module: 'keras', class_name: 'Sequential', registered_name: null,
        config: {
          name: 'sequential', trainable: true, dtype: policy,
          layers: [{ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 10, 10, 3], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null }, ...k3Layers],
        },
      },
    },
  };
  const a = importKeras(keras3, files.weights, { file: 'm.json' });
  assert.deepEqual(spec(a).nodes, spec(base).nodes);
  assert.deepEqual(spec(a).input, spec(base).input);
  assert.equal(spec(a).source?.dialect, 'keras3');
  const bare = { modelTopology: { class_name: 'Sequential', config: layers, keras_version: '2.1.6' } };
  assert.deepEqual(spec(importKeras(bare, files.weights, { file: 'm.json' })).nodes, spec(base).nodes);
});

test('weights are found under a converter\'s prefix or with TF\'s ":0"; a Softmax layer at the end is stripped; a free input size takes inputSize', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'functional', 'model.json'));
  const base = importKeras(files.modelJson, files.weights, { file: 'm.json' });
  const renamed = new Map([...files.weights].map(([k, w], i) => [i % 2 ? `functional/${k}` : `${k}:0`, w]));
  const m = importKeras(files.modelJson, renamed, { file: 'm.json' });
  assert.deepEqual(m.weights, base.weights);

  const json = structuredClone(files.modelJson);
  const layers = ((json.modelTopology as Json).config as { layers: Json[] }).layers;
  const sm = layers.find((l) => l.name === 'softmax')!;
  sm.class_name = 'Softmax';
  sm.config = { name: 'softmax', axis: -1 };
  (layers[0].config as Json).batch_input_shape = [null, null, null, 3];
  assert.throws(() => importKeras(json, files.weights, { file: 'm.json' }), (err) => oneLine(err, "input 'image' has a free size", 'inputSize'));
  const free = importKeras(json, files.weights, { file: 'm.json', inputSize: [12, 12] });
  assert.deepEqual(spec(free).nodes, spec(base).nodes);
  assert.deepEqual(spec(free).source?.strippedActivation, { layer: 'softmax', activation: 'softmax' });
  const x = await npy(join(FIXTURES, 'functional', 'input.npy'));
  assert.ok(maxDiff(logitsOf(free, x), await npy(join(FIXTURES, 'functional', 'logits.npy'))) <= 1e-5);
  // a given normalization is kept, and the default-normalization note is not written
  const n = importKeras(files.modelJson, files.weights, { file: 'm.json', normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], channelOrder: 'rgb' } });
  assert.deepEqual(spec(n).input.normalization, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], channelOrder: 'rgb' });
  assert.ok(!n.notes.some((x) => x.includes('normalization not given')));
});

// ---------------------------------------------------------------------------------------------
// Refusals

function functionalWithLambda(): Json {
  const raw = JSON.parse(readFileSync(join(FIXTURES, 'functional', 'model.json'), 'utf8')) as Json;
  const cfg = (raw.modelTopology as Json).config as { layers: Json[] };
  const i = cfg.layers.findIndex((l) => l.name === 'drop');
  cfg.layers.splice(i, 0, {
    name: 'scale', class_name: 'Lambda', config: { name: 'scale', function: ['4wEAAAAAAAAA', null, null], function_type: 'lambda' },
    inbound_nodes: [[['gap', 0, 0, {}]]],
  });
  cfg.layers[i + 1].inbound_nodes = [[['scale', 0, 0, {}]]];
  return raw;
}

test('an unsupported layer (a Lambda) fails with one line naming the layer, its class and the supported list; nothing is returned', async () => {
  const json = functionalWithLambda();
  const files = await readKerasFiles(join(FIXTURES, 'functional', 'model.json'));
  let result: ImportedModel | undefined;
  assert.throws(() => { result = importKeras(json, files.weights, { file: 'user/model.json' }); },
    (err) => oneLine(err, /^user\/model\.json: /, "layer 'scale' (Lambda) is not supported", 'supported layers: InputLayer, Conv2D, DepthwiseConv2D, BatchNormalization'));
  assert.equal(result, undefined);
  // from disk too
  const dir = tmp();
  try {
    cpSync(join(FIXTURES, 'functional'), dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, join(dir, 'model.json'), "'scale' (Lambda)"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated weights file and a manifest path leaving the folder are one-line errors naming the file', async () => {
  const dir = tmp();
  try {
    cpSync(join(FIXTURES, 'sequential'), dir, { recursive: true });
    const bin = join(dir, 'weights.bin');
    truncateSync(bin, 1000);
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, `${bin}: is truncated: 1000 bytes, expected 2224`, 'weightsManifest'));

    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    for (const bad of ['../weights.bin', '/etc/passwd', 'sub/../../weights.bin', 'C:\\weights.bin', 'https://example.com/w.bin']) {
      json.weightsManifest[0].paths = [bad];
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, `${join(dir, 'model.json')}: weightsManifest[0].paths[0] is ${JSON.stringify(bad)}`, 'inside the model\'s folder'));
    }
    json.weightsManifest[0].paths = ['missing.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, `${join(dir, 'missing.bin')}: does not exist`));
    await assert.rejects(importKerasFile(join(dir, 'nope.json')), (err) => oneLine(err, `${join(dir, 'nope.json')}: does not exist`));
    writeFileSync(join(dir, 'model.json'), '{"modelTopology": ');
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, 'is not valid JSON'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, 'graph model'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('other refusals name the layer and what is wrong', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'functional', 'model.json'));
  const edit = (f: (layers: Json[]) => void): Json => {
    const json = structuredClone(files.modelJson);
    f(((json.modelTopology as Json).config as { layers: Json[] }).layers);
    return json;
  };
  const layer = (layers: Json[], name: string) => layers.find((l) => l.name === name)!.config as Json;
  const cases: [Json, string[]][] = [
    [edit((ls) => { layer(ls, 'down').activation = 'tanh'; }), ["layer 'down' (Conv2D): activation \"tanh\" is not supported", 'relu6']],
    [edit((ls) => { layer(ls, 'down').activation = 'softmax'; }), ["layer 'down' (Conv2D): activation 'softmax' is supported only on the model's last layer"]],
    [edit((ls) => { layer(ls, 'stem_relu').negative_slope = 0.1; }), ["layer 'stem_relu' (ReLU): negative_slope 0.1"]],
    [edit((ls) => { layer(ls, 'down').data_format = 'channels_first'; }), ["layer 'down' (Conv2D): data_format \"channels_first\""]],
    [edit((ls) => { layer(ls, 'stem_bn').axis = 1; }), ["layer 'stem_bn' (BatchNormalization): axis 1"]],
    [edit((ls) => { layer(ls, 'down').padding = 'causal'; }), ["layer 'down' (Conv2D): padding \"causal\""]],
    [edit((ls) => { ls.find((l) => l.name === 'gap')!.class_name = 'GlobalMaxPooling2D'; }), ["layer 'gap' (GlobalMaxPooling2D) is not supported"]],
    [edit((ls) => { ls.find((l) => l.name === 'logits')!.inbound_nodes = [[['down', 0, 0, {}]]]; }), ["layer 'logits' (Dense): Dense on a [3,3,16] tensor"]],
    [edit((ls) => { ls.find((l) => l.name === 'residual')!.inbound_nodes = [[['stem_relu', 0, 0, {}], ['image', 0, 0, {}]]]; }), ["layer 'residual' (Add): add needs equal input shapes"]],
    [edit((ls) => { ls.find((l) => l.name === 'residual')!.inbound_nodes = [[['stem_relu', 0, 0, {}], ['down', 0, 0, {}]]]; }), ["the layers 'residual', 'pad', 'down'", 'form a cycle']],
    [edit((ls) => { ls.find((l) => l.name === 'drop')!.inbound_nodes = [[['gap', 0, 0, {}]], [['gap', 0, 0, {}]]]; }), ["layer 'drop' (Dropout) is called 2 times"]],
  ];
  for (const [json, parts] of cases) {
    assert.throws(() => importKeras(json, files.weights, { file: 'm.json' }), (err) => oneLine(err, 'm.json: ', ...parts));
  }
  // a weight of the wrong shape, and a missing one
  const w = new Map(files.weights);
  w.set('logits/bias', { shape: [4], data: new Float32Array(4) });
  assert.throws(() => importKeras(files.modelJson, w, { file: 'm.json' }), (err) => oneLine(err, "layer 'logits' (Dense): weight 'logits/bias' has shape [4], expected [5]"));
  w.delete('logits/bias');
  assert.throws(() => importKeras(files.modelJson, w, { file: 'm.json' }), (err) => oneLine(err, "layer 'logits' (Dense): the weights have no 'logits/bias'"));
  // a normalization with the wrong channel count
  assert.throws(() => importKeras(files.modelJson, files.weights, { file: 'm.json', normalization: { mean: [0.5], std: [0.5], channelOrder: 'rgb' } }),
    (err) => oneLine(err, '1 means and 1 stds', '3 channels'));
});

// ---------------------------------------------------------------------------------------------
// Weights

/** `values` quantised as TF.js's converter does (uint8/uint16: affine over [min, max]). */
function quantise(values: Float32Array, dtype: 'uint8' | 'uint16' | 'float16'): { bytes: Uint8Array; quantization: Json } {
  if (dtype === 'float16') return { bytes: new Uint8Array(float32ToHalfBitsArray(values).buffer), quantization: { dtype } };
  const levels = dtype === 'uint8' ? 255 : 65535;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) { min = Math.min(min, v); max = Math.max(max, v); }
  const scale = max > min ? (max - min) / levels : 1;
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.round((values[i] - min) / scale);
  return { bytes: new Uint8Array(q.buffer), quantization: { dtype, scale, min } };
}

test('TF.js-quantised weights (uint8, uint16, float16) are dequantised exactly as tfjs-core does, over several files', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'sequential', 'model.json'));
  const manifest = (files.modelJson.weightsManifest as { weights: Json[] }[])[0].weights;
  const dtypes = ['uint8', 'uint16', 'float16', 'uint8'] as const;
  const entries: Json[] = [];
  const chunks: Uint8Array[] = [];
  manifest.forEach((e, i) => {
    const { bytes, quantization } = quantise(files.weights.get(e.name as string)!.data, dtypes[i % dtypes.length]);
    entries.push({ ...e, quantization });
    chunks.push(bytes);
  });
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const dir = tmp();
  try {
    // two shards of one group, split mid-weight as the converter's 4 MB shards can be
    const cut = Math.floor(all.length / 2) + 1;
    writeFileSync(join(dir, 'group1-shard1of2.bin'), all.subarray(0, cut));
    writeFileSync(join(dir, 'group1-shard2of2.bin'), all.subarray(cut));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...files.modelJson, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: entries }] }));
    const got = await readKerasFiles(join(dir, 'model.json'));
    const expected = tf.io.decodeWeights(all.slice().buffer, entries as unknown as tf.io.WeightsManifestEntry[]);
    for (const e of entries) {
      const name = e.name as string;
      assert.deepEqual(got.weights.get(name)!.data, expected[name].dataSync(), name);
      assert.deepEqual(got.weights.get(name)!.shape, expected[name].shape);
    }
    // the quantised model still computes nearly the same outputs
    const m = await importKerasFile(join(dir, 'model.json'));
    const x = await npy(join(FIXTURES, 'sequential', 'input.npy'));
    const d = maxDiff(logitsOf(m, x), await npy(join(FIXTURES, 'sequential', 'output.npy')));
    assert.ok(d < 0.05, `quantised output differs by ${d}`);
    // one byte missing from the second shard: both files named
    writeFileSync(join(dir, 'group1-shard2of2.bin'), all.subarray(cut, all.length - 1));
    await assert.rejects(importKerasFile(join(dir, 'model.json')), (err) => oneLine(err, 'group1-shard1of2.bin', 'group1-shard2of2.bin', 'are together truncated'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Layers the fixtures do not cover, against tfjs-layers

test('Concatenate, average/max pooling \'same\', dilation, depth_multiplier, Dense relu, BN without centre/scale, Activation layers and a Dense softmax match tfjs-layers', async () => {
  const apply = (layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;
  const inp = tfl.input({ shape: [11, 9, 2], name: 'image' }); // odd sizes: 'same' pads differ from symmetric ones
  const a = apply(tfl.layers.conv2d({ name: 'a', filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu6' }), inp);
  const b = apply(tfl.layers.depthwiseConv2d({ name: 'b', kernelSize: [3, 2], padding: 'same', depthMultiplier: 2, strides: 2 }), inp);
  const bUp = apply(tfl.layers.activation({ name: 'b/act', activation: 'relu' }), b);
  const ap = apply(tfl.layers.averagePooling2d({ name: 'avg', poolSize: 3, strides: 2, padding: 'same' }), a);
  const cat = apply(tfl.layers.concatenate({ name: 'cat', axis: -1 }), [ap, bUp]);
  const bn = apply(tfl.layers.batchNormalization({ name: 'bn', center: false, scale: false, epsilon: 1e-2 }), cat);
  const lin = apply(tfl.layers.activation({ name: 'lin', activation: 'linear' }), bn);
  const mp = apply(tfl.layers.maxPooling2d({ name: 'mp', poolSize: 2, strides: 2, padding: 'same' }), lin);
  const fl = apply(tfl.layers.flatten({ name: 'fl' }), mp);
  const h = apply(tfl.layers.dense({ name: 'hidden', units: 7, activation: 'relu' }), fl);
  const out = apply(tfl.layers.dense({ name: 'out', units: 3, activation: 'softmax' }), h);
  const model = tfl.model({ inputs: inp, outputs: out });
  const rng = new Rng(5);
  model.setWeights(model.getWeights().map((w) => tf.tensor(rng.uniformArray(w.size, w.shape.length === 1 ? 0.2 : -0.6, 0.8), w.shape)));
  const path = await saveModel(model);
  try {
    const m = await importKerasFile(path);
    const x = tf.tensor(rng.uniformArray(3 * 11 * 9 * 2, 0, 1), [3, 11, 9, 2]);
    const d = maxDiff(tf.softmax(logitsOf(m, x)), model.predict(x) as tf.Tensor);
    assert.ok(d <= 1e-5, `differ by ${d}`);
    assert.deepEqual(spec(m).source?.strippedActivation, { layer: 'out', activation: 'softmax' });
    assert.deepEqual(node(m, 'a').pads, [2, 2, 2, 2]);
    assert.deepEqual(node(m, 'a').dilations, [2, 2]);
    assert.equal(node(m, 'a_relu6').op, 'clip');
    assert.deepEqual(node(m, 'b').pads, [1, 1, 0, 1]);
    assert.equal(node(m, 'b').filters, 4);
    assert.equal(node(m, 'b_act').op, 'relu'); // 'b/act' rewritten
    assert.equal(node(m, 'avg').countIncludePad, false);
    assert.deepEqual(node(m, 'avg').pads, [1, 1, 1, 1]);
    assert.equal(node(m, 'lin').op, 'identity');
    assert.deepEqual([...m.weights.get('bn/gamma')!.data], [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.ok(m.notes.some((n) => n.includes('scale=false')));
    assert.ok(m.notes.some((n) => n.includes('layer name(s) rewritten')));
  } finally {
    rmSync(dirname(path), { recursive: true, force: true });
    model.dispose();
  }
});

test('layer names are rewritten to [A-Za-z0-9_.-] and kept unique, generated node names never take a layer\'s', async () => {
  const files = await readKerasFiles(join(FIXTURES, 'functional', 'model.json'));
  const json = structuredClone(files.modelJson);
  const layers = ((json.modelTopology as Json).config as { layers: Json[] }).layers;
  // rename 'gap' to 'down_relu' (the name the importer would give down's fused relu) and 'drop' to 'input'
  const rename = (from: string, to: string) => {
    for (const l of layers) {
      if (l.name === from) { l.name = to; (l.config as Json).name = to; }
      for (const n of (l.inbound_nodes as unknown[][][])) for (const r of n) if (r[0] === from) r[0] = to;
    }
  };
  rename('gap', 'down_relu');
  rename('drop', 'input');
  const m = importKeras(json, files.weights, { file: 'm.json' });
  const names = spec(m).nodes.map((n) => n.name);
  assert.ok(names.includes('down_relu') && names.includes('down_relu_1'), names.join());
  assert.equal(node(m, 'down_relu').op, 'globalAvgPool');
  assert.equal(node(m, 'down_relu_1').op, 'relu');
  assert.equal(node(m, 'input_1').op, 'dropout');
  assert.equal(new Set(names).size, names.length);
});

// ---------------------------------------------------------------------------------------------
// apc's own export

for (const preset of [{ arch: 'resnet18', width: 16 }, { arch: 'mobilenetv2', width: 8 }]) {
  test(`apc's toLayersModel export of ${preset.arch}/${preset.width} re-imports with the same logits`, async (t) => {
    const config = archPreset({ ...preset, imageSize: 32, numClasses: 5 });
    const net = GraphNet.create(config, 3);
    // non-trivial BN statistics, so every BN is exercised
    const rng = new Rng(17);
    for (const [name, v] of net.weights) {
      const n = v.size;
      if (name.endsWith('/moving_mean')) v.assign(tf.tensor(rng.uniformArray(n, -0.2, 0.2), v.shape));
      if (name.endsWith('/moving_variance')) v.assign(tf.tensor(rng.uniformArray(n, 0.5, 1.5), v.shape));
      if (name.endsWith('/gamma')) v.assign(tf.tensor(rng.uniformArray(n, 0.5, 1.5), v.shape));
      if (name.endsWith('/beta')) v.assign(tf.tensor(rng.uniformArray(n, -0.2, 0.2), v.shape));
    }
    const model = toLayersModel(net);
    const path = await saveModel(model);
    try {
      const m = await importKerasFile(path);
      const x = tf.tensor(rng.uniformArray(2 * 32 * 32 * 3, 0, 1), [2, 32, 32, 3]) as tf.Tensor4D;
      const expected = net.predict(x);
      const d = maxDiff(logitsOf(m, x), expected);
      const scale = tf.max(tf.abs(expected)).dataSync()[0];
      t.diagnostic(`${preset.arch}/${preset.width}: max |re-imported − original logits| = ${d.toExponential(2)} (logits up to ${scale.toFixed(3)})`);
      assert.ok(d <= 1e-5 * Math.max(1, scale), `differ by ${d}`);
      // every weight of the original arrives, by name
      const original = new Set(net.weights.keys());
      for (const k of original) assert.ok(m.weights.has(k), `weight ${k}`);
      assert.equal(spec(m).nodes.filter((n) => n.op === 'batchNorm').length, net.graph.nodes.filter((n) => n.op === 'batchNorm').length);
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
      model.dispose();
      net.dispose();
    }
  });
}
