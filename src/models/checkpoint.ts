/**
 * Checkpoints of a VggNet: the TF.js layers format (loadable by `tf.loadLayersModel` with our
 * `fileSystemIO`), `apc.json` with the architecture config and run metadata, and — for resuming —
 * the optimiser's momentum buffers in `optimizer.bin`. apc.json is written last and records the
 * SHA-256 of every other file, so an interrupted or corrupted save is detected on load.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, type CheckpointMeta, loadCheckpoint, readCheckpointMeta, saveCheckpoint, writeFileAtomic } from './checkpoint_io.js';
import { fromLayersModel, toLayersModel } from './layers_model.js';
import { VggNet } from './vgg.js';
import { type VggConfig, VggConfigSchema } from './vgg_config.js';

export const OPTIMIZER_BIN = 'optimizer.bin';

export interface NetMeta {
  /** Architecture; rebuilds the network. */
  readonly config: VggConfig;
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

/** Saves `net` (and optionally optimizer buffers) into `dir`; apc.json last. */
export async function saveNet(dir: string, net: VggNet, meta: Omit<NetMeta, 'config'>, optimizerState?: tf.Tensor[]): Promise<void> {
  let optimizer: OptimizerRecord | undefined;
  if (optimizerState) {
    const named = optimizerState.map((t, i) => ({ name: `velocity_${i}`, tensor: t }));
    const { data, specs } = await tf.io.encodeWeights(named);
    const bytes = new Uint8Array(data as ArrayBuffer);
    await writeFileAtomic(join(dir, OPTIMIZER_BIN), bytes);
    optimizer = { file: OPTIMIZER_BIN, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), specs };
  }
  const model = toLayersModel(net);
  try {
    await saveCheckpoint(dir, model, { ...meta, config: net.config, ...(optimizer ? { optimizer } : {}) } as CheckpointMeta);
  } finally {
    model.dispose();
  }
}

/** Loads a network saved by `saveNet`; every failure is a CheckpointError naming the file. */
export async function loadNet(dir: string): Promise<{ net: VggNet; meta: NetMeta }> {
  const { model, meta } = await loadCheckpoint(dir);
  try {
    const parsed = VggConfigSchema.safeParse(meta.config);
    if (!parsed.success) {
      throw new CheckpointError(`${join(dir, 'apc.json')} has no valid 'config' (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`, { path: join(dir, 'apc.json') });
    }
    let net: VggNet;
    try {
      net = fromLayersModel(model, parsed.data);
    } catch (err) {
      throw new CheckpointError(`${join(dir, 'model.json')} does not match the config in apc.json: ${(err as Error).message}`, { path: join(dir, 'model.json') });
    }
    return { net, meta: { ...meta, config: parsed.data } as NetMeta };
  } finally {
    model.dispose();
  }
}

/** Reads the optimizer buffers saved with a checkpoint (verified against apc.json). */
export async function loadOptimizerState(dir: string): Promise<tf.Tensor[] | undefined> {
  const meta = await readCheckpointMeta(dir);
  const rec = meta.optimizer as OptimizerRecord | undefined;
  if (!rec) return undefined;
  const path = join(dir, rec.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CheckpointError(`checkpoint ${dir} is incomplete: ${rec.file} missing (recorded in apc.json)`, { path });
  }
  if (bytes.byteLength !== rec.bytes || createHash('sha256').update(bytes).digest('hex') !== rec.sha256) {
    throw new CheckpointError(`checkpoint ${path} does not match apc.json's record (${bytes.byteLength} bytes, expected ${rec.bytes}; corrupted or from another save)`, { path });
  }
  const ab = new Uint8Array(bytes).buffer;
  const named = tf.io.decodeWeights(ab, rec.specs);
  return rec.specs.map((s) => named[s.name]);
}

export { CheckpointError, readCheckpointMeta };
