/**
 * `apc worker`: takes stage jobs from the sweep queue and runs each as an apc child process — the
 * worker's own event loop only renews BullMQ's locks. A worker killed mid-job (even SIGKILL) takes
 * its child with it (`exit_with_parent.ts`); the job's lock expires, BullMQ's stalled-job check
 * puts it back, and the next worker's stage resumes from its last checkpoint (`--resume`).
 */
import { hostname } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { type Job, Worker } from 'bullmq';
import type { JobRecord } from './job_record.js';
import { type SweepJob, sweepLayout } from './jobs.js';
import { type QueuedJobData, redisConnection, SWEEP_QUEUE } from './queue_names.js';
import { reportRedisOutages } from './redis_outage.js';
import { JobFailedError, runJob } from './run_job.js';

export interface QueueWorkerOptions {
  readonly url: string;
  /** Jobs at once (child processes). */
  readonly concurrency: number;
  /** This machine's path of the sweeps' shared root (default: the root as the sweep wrote it). */
  readonly store?: string;
  readonly backend?: string;
  /** Seconds a job's lock lasts without renewal: how soon a dead worker's job is picked up again (default 30). */
  readonly lockSeconds?: number;
  /** Seconds close() waits for running stages to checkpoint and exit before killing them (default 120). */
  readonly stopSeconds?: number;
  readonly log?: (line: string) => void;
}

/**
 * A job stopped by close(), not failed, goes back to the queue without spending an attempt; its
 * processor then returns `neverSettles()` (close() is forced), so BullMQ neither records a failure
 * nor fetches another job for the slot. If moveToWait fails, the lock expires and the job comes
 * back as stalled after --lock-seconds.
 */
async function handBack(job: Job<QueuedJobData, JobRecord>, token: string | undefined): Promise<void> {
  await job.moveToWait(token).catch(() => undefined);
}
const neverSettles = () => new Promise<never>(() => undefined);

/** `path` with the sweep root `from` replaced by `to`. */
export function remapPath(path: string, from: string, to: string | undefined): string {
  if (!to || (path !== from && !path.startsWith(`${from}/`))) return path;
  return to + path.slice(from.length);
}

function remapJob(job: SweepJob, from: string, to: string | undefined): SweepJob {
  const m = (p: string) => remapPath(p, from, to);
  return { ...job, args: job.args.map(m), artifactDir: m(job.artifactDir), product: m(job.product) };
}

/**
 * Starts a worker; resolves with a `close()` that stops taking jobs, asks the running children to
 * stop (SIGTERM: a training stage writes its checkpoint first) and waits for them (SIGKILL after
 * `stopSeconds`, default 120).
 */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<{ worker: Worker<QueuedJobData, JobRecord>; close: () => Promise<void> }> {
  const connection = redisConnection(opts.url);
  const name = `${hostname()}:${process.pid}`;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const children = new Set<ChildProcess>();
  const lockDuration = 1000 * (opts.lockSeconds ?? 30);
  let stopping = false;
  // one entry per running processor: settles when it has finished or handed its job back
  const settling = new Set<Promise<void>>();
  const worker = new Worker<QueuedJobData, JobRecord>(SWEEP_QUEUE, async (job, token) => {
    const { root, job: sweepJob } = job.data;
    const local = remapJob(sweepJob, root, opts.store);
    const layout = sweepLayout(opts.store ?? root);
    if (stopping) { // fetched while close() paused the worker
      await handBack(job, token);
      return neverSettles();
    }
    log(`worker ${name}: ${sweepJob.stage} ${sweepJob.key} (attempt ${job.attemptsMade + 1})`);
    let settled!: () => void;
    const done = new Promise<void>((r) => { settled = r; });
    settling.add(done);
    void done.then(() => settling.delete(done));
    try {
      const record = await runJob(local, { layout, attempt: job.attemptsMade + 1, worker: name, backend: opts.backend,
        onSpawn: (c) => {
          children.add(c);
          c.once('exit', () => children.delete(c));
          if (stopping) c.kill('SIGTERM'); // spawned after close() signalled the others
        } });
      log(`worker ${name}: ${sweepJob.stage} ${sweepJob.key} done in ${record.seconds.toFixed(0)} s`);
      // the result in Redis carries the sweep's paths, whatever this machine calls them
      return { ...record, product: remapPath(record.product, layout.root, root), log: remapPath(record.log, layout.root, root) };
    } catch (err) {
      if (stopping) {
        log(`worker ${name}: ${sweepJob.stage} ${sweepJob.key} stopped; back to the queue`);
        await handBack(job, token); // before `finally` tells close() this slot is done
        return neverSettles();
      }
      const logPath = err instanceof JobFailedError ? remapPath(err.log, layout.root, root) : undefined;
      log(`worker ${name}: ${sweepJob.stage} ${sweepJob.key} failed: ${(err as Error).message}`);
      throw new Error(`${(err as Error).message}${logPath ? ` (log: ${logPath})` : ''}`);
    } finally {
      settled();
    }
  }, { connection, concurrency: opts.concurrency, name, lockDuration, stalledInterval: Math.max(1000, lockDuration / 2), maxStalledCount: 5 });
  const outage = reportRedisOutages(connection, `worker ${name}`, opts.url, log);
  worker.on('error', (err) => outage.error(err));
  await worker.waitUntilReady();
  log(`worker ${name}: waiting for jobs on ${opts.url} (queue ${SWEEP_QUEUE}, ${opts.concurrency} at once${opts.store ? `, store ${opts.store}` : ''})`);
  return {
    worker,
    close: async () => {
      stopping = true;
      await worker.pause(true); // takes no new job
      const exited = [...children].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) resolve();
        else c.once('exit', () => resolve());
      }));
      for (const c of children) c.kill('SIGTERM');
      const force = setTimeout(() => { for (const c of children) c.kill('SIGKILL'); }, 1000 * (opts.stopSeconds ?? 120));
      await Promise.all(exited);
      clearTimeout(force);
      await Promise.all([...settling]);
      await worker.close(true);
      connection.disconnect();
    },
  };
}
