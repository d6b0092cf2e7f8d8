/**
 * Percentile bootstrap intervals over test images, for the metrics of a single evaluation.
 *
 * A resample draws n images with replacement (seeded, `engine/random.ts`); it is represented by
 * how often each image was drawn (`counts`, summing to n), so a statistic never builds the
 * resampled data set. B resamples give B values of the statistic; the interval is their
 * (1−level)/2 and (1+level)/2 quantiles (linear interpolation between order statistics).
 *
 * The statistics recompute each metric on the resample, the way the metric itself is defined:
 * - `meanAveragePrecisionStatistic`: mAP, from per-class lists sorted once; a resample only
 *   re-weights the tie groups (`averagePrecisionsOfGroups`), so it is exactly the mAP of the
 *   resampled images, in O(N·K) instead of a sort per class;
 * - `sampleF1Statistic`: the sample-averaged F1, a mean of per-image values (`sampleF1` of each row);
 * - `ratioStatistic`: a mean over (image, class) pairs, with an image's pairs kept together:
 *   Σ counts·(sum over the image's pairs) / Σ counts·(pairs of the image).
 *
 * Resamples whose statistic is undefined (NaN: e.g. no counted pair drawn) are left out of the
 * quantiles; with fewer than half of them finite there is no interval. Intervals capture
 * test-set sampling only: training-seed variation needs several runs (`apc sweep`).
 */
import { Rng } from '../engine/random.js';
import { argsortAscending } from './ranks.js';
import { averagePrecisionsOfGroups } from './average_precision.js';
import { type PredictionInput, sampleF1 } from './prediction_metrics.js';

export const DEFAULT_BOOTSTRAP_RESAMPLES = 1000;
export const DEFAULT_BOOTSTRAP_LEVEL = 0.95;

export interface BootstrapOptions {
  /** Resamples B (default 1000). */
  readonly resamples?: number;
  /** Seed of the resampling (default 0). The same seed draws the same images for every model. */
  readonly seed?: number;
  /** Coverage (default 0.95). */
  readonly level?: number;
}

export interface BootstrapInterval {
  readonly lo: number;
  readonly hi: number;
}

/** A metric of a resample, given how often each of the n units was drawn. */
export type ResampleStatistic = (counts: Uint32Array) => number;

/** The resampling stream of a seed (one per seed, independent of the training streams). */
function resampleRng(seed: number): Rng {
  return Rng.derive(seed, 'bootstrap-images');
}

/**
 * Each statistic on each of B resamples of n units (in draw order); every statistic sees the same
 * resamples. Deterministic for a seed: resample b draws the same units whatever the statistics,
 * so models evaluated with the same seed are resampled alike.
 */
export function bootstrapReplicatesOf<K extends string>(n: number, statistics: Readonly<Record<K, ResampleStatistic>>,
  opts: BootstrapOptions = {}): Record<K, Float64Array> {
  const B = opts.resamples ?? DEFAULT_BOOTSTRAP_RESAMPLES;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`bootstrap: ${n} units`);
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${B}`);
  const keys = Object.keys(statistics) as K[];
  const out = Object.fromEntries(keys.map((key) => [key, new Float64Array(B)])) as Record<K, Float64Array>;
  const rng = resampleRng(opts.seed ?? 0);
  const counts = new Uint32Array(n);
  for (let b = 0; b < B; b++) {
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[rng.int(n)]++;
    for (const key of keys) out[key][b] = statistics[key](counts);
  }
  return out;
}

/** One statistic on each of B resamples of n units (see `bootstrapReplicatesOf`). */
export function bootstrapReplicates(n: number, statistic: ResampleStatistic, opts: BootstrapOptions = {}): Float64Array {
  return bootstrapReplicatesOf(n, { statistic }, opts).statistic;
}

/** Quantile q of sorted values (type 7: linear between the order statistics). */
function sortedQuantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const i = Math.floor(h);
  return i + 1 < sorted.length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** The percentile interval of bootstrap values (non-finite ones left out); undefined when fewer than half are finite. */
export function percentileInterval(values: ArrayLike<number>, level = DEFAULT_BOOTSTRAP_LEVEL): BootstrapInterval | undefined {
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be in (0, 1), got ${level}`);
  const finite = Float64Array.from(Array.prototype.filter.call(values, Number.isFinite) as number[]);
  if (finite.length === 0 || 2 * finite.length < values.length) return undefined;
  finite.sort();
  return { lo: sortedQuantile(finite, (1 - level) / 2), hi: sortedQuantile(finite, (1 + level) / 2) };
}

/** Percentile bootstrap interval of `statistic` over n resampled units (undefined for n = 0). */
export function bootstrapInterval(n: number, statistic: ResampleStatistic, opts: BootstrapOptions = {}): BootstrapInterval | undefined {
  return bootstrapIntervals(n, { statistic }, opts).statistic;
}

/** Percentile bootstrap intervals of several statistics on the same resamples of n units. */
export function bootstrapIntervals<K extends string>(n: number, statistics: Readonly<Record<K, ResampleStatistic>>,
  opts: BootstrapOptions = {}): Record<K, BootstrapInterval | undefined> {
  const keys = Object.keys(statistics) as K[];
  if (n === 0) return Object.fromEntries(keys.map((key) => [key, undefined])) as Record<K, undefined>;
  const replicates = bootstrapReplicatesOf(n, statistics, opts);
  return Object.fromEntries(keys.map((key) => [key, percentileInterval(replicates[key], opts.level)])) as Record<K, BootstrapInterval | undefined>;
}

