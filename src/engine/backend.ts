/**
 * Picks the TensorFlow.js backend once at start-up and reports which one runs.
 *
 * Order: `APC_BACKEND` if set; else tfjs-node when the user installed it (we never depend on it:
 * its install downloads a binary); else wasm with our kernel pack (the fastest thing on a plain
 * machine); cpu is the slow pure-JS fallback and the numerical reference for tests.
 *
 * wasm threads: with N ≥ 2 threads apc runs tfjs-backend-wasm's threaded-SIMD build with an
 * N-thread XNNPACK pool (wasm_threads.ts; tfjs itself never enables it in Node). By default N is
 * the number of cores idle at start-up (idle_cores.ts: on busy cores the pool is slower than one
 * thread); `APC_WASM_THREADS=N` pins it (1 = the single-threaded build).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node entry registers no gradient functions; the tfjs-layers bundle registers the
// full set (core's own register_all_gradients is ESM-only and not importable from Node).
import '@tensorflow/tfjs-layers';
import { registerKernelPack } from './kernels/register.js';
import { autoWasmThreads, measureIdleCores } from './idle_cores.js';
import { registerThreadedWasm, wasmThreadCount, wasmThreadsRegistered } from './wasm_threads.js';

export interface BackendInfo {
  /** Backend name as tfjs knows it: 'wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'. */
  readonly name: string;
  /** Why this backend was chosen. */
  readonly reason: string;
  /** Kernels of our pack registered for it. */
  readonly kernels: readonly string[];
  /** wasm only: SIMD as reported by tfjs flags, and the XNNPACK thread count. */
  readonly simd?: boolean;
  readonly threads?: number;
  /** wasm only: how the thread count was chosen ('APC_WASM_THREADS', or the idle-core sample). */
  readonly threadChoice?: string;
}

let chosen: BackendInfo | undefined;
/** How the registered wasm backend's thread count was chosen (for `BackendInfo.threadChoice`). */
let threadChoice: string | undefined;
const KNOWN = ['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'] as const;

/** Dynamic import that does not make TypeScript or bundlers require the package. */
async function optionalImport(name: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ name);
    return true;
  } catch {
    return false;
  }
}

async function loadBackendPackage(name: string): Promise<boolean> {
  switch (name) {
    case 'cpu': return true;
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      const { threads, choice } = await chooseWasmThreads();
      threadChoice = choice;
      if (threads > 1 && wasmThreadsRegistered() !== threads) await registerThreadedWasm(threads);
      return true;
    }
    case 'tensorflow': return optionalImport('@tensorflow/tfjs-node');
    case 'webgl': return optionalImport('@tensorflow/tfjs-backend-webgl');
    case 'webgpu': return optionalImport('@tensorflow/tfjs-backend-webgpu');
    default: return false;
  }
}

/** The wasm thread count: `APC_WASM_THREADS`, or one per core idle now; `choice` says which. */
async function chooseWasmThreads(): Promise<{ threads: number; choice: string }> {
  const setting = wasmThreadsFromEnv();
  if (setting !== 'auto') return { threads: setting, choice: 'APC_WASM_THREADS' };
  const { idle, cores } = await measureIdleCores();
  return { threads: autoWasmThreads(idle, cores), choice: `auto: ${idle.toFixed(1)} of ${cores} cores idle` };
}

async function activate(name: string, reason: string): Promise<BackendInfo> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend '${name}' failed to initialise`);
  await tf.ready();
  const kernels = registerKernelPack(name);
  const info: BackendInfo = name === 'wasm'
    ? { name, reason, kernels, simd: wasmThreadsRegistered() > 0 || tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), threads: await wasmThreadCount(), threadChoice }
    : { name, reason, kernels };
  chosen = info;
  return info;
}

/**
 * Initialise the backend (idempotent). `preferred` (or `APC_BACKEND`) forces one; an unknown or
 * unavailable name is an error that lists what is possible rather than a silent fallback.
 */
export async function initBackend(preferred?: string): Promise<BackendInfo> {
  // Production mode skips per-op debug checks and the cpu backend's "install tfjs-node" banner.
  tf.enableProdMode();
  const forced = preferred ?? process.env.APC_BACKEND;
  if (chosen && (!forced || forced === chosen.name)) return chosen;
  if (forced) {
    if (!(KNOWN as readonly string[]).includes(forced)) {
      throw new Error(`APC_BACKEND='${forced}' is not a backend apc knows; use one of ${KNOWN.join(', ')}`);
    }
    if (!(await loadBackendPackage(forced))) {
      throw new Error(`backend '${forced}' was requested but its package is not installed`);
    }
    return activate(forced, preferred ? 'requested' : 'APC_BACKEND');
  }
  if (await loadBackendPackage('tensorflow')) return activate('tensorflow', 'tfjs-node is installed');
  await loadBackendPackage('wasm');
  return activate('wasm', 'default: wasm + apc kernel pack');
}

/**
 * `APC_WASM_THREADS`: 1–8 pins the thread count; unset, empty or 'auto' = chosen from the idle
 * cores at start-up. An invalid value is an error naming the variable.
 */
export function wasmThreadsFromEnv(): number | 'auto' {
  const raw = process.env.APC_WASM_THREADS;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`APC_WASM_THREADS='${raw}' must be 'auto' or an integer from 1 to 8`);
  return n;
}

/** The backend chosen by `initBackend`, if any. */
export function currentBackend(): BackendInfo | undefined {
  return chosen;
}

/** One-line description for logs and reports. */
export function describeBackend(info: BackendInfo): string {
  const choice = info.threadChoice ? `; ${info.threadChoice}` : '';
  const extra = info.name === 'wasm' ? ` (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads ?? 1} thread${info.threads === 1 ? '' : 's'}${choice})` : '';
  return `${info.name}${extra}, ${info.kernels.length} apc kernels — ${info.reason}`;
}
