/**
 * ONNX ModelProto decoding and encoding: round trips of every supported data type, attribute type
 * and value type; bytes built by hand from the ONNX schema's field numbers (so a wrong field
 * number in our .proto text shows up); the typed `*_data` fields; and one clear ModelFileError per
 * kind of bad file or bad structure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFileError } from './errors.js';
import {
  type Bytes, le32f, le64f, pbBytes, pbFloat, pbInt, pbMessage, pbPacked, sampleOnnxModel, varint,
} from './fixtures.js';
import {
  decodeOnnxModel, encodeOnnxModel, findAttribute, float32Tensor, int64Tensor, ONNX_EXPORT_IR_VERSION, ONNX_EXPORT_OPSET,
  readOnnxModel, writeOnnxModel, type OnnxGraph, type OnnxModel, type OnnxTensor,
} from './onnx_model.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-onnx-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Asserts `fn` throws a ModelFileError whose one-line message starts with `file: ` and matches `re`. */
function throwsFileError(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModelFileError, `expected ModelFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, re);
    return true;
  });
}

async function rejectsFileError(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ModelFileError, `expected ModelFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.match(err.message, re);
    return true;
  });
}

function modelWith(graph: Partial<OnnxGraph>): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'test',
    producerVersion: '1',
    graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [], ...graph },
  };
}

// ---------------------------------------------------------------------------------------------
// Round trips

const everyDataType: OnnxTensor[] = [
  { name: 'f32', dims: [2, 2], dataType: 'FLOAT', data: new Float32Array([1.5, -2, 3.25, Math.fround(0.1)]) },
  { name: 'u8', dims: [3], dataType: 'UINT8', data: new Uint8Array([0, 128, 255]) },
  { name: 'i8', dims: [3], dataType: 'INT8', data: new Int8Array([-128, 0, 127]) },
  { name: 'u16', dims: [2], dataType: 'UINT16', data: new Uint16Array([0, 65535]) },
  { name: 'i16', dims: [2], dataType: 'INT16', data: new Int16Array([-32768, 32767]) },
  { name: 'i32', dims: [2], dataType: 'INT32', data: new Int32Array([-2147483648, 2147483647]) },
  { name: 'i64', dims: [4], dataType: 'INT64', data: new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]) },
  { name: 'str', dims: [2], dataType: 'STRING', data: ['hello', 'größe ✓'] },
  { name: 'bool', dims: [3], dataType: 'BOOL', data: new Uint8Array([1, 0, 1]) },
  { name: 'f16', dims: [4], dataType: 'FLOAT16', data: new Float32Array([0.5, -2, 65504, 2 ** -24]) },
  { name: 'f64', dims: [1], dataType: 'DOUBLE', data: new Float64Array([1 / 3]) },
  { name: 'u32', dims: [2], dataType: 'UINT32', data: new Uint32Array([0, 4294967295]) },
  { name: 'u64', dims: [2], dataType: 'UINT64', data: new BigUint64Array([0n, 2n ** 64n - 1n]) },
  { name: 'bf16', dims: [3], dataType: 'BFLOAT16', data: new Float32Array([1.5, -3, 2 ** 100]) },
  { name: 'scalar', dims: [], dataType: 'FLOAT', data: new Float32Array([7]) },
  { name: 'empty', dims: [0, 3], dataType: 'INT64', data: new BigInt64Array(0) },
];

test('every supported tensor data type round-trips through encode → decode', () => {
  const model = modelWith({ initializers: everyDataType });
  const back = decodeOnnxModel(encodeOnnxModel(model));
  assert.deepStrictEqual(back, model);
});

