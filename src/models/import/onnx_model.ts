/**
 * ONNX model files ⇄ a plain, typed TypeScript structure: the file-format layer under apc's
 * ONNX import (models exported by PyTorch) and export. No model conversion here and no
 * TensorFlow.js: converters work on `OnnxModel`.
 *
 * Decoding (`readOnnxModel`, `decodeOnnxModel`) gives the opset imports, IR version, producer,
 * the graph's nodes with their attributes decoded to JS values, the initializers as typed arrays
 * (from `raw_data` or from the typed `*_data` fields), the graph inputs/outputs/value_info with
 * their (possibly symbolic) shapes, and subgraphs (If/Loop bodies) the same way. Every declared
 * tensor size (product of dims × element size) is checked against the bytes or values actually
 * present before anything is allocated for it.
 *
 * Encoding (`encodeOnnxModel`, `writeOnnxModel`) writes the same structure back; numeric tensors
 * go out as little-endian `raw_data`, strings as `string_data`.
 *
 * Every failure is a `ModelFileError` whose message is `FILE: PROBLEM` on one line, naming the
 * tensor, node or field concerned.
 *
 * Not supported (each named in the error): tensors with external data (weights in a separate
 * file), segmented tensors, sparse tensors and sparse initializers, COMPLEX64/128 and the 8-, 4-
 * and 2-bit float/int data types, attributes of type SPARSE_TENSOR(S) or TYPE_PROTO(S), and
 * attribute references (`ref_attr_name`, only valid inside functions). Model-local functions,
 * training info and quantization annotations are ignored when reading and not written.
 */
import { readFile, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { FileWriteError, writeFileAtomic } from '../../engine/files.js';
import { count, describeThrown, ModelFileError, quote } from './errors.js';
import {
  bfloat16BitsToFloat32, float32ToBfloat16BitsArray, float32ToHalfBitsArray, halfBitsToFloat32,
} from './half.js';
import {
  onnxModelType, type PbAttribute, type PbGraph, type PbLong, type PbModel, type PbNode, type PbShape, type PbTensor,
  type PbType, type PbValueInfo,
} from './onnx_schema.js';

// ---------------------------------------------------------------------------------------------
// Types

/** ONNX `TensorProto.DataType` names, indexed by their code. */
export const ONNX_DATA_TYPES = [
  'UNDEFINED', 'FLOAT', 'UINT8', 'INT8', 'UINT16', 'INT16', 'INT32', 'INT64', 'STRING', 'BOOL', 'FLOAT16',
  'DOUBLE', 'UINT32', 'UINT64', 'COMPLEX64', 'COMPLEX128', 'BFLOAT16', 'FLOAT8E4M3FN', 'FLOAT8E4M3FNUZ',
  'FLOAT8E5M2', 'FLOAT8E5M2FNUZ', 'UINT4', 'INT4', 'FLOAT4E2M1', 'FLOAT8E8M0', 'UINT2', 'INT2',
] as const;

/** Any ONNX data type name (the element type of a value, say). */
export type OnnxDataTypeName = (typeof ONNX_DATA_TYPES)[number];

/** The JS array each tensor data type decodes to. FLOAT16 and BFLOAT16 are widened to float32. */
export interface OnnxTensorDataMap {
  FLOAT: Float32Array;
  UINT8: Uint8Array;
  INT8: Int8Array;
  UINT16: Uint16Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  STRING: string[];
  /** One byte per element, 0 or 1. */
  BOOL: Uint8Array;
  FLOAT16: Float32Array;
  DOUBLE: Float64Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  BFLOAT16: Float32Array;
}

/** The data types whose tensors apc can read and write. */
export type OnnxTensorDataType = keyof OnnxTensorDataMap;

interface OnnxTensorOf<K extends OnnxTensorDataType> {
  /** Empty for an anonymous tensor (an attribute's value, say). */
  name: string;
  /** Non-negative; `[]` for a scalar. */
  dims: number[];
  dataType: K;
  /** Row-major values, `product(dims)` of them. */
  data: OnnxTensorDataMap[K];
  /** Omitted when empty. */
  docString?: string;
}

/** A tensor (initializer or attribute value); `dataType` tells the type of `data`. */
export type OnnxTensor = { [K in OnnxTensorDataType]: OnnxTensorOf<K> }[OnnxTensorDataType];

/** An int64: a number when it is a safe integer, else a bigint (INT64_MAX as a Slice end, say). */
export type OnnxInt = number | bigint;

/** An attribute's value. ONNX stores `float`/`floats` as float32, so they come back float32-rounded. */
export type OnnxAttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: OnnxInt }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'graph'; value: OnnxGraph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: OnnxInt[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: OnnxTensor[] }
  | { type: 'graphs'; value: OnnxGraph[] };

/** A node attribute: its name and its decoded value. `docString` is omitted when empty. */
export type OnnxAttribute = { name: string; docString?: string } & OnnxAttributeValue;

export interface OnnxNode {
  /** May be empty (ONNX does not require node names). */
  name: string;
  opType: string;
  /** Operator-set domain; omitted for the default ONNX domain (''). */
  domain?: string;
  /** Value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
  /** Omitted when empty. */
  docString?: string;
}

/** One dimension of a value's shape: a size, a symbolic name (`'batch'`), or unknown (null). */
export type OnnxDim = number | string | null;

