/**
 * safetensors files (the format of Hugging Face / PyTorch state dicts): read and write.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON mapping each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data section), plus an
 * optional `__metadata__` object of strings, then the data section. The header is padded with
 * spaces so the data starts at a multiple of 8.
 *
 * Reading checks everything before allocating for it: N against the file length and a 100 MB
 * cap (the reference implementation's), the JSON, every entry (known dtype, non-negative integer
 * shape, end − begin = numel × itemsize, offsets inside the data section, no two tensors
 * overlapping). F16, BF16 and F64 tensors are converted to Float32Array (`dtype` keeps the file's
 * type); I64 is a BigInt64Array. Gaps between tensors are allowed (and ignored).
 *
 * Every failure is a `ModelFileError`: `FILE: PROBLEM` on one line, naming the tensor.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { FileWriteError, writeFileAtomic } from '../../engine/files.js';
import { count, describeThrown, ModelFileError, quote } from './errors.js';
import {
  bfloat16BitsToFloat32, float32ToBfloat16BitsArray, float32ToHalfBitsArray, halfBitsToFloat32,
} from './half.js';

/** The typed array each dtype reads as. F16, BF16 and F64 are converted to float32. */
export interface SafetensorsDataMap {
  F64: Float32Array;
  F32: Float32Array;
  F16: Float32Array;
  BF16: Float32Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  /** One byte per element, 0 or 1. */
  BOOL: Uint8Array;
}

export type SafetensorsDtype = keyof SafetensorsDataMap;

interface SafeTensorOf<K extends SafetensorsDtype> {
  /** The dtype in the file. */
  dtype: K;
  shape: number[];
  /** Row-major values, `product(shape)` of them. */
  data: SafetensorsDataMap[K];
}

/** One tensor read from a file. */
export type SafeTensor = { [K in SafetensorsDtype]: SafeTensorOf<K> }[SafetensorsDtype];

export interface SafetensorsFile {
  /** In the order of their data in the file. */
  tensors: Map<string, SafeTensor>;
  /** `__metadata__`, or null when the file has none. */
  metadata: Record<string, string> | null;
}

/** What the writer takes: F64 also accepts a Float64Array (written exactly). */
export type SafeTensorInput = SafeTensor | { dtype: 'F64'; shape: number[]; data: Float64Array };

/** Largest header accepted (bytes), as in the reference implementation. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const ITEM_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** dtypes of the format that apc does not read. */
const UNSUPPORTED_DTYPES = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64', 'C128']);

const LITTLE_ENDIAN = endianness() === 'LE';

class Problem extends Error {}

