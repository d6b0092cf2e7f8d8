/**
 * The four files of an apc checkpoint (model.json, apc.json, weights.bin, optimizer.bin), one
 * surface each: the named file is mutated, and 70 % of the cases are re-sealed (apc.json's SHA-256
 * records rewritten to match) so they reach the parsers behind the integrity check instead of
 * stopping at it. A case loads with `loadNet` and `loadOptimizerState`, as `--resume` does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../engine/random.js';
import { CheckpointError, loadNet, loadOptimizerState, OPTIMIZER_BIN, saveNet } from '../../models/checkpoint.js';
import { META_JSON, MODEL_JSON, WEIGHTS_BIN } from '../../models/checkpoint_io.js';
import type { FileSet, FuzzSurface } from '../surface.js';
import { tinyNets, useCpuBackend } from './tiny_nets.js';

export type CheckpointFile = typeof MODEL_JSON | typeof META_JSON | typeof WEIGHTS_BIN | typeof OPTIMIZER_BIN;
const FILES: CheckpointFile[] = [MODEL_JSON, META_JSON, WEIGHTS_BIN, OPTIMIZER_BIN];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Rewrites apc.json's byte counts and hashes to match the (mutated) files; false if apc.json is not an object. */
export function resealCheckpoint(files: FileSet): boolean {
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(Buffer.from(files[META_JSON]).toString('utf8')) as Record<string, unknown>;
    JSON.stringify(meta); // too deep to write back: leave it as it is
  } catch {
    return false;
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return false;
  const integrity = meta.integrity as { files?: Record<string, unknown> } | undefined;
  if (integrity && typeof integrity.files === 'object' && integrity.files !== null) {
    for (const name of [MODEL_JSON, WEIGHTS_BIN]) {
      if (name in integrity.files) integrity.files[name] = { bytes: files[name].length, sha256: sha256(files[name]) };
    }
  }
  const opt = meta.optimizer as Record<string, unknown> | undefined;
  if (opt && typeof opt === 'object') Object.assign(opt, { bytes: files[OPTIMIZER_BIN].length, sha256: sha256(files[OPTIMIZER_BIN]) });
  files[META_JSON] = Buffer.from(JSON.stringify(meta), 'utf8'); // not indented: a deeply nested value would grow quadratically
  return true;
}

export function checkpointSurface(file: CheckpointFile): FuzzSurface {
  return {
    name: file,
    async seeds(dir) {
      const nets = await tinyNets();
      const seeds: FileSet[] = [];
      try {
        for (const [i, net] of nets.entries()) {
          const out = join(dir, `seed-${i}`);
          const velocity = net.graph.weights.map((w) => tf.fill([...w.shape], 0.25 * (i + 1)));
          await saveNet(out, net, { dataset: 'shapes', classNames: ['a', 'b', 'c'], epoch: 3, metrics: { loss: 0.5 } }, velocity);
          tf.dispose(velocity);
          seeds.push(Object.fromEntries(FILES.map((f) => [f, new Uint8Array(readFileSync(join(out, f)))])));
        }
      } finally {
        for (const n of nets) n.dispose();
      }
      return seeds;
    },
    targets: () => [file],
    afterMutate(files: FileSet, rng: Rng) {
      return rng.next() < 0.7 && resealCheckpoint(files) ? 're-sealed apc.json' : undefined;
    },
    async load(caseDir) {
      await useCpuBackend();
      const { net } = await loadNet(caseDir);
      net.dispose();
      const state = await loadOptimizerState(caseDir);
      if (state) tf.dispose(state);
    },
    isCleanError: (err) => err instanceof CheckpointError,
  };
}