export type OnnxType =
  /** `shape` null: rank unknown. */
  | { kind: 'tensor'; elemType: OnnxDataTypeName; shape: OnnxDim[] | null }
  | { kind: 'sparse_tensor'; elemType: OnnxDataTypeName; shape: OnnxDim[] | null }
  | { kind: 'sequence'; elemType: OnnxType | null }
  | { kind: 'optional'; elemType: OnnxType | null }
  | { kind: 'map'; keyType: OnnxDataTypeName; valueType: OnnxType | null };

/** A graph input, output or value_info entry. */
export interface OnnxValueInfo {
  name: string;
  /** null when the file gives no type. */
  type: OnnxType | null;
  /** Omitted when empty. */
  docString?: string;
}

export interface OnnxGraph {
  name: string;
  /** In file order (topologically sorted in a valid model). */
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  /** Omitted when empty. */
  docString?: string;
}

export interface OnnxOpsetImport {
  /** '' (or 'ai.onnx') for the default ONNX operator set. */
  domain: string;
  version: number;
}

export interface OnnxModel {
  irVersion: number;
  opsetImports: OnnxOpsetImport[];
  producerName: string;
  producerVersion: string;
  /** Omitted when empty. */
  domain?: string;
  /** Omitted when absent or 0. */
  modelVersion?: number;
  /** Omitted when empty. */
  docString?: string;
  /** Omitted when empty. */
  metadataProps?: { key: string; value: string }[];
  graph: OnnxGraph;
}

/** What apc's ONNX export targets. */
export const ONNX_EXPORT_OPSET = 13;
/** IR version 7 (ONNX 1.8) is the first that carries opset 13. */
export const ONNX_EXPORT_IR_VERSION = 7;

// ---------------------------------------------------------------------------------------------
// Data type tables

const ATTRIBUTE_TYPES = [
  'UNDEFINED', 'FLOAT', 'INT', 'STRING', 'TENSOR', 'GRAPH', 'FLOATS', 'INTS', 'STRINGS', 'TENSORS', 'GRAPHS',
  'SPARSE_TENSOR', 'SPARSE_TENSORS', 'TYPE_PROTO', 'TYPE_PROTOS',
] as const;

type TypedField = 'float_data' | 'int32_data' | 'string_data' | 'int64_data' | 'double_data' | 'uint64_data';
const TYPED_FIELDS: readonly TypedField[] = ['float_data', 'int32_data', 'string_data', 'int64_data', 'double_data', 'uint64_data'];

interface DtypeInfo {
  code: number;
  /** Bytes per element in raw_data (0 for STRING, which has no raw form). */
  size: number;
  /** The typed field that holds this type's values when raw_data is absent. */
  field: TypedField;
}

const TENSOR_TYPES: Record<OnnxTensorDataType, DtypeInfo> = {
  FLOAT: { code: 1, size: 4, field: 'float_data' },
  UINT8: { code: 2, size: 1, field: 'int32_data' },
  INT8: { code: 3, size: 1, field: 'int32_data' },
  UINT16: { code: 4, size: 2, field: 'int32_data' },
  INT16: { code: 5, size: 2, field: 'int32_data' },
  INT32: { code: 6, size: 4, field: 'int32_data' },
  INT64: { code: 7, size: 8, field: 'int64_data' },
  STRING: { code: 8, size: 0, field: 'string_data' },
  BOOL: { code: 9, size: 1, field: 'int32_data' },
  FLOAT16: { code: 10, size: 2, field: 'int32_data' },
  DOUBLE: { code: 11, size: 8, field: 'double_data' },
  UINT32: { code: 12, size: 4, field: 'uint64_data' },
  UINT64: { code: 13, size: 8, field: 'uint64_data' },
  BFLOAT16: { code: 16, size: 2, field: 'int32_data' },
};

/** The JS array class `data` must be for each data type (the encoder checks it). */
const DATA_CLASS: Record<OnnxTensorDataType, { name: string; is: (d: unknown) => boolean }> = {
  FLOAT: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  UINT8: { name: 'Uint8Array', is: (d) => d instanceof Uint8Array },
  INT8: { name: 'Int8Array', is: (d) => d instanceof Int8Array },
  UINT16: { name: 'Uint16Array', is: (d) => d instanceof Uint16Array },
  INT16: { name: 'Int16Array', is: (d) => d instanceof Int16Array },
  INT32: { name: 'Int32Array', is: (d) => d instanceof Int32Array },
  INT64: { name: 'BigInt64Array', is: (d) => d instanceof BigInt64Array },
  STRING: { name: 'an array of strings', is: (d) => Array.isArray(d) && d.every((s) => typeof s === 'string') },
  BOOL: { name: 'Uint8Array', is: (d) => d instanceof Uint8Array },
  FLOAT16: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  DOUBLE: { name: 'Float64Array', is: (d) => d instanceof Float64Array },
  UINT32: { name: 'Uint32Array', is: (d) => d instanceof Uint32Array },
  UINT64: { name: 'BigUint64Array', is: (d) => d instanceof BigUint64Array },
  BFLOAT16: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
};

const TENSOR_TYPE_BY_CODE = new Map<number, OnnxTensorDataType>(
  (Object.entries(TENSOR_TYPES) as [OnnxTensorDataType, DtypeInfo][]).map(([k, v]) => [v.code, k]),
);

