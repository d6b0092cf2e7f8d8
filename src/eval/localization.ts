/**
 * Protocol accumulators over (image, class) pairs:
 * - `LocalizationAccumulator`: attribution localisation against segmentation masks (spec §2);
 * - `AgreementAccumulator`: teacher–student attribution agreement (spec §3).
 *
 * Both keep one small record per pair (no maps), so that every reported number can be recomputed
 * from the records (`summarizeLocalization`, `summarizeAgreement`).
 */
import {
  cosineSimilarity,
  minMaxNormalize,
  peakDistance,
  spearman,
  summarize,
  topkIoU,
  type Summary,
} from './agreement.js';
import { pointingGame, type Peak } from './pointing_game.js';
import { pixelRocAuc, VOID_LABEL, type AucDegeneracy } from './roc_auc.js';

function isFiniteMap(map: ArrayLike<number>): boolean {
  for (let p = 0; p < map.length; p++) if (!Number.isFinite(map[p])) return false;
  return true;
}

function checkShape(name: string, length: number, height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || length !== height * width) {
    throw new RangeError(`${name}: ${length} values for shape ${height}×${width}`);
  }
}

/**
 * GT_i (§2.2): the classification indices (mask value − 1) present in a class-index mask,
 * ascending; background (0) and void (255) excluded. Use it on the **resized** mask.
 */
