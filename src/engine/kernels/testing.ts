/**
 * Helpers for the kernel tests (and measurement scripts): seeded inputs, backend switching and
 * the error measure the tests use,
 *
 *   relErr(a, ref) = max_i |a_i − ref_i| / max(max_i |ref_i|, 1e-6)
 *
 * i.e. the worst absolute deviation relative to the scale of the reference tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone registers no gradients; tfjs-layers' bundle registers all of them.
import '@tensorflow/tfjs-layers';
import { Rng } from '../random.js';
import { registerKernelPack } from './register.js';

export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`relErr: lengths ${a.length} vs ${ref.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - ref[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / Math.max(scale, 1e-6);
}

/** Normal(mean, std) values from a seeded stream. */
export function randomValues(rng: Rng, size: number, mean = 0, std = 1): Float32Array {
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = mean + std * rng.normal();
  return v;
}

let wasmLoaded = false;

/** Switches to `name` ('cpu' or 'wasm'), loading the wasm backend on first use; registers the pack. */
export async function useBackend(name: 'cpu' | 'wasm', pack = true): Promise<void> {
  if (name === 'wasm' && !wasmLoaded) {
    await import('@tensorflow/tfjs-backend-wasm');
    wasmLoaded = true;
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`backend ${name} failed to initialise`);
    await tf.ready();
  }
  if (pack) registerKernelPack(name);
}

/** Runs `f` in a tidy and returns the values of the tensors it returns. */
export function valuesOf(f: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  const r = tf.tidy(f);
  const list = Array.isArray(r) ? r : [r];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return values;
}

/** Counts tensors and backend data buckets, to check that a call leaves nothing behind. */
export function memorySnapshot(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}
