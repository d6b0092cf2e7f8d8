/**
 * The BullMQ executor of `apc sweep --queue URL`: the sweep submits each stage job (job id: its key
 * within the sweep root) once the jobs it depends on have completed, and waits while `apc worker`s run them. BullMQ
 * flows are trees — a job has one parent — while a teacher feeds many compressions, so the
 * dependency gating is done here, with the state in Redis: a re-run (or a second sweep) finds
 * completed jobs there and in the job records, and retries failed ones.
 */
import { type Job, Queue } from 'bullmq';
import { readJobRecord, type JobRecord } from './job_record.js';
import type { SweepJob, SweepLayout } from './jobs.js';
import type { JobOutcome } from './outcome.js';
import type { SweepProgress } from './progress.js';
import { queueJobId, type QueuedJobData, redisConnection, SWEEP_QUEUE } from './queue_names.js';
import { reportRedisOutages } from './redis_outage.js';

export interface QueueExecutorOptions {
  readonly url: string;
  readonly layout: SweepLayout;
  /** Extra attempts of a failing job (BullMQ `attempts` = retries + 1). */
  readonly retries: number;
  readonly progress: SweepProgress;
  readonly onChange?: () => void;
  /** Milliseconds between looks at the queue (default 1000). */
  readonly pollMs?: number;
  /** Lines about Redis going away and coming back (default: stderr). */
  readonly log?: (line: string) => void;
}

export async function runOnQueue(jobs: readonly SweepJob[], opts: QueueExecutorOptions): Promise<Map<string, JobOutcome>> {
  const connection = redisConnection(opts.url);
  const queue = new Queue<QueuedJobData, JobRecord>(SWEEP_QUEUE, { connection });
  const outage = reportRedisOutages(connection, 'sweep', opts.url, opts.log ?? ((l) => process.stderr.write(`${l}\n`)));
  queue.on('error', (err) => outage.error(err));
  const outcomes = new Map<string, JobOutcome>();
  const submitted = new Set<string>();
  const active = new Set<string>();
  try {
    for (const j of jobs) {
      const record = await readJobRecord(opts.layout.record(j.key));
      if (record) { outcomes.set(j.key, { status: 'done', record }); opts.progress.done(j.key, record.seconds); }
    }
    for (;;) {
      try {
        await lookAtQueue();
      } catch (err) {
        // a command cut off by a Redis outage: every step below is safe to repeat, so look again once it is back
        if (!outage.down) throw err;
        outage.error(err as Error);
      }
      if (outcomes.size === jobs.length) break;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    }
  } finally {
    await queue.close();
    connection.disconnect();
  }
  return outcomes;

  /** Submits the jobs whose inputs are done and records what the submitted ones have become. */
  async function lookAtQueue(): Promise<void> {
    for (const j of jobs) {
      if (outcomes.has(j.key) || submitted.has(j.key)) continue;
      const blockedBy = j.deps.find((d) => { const o = outcomes.get(d); return o && o.status !== 'done'; });
      if (blockedBy) { outcomes.set(j.key, { status: 'blocked', by: blockedBy }); opts.progress.failed(j.key); continue; }
      if (j.deps.every((d) => outcomes.get(d)?.status === 'done')) { await submit(queue, j, opts); submitted.add(j.key); }
    }
    for (const key of submitted) {
      if (outcomes.has(key)) continue;
      const job = await queue.getJob(queueJobId(opts.layout.root, key));
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed' && job) {
        // the job may have completed between getJob and getState: its fetched copy then has no return value yet
        const record = job.returnvalue ?? (await queue.getJob(job.id!))?.returnvalue ?? await readJobRecord(opts.layout.record(key));
        if (!record) throw new Error(`sweep: queue job ${job.id} completed without a result record (${opts.layout.record(key)})`);
        outcomes.set(key, { status: 'done', record });
        active.delete(key);
        opts.progress.done(key, record.seconds);
      } else if (state === 'failed' && job) {
        outcomes.set(key, { status: 'failed', error: job.failedReason, log: opts.layout.log(key), attempts: job.attemptsMade });
        active.delete(key);
        opts.progress.failed(key);
      } else if (state === 'active' && !active.has(key)) {
        active.add(key);
        opts.progress.start(key);
      } else if (state === 'unknown') {
        submitted.delete(key); // removed from Redis behind our back (or Redis lost it): submit again
      } else continue;
      opts.onChange?.();
    }
  }
}

/** Adds the job, or finds it: completed ones are kept; a failed one from an earlier sweep is retried. */
async function submit(queue: Queue<QueuedJobData, JobRecord>, j: SweepJob, opts: QueueExecutorOptions): Promise<Job<QueuedJobData, JobRecord>> {
  const id = queueJobId(opts.layout.root, j.key);
  const existing = await queue.getJob(id);
  if (existing) {
    if (await existing.getState() === 'failed') await existing.retry('failed');
    return existing;
  }
  return queue.add(j.stage, { root: opts.layout.root, job: j }, { jobId: id, attempts: opts.retries + 1, backoff: { type: 'fixed', delay: 1000 } });
}
