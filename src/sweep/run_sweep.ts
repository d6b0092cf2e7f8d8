/**
 * `apc sweep`: grid → jobs → an executor (the local pool, or BullMQ when a queue URL is given) →
 * `OUT/sweep.json`. Finished jobs (a record under OUT/jobs) are skipped, so a sweep resumes where
 * it stopped and a second sweep over the same directory reuses every shared stage.
 */
import { writeJsonFile } from '../engine/files.js';
import { APC_VERSION } from '../version.js';
import type { SweepGrid } from './grid.js';
import { expandGrid, type SweepJob, sweepLayout } from './jobs.js';
import { runLocal } from './local_executor.js';
import type { JobOutcome } from './outcome.js';
import { SweepProgress } from './progress.js';
import { jobSummaries, type SweepResults, sweepStatistics } from './sweep_results.js';

export interface RunSweepOptions {
  readonly grid: SweepGrid;
  /** Sweep root: artifacts, job records, logs and sweep.json. */
  readonly out: string;
  /**
   * The statistics file OUT/NAME.json (default 'sweep'): several grids over one --out share their
   * stages (a β sweep reusing a seed sweep's teachers) and each keeps its own statistics.
   */
  readonly name?: string;
  /** Local child processes at once (default: the idle cores). */
  readonly concurrency?: number;
  /** BullMQ on this Redis URL instead of the local pool. */
  readonly queue?: string;
  readonly retries?: number;
  readonly backend?: string;
  /** Progress lines (default: stderr, rewritten in place on a terminal). */
  readonly log?: (line: string) => void;
  /** Seconds between progress lines besides the ones at each change (default 30). */
  readonly heartbeatSeconds?: number;
}

export async function runSweep(opts: RunSweepOptions): Promise<{ results: SweepResults; path: string; ok: boolean }> {
  const name = opts.name ?? 'sweep';
  if (!SWEEP_NAME.test(name)) throw new Error(`--name: '${name}' is not a file name; use letters, digits, '.', '-' or '_' (it becomes OUT/${name}.json)`);
  const layout = sweepLayout(opts.out);
  const jobs = expandGrid(opts.grid, layout);
  const concurrency = opts.concurrency ?? await idleSlots();
  const progress = new SweepProgress(jobs, concurrency);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let last = '';
  const report = () => { const l = progress.line(); if (l !== last) { last = l; log(l); } };
  log(`sweep: ${jobs.length} jobs (${count(jobs, 'teacher')} teachers, ${count(jobs, 'compress')} compressions, ${count(jobs, 'evaluate')} evaluations) · `
    + `${opts.queue ? `BullMQ at ${opts.queue} (run \`apc worker --queue ${opts.queue}\` on each machine)` : `${concurrency} local process${concurrency === 1 ? '' : 'es'}`} · ${layout.root}`);
  const heartbeat = setInterval(() => { last = ''; report(); }, 1000 * (opts.heartbeatSeconds ?? 30));
  heartbeat.unref();
  let outcomes: Map<string, JobOutcome>;
  try {
    if (opts.queue) {
      const { runOnQueue } = await import('./queue_executor.js');
      outcomes = await runOnQueue(jobs, { url: opts.queue, layout, retries: opts.retries ?? 2, progress, onChange: report, log });
    } else {
      outcomes = await runLocal(jobs, { layout, concurrency, retries: opts.retries ?? 2, backend: opts.backend, progress, onChange: report });
    }
  } finally {
    clearInterval(heartbeat);
  }
  const summaries = jobSummaries(jobs, outcomes);
  const results: SweepResults = {
    apc: APC_VERSION, grid: opts.grid, root: layout.root, executor: opts.queue ? 'bullmq' : 'local',
    counts: { total: jobs.length, done: summaries.filter((j) => j.status === 'done').length, failed: summaries.filter((j) => j.status === 'failed').length,
      blocked: summaries.filter((j) => j.status === 'blocked').length },
    jobs: summaries, ...sweepStatistics(jobs, outcomes),
  };
  const path = `${layout.root}/${name}.json`;
  await writeJsonFile(path, results);
  return { results, path, ok: results.counts.done === results.counts.total };
}

const SWEEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

const count = (jobs: readonly SweepJob[], stage: SweepJob['stage']) => jobs.filter((j) => j.stage === stage).length;

/** One child per idle core (at least 1): each child runs one wasm thread. */
async function idleSlots(): Promise<number> {
  const { measureIdleCores } = await import('../engine/idle_cores.js');
  const { idle } = await measureIdleCores(300);
  return Math.max(1, Math.floor(idle + 0.5));
}