function dataTypeName(code: number): OnnxDataTypeName | undefined {
  return Number.isInteger(code) && code >= 0 && code < ONNX_DATA_TYPES.length ? ONNX_DATA_TYPES[code] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** A problem inside the model; the entry points prefix the file. */
class Problem extends Error {}

const has = <T extends object>(m: T, key: keyof T): boolean =>
  Object.prototype.hasOwnProperty.call(m, key) && (m as Record<PropertyKey, unknown>)[key as PropertyKey] != null;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();
const LITTLE_ENDIAN = endianness() === 'LE';

function assertLittleEndianHost(): void {
  if (!LITTLE_ENDIAN) throw new Problem('this machine is big-endian; ONNX tensor bytes are little-endian and apc does not swap them');
}

function longToBigInt(v: PbLong): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  const u = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? u : BigInt.asIntN(64, u);
}

/** int64 → OnnxInt: a number when safe, else the bigint. */
function longToOnnxInt(v: PbLong): OnnxInt {
  if (typeof v === 'number') return v;
  const b = longToBigInt(v);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** int64 → number, which must be a safe integer ≥ `min`. */
function longToSafe(v: PbLong | undefined, what: string, min = 0): number {
  const n = v === undefined ? 0 : longToOnnxInt(v);
  if (typeof n !== 'number' || n < min) throw new Problem(`${what} is ${n}, expected an integer ≥ ${min}${typeof n === 'bigint' ? ' that fits a double' : ''}`);
  return n;
}

function str(v: string | undefined): string {
  return v ?? '';
}

function bytesToString(b: Uint8Array | undefined): string {
  return b ? utf8.decode(b) : '';
}

function shapeText(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/** Product of `dims`, or a Problem when it is not a safe integer. */
function elementCount(dims: readonly number[], where: string): number {
  let n = 1;
  for (const d of dims) n *= d;
  if (!Number.isSafeInteger(n)) throw new Problem(`${where}: dims ${shapeText(dims)} give ${n} elements, too many`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Decoding: tensors

function tensorDims(t: PbTensor, where: string): number[] {
  return (t.dims ?? []).map((d, i) => longToSafe(d, `${where}: dims[${i}]`));
}

/** Copy of `raw` in a fresh, aligned ArrayBuffer. */
function alignedCopy(raw: Uint8Array): ArrayBuffer {
  const b = new Uint8Array(raw.byteLength);
  b.set(raw);
  return b.buffer;
}

function fromRaw(dt: Exclude<OnnxTensorDataType, 'STRING'>, raw: Uint8Array): OnnxTensor['data'] {
  assertLittleEndianHost();
  const buf = alignedCopy(raw);
  switch (dt) {
    case 'FLOAT': return new Float32Array(buf);
    case 'UINT8': return new Uint8Array(buf);
    case 'BOOL': return new Uint8Array(buf).map((v) => (v ? 1 : 0));
    case 'INT8': return new Int8Array(buf);
    case 'UINT16': return new Uint16Array(buf);
    case 'INT16': return new Int16Array(buf);
    case 'INT32': return new Int32Array(buf);
    case 'INT64': return new BigInt64Array(buf);
    case 'FLOAT16': return halfBitsToFloat32(new Uint16Array(buf));
    case 'BFLOAT16': return bfloat16BitsToFloat32(new Uint16Array(buf));
    case 'DOUBLE': return new Float64Array(buf);
    case 'UINT32': return new Uint32Array(buf);
    case 'UINT64': return new BigUint64Array(buf);
  }
}

function fromTyped(dt: OnnxTensorDataType, t: PbTensor): OnnxTensor['data'] {
  switch (dt) {
    case 'FLOAT': return Float32Array.from(t.float_data ?? []);
    case 'UINT8': return Uint8Array.from(t.int32_data ?? []);
    case 'BOOL': return Uint8Array.from(t.int32_data ?? [], (v) => (v ? 1 : 0));
    case 'INT8': return Int8Array.from(t.int32_data ?? []);
    case 'UINT16': return Uint16Array.from(t.int32_data ?? []);
    case 'INT16': return Int16Array.from(t.int32_data ?? []);
    case 'INT32': return Int32Array.from(t.int32_data ?? []);
    case 'FLOAT16': return halfBitsToFloat32(Uint16Array.from(t.int32_data ?? []));
    case 'BFLOAT16': return bfloat16BitsToFloat32(Uint16Array.from(t.int32_data ?? []));
    case 'INT64': return BigInt64Array.from(t.int64_data ?? [], longToBigInt);
    case 'DOUBLE': return Float64Array.from(t.double_data ?? []);
    case 'UINT32': return Uint32Array.from(t.uint64_data ?? [], (v) => Number(BigInt.asUintN(32, longToBigInt(v))));
    case 'UINT64': return BigUint64Array.from(t.uint64_data ?? [], (v) => BigInt.asUintN(64, longToBigInt(v)));
    case 'STRING': return (t.string_data ?? []).map(bytesToString);
  }
}

function decodeTensor(t: PbTensor, where: string): OnnxTensor {
  const name = str(t.name);
  if ((t.external_data?.length ?? 0) > 0 || t.data_location === 1) {
    const loc = t.external_data?.find((e) => e.key === 'location')?.value;
    throw new Problem(`${where}: external data is not supported (its values live in ${loc ? `'${loc}'` : 'a separate file'}; save the model with the weights inside the .onnx file)`);
  }
  if (has(t, 'segment')) throw new Problem(`${where}: segmented tensors (TensorProto.segment) are not supported`);
  const code = t.data_type ?? 0;
  const dt = TENSOR_TYPE_BY_CODE.get(code);
  if (dt === undefined) {
    const known = dataTypeName(code);
    throw new Problem(known
      ? `${where}: data type ${known} (${code}) is not supported`
      : `${where}: unknown data type ${code}`);
  }
  const dims = tensorDims(t, where);
  const numel = elementCount(dims, where);
  const info = TENSOR_TYPES[dt];
  const present = TYPED_FIELDS.filter((f) => (t[f]?.length ?? 0) > 0);
  let data: OnnxTensor['data'];
  if (has(t, 'raw_data')) {
    const raw = t.raw_data as Uint8Array;
    if (dt === 'STRING') throw new Problem(`${where}: a STRING tensor cannot use raw_data`);
    if (present.length) throw new Problem(`${where}: has both raw_data and ${present.join(', ')}`);
    const expected = numel * info.size;
    if (raw.byteLength !== expected) {
      throw new Problem(`${where}: raw_data has ${count(raw.byteLength, 'byte')}, expected ${expected} (${dt} × ${numel} elements for dims ${shapeText(dims)})`);
    }
    data = fromRaw(dt, raw);
  } else {
    const wrong = present.filter((f) => f !== info.field);
    if (wrong.length) throw new Problem(`${where}: data type ${dt} stores its values in ${info.field}, but the tensor has ${wrong.join(', ')}`);
    const n = t[info.field]?.length ?? 0;
    if (n !== numel) {
      throw new Problem(`${where}: has ${n === 0 ? 'no data' : `${count(n, 'value')} in ${info.field}`}, expected ${numel} for dims ${shapeText(dims)}`);
    }
    data = fromTyped(dt, t);
  }
  const out = { name, dims, dataType: dt, data } as OnnxTensor;
  if (t.doc_string) out.docString = t.doc_string;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: types, attributes, nodes, graphs

function decodeShape(s: PbShape | undefined, where: string): OnnxDim[] | null {
  if (!s) return null;
  return (s.dim ?? []).map((d, i) => {
    if (has(d, 'dim_value')) {
      const v = longToOnnxInt(d.dim_value as PbLong);
      if (typeof v !== 'number') throw new Problem(`${where}: dimension ${i} is ${v}, too large`);
      return v;
    }
    if (has(d, 'dim_param') && d.dim_param !== '') return d.dim_param as string;
    return null;
  });
}

function elemTypeName(code: number | undefined, where: string): OnnxDataTypeName {
  const name = dataTypeName(code ?? 0);
  if (name === undefined) throw new Problem(`${where}: unknown element type ${code}`);
  return name;
}

function decodeType(t: PbType | undefined, where: string): OnnxType | null {
  if (!t) return null;
  if (t.tensor_type) {
    return { kind: 'tensor', elemType: elemTypeName(t.tensor_type.elem_type, where), shape: decodeShape(t.tensor_type.shape, where) };
  }
  if (t.sparse_tensor_type) {
    const s = t.sparse_tensor_type;
    return { kind: 'sparse_tensor', elemType: elemTypeName(s.elem_type, where), shape: decodeShape(s.shape, where) };
  }
  if (t.sequence_type) return { kind: 'sequence', elemType: decodeType(t.sequence_type.elem_type, `${where} (sequence element)`) };
  if (t.optional_type) return { kind: 'optional', elemType: decodeType(t.optional_type.elem_type, `${where} (optional element)`) };
  if (t.map_type) {
    return {
      kind: 'map',
      keyType: elemTypeName(t.map_type.key_type, where),
      valueType: decodeType(t.map_type.value_type, `${where} (map value)`),
    };
  }
  return null;
}

function decodeValueInfo(v: PbValueInfo, where: string): OnnxValueInfo {
  const name = str(v.name);
  const here = `${where} ${name ? `'${name}'` : '(unnamed)'}`;
  const out: OnnxValueInfo = { name, type: decodeType(v.type, here) };
  if (v.doc_string) out.docString = v.doc_string;
  return out;
}

/** The attribute type: the declared one, or (files from IR version 1) the field that is set. */
function attributeType(a: PbAttribute): number {
  if (a.type) return a.type;
  if (has(a, 'f')) return 1;
  if (has(a, 'i')) return 2;
  if (has(a, 's')) return 3;
  if (has(a, 't')) return 4;
  if (has(a, 'g')) return 5;
  if (a.floats?.length) return 6;
  if (a.ints?.length) return 7;
  if (a.strings?.length) return 8;
  if (a.tensors?.length) return 9;
  if (a.graphs?.length) return 10;
  if (has(a, 'sparse_tensor')) return 11;
  if (a.sparse_tensors?.length) return 12;
  if (has(a, 'tp')) return 13;
  if (a.type_protos?.length) return 14;
  return 0;
}

function decodeAttribute(a: PbAttribute, where: string): OnnxAttribute {
  const name = str(a.name);
  if (!name) throw new Problem(`${where}: an attribute has no name`);
  const here = `${where}, attribute '${name}'`;
  if (a.ref_attr_name) throw new Problem(`${here}: refers to function attribute '${a.ref_attr_name}', which is only valid inside functions`);
  const code = attributeType(a);
  let value: OnnxAttributeValue;
  switch (code) {
    case 1: value = { type: 'float', value: a.f ?? 0 }; break;
    case 2: value = { type: 'int', value: a.i === undefined ? 0 : longToOnnxInt(a.i) }; break;
    case 3: value = { type: 'string', value: bytesToString(a.s) }; break;
    case 4:
      if (!a.t) throw new Problem(`${here}: type TENSOR but no tensor`);
      value = { type: 'tensor', value: decodeTensor(a.t, `${here}, tensor`) };
      break;
    case 5:
      if (!a.g) throw new Problem(`${here}: type GRAPH but no graph`);
      value = { type: 'graph', value: decodeGraph(a.g, `${here}, subgraph`) };
      break;
    case 6: value = { type: 'floats', value: [...(a.floats ?? [])] }; break;
    case 7: value = { type: 'ints', value: (a.ints ?? []).map(longToOnnxInt) }; break;
    case 8: value = { type: 'strings', value: (a.strings ?? []).map(bytesToString) }; break;
    case 9: value = { type: 'tensors', value: (a.tensors ?? []).map((t, i) => decodeTensor(t, `${here}, tensor ${i}`)) }; break;
    case 10: value = { type: 'graphs', value: (a.graphs ?? []).map((g, i) => decodeGraph(g, `${here}, subgraph ${i}`)) }; break;
    case 0: throw new Problem(`${here}: has no value`);
    default: {
      const t = ATTRIBUTE_TYPES[code];
      throw new Problem(t ? `${here}: attributes of type ${t} are not supported` : `${here}: unknown attribute type ${code}`);
    }
  }
  const out = { name, ...value } as OnnxAttribute;
  if (a.doc_string) out.docString = a.doc_string;
  return out;
}

function decodeNode(n: PbNode, index: number, where: string): OnnxNode {
  const name = str(n.name);
  const opType = str(n.op_type);
  const here = `${where}node ${index}${name ? ` '${name}'` : ''}${opType ? ` (${opType})` : ''}`;
  if (!opType) throw new Problem(`${here}: has no op_type`);
  const attributes = (n.attribute ?? []).map((a) => decodeAttribute(a, here));
  const seen = new Set<string>();
  for (const a of attributes) {
    if (seen.has(a.name)) throw new Problem(`${here}: attribute '${a.name}' appears twice`);
    seen.add(a.name);
  }
  const out: OnnxNode = { name, opType, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes };
  if (n.domain) out.domain = n.domain;
  if (n.doc_string) out.docString = n.doc_string;
  return out;
}

/** `where` is '' for the main graph, else the path of the attribute that holds the subgraph. */
function decodeGraph(g: PbGraph, where: string): OnnxGraph {
  const prefix = where ? `${where} '${str(g.name)}': ` : '';
  if ((g.sparse_initializer?.length ?? 0) > 0) {
    throw new Problem(`${prefix}graph has ${count(g.sparse_initializer!.length, 'sparse initializer')}, which are not supported`);
  }
  const names = new Set<string>();
  const initializers = (g.initializer ?? []).map((t, i) => {
    if (!t.name) throw new Problem(`${prefix}initializer ${i} has no name`);
    if (names.has(t.name)) throw new Problem(`${prefix}initializer '${t.name}' appears twice`);
    names.add(t.name);
    return decodeTensor(t, `${prefix}initializer '${t.name}'`);
  });
  const out: OnnxGraph = {
    name: str(g.name),
    nodes: (g.node ?? []).map((n, i) => decodeNode(n, i, prefix)),
    initializers,
    inputs: (g.input ?? []).map((v) => decodeValueInfo(v, `${prefix}graph input`)),
    outputs: (g.output ?? []).map((v) => decodeValueInfo(v, `${prefix}graph output`)),
    valueInfo: (g.value_info ?? []).map((v) => decodeValueInfo(v, `${prefix}value_info`)),
  };
  if (g.doc_string) out.docString = g.doc_string;
  return out;
}

function decodeModelMessage(m: PbModel): OnnxModel {
  if (!has(m, 'ir_version') && !has(m, 'graph')) {
    throw new Problem('is not an ONNX model: no ir_version and no graph (a ModelProto has both)');
  }
  if (!has(m, 'graph')) throw new Problem('ONNX model has no graph (is the file truncated?)');
  const irVersion = longToSafe(m.ir_version, 'ir_version', 1);
  const opsetImports = (m.opset_import ?? []).map((o, i) => ({
    domain: str(o.domain),
    version: longToSafe(o.version, `opset_import[${i}] (domain '${str(o.domain)}') version`, 1),
  }));
  if (opsetImports.length === 0) throw new Problem('ONNX model has no opset_import (every model declares its operator sets; is the file truncated?)');
  const graph = decodeGraph(m.graph as PbGraph, '');
  const out: OnnxModel = {
    irVersion,
    opsetImports,
    producerName: str(m.producer_name),
    producerVersion: str(m.producer_version),
    graph,
  };
  if (m.domain) out.domain = m.domain;
  const modelVersion = m.model_version === undefined ? 0 : longToSafe(m.model_version, 'model_version');
  if (modelVersion) out.modelVersion = modelVersion;
  if (m.doc_string) out.docString = m.doc_string;
  if (m.metadata_props?.length) out.metadataProps = m.metadata_props.map((e) => ({ key: str(e.key), value: str(e.value) }));
  return out;
}

/** One line for an exception protobufjs threw while decoding. */
function describeDecodeFailure(err: unknown): string {
  const msg = describeThrown(err);
  if (/index out of range|invalid length/.test(msg)) return `is truncated or not an ONNX model: a protobuf field runs past the end of the data (${msg})`;
  if (/max depth exceeded|call stack/i.test(msg)) return `is not a valid ONNX model: protobuf messages nested too deeply (${msg})`;
  return `is not a valid ONNX model: protobuf decoding failed (${msg})`;
}

// ---------------------------------------------------------------------------------------------
// Decoding: entry points

/**
 * Decode ONNX ModelProto bytes. `file` names the source in error messages.
 * @throws ModelFileError `FILE: PROBLEM` on one line.
 */
export function decodeOnnxModel(bytes: Uint8Array, file = 'ONNX model'): OnnxModel {
  if (bytes.byteLength === 0) throw new ModelFileError(file, 'is empty (0 bytes), expected an ONNX model');
  let message: PbModel;
  try {
    message = onnxModelType().decode(bytes) as unknown as PbModel;
  } catch (err) {
    throw new ModelFileError(file, describeDecodeFailure(err), { cause: err });
  }
  try {
    return decodeModelMessage(message);
  } catch (err) {
    if (err instanceof Problem) throw new ModelFileError(file, err.message);
    throw new ModelFileError(file, `cannot decode the ONNX model: ${describeThrown(err)}`, { cause: err });
  }
}

/** ONNX files cannot exceed protobuf's 2 GiB message limit (larger models use external data). */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * Read and decode an .onnx file.
 * @throws ModelFileError naming `path` and the problem, on one line.
 */
export async function readOnnxModel(path: string): Promise<OnnxModel> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ModelFileError(path, 'is not a file, expected an ONNX model');
    size = st.size;
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    if (errCode(err) === 'ENOENT') throw new ModelFileError(path, 'does not exist', { cause: err });
    throw new ModelFileError(path, `cannot read: ${describeThrown(err)}`, { cause: err });
  }
  if (size > MAX_ONNX_BYTES) {
    throw new ModelFileError(path, `is ${size} bytes, more than protobuf's 2 GiB limit (models that large keep their weights as external data, which is not supported)`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ModelFileError(path, `cannot read: ${describeThrown(err)}`, { cause: err });
  }
  return decodeOnnxModel(bytes, path);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** int64 for protobufjs: a number when safe, else low/high words. */
function toPbLong(v: OnnxInt, what: string): PbLong {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Problem(`${what} is ${v}, expected an integer (a bigint beyond ±2^53)`);
    return v;
  }
  if (typeof v !== 'bigint' || v < -(2n ** 63n) || v >= 2n ** 63n) throw new Problem(`${what} is ${quote(v)}, expected an int64`);
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)), unsigned: false };
}

function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Problem(`${what} is ${quote(v)}, expected a string`);
  return v;
}

