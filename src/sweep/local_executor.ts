/**
 * The default executor: a pool of apc child processes on this machine, no services. A job starts
 * when the jobs it depends on are done; a failing job is retried (its stage resumes from its last
 * checkpoint) up to `retries` times, then reported, and the jobs that need it are left out.
 */
import type { ChildProcess } from 'node:child_process';
import type { SweepJob, SweepLayout } from './jobs.js';
import type { JobOutcome } from './outcome.js';
import type { SweepProgress } from './progress.js';
import { JobFailedError, runJob } from './run_job.js';

export interface LocalExecutorOptions {
  readonly layout: SweepLayout;
  /** Child processes at once. */
  readonly concurrency: number;
  /** Extra attempts after a failure. */
  readonly retries: number;
  readonly backend?: string;
  readonly progress: SweepProgress;
  /** Called after every change (a job started or ended). */
  readonly onChange?: () => void;
}

export async function runLocal(jobs: readonly SweepJob[], opts: LocalExecutorOptions): Promise<Map<string, JobOutcome>> {
  const outcomes = new Map<string, JobOutcome>();
  const waiting = [...jobs];
  const children = new Set<ChildProcess>();
  let running = 0;
  // Ctrl-C or a TERM: take the children down (SIGKILL of this process is handled by exit_with_parent)
  const stop = (signal: NodeJS.Signals) => {
    for (const c of children) c.kill('SIGTERM');
    process.exitCode = signal === 'SIGINT' ? 130 : 143;
    process.exit();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  try {
    await new Promise<void>((resolveAll) => {
      const launch = () => {
        for (let i = 0; i < waiting.length && running < opts.concurrency;) {
          const job = waiting[i];
          const blockedBy = job.deps.find((d) => { const o = outcomes.get(d); return o && o.status !== 'done'; });
          if (blockedBy) {
            waiting.splice(i, 1);
            outcomes.set(job.key, { status: 'blocked', by: blockedBy });
            opts.progress.failed(job.key);
            continue;
          }
          if (!job.deps.every((d) => outcomes.get(d)?.status === 'done')) { i++; continue; }
          waiting.splice(i, 1);
          running++;
          opts.progress.start(job.key);
          opts.onChange?.();
          void attempt(job, 1).then((o) => {
            running--;
            outcomes.set(job.key, o);
            if (o.status === 'done') opts.progress.done(job.key, o.record.seconds);
            else opts.progress.failed(job.key);
            opts.onChange?.();
            launch();
          });
        }
        if (running === 0 && waiting.every((j) => !j.deps.every((d) => outcomes.get(d)?.status === 'done'))) {
          for (const j of waiting) outcomes.set(j.key, { status: 'blocked', by: j.deps.find((d) => !outcomes.has(d) || outcomes.get(d)!.status !== 'done') ?? '?' });
          resolveAll();
        }
      };
      launch();
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return outcomes;

  async function attempt(job: SweepJob, n: number): Promise<JobOutcome> {
    try {
      const record = await runJob(job, { layout: opts.layout, attempt: n, worker: 'local', backend: opts.backend,
        onSpawn: (c) => { children.add(c); c.once('exit', () => children.delete(c)); } });
      return { status: 'done', record };
    } catch (err) {
      if (n <= opts.retries) return attempt(job, n + 1);
      const log = err instanceof JobFailedError ? err.log : opts.layout.log(job.key);
      return { status: 'failed', error: (err as Error).message, log, attempts: n };
    }
  }
}
