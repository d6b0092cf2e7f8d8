/**
 * ONNX export: apc → ONNX → onnxruntime-web (wasm, one thread, in Node) gives apc's logits (within
 * 1e-4·max|z|) for the VGG, ResNet-18 and MobileNetV2 families with non-trivial BN statistics, for
 * an unstructured-pruned net (whose zeros stay exactly 0 in the file) and for a hand-built graph
 * with every op; the file is shaped as PyTorch writes it (names, NCHW input with a symbolic batch,
 * opset 13, Flatten + Gemm with (C, H, W) rows); and apc's ONNX import reads it back to the same
 * logits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-web';
import { Rng } from '../../engine/random.js';
import { GraphNet } from '../graph/graph_net.js';
import { type GraphSpec, parseGraphSpec } from '../graph/graph_spec.js';
import { archPreset, type ModelConfig } from '../model_config.js';
import { importedNet } from '../import/imported_model.js';
import { importOnnx } from '../import/onnx_import.js';
import { decodeOnnxModel, encodeOnnxModel, findAttribute, type OnnxModel, readOnnxModel } from '../import/onnx_model.js';
import { exportOnnx, hwioToOihw, writeOnnx } from './onnx_export.js';
import { fakeQuantizeFloat16 } from './weight_quantization.js';

await tf.setBackend('cpu');

// onnxruntime-web's wasm build runs in Node: point it at its own wasm files, one thread, no proxy worker
const require = createRequire(import.meta.url);
ort.env.wasm.wasmPaths = `${pathToFileURL(dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'))).href}/`;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const tmp = mkdtempSync(join(tmpdir(), 'apc-onnx-export-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function runOrt(bytes: Uint8Array, nhwc: tf.Tensor4D): Promise<Float32Array> {
  const x = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run({ input: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
    return Float32Array.from(out.logits.data as Float32Array);
  } finally {
    await session.release();
    x.dispose();
  }
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 1e-4): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(diff <= rel * scale, `${what}: max |Δ| ${diff} > ${rel}·${scale}`);
}

/** A network whose BNs are far from the identity (γ, β, moving mean and variance drawn at random). */
function netWithBnStatistics(config: ModelConfig, seed: number): GraphNet {
  const net = GraphNet.create(config, seed);
  const rng = new Rng(seed + 1);
  for (const [name, v] of net.weights) {
    const range = /\/(gamma|moving_variance)$/.test(name) ? [0.5, 1.5] : /\/(beta|moving_mean)$/.test(name) ? [-0.4, 0.4] : undefined;
    if (range) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, range[0], range[1]), v.shape)));
  }
  return net;
}

const input = (size: number, seed: number) => tf.randomNormal([3, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
const logits = (net: GraphNet, x: tf.Tensor4D) => tf.tidy(() => net.predict(x).dataSync() as Float32Array);

/** apc → ONNX → onnxruntime-web, and → apc's importer: both give apc's logits. */
async function roundTrip(net: GraphNet, x: tf.Tensor4D, what: string): Promise<OnnxModel> {
  const model = exportOnnx(net);
  const want = logits(net, x);
  assertClose(await runOrt(encodeOnnxModel(model), x), want, `${what}: onnxruntime-web`);
  const back = importedNet(importOnnx(model, { file: `${what}.onnx` }));
  try {
    assertClose(logits(back, x), want, `${what}: re-imported`, 1e-5);
  } finally {
    back.dispose();
  }
  return model;
}

const FAMILIES = [
  { what: 'vgg16s', config: archPreset({ arch: 'vgg16s', width: 16, imageSize: 32, numClasses: 5 }) },
  { what: 'resnet18', config: archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 5 }) },
  { what: 'mobilenetv2', config: archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 5 }) },
];