function checkDims(dims: unknown, where: string): number[] {
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Problem(`${where}: dims ${quote(dims)} are not a list of non-negative integers`);
  }
  return dims as number[];
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function encodeTensor(t: OnnxTensor, where: string): PbTensor {
  if (typeof t !== 'object' || t === null) throw new Problem(`${where}: is ${quote(t)}, expected a tensor object`);
  checkName(t.name, `${where}: name`);
  const dt = t.dataType;
  const info = TENSOR_TYPES[dt as OnnxTensorDataType];
  if (!Object.prototype.hasOwnProperty.call(TENSOR_TYPES, dt) || !info) {
    throw new Problem(`${where}: data type ${quote(dt)} is not one apc writes (${Object.keys(TENSOR_TYPES).join(', ')})`);
  }
  const dims = checkDims(t.dims, where);
  const numel = elementCount(dims, where);
  const cls = DATA_CLASS[dt];
  if (!cls.is(t.data)) throw new Problem(`${where}: data for ${dt} must be ${cls.name}`);
  if (t.data.length !== numel) {
    throw new Problem(`${where}: has ${count(t.data.length, 'value')}, dims ${shapeText(dims)} need ${numel}`);
  }
  const out: PbTensor = { dims, data_type: info.code };
  if (t.name) out.name = t.name;
  if (t.dataType === 'STRING') {
    out.string_data = t.data.map((s) => utf8Encoder.encode(s));
  } else {
    assertLittleEndianHost();
    switch (t.dataType) {
      case 'FLOAT16': out.raw_data = bytesOf(float32ToHalfBitsArray(t.data)); break;
      case 'BFLOAT16': out.raw_data = bytesOf(float32ToBfloat16BitsArray(t.data)); break;
      case 'BOOL': out.raw_data = t.data.map((v) => (v ? 1 : 0)); break;
      default: out.raw_data = bytesOf(t.data);
    }
  }
  if (t.docString) out.doc_string = t.docString;
  return out;
}

