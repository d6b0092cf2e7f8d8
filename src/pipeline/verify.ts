/**
 * `apc verify`: an attribution regression gate. On a fixed, seeded sample of the evaluation
 * splits it compares a student (a re-compressed or exported model) with its teacher: mAP drop,
 * and per attribution method the agreement of the maps (mean cosine on the teacher's top-1
 * pairs, so a student that predicts nothing is still compared) and the drop of the localisation
 * AUC. Every check passes or fails against a threshold; the worst-agreeing pairs are returned
 * for pictures.
 */
import type { Dataset } from '../data/dataset.js';
import { sampledDataset } from '../data/sampled_dataset.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { evalSplitsFor, evaluateModel, type Pair, teacherAgreementMaps } from './evaluate_model.js';

export interface VerifyThresholds {
  /** Lowest mean cosine of the student's maps with the teacher's (min-max normalised), per method. */
  readonly minCosine: number;
  /** Largest drop of the mean pixel ROC-AUC (teacher − student), per method. */
  readonly maxAucDrop: number;
  /** Largest drop of mAP, in points (mAP ×100). */
  readonly maxMapDrop: number;
}

/**
 * Defaults for a gate between a model and its re-compressed or exported version, which should
 * explain itself like the original: a judgment, not calibrated on a study (the quick study's KD
 * students, with mAP 20 points below the teacher, would fail by design). Set them per project.
 */
export const DEFAULT_VERIFY_THRESHOLDS: VerifyThresholds = Object.freeze({ minCosine: 0.9, maxAucDrop: 0.03, maxMapDrop: 1 });

export interface VerifyOptions {
  readonly data: Dataset;
  readonly methods: readonly string[];
  readonly thresholds?: Partial<VerifyThresholds>;
  /** Images sampled from each evaluation split (default 64). */
  readonly limit?: number;
  /** Seed of the sample (default 0): same seed, same images. */
  readonly seed?: number;
  /** Worst-agreeing pairs kept per method (default 3). */
  readonly worst?: number;
  readonly quiet?: boolean;
}

export interface VerifyCheck {
  /** e.g. 'mAP drop', 'gradcam cosine', 'gradcam AUC drop'. */
  readonly name: string;
  readonly method?: string;
  readonly teacher?: number;
  readonly student: number;
  /** The number compared with the threshold (the drop, or the student's cosine). */
  readonly value: number;
  readonly threshold: number;
  /** 'min': value ≥ threshold passes; 'max': value ≤ threshold passes. */
  readonly rule: 'min' | 'max';
  readonly passed: boolean;
  /** Why a check could not measure (it then passes), e.g. no counted pairs. */
  readonly note?: string;
}

export interface WorstPair extends Pair {
  readonly method: string;
  readonly imageId: string;
  readonly cosine: number;
}

export interface VerifyReport {
  readonly passed: boolean;
  readonly checks: readonly VerifyCheck[];
  /** Per method, the pairs with the lowest cosine (indices into the sampled prediction split). */
  readonly worst: readonly WorstPair[];
  readonly thresholds: VerifyThresholds;
  readonly methods: readonly string[];
  readonly dataset: string;
  readonly splits: { prediction: string; localization: string };
  /** Sampled images per split, and the seed. */
  readonly images: { prediction: number; localization: number };
  readonly seed: number;
  /** The sampled dataset the pairs index into (for pictures of the worst pairs). */
  readonly sampled: Dataset;
  readonly seconds: number;
}

export async function verifyStudent(teacher: GraphNet, student: GraphNet, opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const thresholds: VerifyThresholds = { ...DEFAULT_VERIFY_THRESHOLDS, ...opts.thresholds };
  for (const [k, v] of Object.entries(thresholds)) if (!Number.isFinite(v)) throw new Error(`verify: threshold ${k} must be a number, got ${v}`);
  if (teacher.numClasses !== student.numClasses) throw new Error(`verify: the teacher has ${teacher.numClasses} outputs, the student ${student.numClasses}`);
  const seed = opts.seed ?? 0;
  const splits = evalSplitsFor({ data: opts.data });
  const { data } = sampledDataset(opts.data, [splits.prediction, splits.localization], opts.limit ?? 64, seed);
  const methods = opts.methods;
  const quiet = opts.quiet ?? true;
  const teacherMaps = await teacherAgreementMaps(teacher, { data, methods, agreementPairs: 'teacherTop1' });
  // the gate compares point values: no bootstrap intervals
  const t = await evaluateModel(teacher, { data, methods, quiet, label: 'teacher', bootstrap: false });
  const s = await evaluateModel(student, { data, methods, quiet, label: 'student', teacherMaps, agreementPairs: 'teacherTop1', keepRecords: true, bootstrap: false });
  const checks: VerifyCheck[] = [];
  const mapDrop = t.mAP - s.mAP;
  checks.push({ name: 'mAP drop', teacher: t.mAP, student: s.mAP, value: mapDrop, threshold: thresholds.maxMapDrop, rule: 'max', passed: mapDrop <= thresholds.maxMapDrop });
  const worst: WorstPair[] = [];
  for (const m of methods) {
    const cosine = s.attribution[m].agreement?.cosine ?? NaN;
    // NaN (no pair) fails: the gate cannot vouch for maps it never compared
    checks.push({ name: `${m} cosine`, method: m, student: cosine, value: cosine, threshold: thresholds.minCosine, rule: 'min', passed: cosine >= thresholds.minCosine });
    const ta = t.attribution[m].auc, sa = s.attribution[m].auc;
    const drop = ta - sa;
    const measured = Number.isFinite(ta) && Number.isFinite(sa);
    checks.push({ name: `${m} AUC drop`, method: m, teacher: ta, student: sa, value: drop, threshold: thresholds.maxAucDrop, rule: 'max',
      passed: measured ? drop <= thresholds.maxAucDrop : true, ...(measured ? {} : { note: 'no counted pairs on one side: AUC not compared' }) });
    const records = s.records?.[m].agreement ?? [];
    const pairs = teacherMaps.get(m)!.pairs;
    const ranked = records.map((r, i) => ({ r, i })).filter(({ r }) => r.cosine !== null).sort((a, b) => a.r.cosine! - b.r.cosine! || a.i - b.i);
    for (const { r, i } of ranked.slice(0, opts.worst ?? 3)) worst.push({ method: m, ...pairs[i], imageId: r.imageId, cosine: r.cosine! });
  }
  return {
    passed: checks.every((c) => c.passed), checks, worst, thresholds, methods, dataset: opts.data.info.name, splits,
    images: { prediction: data.size(splits.prediction), localization: data.size(splits.localization) }, seed, sampled: data,
    seconds: (Date.now() - started) / 1000,
  };
}
