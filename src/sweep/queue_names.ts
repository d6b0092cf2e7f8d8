/** The BullMQ queue every `apc sweep --queue` and `apc worker` share, and its Redis connection. */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';

/** One queue serves every sweep; job ids (`queueJobId`) keep sweeps over different roots apart. */
export const SWEEP_QUEUE = 'apc-sweep';

/**
 * BullMQ job id of a stage job: its key within its sweep root, since the artifacts live there — two
 * sweeps over the same `--out` share every job, one over another root runs its own.
 */
export function queueJobId(root: string, key: string): string {
  return `${createHash('sha256').update(root).digest('hex').slice(0, 8)}-${key}`;
}

/** A connection BullMQ accepts for blocking commands (no per-request retry limit). */
export function redisConnection(url: string): Redis {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`--queue must be a Redis URL such as redis://127.0.0.1:6380, got '${url}'`);
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** What a queued job carries: the stage job with paths under the sweep root, which a worker may remap (`--store`). */
export interface QueuedJobData {
  readonly root: string;
  readonly job: import('./jobs.js').SweepJob;
}
