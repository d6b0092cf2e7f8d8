/**
 * Reading a TF.js layers model from disk: `model.json` and the weights files its `weightsManifest`
 * lists, as TF.js and tensorflowjs_converter write them. Mirrors checkpoint_io's checks (which
 * are private to apc's own checkpoints): every path stays inside model.json's folder, every group's
 * files are exactly as long as its manifest entries say before anything is decoded, and every
 * failure is one `FILE: PROBLEM` line naming model.json or the weights file concerned.
 *
 * Weights come out as float32 by manifest name: float32 as stored, int32 / bool widened, and the
 * TF.js-quantised forms (`quantization.dtype` uint8 / uint16: q·scale + min; float16) dequantised
 * as tfjs-core's `decodeWeights` does. Optimizer weights (`group: 'optimizer'`) are skipped.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { describeThrown, ModelFileError, quote } from './errors.js';
import { halfBitsToFloat32 } from './half.js';
import type { ImportedWeight } from './imported_model.js';
import { isObject } from './keras_import_topology.js';

/** Bytes per stored value, by the dtype actually in the file (the quantisation dtype when there is one). */
const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

interface Entry {
  readonly name: string;
  readonly shape: number[];
  /** The dtype in the file. */
  readonly stored: 'float32' | 'int32' | 'bool' | 'uint8' | 'uint16' | 'float16';
  readonly scale: number;
  readonly min: number;
  /** int32 weights quantised to uint8/uint16 round back to integers (as TF.js does). */
  readonly integer: boolean;
  readonly skip: boolean;
  readonly bytes: number;
}

interface Group {
  readonly files: { path: string; listed: string }[];
  readonly entries: Entry[];
  readonly bytes: number;
}

export interface KerasFiles {
  /** model.json, parsed (an object with a modelTopology object). */
  readonly modelJson: Record<string, unknown>;
  /** Every non-optimizer weight of the manifest, by manifest name. */
  readonly weights: Map<string, ImportedWeight>;
  /** The model.json actually read (a folder given as the path resolves to its model.json). */
  readonly path: string;
}

function errCode(err: unknown): string | undefined {
  return isObject(err) && 'code' in err ? String(err.code) : undefined;
}

/** model.json and its weights, checked and decoded. `path` is model.json or the folder holding it. */
export async function readKerasFiles(path: string): Promise<KerasFiles> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'model.json');
  } catch (err) {
    if (errCode(err) === 'ENOENT') throw new ModelFileError(path, 'does not exist');
    throw new ModelFileError(path, `cannot be read: ${describeThrown(err)}`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') throw new ModelFileError(file, `does not exist (expected the model.json of a TF.js layers model in ${path})`);
    throw new ModelFileError(file, `cannot be read: ${describeThrown(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFileError(file, `is not valid JSON (${describeThrown(err)})`);
  }
  if (!isObject(json)) throw new ModelFileError(file, `must hold a JSON object, found ${Array.isArray(json) ? 'an array' : typeof json}`);
  if (json.format === 'graph-model') {
    throw new ModelFileError(file, "is a TF.js graph model (format 'graph-model', converted from a SavedModel); apc imports layers models (tensorflowjs_converter --input_format keras, or model.save in TF.js)");
  }
  if (!isObject(json.modelTopology)) throw new ModelFileError(file, 'has no modelTopology object; not a TF.js layers model');
  const groups = manifestGroups(file, json.weightsManifest);
  const weights = new Map<string, ImportedWeight>();
  for (const g of groups) await readGroup(file, g, weights);
  return { modelJson: json, weights, path: file };
}

function manifestGroups(file: string, manifest: unknown): Group[] {
  if (!Array.isArray(manifest)) throw new ModelFileError(file, 'has no weightsManifest list (the weights files and their entries)');
  const dir = dirname(file);
  const seenFiles = new Set<string>();
  const seenNames = new Set<string>();
  return manifest.map((g: unknown, gi: number) => {
    const where = `weightsManifest[${gi}]`;
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new ModelFileError(file, `${where} must have 'paths' and 'weights' lists`);
    const files = g.paths.map((p: unknown, pi: number) => {
      const path = insidePath(file, dir, p, `${where}.paths[${pi}]`);
      if (seenFiles.has(path)) throw new ModelFileError(file, `lists weights file ${quote(p)} more than once`);
      seenFiles.add(path);
      return { path, listed: p as string };
    });
    let bytes = 0;
    const entries = g.weights.map((w: unknown, wi: number) => {
      const e = manifestEntry(file, w, `${where}.weights[${wi}]`);
      if (seenNames.has(e.name)) throw new ModelFileError(file, `the weightsManifest lists weight '${e.name}' twice`);
      seenNames.add(e.name);
      bytes += e.bytes;
      return e;
    });
    if (!Number.isSafeInteger(bytes)) throw new ModelFileError(file, `${where} declares more bytes than can be read`);
    if (files.length === 0 && entries.length > 0) throw new ModelFileError(file, `${where} lists weights but no files`);
    return { files, entries, bytes };
  });
}

/** A manifest path as a file inside model.json's folder; anything that could leave it is refused. */
function insidePath(file: string, dir: string, p: unknown, where: string): string {
  const bad = typeof p !== 'string' || p === '' || p.includes('\\') || p.includes(':') || p.includes('\0') || isAbsolute(p)
    || normalize(p).split(sep).includes('..');
  const path = bad ? '' : join(dir, normalize(p as string));
  const rel = bad ? '' : relative(dir, path);
  if (bad || rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new ModelFileError(file, `${where} is ${quote(p)}; weights files must be plain relative paths inside the model's folder ${dir}`);
  }
  return path;
}

function manifestEntry(file: string, w: unknown, where: string): Entry {
  if (!isObject(w) || typeof w.name !== 'string' || w.name === '') throw new ModelFileError(file, `${where} has no name`);
  const name = w.name;
  const at = `${where} ('${name}')`;
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new ModelFileError(file, `${at} has an invalid shape ${quote(w.shape)}`);
  const shape = w.shape as number[];
  const numel = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(numel)) throw new ModelFileError(file, `${at} has too many elements (shape ${quote(shape)})`);
  const dtype = w.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new ModelFileError(file, `${at} has dtype ${quote(dtype)}; apc reads float32, int32 and bool weights`);
  }
  const skip = w.group === 'optimizer';
  const q = w.quantization;
  if (q === undefined || q === null) {
    return { name, shape, stored: dtype, scale: 1, min: 0, integer: false, skip, bytes: numel * STORED_BYTES[dtype] };
  }
  if (!isObject(q)) throw new ModelFileError(file, `${at} has a malformed quantization ${quote(q)}`);
  if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (typeof q.scale !== 'number' || typeof q.min !== 'number' || !Number.isFinite(q.scale) || !Number.isFinite(q.min)) {
      throw new ModelFileError(file, `${at} is quantised to ${q.dtype} without finite 'scale' and 'min'`);
    }
    if (dtype === 'bool') throw new ModelFileError(file, `${at}: a bool weight cannot be quantised`);
    return { name, shape, stored: q.dtype, scale: q.scale, min: q.min, integer: dtype === 'int32', skip, bytes: numel * STORED_BYTES[q.dtype] };
  }
  if (q.dtype === 'float16') {
    if (dtype !== 'float32') throw new ModelFileError(file, `${at}: float16 quantisation applies to float32 weights only, this one is ${dtype}`);
    return { name, shape, stored: 'float16', scale: 1, min: 0, integer: false, skip, bytes: numel * 2 };
  }
  throw new ModelFileError(file, `${at} has quantization dtype ${quote(q.dtype)}; TF.js quantises to uint8, uint16 or float16`);
}

