/**
 * The threaded-SIMD wasm build (APC_WASM_THREADS=2) in a child process: it initialises with 2
 * XNNPACK threads, the apc kernel pack runs on its shared heap, and a VGG training step gives the
 * single-threaded build's numbers (same reduction order per output: equal up to float32 rounding),
 * and the process exits by itself when its work is done (the pool threads do not keep it alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Scalar } from '@tensorflow/tfjs-core';
import { relErr } from './kernels/testing.js';

/** Child mode (this file run with APC_THREADS_CHILD=1): one VGG training step, as JSON on stdout. */
async function childProgram(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend, describeBackend } = await import('./backend.js');
  const { Rng } = await import('./random.js');
  const { GraphNet } = await import('../models/graph/graph_net.js');
  const { vggPreset } = await import('../models/vgg_config.js');
  const info = await initBackend('wasm');
  const net = GraphNet.create(vggPreset({ width: 16, imageSize: 32, numClasses: 5 }), 1);
  const rng = new Rng(2);
  const x = tf.tensor4d(rng.uniformArray(4 * 32 * 32 * 3, -1, 1), [4, 32, 32, 3]);
  const mask = net.dropoutMask(4, rng);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(net.forward(x, { training: true, dropoutMask: mask }).logits)) as Scalar, net.trainableVariables());
  const g = Object.entries(grads).find(([k]) => k.includes('conv1_1/kernel'))![1];
  const out = { threads: info.threads, desc: describeBackend(info), loss: value.dataSync()[0], logits: Array.from(net.predict(x).dataSync()), grad: Array.from(g.dataSync()) };
  process.stdout.write(JSON.stringify(out));
  // no process.exit: the child must end by itself, i.e. the pool's workers must not hold Node open
}

const isChild = process.env.APC_THREADS_CHILD === '1';
if (isChild) await childProgram();

function runChild(threads: number): { threads: number; desc: string; loss: number; logits: number[]; grad: number[] } {
  // (not `-e`: the pthread workers inherit execArgv, and `--input-type` is refused for a file)
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    encoding: 'utf8', env: { ...process.env, APC_THREADS_CHILD: '1', APC_WASM_THREADS: String(threads) }, timeout: 90_000,
  });
  assert.equal(r.status, 0, `child (APC_WASM_THREADS=${threads}) failed${r.signal ? ` (${r.signal}: did not exit by itself)` : ''}: ${r.stderr.slice(-800)}`);
  return JSON.parse(r.stdout);
}

// (in the child, no tests: it must end when its one step is done)
if (!isChild) test('APC_WASM_THREADS=2 runs the threaded build with 2 threads and gives the single-threaded results', () => {
  const one = runChild(1);
  const two = runChild(2);
  assert.equal(one.threads, 1, one.desc);
  assert.equal(two.threads, 2, two.desc);
  assert.match(two.desc, /2 threads/);
  assert.ok(Math.abs(two.loss - one.loss) <= 1e-5 * Math.abs(one.loss), `loss ${two.loss} vs ${one.loss}`);
  assert.ok(relErr(two.logits, one.logits) <= 1e-5, `logits relErr ${relErr(two.logits, one.logits)}`);
  assert.ok(relErr(two.grad, one.grad) <= 1e-5, `gradient relErr ${relErr(two.grad, one.grad)}`);
});

if (!isChild) test('an invalid APC_WASM_THREADS is an error naming the variable', async () => {
  const { wasmThreadsFromEnv } = await import('./backend.js');
  const saved = process.env.APC_WASM_THREADS;
  try {
    process.env.APC_WASM_THREADS = 'two';
    assert.throws(() => wasmThreadsFromEnv(), /APC_WASM_THREADS='two'/);
    process.env.APC_WASM_THREADS = '0';
    assert.throws(() => wasmThreadsFromEnv(), /'auto' or an integer from 1 to 8/);
    process.env.APC_WASM_THREADS = '2';
    assert.equal(wasmThreadsFromEnv(), 2);
    process.env.APC_WASM_THREADS = 'auto';
    assert.equal(wasmThreadsFromEnv(), 'auto');
    delete process.env.APC_WASM_THREADS;
    assert.equal(wasmThreadsFromEnv(), 'auto');
  } finally {
    if (saved === undefined) delete process.env.APC_WASM_THREADS; else process.env.APC_WASM_THREADS = saved;
  }
});
