/**
 * 95 % percentile bootstrap intervals of one evaluation's headline metrics, resampling test
 * images (eval/bootstrap_interval.ts). Keys are the summary table's column keys: 'mAP', 'f1',
 * '<method>.auc', '<method>.pointing', '<method>.cosine', '<method>.spearman', '<method>.topkIoU';
 * values are in the metric's own units ([lo, hi] of a ×100 mAP is ×100 too).
 *
 * Units resampled: the prediction split's images for mAP and F1; for a method's localisation and
 * agreement metrics, the images its pairs come from, each image with all its pairs. An interval
 * is left out when the point value is undefined or most resamples have no value.
 */
import {
  type BootstrapInterval, bootstrapIntervals, type BootstrapOptions, DEFAULT_BOOTSTRAP_LEVEL, DEFAULT_BOOTSTRAP_RESAMPLES,
  meanAveragePrecisionStatistic, ratioStatistic, type ResampleStatistic, sampleF1Statistic, unitSums,
} from '../eval/bootstrap_interval.js';
import { type AgreementPairRecord, HEADLINE_TOPK_PERCENT, type LocalizationPairRecord } from '../eval/localization.js';
import type { PredictionInput } from '../eval/prediction_metrics.js';

export type MetricIntervals = Record<string, readonly [number, number]>;

/** What the intervals are, stated next to them in results.json. */
export interface IntervalMethod {
  readonly kind: 'percentile bootstrap over test images';
  readonly level: number;
  readonly resamples: number;
  readonly seed: number;
  readonly description: string;
}

export function intervalMethod(opts: BootstrapOptions): IntervalMethod {
  const level = opts.level ?? DEFAULT_BOOTSTRAP_LEVEL;
  const resamples = opts.resamples ?? DEFAULT_BOOTSTRAP_RESAMPLES;
  return {
    kind: 'percentile bootstrap over test images', level, resamples, seed: opts.seed ?? 0,
    description: `${100 * level} % percentile bootstrap interval, ${resamples} resamples of the evaluated images with replacement `
      + '(mAP and F1 recomputed on each; localisation and agreement means with all pairs of an image kept together). '
      + 'It covers test-set sampling only, not training-seed variation (apc sweep).',
  };
}

function put(out: Record<string, readonly [number, number]>, prefix: string, intervals: Record<string, BootstrapInterval | undefined>, point: Record<string, number>): void {
  for (const [key, ci] of Object.entries(intervals)) {
    if (ci && Number.isFinite(point[key]) && Number.isFinite(ci.lo) && Number.isFinite(ci.hi)) out[`${prefix}${key}`] = [ci.lo, ci.hi];
  }
}

/** mAP and F1 intervals (×100) over the prediction split's images. */
export function predictionIntervals(input: PredictionInput, point: { mAP: number; f1: number }, opts: BootstrapOptions): MetricIntervals {
  const out: MetricIntervals = {};
  put(out, '', bootstrapIntervals(input.numImages, { mAP: meanAveragePrecisionStatistic(input), f1: sampleF1Statistic(input) }, opts), point);
  return out;
}

/** Dense unit indices (first-appearance order) of the images of a pair list. */
function imageUnits(images: readonly number[]): { unitOf: Uint32Array; nUnits: number } {
  const ids = new Map<number, number>();
  const unitOf = Uint32Array.from(images, (image) => {
    if (!ids.has(image)) ids.set(image, ids.size);
    return ids.get(image)!;
  });
  return { unitOf, nUnits: ids.size };
}

/** Mean-over-pairs statistics from per-pair values (null = pair not in that mean), pairs grouped by image. */
function pairMeans(images: readonly number[], values: Record<string, readonly (number | null)[]>): { n: number; statistics: Record<string, ResampleStatistic> } {
  const { unitOf, nUnits } = imageUnits(images);
  const statistics: Record<string, ResampleStatistic> = {};
  for (const [key, v] of Object.entries(values)) {
    const { sums, counts } = unitSums(nUnits, unitOf, v);
    statistics[key] = ratioStatistic(sums, counts);
  }
  return { n: nUnits, statistics };
}

/** AUC and pointing intervals of one method: `images[j]` is the image of `records[j]`. */
export function localizationIntervals(method: string, images: readonly number[], records: readonly LocalizationPairRecord[],
  point: { auc: number; pointing: number }, opts: BootstrapOptions): MetricIntervals {
  const { n, statistics } = pairMeans(images, {
    // as summarizeLocalization: AUC over counted pairs with a defined AUC, pointing over counted finite pairs
    auc: records.map((r) => (r.status === 'counted' ? r.auc : null)),
    pointing: records.map((r) => (r.status === 'counted' && r.hit !== null ? Number(r.hit) : null)),
  });
  const out: MetricIntervals = {};
  put(out, `${method}.`, bootstrapIntervals(n, statistics, opts), point);
  return out;
}

/** Cosine, Spearman and top-15 % IoU intervals of one method: `images[j]` is the image of `records[j]`. */
export function agreementIntervals(method: string, images: readonly number[], records: readonly AgreementPairRecord[],
  point: { cosine: number; spearman: number; topkIoU: number }, opts: BootstrapOptions): MetricIntervals {
  const used = (r: AgreementPairRecord, v: number | null | undefined) => (r.status === 'used' && v !== undefined ? v : null);
  const { n, statistics } = pairMeans(images, {
    cosine: records.map((r) => used(r, r.cosine)),
    spearman: records.map((r) => used(r, r.spearman)),
    topkIoU: records.map((r) => used(r, r.topkIoU[HEADLINE_TOPK_PERCENT])),
  });
  const out: MetricIntervals = {};
  put(out, `${method}.`, bootstrapIntervals(n, statistics, opts), point);
  return out;
}