async function readGroup(file: string, g: Group, out: Map<string, ImportedWeight>): Promise<void> {
  // sizes first (stat), so a wrong file is never read into memory, let alone decoded
  const sizes: number[] = [];
  for (const f of g.files) {
    let s;
    try {
      s = await stat(f.path);
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw new ModelFileError(f.path, `does not exist (listed as ${quote(f.listed)} in ${file}'s weightsManifest)`);
      throw new ModelFileError(f.path, `cannot be read: ${describeThrown(err)}`);
    }
    if (!s.isFile()) throw new ModelFileError(f.path, `is not a file (listed as ${quote(f.listed)} in ${file}'s weightsManifest)`);
    sizes.push(s.size);
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== g.bytes) {
    const what = total < g.bytes ? 'truncated' : 'too long';
    const subject = g.files.length === 1 ? g.files[0].path : g.files.map((f) => f.path).join(', ');
    const verb = g.files.length === 1 ? 'is' : 'are together';
    throw new ModelFileError(subject, `${verb} ${what}: ${total} bytes, expected ${g.bytes} from ${file}'s weightsManifest (${g.entries.length} weights)`);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const f of g.files) {
    let data: Buffer;
    try {
      data = await readFile(f.path);
    } catch (err) {
      throw new ModelFileError(f.path, `cannot be read: ${describeThrown(err)}`);
    }
    if (at + data.byteLength > total) throw new ModelFileError(f.path, 'changed size while it was being read');
    bytes.set(data, at);
    at += data.byteLength;
  }
  if (at !== total) throw new ModelFileError(g.files[0].path, 'changed size while it was being read');
  let offset = 0;
  for (const e of g.entries) {
    if (!e.skip) out.set(e.name, { shape: e.shape, data: decodeEntry(e, bytes.subarray(offset, offset + e.bytes)) });
    offset += e.bytes;
  }
}

/** One weight's bytes (little-endian, as TF.js writes them) as float32 values. */
export function decodeEntry(e: Pick<Entry, 'stored' | 'scale' | 'min' | 'integer'>, b: Uint8Array): Float32Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.byteLength / STORED_BYTES[e.stored];
  const out = new Float32Array(n);
  switch (e.stored) {
    case 'float32': for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true); break;
    case 'int32': for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true); break;
    case 'bool': for (let i = 0; i < n; i++) out[i] = b[i] ? 1 : 0; break;
    case 'uint8': for (let i = 0; i < n; i++) out[i] = dequantise(b[i], e); break;
    case 'uint16': for (let i = 0; i < n; i++) out[i] = dequantise(view.getUint16(2 * i, true), e); break;
    case 'float16': {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true);
      return halfBitsToFloat32(bits);
    }
  }
  return out;
}

function dequantise(q: number, e: Pick<Entry, 'scale' | 'min' | 'integer'>): number {
  const v = q * e.scale + e.min;
  return e.integer ? Math.round(v) : v;
}
