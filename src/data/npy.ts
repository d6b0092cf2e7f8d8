/**
 * NumPy .npy files: read format versions 1.0, 2.0 and 3.0, write 1.0 (2.0 when the header needs
 * it), byte for byte as `numpy.save` writes them.
 *
 * Layout: magic `\x93NUMPY`, major and minor version bytes, the header length (u16 LE in 1.0,
 * u32 LE in 2.0/3.0), a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape':
 * (2, 3), }` padded with spaces and a newline so the data starts at a multiple of 64, then the
 * data in C order.
 *
 * dtypes: `<f4`, `<f8` (read as Float32Array unless asked to keep float64), `<i4`, `<i8`
 * (BigInt64Array), `|u1`, `|i1`, `|b1` (Uint8Array of 0/1). C order only. The header length and
 * the data length (numel × itemsize) are checked against the file before anything is allocated.
 *
 * Every failure is a BadInputError: `FILE: PROBLEM` on one line.
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { FileWriteError, writeFileAtomic } from '../engine/files.js';
import { BadInputError, describeThrown } from './bad_input.js';

export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8' | '|u1' | '|i1' | '|b1';

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface NpyArray {
  /** `[]` for a 0-d array. */
  shape: number[];
  /** The dtype in the file (1-byte types normalised to the `|` prefix). */
  dtype: NpyDtype;
  /** C-order values: Float32Array for `<f4` (and `<f8` unless `keepFloat64`), Float64Array, Int32Array, BigInt64Array, Uint8Array (`|u1`, `|b1` as 0/1) or Int8Array. */
  data: NpyData;
  /** True when the file held float64 values and `data` holds them narrowed to float32. */
  narrowed: boolean;
}

export interface NpyReadOptions {
  /** Keep `<f8` data as a Float64Array instead of narrowing it to float32 (default false). */
  keepFloat64?: boolean;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM_SIZE: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1, '|i1': 1, '|b1': 1 };
const SUPPORTED = Object.keys(ITEM_SIZE).join(', ');
const LITTLE_ENDIAN = endianness() === 'LE';
/** numpy.lib.format.ARRAY_ALIGN and GROWTH_AXIS_MAX_DIGITS. */
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

class Problem extends Error {}

function bad(file: string, problem: string): BadInputError {
  return new BadInputError(file, problem, { skippable: false });
}

function short(s: string, max = 60): string {
  const t = JSON.stringify(s);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

// ---------------------------------------------------------------------------------------------
// The header: a Python dict literal

type PyValue = string | boolean | null | number[] | { list: true };

/** Parse the subset of Python literals a .npy header uses: a dict of str keys → str, bool, None, tuple of ints, list. */
function parseHeaderDict(text: string): Map<string, PyValue> {
  let i = 0;
  const fail = (what: string): never => {
    throw new Problem(`header is not a valid .npy header dict (${what} at character ${i}: ${short(text.slice(Math.max(0, i - 10), i + 20))})`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const str = (): string => {
    const q = text[i];
    if (q !== "'" && q !== '"') fail('expected a quoted string');
    i++;
    let out = '';
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\') {
        i++;
        if (i >= text.length) break;
      }
      out += text[i++];
    }
    if (text[i] !== q) fail('unterminated string');
    i++;
    return out;
  };
  const int = (): number => {
    const start = i;
    while (i < text.length && text[i] >= '0' && text[i] <= '9') i++;
    if (i === start) fail('expected a non-negative integer');
    const n = Number(text.slice(start, i));
    if (text[i] === 'L') i++; // Python 2 long
    if (!Number.isSafeInteger(n)) fail(`dimension ${text.slice(start, i)} is too large`);
    return n;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') return str();
    if (text.startsWith('True', i)) { i += 4; return true; }
    if (text.startsWith('False', i)) { i += 5; return false; }
    if (text.startsWith('None', i)) { i += 4; return null; }
    if (c === '(') {
      i++;
      const dims: number[] = [];
      ws();
      if (text[i] === ')') { i++; return dims; }
      for (;;) {
        ws();
        dims.push(int());
        ws();
        if (text[i] === ',') { i++; ws(); if (text[i] === ')') { i++; return dims; } continue; }
        if (text[i] === ')') {
          i++;
          if (dims.length === 1) fail("a 1-tuple needs a trailing comma, '(n,)'");
          return dims;
        }
        fail("expected ',' or ')' in the shape tuple");
      }
    }
    if (c === '[') {
      // a structured dtype's field list: skip it, bracket-balanced, strings respected
      let depth = 0;
      while (i < text.length) {
        const ch = text[i];
        if (ch === "'" || ch === '"') { str(); continue; }
        if (ch === '[' || ch === '(') depth++;
        if (ch === ']' || ch === ')') depth--;
        i++;
        if (depth === 0) return { list: true };
      }
      fail('unterminated list');
    }
    return fail('expected a value');
  };

  const out = new Map<string, PyValue>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') { i++; break; }
    const k = str();
    expect(':');
    if (out.has(k)) fail(`key '${k}' appears twice`);
    out.set(k, value());
    ws();
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '}') { i++; break; }
    fail("expected ',' or '}'");
  }
  ws();
  if (i < text.length) fail('unexpected text after the dict');
  return out;
}