function checkNumberList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new Problem(`${what} is ${quote(v)}, expected a list of numbers`);
  return v;
}

function encodeAttribute(a: OnnxAttribute, where: string): PbAttribute {
  const name = checkName(a?.name, `${where}: attribute name`);
  if (!name) throw new Problem(`${where}: an attribute has an empty name`);
  const here = `${where}, attribute '${name}'`;
  const out: PbAttribute = { name };
  switch (a.type) {
    case 'float':
      if (typeof a.value !== 'number') throw new Problem(`${here}: value ${quote(a.value)} is not a number`);
      out.type = 1; out.f = a.value; break;
    case 'int': out.type = 2; out.i = toPbLong(a.value, `${here}: value`); break;
    case 'string': out.type = 3; out.s = utf8Encoder.encode(checkName(a.value, `${here}: value`)); break;
    case 'tensor': out.type = 4; out.t = encodeTensor(a.value, `${here}, tensor`); break;
    case 'graph': out.type = 5; out.g = encodeGraph(a.value, `${here}, subgraph`); break;
    case 'floats': out.type = 6; out.floats = checkNumberList(a.value, `${here}: value`); break;
    case 'ints':
      if (!Array.isArray(a.value)) throw new Problem(`${here}: value ${quote(a.value)} is not a list`);
      out.type = 7; out.ints = a.value.map((v, i) => toPbLong(v, `${here}: value[${i}]`)); break;
    case 'strings':
      if (!Array.isArray(a.value)) throw new Problem(`${here}: value ${quote(a.value)} is not a list`);
      out.type = 8; out.strings = a.value.map((s, i) => utf8Encoder.encode(checkName(s, `${here}: value[${i}]`))); break;
    case 'tensors':
      if (!Array.isArray(a.value)) throw new Problem(`${here}: value ${quote(a.value)} is not a list`);
      out.type = 9; out.tensors = a.value.map((t, i) => encodeTensor(t, `${here}, tensor ${i}`)); break;
    case 'graphs':
      if (!Array.isArray(a.value)) throw new Problem(`${here}: value ${quote(a.value)} is not a list`);
      out.type = 10; out.graphs = a.value.map((g, i) => encodeGraph(g, `${here}, subgraph ${i}`)); break;
    default:
      throw new Problem(`${here}: unknown attribute type ${quote((a as { type: unknown }).type)}`);
  }
  if (a.docString) out.doc_string = a.docString;
  return out;
}

