/**
 * What the study report reads from `OUT/results.json`, typed loosely on purpose: results written by
 * older or newer versions of `runStudy` may lack fields (params, FLOPs, sparsity, bytes, some
 * attribution methods) or carry new ones (pruning rows, per-round series). Everything here
 * tolerates missing fields and JSON `null` (how non-finite numbers are written) and returns
 * `undefined` for them; the HTML prints '–'.
 *
 * The report layer reads JSON records only: it imports nothing from `src/pipeline`.
 */

export interface ReportAgreement { cosine?: number | null; spearman?: number | null; topkIoU?: number | null; n?: number | null }

/** Deletion/insertion faithfulness of one model's maps (eval/faithfulness.ts); older results lack it. */
export interface ReportFaithfulness {
  deletionAuc?: number | null;
  insertionAuc?: number | null;
  steps?: number | null;
  baseline?: string;
  nPairs?: number | null;
  /** Mean σ(z_c) at fractions 0, 1/steps, …, 1. */
  deletionCurve?: (number | null)[];
  insertionCurve?: (number | null)[];
}

export interface ReportMethodRecord {
  auc?: number | null;
  pointing?: number | null;
  nCounted?: number | null;
  nMissed?: number | null;
  agreement?: ReportAgreement | null;
  faithfulness?: ReportFaithfulness | null;
}

/** One method's cascading-randomisation sanity check on the teacher (eval/sanity_check.ts). */
export interface ReportSanity {
  layers?: { layer?: string; spearman?: number | null }[];
  passed?: boolean;
  threshold?: number | null;
  nImages?: number | null;
}

/** One row of results.json `models` (a `ResultRow`, every field optional but the name). */
export interface ReportRow {
  name: string;
  compression?: string;
  match?: string;
  beta?: number | null;
  stochastic?: number | null;
  params?: number | null;
  /** Parameters minus pruned (zero) conv weights. */
  nonZeroParams?: number | null;
  /** Dense FLOPs. */
  flops?: number | null;
  /** FLOPs counting only non-zero conv weights. */
  flopsEffective?: number | null;
  /** Fraction of zero conv-kernel weights. */
  sparsity?: number | null;
  /** Checkpoint size on disk, and weights.bin gzipped. */
  bytes?: number | null;
  bytesGzip?: number | null;
  mAP?: number | null;
  f1?: number | null;
  /** Pruning round of an iterative-pruning row (rows of one schedule share everything else). */
  round?: number | null;
  attribution?: Record<string, ReportMethodRecord | null | undefined>;
  /** Checkpoint directory of the model. */
  checkpoint?: string;
  /** 95 % intervals [lo, hi] keyed like the summary columns ('mAP', 'gradcam.auc' …); older results lack them. */
  ci95?: Record<string, unknown> | null;
}

/** Which interval the rows' `ci95` are (results.json `ciMethod`). */
export interface ReportIntervalMethod {
  kind?: string;
  level?: number | null;
  resamples?: number | null;
  seed?: number | null;
  description?: string;
}

export interface ReportResults {
  dataset?: string;
  split?: string;
  preset?: string;
  seed?: number;
  apc?: string;
  backend?: string | null;
  /** Full backend description (threads, kernel pack); older results lack it. */
  backendDetail?: string | null;
  /** Prediction and localisation splits (`split` is the prediction one); older results lack it. */
  splits?: { prediction?: string; localization?: string };
  /** ISO date of the run, when the writer records one (else the report uses results.json's mtime). */
  date?: string;
  models: ReportRow[];
  stages?: { name: string; seconds: number | null }[];
  /** Per-round pruning series (any of the shapes `pruningSeries` accepts). */
  series?: unknown;
  /** Teacher architecture ('vgg16', 'resnet18' …, 'graph' for an imported model); older results lack it. */
  arch?: string;
  /** Rows and methods the study left out, and why. */
  skipped?: { what?: unknown; reason?: unknown }[];
  /** Per method, the teacher's sanity check; older results lack it. */
  sanity?: Record<string, ReportSanity | null | undefined>;
  /** What the rows' `ci95` intervals are; older results lack it. */
  ciMethod?: ReportIntervalMethod | null;
}

/** A finite number or undefined (null, NaN, strings → undefined). */
export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A row's interval of one metric (key as the summary column's), when recorded as two finite numbers lo ≤ hi. */
export function metricInterval(r: ReportRow, key: string): [number, number] | undefined {
  const ci = isRecord(r.ci95) ? r.ci95[key] : undefined;
  if (!Array.isArray(ci) || ci.length !== 2) return undefined;
  const lo = num(ci[0]), hi = num(ci[1]);
  return lo !== undefined && hi !== undefined && lo <= hi ? [lo, hi] : undefined;
}

