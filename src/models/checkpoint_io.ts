/**
 * Atomic, verifiable checkpoints on the local file system (tfjs-node's `file://` handler is not
 * available to us, so this is our own `tf.io.IOHandler`).
 *
 * A checkpoint is a directory holding
 *   - `model.json` + `weights.bin`: the standard TF.js layers format (what `model.save()` writes);
 *   - `apc.json`: caller metadata plus an `integrity` block (byte length and SHA-256 of
 *     `model.json` and of every weights file).
 *
 * Every file is written to a temp file in the same directory, fsynced, then renamed over its
 * target, so a file is either the old or the new version, never a torn mix. `apc.json` is written
 * last: a directory without it is an incomplete (interrupted) save. A crash between files while
 * overwriting an older checkpoint leaves new and old files side by side; the hashes in the old
 * `apc.json` then no longer match and `loadCheckpoint` says so.
 *
 * Every failure is a `CheckpointError` whose message names the file and what was expected vs
 * found, so a CLI can print `err.message` alone.
 *
 * Not handled: two processes saving into the same directory at the same time.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { createHash } from 'node:crypto';
import { FileWriteError, writeFileAtomic as writeAtomic } from '../engine/files.js';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { oneLine, quote } from './import/errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const META_JSON = 'apc.json';

/** Any failure to save, read or verify a checkpoint. `path` is the file or directory concerned. */
export class CheckpointError extends Error {
  readonly path: string | undefined;
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    // one line whatever a file held (a weight name with a line break, say): the CLI prints it alone
    super(oneLine(message, 4000), options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CheckpointError';
    this.path = options?.path;
  }
}

export interface FileDigest {
  /** Byte length of the file. */
  bytes: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

export interface CheckpointIntegrity {
  algorithm: 'sha256';
  /** Keyed by file name inside the checkpoint directory (`model.json`, `weights.bin`). */
  files: Record<string, FileDigest>;
}

/** Contents of `apc.json`: any JSON object; `saveCheckpoint` adds `integrity`. */
export interface CheckpointMeta {
  [key: string]: unknown;
  integrity?: CheckpointIntegrity;
}

export interface CheckpointPaths {
  last: string;
  best: string;
}

/** Where the "last" and "best" checkpoints of a run live. */
export function checkpointPaths(outDir: string): CheckpointPaths {
  return { last: join(outDir, 'last'), best: join(outDir, 'best') };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function digest(data: Uint8Array): FileDigest {
  return { bytes: data.byteLength, sha256: sha256Hex(data) };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeJsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) {
    return data.buffer;
  }
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new CheckpointError(`cannot create checkpoint directory ${dir}: ${errMessage(err)}`, { path: dir, cause: err });
  }
}

