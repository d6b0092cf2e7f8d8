/**
 * Runs one stage job as an apc child process and records its result. Shared by the local pool and
 * the BullMQ worker: the CPU-bound work is always in the child, never in the caller's event loop.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { outputLockState } from '../engine/output_lock.js';
import { spawnApc, logTail } from './apc_child.js';
import { completedRecord, type JobRecord, readJobRecord, writeJobRecord } from './job_record.js';
import type { SweepJob, SweepLayout } from './jobs.js';

export class JobFailedError extends Error {
  constructor(readonly key: string, message: string, readonly log: string) {
    super(message);
    this.name = 'JobFailedError';
  }
}

export interface RunJobOptions {
  readonly layout: SweepLayout;
  /** 1-based attempt number (recorded; train/compress always run with --resume, so a retry continues). */
  readonly attempt: number;
  readonly worker: string;
  readonly backend?: string;
  /** Called with the child as soon as it is spawned (to kill it on shutdown). */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** Milliseconds between looks at a held stage directory (default 5000). */
  readonly lockPollMs?: number;
}

/**
 * Waits while the stage's --out directory is held by a live run — the same job handed out again
 * while its first run goes on (a worker cut off from Redis longer than its lock, or one whose lock
 * expired on a busy machine). Starting the stage then would only be refused; waiting lets the
 * first run finish (its record is then read) or die (its lock goes stale and the stage resumes).
 */
async function waitForStageDirectory(job: SweepJob, log: string, pollMs: number): Promise<void> {
  const i = job.args.indexOf('--out');
  if (i < 0) return;
  const dir = job.args[i + 1];
  let said = false;
  for (let st = outputLockState(dir); st.state === 'held'; st = outputLockState(dir)) {
    if (!st.holder) return; // unreadable: the stage reports it
    if (!said) {
      said = true;
      await appendFile(log, `=== ${new Date().toISOString()} · waiting: ${dir} is ${st.why}\n`).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The job's record if it already finished, else runs it; throws JobFailedError with the log's tail. */
export async function runJob(job: SweepJob, opts: RunJobOptions): Promise<JobRecord> {
  const recordPath = opts.layout.record(job.key);
  const log = opts.layout.log(job.key);
  // a run still holding the stage directory is waited for first: it may finish the job
  await waitForStageDirectory(job, log, opts.lockPollMs ?? 5000);
  const existing = await readJobRecord(recordPath);
  if (existing) return existing;
  const started = Date.now();
  const { child, exited } = spawnApc(job.args, { log, backend: opts.backend });
  opts.onSpawn?.(child);
  const { code, signal } = await exited;
  if (code !== 0) {
    const tail = (await logTail(log, 3)).replace(/\s*\n\s*/g, ' | ');
    throw new JobFailedError(job.key, `${job.stage} ${signal ? `killed by ${signal}` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`, log);
  }
  let record: JobRecord;
  try {
    record = await completedRecord(job, { seconds: (Date.now() - started) / 1000, attempts: opts.attempt, worker: opts.worker, log });
  } catch (err) {
    throw new JobFailedError(job.key, (err as Error).message, log);
  }
  await writeJobRecord(recordPath, record);
  return record;
}
