/** BullMQ executor (placeholder until the queue lands). */
import type { SweepJob, SweepLayout } from './jobs.js';
import type { JobOutcome } from './outcome.js';
import type { SweepProgress } from './progress.js';

export interface QueueExecutorOptions {
  readonly url: string;
  readonly layout: SweepLayout;
  readonly retries: number;
  readonly progress: SweepProgress;
  readonly onChange?: () => void;
}

export async function runOnQueue(_jobs: readonly SweepJob[], _opts: QueueExecutorOptions): Promise<Map<string, JobOutcome>> {
  throw new Error('--queue: not implemented yet');
}