/** `writeFileAtomic` of engine/files.ts, failing with a CheckpointError that names the file. */
export async function writeFileAtomic(target: string, data: Uint8Array): Promise<void> {
  try {
    await writeAtomic(target, data);
  } catch (err) {
    if (!(err instanceof FileWriteError)) throw err;
    const what = err.path === target ? `cannot write file ${target}` : `cannot create checkpoint directory ${err.path}`;
    throw new CheckpointError(`${what}: ${errMessage(err.cause)}`, { path: err.path, cause: err.cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Reads with precise errors

async function assertDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    if (errCode(err) === 'ENOENT') {
      throw new CheckpointError(`checkpoint directory ${dir} does not exist`, { path: dir, cause: err });
    }
    throw new CheckpointError(`cannot access checkpoint directory ${dir}: ${errMessage(err)}`, { path: dir, cause: err });
  }
  if (!st.isDirectory()) {
    throw new CheckpointError(`${dir} is not a checkpoint: it is a file, expected a directory`, { path: dir });
  }
}

/** Read a file; `missing` is the message used when it does not exist. */
async function readCheckpointFile(path: string, missing: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') throw new CheckpointError(missing, { path, cause: err });
    if (code === 'EISDIR') {
      throw new CheckpointError(`checkpoint file ${path} is a directory, expected a file`, { path, cause: err });
    }
    throw new CheckpointError(`cannot read checkpoint file ${path}: ${errMessage(err)}`, { path, cause: err });
  }
}

function parseJson(path: string, bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    // the parser quotes the bad bytes: keep the message on one line, control characters escaped
    throw new CheckpointError(`${path} is not valid JSON (${oneLine(errMessage(err), 160)}; file is ${bytes.byteLength} bytes)`, {
      path,
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// model.json validation

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  float16: 2,
  int32: 4,
  uint16: 2,
  uint8: 1,
  bool: 1,
  complex64: 8,
};

/** Bytes a manifest entry occupies, or null when it cannot be known (string weights). */
function entryBytes(path: string, entry: tf.io.WeightsManifestEntry): number | null {
  const where = `weight '${entry.name}' in ${path}`;
  if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new CheckpointError(`${where} has an invalid shape ${quote(entry.shape)}`, { path });
  }
  const dtype = entry.quantization?.dtype ?? entry.dtype;
  if (entry.dtype === 'string' && entry.quantization == null) return null;
  // a dtype from the file may be any JSON value: no implicit string conversion (a deeply nested
  // array would overflow the stack) and no inherited keys ('constructor')
  const size = typeof dtype === 'string' && Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined;
  if (size === undefined) {
    throw new CheckpointError(`${where} has unknown dtype ${quote(dtype, 40)}`, { path });
  }
  return entry.shape.reduce((a, b) => a * b, 1) * size;
}

/**
 * Checks a list of weight specs read from a file (`where` names it and the field) and returns the
 * bytes the weights occupy, so a loader can compare it with the data before decoding anything.
 */
export function weightSpecsBytes(path: string, where: string, specs: unknown): number {
  if (!Array.isArray(specs)) throw new CheckpointError(`${path}: ${where} must be an array of weight specs, found ${describeJsonType(specs)}`, { path });
  let total = 0;
  for (const [i, w] of specs.entries()) {
    if (!isPlainObject(w) || typeof w.name !== 'string') throw new CheckpointError(`${path}: ${where}[${i}] must be an object with a name`, { path });
    if (w.quantization !== undefined || typeof w.dtype !== 'string' || DTYPE_BYTES[w.dtype] === undefined || w.dtype === 'complex64') {
      throw new CheckpointError(`${path}: ${where}[${i}] ('${oneLine(w.name, 60)}') has dtype ${quote(w.dtype, 40)}, expected float32, int32 or bool`, { path });
    }
    const n = entryBytes(path, w as unknown as tf.io.WeightsManifestEntry);
    total += n ?? 0;
    if (!Number.isSafeInteger(total)) throw new CheckpointError(`${path}: ${where} declares more bytes than can be read`, { path });
  }
  return total;
}

/** Reject weight paths that escape the checkpoint directory. */
function weightFileName(modelPath: string, p: unknown): string {
  if (typeof p !== 'string' || p === '' || isAbsolute(p) || normalize(p).split(sep).includes('..') || p.includes('\\')) {
    throw new CheckpointError(
      `${modelPath} lists weights file ${quote(p)}; expected a plain file name inside the checkpoint directory`,
      { path: modelPath },
    );
  }
  return normalize(p);
}

interface WeightGroupCheck {
  files: string[];
  /** Expected total bytes of the group's files, or null if unknown (string weights). */
  expectedBytes: number | null;
}

function validateModelJson(path: string, json: unknown): { modelJSON: tf.io.ModelJSON; groups: WeightGroupCheck[] } {
  if (!isPlainObject(json)) {
    throw new CheckpointError(`${path} must hold a JSON object, found ${describeJsonType(json)}`, { path });
  }
  if (!isPlainObject(json.modelTopology)) {
    throw new CheckpointError(
      `${path} has no modelTopology object (found ${describeJsonType(json.modelTopology)}); not a TF.js layers model`,
      { path },
    );
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) {
    throw new CheckpointError(`${path} has no weightsManifest array (found ${describeJsonType(manifest)})`, { path });
  }
  const groups: WeightGroupCheck[] = manifest.map((g: unknown, i: number) => {
    if (!isPlainObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new CheckpointError(`${path}: weightsManifest[${i}] must have 'paths' and 'weights' arrays`, { path });
    }
    const files = g.paths.map((p: unknown) => weightFileName(path, p));
    let expected: number | null = 0;
    for (const w of g.weights as unknown[]) {
      if (!isPlainObject(w) || typeof w.name !== 'string') {
        throw new CheckpointError(`${path}: weightsManifest[${i}] has an entry without a name`, { path });
      }
      const n = entryBytes(path, w as unknown as tf.io.WeightsManifestEntry);
      expected = n === null || expected === null ? null : expected + n;
    }
    return { files, expectedBytes: expected };
  });
  return { modelJSON: json as unknown as tf.io.ModelJSON, groups };
}

// ---------------------------------------------------------------------------------------------
// Reading the model files

interface ModelFiles {
  modelJSON: tf.io.ModelJSON;
  /** Raw bytes of model.json, for hashing. */
  modelJsonBytes: Buffer;
  /** Weights files in manifest order, raw bytes. */
  weightFiles: Array<{ name: string; path: string; data: Buffer }>;
}

/**
 * Read and check model.json and the weights files it lists: existence, JSON, and that each
 * weights group is exactly as long as its manifest says. `integrity` (from apc.json) only
 * enriches the messages.
 */
async function readModelFiles(dir: string, integrity?: CheckpointIntegrity): Promise<ModelFiles> {
  await assertDirectory(dir);
  const modelPath = join(dir, MODEL_JSON);
  const modelJsonBytes = await readCheckpointFile(modelPath, `checkpoint ${dir} is incomplete: ${MODEL_JSON} missing (expected ${modelPath})`);
  const { modelJSON, groups } = validateModelJson(modelPath, parseJson(modelPath, modelJsonBytes));

  const weightFiles: ModelFiles['weightFiles'] = [];
  const seen = new Set<string>();
  for (const group of groups) {
    let actual = 0;
    const read: Array<{ name: string; path: string; data: Buffer }> = [];
    for (const name of group.files) {
      if (seen.has(name)) {
        throw new CheckpointError(`${modelPath} lists weights file ${name} more than once`, { path: modelPath });
      }
      seen.add(name);
      const path = join(dir, name);
      const data = await readCheckpointFile(
        path,
        `checkpoint ${dir} is incomplete: ${name} missing (expected ${path}, listed in ${MODEL_JSON}'s weightsManifest)`,
      );
      actual += data.byteLength;
      read.push({ name, path, data });
    }
    if (group.expectedBytes !== null && actual !== group.expectedBytes) {
      const subject = read.length === 1 ? `checkpoint ${read[0].path}` : `checkpoint weights files ${read.map((r) => r.path).join(', ')}`;
      const what = actual < group.expectedBytes ? 'is truncated' : 'is too long';
      const verb = read.length === 1 ? what : what.replace('is', 'are');
      let hint = '';
      if (read.length === 1 && integrity?.files[read[0].name] !== undefined) {
        const recorded = integrity.files[read[0].name].bytes;
        hint = recorded === actual
          ? ` (${META_JSON} records ${recorded} bytes for it, so ${MODEL_JSON} is from a different save: an interrupted save?)`
          : ` (${META_JSON} records ${recorded} bytes)`;
      }
      throw new CheckpointError(
        `${subject} ${verb}: ${actual} bytes, expected ${group.expectedBytes} from ${MODEL_JSON}'s weightsManifest${hint}`,
        { path: read.length === 1 ? read[0].path : dir },
      );
    }
    weightFiles.push(...read);
  }
  return { modelJSON, modelJsonBytes, weightFiles };
}

async function toArtifacts(files: ModelFiles): Promise<tf.io.ModelArtifacts> {
  const buffers = files.weightFiles.map((f) => toArrayBuffer(f.data));
  const weightData: ArrayBuffer = buffers.length === 1 ? buffers[0] : tf.io.CompositeArrayBuffer.join(buffers);
  return tf.io.getModelArtifactsForJSON(files.modelJSON, async (manifest) => [tf.io.getWeightSpecs(manifest), weightData]);
}

// ---------------------------------------------------------------------------------------------
// The IOHandler

function createFileSystemIO(dir: string, onWritten?: (name: string, data: Uint8Array) => void): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new CheckpointError(
          `cannot save to ${dir}: only JSON model topologies (tfjs-layers models) are supported, got a binary GraphDef`,
          { path: dir },
        );
      }
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const weightsManifest: tf.io.WeightsManifestConfig = [
        { paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] },
      ];
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest,
      };
      if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) modelJSON.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature != null) modelJSON.initializerSignature = artifacts.initializerSignature;
      if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;

      const weightsBytes = new Uint8Array(weightData);
      const modelBytes = Buffer.from(JSON.stringify(modelJSON), 'utf8');

      await ensureDir(dir);
      // Weights first, then model.json (which references them); apc.json, if any, comes after.
      await writeFileAtomic(join(dir, WEIGHTS_BIN), weightsBytes);
      onWritten?.(WEIGHTS_BIN, weightsBytes);
      await writeFileAtomic(join(dir, MODEL_JSON), modelBytes);
      onWritten?.(MODEL_JSON, modelBytes);

      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      return toArtifacts(await readModelFiles(dir));
    },
  };
}