function encodeNode(n: OnnxNode, index: number, where: string): PbNode {
  const opType = checkName(n?.opType, `${where}node ${index}: opType`);
  const here = `${where}node ${index}${n.name ? ` '${n.name}'` : ''} (${opType})`;
  if (!opType) throw new Problem(`${here}: empty opType`);
  const strings = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Problem(`${here}: ${what} ${quote(v)} are not a list of strings`);
    return v;
  };
  const name = checkName(n.name ?? '', `${here}: name`);
  const out: PbNode = {
    input: strings(n.inputs, 'inputs'),
    output: strings(n.outputs, 'outputs'),
    op_type: opType,
    attribute: (n.attributes ?? []).map((a) => encodeAttribute(a, here)),
  };
  if (name) out.name = name;
  if (n.domain) out.domain = n.domain;
  if (n.docString) out.doc_string = n.docString;
  return out;
}

function encodeDims(shape: OnnxDim[] | null, where: string): PbShape | undefined {
  if (shape === null || shape === undefined) return undefined;
  if (!Array.isArray(shape)) throw new Problem(`${where}: shape ${quote(shape)} is not a list`);
  return {
    dim: shape.map((d, i) => {
      if (d === null) return {};
      if (typeof d === 'string') return { dim_param: d };
      if (Number.isSafeInteger(d)) return { dim_value: d };
      throw new Problem(`${where}: dimension ${i} is ${quote(d)}, expected an integer, a name or null`);
    }),
  };
}

