/**
 * Multi-label prediction metrics on Main `val` (evaluation spec §1.2), as pure functions of
 * row-major arrays. Difficult-only flags (`difficultOnly`, VOC) affect only the headline `mAP`:
 * those (image, class) pairs are left out of the class's list. `mAP_raw`, `mAP_perImage_ref`,
 * `F1` and `F1_ref` count difficult objects as positives (evaluation.md §1). `collectLogits`
 * passes the dataset's flags along.
 *
 * Units: every mean metric here (`mAP`, `mAP_raw`, `mAP_perImage_ref`, `F1`, `F1_ref`) is
 * returned **×100** (percent), as the spec reports them. Per-class APs (`perClassAveragePrecision`)
 * are in [0, 1].
 *
 * Empty means (no class or image usable) are NaN.
 */
import { averagePrecisions } from './average_precision.js';

export interface PredictionInput {
  /** Logits Z, N×K row-major (z_{i,c} at i·K + c). */
  readonly logits: Float32Array;
  /** Multi-hot labels Y, N×K row-major; positive iff non-zero. Difficult objects count as positive. */
  readonly labels: ArrayLike<number>;
  /** N, number of images (rows). */
  readonly numImages: number;
  /** K, number of classes (columns). */
  readonly numClasses: number;
  /**
   * Optional "difficult-only" flags Dif, N×K row-major: non-zero when image i contains class c
   * and every object of class c in it is difficult. Used only by `mAP` (pair removal).
   */
  readonly difficultOnly?: ArrayLike<number>;
}

export type ClassAPVariant = 'voc' | 'raw';

function checkInput(input: PredictionInput): void {
  const { numImages: n, numClasses: k } = input;
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(k) || k < 0) {
    throw new RangeError(`predictionMetrics: bad shape N=${n}, K=${k}`);
  }
  const size = n * k;
  if (input.logits.length !== size) {
    throw new RangeError(`predictionMetrics: logits have ${input.logits.length} values, want ${size}`);
  }
  if (input.labels.length !== size) {
    throw new RangeError(`predictionMetrics: labels have ${input.labels.length} values, want ${size}`);
  }
  if (input.difficultOnly !== undefined && input.difficultOnly.length !== size) {
    throw new RangeError(
      `predictionMetrics: difficultOnly has ${input.difficultOnly.length} values, want ${size}`,
    );
  }
}

/**
 * AP of each class column, in [0, 1]; `null` for a class whose list has no positive (skipped).
 * - `'voc'`: AP_interp, with the pairs where `difficultOnly[i,c] ≠ 0` removed from class c's
 *   list (official VOC convention; without `difficultOnly` nothing is removed).
 * - `'raw'`: AP_raw, difficult counted as positive (no removal).
 */
export function perClassAveragePrecision(
  input: PredictionInput,
  variant: ClassAPVariant,
): (number | null)[] {
  checkInput(input);
  const { logits, labels, numImages: n, numClasses: k } = input;
  const dif = variant === 'voc' ? input.difficultOnly : undefined;
  const scores = new Float32Array(n);
  const ys = new Uint8Array(n);
  const out: (number | null)[] = [];
  for (let c = 0; c < k; c++) {
    let len = 0;
    for (let i = 0; i < n; i++) {
      const at = i * k + c;
      if (dif !== undefined && dif[at] !== 0) continue;
      scores[len] = logits[at];
      ys[len] = labels[at] !== 0 ? 1 : 0;
      len++;
    }
    const ap = averagePrecisions(scores.subarray(0, len), ys.subarray(0, len));
    const value = variant === 'voc' ? ap.interpolated : ap.raw;
    out.push(Number.isNaN(value) ? null : value);
  }
  return out;
}

function meanOfPresent(values: readonly (number | null)[]): number {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (v !== null) {
      sum += v;
      count++;
    }
  }
  return count === 0 ? NaN : sum / count;
}

/**
 * `mAP` (headline, checkpoint selection): mean over classes of AP_interp of column c, with
 * difficult-only pairs removed from class c's list. ×100.
 *
 * Classes without positives: a class whose list (after difficult removal) has no positive has no
 * AP. It is skipped — the mean runs over the remaining classes only (it is neither 0 nor 1) — and
 * counted: `predictionMetrics(...).nClassesSkipped` reports how many, and the skipped classes are
 * the `null` entries of `perClassAveragePrecision(input, 'voc')` / `perClassAP`. NaN if every
 * class is skipped.
 */
export function meanAveragePrecision(input: PredictionInput): number {
  return 100 * meanOfPresent(perClassAveragePrecision(input, 'voc'));
}

/**
 * `mAP_raw`: mean over classes of AP_raw of column c, difficult counted as positive (no
 * removal). ×100. Classes without positives are skipped and counted as for `mAP`
 * (`nClassesSkippedRaw`, `null` entries of `perClassAveragePrecision(input, 'raw')`).
 */
export function mapRaw(input: PredictionInput): number {
  return 100 * meanOfPresent(perClassAveragePrecision(input, 'raw'));
}

/** Row `[offset, offset + length)` of a flat array, without copying typed arrays. */
function rowView(values: ArrayLike<number>, offset: number, length: number): ArrayLike<number> {
  if (ArrayBuffer.isView(values)) {
    // Any typed array: subarray shares the buffer.
    return (values as unknown as Float32Array).subarray(offset, offset + length);
  }
  return Array.prototype.slice.call(values, offset, offset + length) as number[];
}

