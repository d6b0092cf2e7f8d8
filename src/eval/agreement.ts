/**
 * Teacher–student attribution agreement metrics (evaluation spec §3) on flattened maps, plus
 * min-max normalisation (§2.3) and the mean/median summary used in reports.
 *
 * All functions are pure; inputs are expected finite (the protocol tallies non-finite maps
 * before calling them). The protocol min-max normalises both maps first; only `cosineSimilarity`
 * depends on that (Spearman, top-k IoU and the peak are invariant to it, except that a constant
 * map becomes all zeros).
 */
import { mapPeak } from './pointing_game.js';
import { midRanks } from './ranks.js';

function checkSameLength(name: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new RangeError(`${name}: maps have ${a.length} and ${b.length} values`);
  }
}

/**
 * `Hn = (H − min H) / (max H − min H)` when max H > min H, otherwise all zeros (exact; no
 * epsilon in the denominator, quirk E8). Returns a new Float32Array.
 */
export function minMaxNormalize(map: ArrayLike<number>): Float32Array {
  const n = map.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  let min = map[0];
  let max = map[0];
  for (let p = 1; p < n; p++) {
    const v = map[p];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) return out;
  const range = max - min;
  for (let p = 0; p < n; p++) out[p] = (map[p] - min) / range;
  return out;
}

/**
 * √(xx·yy). One square root of the product, so that identical vectors give exactly 1
 * (√(x²) = x in IEEE arithmetic, whereas √x·√x need not be x); separate roots on overflow/underflow.
 */
function normProduct(xx: number, yy: number): number {
  const p = xx * yy;
  return p > 0 && Number.isFinite(p) ? Math.sqrt(p) : Math.sqrt(xx) * Math.sqrt(yy);
}

/**
 * `⟨a,b⟩ / (‖a‖·‖b‖)`, accumulated in float64 and clamped to [−1, 1]. Edge cases (§3): both
 * all-zero → 1; exactly one all-zero → 0.
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength('cosineSimilarity', a, b);
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let p = 0; p < a.length; p++) {
    const x = a[p];
    const y = b[p];
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, dot / normProduct(aa, bb)));
}

function isConstant(map: ArrayLike<number>): boolean {
  for (let p = 1; p < map.length; p++) if (map[p] !== map[0]) return false;
  return true;
}

/**
 * Spearman's rank correlation: Pearson correlation of the mid-rank vectors (ties share their
 * mean rank). Returns null when either map is constant (or has fewer than 2 values): the pair is
 * excluded and counted in `nConstant`. Check: (0, 0, 1, 2) vs (0, 1, 1, 3) → 0.833333.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  checkSameLength('spearman', a, b);
  const n = a.length;
  if (n < 2 || isConstant(a) || isConstant(b)) return null;
  const ra = midRanks(a);
  const rb = midRanks(b);
  const mean = (n + 1) / 2; // mean of any mid-rank vector
  // Deviations are multiples of ½, so these sums are exact in float64 for any realistic n.
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let p = 0; p < n; p++) {
    const x = ra[p] - mean;
    const y = rb[p] - mean;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return Math.max(-1, Math.min(1, sab / normProduct(saa, sbb)));
}

/**
 * m = ceil(fraction·n), clamped to [1, n]. A product within 1e-9 (relative) of an integer is
 * taken as that integer, so that e.g. 0.15·100 (= 15.000000000000002 in float64) gives 15.
 */
export function topkCount(n: number, fraction: number): number {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`topk: fraction ${fraction} not in (0, 1]`);
  const x = fraction * n;
  const r = Math.round(x);
  const m = Math.abs(x - r) <= 1e-9 * Math.max(1, x) ? r : Math.ceil(x);
  return Math.min(n, Math.max(1, m));
}

/** Membership mask of S(a) = {p : a_p ≥ v_m(a)} ∩ {p : a_p > min a}. */
function topkSet(a: ArrayLike<number>, m: number): Uint8Array {
  const n = a.length;
  const sorted = Float64Array.from(a).sort();
  const threshold = sorted[n - m]; // m-th largest value (duplicates counted)
  const min = sorted[0];
  const set = new Uint8Array(n);
  for (let p = 0; p < n; p++) set[p] = a[p] >= threshold && a[p] > min ? 1 : 0;
  return set;
}

/**
 * Top-k IoU (§3): with m = ceil(fraction·n) and v_m(a) the m-th largest value of a,
 * `S(a) = {p : a_p ≥ v_m(a)} ∩ {p : a_p > min a}`; returns |S(a) ∩ S(b)| / |S(a) ∪ S(b)|, and 1
 * when both sets are empty (e.g. two constant maps). Ties at the threshold are all included, so
 * |S| may exceed m. Check: 50 % on [[0.9, 0.1], [0.8, 0]] vs [[0.7, 0.6], [0.2, 0]] → 1/3.
 */
export function topkIoU(a: ArrayLike<number>, b: ArrayLike<number>, fraction: number): number {
  checkSameLength('topkIoU', a, b);
  const n = a.length;
  if (n === 0) return 1;
  const m = topkCount(n, fraction);
  const sa = topkSet(a, m);
  const sb = topkSet(b, m);
  let inter = 0;
  let union = 0;
  for (let p = 0; p < n; p++) {
    inter += sa[p] & sb[p];
    union += sa[p] | sb[p];
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * Euclidean distance between the peaks (§2.5: first maximum in row-major order) of two H×W maps,
 * divided by the image diagonal √(H² + W²) (227·√2 at 227×227). Null when either map is constant
 * (no peak; the pair is excluded).
 */
export function peakDistance(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  height: number,
  width: number,
): number | null {
  checkSameLength('peakDistance', a, b);
  if (a.length !== height * width) {
    throw new RangeError(`peakDistance: ${a.length} values for shape ${height}×${width}`);
  }
  const pa = mapPeak(a, width);
  const pb = mapPeak(b, width);
  if (pa === null || pb === null) return null;
  return Math.hypot(pa.row - pb.row, pa.col - pb.col) / Math.hypot(height, width);
}

export interface Summary {
  /** NaN when n = 0. */
  readonly mean: number;
  /** Middle value (mean of the two middle values for even n); NaN when n = 0. */
  readonly median: number;
  readonly n: number;
}

/** Mean, median and count of a list of values (the §3 report). */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { mean: NaN, median: NaN, n: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const half = n >> 1;
  const median = n % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
  return { mean: sum / n, median, n };
}
