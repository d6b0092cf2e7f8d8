import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { autoWasmThreads, MAX_AUTO_WASM_THREADS, measureIdleCores } from './idle_cores.js';

test('auto wasm threads: idle cores rounded, at least 1, capped by the cores Node may use and MAX_AUTO_WASM_THREADS', () => {
  const table: [idle: number, cores: number, usable: number, threads: number][] = [
    [2, 2, 2, 2], [1.6, 2, 2, 2], [1.5, 2, 2, 2], [1.4, 2, 2, 1], // one core busy with other work: 1 thread
    [0, 2, 2, 1], [0.2, 1, 1, 1], [7.9, 8, 8, MAX_AUTO_WASM_THREADS], [3.2, 8, 8, 3], [4, 4, 2, 2],
  ];
  for (const [idle, cores, usable, threads] of table) assert.equal(autoWasmThreads(idle, cores, usable), threads, `${idle} of ${cores} idle, ${usable} usable`);
});

test('idle-core sample: within [0, cores], and a busy loop in another thread lowers it', async () => {
  const { idle, cores } = await measureIdleCores(100);
  assert.equal(cores, cpus().length);
  assert.ok(idle >= 0 && idle <= cores, `idle ${idle} of ${cores}`);
  const { Worker } = await import('node:worker_threads');
  const spin = new Worker('const end = Date.now() + 600; while (Date.now() < end);', { eval: true });
  await new Promise((r) => setTimeout(r, 50)); // let it start
  const busy = await measureIdleCores(300);
  await new Promise((r) => spin.once('exit', r));
  assert.ok(busy.idle <= cores - 0.5, `one spinning thread leaves at most ${cores - 0.5} cores idle, sampled ${busy.idle.toFixed(2)}`);
});