/** Validates the minimum the report needs (an object with a `models` array of named rows). */
export function parseReportResults(raw: unknown, source = 'results.json'): ReportResults {
  if (!isRecord(raw)) throw new Error(`${source}: expected a JSON object`);
  if (!Array.isArray(raw.models)) throw new Error(`${source}: 'models' must be an array`);
  raw.models.forEach((m, i) => {
    if (!isRecord(m) || typeof m.name !== 'string') throw new Error(`${source}: models[${i}] has no string 'name'`);
  });
  return raw as unknown as ReportResults;
}

/** Attribution methods in the order they first appear over the rows. */
export function resultMethods(rows: readonly ReportRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) for (const m of Object.keys(r.attribution ?? {})) if (!out.includes(m)) out.push(m);
  return out;
}

/** The preferred method for single-method plots: Grad-CAM when present, else the first. */
export function headlineMethod(methods: readonly string[]): string | undefined {
  return methods.includes('gradcam') ? 'gradcam' : methods[0];
}

export function isTeacher(r: ReportRow): boolean {
  return r.name === 'teacher' || r.compression === 'none';
}

export function hasMatching(r: ReportRow): boolean {
  return r.match !== undefined && r.match !== 'none';
}

/** Rows of one iterative-pruning schedule share this key (everything but the round and metrics). */
function scheduleKey(r: ReportRow): string {
  return JSON.stringify([r.compression ?? '', r.match ?? 'none', num(r.beta) ?? 0, num(r.stochastic) ?? 0]);
}

/**
 * The rows the summary table and heat-map grid list: every row except intermediate rounds of an
 * iterative-pruning schedule (rows with a `round` below their schedule's last round), which only
 * the sparsity plot shows.
 */
export function finalRows<R extends ReportRow>(rows: readonly R[]): R[] {
  const last = new Map<string, number>();
  for (const r of rows) {
    const t = num(r.round);
    if (t !== undefined) last.set(scheduleKey(r), Math.max(last.get(scheduleKey(r)) ?? -Infinity, t));
  }
  return rows.filter((r) => num(r.round) === undefined || num(r.round) === last.get(scheduleKey(r)));
}

/**
 * Display order of the compressed models: grouped by compression (first appearance), and inside a
 * group the rows without matching first, so "without" and "with matching" sit side by side.
 * The teacher (if any) comes first. Stable otherwise.
 */
export function orderForComparison<R extends ReportRow>(rows: readonly R[]): R[] {
  const teacher = rows.filter(isTeacher);
  const rest = rows.filter((r) => !isTeacher(r));
  const groups: string[] = [];
  for (const r of rest) if (!groups.includes(r.compression ?? '')) groups.push(r.compression ?? '');
  const sorted = rest.map((r, i) => ({ r, i })).sort((a, b) =>
    groups.indexOf(a.r.compression ?? '') - groups.indexOf(b.r.compression ?? '')
    || Number(hasMatching(a.r)) - Number(hasMatching(b.r))
    || a.i - b.i);
  return [...teacher, ...sorted.map((s) => s.r)];
}

// ---------------------------------------------------------------------------------------------
// Unstructured-pruning series
// ---------------------------------------------------------------------------------------------

export interface SeriesPoint { round?: number; sparsity: number; mAP?: number; cosine?: number }
export interface PruningSeries { label: string; matching: boolean; points: SeriesPoint[] }

/** Sparsity as a fraction: values above 1 are read as percentages (as some writers store it). */
export function sparsityFraction(v: number | undefined): number | undefined {
  return v === undefined ? undefined : v > 1 ? v / 100 : v;
}

function dig(o: unknown, ...path: string[]): unknown {
  let cur = o;
  for (const k of path) cur = isRecord(cur) ? cur[k] : undefined;
  return cur;
}