test('every attribute type, subgraphs, value types, doc strings and metadata round-trip', () => {
  const body: OnnxGraph = {
    name: 'then',
    nodes: [{ name: 'k', opType: 'Constant', inputs: [], outputs: ['c'], attributes: [{ name: 'value', type: 'tensor', value: int64Tensor('', [1], [5]) }] }],
    initializers: [float32Tensor('inner', [1], [2])],
    inputs: [],
    outputs: [{ name: 'c', type: { kind: 'tensor', elemType: 'INT64', shape: [1] } }],
    valueInfo: [],
    docString: 'the then branch',
  };
  const model: OnnxModel = {
    ...modelWith({
      nodes: [
        {
          name: 'all', opType: 'Custom', domain: 'com.example', inputs: ['a', '', 'b'], outputs: ['o1', 'o2'], docString: 'every kind',
          attributes: [
            { name: 'f', type: 'float', value: -0.25 },
            { name: 'i', type: 'int', value: -7 },
            { name: 'big', type: 'int', value: 2n ** 63n - 1n },
            { name: 's', type: 'string', value: 'NCHW ✓' },
            { name: 't', type: 'tensor', value: float32Tensor('', [2], [1, 2]) },
            { name: 'g', type: 'graph', value: body },
            { name: 'fs', type: 'floats', value: [0.5, Math.fround(1e30), -0] },
            { name: 'is', type: 'ints', value: [1, -1, -(2n ** 63n), 2 ** 53 - 1] },
            { name: 'ss', type: 'strings', value: ['a', '', 'c'] },
            { name: 'ts', type: 'tensors', value: [int64Tensor('x', [0], []), float32Tensor('y', [], [3])] },
            { name: 'gs', type: 'graphs', value: [body, { ...body, name: 'else', docString: undefined }].map((g) => {
              const { docString, ...rest } = g;
              return docString ? g : rest;
            }) },
            { name: 'doc', type: 'int', value: 0, docString: 'zero' },
          ],
        },
      ],
      inputs: [
        { name: 'a', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['N', 3, null, 224] } },
        { name: 'b', type: { kind: 'tensor', elemType: 'INT64', shape: null }, docString: 'any rank' },
        { name: 'untyped', type: null },
      ],
      outputs: [
        { name: 'o1', type: { kind: 'sequence', elemType: { kind: 'tensor', elemType: 'FLOAT', shape: [] } } },
        { name: 'o2', type: { kind: 'map', keyType: 'STRING', valueType: { kind: 'optional', elemType: { kind: 'sparse_tensor', elemType: 'FLOAT16', shape: [2, 'k'] } } } },
      ],
      valueInfo: [{ name: 'v', type: { kind: 'tensor', elemType: 'FLOAT8E4M3FN', shape: [1] } }],
    }),
    domain: 'ai.apc',
    modelVersion: 3,
    docString: 'a model',
    metadataProps: [{ key: 'k', value: 'v' }],
    opsetImports: [{ domain: '', version: 13 }, { domain: 'com.example', version: 1 }],
  };
  const back = decodeOnnxModel(encodeOnnxModel(model));
  assert.deepStrictEqual(back, model);
  assert.deepEqual(findAttribute(back.graph.nodes[0], 'big'), { name: 'big', type: 'int', value: 2n ** 63n - 1n });
  assert.equal(findAttribute(back.graph.nodes[0], 'nope'), undefined);
});

test('writeOnnxModel → readOnnxModel: the sample export-style model survives the disk', async () => {
  const path = join(tmp, 'sample.onnx');
  const model = sampleOnnxModel();
  await writeOnnxModel(path, model);
  const back = await readOnnxModel(path);
  assert.deepStrictEqual(back, model);
  assert.equal(ONNX_EXPORT_OPSET, 13);
  assert.equal(ONNX_EXPORT_IR_VERSION, 7);
});

// ---------------------------------------------------------------------------------------------
// Byte level: hand-built protobuf (field numbers from onnx.proto) ⇄ our structure

const dimParam = (s: string) => pbMessage(1, pbBytes(2, s));
const dimValue = (n: number) => pbMessage(1, pbInt(1, n));
const tensorType = (elem: number, ...dims: Bytes[]) => pbMessage(2, pbMessage(1, pbInt(1, elem), pbMessage(2, ...dims)));

/** ModelProto for y = Relu(x) + k, written field by field in field-number order. */
const handModel: Bytes = [
  ...pbInt(1, 7), // ir_version
  ...pbBytes(2, 'hand'), // producer_name
  ...pbMessage(7, // graph
    ...[
      pbMessage(1, pbBytes(1, 'x'), pbBytes(2, 'r'), pbBytes(3, 'relu'), pbBytes(4, 'Relu')), // node
      pbMessage(1, pbBytes(1, 'r'), pbBytes(1, 'k'), pbBytes(2, 'y'), pbBytes(4, 'Add'), // node, unnamed
        pbMessage(5, pbBytes(1, 'alpha'), pbFloat(2, 0.5), pbInt(20, 1)), // float attribute
        pbMessage(5, pbBytes(1, 'axes'), pbInt(8, 0), pbInt(8, -1), pbInt(20, 7))), // ints attribute, unpacked
      pbBytes(2, 'g'), // name
      pbMessage(5, pbInt(1, 3), pbInt(2, 1), pbBytes(8, 'k'), pbBytes(9, le32f([1, 2, 3]))), // initializer
      pbMessage(11, pbBytes(1, 'x'), tensorType(1, dimParam('N'), dimValue(3))), // input
      pbMessage(12, pbBytes(1, 'y'), tensorType(1, dimParam('N'), dimValue(3))), // output
    ],
  ),
  ...pbMessage(8, pbInt(2, 13)), // opset_import (default domain)
];