test('VGG, ResNet-18 and MobileNetV2 with non-trivial BN statistics: onnxruntime-web on the export gives apc\'s logits', async () => {
  for (const [i, { what, config }] of FAMILIES.entries()) {
    const net = netWithBnStatistics(config, 11 + i);
    const x = input(32, 3 + i);
    try {
      const m = await roundTrip(net, x, what);
      assert.equal(m.irVersion, 7);
      assert.deepEqual(m.opsetImports, [{ domain: '', version: 13 }]);
      assert.equal(m.producerName, 'apc');
      assert.deepEqual(m.graph.inputs, [{ name: 'input', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['batch', 3, 32, 32] } }]);
      assert.deepEqual(m.graph.outputs, [{ name: 'logits', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['batch', 5] } }]);
      const ops = new Set(m.graph.nodes.map((n) => n.opType));
      assert.ok(!ops.has('Dropout') && !ops.has('Identity') && !ops.has('Transpose'), `${what}: ${[...ops].join(', ')}`);
      for (const n of m.graph.nodes.filter((k) => k.opType === 'BatchNormalization')) {
        assert.deepEqual(n.attributes.map((a) => [a.name, a.type === 'float' ? Number(a.value.toFixed(6)) : a.value]), [['epsilon', 0.00001], ['momentum', 0.9]]);
        assert.deepEqual(n.inputs.slice(1), ['weight', 'bias', 'running_mean', 'running_var'].map((s) => `${n.name}.${s}`));
      }
    } finally {
      net.dispose();
      x.dispose();
    }
  }
});

test('the VGG export is what PyTorch writes: Flatten + Gemm whose rows are in (C, H, W) order', () => {
  const net = netWithBnStatistics(FAMILIES[0].config, 5);
  try {
    const m = exportOnnx(net);
    const flat = m.graph.nodes.find((n) => n.opType === 'Flatten')!;
    assert.equal(flat.inputs[0], 'pool4');
    const gemm = m.graph.nodes.find((n) => n.opType === 'Gemm')!;
    assert.deepEqual(gemm.inputs, [flat.outputs[0], 'fc.weight', 'fc.bias']);
    assert.equal(findAttribute(gemm, 'transB')?.value, 1);
    const w = m.graph.initializers.find((t) => t.name === 'fc.weight')!;
    const [c, h, wd] = [...net.activationShape('pool4')].reverse() as [number, number, number];
    assert.deepEqual(net.activationShape('pool4'), [h, wd, c]);
    assert.deepEqual(w.dims, [5, c * h * wd]);
    const k = net.weight('fc/kernel').dataSync();
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < wd; x++) {
        for (let ch = 0; ch < c; ch++) {
          for (let o = 0; o < 5; o++) assert.equal(w.data[o * c * h * wd + ch * h * wd + y * wd + x], k[((y * wd + x) * c + ch) * 5 + o]);
        }
      }
    }
    const conv = m.graph.initializers.find((t) => t.name === 'conv1_1.weight')!;
    const kernel = net.weight('conv1_1/kernel');
    assert.deepEqual(conv.dims, [kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]], 'OIHW');
  } finally {
    net.dispose();
  }
});

test('an unstructured-pruned net keeps its zeros exactly in the file and runs the same', async () => {
  const net = netWithBnStatistics(FAMILIES[0].config, 21);
  const x = input(32, 9);
  try {
    // zero every weight of conv and dense kernels whose magnitude is below its tensor's median
    for (const [name, v] of net.weights) {
      if (!/\/kernel$/.test(name)) continue;
      const d = Float32Array.from(v.dataSync() as Float32Array);
      const median = Float32Array.from(d, Math.abs).sort()[d.length >> 1];
      tf.tidy(() => v.assign(tf.tensor(d.map((a) => (Math.abs(a) < median ? 0 : a)), v.shape)));
    }
    const m = await roundTrip(net, x, 'pruned');
    for (const [name, v] of net.weights) {
      if (!/^conv.*\/kernel$/.test(name)) continue;
      const t = m.graph.initializers.find((i) => i.name === `${name.split('/')[0]}.weight`)!;
      assert.equal(t.dataType, 'FLOAT');
      const k = v.dataSync() as Float32Array;
      const zeros = k.filter((a) => a === 0).length;
      assert.ok(zeros >= k.length / 2 - 1, `${name}: pruned`);
      // the file holds exactly apc's values, OIHW: zeros where apc has zeros and nowhere else
      assert.deepEqual(t.data, hwioToOihw(k, v.shape));
      assert.equal((t.data as Float32Array).filter((a) => a === 0).length, zeros);
    }
  } finally {
    net.dispose();
    x.dispose();
  }
});