function firstNum(o: unknown, paths: readonly string[][]): number | undefined {
  for (const p of paths) {
    const v = num(dig(o, ...p));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** One per-round record → a point (tolerant of the plausible field layouts). */
function toPoint(p: unknown, method: string): SeriesPoint | undefined {
  const sparsity = sparsityFraction(firstNum(p, [['sparsity'], ['targetSparsity'], ['stats', 'sparsity']]));
  if (sparsity === undefined) return undefined;
  return {
    round: firstNum(p, [['round']]),
    sparsity,
    mAP: firstNum(p, [['mAP'], ['prediction', 'mAP'], ['test', 'mAP'], ['best', 'mAP'], ['val', 'mAP']]),
    cosine: firstNum(p, [['attribution', method, 'agreement', 'cosine'], ['agreement', method, 'cosine'], ['agreement', 'cosine'], ['cosine']]),
  };
}

function seriesLabel(o: unknown, fallback: string): string {
  for (const k of ['label', 'name', 'variant']) {
    const v = dig(o, k);
    if (typeof v === 'string' && v) return v.replace(/[\s_-]*(round|r)[\s_-]*\d+$/i, '');
  }
  const compression = dig(o, 'compression');
  const match = dig(o, 'match');
  if (typeof compression === 'string') return typeof match === 'string' && match !== 'none' ? `${compression}+${match}` : compression;
  return fallback;
}

function matchingOf(o: unknown, label: string): boolean {
  const match = dig(o, 'match');
  if (typeof match === 'string') return match !== 'none';
  const kind = dig(o, 'matching', 'kind');
  if (typeof kind === 'string') return kind !== 'none';
  return /\+(wcam|ewa|swa)/i.test(label);
}

const isStructured = (o: unknown) => /^structured/i.test(String(dig(o, 'compression') ?? dig(o, 'kind') ?? ''));

/**
 * The unstructured-pruning curves of a study, one per schedule (± matching), from either
 * `results.series` — an array of per-round points, an array of `{name|label, points|rounds}`, or an
 * object `{name: points[] | {points|rounds}}` — or rows carrying a `round` field. Points are
 * sorted by sparsity; the teacher (sparsity 0) is prepended to each curve when present.
 */
export function pruningSeries(results: ReportResults, method: string): PruningSeries[] {
  const out = new Map<string, PruningSeries>();
  const add = (label: string, matching: boolean, p: SeriesPoint | undefined) => {
    if (!p) return;
    const s = out.get(label) ?? { label, matching, points: [] };
    s.points.push(p);
    out.set(label, s);
  };
  const fromList = (label: string, owner: unknown, list: unknown) => {
    if (!Array.isArray(list) || isStructured(owner)) return;
    for (const p of list) add(label, matchingOf(owner, label), toPoint(p, method));
  };

  const raw = results.series;
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (isStructured(item)) continue;
      const list = dig(item, 'points') ?? dig(item, 'rounds');
      if (Array.isArray(list)) fromList(seriesLabel(item, 'pruning'), item, list);
      else { const label = seriesLabel(item, 'pruning'); add(label, matchingOf(item, label), toPoint(item, method)); }
    }
  } else if (isRecord(raw)) {
    for (const [name, v] of Object.entries(raw)) {
      const list = Array.isArray(v) ? v : dig(v, 'points') ?? dig(v, 'rounds');
      const owner = isRecord(v) ? { name, ...v } : { name };
      fromList(seriesLabel(owner, name), owner, list);
    }
  }
  if (out.size === 0) {
    for (const r of results.models) {
      if (num(r.round) === undefined || isStructured(r)) continue;
      const label = seriesLabel({ compression: r.compression, match: r.match }, r.name);
      add(label, hasMatching(r), toPoint(r, method));
    }
  }

  const teacher = results.models.find(isTeacher);
  const series = [...out.values()].filter((s) => s.points.length > 0);
  for (const s of series) {
    if (teacher && !s.points.some((p) => p.sparsity === 0)) {
      s.points.push({ round: 0, sparsity: 0, mAP: num(teacher.mAP), cosine: num(teacher.attribution?.[method]?.agreement?.cosine) ?? 1 });
    }
    s.points.sort((a, b) => a.sparsity - b.sparsity || (a.round ?? 0) - (b.round ?? 0));
  }
  return series.sort((a, b) => Number(a.matching) - Number(b.matching));
}

// ---------------------------------------------------------------------------------------------
// β sweeps
// ---------------------------------------------------------------------------------------------

export interface BetaSweep {
  /** e.g. 'kd+wcam'. */
  label: string;
  /** Rows of the sweep, ascending β (> 0). */
  rows: ReportRow[];
  /** The same compression without matching (β = 0), if the study has it. */
  baseline?: ReportRow;
}

/** Everything that defines a row's model except its name, β and measured values. */
function sweepKey(r: ReportRow): string {
  return JSON.stringify([r.compression ?? '', r.match ?? 'none', num(r.stochastic) ?? 0, num(r.params) ?? null,
    num(r.flops) ?? null, num(r.sparsity) === undefined ? null : Math.round(num(r.sparsity)! * 1e4), (r as { matchClasses?: unknown }).matchClasses ?? null]);
}

function baselineKey(r: ReportRow): string {
  return JSON.stringify([r.compression ?? '', num(r.params) ?? null, num(r.flops) ?? null]);
}

/** Groups of rows that differ only by β (at least two distinct β > 0), with their β = 0 baseline. */
export function betaSweeps(rows: readonly ReportRow[]): BetaSweep[] {
  const groups = new Map<string, ReportRow[]>();
  for (const r of rows) {
    if (isTeacher(r) || !hasMatching(r) || !(num(r.beta)! > 0) || num(r.round) !== undefined) continue;
    const k = sweepKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const sweeps: BetaSweep[] = [];
  for (const g of groups.values()) {
    if (new Set(g.map((r) => r.beta)).size < 2) continue;
    const first = g[0];
    const stochastic = num(first.stochastic) ?? 0;
    const label = `${first.compression ?? '?'}+${first.match}${stochastic > 0 ? ` stochastic ${stochastic}` : ''}`;
    const baseline = rows.find((r) => !isTeacher(r) && !hasMatching(r) && baselineKey(r) === baselineKey(first) && num(r.round) === undefined);
    sweeps.push({ label, rows: [...g].sort((a, b) => num(a.beta)! - num(b.beta)!), baseline });
  }
  return sweeps;
}