/**
 * A `tf.io.IOHandler` for a directory: `model.save(fileSystemIO(dir))` writes `model.json` +
 * `weights.bin` atomically (creating `dir` as needed); `tf.loadLayersModel(fileSystemIO(dir))`
 * reads them back, checking that the files exist, parse, and have the manifest's byte length.
 * Does not touch `apc.json`; use `saveCheckpoint` / `loadCheckpoint` for full checkpoints.
 */
export function fileSystemIO(dir: string): tf.io.IOHandler {
  return createFileSystemIO(dir);
}

// ---------------------------------------------------------------------------------------------
// apc.json

function validateIntegrity(path: string, v: unknown): CheckpointIntegrity {
  const bad = (what: string): never => {
    throw new CheckpointError(`${path} has a malformed integrity block: ${what}`, { path });
  };
  if (!isPlainObject(v)) return bad(`expected an object, found ${describeJsonType(v)}`);
  if (v.algorithm !== 'sha256') return bad(`algorithm is ${quote(v.algorithm)}, expected "sha256"`);
  if (!isPlainObject(v.files)) return bad(`'files' is ${describeJsonType(v.files)}, expected an object`);
  for (const [name, d] of Object.entries(v.files)) {
    if (!isPlainObject(d) || !Number.isInteger(d.bytes) || typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256)) {
      bad(`entry for ${name} must be { bytes: integer, sha256: 64 hex chars }, found ${quote(d)}`);
    }
  }
  return v as unknown as CheckpointIntegrity;
}