const handModelStructure: OnnxModel = {
  irVersion: 7,
  opsetImports: [{ domain: '', version: 13 }],
  producerName: 'hand',
  producerVersion: '',
  graph: {
    name: 'g',
    nodes: [
      { name: 'relu', opType: 'Relu', inputs: ['x'], outputs: ['r'], attributes: [] },
      {
        name: '', opType: 'Add', inputs: ['r', 'k'], outputs: ['y'],
        attributes: [{ name: 'alpha', type: 'float', value: 0.5 }, { name: 'axes', type: 'ints', value: [0, -1] }],
      },
    ],
    initializers: [{ name: 'k', dims: [3], dataType: 'FLOAT', data: new Float32Array([1, 2, 3]) }],
    inputs: [{ name: 'x', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['N', 3] } }],
    outputs: [{ name: 'y', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['N', 3] } }],
    valueInfo: [],
  },
};

test('hand-built ModelProto bytes decode to the expected structure, and encoding it gives the same bytes', () => {
  assert.deepStrictEqual(decodeOnnxModel(Uint8Array.from(handModel)), handModelStructure);
  assert.deepEqual([...encodeOnnxModel(handModelStructure)], handModel);
});

/** A model whose only graph content is `initializer`. */
function modelBytesWithTensor(tensorFields: Bytes[]): Uint8Array {
  return Uint8Array.from([
    ...pbInt(1, 8),
    ...pbMessage(7, pbMessage(5, ...tensorFields), pbBytes(2, 'g')),
    ...pbMessage(8, pbInt(2, 13)),
  ]);
}

function decodeTensorFields(...fields: Bytes[]): OnnxTensor {
  return decodeOnnxModel(modelBytesWithTensor(fields)).graph.initializers[0];
}

test('tensor values from the typed fields: float_data, int32_data, int64_data, double_data, uint64_data, string_data', () => {
  const name = (s: string) => pbBytes(8, s);
  const dims = (...d: number[]) => d.flatMap((x) => pbInt(1, x));
  const varints = (xs: (number | bigint)[]) => xs.map((x) => varint(x));

  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 1), pbPacked(4, [le32f([1.5, -2])]), name('f')),
    { name: 'f', dims: [2], dataType: 'FLOAT', data: new Float32Array([1.5, -2]) });
  // float_data unpacked (also valid protobuf)
  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 1), pbFloat(4, 3), pbFloat(4, 4), name('f')).data, new Float32Array([3, 4]));
  assert.deepStrictEqual(decodeTensorFields(dims(3), pbInt(2, 3), pbPacked(5, varints([-1, 0, 127])), name('i8')).data, new Int8Array([-1, 0, 127]));
  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 9), pbPacked(5, varints([1, 0])), name('b')).data, new Uint8Array([1, 0]));
  // FLOAT16 bits in int32_data: 0x3c00 = 1, 0xc000 = -2
  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 10), pbPacked(5, varints([0x3c00, 0xc000])), name('h')).data, new Float32Array([1, -2]));
  assert.deepStrictEqual(decodeTensorFields(dims(1), pbInt(2, 16), pbPacked(5, varints([0x3fc0])), name('bf')).data, new Float32Array([1.5]));
  assert.deepStrictEqual(decodeTensorFields(dims(3), pbInt(2, 7), pbPacked(7, varints([-(2n ** 63n), -1, 2n ** 63n - 1n])), name('i64')).data,
    new BigInt64Array([-(2n ** 63n), -1n, 2n ** 63n - 1n]));
  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 11), pbPacked(10, [le64f([0.1, -1e300])]), name('d')).data, new Float64Array([0.1, -1e300]));
  assert.deepStrictEqual(decodeTensorFields(dims(1), pbInt(2, 12), pbPacked(11, varints([4294967295])), name('u32')).data, new Uint32Array([4294967295]));
  assert.deepStrictEqual(decodeTensorFields(dims(1), pbInt(2, 13), pbPacked(11, varints([2n ** 64n - 1n])), name('u64')).data, new BigUint64Array([2n ** 64n - 1n]));
  assert.deepStrictEqual(decodeTensorFields(dims(2), pbInt(2, 8), pbBytes(6, 'ab'), pbBytes(6, 'ü'), name('s')).data, ['ab', 'ü']);
  // raw INT64 with 0 elements, no data at all
  assert.deepStrictEqual(decodeTensorFields(dims(0), pbInt(2, 7), name('none')).data, new BigInt64Array(0));
});