function perImageAP(input: PredictionInput): { mean: number; nSkipped: number } {
  checkInput(input);
  const { logits, labels, numImages: n, numClasses: k } = input;
  let sum = 0;
  let used = 0;
  for (let i = 0; i < n; i++) {
    const ap = averagePrecisions(
      logits.subarray(i * k, (i + 1) * k),
      rowView(labels, i * k, k),
    ).raw;
    if (Number.isNaN(ap)) continue;
    sum += ap;
    used++;
  }
  return { mean: used === 0 ? NaN : sum / used, nSkipped: n - used };
}

/**
 * `mAP_perImage_ref` (reference quirk E1): mean over **images** of AP_raw on row i (its K class
 * scores against its K labels). ×100. An image without any positive label has no AP: it is
 * skipped and counted in `predictionMetrics(...).nImagesSkippedPerImage` (VOC images always have
 * a positive). Check: row (0.1, 0.9, 0.5) with labels (1, 0, 1) → 58.3333.
 */
export function mapPerImageRef(input: PredictionInput): number {
  return 100 * perImageAP(input).mean;
}

/** Mean over images of 2·|Y∩Ŷ| / (|Y| + |Ŷ|), with F1_i = 0 when Ŷ_i is empty. ×100. */
function meanF1(input: PredictionInput, predicted: (z: number) => boolean): number {
  checkInput(input);
  const { logits, labels, numImages: n, numClasses: k } = input;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let nTrue = 0;
    let nPred = 0;
    let nBoth = 0;
    for (let c = 0; c < k; c++) {
      const y = labels[i * k + c] !== 0;
      const p = predicted(logits[i * k + c]);
      if (y) nTrue++;
      if (p) nPred++;
      if (y && p) nBoth++;
    }
    if (nPred > 0) sum += (2 * nBoth) / (nTrue + nPred);
  }
  return (100 * sum) / n;
}

/**
 * `F1`: sample-averaged F1 with Ŷ_i = {c : z_{i,c} > 0} (the spec's single "predicted" rule).
 * F1_i = 0 when nothing is predicted for image i. ×100. NaN when N = 0.
 */
export function sampleF1(input: PredictionInput): number {
  return meanF1(input, (z) => z > 0);
}

/**
 * `F1_ref` (reference quirk E2): as `sampleF1` but Ŷ_i = {c : z_{i,c} ≥ 0.5} on raw logits.
 * ×100.
 */
export function f1Ref(input: PredictionInput): number {
  return meanF1(input, (z) => z >= 0.5);
}

export interface PredictionMetrics {
  /** Headline VOC mAP (AP_interp, difficult-only removed), ×100. */
  readonly mAP: number;
  /** mAP with AP_raw, difficult as positive, ×100. */
  readonly mAP_raw: number;
  /** Reference's per-image AP averaged over images (quirk E1), ×100. */
  readonly mAP_perImage_ref: number;
  /** Sample-averaged F1 at logit > 0, ×100. */
  readonly F1: number;
  /** Reference F1 at logit ≥ 0.5 (quirk E2), ×100. */
  readonly F1_ref: number;
  /** Per-class AP for `mAP` in [0, 1]; null = class skipped (no positive). */
  readonly perClassAP: readonly (number | null)[];
  /** Per-class AP for `mAP_raw` in [0, 1]; null = class skipped. */
  readonly perClassAPRaw: readonly (number | null)[];
  /** Classes skipped by `mAP` (no positive after difficult removal). */
  readonly nClassesSkipped: number;
  /** Classes skipped by `mAP_raw` (no positive). */
  readonly nClassesSkippedRaw: number;
  /** Images skipped by `mAP_perImage_ref` (no positive label). */
  readonly nImagesSkippedPerImage: number;
  /** (image, class) pairs flagged difficult-only, i.e. left out of `mAP` (0 without flags). */
  readonly nDifficultOnly: number;
  readonly numImages: number;
  readonly numClasses: number;
}

function countNonZero(values: ArrayLike<number> | undefined): number {
  let n = 0;
  if (values) for (let i = 0; i < values.length; i++) if (values[i] !== 0) n++;
  return n;
}

/** All §1.2 prediction metrics at once (see the individual functions for definitions). */
export function predictionMetrics(input: PredictionInput): PredictionMetrics {
  const perClassAP = perClassAveragePrecision(input, 'voc');
  const perClassAPRaw = perClassAveragePrecision(input, 'raw');
  const perImage = perImageAP(input);
  return {
    mAP: 100 * meanOfPresent(perClassAP),
    mAP_raw: 100 * meanOfPresent(perClassAPRaw),
    mAP_perImage_ref: 100 * perImage.mean,
    F1: sampleF1(input),
    F1_ref: f1Ref(input),
    perClassAP,
    perClassAPRaw,
    nClassesSkipped: perClassAP.filter((v) => v === null).length,
    nClassesSkippedRaw: perClassAPRaw.filter((v) => v === null).length,
    nImagesSkippedPerImage: perImage.nSkipped,
    nDifficultOnly: countNonZero(input.difficultOnly),
    numImages: input.numImages,
    numClasses: input.numClasses,
  };
}
