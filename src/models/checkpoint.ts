/**
 * Checkpoints of a network: `model.json` + `weights.bin` in the TF.js layers format (loadable by
 * `tf.loadLayersModel` with our `fileSystemIO` when the graph has a Keras form), `apc.json` with
 * the architecture config and run metadata, and — for resuming — the optimiser's momentum
 * buffers in `optimizer.bin`. apc.json is written last and records the SHA-256 of every other
 * file, so an interrupted or corrupted save is detected on load. apc rebuilds the network from
 * apc.json's config and reads the weights by name, so checkpoints written before the graph model
 * (a Sequential VGG topology, config kind 'vgg') load unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, type CheckpointMeta, loadCheckpointWeights, META_JSON, readCheckpointMeta, saveCheckpoint, weightSpecsBytes, writeFileAtomic } from './checkpoint_io.js';
import { GraphNet } from './graph/graph_net.js';
import { quote } from './import/errors.js';
import { kerasTopology } from './layers_export.js';
import { type ModelConfig, parseModelConfig } from './model_config.js';

export const OPTIMIZER_BIN = 'optimizer.bin';

export interface NetMeta {
  /** Architecture; rebuilds the network. */
  readonly config: ModelConfig;
  readonly dataset?: string;
  readonly classNames?: readonly string[];
  readonly metrics?: Record<string, unknown>;
  readonly provenance?: Record<string, unknown>;
  /** Anything else a stage wants to keep (training state, compression details …). */
  readonly [key: string]: unknown;
}

interface OptimizerRecord {
  file: string;
  bytes: number;
  sha256: string;
  specs: tf.io.WeightsManifestEntry[];
}

/**
 * The TF.js artifacts of a network: its Keras topology (or, for a graph without an exact Keras
 * form, a stub naming the reason: apc itself never reads the topology) and its float32 weights.
 */
export async function netArtifacts(net: GraphNet): Promise<tf.io.ModelArtifacts> {
  const keras = kerasTopology(net.config);
  const named = net.graph.weights.map((d) => ({ name: d.name, tensor: net.weight(d.name) as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  return {
    modelTopology: 'topology' in keras ? keras.topology : { class_name: 'ApcGraph', config: { note: `no exact Keras form: ${keras.error}; the graph is in apc.json` } },
    format: 'layers-model', generatedBy: 'apc', convertedBy: null,
    weightSpecs: specs, weightData: data,
  };
}

/** Saves `net` (and optionally optimizer buffers) into `dir`; apc.json last. */
export async function saveNet(dir: string, net: GraphNet, meta: Omit<NetMeta, 'config'>, optimizerState?: tf.Tensor[]): Promise<void> {
  let optimizer: OptimizerRecord | undefined;
  if (optimizerState) {
    const named = optimizerState.map((t, i) => ({ name: `velocity_${i}`, tensor: t }));
    const { data, specs } = await tf.io.encodeWeights(named);
    const bytes = new Uint8Array(data as ArrayBuffer);
    await writeFileAtomic(join(dir, OPTIMIZER_BIN), bytes);
    optimizer = { file: OPTIMIZER_BIN, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), specs };
  }
  const artifacts = await netArtifacts(net);
  await saveCheckpoint(dir, { save: async (handler) => (handler as tf.io.IOHandler).save!(artifacts) },
    { ...meta, config: net.config, ...(optimizer ? { optimizer } : {}) } as CheckpointMeta);
}

/** Loads a network saved by `saveNet`; every failure is a CheckpointError naming the file. */
export async function loadNet(dir: string): Promise<{ net: GraphNet; meta: NetMeta }> {
  const { weights, meta } = await loadCheckpointWeights(dir);
  try {
    let config: ModelConfig;
    try {
      config = parseModelConfig(meta.config, `${join(dir, 'apc.json')} 'config'`);
    } catch (err) {
      throw new CheckpointError(`${(err as Error).message}`, { path: join(dir, 'apc.json') });
    }
    let net: GraphNet;
    try {
      net = GraphNet.fromWeights(config, weights);
    } catch (err) {
      throw new CheckpointError(`${join(dir, 'model.json')} does not match the config in apc.json: ${(err as Error).message}`, { path: join(dir, 'model.json') });
    }
    return { net, meta: { ...meta, config } as NetMeta };
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/**
 * Reads the optimizer buffers saved with a checkpoint, verified against apc.json's record: a plain
 * file name inside `dir`, its byte count and SHA-256, and specs whose sizes add up to exactly the
 * file's bytes (checked before anything is decoded). Every failure is a CheckpointError naming the file.
 */
export async function loadOptimizerState(dir: string): Promise<tf.Tensor[] | undefined> {
  const meta = await readCheckpointMeta(dir);
  const metaPath = join(dir, META_JSON);
  const rec = meta.optimizer as Partial<OptimizerRecord> | undefined;
  if (rec === undefined) return undefined;
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new CheckpointError(`${metaPath}: 'optimizer' must be an object { file, bytes, sha256, specs }`, { path: metaPath });
  if (rec.file !== OPTIMIZER_BIN) throw new CheckpointError(`${metaPath}: 'optimizer.file' is ${quote(rec.file)}, expected "${OPTIMIZER_BIN}"`, { path: metaPath });
  if (!Number.isSafeInteger(rec.bytes) || typeof rec.sha256 !== 'string') {
    throw new CheckpointError(`${metaPath}: 'optimizer' must record the file's bytes (an integer) and sha256`, { path: metaPath });
  }
  const specBytes = weightSpecsBytes(metaPath, "'optimizer.specs'", rec.specs);
  const specs = rec.specs as tf.io.WeightsManifestEntry[];
  // decodeWeights returns a plain object by name: a repeated name (or '__proto__') would lose a tensor
  if (new Set(specs.map((s) => s.name)).size !== specs.length || specs.some((s) => s.name in Object.prototype)) {
    throw new CheckpointError(`${metaPath}: 'optimizer.specs' must name each buffer once`, { path: metaPath });
  }
  const path = join(dir, rec.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CheckpointError(`checkpoint ${dir} is incomplete: ${rec.file} missing or unreadable (recorded in apc.json)`, { path });
  }
  if (bytes.byteLength !== rec.bytes || createHash('sha256').update(bytes).digest('hex') !== rec.sha256) {
    throw new CheckpointError(`checkpoint ${path} does not match apc.json's record (${bytes.byteLength} bytes, expected ${rec.bytes}; corrupted or from another save)`, { path });
  }
  if (bytes.byteLength !== specBytes) {
    throw new CheckpointError(`checkpoint ${path} holds ${bytes.byteLength} bytes, but apc.json's 'optimizer.specs' describe ${specBytes}`, { path });
  }
  const ab = new Uint8Array(bytes).buffer;
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(ab, specs);
  } catch (err) {
    throw new CheckpointError(`cannot decode ${path} with apc.json's 'optimizer.specs': ${(err as Error).message}`, { path, cause: err });
  }
  return specs.map((s) => named[s.name]);
}

export { CheckpointError, readCheckpointMeta };