test('an attribute from IR version 1 (no type field) takes its type from the field that is set', () => {
  const bytes = Uint8Array.from([
    ...pbInt(1, 3),
    ...pbMessage(7, pbMessage(1, pbBytes(4, 'LeakyRelu'), pbMessage(5, pbBytes(1, 'alpha'), pbFloat(2, 0.25)), pbMessage(5, pbBytes(1, 'perm'), pbInt(8, 2), pbInt(8, 1)))),
    ...pbMessage(8, pbInt(2, 1)),
  ]);
  assert.deepEqual(decodeOnnxModel(bytes).graph.nodes[0].attributes, [
    { name: 'alpha', type: 'float', value: 0.25 },
    { name: 'perm', type: 'ints', value: [2, 1] },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Bad files

test('bad bytes: empty, truncated, garbage, not a model', () => {
  const good = encodeOnnxModel(sampleOnnxModel());
  throwsFileError(() => decodeOnnxModel(new Uint8Array(0), 'm.onnx'), 'm.onnx', /is empty \(0 bytes\)/);
  throwsFileError(() => decodeOnnxModel(good.subarray(0, good.length - 9), 'm.onnx'), 'm.onnx', /truncated/);
  throwsFileError(() => decodeOnnxModel(good.subarray(0, 200), 'm.onnx'), 'm.onnx', /truncated/);
  throwsFileError(() => decodeOnnxModel(Buffer.from('{"not": "onnx"}'), 'm.json'), 'm.json', /not (a valid|an) ONNX model/);
  throwsFileError(() => decodeOnnxModel(Buffer.from([0x08, 0x07]), 'x.onnx'), 'x.onnx', /has no graph/);
  throwsFileError(() => decodeOnnxModel(Uint8Array.from([...pbInt(1, 7), ...pbMessage(7, pbBytes(2, 'g'))]), 'x.onnx'), 'x.onnx', /no opset_import/);
  throwsFileError(() => decodeOnnxModel(Uint8Array.from([...pbInt(1, 0), ...pbMessage(7), ...pbMessage(8, pbInt(2, 13))]), 'x.onnx'), 'x.onnx', /ir_version is 0/);
  // a length prefix far beyond the data is refused before anything is allocated for it
  throwsFileError(() => decodeOnnxModel(Uint8Array.from([...pbInt(1, 7), 0x3a, ...varint(2 ** 30)]), 'x.onnx'), 'x.onnx', /truncated/);
  throwsFileError(() => decodeOnnxModel(Uint8Array.from([...pbInt(1, 7), 0x3a, ...varint(2 ** 40)]), 'x.onnx'), 'x.onnx', /truncated/);
  // messages nested past protobufjs's recursion limit
  let deep: Bytes = pbBytes(2, 'leaf');
  for (let i = 0; i < 60; i++) deep = pbMessage(1, pbBytes(4, 'If'), pbMessage(5, pbBytes(1, 'g'), pbInt(20, 5), pbMessage(6, deep))); // node → attribute → graph
  throwsFileError(() => decodeOnnxModel(Uint8Array.from([...pbInt(1, 7), ...pbMessage(7, deep), ...pbMessage(8, pbInt(2, 13))]), 'deep.onnx'), 'deep.onnx',
    /protobuf messages nested too deeply/);
});

test('bad tensors: size mismatch, external data, unknown or unsupported dtype, mixed fields, missing names', () => {
  const name = pbBytes(8, 'w');
  throwsFileError(() => decodeTensorFields(pbInt(1, 4), pbInt(2, 1), name, pbBytes(9, le32f([1, 2, 3]))), 'ONNX model',
    /initializer 'w': raw_data has 12 bytes, expected 16 \(FLOAT × 4 elements for dims \[4\]\)/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 2), pbInt(1, 2), pbInt(2, 7), name, pbPacked(7, [varint(1), varint(2)])), 'ONNX model',
    /initializer 'w': has 2 values in int64_data, expected 4 for dims \[2, 2\]/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 3), pbInt(2, 1), name), 'ONNX model', /initializer 'w': has no data, expected 3/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 7), name, pbPacked(4, [le32f([1])])), 'ONNX model',
    /INT64 stores its values in int64_data, but the tensor has float_data/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 1), name, pbPacked(4, [le32f([1])]), pbBytes(9, le32f([1]))), 'ONNX model',
    /has both raw_data and float_data/);
  throwsFileError(
    () => decodeTensorFields(pbInt(1, 4), pbInt(2, 1), name, pbMessage(13, pbBytes(1, 'location'), pbBytes(2, 'weights.bin')), pbInt(14, 1)),
    'ONNX model', /initializer 'w': external data is not supported .*'weights\.bin'/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 99), name), 'ONNX model', /initializer 'w': unknown data type 99/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 14), name, pbBytes(9, le32f([1, 2]))), 'ONNX model',
    /initializer 'w': data type COMPLEX64 \(14\) is not supported/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 17), name, pbBytes(9, [1])), 'ONNX model', /FLOAT8E4M3FN \(17\) is not supported/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 2 ** 40), pbInt(1, 2 ** 40), pbInt(2, 1), name, pbBytes(9, [1, 2, 3, 4])), 'ONNX model',
    /dims \[1099511627776, 1099511627776\] give .* elements, too many/);
  throwsFileError(() => decodeTensorFields(pbInt(1, -1), pbInt(2, 1), name), 'ONNX model', /dims\[0\] is -1, expected an integer ≥ 0/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 1), pbBytes(9, le32f([1]))), 'ONNX model', /initializer 0 has no name/);
  throwsFileError(() => decodeTensorFields(pbInt(1, 1), pbInt(2, 1), name, pbMessage(3, pbInt(1, 0), pbInt(2, 1)), pbBytes(9, le32f([1]))), 'ONNX model',
    /segmented tensors .* not supported/);
});

