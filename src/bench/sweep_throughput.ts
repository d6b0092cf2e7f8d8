/**
 * `npm run bench -- --sweep`: sweep throughput on one small grid (smoke preset, 2 seeds, KD with and
 * without WCAM: 12 stage jobs) — sequential (`--jobs 1`), the local pool (`--jobs 2`), and BullMQ
 * with 1 and 2 workers on a loopback Redis (`APC_BENCH_REDIS_URL`, else a redis-server started here
 * on a free port). Every run starts from an empty directory, so all jobs run. Reports jobs/hour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { type ApcChild, spawnApc } from '../sweep/apc_child.js';

export const SWEEP_BENCH_GRID = ['--preset', 'smoke', '--seeds', '0,1', '--compression', 'kd', '--match', 'none,wcam', '--beta', '1',
  '--train-limit', '64', '--epochs', '1', '--limit', '8', '--attribution', 'gradcam'];

export interface SweepThroughputRow { executor: string; jobs: number; seconds: number; jobsPerHour: number; ok: boolean }

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
  });
}

/** A throw-away redis-server on 127.0.0.1 (no persistence: bench data). */
async function loopbackRedis(dir: string): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`redis-server could not start (${e.message}); install it or set APC_BENCH_REDIS_URL`)));
    setTimeout(resolve, 500);
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

async function timedSweep(label: string, extra: string[], log: (l: string) => void): Promise<SweepThroughputRow> {
  const dir = mkdtempSync(join(tmpdir(), 'apc-bench-sweep-'));
  try {
    const t0 = performance.now();
    const { exited } = spawnApc(['sweep', ...SWEEP_BENCH_GRID, '--out', join(dir, 'out'), ...extra], { log: join(dir, 'sweep.log') });
    const { code } = await exited;
    const seconds = (performance.now() - t0) / 1000;
    const jobs = 12;
    log(`  ${label}: ${seconds.toFixed(0)} s${code === 0 ? '' : ` (exit ${code}; see ${join(dir, 'sweep.log')})`}`);
    return { executor: label, jobs, seconds, jobsPerHour: (3600 * jobs) / seconds, ok: code === 0 };
  } finally {
    rmSync(join(dir, 'out'), { recursive: true, force: true });
  }
}

export async function sweepThroughput(log: (l: string) => void): Promise<SweepThroughputRow[]> {
  const rows: SweepThroughputRow[] = [];
  rows.push(await timedSweep('sequential (--jobs 1)', ['--jobs', '1'], log));
  rows.push(await timedSweep('local pool (--jobs 2)', ['--jobs', '2'], log));
  const tmp = mkdtempSync(join(tmpdir(), 'apc-bench-redis-'));
  const redis = process.env.APC_BENCH_REDIS_URL ? { url: process.env.APC_BENCH_REDIS_URL, stop: () => undefined } : await loopbackRedis(tmp);
  try {
    for (const n of [1, 2]) {
      const workers: ApcChild[] = [];
      for (let i = 0; i < n; i++) workers.push(spawnApc(['worker', '--queue', redis.url], { log: join(tmp, `worker-${n}-${i}.log`) }));
      try {
        rows.push(await timedSweep(`BullMQ, ${n} worker${n > 1 ? 's' : ''}`, ['--queue', redis.url], log));
      } finally {
        for (const w of workers) w.child.kill('SIGTERM');
        await Promise.all(workers.map((w) => w.exited));
      }
    }
  } finally {
    redis.stop();
  }
  return rows;
}
