/**
 * ONNX import of PyTorch exports: every torch fixture converts and gives PyTorch's logits (apc on
 * the NHWC input vs PyTorch's stored output, within 1e-4·max|z|); the BN-folded and BN-kept VGG
 * agree; the inserted BNs are exactly the identity; the old Shape→…→Reshape flatten gives the same
 * graph as Flatten; a dense after a 2×2 map gets PyTorch's (C, H, W) rows permuted; an unsupported
 * op fails with one line naming node, op and the supported list. onnxruntime-web (wasm, one
 * thread) runs the fixtures as a sanity check of the files and of the import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-web';
import { readNpy } from '../../data/npy.js';
import type { GraphSpec } from '../graph/graph_spec.js';
import { ModelFileError } from './errors.js';
import { importedNet, type ImportedModel } from './imported_model.js';
import { importOnnx, importOnnxFile } from './onnx_import.js';
import {
  encodeOnnxModel, float32Tensor, int64Tensor, type OnnxDim, type OnnxModel, type OnnxNode, type OnnxTensor, readOnnxModel,
} from './onnx_model.js';

await tf.setBackend('cpu');

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
const present = existsSync(join(DIR, 'manifest.json'));
const skip = present ? false : `no PyTorch fixtures at ${DIR}`;
const FIXTURES = ['vgg_bn', 'vgg_bn_keep_bn', 'resnet', 'resnet_oldflatten', 'mobilenetv2'] as const;

// onnxruntime-web's wasm build runs in Node: point it at its own wasm files, one thread, no proxy worker
const require = createRequire(import.meta.url);
ort.env.wasm.wasmPaths = `${pathToFileURL(dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'))).href}/`;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

async function runOrt(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, dims) });
    return Float32Array.from(out[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/** max |a − b| and max |b|. */
function gap(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 1e-4): void {
  const { diff, scale } = gap(a, b);
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(diff <= rel * scale, `${what}: max |Δ| ${diff} > ${rel}·${scale}`);
}