/**
 * Write `apc.json` atomically, verbatim (an `integrity` block in `meta` is kept as is; write it
 * after the model files). Creates `dir` as needed.
 */
export async function writeCheckpointMeta(dir: string, meta: CheckpointMeta): Promise<void> {
  const path = join(dir, META_JSON);
  if (!isPlainObject(meta)) {
    throw new CheckpointError(`cannot write ${path}: metadata must be a JSON object, got ${describeJsonType(meta)}`, { path });
  }
  let text: string;
  try {
    text = JSON.stringify(meta, null, 2) + '\n';
  } catch (err) {
    throw new CheckpointError(`cannot write ${path}: metadata is not JSON-serializable (${errMessage(err)})`, { path, cause: err });
  }
  await ensureDir(dir);
  await writeFileAtomic(path, Buffer.from(text, 'utf8'));
}

/** Read and parse `apc.json`; a missing file means the checkpoint is incomplete. */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  await assertDirectory(dir);
  const path = join(dir, META_JSON);
  const bytes = await readCheckpointFile(path, `${dir} is not a checkpoint: ${META_JSON} missing (an interrupted save?)`);
  const json = parseJson(path, bytes);
  if (!isPlainObject(json)) {
    throw new CheckpointError(`${path} must hold a JSON object, found ${describeJsonType(json)}`, { path });
  }
  if (json.integrity !== undefined) validateIntegrity(path, json.integrity);
  return json as CheckpointMeta;
}

// ---------------------------------------------------------------------------------------------
// Whole checkpoints

/**
 * Save `model` (model.json + weights.bin) then `meta` plus an integrity block (apc.json, last)
 * into `dir`, overwriting an older checkpoint file by file. Returns the metadata as written.
 */
export async function saveCheckpoint(dir: string, model: Pick<LayersModel, 'save'>, meta: CheckpointMeta): Promise<CheckpointMeta> {
  if (!isPlainObject(meta)) {
    throw new CheckpointError(`cannot save checkpoint ${dir}: metadata must be a JSON object, got ${describeJsonType(meta)}`, { path: dir });
  }
  const files: Record<string, FileDigest> = {};
  try {
    await model.save(createFileSystemIO(dir, (name, data) => { files[name] = digest(data); }));
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(`cannot save model to checkpoint ${dir}: ${errMessage(err)}`, { path: dir, cause: err });
  }
  const written: CheckpointMeta = { ...meta, integrity: { algorithm: 'sha256', files } };
  await writeCheckpointMeta(dir, written);
  return written;
}

