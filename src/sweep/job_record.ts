/**
 * A finished job's recorded result, `OUT/jobs/KEY.json`: written only after the stage exited 0 and
 * its product exists, so its presence is what "finished" means — a re-run or a second sweep over
 * the same directory skips the job, and each key has exactly one result.
 */
import { readFile, stat } from 'node:fs/promises';
import { writeJsonFile } from '../engine/files.js';
import type { SweepJob } from './jobs.js';

export interface JobRecord {
  readonly key: string;
  readonly stage: SweepJob['stage'];
  readonly config: SweepJob['config'];
  /** train/compress: the checkpoint; evaluate: the evaluation JSON. */
  readonly product: string;
  /** Evaluation jobs: the measured figures (the evaluation JSON minus per-pair detail). */
  readonly evaluation?: EvaluationFigures;
  readonly seconds: number;
  readonly attempts: number;
  /** Who ran it: 'local' or the BullMQ worker's name. */
  readonly worker: string;
  readonly log: string;
  readonly finishedAt: string;
}

/** The figures of an `apc evaluate --json` file the statistics use. */
export interface EvaluationFigures {
  readonly mAP: number;
  readonly f1: number;
  readonly attribution: Record<string, { auc: number; pointing: number; agreement?: { cosine: number; spearman: number; topkIoU: number } }>;
}

export async function readJobRecord(path: string): Promise<JobRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JobRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: unreadable job record (${(err as Error).message}); delete it to re-run the job`);
  }
}

/** The figures of an evaluation JSON, checked: a file without them is a failed job. */
export async function readEvaluationFigures(path: string): Promise<EvaluationFigures> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as Partial<EvaluationFigures> & { attribution?: Record<string, any> };
  if (typeof raw.mAP !== 'number' || typeof raw.f1 !== 'number' || !raw.attribution) throw new Error(`${path}: evaluation JSON without mAP, f1 and attribution`);
  const attribution: EvaluationFigures['attribution'] = {};
  for (const [m, e] of Object.entries(raw.attribution)) {
    attribution[m] = { auc: e.auc, pointing: e.pointing,
      ...(e.agreement ? { agreement: { cosine: e.agreement.cosine, spearman: e.agreement.spearman, topkIoU: e.agreement.topkIoU } } : {}) };
  }
  return { mAP: raw.mAP, f1: raw.f1, attribution };
}

/** After the child exited 0: check the product and build the record. */
export async function completedRecord(job: SweepJob, run: { seconds: number; attempts: number; worker: string; log: string }): Promise<JobRecord> {
  try {
    await stat(job.product);
  } catch {
    throw new Error(`the stage exited 0 but ${job.product} is missing`);
  }
  const evaluation = job.stage === 'evaluate' ? await readEvaluationFigures(job.product) : undefined;
  return { key: job.key, stage: job.stage, config: job.config, product: job.product, ...(evaluation ? { evaluation } : {}), ...run, finishedAt: new Date().toISOString() };
}

export async function writeJobRecord(path: string, record: JobRecord): Promise<void> {
  await writeJsonFile(path, record);
}