/** apc's logits for an NCHW batch. */
function apcLogits(m: ImportedModel, nchw: Float32Array, dims: number[]): Float32Array {
  const net = importedNet(m);
  try {
    return tf.tidy(() => {
      const x = tf.transpose(tf.tensor4d(nchw, dims as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D;
      return net.predict(x).dataSync() as Float32Array;
    });
  } finally {
    net.dispose();
  }
}

interface Fixture { model: ImportedModel; input: Float32Array; inputDims: number[]; output: Float32Array; bytes: Uint8Array }
const fixtures = new Map<string, Fixture>();
async function fixture(name: string): Promise<Fixture> {
  let f = fixtures.get(name);
  if (!f) {
    const path = join(DIR, `${name}.onnx`);
    const input = await readNpy(join(DIR, `${name}.input.npy`));
    const output = await readNpy(join(DIR, `${name}.output.npy`));
    f = { model: await importOnnxFile(path), input: input.data as Float32Array, inputDims: input.shape, output: output.data as Float32Array, bytes: readFileSync(path) };
    fixtures.set(name, f);
  }
  return f;
}

const graphOf = (m: ImportedModel): GraphSpec => {
  assert.equal(m.config.kind, 'graph');
  return m.config as GraphSpec;
};

test('every torch fixture imports and gives PyTorch\'s logits (within 1e-4·max|z|)', { skip }, async () => {
  for (const name of FIXTURES) {
    const f = await fixture(name);
    const z = apcLogits(f.model, f.input, f.inputDims);
    assertClose(z, f.output, name);
    const g = graphOf(f.model);
    assert.deepEqual(g.input.shape, [f.inputDims[2], f.inputDims[3], 3], `${name}: NHWC input`);
    assert.deepEqual(g.input.normalization, { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' });
    assert.ok(f.model.notes.some((n) => n.includes('mean 0 and std 1')), `${name}: the default normalization is noted`);
    assert.deepEqual({ ...g.source, producer: undefined }, { format: 'onnx', file: join(DIR, `${name}.onnx`), producer: undefined, opset: 13 });
    assert.match(String(g.source?.producer), /^pytorch 1\.13/);
    for (const n of g.nodes) assert.match(n.name, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
  }
});

test('onnxruntime-web runs the fixtures: its logits equal PyTorch\'s and apc\'s import', { skip }, async () => {
  for (const name of FIXTURES) {
    const f = await fixture(name);
    const z = await runOrt(f.bytes, f.input, f.inputDims);
    assertClose(z, f.output, `${name}: onnxruntime-web vs PyTorch`);
    assertClose(apcLogits(f.model, f.input, f.inputDims), z, `${name}: apc vs onnxruntime-web`);
  }
});

test('VGG with BN folded and with BN kept give the same logits; PyTorch names survive', { skip }, async () => {
  const folded = await fixture('vgg_bn');
  const kept = await fixture('vgg_bn_keep_bn');
  assertClose(apcLogits(folded.model, folded.input, folded.inputDims), apcLogits(kept.model, kept.input, kept.inputDims), 'folded vs kept', 1e-5);
  const g = graphOf(kept.model);
  const names = g.nodes.map((n) => `${n.name}:${n.op}`);
  assert.deepEqual(names.slice(0, 4), ['features.0:conv2d', 'features.1:batchNorm', 'features.2:relu', 'features.3:conv2d']);
  assert.deepEqual(names.slice(-5), ['features.17:maxPool', 'flatten:flatten', 'classifier.0:dense', 'classifier.1:relu', 'classifier.3:dense']);
  // ONNX momentum 0.9 (Keras sense) is PyTorch's 0.1; ε comes back as 1e-5, not its float32 rounding
  const bn = g.nodes.find((n) => n.name === 'features.1');
  assert.deepEqual(bn, { op: 'batchNorm', name: 'features.1', inputs: ['features.0'], epsilon: 1e-5, momentum: 0.1 });
  assert.ok(!kept.model.notes.some((n) => n.includes('identity BatchNorm')), 'no BN inserted where the export kept them');
  const w = kept.model.weights.get('features.0/kernel')!;
  assert.deepEqual(w.shape, [3, 3, 3, 8], 'OIHW → HWIO');
  const fc = kept.model.weights.get('classifier.0/kernel')!;
  assert.deepEqual(fc.shape, [512, 64], 'dense [in, out]');
  assert.ok(kept.model.notes.some((n) => n.includes("dense 'classifier.0'") && n.includes('32×4×4')), 'the row permutation is noted');
});

test('the BNs inserted after folded convs are exactly the identity (γ 1, β 0, mean 0, var 1 − ε) and noted once', { skip }, async () => {
  for (const name of ['vgg_bn', 'resnet', 'mobilenetv2']) {
    const m = (await fixture(name)).model;
    const g = graphOf(m);
    const convs = g.nodes.filter((n) => n.op === 'conv2d');
    assert.ok(convs.length > 0);
    for (const conv of convs) {
      const bn = g.nodes.find((n) => n.inputs[0] === conv.name);
      assert.ok(bn && bn.op === 'batchNorm', `${name}: ${conv.name} is followed by a BN`);
      assert.equal(g.nodes.filter((n) => n.inputs.includes(conv.name)).length, 1, `${name}: the BN is the conv's only consumer`);
      assert.equal(bn.name, `${conv.name}.bn`);
      assert.deepEqual([bn.epsilon, bn.momentum], [1e-5, 0.1]);
      const c = conv.filters;
      const get = (s: string) => m.weights.get(`${bn.name}/${s}`)!;
      assert.deepEqual(get('gamma').data, new Float32Array(c).fill(1));
      assert.deepEqual(get('beta').data, new Float32Array(c));
      assert.deepEqual(get('moving_mean').data, new Float32Array(c));
      assert.deepEqual(get('moving_variance').data, new Float32Array(c).fill(Math.fround(1 - 1e-5)));
      // in float32, var + ε is exactly 1: the BN multiplies by exactly 1
      assert.equal(Math.fround(get('moving_variance').data[0] + Math.fround(1e-5)), 1);
    }
    assert.equal(m.notes.filter((n) => n.includes('identity BatchNorm')).length, 1, `${name}: one note`);
    assert.ok(m.notes.some((n) => n.includes(`folded into ${convs.length} conv(s)`)));
  }
});

test('the old-flatten ResNet (Shape → Gather → Unsqueeze → Concat → Reshape) equals the plain one', { skip }, async () => {
  const plain = await fixture('resnet');
  const old = await fixture('resnet_oldflatten');
  assert.deepEqual(graphOf(old.model).nodes, graphOf(plain.model).nodes);
  assert.deepEqual([...old.model.weights.keys()], [...plain.model.weights.keys()]);
  assert.deepEqual(apcLogits(old.model, plain.input, plain.inputDims), apcLogits(plain.model, plain.input, plain.inputDims));
  assert.ok(old.model.notes.some((n) => n.includes('folded the constant shape chain')));
  const names = graphOf(plain.model).nodes.map((n) => n.name);
  for (const n of ['conv1', 'conv1.bn', 'relu', 'maxpool', 'layer1.0.conv1', 'layer1.0.relu', 'layer1.0.add', 'layer1.0.relu_1', 'layer2.0.downsample.0', 'avgpool', 'fc']) {
    assert.ok(names.includes(n), `ResNet node ${n} among ${names.join(', ')}`);
  }
  assert.deepEqual(graphOf(plain.model).nodes.find((n) => n.name === 'maxpool'), { op: 'maxPool', name: 'maxpool', inputs: ['relu'], poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
});

test('MobileNetV2: depthwise kernels [kh, kw, C, 1], ReLU6 from Clip with Constant min/max', { skip }, async () => {
  const m = (await fixture('mobilenetv2')).model;
  const g = graphOf(m);
  const dw = g.nodes.filter((n) => n.op === 'conv2d').filter((n) => n.groups > 1);
  assert.equal(dw.length, 6);
  for (const n of dw) assert.deepEqual(m.weights.get(`${n.name}/depthwise_kernel`)!.shape, [3, 3, n.groups, 1]);
  const clips = g.nodes.filter((n) => n.op === 'clip');
  assert.equal(clips.length, 13);
  assert.ok(clips.every((n) => n.op === 'clip' && n.min === 0 && n.max === 6));
  assert.ok(g.nodes.some((n) => n.name === 'features.3.add' && n.op === 'add'));
  // Flatten after GlobalAveragePool is a no-op: the dense reads the pool
  assert.deepEqual(g.nodes.slice(-2).map((n) => [n.op, n.inputs]), [['globalAvgPool', ['features.7.2']], ['dense', ['globalAvgPool']]]);
});

// ---------------------------------------------------------------------------------------------
// Hand-built models

function tiny(nodes: OnnxNode[], initializers: OnnxTensor[], opts: { input?: OnnxDim[]; output?: string; outDims?: OnnxDim[]; opset?: number } = {}): OnnxModel {
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: opts.opset ?? 13 }],
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'tiny', nodes, initializers,
      inputs: [{ name: 'x', type: { kind: 'tensor', elemType: 'FLOAT', shape: opts.input ?? ['N', 3, 2, 2] } }],
      outputs: [{ name: opts.output ?? 'y', type: { kind: 'tensor', elemType: 'FLOAT', shape: opts.outDims ?? ['N', 4] } }],
      valueInfo: [],
    },
  };
}

const node = (name: string, opType: string, inputs: string[], outputs: string[], attributes: OnnxNode['attributes'] = []): OnnxNode => ({ name, opType, inputs, outputs, attributes });
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

/** Flatten(x [N, 3, 2, 2]) → Gemm(W [4, 12], b): PyTorch's (c, h, w) flatten order. */
function flattenGemm(): { model: OnnxModel; w: Float32Array; b: Float32Array } {
  const w = seq(48, (i) => Math.sin(i * 1.7) + (i % 5) / 10);
  const b = Float32Array.of(0.1, -0.2, 0.3, 0);
  const model = tiny([
    node('/Flatten', 'Flatten', ['x'], ['f'], [{ name: 'axis', type: 'int', value: 1 }]),
    node('/fc/Gemm', 'Gemm', ['f', 'fc.weight', 'fc.bias'], ['y'], [{ name: 'transB', type: 'int', value: 1 }]),
  ], [float32Tensor('fc.weight', [4, 12], w), float32Tensor('fc.bias', [4], b)]);
  return { model, w, b };
}

test('a dense after a 2×2 map gets its rows permuted from (C, H, W) to apc\'s (H, W, C)', () => {
  const { model, w, b } = flattenGemm();
  const m = importOnnx(model, { file: 'flat.onnx' });
  const k = m.weights.get('fc/kernel')!;
  assert.deepEqual(k.shape, [12, 4]);
  const [C, H, W] = [3, 2, 2];
  for (let h = 0; h < H; h++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        for (let o = 0; o < 4; o++) assert.equal(k.data[((h * W + x) * C + c) * 4 + o], w[o * 12 + c * H * W + h * W + x]);
      }
    }
  }
  // and numerically: the ONNX meaning computed by hand on NCHW values
  const input = seq(2 * 12, (i) => Math.cos(i * 0.9));
  const expected = new Float32Array(8);
  for (let n = 0; n < 2; n++) for (let o = 0; o < 4; o++) {
    let s = b[o];
    for (let t = 0; t < 12; t++) s += input[n * 12 + t] * w[o * 12 + t];
    expected[n * 4 + o] = s;
  }
  assertClose(apcLogits(m, input, [2, 3, 2, 2]), expected, 'hand-built flatten → gemm', 1e-6);
  assert.deepEqual(graphOf(m).nodes.map((n) => n.op), ['flatten', 'dense']);
  assert.ok(m.notes.some((n) => n.includes('3×2×2')));
});

test('Transpose(0, 2, 3, 1) before the flatten (apc\'s own export form) keeps the rows as they are', () => {
  const w = seq(48, (i) => i / 48);
  const m = importOnnx(tiny([
    node('t', 'Transpose', ['x'], ['xt'], [{ name: 'perm', type: 'ints', value: [0, 2, 3, 1] }]),
    node('f', 'Flatten', ['xt'], ['f']),
    node('fc', 'Gemm', ['f', 'W'], ['y'], [{ name: 'transB', type: 'int', value: 1 }]),
  ], [float32Tensor('W', [4, 12], w)]), { file: 't.onnx' });
  const k = m.weights.get('fc/kernel')!;
  for (let r = 0; r < 12; r++) for (let o = 0; o < 4; o++) assert.equal(k.data[r * 4 + o], w[o * 12 + r]);
});

test('MatMul + Add becomes one dense with a bias; a trailing Softmax is stripped and recorded', () => {
  const w = seq(12 * 4, (i) => (i % 7) - 3);
  const m = importOnnx(tiny([
    node('gap', 'GlobalAveragePool', ['x'], ['g']),
    node('flat', 'Flatten', ['g'], ['f']),
    node('mm', 'MatMul', ['f', 'W'], ['p']),
    node('bias', 'Add', ['p', 'B'], ['q']),
    node('sm', 'Softmax', ['q'], ['y'], [{ name: 'axis', type: 'int', value: 1 }]),
  ], [float32Tensor('W', [3, 4], w.subarray(0, 12)), float32Tensor('B', [4], [1, 2, 3, 4])]), { file: 'mm.onnx' });
  const g = graphOf(m);
  assert.deepEqual(g.nodes, [
    { op: 'globalAvgPool', name: 'gap', inputs: ['input'] },
    { op: 'dense', name: 'mm', inputs: ['gap'], units: 4, useBias: true },
  ]);
  assert.deepEqual(m.weights.get('mm/bias')!.data, Float32Array.of(1, 2, 3, 4));
  assert.equal(g.source?.strippedActivation, 'Softmax');
  assert.ok(m.notes.some((n) => n.includes('stripped the final Softmax')));
});

test('an unsupported op (Resize) fails with one line naming the node, its op type and the supported list', () => {
  const model = tiny([
    node('up', 'Resize', ['x', '', 'scales'], ['r'], [{ name: 'mode', type: 'string', value: 'nearest' }]),
    node('gap', 'GlobalAveragePool', ['r'], ['g']),
    node('flat', 'Flatten', ['g'], ['f']),
    node('fc', 'Gemm', ['f', 'W'], ['y'], [{ name: 'transB', type: 'int', value: 1 }]),
  ], [float32Tensor('scales', [4], [1, 1, 2, 2]), float32Tensor('W', [4, 3], seq(12, (i) => i))]);
  // through the encoder and decoder, as a file would come
  const bytes = encodeOnnxModel(model);
  assert.throws(() => importOnnx(model, { file: 'tiny.onnx' }), (err: unknown) => {
    assert.ok(err instanceof ModelFileError);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, /^tiny\.onnx: node 'up' \(Resize\): unsupported op; supported: Conv, BatchNormalization, .*Gemm, MatMul.*Softmax/);
    return true;
  });
  assert.ok(bytes.length > 0);
});

