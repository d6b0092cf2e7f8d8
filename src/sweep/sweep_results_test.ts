import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepGrid } from './grid.js';
import type { EvaluationFigures, JobRecord } from './job_record.js';
import { expandGrid, sweepLayout } from './jobs.js';
import type { JobOutcome } from './outcome.js';
import { pairedTTest, summarize } from './statistics.js';
import { sweepStatistics } from './sweep_results.js';

const grid = parseSweepGrid({ preset: 'quick', seeds: '0-2', compressions: ['kd'], matches: ['none', 'wcam'], betas: [0, 1, 10], attribution: ['gradcam'] }, 'test');
const jobs = expandGrid(grid, sweepLayout('/s'));

/** Made-up figures: mAP 50 + seed + β, cosine 0.5 + seed/10 + β/100 (students), teacher without agreement. */
function figures(beta: number, seed: number, student: boolean): EvaluationFigures {
  return { mAP: 50 + seed + beta + (seed === 2 ? 0.5 * beta : 0), f1: 40, attribution: { gradcam: { auc: 0.7, pointing: 0.9,
    ...(student ? { agreement: { cosine: 0.5 + seed / 10 + beta / 100, spearman: 0.4, topkIoU: 0.3 } } : {}) } } };
}
function outcomes(skip = new Set<string>()): Map<string, JobOutcome> {
  const m = new Map<string, JobOutcome>();
  for (const j of jobs) {
    if (skip.has(j.key)) { m.set(j.key, { status: 'failed', error: 'x', log: 'l', attempts: 3 }); continue; }
    const evaluation = j.stage === 'evaluate' ? figures(j.row!.beta, j.seed!, j.row!.compression !== 'none') : undefined;
    const record: JobRecord = { key: j.key, stage: j.stage, config: j.config, product: j.product, ...(evaluation ? { evaluation } : {}),
      seconds: 1, attempts: 1, worker: 'test', log: 'l', finishedAt: '' };
    m.set(j.key, { status: 'done', record });
  }
  return m;
}

test('configs: one per row (teacher, kd, kd+wcam β 1, β 10), statistics over the three seeds', () => {
  const s = sweepStatistics(jobs, outcomes());
  assert.equal(s.configs.length, 4);
  const b10 = s.configs.find((c) => c.config.beta === 10)!;
  assert.equal(b10.n, 3);
  assert.deepEqual(b10.seeds, [0, 1, 2]);
  assert.deepEqual(b10.metrics.mAP, summarize([60, 61, 67]));
  assert.deepEqual(b10.metrics['gradcam.cosine'], summarize([0, 1, 2].map((seed) => 0.5 + seed / 10 + 10 / 100)));
  const teacher = s.configs.find((c) => c.config.compression === 'none')!;
  assert.equal(teacher.metrics['gradcam.cosine'], undefined, 'the teacher has no agreement with itself');
});

test('paired: matching − no matching per seed, equal to the t-test on the differences', () => {
  const s = sweepStatistics(jobs, outcomes());
  const b10 = s.configs.find((c) => c.config.beta === 10)!;
  const off = s.configs.find((c) => c.config.compression === 'kd' && c.config.match === 'none')!;
  const p = s.paired.find((x) => x.with === b10.key && x.metric === 'mAP')!;
  assert.equal(p.without, off.key);
  // differences 10, 10, 15
  const ref = pairedTTest([60, 61, 67], [50, 51, 52]);
  assert.equal(p.meanDiff, ref.meanDiff);
  assert.deepEqual(p.ci95, ref.ci95);
  assert.equal(p.p, ref.p);
  assert.ok(Math.abs(p.meanDiff - 35 / 3) < 1e-12);
});

test('β curve: kd+wcam at β 0 (no matching), 1, 10; a failed evaluation drops its seed only', () => {
  const s = sweepStatistics(jobs, outcomes());
  assert.equal(s.betaCurves.length, 1);
  const curve = s.betaCurves[0];
  assert.equal(curve.agreementMetric, 'gradcam.cosine');
  assert.deepEqual(curve.points.map((p) => p.beta), [0, 1, 10]);
  assert.deepEqual(curve.points[0].mAP, summarize([50, 51, 52]));
  const failed = jobs.find((j) => j.stage === 'evaluate' && j.row?.beta === 10 && j.seed === 1)!;
  const t = sweepStatistics(jobs, outcomes(new Set([failed.key])));
  const b10 = t.configs.find((c) => c.config.beta === 10)!;
  assert.deepEqual(b10.seeds, [0, 2]);
  assert.equal(t.paired.find((x) => x.with === b10.key && x.metric === 'mAP')!.n, 2);
});
