/**
 * Pixel ROC-AUC of an attribution map against a class-index mask (evaluation spec §2.4).
 *
 * AUC is the standard ROC area with ties counted as ½, computed as the Mann–Whitney statistic on
 * mid-ranks:
 *
 *     AUC = ( Σ_{i∈pos} rank_i − n_pos(n_pos+1)/2 ) / (n_pos · n_neg)
 *
 * Ranks run over all used pixels in ascending score order (shared `midRanks`), so the cost is
 * one O(n log n) typed-array sort. A constant map gives exactly 0.5.
 */
import { midRanks } from './ranks.js';

/** Mask value of void / boundary pixels (VOC). */
export const VOID_LABEL = 255;

/** Why an AUC is undefined: the used pixels contain no positive, or no negative. */
export type AucDegeneracy = 'noPositives' | 'noNegatives';

export type AucResult =
  | {
      readonly auc: number;
      readonly degenerate: null;
      readonly nPos: number;
      readonly nNeg: number;
    }
  | {
      readonly auc: null;
      readonly degenerate: AucDegeneracy;
      readonly nPos: number;
      readonly nNeg: number;
    };

/**
 * ROC-AUC of binary labels (positive iff non-zero) from scores, ties = ½. Degenerate (auc null)
 * when n_pos = 0 or n_neg = 0. Throws on NaN scores or a length mismatch.
 */
export function binaryRocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): AucResult {
  const n = scores.length;
  if (labels.length !== n) {
    throw new RangeError(`rocAuc: ${n} scores but ${labels.length} labels`);
  }
  let nPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] !== 0) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0) return { auc: null, degenerate: 'noPositives', nPos, nNeg };
  if (nNeg === 0) return { auc: null, degenerate: 'noNegatives', nPos, nNeg };
  const ranks = midRanks(scores);
  let rankSum = 0; // half-integers summing to < n²: exact in float64
  for (let i = 0; i < n; i++) if (labels[i] !== 0) rankSum += ranks[i];
  const auc = (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
  return { auc, degenerate: null, nPos, nNeg };
}

export interface PixelAucOptions {
  /**
   * Compat (reference quirk E4): treat void (255) pixels as background, i.e. as negatives.
   * Default false: void pixels are excluded.
   */
  readonly voidAsBackground?: boolean;
}

/**
 * Pixel ROC-AUC for class k (classification index, 0-based).
 *
 * @param map H·W attribution scores (row-major). Must be NaN-free (throws otherwise).
 * @param mask H·W class-index map: 0 background, k+1 class k, 255 void.
 * @param classIndex k; positives are pixels with mask = k+1, negatives every other non-void pixel.
 *
 * Returns `{auc, degenerate: null}` or a degenerate marker (`auc: null`,
 * `degenerate: 'noNegatives'` when class k fills every used pixel, `'noPositives'` when it has
 * none). Check: scores (0.5, 0.5, 1, 0), labels (1, 0, 1, 0) → 0.875.
 */
export function pixelRocAuc(
  map: ArrayLike<number>,
  mask: Uint8Array,
  classIndex: number,
  options: PixelAucOptions = {},
): AucResult {
  if (map.length !== mask.length) {
    throw new RangeError(`pixelRocAuc: map has ${map.length} pixels, mask ${mask.length}`);
  }
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex + 1 >= VOID_LABEL) {
    throw new RangeError(`pixelRocAuc: bad class index ${classIndex}`);
  }
  const target = classIndex + 1;
  const keepVoid = options.voidAsBackground === true;
  let nUsed = 0;
  for (let p = 0; p < mask.length; p++) if (keepVoid || mask[p] !== VOID_LABEL) nUsed++;
  // A float32 map stays float32 so that the sort takes the fast packed-key path.
  const scores = map instanceof Float32Array ? new Float32Array(nUsed) : new Float64Array(nUsed);
  const labels = new Uint8Array(nUsed);
  let u = 0;
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p];
    if (!keepVoid && m === VOID_LABEL) continue;
    scores[u] = map[p];
    labels[u] = m === target ? 1 : 0;
    u++;
  }
  return binaryRocAuc(scores, labels);
}