test('other conversions that apc cannot represent fail on one line naming node and field', () => {
  const fails = (m: OnnxModel, re: RegExp) => assert.throws(() => importOnnx(m, { file: 'm.onnx' }), (err: unknown) => {
    assert.ok(err instanceof ModelFileError, String(err));
    assert.ok(!err.message.includes('\n'));
    assert.match(err.message, re);
    return true;
  });
  const head = [node('flat', 'Flatten', ['p'], ['f']), node('fc', 'Gemm', ['f', 'W'], ['y'], [{ name: 'transB', type: 'int', value: 1 }])];
  // an average pool's ceil_mode that changes the output size: 5×5 with 2×2/2 gives 3×3, floor 2×2
  fails(tiny([node('pool', 'AveragePool', ['x'], ['p'], [
    { name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'strides', type: 'ints', value: [2, 2] }, { name: 'ceil_mode', type: 'int', value: 1 },
  ]), ...head], [float32Tensor('W', [4, 27], seq(108, (i) => i))], { input: ['N', 3, 5, 5] }), /node 'pool' \(AveragePool\): ceil_mode 1 gives a 3×3 output where apc's floor gives 2×2/);
  fails(tiny([node('pool', 'MaxPool', ['x'], ['p'], [
    { name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'dilations', type: 'ints', value: [2, 2] },
  ]), ...head], [float32Tensor('W', [4, 12], seq(48, (i) => i))], { input: ['N', 3, 4, 4] }), /node 'pool' \(MaxPool\): dilations \[2,2\] are not supported/);
  // a reshape that is not a flatten
  fails(tiny([node('r', 'Reshape', ['x', 's'], ['y'])], [int64Tensor('s', [3], [0, 4, -1])]), /node 'r' \(Reshape\): reshapes \[N, 3, 2, 2\] to \[0,4,-1\]; only the flatten meaning/);
  // a grouped conv that is not depthwise (6 channels in 3 groups)
  fails(tiny([
    node('c1', 'Conv', ['x', 'k1'], ['c']),
    node('c2', 'Conv', ['c', 'k2'], ['p'], [{ name: 'group', type: 'int', value: 3 }]), ...head,
  ], [float32Tensor('k1', [6, 3, 1, 1], seq(18, (i) => i)), float32Tensor('k2', [6, 2, 1, 1], seq(12, (i) => i)), float32Tensor('W', [4, 24], seq(96, (i) => i))]),
  /node 'c2' \(Conv\): group 3 with weight \[6, 2, 1, 1\] on 6 channels: only dense \(group 1\) and depthwise \(group = channels\) convolutions are supported/);
  // an input that is not RGB
  fails(tiny([node('c', 'Conv', ['x', 'k'], ['y'])], [float32Tensor('k', [6, 6, 1, 1], seq(36, (i) => i))], { input: ['N', 6, 2, 2] }), /graph input 'x' has shape \[N, 6, 2, 2\], expected \[N, 3, H, W\]/);
  // input shape without fixed H, W
  fails(tiny(head, [], { input: ['N', 3, 'h', 'w'] }), /graph input 'x' has shape \[N, 3, h, w\], expected \[N, 3, H, W\] with fixed H and W/);
  // a Pad over channels
  fails(tiny([node('pad', 'Pad', ['x', 'pads'], ['y'])], [int64Tensor('pads', [8], [0, 1, 0, 0, 0, 0, 0, 0])]), /node 'pad' \(Pad\): pads .* pad the batch or channel axis/);
  // output not logits
  fails(tiny([node('relu', 'Relu', ['x'], ['y'])], []), /the graph output 'y' has dims \[N, 3, 2, 2\], expected logits \[N, K\]/);
  // a weight whose shape does not fit
  fails(tiny([node('fl', 'Flatten', ['x'], ['f']), node('fc', 'Gemm', ['f', 'W'], ['y'], [{ name: 'transB', type: 'int', value: 1 }])], [float32Tensor('W', [4, 10], seq(40, (i) => i))]), /node 'fc' \(Gemm\): weight 'W' \[4, 10\] takes 10 inputs, the input has 12/);
});

test('the given normalization is recorded; Pad, AveragePool (count_include_pad), Concat, Dropout and Clip convert', async () => {
  // x → Pad(1) → Conv 3×3 (pads 0) + Conv 1×1 → Concat → AveragePool 2×2/2 pads 1 (counting pads: no) → Clip(-1, 2)
  //   → Dropout → GlobalAveragePool → Flatten → Gemm
  const k1 = seq(2 * 3 * 3 * 3, (i) => Math.sin(i) / 3);
  const k2 = seq(2 * 3, (i) => Math.cos(i));
  const model = tiny([
    node('/pad/Pad', 'Pad', ['x', 'pads', 'zero'], ['p']),
    node('/a/Conv', 'Conv', ['p', 'a.weight', 'a.bias'], ['a'], [{ name: 'kernel_shape', type: 'ints', value: [3, 3] }]),
    node('/b/Conv', 'Conv', ['x', 'b.weight'], ['b'], [{ name: 'kernel_shape', type: 'ints', value: [1, 1] }]),
    node('/Concat', 'Concat', ['a', 'b'], ['c'], [{ name: 'axis', type: 'int', value: 1 }]),
    node('/pool/AveragePool', 'AveragePool', ['c'], ['ap'], [
      { name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'strides', type: 'ints', value: [2, 2] }, { name: 'pads', type: 'ints', value: [1, 1, 1, 1] },
    ]),
    node('/clip/Constant', 'Constant', [], ['lo'], [{ name: 'value', type: 'tensor', value: float32Tensor('', [], [-1]) }]),
    node('/clip/Clip', 'Clip', ['ap', 'lo', 'hi'], ['cl']),
    node('/drop/Dropout', 'Dropout', ['cl', 'ratio'], ['d']),
    node('/gap/GlobalAveragePool', 'GlobalAveragePool', ['d'], ['g']),
    node('/Flatten', 'Flatten', ['g'], ['f']),
    node('/fc/Gemm', 'Gemm', ['f', 'fc.weight'], ['y'], [{ name: 'transB', type: 'int', value: 1 }]),
  ], [
    int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]), float32Tensor('zero', [], [0]),
    float32Tensor('a.weight', [2, 3, 3, 3], k1), float32Tensor('a.bias', [2], [0.5, -0.5]), float32Tensor('b.weight', [2, 3, 1, 1], k2),
    float32Tensor('hi', [], [2]), float32Tensor('ratio', [], [0.25]), float32Tensor('fc.weight', [4, 4], seq(16, (i) => i / 8 - 1)),
  ], { input: ['N', 3, 4, 4] });
  const normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb' as const };
  const m = importOnnx(model, { file: 'mix.onnx', normalization });
  const g = graphOf(m);
  assert.deepEqual(g.input.normalization, normalization);
  assert.ok(m.notes.some((n) => n.includes('(as given)')));
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  assert.deepEqual(byName.get('pad'), { op: 'pad', name: 'pad', inputs: ['input'], pads: [1, 1, 1, 1], value: 0 });
  assert.deepEqual(byName.get('pool'), { op: 'avgPool', name: 'pool', inputs: ['concat'], poolSize: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false });
  assert.deepEqual(byName.get('clip'), { op: 'clip', name: 'clip', inputs: ['pool'], min: -1, max: 2 });
  assert.deepEqual(byName.get('drop'), { op: 'dropout', name: 'drop', inputs: ['clip'], rate: 0.25 });
  // onnxruntime-web computes the same
  const input = seq(2 * 3 * 16, (i) => Math.sin(i * 0.37) * 2);
  const want = await runOrt(encodeOnnxModel(model), input, [2, 3, 4, 4]);
  assertClose(apcLogits(m, input, [2, 3, 4, 4]), want, 'mixed ops vs onnxruntime-web', 1e-5);
});

