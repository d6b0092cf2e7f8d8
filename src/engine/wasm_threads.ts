/**
 * Multi-threaded wasm in Node: registers tfjs-backend-wasm's threaded-SIMD build as the 'wasm'
 * backend, with an XNNPACK thread pool of N threads (worker_threads).
 *
 * tfjs-backend-wasm 4.22 never uses that build in Node: its WASM_HAS_MULTITHREAD_SUPPORT flag is
 * hard-wired to false there (tfjs issue #3830), its loader hands the pthread workers a `blob:` URL
 * (which Node's worker_threads cannot load), and the C++ side caps the pool at
 * emscripten_num_logical_cores()/2 — which in Node is os.cpus().length/2, i.e. 1 on a 2-core
 * machine. This module loads the same emscripten factory itself with
 *   - the pthread worker script written to a temp .cjs file (Node's worker_threads need a path),
 *   - the main script given by path (the workers `importScripts` it with fs + eval in Node),
 *   - the wasm instantiated here so the `emscripten_num_logical_cores` import reports 2·N
 *     (the pool then gets exactly N threads: `init_with_threads_count(N)` with the cap at N),
 * then builds the package's own BackendWasm around the module, so every registered wasm kernel
 * (tfjs's and apc's pack) runs unchanged. Memory is a SharedArrayBuffer; the kernels of the pack
 * only take heap views after their allocations, as they must with the single-threaded build too.
 *
 * Call before the backend is first initialised (tf.setBackend('wasm')).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

interface PThreadWorker { ref(): void }
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: Record<string, unknown>;
  PThread?: { unusedWorkers: PThreadWorker[]; runningWorkers: PThreadWorker[]; allocateUnusedWorker(): void };
}

/**
 * Emscripten `ref()`s a Node worker while it runs a pthread, and XNNPACK's pool threads run for
 * the life of the process, so Node would never exit after the work is done. The main thread waits
 * on the pool synchronously inside every op, so letting the event loop ignore the workers is safe.
 */
function keepWorkersUnreffed(mod: EmscriptenModule): void {
  const pthread = mod.PThread;
  if (!pthread) throw new Error('wasm threads: the threaded build exposes no PThread table');
  const noRef = () => { for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) w.ref = () => {}; };
  const allocate = pthread.allocateUnusedWorker.bind(pthread);
  pthread.allocateUnusedWorker = () => { allocate(); noRef(); };
  noRef();
}
type Factory = (cfg: Record<string, unknown>) => Promise<EmscriptenModule>;

let registeredThreads = 0;

/** Threads of the registered threaded backend (0 = the package's single-threaded build). */
export function wasmThreadsRegistered(): number {
  return registeredThreads;
}

/** Registers the threaded-SIMD wasm build with `threads` XNNPACK threads under the name 'wasm'. */
export async function registerThreadedWasm(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 2) throw new Error(`registerThreadedWasm: threads must be an integer ≥ 2, got ${threads}`);
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('wasm threads need SharedArrayBuffer (Node ≥ 16)');
  const wasmPkg = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const mainScript = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const dir = dirname(mainScript);
  const factory = require(mainScript) as Factory;
  const { wasmWorkerContents } = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // The worker source is shipped as a template literal whose "\n" escapes became newlines.
  const workerDir = join(tmpdir(), `apc-wasm-${process.getuid?.() ?? 'u'}`);
  mkdirSync(workerDir, { recursive: true });
  const workerPath = join(workerDir, `tfjs-backend-wasm-threaded-simd-${wasmPkg.version_wasm}.worker.cjs`);
  // Written atomically (temp + rename): another process may be starting its workers from it.
  const tmp = `${workerPath}.${process.pid}.tmp`;
  writeFileSync(tmp, wasmWorkerContents.replace(/\n/g, '\\n'));
  renameSync(tmp, workerPath);
  const binary = readFileSync(join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));
  const BackendWasm = wasmPkg.BackendWasm as unknown as new (m: EmscriptenModule) => tf.KernelBackend;

  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const mod = await factory({
      locateFile: (p: string) => (p.endsWith('.worker.js') ? workerPath : join(dir, p)),
      mainScriptUrlOrBlob: mainScript,
      instantiateWasm: (info: { env: Record<string, unknown> }, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) => {
        info.env.emscripten_num_logical_cores = () => 2 * threads;
        WebAssembly.instantiate(binary, info as unknown as WebAssembly.Imports).then((r) => receive(r.instance, r.module));
        return {};
      },
    });
    keepWorkersUnreffed(mod);
    mod.tfjs = {
      init: mod.cwrap('init', null, []),
      initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
      registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: mod.cwrap('dispose_data', null, ['number']),
      dispose: mod.cwrap('dispose', null, []),
    };
    wasmPkg.setThreadsCount(threads);
    return new BackendWasm(mod);
  }, 2);
  registeredThreads = threads;
}

/** XNNPACK threads of the initialised wasm backend (1 for the single-threaded build). */
export async function wasmThreadCount(): Promise<number> {
  const wasmPkg = await import('@tensorflow/tfjs-backend-wasm');
  try {
    return wasmPkg.getThreadsCount();
  } catch {
    return 1;
  }
}