function elemTypeCode(name: OnnxDataTypeName, where: string): number {
  const code = ONNX_DATA_TYPES.indexOf(name);
  if (code < 0) throw new Problem(`${where}: unknown element type ${quote(name)}`);
  return code;
}

function encodeType(t: OnnxType | null, where: string): PbType | undefined {
  if (t === null || t === undefined) return undefined;
  switch (t.kind) {
    case 'tensor': return { tensor_type: { elem_type: elemTypeCode(t.elemType, where), shape: encodeDims(t.shape, where) } };
    case 'sparse_tensor': return { sparse_tensor_type: { elem_type: elemTypeCode(t.elemType, where), shape: encodeDims(t.shape, where) } };
    case 'sequence': return { sequence_type: { elem_type: encodeType(t.elemType, where) } };
    case 'optional': return { optional_type: { elem_type: encodeType(t.elemType, where) } };
    case 'map': return { map_type: { key_type: elemTypeCode(t.keyType, where), value_type: encodeType(t.valueType, where) } };
    default: throw new Problem(`${where}: unknown type kind ${quote((t as { kind: unknown }).kind)}`);
  }
}

function encodeValueInfo(v: OnnxValueInfo, where: string): PbValueInfo {
  const name = checkName(v?.name, `${where} name`);
  const here = `${where} '${name}'`;
  const out: PbValueInfo = {};
  if (name) out.name = name;
  const type = encodeType(v.type, here);
  if (type) out.type = type;
  if (v.docString) out.doc_string = v.docString;
  return out;
}