/** Mean of per-unit values: Σ counts·values / n. */
export function meanStatistic(values: ArrayLike<number>): ResampleStatistic {
  return (counts) => {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < counts.length; i++) {
      sum += counts[i] * values[i];
      n += counts[i];
    }
    return n === 0 ? NaN : sum / n;
  };
}

/**
 * A mean over items grouped in units (pairs of an image): unit i holds `denominators[i]` items
 * whose values sum to `numerators[i]`. Σ counts·num / Σ counts·den; NaN when no item is drawn.
 */
export function ratioStatistic(numerators: ArrayLike<number>, denominators: ArrayLike<number>): ResampleStatistic {
  if (numerators.length !== denominators.length) throw new RangeError(`ratioStatistic: ${numerators.length} numerators, ${denominators.length} denominators`);
  return (counts) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      num += counts[i] * numerators[i];
      den += counts[i] * denominators[i];
    }
    return den === 0 ? NaN : num / den;
  };
}

/**
 * Per-unit sums and counts of item values (`unitOf[j]` the unit of item j, `values[j]` its value,
 * null = not counted), for `ratioStatistic`.
 */
export function unitSums(nUnits: number, unitOf: ArrayLike<number>, values: readonly (number | null)[]): { sums: Float64Array; counts: Float64Array } {
  if (unitOf.length !== values.length) throw new RangeError(`unitSums: ${unitOf.length} units for ${values.length} values`);
  const sums = new Float64Array(nUnits);
  const counts = new Float64Array(nUnits);
  values.forEach((v, j) => {
    if (v === null || !Number.isFinite(v)) return;
    sums[unitOf[j]] += v;
    counts[unitOf[j]]++;
  });
  return { sums, counts };
}

/**
 * The headline mAP (×100, as `meanAveragePrecision`) of a resample of the images: per class, the
 * images left after difficult-only removal are sorted once into tie groups; a resample weights
 * each image by how often it was drawn. Classes without a drawn positive are skipped, as in
 * `meanAveragePrecision`; NaN when every class is.
 */
export function meanAveragePrecisionStatistic(input: PredictionInput): ResampleStatistic {
  const { logits, labels, numImages: n, numClasses: k, difficultOnly: dif } = input;
  if (logits.length !== n * k || labels.length !== n * k || (dif && dif.length !== n * k)) {
    throw new RangeError(`meanAveragePrecisionStatistic: arrays do not match N=${n}, K=${k}`);
  }
  // per class: images in descending score order, and where each tie group ends in that order
  const classes: { images: Uint32Array; positive: Uint8Array; groupEnd: Uint32Array }[] = [];
  const scores = new Float32Array(n);
  const index = new Uint32Array(n);
  for (let c = 0; c < k; c++) {
    let len = 0;
    for (let i = 0; i < n; i++) {
      if (dif !== undefined && dif[i * k + c] !== 0) continue;
      scores[len] = logits[i * k + c];
      index[len++] = i;
    }
    const asc = argsortAscending(scores.subarray(0, len));
    const images = new Uint32Array(len);
    const positive = new Uint8Array(len);
    const ends: number[] = [];
    for (let r = 0; r < len; r++) {
      const at = asc[len - 1 - r];
      images[r] = index[at];
      positive[r] = labels[index[at] * k + c] !== 0 ? 1 : 0;
      if (r > 0 && scores[at] !== scores[asc[len - r]]) ends.push(r);
    }
    if (len > 0) ends.push(len);
    classes.push({ images, positive, groupEnd: Uint32Array.from(ends) });
  }
  const groupPos = new Float64Array(n);
  const groupNeg = new Float64Array(n);
  const scratch = new Float64Array(n);
  return (counts) => {
    let sum = 0;
    let used = 0;
    for (const { images, positive, groupEnd } of classes) {
      let r = 0;
      for (let g = 0; g < groupEnd.length; g++) {
        let pos = 0;
        let all = 0;
        for (const end = groupEnd[g]; r < end; r++) {
          const w = counts[images[r]];
          pos += w * positive[r]; // branch-free: labels are unpredictable
          all += w;
        }
        groupPos[g] = pos;
        groupNeg[g] = all - pos;
      }
      const ap = averagePrecisionsOfGroups(groupPos, groupNeg, groupEnd.length, scratch).interpolated;
      if (Number.isNaN(ap)) continue;
      sum += ap;
      used++;
    }
    return used === 0 ? NaN : 100 * (sum / used); // as meanAveragePrecision rounds
  };
}

/** The sample-averaged F1 (×100, as `sampleF1`) of a resample: the mean of each image's `sampleF1`. */
export function sampleF1Statistic(input: PredictionInput): ResampleStatistic {
  const { logits, labels, numImages: n, numClasses: k } = input;
  if (logits.length !== n * k || labels.length !== n * k) throw new RangeError(`sampleF1Statistic: arrays do not match N=${n}, K=${k}`);
  const perImage = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    perImage[i] = sampleF1({ logits: logits.subarray(i * k, (i + 1) * k), labels: Array.prototype.slice.call(labels, i * k, (i + 1) * k) as number[], numImages: 1, numClasses: k });
  }
  return meanStatistic(perImage);
}
