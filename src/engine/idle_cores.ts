/**
 * How many cores are idle right now, and how many wasm threads to use because of it.
 *
 * The threaded wasm build's XNNPACK pool makes every convolution wait for all of its threads, so a
 * pool thread that the OS deschedules (another busy process on the same cores) stalls each op: on
 * a 2-core machine shared with busy jobs, 2 threads measured 1.6–2× slower than 1, while on idle
 * cores they made a training step ≈ 1.3× and a forward pass ≈ 1.8× faster (README, Benchmarks).
 * So the default is chosen from a short sample of the cores' busy time at start-up, not from the
 * core count alone. It cannot foresee work that starts later: `APC_WASM_THREADS=1` pins it.
 */
import { availableParallelism, cpus } from 'node:os';

/** Most XNNPACK threads apc picks on its own (a small VGG batch does not feed more). */
export const MAX_AUTO_WASM_THREADS = 4;

interface CpuTimes { busy: number; total: number }

function cpuTimes(): CpuTimes[] {
  return cpus().map(({ times: t }) => ({ busy: t.user + t.nice + t.sys + t.irq, total: t.user + t.nice + t.sys + t.irq + t.idle }));
}

/**
 * Idle cores over a `sampleMs` window (0 … core count): the cores' summed idle share. This process
 * sleeps during the window, so only other work counts as busy.
 */
export async function measureIdleCores(sampleMs = 150): Promise<{ idle: number; cores: number }> {
  const before = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = cpuTimes();
  let idle = 0;
  after.forEach((a, i) => {
    const b = before[i];
    const total = a.total - (b?.total ?? 0);
    if (b && total > 0) idle += 1 - (a.busy - b.busy) / total;
    else idle += 1; // no ticks counted in the window: nothing ran there
  });
  return { idle: Math.max(0, Math.min(after.length, idle)), cores: after.length };
}

/**
 * Threads for `idle` idle cores out of `cores`: the idle cores rounded (a core counts when at least
 * half of it is free), at least 1, at most `MAX_AUTO_WASM_THREADS` and the cores Node may use.
 */
export function autoWasmThreads(idle: number, cores: number, usable = availableParallelism()): number {
  const cap = Math.max(1, Math.min(MAX_AUTO_WASM_THREADS, cores, usable));
  return Math.max(1, Math.min(cap, Math.floor(idle + 0.5)));
}
