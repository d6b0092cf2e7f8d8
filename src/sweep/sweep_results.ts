/**
 * `sweep.json`: every job with how it ended, then the statistics over seeds — per row config the
 * mean, sd and 95 % t interval of mAP, F1 and every attribution metric; matching − no matching
 * paired on seed (and so teacher); and for β sweeps the accuracy/agreement curve.
 */
import type { EvaluationFigures } from './job_record.js';
import { jobKey } from './job_key.js';
import type { RowConfig, SweepJob } from './jobs.js';
import type { JobOutcome } from './outcome.js';
import { pairedTTest, type Summary, summarize } from './statistics.js';
import type { SweepGrid } from './grid.js';

export interface ConfigStats {
  /** Hash of the row config (seed aside). */
  readonly key: string;
  readonly config: RowConfig;
  /** Seeds with a result. */
  readonly n: number;
  readonly seeds: number[];
  readonly metrics: Record<string, Summary>;
}

export interface PairedStats {
  /** Keys of the matched row and of its no-matching partner. */
  readonly with: string;
  readonly without: string;
  readonly metric: string;
  readonly n: number;
  readonly meanDiff: number;
  readonly ci95: readonly [number, number];
  readonly p: number;
}

export interface BetaCurve {
  /** The row config with β varying (β = 0: the no-matching row). */
  readonly config: Omit<RowConfig, 'beta'>;
  /** Agreement metric on the curve's y axis, e.g. 'gradcam.cosine'. */
  readonly agreementMetric: string;
  readonly points: { beta: number; key: string; n: number; mAP: Summary; agreement: Summary }[];
}

export interface SweepJobSummary {
  readonly key: string;
  readonly stage: SweepJob['stage'];
  readonly config: SweepJob['config'];
  readonly status: JobOutcome['status'];
  readonly seconds?: number;
  readonly attempts?: number;
  readonly worker?: string;
  readonly error?: string;
  readonly log?: string;
  readonly blockedBy?: string;
}

export interface SweepResults {
  readonly apc: string;
  readonly grid: SweepGrid;
  readonly root: string;
  readonly executor: string;
  readonly counts: { total: number; done: number; failed: number; blocked: number };
  readonly jobs: SweepJobSummary[];
  readonly configs: ConfigStats[];
  readonly paired: PairedStats[];
  readonly betaCurves: BetaCurve[];
}

/** Flat metric names of one evaluation: mAP, F1, METHOD.auc / .pointing / .cosine / .spearman / .topkIoU. */
export function metricValues(e: EvaluationFigures): Record<string, number> {
  const out: Record<string, number> = { mAP: e.mAP, F1: e.f1 };
  for (const [m, a] of Object.entries(e.attribution)) {
    out[`${m}.auc`] = a.auc;
    out[`${m}.pointing`] = a.pointing;
    if (a.agreement) {
      out[`${m}.cosine`] = a.agreement.cosine;
      out[`${m}.spearman`] = a.agreement.spearman;
      out[`${m}.topkIoU`] = a.agreement.topkIoU;
    }
  }
  return out;
}

interface RowRuns { key: string; config: RowConfig; bySeed: Map<number, Record<string, number>> }

export function sweepStatistics(jobs: readonly SweepJob[], outcomes: ReadonlyMap<string, JobOutcome>): Pick<SweepResults, 'configs' | 'paired' | 'betaCurves'> {
  const rows = new Map<string, RowRuns>();
  for (const j of jobs) {
    const o = outcomes.get(j.key);
    if (j.stage !== 'evaluate' || !j.row || j.seed === undefined || o?.status !== 'done' || !o.record.evaluation) continue;
    const key = jobKey(j.row);
    const r = rows.get(key) ?? { key, config: j.row, bySeed: new Map() };
    r.bySeed.set(j.seed, metricValues(o.record.evaluation));
    rows.set(key, r);
  }
  const configs: ConfigStats[] = [...rows.values()].map((r) => {
    const seeds = [...r.bySeed.keys()].sort((a, b) => a - b);
    const names = [...new Set(seeds.flatMap((s) => Object.keys(r.bySeed.get(s)!)))];
    const metrics = Object.fromEntries(names.map((m) => [m, summarize(seeds.map((s) => r.bySeed.get(s)![m]).filter((v) => v !== undefined && Number.isFinite(v)))]));
    return { key: r.key, config: r.config, n: seeds.length, seeds, metrics };
  });

  const paired: PairedStats[] = [];
  for (const r of rows.values()) {
    if (r.config.match === 'none') continue;
    const partner = rows.get(jobKey({ ...r.config, match: 'none', beta: 0, stochastic: 0 }));
    if (!partner) continue;
    const seeds = [...r.bySeed.keys()].filter((s) => partner.bySeed.has(s)).sort((a, b) => a - b);
    const names = Object.keys(r.bySeed.get(seeds[0] ?? -1) ?? {});
    for (const metric of names) {
      const both = seeds.filter((s) => Number.isFinite(r.bySeed.get(s)![metric]) && Number.isFinite(partner.bySeed.get(s)![metric]));
      if (!both.length) continue;
      const t = pairedTTest(both.map((s) => r.bySeed.get(s)![metric]), both.map((s) => partner.bySeed.get(s)![metric]));
      paired.push({ with: r.key, without: partner.key, metric, n: t.n, meanDiff: t.meanDiff, ci95: t.ci95, p: t.p });
    }
  }
  return { configs, paired, betaCurves: betaCurves(configs) };
}

/** Rows that differ only in β (≥ 2 non-zero values), with the no-matching row as β = 0. */
function betaCurves(configs: readonly ConfigStats[]): BetaCurve[] {
  const groups = new Map<string, ConfigStats[]>();
  for (const c of configs) {
    if (c.config.match === 'none') continue;
    const { beta: _beta, ...rest } = c.config;
    const g = jobKey(rest);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const curves: BetaCurve[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const { beta: _beta, ...rest } = members[0].config;
    const zero = configs.find((c) => jobKey(c.config) === jobKey({ ...members[0].config, match: 'none', beta: 0, stochastic: 0 }));
    const agreementMetric = ['gradcam.cosine', ...Object.keys(members[0].metrics).filter((m) => m.endsWith('.cosine'))].find((m) => m in members[0].metrics);
    if (!agreementMetric) continue;
    const points = [...(zero ? [zero] : []), ...members].map((c) => ({ beta: c.config.beta, key: c.key, n: c.n, mAP: c.metrics.mAP, agreement: c.metrics[agreementMetric] ?? summarize([]) }))
      .sort((a, b) => a.beta - b.beta);
    curves.push({ config: rest, agreementMetric, points });
  }
  return curves;
}

export function jobSummaries(jobs: readonly SweepJob[], outcomes: ReadonlyMap<string, JobOutcome>): SweepJobSummary[] {
  return jobs.map((j) => {
    const o = outcomes.get(j.key) ?? { status: 'blocked' as const, by: '?' };
    const base = { key: j.key, stage: j.stage, config: j.config, status: o.status };
    if (o.status === 'done') return { ...base, seconds: o.record.seconds, attempts: o.record.attempts, worker: o.record.worker, log: o.record.log };
    if (o.status === 'failed') return { ...base, attempts: o.attempts, error: o.error, log: o.log };
    return { ...base, blockedBy: o.by };
  });
}