function encodeGraph(g: OnnxGraph, where: string): PbGraph {
  if (typeof g !== 'object' || g === null) throw new Problem(`${where || 'model'}: graph is ${quote(g)}, expected a graph object`);
  const prefix = where ? `${where} '${g.name}': ` : '';
  const list = <T>(v: T[] | undefined, what: string): T[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new Problem(`${prefix}graph ${what} is ${quote(v)}, expected a list`);
    return v;
  };
  const names = new Set<string>();
  const name = checkName(g.name ?? '', `${prefix}graph name`);
  const out: PbGraph = {
    node: list(g.nodes, 'nodes').map((n, i) => encodeNode(n, i, prefix)),
    initializer: list(g.initializers, 'initializers').map((t, i) => {
      if (typeof t?.name !== 'string' || !t.name) throw new Problem(`${prefix}initializer ${i} has no name`);
      if (names.has(t.name)) throw new Problem(`${prefix}initializer '${t.name}' appears twice`);
      names.add(t.name);
      return encodeTensor(t, `${prefix}initializer '${t.name}'`);
    }),
    input: list(g.inputs, 'inputs').map((v) => encodeValueInfo(v, `${prefix}graph input`)),
    output: list(g.outputs, 'outputs').map((v) => encodeValueInfo(v, `${prefix}graph output`)),
    value_info: list(g.valueInfo, 'valueInfo').map((v) => encodeValueInfo(v, `${prefix}value_info`)),
  };
  if (name) out.name = name;
  if (g.docString) out.doc_string = g.docString;
  return out;
}

function encodeModelMessage(m: OnnxModel): PbModel {
  if (typeof m !== 'object' || m === null) throw new Problem(`is ${quote(m)}, expected an ONNX model object`);
  if (!Number.isSafeInteger(m.irVersion) || m.irVersion < 1) throw new Problem(`irVersion ${quote(m.irVersion)} is not a positive integer`);
  if (!Array.isArray(m.opsetImports) || m.opsetImports.length === 0) throw new Problem('opsetImports is empty; a model must import at least one operator set');
  const out: PbModel = {
    ir_version: m.irVersion,
    opset_import: m.opsetImports.map((o, i) => {
      if (!Number.isSafeInteger(o?.version) || o.version < 1) throw new Problem(`opsetImports[${i}].version ${quote(o?.version)} is not a positive integer`);
      const domain = checkName(o.domain ?? '', `opsetImports[${i}].domain`);
      return domain ? { domain, version: o.version } : { version: o.version };
    }),
    graph: encodeGraph(m.graph, ''),
  };
  const producerName = checkName(m.producerName ?? '', 'producerName');
  const producerVersion = checkName(m.producerVersion ?? '', 'producerVersion');
  if (producerName) out.producer_name = producerName;
  if (producerVersion) out.producer_version = producerVersion;
  if (m.domain) out.domain = m.domain;
  if (m.modelVersion) out.model_version = toPbLong(m.modelVersion, 'modelVersion');
  if (m.docString) out.doc_string = m.docString;
  if (m.metadataProps?.length) out.metadata_props = m.metadataProps.map((e) => ({ key: e.key, value: e.value }));
  return out;
}

/**
 * Encode a model as ONNX ModelProto bytes (numeric tensors as little-endian raw_data).
 * `label` names the model in error messages (the target file, say).
 * @throws ModelFileError when the structure is not a valid model (wrong data length, bad dims …).
 */
export function encodeOnnxModel(model: OnnxModel, label = 'ONNX model'): Uint8Array {
  try {
    const message = encodeModelMessage(model);
    const bytes = onnxModelType().encode(message).finish();
    // protobufjs hands back a Node Buffer, small ones carved from a shared pool: give callers a
    // plain Uint8Array that owns its memory (so .slice() copies and .buffer is just the model)
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return new Uint8Array(bytes.buffer);
    const own = new Uint8Array(bytes.byteLength);
    own.set(bytes);
    return own;
  } catch (err) {
    if (err instanceof Problem) throw new ModelFileError(label, err.message);
    throw new ModelFileError(label, `cannot encode the ONNX model: ${describeThrown(err)}`, { cause: err });
  }
}

/**
 * Encode `model` and write it to `path` atomically.
 * @throws ModelFileError naming `path`.
 */
export async function writeOnnxModel(path: string, model: OnnxModel): Promise<void> {
  const bytes = encodeOnnxModel(model, path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    if (err instanceof FileWriteError) throw new ModelFileError(path, `cannot write: ${describeThrown(err.cause ?? err)}`, { cause: err });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Conveniences for converters

/** The attribute `name` of `node`, if it has one. */
export function findAttribute(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

/** A FLOAT tensor (copies `values` when it is not already a Float32Array). */
export function float32Tensor(name: string, dims: number[], values: Float32Array | ArrayLike<number>): OnnxTensor {
  return { name, dims: [...dims], dataType: 'FLOAT', data: values instanceof Float32Array ? values : Float32Array.from(values) };
}

/** An INT64 tensor, e.g. a Reshape shape or Pad pads. */
export function int64Tensor(name: string, dims: number[], values: ArrayLike<number | bigint>): OnnxTensor {
  return { name, dims: [...dims], dataType: 'INT64', data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}