test('bad graphs and nodes: sparse initializers, unsupported attribute types, missing op_type, duplicates', () => {
  const wrap = (...graphFields: Bytes[]) => Uint8Array.from([...pbInt(1, 8), ...pbMessage(7, ...graphFields), ...pbMessage(8, pbInt(2, 13))]);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(15, pbInt(3, 4))), 'g.onnx'), 'g.onnx', /1 sparse initializer, which are not supported/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(1, pbBytes(3, 'n1'), pbBytes(4, 'Foo'), pbMessage(5, pbBytes(1, 'sp'), pbInt(20, 11)))), 'g.onnx'), 'g.onnx',
    /node 0 'n1' \(Foo\), attribute 'sp': attributes of type SPARSE_TENSOR are not supported/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(1, pbBytes(4, 'Foo'), pbMessage(5, pbBytes(1, 'a'), pbInt(20, 42)))), 'g.onnx'), 'g.onnx',
    /attribute 'a': unknown attribute type 42/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(1, pbBytes(4, 'Foo'), pbMessage(5, pbBytes(1, 'a')))), 'g.onnx'), 'g.onnx', /attribute 'a': has no value/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(1, pbBytes(3, 'n'), pbBytes(1, 'x'))), 'g.onnx'), 'g.onnx', /node 0 'n': has no op_type/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(1, pbBytes(4, 'Foo'), pbMessage(5, pbBytes(1, 'a'), pbInt(3, 1)), pbMessage(5, pbBytes(1, 'a'), pbInt(3, 2)))), 'g.onnx'),
    'g.onnx', /attribute 'a' appears twice/);
  const k = (v: number) => pbMessage(5, pbInt(1, 1), pbInt(2, 1), pbBytes(8, 'k'), pbBytes(9, le32f([v])));
  throwsFileError(() => decodeOnnxModel(wrap(k(1), k(2)), 'g.onnx'), 'g.onnx', /initializer 'k' appears twice/);
  throwsFileError(() => decodeOnnxModel(wrap(pbMessage(11, pbBytes(1, 'x'), pbMessage(2, pbMessage(1, pbInt(1, 77))))), 'g.onnx'), 'g.onnx',
    /graph input 'x': unknown element type 77/);
  // a problem inside a subgraph names the path to it
  const sub = pbMessage(1, pbBytes(3, 'if'), pbBytes(4, 'If'), pbMessage(5, pbBytes(1, 'then_branch'), pbInt(20, 5),
    pbMessage(6, pbBytes(2, 'then'), pbMessage(5, pbInt(1, 2), pbInt(2, 1), pbBytes(8, 'w'), pbBytes(9, le32f([1]))))));
  throwsFileError(() => decodeOnnxModel(wrap(sub), 'g.onnx'), 'g.onnx',
    /node 0 'if' \(If\), attribute 'then_branch', subgraph 'then': initializer 'w': raw_data has 4 bytes, expected 8/);
});