/** A graph with every op kind apc has, in the corners the families do not reach. */
function allOpsGraph(): GraphSpec {
  return parseGraphSpec({
    kind: 'graph', name: 'all-ops',
    input: { shape: [8, 8, 3], normalization: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], channelOrder: 'rgb' } },
    nodes: [
      { op: 'pad', name: 'pad', inputs: ['input'], pads: [1, 0, 1, 1], value: 0.5 },
      { op: 'conv2d', name: 'stem', inputs: ['pad'], filters: 6, kernelSize: [3, 3], strides: [1, 1], pads: [0, 1, 0, 0] },
      { op: 'batchNorm', name: 'stem_bn', inputs: ['stem'], epsilon: 1e-3, momentum: 0.01 },
      { op: 'clip', name: 'clip', inputs: ['stem_bn'], min: -1, max: 2 },
      { op: 'conv2d', name: 'dw', inputs: ['clip'], filters: 12, kernelSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], groups: 6, useBias: false },
      { op: 'maxPool', name: 'maxpool', inputs: ['clip'], poolSize: [3, 3], strides: [2, 2], pads: [0, 1, 0, 1] },
      { op: 'conv2d', name: 'widen', inputs: ['maxpool'], filters: 12, kernelSize: [1, 1], dilations: [1, 1], useBias: false },
      { op: 'conv2d', name: 'dilated', inputs: ['maxpool'], filters: 12, kernelSize: [3, 3], dilations: [2, 2], pads: [2, 2, 2, 2] },
      { op: 'add', name: 'sum3', inputs: ['dw', 'widen', 'dilated'] },
      { op: 'relu', name: 'relu', inputs: ['sum3'] },
      { op: 'avgPool', name: 'avg_in', inputs: ['relu'], poolSize: [2, 2], strides: [1, 1], pads: [1, 0, 1, 0], countIncludePad: true },
      { op: 'avgPool', name: 'avg_ex', inputs: ['relu'], poolSize: [2, 2], strides: [1, 1], pads: [0, 1, 0, 1], countIncludePad: false },
      { op: 'concat', name: 'cat', inputs: ['avg_in', 'avg_ex'] },
      { op: 'maxPool', name: 'down', inputs: ['cat'], poolSize: [2, 2], strides: [2, 2] },
      { op: 'identity', name: 'id', inputs: ['down'] },
      // a flattened 2×2 map into a BN: the export must transpose to NHWC before flattening
      { op: 'flatten', name: 'flatten', inputs: ['id'] },
      { op: 'batchNorm', name: 'flat_bn', inputs: ['flatten'] },
      { op: 'dropout', name: 'drop', inputs: ['flat_bn'], rate: 0.3 },
      { op: 'dense', name: 'hidden', inputs: ['drop'], units: 7, useBias: false },
      { op: 'globalAvgPool', name: 'gap', inputs: ['cat'] },
      { op: 'concat', name: 'both', inputs: ['hidden', 'gap'] },
      { op: 'dense', name: 'head', inputs: ['both'], units: 4 },
    ],
    output: 'head',
  });
}