function normaliseDtype(descr: string): NpyDtype {
  const m = /^([<>|=]?)([a-zA-Z]\d*)$/.exec(descr);
  const kind = m?.[2];
  if (kind === 'u1' || kind === 'i1' || kind === 'b1') return `|${kind}`;
  if (m && (m[1] === '<' || (m[1] === '=' && LITTLE_ENDIAN)) && (kind === 'f4' || kind === 'f8' || kind === 'i4' || kind === 'i8')) {
    return `<${kind}`;
  }
  if (m && m[1] === '>' && ['f4', 'f8', 'i4', 'i8'].includes(kind ?? '')) {
    throw new Problem(`big-endian dtype '${descr}' is not supported (save the array with .astype('<${kind}'))`);
  }
  throw new Problem(`dtype ${short(descr)} is not supported (supported: ${SUPPORTED})`);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Header fields and where the data starts. */
function parseNpy(bytes: Uint8Array): { dtype: NpyDtype; shape: number[]; dataStart: number } {
  if (bytes.byteLength < 10) throw new Problem(`is ${bytes.byteLength} bytes, too short for a .npy file`);
  if (!MAGIC.every((b, k) => bytes[k] === b)) {
    throw new Problem(`is not a .npy file (starts with ${[...bytes.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}, expected 93 4e 55 4d 50 59 = \\x93NUMPY)`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) throw new Problem(`has .npy format version ${major}.${minor}; supported: 1.0, 2.0, 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else {
    if (bytes.byteLength < 12) throw new Problem(`is ${bytes.byteLength} bytes, too short for a version ${major}.0 .npy file`);
    headerLen = view.getUint32(8, true);
    start = 12;
  }
  if (start + headerLen > bytes.byteLength) {
    throw new Problem(`header length ${headerLen} exceeds the file (${bytes.byteLength} bytes; truncated?)`);
  }
  const headerBytes = bytes.subarray(start, start + headerLen);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: major === 3 }).decode(headerBytes);
  } catch {
    throw new Problem('header is not valid UTF-8');
  }
  const dict = parseHeaderDict(text);
  const keys = [...dict.keys()].sort().join(', ');
  if (keys !== 'descr, fortran_order, shape') {
    throw new Problem(`header has keys {${keys}}, expected exactly descr, fortran_order and shape`);
  }
  const descr = dict.get('descr');
  if (typeof descr === 'object' && descr !== null && !Array.isArray(descr)) {
    throw new Problem('structured dtypes (a list of fields as descr) are not supported');
  }
  if (typeof descr !== 'string') throw new Problem(`descr is ${short(String(descr))}, expected a dtype string like '<f4'`);
  const fortran = dict.get('fortran_order');
  if (typeof fortran !== 'boolean') throw new Problem(`fortran_order is ${short(String(fortran))}, expected True or False`);
  const shape = dict.get('shape');
  if (!Array.isArray(shape)) throw new Problem(`shape is ${short(String(shape))}, expected a tuple of integers`);
  const dtype = normaliseDtype(descr);
  if (fortran) throw new Problem('fortran_order is True; only C-order arrays are supported (save np.ascontiguousarray(a) instead)');
  return { dtype, shape, dataStart: start + headerLen };
}

/**
 * Decode a .npy file held in memory. `file` names it in errors.
 * @throws BadInputError `FILE: PROBLEM` on one line.
 */
export function decodeNpy(bytes: Uint8Array, file = 'npy', options: NpyReadOptions = {}): NpyArray {
  try {
    if (!LITTLE_ENDIAN) throw new Problem('this machine is big-endian; apc reads little-endian .npy data only');
    const { dtype, shape, dataStart } = parseNpy(bytes);
    let n = 1;
    for (const d of shape) n *= d;
    if (!Number.isSafeInteger(n)) throw new Problem(`shape (${shape.join(', ')}) has too many elements`);
    const need = n * ITEM_SIZE[dtype];
    const have = bytes.byteLength - dataStart;
    if (have !== need) {
      throw new Problem(`has ${have} bytes of data after the header, expected ${need} (${dtype} × shape (${shape.join(', ')})${have < need ? '; truncated?' : ''})`);
    }
    const copy = new Uint8Array(need);
    copy.set(bytes.subarray(dataStart));
    const buf = copy.buffer;
    let data: NpyData;
    let narrowed = false;
    switch (dtype) {
      case '<f4': data = new Float32Array(buf); break;
      case '<f8':
        data = new Float64Array(buf);
        if (!options.keepFloat64) { data = Float32Array.from(data); narrowed = true; }
        break;
      case '<i4': data = new Int32Array(buf); break;
      case '<i8': data = new BigInt64Array(buf); break;
      case '|u1': data = copy; break;
      case '|i1': data = new Int8Array(buf); break;
      case '|b1': data = copy.map((v) => (v ? 1 : 0)); break;
    }
    return { shape, dtype, data, narrowed };
  } catch (err) {
    if (err instanceof Problem) throw bad(file, err.message);
    throw bad(file, `cannot decode the .npy file: ${describeThrown(err)}`);
  }
}

/**
 * Read a .npy file.
 * @throws BadInputError naming `path` on one line.
 */
export async function readNpy(path: string, options: NpyReadOptions = {}): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
    if (code === 'ENOENT') throw bad(path, 'does not exist');
    if (code === 'EISDIR') throw bad(path, 'is a directory, expected a .npy file');
    throw bad(path, `cannot read: ${describeThrown(err)}`);
  }
  return decodeNpy(bytes, path, options);
}

// ---------------------------------------------------------------------------------------------
// Writing

function dtypeOf(data: unknown, bool: boolean): NpyDtype | undefined {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Uint8Array) return bool ? '|b1' : '|u1';
  if (data instanceof Int8Array) return '|i1';
  return undefined;
}

/**
 * Encode a C-order array as .npy bytes identical to what `numpy.save` writes (format 1.0; 2.0
 * only for headers over 64 KiB). The dtype follows the array: Float32Array → `<f4` (the usual
 * case), Float64Array → `<f8`, Int32Array → `<i4`, BigInt64Array → `<i8`, Int8Array → `|i1`,
 * Uint8Array → `|u1` (`|b1` with `{ bool: true }`). `label` names the output in errors.
 * @throws BadInputError when the shape does not match the data.
 */
export function encodeNpy(shape: readonly number[], data: NpyData, options: { bool?: boolean } = {}, label = 'npy'): Uint8Array {
  if (!LITTLE_ENDIAN) throw bad(label, 'this machine is big-endian; apc writes little-endian .npy data only');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(label, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const dtype = dtypeOf(data, options.bool ?? false);
  if (!dtype) throw bad(label, 'data must be a Float32Array, Float64Array, Int32Array, BigInt64Array, Int8Array or Uint8Array');
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw bad(label, `has ${data.length} values, shape (${shape.join(', ')}) needs ${n}`);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${tuple}, }`;
  if (shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const headerBytes = Buffer.byteLength(header, 'latin1') + 1; // + '\n'
  let version = 1;
  let prefix = 10;
  let pad = (ARRAY_ALIGN - ((prefix + headerBytes) % ARRAY_ALIGN)) % ARRAY_ALIGN;
  if (headerBytes + pad > 0xffff) {
    version = 2;
    prefix = 12;
    pad = (ARRAY_ALIGN - ((prefix + headerBytes) % ARRAY_ALIGN)) % ARRAY_ALIGN;
  }
  const full = `${header}${' '.repeat(pad)}\n`;
  const body = dtype === '|b1' ? (data as Uint8Array).map((v) => (v ? 1 : 0)) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(prefix + full.length + body.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(full.length, 8);
  else out.writeUInt32LE(full.length, 8);
  out.write(full, prefix, 'latin1');
  out.set(body, prefix + full.length);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength); // a plain Uint8Array: .slice() copies
}

/**
 * Write a .npy file atomically (see encodeNpy).
 * @throws BadInputError naming `path`.
 */
export async function writeNpy(path: string, shape: readonly number[], data: NpyData, options: { bool?: boolean } = {}): Promise<void> {
  const bytes = encodeNpy(shape, data, options, path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    if (err instanceof FileWriteError) throw bad(path, `cannot write: ${describeThrown(err.cause ?? err)}`);
    throw err;
  }
}