/** A validated header entry. */
interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numel(shape: readonly number[], where: string): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw new Problem(`${where}: shape ${quote(shape)} has too many elements`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Header

/** N from the first 8 bytes, checked against the file size and the cap. */
function headerLength(first8: Uint8Array, fileSize: number): number {
  const n = Buffer.from(first8.buffer, first8.byteOffset, 8).readBigUInt64LE(0);
  if (n === 0n) throw new Problem('header length is 0, expected a JSON header (not a safetensors file?)');
  if (n > BigInt(fileSize - 8)) {
    throw new Problem(`header length ${n} exceeds the file (${fileSize} bytes): not a safetensors file, or truncated`);
  }
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new Problem(`header length ${n} is larger than the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`);
  }
  return Number(n);
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** Parse and validate the JSON header; entries sorted by offset. `dataSize` = bytes after the header. */
function parseHeader(headerBytes: Uint8Array, dataSize: number): { entries: Entry[]; metadata: Record<string, string> | null } {
  let text: string;
  try {
    text = utf8Fatal.decode(headerBytes);
  } catch {
    throw new Problem('header is not valid UTF-8 (not a safetensors file?)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Problem(`header is not valid JSON (${describeThrown(err).slice(0, 120)})`);
  }
  if (!isRecord(json)) throw new Problem(`header is ${Array.isArray(json) ? 'a JSON array' : `JSON ${typeof json}`}, expected an object of tensors`);

  let metadata: Record<string, string> | null = null;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(info)) throw new Problem(`__metadata__ is ${quote(info)}, expected an object of strings`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new Problem(`__metadata__ '${k}' is ${quote(v)}, expected a string`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(name, info, dataSize));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const p = entries[i - 1];
    const e = entries[i];
    if (e.begin < p.end) {
      throw new Problem(`tensor '${e.name}' (bytes ${e.begin}–${e.end}) overlaps tensor '${p.name}' (bytes ${p.begin}–${p.end})`);
    }
  }
  return { entries, metadata };
}

function parseEntry(name: string, info: unknown, dataSize: number): Entry {
  const where = `tensor '${name}'`;
  if (!isRecord(info)) throw new Problem(`${where}: entry is ${quote(info)}, expected {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== 'string') throw new Problem(`${where}: dtype is ${quote(dtype)}, expected a string`);
  if (!Object.prototype.hasOwnProperty.call(ITEM_SIZE, dtype)) {
    throw new Problem(UNSUPPORTED_DTYPES.has(dtype) ? `${where}: dtype ${dtype} is not supported` : `${where}: unknown dtype ${quote(dtype)}`);
  }
  const dt = dtype as SafetensorsDtype;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Problem(`${where}: shape ${quote(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Problem(`${where}: data_offsets ${quote(offsets)} is not [begin, end] with non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Problem(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) {
    throw new Problem(`${where}: data_offsets [${begin}, ${end}] run past the data section (${count(dataSize, 'byte')}; file truncated?)`);
  }
  const n = numel(shape as number[], where);
  const expected = n * ITEM_SIZE[dt];
  if (end - begin !== expected) {
    throw new Problem(`${where}: data_offsets [${begin}, ${end}] hold ${count(end - begin, 'byte')}, but ${dt} shape ${quote(shape)} needs ${expected} (${n} × ${ITEM_SIZE[dt]})`);
  }
  return { name, dtype: dt, shape: [...(shape as number[])], begin, end };
}

// ---------------------------------------------------------------------------------------------
// Data

function toTensor(e: Entry, raw: Uint8Array): SafeTensor {
  if (!LITTLE_ENDIAN) throw new Problem('this machine is big-endian; safetensors data is little-endian and apc does not swap it');
  const b = new Uint8Array(raw.byteLength);
  b.set(raw);
  const buf = b.buffer;
  const shape = e.shape;
  switch (e.dtype) {
    case 'F32': return { dtype: 'F32', shape, data: new Float32Array(buf) };
    case 'F64': return { dtype: 'F64', shape, data: Float32Array.from(new Float64Array(buf)) };
    case 'F16': return { dtype: 'F16', shape, data: halfBitsToFloat32(new Uint16Array(buf)) };
    case 'BF16': return { dtype: 'BF16', shape, data: bfloat16BitsToFloat32(new Uint16Array(buf)) };
    case 'I64': return { dtype: 'I64', shape, data: new BigInt64Array(buf) };
    case 'I32': return { dtype: 'I32', shape, data: new Int32Array(buf) };
    case 'I16': return { dtype: 'I16', shape, data: new Int16Array(buf) };
    case 'I8': return { dtype: 'I8', shape, data: new Int8Array(buf) };
    case 'U64': return { dtype: 'U64', shape, data: new BigUint64Array(buf) };
    case 'U32': return { dtype: 'U32', shape, data: new Uint32Array(buf) };
    case 'U16': return { dtype: 'U16', shape, data: new Uint16Array(buf) };
    case 'U8': return { dtype: 'U8', shape, data: b };
    case 'BOOL': return { dtype: 'BOOL', shape, data: b.map((v) => (v ? 1 : 0)) };
  }
}

/**
 * Decode a whole safetensors file held in memory. `file` names it in error messages.
 * @throws ModelFileError `FILE: PROBLEM` on one line.
 */
export function decodeSafetensors(bytes: Uint8Array, file = 'safetensors'): SafetensorsFile {
  try {
    if (bytes.byteLength < 8) throw new Problem(`is ${count(bytes.byteLength, 'byte')}, too short for a safetensors file (8-byte header length first)`);
    const n = headerLength(bytes.subarray(0, 8), bytes.byteLength);
    const data = bytes.subarray(8 + n);
    const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + n), data.byteLength);
    const tensors = new Map<string, SafeTensor>();
    for (const e of entries) tensors.set(e.name, toTensor(e, data.subarray(e.begin, e.end)));
    return { tensors, metadata };
  } catch (err) {
    if (err instanceof Problem) throw new ModelFileError(file, err.message);
    throw new ModelFileError(file, `cannot decode the safetensors file: ${describeThrown(err)}`, { cause: err });
  }
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Exactly `length` bytes at `position`, or a Problem when the file ends first. */
async function readAt(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, Math.min(length - done, 1 << 30), position + done);
    if (bytesRead === 0) throw new Problem(`ended at byte ${position + done} while reading ${length} bytes at ${position} (file changed while reading?)`);
    done += bytesRead;
  }
  return out;
}

/**
 * Read a .safetensors file: the header first (checked before anything else is read), then each
 * tensor's bytes straight from the file, so memory is the tensors themselves plus one tensor's bytes.
 * @throws ModelFileError naming `path` (and the tensor) on one line.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') throw new ModelFileError(path, 'does not exist', { cause: err });
    throw new ModelFileError(path, `cannot open: ${describeThrown(err)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Problem('is not a file, expected a .safetensors file');
    const size = st.size;
    if (size < 8) throw new Problem(`is ${count(size, 'byte')}, too short for a safetensors file (8-byte header length first)`);
    const n = headerLength(await readAt(fh, 0, 8), size);
    const { entries, metadata } = parseHeader(await readAt(fh, 8, n), size - 8 - n);
    const tensors = new Map<string, SafeTensor>();
    for (const e of entries) {
      const raw = await readAt(fh, 8 + n + e.begin, e.end - e.begin);
      tensors.set(e.name, toTensor(e, raw));
    }
    return { tensors, metadata };
  } catch (err) {
    if (err instanceof Problem) throw new ModelFileError(path, err.message);
    if (errCode(err) === 'EISDIR') throw new ModelFileError(path, 'is a directory, expected a .safetensors file', { cause: err });
    throw new ModelFileError(path, `cannot read: ${describeThrown(err)}`, { cause: err });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const DATA_CHECK: Record<SafetensorsDtype, { name: string; is: (d: unknown) => boolean }> = {
  F64: { name: 'Float64Array or Float32Array', is: (d) => d instanceof Float64Array || d instanceof Float32Array },
  F32: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  F16: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  BF16: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  I64: { name: 'BigInt64Array', is: (d) => d instanceof BigInt64Array },
  I32: { name: 'Int32Array', is: (d) => d instanceof Int32Array },
  I16: { name: 'Int16Array', is: (d) => d instanceof Int16Array },
  I8: { name: 'Int8Array', is: (d) => d instanceof Int8Array },
  U64: { name: 'BigUint64Array', is: (d) => d instanceof BigUint64Array },
  U32: { name: 'Uint32Array', is: (d) => d instanceof Uint32Array },
  U16: { name: 'Uint16Array', is: (d) => d instanceof Uint16Array },
  U8: { name: 'Uint8Array', is: (d) => d instanceof Uint8Array },
  BOOL: { name: 'Uint8Array', is: (d) => d instanceof Uint8Array },
};

function tensorBytes(t: SafeTensorInput): Uint8Array {
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F64': return view(t.data instanceof Float64Array ? t.data : Float64Array.from(t.data));
    case 'F16': return view(float32ToHalfBitsArray(t.data));
    case 'BF16': return view(float32ToBfloat16BitsArray(t.data));
    case 'BOOL': return t.data.map((v) => (v ? 1 : 0));
    default: return view(t.data);
  }
}

/**
 * Encode tensors (in the given order) and optional string metadata as a safetensors file.
 * F16/BF16 take float32 values and round them to nearest even. `label` names the output in errors.
 * @throws ModelFileError naming the tensor when its dtype, shape or data is invalid.
 */
export function encodeSafetensors(
  tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>,
  metadata: Record<string, string> | null = null,
  label = 'safetensors',
): Uint8Array {
  try {
    if (!LITTLE_ENDIAN) throw new Problem('this machine is big-endian; safetensors data is little-endian and apc does not swap it');
    const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
    const header: Record<string, unknown> = {};
    if (metadata) {
      for (const [k, v] of Object.entries(metadata)) {
        if (typeof v !== 'string') throw new Problem(`metadata '${k}' is ${quote(v)}, expected a string`);
      }
      header.__metadata__ = metadata;
    }
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [name, t] of list) {
      const where = `tensor '${name}'`;
      if (name === '__metadata__') throw new Problem(`${where}: the name is reserved for metadata`);
      if (typeof t !== 'object' || t === null || !Object.prototype.hasOwnProperty.call(ITEM_SIZE, t.dtype)) {
        throw new Problem(`${where}: dtype ${quote((t as { dtype?: unknown } | null)?.dtype)} is not one of ${Object.keys(ITEM_SIZE).join(', ')}`);
      }
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new Problem(`${where}: shape ${quote(t.shape)} is not a list of non-negative integers`);
      }
      const check = DATA_CHECK[t.dtype];
      if (!check.is(t.data)) throw new Problem(`${where}: data for ${t.dtype} must be ${check.name}`);
      const n = numel(t.shape, where);
      if (t.data.length !== n) throw new Problem(`${where}: has ${count(t.data.length, 'value')}, shape ${quote(t.shape)} needs ${n}`);
      const bytes = tensorBytes(t);
      Object.defineProperty(header, name, {
        value: { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] },
        enumerable: true, writable: true, configurable: true,
      });
      parts.push(bytes);
      offset += bytes.byteLength;
    }
    let json = JSON.stringify(header);
    const jsonBytes = Buffer.byteLength(json, 'utf8');
    json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
    const headerBytes = Buffer.from(json, 'utf8');
    const out = new Uint8Array(8 + headerBytes.byteLength + offset);
    Buffer.from(out.buffer).writeBigUInt64LE(BigInt(headerBytes.byteLength), 0);
    out.set(headerBytes, 8);
    let at = 8 + headerBytes.byteLength;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  } catch (err) {
    if (err instanceof Problem) throw new ModelFileError(label, err.message);
    throw new ModelFileError(label, `cannot encode the safetensors file: ${describeThrown(err)}`, { cause: err });
  }
}

/**
 * Encode and write a .safetensors file atomically.
 * @throws ModelFileError naming `path`.
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>,
  metadata: Record<string, string> | null = null,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata, path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    if (err instanceof FileWriteError) throw new ModelFileError(path, `cannot write: ${describeThrown(err.cause ?? err)}`, { cause: err });
    throw err;
  }
}