test('a graph with every op kind (pads, depthwise ×2, dilation, Sum, both average pools, flatten into BN) runs the same under onnxruntime-web', async () => {
  const spec = allOpsGraph();
  const net = netWithBnStatistics(spec, 31);
  const x = input(8, 4);
  try {
    const m = await roundTrip(net, x, 'all-ops');
    const ops = m.graph.nodes.map((n) => n.opType);
    for (const op of ['Pad', 'Conv', 'BatchNormalization', 'Clip', 'MaxPool', 'Sum', 'Relu', 'AveragePool', 'Concat', 'Transpose', 'Flatten', 'GlobalAveragePool', 'Gemm']) {
      assert.ok(ops.includes(op), `${op} in ${ops.join(', ')}`);
    }
    const dw = m.graph.nodes.find((n) => n.name === 'dw')!;
    assert.equal(findAttribute(dw, 'group')?.value, 6);
    assert.deepEqual(m.graph.initializers.find((t) => t.name === 'dw.weight')!.dims, [12, 1, 3, 3]);
    assert.deepEqual(findAttribute(m.graph.nodes.find((n) => n.name === 'avg_ex')!, 'count_include_pad')?.value, 0);
    assert.deepEqual(findAttribute(m.graph.nodes.find((n) => n.name === 'maxpool')!, 'pads')?.value, [0, 0, 1, 1]);
    assert.deepEqual(m.metadataProps, [{ key: 'apc.input_normalization', value: JSON.stringify(spec.input.normalization) }]);
    // the importer reads the normalization back from the metadata
    const back = importOnnx(m, { file: 'all-ops.onnx' });
    assert.deepEqual((back.config as GraphSpec).input.normalization, spec.input.normalization);
  } finally {
    net.dispose();
    x.dispose();
  }
});

test('writeOnnx writes a file that reads back and runs', async () => {
  const net = netWithBnStatistics(FAMILIES[2].config, 41);
  const x = input(32, 6);
  try {
    const path = join(tmp, 'mobilenetv2.onnx');
    await writeOnnx(path, net);
    const read = await readOnnxModel(path);
    assert.deepEqual(read.graph.nodes.map((n) => n.name), exportOnnx(net).graph.nodes.map((n) => n.name));
    const clip = read.graph.nodes.find((n) => n.opType === 'Clip')!;
    assert.deepEqual(clip.inputs.slice(1).map((i) => [...read.graph.initializers.find((t) => t.name === i)!.data]), [[0], [6]]);
    assertClose(await runOrt(readFileSync(path), x), logits(net, x), 'file');
    await assert.rejects(writeOnnx(join(path, 'x.onnx'), net), /x\.onnx: cannot write/);
  } finally {
    net.dispose();
    x.dispose();
  }
});

test('float16 weights: FLOAT16 initializers Cast to float32 run as the network holding the float16-rounded weights', async () => {
  const { config } = FAMILIES[0];
  const net = netWithBnStatistics(config, 21);
  const held: tf.NamedTensorMap = {};
  for (const [name, v] of net.weights) held[name] = tf.tensor(fakeQuantizeFloat16(v.dataSync() as Float32Array), v.shape);
  const rounded = GraphNet.fromWeights(config, held);
  tf.dispose(Object.values(held));
  const x = input(32, 9);
  try {
    const model = exportOnnx(net, 'float16');
    const learned = model.graph.initializers.filter((t) => t.name.endsWith('_fp16'));
    assert.equal(learned.length, net.weights.size, 'every learned weight is stored as float16');
    assert.ok(learned.every((t) => t.dataType === 'FLOAT16'));
    assert.equal(model.graph.nodes.filter((n) => n.opType === 'Cast').length, net.weights.size);
    const bytes = encodeOnnxModel(model);
    const f32 = encodeOnnxModel(exportOnnx(net)).byteLength;
    // 2 bytes saved per weight, minus the Cast nodes (measured 73,480 vs 131,296 bytes)
    assert.ok(bytes.byteLength < 0.6 * f32, `float16 ${bytes.byteLength} bytes vs float32 ${f32}`);
    const want = logits(rounded, x);
    assertClose(await runOrt(bytes, x), want, 'float16: onnxruntime-web');
    const back = importedNet(importOnnx(decodeOnnxModel(bytes, 'f16.onnx'), { file: 'f16.onnx' }));
    try {
      assertClose(logits(back, x), want, 'float16: re-imported', 1e-5);
    } finally {
      back.dispose();
    }
    // the rounding is visible: the float32 network differs by more than the comparison tolerance allows
    const float = logits(net, x);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - float[i]));
    assert.ok(diff > 0, 'float16 rounding changed the logits');
  } finally {
    net.dispose(); rounded.dispose(); x.dispose();
  }
});
