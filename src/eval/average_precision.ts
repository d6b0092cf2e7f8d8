/**
 * Average precision of one ranked list (evaluation spec §1.1).
 *
 * Tied scores form one threshold. For the distinct thresholds t_1 > … > t_m:
 *
 *     TP_k = #{i : y_i = 1, s_i ≥ t_k},  FP_k = #{i : y_i = 0, s_i ≥ t_k}
 *     Prec_k = TP_k / (TP_k + FP_k),    Rec_k = TP_k / n_pos,  Rec_0 = 0
 *     AP_raw    = Σ_k (Rec_k − Rec_{k−1}) · Prec_k                (non-interpolated)
 *     AP_interp = Σ_k (Rec_k − Rec_{k−1}) · max_{j ≥ k} Prec_j    (VOC 2010+ all-point)
 *
 * Only the ranking matters, so logits and probabilities give the same value.
 */
import { argsortAscending } from './ranks.js';

export interface AveragePrecisionOptions {
  /** true: AP_interp (VOC all-point, the headline mAP); false: AP_raw. */
  readonly interpolated: boolean;
}

export interface AveragePrecisionPair {
  readonly raw: number;
  readonly interpolated: number;
}

/**
 * Both AP variants in one pass. Labels are positive iff non-zero. Returns NaN for both when the
 * list has no positive (AP is undefined; callers skip such lists and count them).
 * O(n log n). Throws on a length mismatch or a NaN score.
 */
export function averagePrecisions(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): AveragePrecisionPair {
  const n = scores.length;
  if (labels.length !== n) {
    throw new RangeError(`averagePrecision: ${n} scores but ${labels.length} labels`);
  }
  let nPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] !== 0) nPos++;
  if (nPos === 0) return { raw: NaN, interpolated: NaN };

  const order = argsortAscending(scores); // walk it from the end: descending scores
  // One entry per distinct threshold (tie group), highest first: its positives and negatives.
  const groupPos = new Float64Array(n);
  const groupNeg = new Float64Array(n);
  let m = 0;
  let end = n; // exclusive end of the current tie group in `order`
  while (end > 0) {
    const s = scores[order[end - 1]];
    let start = end - 1;
    while (start > 0 && scores[order[start - 1]] === s) start--;
    let pos = 0;
    for (let r = start; r < end; r++) if (labels[order[r]] !== 0) pos++;
    groupPos[m] = pos;
    groupNeg[m] = end - start - pos;
    m++;
    end = start;
  }
  return averagePrecisionsOfGroups(groupPos, groupNeg, m);
}

/**
 * Both AP variants from the counts at each distinct threshold, highest threshold first: group k
 * holds `groupPos[k]` positives and `groupNeg[k]` negatives tied at t_k (k < `groups`). Counts may
 * be any non-negative numbers, e.g. how often a bootstrap resample drew each item: a list with
 * item i repeated w_i times has exactly these weighted counts, so its AP is computed here without
 * building or sorting the list. NaN for both when there is no positive. O(groups).
 */
export function averagePrecisionsOfGroups(
  groupPos: ArrayLike<number>,
  groupNeg: ArrayLike<number>,
  groups: number,
  scratch: Float64Array = new Float64Array(groups),
): AveragePrecisionPair {
  let nPos = 0;
  for (let k = 0; k < groups; k++) nPos += groupPos[k];
  if (nPos === 0) return { raw: NaN, interpolated: NaN };
  const prec = scratch; // precision at each threshold
  let tp = 0;
  let fp = 0;
  let raw = 0;
  for (let k = 0; k < groups; k++) {
    tp += groupPos[k];
    fp += groupNeg[k];
    // an empty group (a resample drew none of its items) adds no recall: its precision is unused
    prec[k] = tp + fp > 0 ? tp / (tp + fp) : 0;
    raw += (groupPos[k] / nPos) * prec[k];
  }
  // Interpolated precision: running maximum from the lowest threshold upwards (then summed in
  // the same order as `raw`, so results stay bit-identical to the list-based computation).
  let best = 0;
  for (let k = groups - 1; k >= 0; k--) {
    if (prec[k] > best) best = prec[k];
    prec[k] = best;
  }
  let interpolated = 0;
  for (let k = 0; k < groups; k++) interpolated += (groupPos[k] / nPos) * prec[k];
  return { raw, interpolated };
}

/**
 * AP of one ranked list, in [0, 1] (not ×100): AP_interp when `interpolated`, else AP_raw.
 * NaN when no label is positive. Check (spec §1.1): scores (0.9, 0.8, 0.7), labels (0, 1, 1)
 * → raw 0.583333, interpolated 0.666667.
 */
export function averagePrecision(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: AveragePrecisionOptions,
): number {
  const ap = averagePrecisions(scores, labels);
  return options.interpolated ? ap.interpolated : ap.raw;
}
