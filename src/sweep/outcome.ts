/** How each job of a sweep ended, whichever executor ran it. */
import type { JobRecord } from './job_record.js';

export type JobOutcome =
  | { readonly status: 'done'; readonly record: JobRecord }
  | { readonly status: 'failed'; readonly error: string; readonly log: string; readonly attempts: number }
  /** Not run: a job it depends on failed. */
  | { readonly status: 'blocked'; readonly by: string };