test('importOnnxFile reads the file and names it in errors', { skip }, async () => {
  const m = await importOnnxFile(join(DIR, 'resnet.onnx'), { file: 'resnet.onnx' });
  assert.equal(graphOf(m).source?.file, 'resnet.onnx');
  const decoded = await readOnnxModel(join(DIR, 'resnet.onnx'));
  decoded.graph.nodes[3] = { ...decoded.graph.nodes[3], opType: 'Resize' };
  assert.throws(() => importOnnx(decoded, { file: 'bad.onnx' }), (err: unknown) => {
    assert.ok(err instanceof ModelFileError);
    assert.match(err.message, /^bad\.onnx: node '\/layer1\/layer1\.0\/conv1\/Conv' \(Resize\): unsupported op; supported: /);
    return true;
  });
  await assert.rejects(importOnnxFile(join(DIR, 'missing.onnx')), /missing\.onnx: does not exist/);
});

test('MaxPool with ceil_mode (GoogLeNet) becomes extra −∞ end padding: the overhanging windows take the max of their real cells', () => {
  // x [1, 3, 5, 5] all negative (a zero pad would win), 2×2/2 with ceil_mode → 3×3 (floor: 2×2)
  const model = tiny([
    node('pool', 'MaxPool', ['x'], ['p'], [{ name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'strides', type: 'ints', value: [2, 2] }, { name: 'ceil_mode', type: 'int', value: 1 }]),
    node('flat', 'Flatten', ['p'], ['f']),
    node('fc', 'Gemm', ['f', 'W'], ['y'], [{ name: 'transB', type: 'int', value: 1 }]),
  ], [float32Tensor('W', [9, 27], seq(243, (i) => (Math.floor(i / 27) === i % 27 ? 1 : 0)))], { input: ['N', 3, 5, 5], outDims: ['N', 9] });
  const m = importOnnx(model, { file: 'ceil.onnx' });
  const pool = graphOf(m).nodes.find((n) => n.op === 'maxPool')!;
  assert.ok(pool.op === 'maxPool');
  assert.deepEqual(pool.pads, [0, 1, 0, 1]);
  const x = seq(75, (i) => -100 + i); // x[c, r, q] = −100 + 25c + 5r + q
  // W picks channel 0's pooled cells: the max of each window is its last real row and column
  const want = Float32Array.from([1, 3, 4].flatMap((r) => [1, 3, 4].map((q) => -100 + 5 * r + q)));
  assertClose(apcLogits(m, x, [1, 3, 5, 5]), want, 'ceil-mode max pool', 1e-6);
});