function checkDigest(dir: string, name: string, data: Uint8Array, expected: FileDigest): void {
  const path = join(dir, name);
  const interrupted = `the file was modified or corrupted, or a save into ${dir} was interrupted after writing it`;
  if (data.byteLength !== expected.bytes) {
    throw new CheckpointError(
      `checkpoint ${path} does not match ${META_JSON}'s integrity record: ${data.byteLength} bytes, expected ${expected.bytes} (${interrupted})`,
      { path },
    );
  }
  const actual = sha256Hex(data);
  if (actual !== expected.sha256) {
    throw new CheckpointError(
      `checkpoint ${path} does not match ${META_JSON}'s integrity record: sha256 ${actual}, expected ${expected.sha256} (${interrupted})`,
      { path },
    );
  }
}

/**
 * Load a checkpoint written by `saveCheckpoint`, verifying it first: the directory and every
 * file exist, the JSON files parse, the weights have the manifest's byte length and, when
 * apc.json has an integrity block, every file's length and SHA-256 match it.
 */
export async function loadCheckpoint(
  dir: string,
  options?: tf.io.LoadOptions,
): Promise<{ model: LayersModel; meta: CheckpointMeta }> {
  const { files, meta } = await verifiedModelFiles(dir);
  const artifacts = await toArtifacts(files);
  let model: LayersModel;
  try {
    model = await loadLayersModel({ load: async () => artifacts }, options);
  } catch (err) {
    const path = join(dir, MODEL_JSON);
    throw new CheckpointError(`cannot build a model from checkpoint ${path}: ${errMessage(err)}`, { path, cause: err });
  }
  return { model, meta };
}

/**
 * The weights of a checkpoint by name, verified as `loadCheckpoint` does, without building a
 * layers model from `model.json`'s topology (apc rebuilds its networks from apc.json's config).
 * The caller disposes the tensors.
 */
export async function loadCheckpointWeights(dir: string): Promise<{ weights: tf.NamedTensorMap; meta: CheckpointMeta }> {
  const { files, meta } = await verifiedModelFiles(dir);
  const artifacts = await toArtifacts(files);
  const path = join(dir, MODEL_JSON);
  try {
    const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    return { weights: tf.io.decodeWeights(data, artifacts.weightSpecs ?? []), meta };
  } catch (err) {
    throw new CheckpointError(`cannot decode the weights of checkpoint ${path}: ${errMessage(err)}`, { path, cause: err });
  }
}

/** apc.json and the model files of a checkpoint, every file checked against the integrity record. */
async function verifiedModelFiles(dir: string): Promise<{ files: ModelFiles; meta: CheckpointMeta }> {
  const meta = await readCheckpointMeta(dir);
  const integrity = meta.integrity;
  const files = await readModelFiles(dir, integrity);

  if (integrity !== undefined) {
    const onDisk = new Map<string, Uint8Array>([[MODEL_JSON, files.modelJsonBytes]]);
    for (const f of files.weightFiles) onDisk.set(f.name, f.data);
    for (const name of onDisk.keys()) {
      if (integrity.files[name] === undefined) {
        throw new CheckpointError(
          `checkpoint ${join(dir, name)} has no entry in ${join(dir, META_JSON)}'s integrity record (recorded: ${Object.keys(integrity.files).join(', ') || 'none'}); ${MODEL_JSON} and ${META_JSON} come from different saves`,
          { path: join(dir, name) },
        );
      }
    }
    // model.json first: if it is stale, its weights check would only be a consequence.
    const order = [MODEL_JSON, ...Object.keys(integrity.files).filter((n) => n !== MODEL_JSON)];
    for (const name of order) {
      const expected = integrity.files[name];
      if (expected === undefined) continue;
      let data = onDisk.get(name);
      if (data === undefined) {
        const path = join(dir, name);
        data = await readCheckpointFile(path, `checkpoint ${dir} is incomplete: ${name} missing (expected ${path}, recorded in ${META_JSON})`);
      }
      checkDigest(dir, name, data, expected);
    }
  }
  return { files, meta };
}