test('readOnnxModel: a missing file, a directory, a corrupt file on disk', async () => {
  const missing = join(tmp, 'missing.onnx');
  await rejectsFileError(readOnnxModel(missing), missing, /does not exist/);
  const dir = join(tmp, 'adir.onnx');
  mkdirSync(dir, { recursive: true });
  await rejectsFileError(readOnnxModel(dir), dir, /is not a file/);
  const bad = join(tmp, 'bad.onnx');
  writeFileSync(bad, encodeOnnxModel(sampleOnnxModel()).subarray(0, 100));
  await rejectsFileError(readOnnxModel(bad), bad, /truncated/);
});

// ---------------------------------------------------------------------------------------------
// Bad structures handed to the encoder

test('the encoder refuses invalid structures with one line naming the tensor, node or field', () => {
  const enc = (m: OnnxModel) => () => encodeOnnxModel(m, 'out.onnx');
  throwsFileError(enc(modelWith({ initializers: [float32Tensor('w', [2, 2], [1, 2, 3])] })), 'out.onnx',
    /initializer 'w': has 3 values, dims \[2, 2\] need 4/);
  throwsFileError(enc(modelWith({ initializers: [{ name: 's', dims: [1], dataType: 'INT64', data: new Int32Array([1]) as unknown as BigInt64Array }] })),
    'out.onnx', /initializer 's': data for INT64 must be BigInt64Array/);
  throwsFileError(enc(modelWith({ initializers: [{ name: 'c', dims: [1], dataType: 'COMPLEX64' as 'FLOAT', data: new Float32Array(2) }] })),
    'out.onnx', /initializer 'c': data type "COMPLEX64" is not one apc writes/);
  throwsFileError(enc(modelWith({ initializers: [float32Tensor('w', [-1], [])] })), 'out.onnx', /dims \[-1\] are not a list of non-negative integers/);
  throwsFileError(enc(modelWith({ initializers: [float32Tensor('w', [1], [1]), float32Tensor('w', [1], [1])] })), 'out.onnx', /initializer 'w' appears twice/);
  throwsFileError(enc(modelWith({ initializers: [float32Tensor('', [1], [1])] })), 'out.onnx', /initializer 0 has no name/);
  const node = (attributes: OnnxGraph['nodes'][number]['attributes']) => modelWith({ nodes: [{ name: 'n', opType: 'Pad', inputs: [], outputs: [], attributes }] });
  throwsFileError(enc(node([{ name: 'k', type: 'int', value: 1.5 }])), 'out.onnx', /node 0 'n' \(Pad\), attribute 'k': value is 1.5, expected an integer/);
  throwsFileError(enc(node([{ name: 'k', type: 'ints', value: [2n ** 63n] }])), 'out.onnx', /attribute 'k': value\[0\] is 9223372036854775808, expected an int64/);
  throwsFileError(enc(node([{ name: 'k', type: 'bogus' } as never])), 'out.onnx', /attribute 'k': unknown attribute type "bogus"/);
  throwsFileError(enc({ ...modelWith({}), opsetImports: [] }), 'out.onnx', /opsetImports is empty/);
  throwsFileError(enc({ ...modelWith({}), irVersion: 0 }), 'out.onnx', /irVersion 0 is not a positive integer/);
  throwsFileError(enc(modelWith({ inputs: [{ name: 'x', type: { kind: 'tensor', elemType: 'FLOAT', shape: [1.5] } }] })), 'out.onnx',
    /graph input 'x': dimension 0 is 1.5/);
});

test('writeOnnxModel names the target when it cannot be written', async () => {
  const file = join(tmp, 'plain-file');
  writeFileSync(file, 'x');
  const target = join(file, 'model.onnx');
  await rejectsFileError(writeOnnxModel(target, sampleOnnxModel()), target, /cannot write/);
});