export function presentClasses(mask: Uint8Array): number[] {
  const seen = new Uint8Array(256);
  for (let p = 0; p < mask.length; p++) seen[mask[p]] = 1;
  const out: number[] = [];
  for (let v = 1; v < VOID_LABEL; v++) if (seen[v] !== 0) out.push(v - 1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// §2 Localisation
// ---------------------------------------------------------------------------------------------

export interface LocalizationPairInput {
  readonly imageId: string;
  /** Classification index c (mask value c+1); must be in GT_i. */
  readonly classIndex: number;
  /** The model's logit z_c for this image. */
  readonly logit: number;
  /** Attribution map for class c, H·W row-major (un-normalised is fine). */
  readonly map: ArrayLike<number>;
  /** Class-index mask, H·W (0 background, k+1 class k, 255 void). */
  readonly mask: Uint8Array;
  readonly height: number;
  readonly width: number;
}

export interface LocalizationOptions {
  /** Pointing tolerance in pixels (default 0 = exact pixel). */
  readonly pointingTolerancePx?: number;
  /** Compat E4: void pixels count as background negatives in AUC. */
  readonly voidAsBackground?: boolean;
  /** Compat E6: a constant map's peak is (0,0), which may hit. */
  readonly constantMapPeakAtOrigin?: boolean;
}

/**
 * - `'counted'`: z_c > 0 and the map is finite: enters pointing (and AUC unless degenerate);
 * - `'nonFinite'`: z_c > 0 but the map has NaN/±Inf: tallied, excluded from both metrics;
 * - `'missed'`: z_c ≤ 0 (or NaN): tallied, excluded from both metrics; its map is not examined.
 */
export type LocalizationStatus = 'counted' | 'nonFinite' | 'missed';

export interface LocalizationPairRecord {
  readonly imageId: string;
  readonly classIndex: number;
  readonly logit: number;
  readonly status: LocalizationStatus;
  /** Pixel ROC-AUC; null unless status is 'counted' and the AUC is not degenerate. */
  readonly auc: number | null;
  /** Set when status is 'counted' and the AUC is undefined (class fills all used pixels, or absent). */
  readonly degenerate: AucDegeneracy | null;
  /** Pointing hit; null unless status is 'counted'. */
  readonly hit: boolean | null;
  /** Peak used by the pointing game; null for a constant map or an uncounted pair. */
  readonly peak: Peak | null;
}

export interface LocalizationClassSummary {
  readonly classIndex: number;
  readonly meanAUC: number;
  readonly pointingAcc: number;
  readonly nCounted: number;
  readonly nMissed: number;
  readonly nNonFinite: number;
  readonly nDegenerate: number;
}

export interface LocalizationReport {
  /** Mean AUC over counted pairs with a finite map and a non-degenerate AUC (n = `nAuc`). NaN if none. */
  readonly meanAUC: number;
  /** Hits / pairs counted with a finite map (n = `nPointing`). NaN if none. */
  readonly pointingAcc: number;
  /** Pairs with z_c > 0 (includes the `nNonFinite` ones). */
  readonly nCounted: number;
  /** Pairs with z_c ≤ 0. */
  readonly nMissed: number;
  /** nCounted + nMissed. */
  readonly nGtPairs: number;
  /** Counted pairs whose map has NaN/±Inf (excluded from both metrics; should be 0). */
  readonly nNonFinite: number;
  /** Counted finite pairs whose AUC is undefined (excluded from the AUC mean only). */
  readonly nDegenerate: number;
  /** Denominator of `meanAUC` = nCounted − nNonFinite − nDegenerate. */
  readonly nAuc: number;
  /** Denominator of `pointingAcc` = nCounted − nNonFinite. */
  readonly nPointing: number;
  /** Same quantities per class, ascending class index. */
  readonly perClass: readonly LocalizationClassSummary[];
  readonly records: readonly LocalizationPairRecord[];
}

/** Applies the §2.2 pair rules and computes AUC and pointing for one (image, class) pair. */
export function evaluateLocalizationPair(
  input: LocalizationPairInput,
  options: LocalizationOptions = {},
): LocalizationPairRecord {
  const { imageId, classIndex, logit, map, mask, height, width } = input;
  checkShape('localization map', map.length, height, width);
  checkShape('localization mask', mask.length, height, width);
  const base = { imageId, classIndex, logit };
  if (!(logit > 0)) {
    return { ...base, status: 'missed', auc: null, degenerate: null, hit: null, peak: null };
  }
  if (!isFiniteMap(map)) {
    return { ...base, status: 'nonFinite', auc: null, degenerate: null, hit: null, peak: null };
  }
  const auc = pixelRocAuc(map, mask, classIndex, { voidAsBackground: options.voidAsBackground });
  const pointing = pointingGame(map, mask, classIndex, { height, width }, {
    tolerancePx: options.pointingTolerancePx,
    constantMapPeakAtOrigin: options.constantMapPeakAtOrigin,
  });
  return {
    ...base,
    status: 'counted',
    auc: auc.auc,
    degenerate: auc.degenerate,
    hit: pointing.hit,
    peak: pointing.peak,
  };
}

interface LocalizationTally {
  aucSum: number;
  nAuc: number;
  hits: number;
  nPointing: number;
  nCounted: number;
  nMissed: number;
  nNonFinite: number;
  nDegenerate: number;
}

function emptyTally(): LocalizationTally {
  return { aucSum: 0, nAuc: 0, hits: 0, nPointing: 0, nCounted: 0, nMissed: 0, nNonFinite: 0, nDegenerate: 0 };
}

function addToTally(t: LocalizationTally, r: LocalizationPairRecord): void {
  if (r.status === 'missed') {
    t.nMissed++;
    return;
  }
  t.nCounted++;
  if (r.status === 'nonFinite') {
    t.nNonFinite++;
    return;
  }
  t.nPointing++;
  if (r.hit === true) t.hits++;
  if (r.auc === null) {
    t.nDegenerate++;
  } else {
    t.aucSum += r.auc;
    t.nAuc++;
  }
}

function ratio(num: number, den: number): number {
  return den === 0 ? NaN : num / den;
}

/** The §2.6 report from per-pair records (what `LocalizationAccumulator.result` returns). */
export function summarizeLocalization(
  records: readonly LocalizationPairRecord[],
): LocalizationReport {
  const all = emptyTally();
  const byClass = new Map<number, LocalizationTally>();
  for (const r of records) {
    addToTally(all, r);
    let t = byClass.get(r.classIndex);
    if (t === undefined) {
      t = emptyTally();
      byClass.set(r.classIndex, t);
    }
    addToTally(t, r);
  }
  const perClass = [...byClass.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([classIndex, t]) => ({
      classIndex,
      meanAUC: ratio(t.aucSum, t.nAuc),
      pointingAcc: ratio(t.hits, t.nPointing),
      nCounted: t.nCounted,
      nMissed: t.nMissed,
      nNonFinite: t.nNonFinite,
      nDegenerate: t.nDegenerate,
    }));
  return {
    meanAUC: ratio(all.aucSum, all.nAuc),
    pointingAcc: ratio(all.hits, all.nPointing),
    nCounted: all.nCounted,
    nMissed: all.nMissed,
    nGtPairs: all.nCounted + all.nMissed,
    nNonFinite: all.nNonFinite,
    nDegenerate: all.nDegenerate,
    nAuc: all.nAuc,
    nPointing: all.nPointing,
    perClass,
    records,
  };
}

/** Accumulates §2 localisation over GT pairs, one `add` per (image, class ∈ GT_i, method). */
export class LocalizationAccumulator {
  private readonly records: LocalizationPairRecord[] = [];

  constructor(private readonly options: LocalizationOptions = {}) {}

  /** Evaluates one GT pair, stores its record and returns it. */
  add(input: LocalizationPairInput): LocalizationPairRecord {
    const record = evaluateLocalizationPair(input, this.options);
    this.records.push(record);
    return record;
  }

  result(): LocalizationReport {
    return summarizeLocalization(this.records.slice());
  }
}

// ---------------------------------------------------------------------------------------------
// §3 Teacher–student agreement
// ---------------------------------------------------------------------------------------------

/** Default top-k fractions in percent; 15 % is the headline. */
export const DEFAULT_TOPK_PERCENTS: readonly number[] = [5, 10, 15, 20];
export const HEADLINE_TOPK_PERCENT = 15;

export interface AgreementPairInput {
  readonly imageId: string;
  readonly classIndex: number;
  readonly teacherLogit: number;
  readonly studentLogit: number;
  /** Same method, image and class for both networks; H·W row-major, un-normalised is fine. */
  readonly teacherMap: ArrayLike<number>;
  readonly studentMap: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
}

export interface AgreementOptions {
  /** Top-k fractions in percent (default 5, 10, 15, 20). */
  readonly topkPercents?: readonly number[];
  /**
   * Default true: a pair is used only when z^T_c > 0 and z^S_c > 0 (default pair set, §3).
   * false: use every pair given (option `agreementPairs: 'teacherTop1'`, where the caller passes
   * the teacher's top-1 class).
   */
  readonly requirePositiveLogits?: boolean;
}

/** `'used'`; `'skipped'`: a logit ≤ 0 under the default pair rule; `'nonFinite'`: a map has NaN/±Inf. */
export type AgreementStatus = 'used' | 'skipped' | 'nonFinite';

export interface AgreementPairRecord {
  readonly imageId: string;
  readonly classIndex: number;
  readonly teacherLogit: number;
  readonly studentLogit: number;
  readonly status: AgreementStatus;
  /** Null unless used. */
  readonly cosine: number | null;
  /** Null unless used, or when either map is constant. */
  readonly spearman: number | null;
  /** IoU per top-k percent (keys of `topkPercents`); empty unless used. */
  readonly topkIoU: Readonly<Record<number, number>>;
  /** Null unless used, or when either map is constant. */
  readonly peakDistance: number | null;
  /** True when either min-max-normalised map is constant (all zeros). */
  readonly constant: boolean;
}

export interface AgreementReport {
  /** Pairs used. */
  readonly n: number;
  readonly nSkipped: number;
  readonly nNonFinite: number;
  readonly cosine: Summary;
  /** Over used pairs where neither map is constant; `nConstant` pairs excluded. */
  readonly spearman: Summary & { readonly nConstant: number };
  /** Keyed by percent, e.g. `topkIoU[15]` (the headline). */
  readonly topkIoU: Readonly<Record<number, Summary>>;
  /** Normalised by the diagonal; constant-map pairs excluded and counted. */
  readonly peakDistance: Summary & { readonly nConstant: number };
  readonly records: readonly AgreementPairRecord[];
}

/** Computes the §3 metrics for one pair (maps are min-max normalised first, §2.3). */
export function evaluateAgreementPair(
  input: AgreementPairInput,
  options: AgreementOptions = {},
): AgreementPairRecord {
  const { imageId, classIndex, teacherLogit, studentLogit, teacherMap, studentMap, height, width } =
    input;
  checkShape('agreement teacher map', teacherMap.length, height, width);
  checkShape('agreement student map', studentMap.length, height, width);
  const percents = options.topkPercents ?? DEFAULT_TOPK_PERCENTS;
  const base = { imageId, classIndex, teacherLogit, studentLogit };
  const unused = { cosine: null, spearman: null, topkIoU: {}, peakDistance: null, constant: false };
  if (options.requirePositiveLogits !== false && !(teacherLogit > 0 && studentLogit > 0)) {
    return { ...base, status: 'skipped', ...unused };
  }
  if (!isFiniteMap(teacherMap) || !isFiniteMap(studentMap)) {
    return { ...base, status: 'nonFinite', ...unused };
  }
  const a = minMaxNormalize(teacherMap);
  const b = minMaxNormalize(studentMap);
  const iou: Record<number, number> = {};
  for (const pct of percents) iou[pct] = topkIoU(a, b, pct / 100);
  const rho = spearman(a, b);
  return {
    ...base,
    status: 'used',
    cosine: cosineSimilarity(a, b),
    spearman: rho,
    topkIoU: iou,
    peakDistance: peakDistance(a, b, height, width),
    constant: rho === null,
  };
}

/** The §3 report from per-pair records (what `AgreementAccumulator.result` returns). */
export function summarizeAgreement(
  records: readonly AgreementPairRecord[],
  topkPercents: readonly number[] = DEFAULT_TOPK_PERCENTS,
): AgreementReport {
  const cos: number[] = [];
  const rho: number[] = [];
  const dist: number[] = [];
  const iou = new Map<number, number[]>(topkPercents.map((p) => [p, []]));
  let nSkipped = 0;
  let nNonFinite = 0;
  let nRhoConstant = 0;
  let nDistConstant = 0;
  for (const r of records) {
    if (r.status === 'skipped') {
      nSkipped++;
      continue;
    }
    if (r.status === 'nonFinite') {
      nNonFinite++;
      continue;
    }
    if (r.cosine !== null) cos.push(r.cosine);
    if (r.spearman === null) nRhoConstant++;
    else rho.push(r.spearman);
    if (r.peakDistance === null) nDistConstant++;
    else dist.push(r.peakDistance);
    for (const [pct, list] of iou) {
      const v = r.topkIoU[pct];
      if (v !== undefined) list.push(v);
    }
  }
  const topk: Record<number, Summary> = {};
  for (const [pct, list] of iou) topk[pct] = summarize(list);
  return {
    n: cos.length,
    nSkipped,
    nNonFinite,
    cosine: summarize(cos),
    spearman: { ...summarize(rho), nConstant: nRhoConstant },
    topkIoU: topk,
    peakDistance: { ...summarize(dist), nConstant: nDistConstant },
    records,
  };
}

/** Accumulates §3 agreement over (image, class) pairs for one method. */
export class AgreementAccumulator {
  private readonly records: AgreementPairRecord[] = [];

  constructor(private readonly options: AgreementOptions = {}) {}

  add(input: AgreementPairInput): AgreementPairRecord {
    const record = evaluateAgreementPair(input, this.options);
    this.records.push(record);
    return record;
  }

  result(): AgreementReport {
    return summarizeAgreement(this.records.slice(), this.options.topkPercents);
  }
}
