/**
 * The files PyTorch made (test/fixtures/torch: ONNX exported by torch 1.13 at opset 13, .npy
 * inputs/outputs written by numpy, a .safetensors state dict) decode, and agree with the facts
 * their generator recorded in manifest.json: op types and counts, initializer counts, graph
 * input/output names and (symbolic) shapes, npy shapes, safetensors keys, shapes, dtypes, data order
 * and metadata. Every ONNX file re-encodes to exactly the bytes torch wrote. Skipped when the
 * fixtures are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../data/npy.js';
import { decodeOnnxModel, encodeOnnxModel, findAttribute, readOnnxModel } from './onnx_model.js';
import { readSafetensors } from './safetensors.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
const MANIFEST = join(DIR, 'manifest.json');
const present = existsSync(MANIFEST);
const skip = present ? false : `no PyTorch fixtures at ${DIR}`;

interface ModelFacts {
  file: string;
  input_file: string;
  output_file: string;
  input_shape: number[];
  output_shape: number[];
  onnx_opset: number;
  onnx_input: { name: string; shape: (number | string)[] };
  onnx_output: { name: string; shape: (number | string)[] };
  op_types: string[];
  op_counts: Record<string, number>;
  initializers: number;
}

interface Manifest {
  models: Record<string, ModelFacts>;
  safetensors: {
    file: string;
    input_file: string;
    features_file: string;
    input_shape: number[];
    features_shape: number[];
    header_bytes: number;
    metadata: Record<string, string>;
    state_dict_keys: { name: string; shape: number[]; dtype: 'float32' | 'int64' }[];
    data_order: string[];
  };
}

const manifest: Manifest | undefined = present ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest : undefined;

test('ONNX files exported by torch 1.13 decode with the recorded op types, initializers and graph inputs/outputs', { skip }, async () => {
  for (const [key, facts] of Object.entries(manifest!.models)) {
    const path = join(DIR, facts.file);
    const m = await readOnnxModel(path);
    assert.ok(m.producerName.toLowerCase().includes('pytorch'), `${key}: producer ${m.producerName}`);
    assert.ok(m.opsetImports.some((o) => (o.domain === '' || o.domain === 'ai.onnx') && o.version === facts.onnx_opset), `${key}: opset`);
    const counts: Record<string, number> = {};
    for (const n of m.graph.nodes) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    assert.deepEqual(counts, facts.op_counts, `${key}: op counts`);
    assert.deepEqual([...new Set(m.graph.nodes.map((n) => n.opType))], facts.op_types, `${key}: op types in first-appearance order`);
    assert.equal(m.graph.initializers.length, facts.initializers, `${key}: initializers`);
    assert.ok(m.graph.initializers.length > 0);
    for (const t of m.graph.initializers) {
      assert.equal(t.data.length, t.dims.reduce((a, b) => a * b, 1), `${key}: ${t.name} size`);
      if (t.dataType === 'FLOAT') assert.ok(t.data.every(Number.isFinite), `${key}: ${t.name} finite`);
    }
    assert.deepEqual(m.graph.inputs.map((v) => v.name), [facts.onnx_input.name], `${key}: graph inputs`);
    assert.deepEqual(m.graph.inputs[0].type, { kind: 'tensor', elemType: 'FLOAT', shape: facts.onnx_input.shape });
    assert.deepEqual(m.graph.outputs.map((v) => v.name), [facts.onnx_output.name], `${key}: graph outputs`);
    assert.deepEqual(m.graph.outputs[0].type, { kind: 'tensor', elemType: 'FLOAT', shape: facts.onnx_output.shape });
    const conv = m.graph.nodes.find((n) => n.opType === 'Conv');
    assert.equal(findAttribute(conv!, 'kernel_shape')?.type, 'ints', `${key}: Conv kernel_shape`);

    // our encoder writes back exactly the bytes torch wrote, and they decode to the same structure
    const reencoded = encodeOnnxModel(m);
    assert.ok(Buffer.from(reencoded).equals(readFileSync(path)), `${key}: re-encoded bytes differ from the file`);
    assert.deepStrictEqual(decodeOnnxModel(reencoded), m, `${key}: round trip`);

    const input = await readNpy(join(DIR, facts.input_file));
    const output = await readNpy(join(DIR, facts.output_file));
    assert.deepEqual([input.shape, input.dtype, input.narrowed], [facts.input_shape, '<f4', false], `${key}: input npy`);
    assert.deepEqual([output.shape, output.dtype], [facts.output_shape, '<f4'], `${key}: output npy`);
    assert.ok(input.data instanceof Float32Array && input.data.length === facts.input_shape.reduce((a, b) => a * b, 1));
  }
});

test('mobilenetv2.onnx: ReLU6 is Clip whose min/max come from Constant nodes holding float32 scalars 0 and 6', { skip }, async () => {
  const m = await readOnnxModel(join(DIR, 'mobilenetv2.onnx'));
  const constants = new Map(m.graph.nodes.filter((n) => n.opType === 'Constant').map((n) => [n.outputs[0], findAttribute(n, 'value')]));
  const clip = m.graph.nodes.find((n) => n.opType === 'Clip')!;
  const [lo, hi] = [constants.get(clip.inputs[1]), constants.get(clip.inputs[2])];
  assert.ok(lo?.type === 'tensor' && hi?.type === 'tensor');
  assert.deepStrictEqual([lo.value.dataType, lo.value.dims, [...lo.value.data]], ['FLOAT', [], [0]]);
  assert.deepStrictEqual([hi.value.dataType, hi.value.dims, [...hi.value.data]], ['FLOAT', [], [6]]);
  const depthwise = m.graph.nodes.filter((n) => {
    const g = findAttribute(n, 'group');
    return n.opType === 'Conv' && g?.type === 'int' && Number(g.value) > 1;
  });
  assert.equal(depthwise.length, 6);
});

test('resnet_oldflatten.onnx: the Reshape shape is assembled from INT64 Constant tensors', { skip }, async () => {
  const m = await readOnnxModel(join(DIR, 'resnet_oldflatten.onnx'));
  const ints = m.graph.nodes
    .filter((n) => n.opType === 'Constant')
    .map((n) => findAttribute(n, 'value'))
    .filter((a) => a?.type === 'tensor' && a.value.dataType === 'INT64');
  assert.ok(ints.length >= 1);
  const values = ints.flatMap((a) => (a?.type === 'tensor' ? [...(a.value.data as BigInt64Array)] : []));
  assert.ok(values.includes(-1n), `a -1 among ${values.join(', ')}`);
});

test('vgg16_bn_w8.safetensors: keys, shapes, dtypes, data order, metadata and num_batches_tracked as recorded', { skip }, async () => {
  const facts = manifest!.safetensors;
  const path = join(DIR, facts.file);
  const header = readFileSync(path).readBigUInt64LE(0);
  assert.equal(Number(header), facts.header_bytes);
  const st = await readSafetensors(path);
  assert.deepEqual(st.metadata, facts.metadata);
  assert.deepEqual([...st.tensors.keys()], facts.data_order, 'tensors come in data order');
  assert.equal(st.tensors.size, facts.state_dict_keys.length);
  let bn = 0;
  for (const k of facts.state_dict_keys) {
    const t = st.tensors.get(k.name);
    assert.ok(t, k.name);
    assert.deepEqual(t.shape, k.shape, k.name);
    assert.equal(t.dtype, k.dtype === 'float32' ? 'F32' : 'I64', k.name);
    if (k.name.endsWith('num_batches_tracked')) {
      bn++;
      assert.deepStrictEqual(t.data, new BigInt64Array([BigInt(100 * bn)]), k.name);
    } else {
      assert.ok(t.data instanceof Float32Array && t.data.every(Number.isFinite), k.name);
    }
  }
  const input = await readNpy(join(DIR, facts.input_file));
  const features = await readNpy(join(DIR, facts.features_file));
  assert.deepEqual(input.shape, facts.input_shape);
  assert.deepEqual(features.shape, facts.features_shape);
});
