/**
 * Evaluates a (compressed) network: prediction metrics on one split, and for each attribution
 * method the localisation metrics against the dataset's masks and the agreement of its maps with
 * the teacher's on another (evaluation spec §1–§3). The splits are the dataset's
 * (`info.evalSplits`: VOC prediction on Main val, localisation on Segmentation val; otherwise both
 * 'test') unless the caller overrides them. Pairs are (image, ground-truth class present in the
 * mask); localisation counts a pair iff the model's z_c > 0, agreement iff both models' are.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Dataset, type EvalSplits, evalSplitsOf, type SplitName } from '../data/dataset.js';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import { collectLogits } from '../eval/collect_logits.js';
import { summarize, type Summary } from '../eval/agreement.js';
import {
  AgreementAccumulator, type AgreementPairRecord, type AgreementReport, HEADLINE_TOPK_PERCENT, LocalizationAccumulator, type LocalizationOptions,
  type LocalizationPairRecord, type LocalizationReport, presentClasses,
} from '../eval/localization.js';
import { predictionMetrics } from '../eval/prediction_metrics.js';
import type { FaithfulnessResult } from '../eval/faithfulness.js';
import { type FaithfulnessSettings, pairFaithfulness } from './evaluate_faithfulness.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { hostBatch, toTensors } from '../train/batches.js';
import { createProgress } from '../train/progress.js';
import { matchedMapCosine } from './matched_map_cosine.js';
import type { BootstrapOptions } from '../eval/bootstrap_interval.js';
import {
  agreementIntervals, type IntervalMethod, intervalMethod, localizationIntervals, type MetricIntervals, predictionIntervals,
} from './metric_intervals.js';

export interface Pair { readonly image: number; readonly classIndex: number }

/** Maps of one model for a fixed list of pairs, kept on the host so other models can compare. */
export interface PairMaps {
  readonly method: string;
  readonly pairs: readonly Pair[];
  readonly maps: Float32Array[];
  readonly logits: Float32Array;
  /**
   * Per pair, the quantity a method conserves, where it has one: LRP and RAP the input relevance
   * summed before the sign flip and clipping (`relevanceSum`), EBP its native map's sum.
   */
  readonly mass?: Float32Array;
}

/**
 * Which (image, class) pairs agreement uses (evaluation spec §3): 'bothPositive' (default) the
 * localisation pairs with z^T_c > 0 and z^S_c > 0; 'teacherTop1' each image of the prediction
 * split with c = the teacher's top-1 class, whatever either logit is (so a student that predicts
 * no positives still gets an agreement figure).
 */
export type AgreementPairSet = 'bothPositive' | 'teacherTop1';
export const AGREEMENT_PAIR_SETS: readonly AgreementPairSet[] = ['bothPositive', 'teacherTop1'];

export interface MethodEvaluation {
  readonly auc: number;
  readonly pointing: number;
  /** The §2.6 record without per-pair records, plus the median AUC over the same pairs as `meanAUC`. */
  readonly localization: Omit<LocalizationReport, 'records' | 'perClass'> & { readonly medianAUC: number };
  /** Means (`topkIoU` at the headline 15 %); `report` holds every §3 summary (medians, top-k by percent). */
  readonly agreement?: { cosine: number; spearman: number; topkIoU: number; n: number; pairs: AgreementPairSet; report: Omit<AgreementReport, 'records'> };
  /** Conservation on this model (LRP, RAP: Σ/z_c; EBP: the native map's sum), see `conservationOf`. */
  readonly conservation?: Conservation;
  /** Deletion/insertion curves and AUCs of this model's maps (when `EvaluateOptions.faithfulness` is set). */
  readonly faithfulness?: FaithfulnessResult;
}

/**
 * How much of what a method distributes reaches its map, averaged over the pairs with z_c > 0:
 * LRP and RAP `mapRatio` = Σmap/z_c and `relevanceRatio` = ΣR_input/z_c before the sign flip and
 * RAP's clipping (1 on a bias-free network; LRP ≤ 1); EBP `mapSum` = Σ of the native map (1 when
 * o⁺_c > 0).
 */
export interface Conservation {
  readonly mapRatio?: number;
  readonly relevanceRatio?: number;
  readonly mapSum?: number;
  /** Pairs averaged (z_c > 0 and a finite map and mass). */
  readonly n: number;
  /** Pairs with z_c > 0 whose map or mass has NaN/±Inf: counted here, never averaged in (absent when 0). */
  readonly nNonFinite?: number;
}

/** Conservation figures of one method's maps (undefined for methods that conserve nothing). */
export function conservationOf(maps: PairMaps): Conservation | undefined {
  const positive = [...maps.logits.keys()].filter((i) => maps.logits[i] > 0);
  const finite = (i: number) => maps.maps[i].every(Number.isFinite) && (!maps.mass || Number.isFinite(maps.mass[i]));
  const counted = positive.filter(finite);
  const nNonFinite = positive.length - counted.length;
  const tally = nNonFinite ? { nNonFinite } : {};
  const mean = (f: (i: number) => number) => (counted.length ? counted.reduce((s, i) => s + f(i), 0) / counted.length : NaN);
  const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
  if (maps.method === 'lrp' || maps.method === 'rap') {
    const relevanceRatio = maps.mass ? mean((i) => maps.mass![i] / maps.logits[i]) : undefined;
    return { mapRatio: mean((i) => sum(maps.maps[i]) / maps.logits[i]), ...(relevanceRatio === undefined ? {} : { relevanceRatio }), n: counted.length, ...tally };
  }
  if (maps.method === 'ebp' && maps.mass) return { mapSum: mean((i) => maps.mass![i]), n: counted.length, ...tally };
  return undefined;
}

export interface ModelEvaluation {
  /** Where prediction metrics and localisation/agreement were computed. */
  readonly splits: EvalSplits;
  readonly mAP: number;
  readonly f1: number;
  readonly prediction: Record<string, number>;
  readonly attribution: Record<string, MethodEvaluation>;
  /** Cosine of the teacher's and this model's SWA maps at the matched layers (teacher top-1 class), when a teacher was given. */
  readonly matchedMapCosine?: Summary;
  /** Per-pair records per method (`keepRecords`): localisation, and agreement when a teacher was given. */
  readonly records?: Record<string, MethodRecords>;
  /**
   * 95 % bootstrap intervals over test images, keyed 'mAP', 'f1', '<method>.auc' … (metric_intervals.ts);
   * absent with `bootstrap: false`. `ciMethod` says which interval.
   */
  readonly ci95?: MetricIntervals;
  readonly ciMethod?: IntervalMethod;
}

/** Every pair's record of one method, so each reported number can be recomputed (spec §2.6). */
export interface MethodRecords {
  readonly localization: readonly LocalizationPairRecord[];
  readonly agreement?: readonly AgreementPairRecord[];
}

/** The (image, class) pairs of a split: every class present in each image's mask. */
export function maskPairs(data: Dataset, split: SplitName, limit?: number): Pair[] {
  const n = Math.min(data.size(split), limit ?? Infinity);
  const pairs: Pair[] = [];
  for (let i = 0; i < n; i++) {
    const mask = data.get(split, i).mask;
    if (!mask) throw new Error(`dataset '${data.info.name}' split '${split}' has no masks: localisation needs them`);
    for (const c of presentClasses(mask)) pairs.push({ image: i, classIndex: c });
  }
  return pairs;
}

/** The 'teacherTop1' pairs (§3): each of the first `limit` images of `split` with the teacher's arg-max class (lowest index on ties). */
export async function teacherTop1Pairs(teacher: GraphNet, data: Dataset, split: SplitName, limit?: number): Promise<Pair[]> {
  const { logits, numImages, numClasses: K } = await collectLogits(teacher, data, split, { limit });
  return Array.from({ length: numImages }, (_, image) => {
    let best = 0;
    for (let c = 1; c < K; c++) if (logits[image * K + c] > logits[image * K + best]) best = c;
    return { image, classIndex: best };
  });
}

/**
 * The teacher's maps for agreement, per method, on the pair set `agreementPairs` selects (default
 * 'bothPositive': the localisation split's mask pairs; 'teacherTop1': the prediction split's
 * top-1 pairs). Pass the result to `evaluateModel` as `teacherMaps` with the same options.
 */
export async function teacherAgreementMaps(teacher: GraphNet,
  opts: Pick<EvaluateOptions, 'data' | 'split' | 'predictionSplit' | 'localizationSplit' | 'methods' | 'limit' | 'batchSize' | 'agreementPairs'>): Promise<Map<string, PairMaps>> {
  const splits = evalSplitsFor(opts);
  const top1 = opts.agreementPairs === 'teacherTop1';
  const split = top1 ? splits.prediction : splits.localization;
  const pairs = top1 ? await teacherTop1Pairs(teacher, opts.data, split, opts.limit) : maskPairs(opts.data, split, opts.limit);
  return new Map(opts.methods.map((m) => [m, computePairMaps(teacher, opts.data, split, pairs, m, opts.batchSize)] as const));
}

/** Computes one method's maps for all pairs, in batches; `onBatch(pairsDone)` after each batch. */
export function computePairMaps(net: GraphNet, data: Dataset, split: SplitName, pairs: readonly Pair[], method: string, batchSize = 32,
  onBatch?: (pairsDone: number) => void): PairMaps {
  const m = makeAttribution(method);
  const maps: Float32Array[] = [];
  const logits = new Float32Array(pairs.length);
  let mass: Float32Array | undefined;
  const HW = data.info.height * data.info.width;
  for (let start = 0; start < pairs.length; start += batchSize) {
    const chunk = pairs.slice(start, start + batchSize);
    const hb = hostBatch(data, split, chunk.map((p) => p.image));
    const { x, y } = toTensors(data, hb);
    const r = m.attribute(net, x, chunk.map((p) => p.classIndex));
    const values = r.maps.dataSync();
    const own = r.relevanceSum ?? (method === 'ebp' && r.native ? tf.tidy(() => tf.sum(r.native!, [1, 2]).dataSync()) as Float32Array : undefined);
    if (own && start === 0) mass = new Float32Array(pairs.length);
    chunk.forEach((_, i) => {
      maps.push(values.slice(i * HW, (i + 1) * HW) as Float32Array);
      logits[start + i] = r.targetLogit[i];
      if (mass && own) mass[start + i] = own[i];
    });
    disposeAttribution(r);
    tf.dispose([x, y]);
    onBatch?.(start + chunk.length);
  }
  return { method, pairs, maps, logits, ...(mass ? { mass } : {}) };
}

/** Precomputed (teacher's or own) maps must be for exactly the pairs being evaluated (same split, same limit). */
function checkSamePairs(given: PairMaps, pairs: readonly Pair[], split: SplitName, whose: 'teacher' | 'own'): void {
  const same = given.pairs.length === pairs.length
    && given.pairs.every((p, i) => p.image === pairs[i].image && p.classIndex === pairs[i].classIndex);
  if (!same) {
    throw new Error(`${whose} ${given.method} maps cover ${given.pairs.length} pairs that are not the ${pairs.length} '${split}' pairs `
      + 'being evaluated: compute them with maskPairs/computePairMaps on the localisation split with the same limit');
  }
}

export interface EvaluateOptions {
  data: Dataset;
  /** Both groups on this split (overrides the dataset's `evalSplits`). */
  split?: SplitName;
  /** Prediction metrics on this split (default: `split`, else the dataset's). */
  predictionSplit?: SplitName;
  /** Localisation and agreement on this split (default: `split`, else the dataset's). */
  localizationSplit?: SplitName;
  methods: readonly string[];
  /**
   * Teacher maps per method for agreement (computed once per run with `computePairMaps`, on the
   * localisation split — `evalSplitsFor(opts).localization` — with `maskPairs` of that split).
   */
  teacherMaps?: ReadonlyMap<string, PairMaps>;
  /** This network's own maps where already computed (the same pairs), e.g. the teacher's for its own row. */
  ownMaps?: ReadonlyMap<string, PairMaps>;
  limit?: number;
  batchSize?: number;
  /** Localisation options (spec §2.4–2.5): `pointingTolerancePx`, compat `voidAsBackground` (E4). */
  localization?: LocalizationOptions;
  /** Agreement pair set (default 'bothPositive'); `teacherMaps` must be on that set (`teacherAgreementMaps`). */
  agreementPairs?: AgreementPairSet;
  /** The teacher itself, for `matchedMapCosine` (on the prediction split's first `limit` images); absent or `net` → not computed. */
  teacherNet?: GraphNet;
  /** Keep every pair's records in `ModelEvaluation.records`. */
  keepRecords?: boolean;
  /** No progress bar or summary line. */
  quiet?: boolean;
  /** Progress label, e.g. the model's name (default 'evaluate'). */
  label?: string;
  /** Also compute deletion/insertion faithfulness of every method's maps on this model. */
  faithfulness?: FaithfulnessSettings;
  /** Seed of the faithfulness ROAD noise (unused with the blur baseline), and of the bootstrap resamples unless `bootstrap.seed` is set. */
  seed?: number;
  /**
   * Bootstrap intervals over test images (default 1000 resamples at 95 %, seeded by `seed`, else 0);
   * false: none. Cost grows with images × classes: about 0.2 s of CPU for 600 test images × 10 classes.
   */
  bootstrap?: BootstrapOptions | false;
}

/** The splits an evaluation uses: per-group override, else `split`, else the dataset's `evalSplits`. */
export function evalSplitsFor(opts: Pick<EvaluateOptions, 'data' | 'split' | 'predictionSplit' | 'localizationSplit'>): EvalSplits {
  const own = evalSplitsOf(opts.data);
  return {
    prediction: opts.predictionSplit ?? opts.split ?? own.prediction,
    localization: opts.localizationSplit ?? opts.split ?? own.localization,
  };
}

export async function evaluateModel(net: GraphNet, opts: EvaluateOptions): Promise<ModelEvaluation> {
  const { data } = opts;
  const splits = evalSplitsFor(opts);
  const split = splits.localization;
  const started = Date.now();
  const pairs = opts.methods.length > 0 ? maskPairs(data, split, opts.limit) : [];
  const pairSet = opts.agreementPairs ?? 'bothPositive';
  const top1 = pairSet === 'teacherTop1';
  // progress in pairs: one unit per image for the logits pass, then every method's pairs (and its top-1 pairs)
  const nImages = Math.min(data.size(splits.prediction), opts.limit ?? Infinity);
  const unitsPerMethod = pairs.length + (top1 && opts.teacherMaps ? nImages : 0);
  const label = opts.label ?? 'evaluate';
  const progress = createProgress({ label, total: nImages + opts.methods.length * unitsPerMethod, quiet: opts.quiet });
  const splitLogits = await collectLogits(net, data, splits.prediction, { limit: opts.limit });
  const pred = predictionMetrics(splitLogits);
  const bootstrap = opts.bootstrap === false ? undefined : { seed: opts.seed ?? 0, ...opts.bootstrap };
  const ci95: MetricIntervals = bootstrap ? predictionIntervals(splitLogits, { mAP: pred.mAP, f1: pred.F1 }, bootstrap) : {};
  progress.update(nImages, { stage: 'logits', mAP: pred.mAP });
  const attribution: Record<string, MethodEvaluation> = {};
  const { height, width } = data.info;
  // each image's id and mask, read once (a sample may be rendered or read from disk on every get)
  const masks = new Map<number, { id: string; mask: Uint8Array }>();
  for (const p of pairs) {
    if (!masks.has(p.image)) {
      const sample = data.get(split, p.image);
      masks.set(p.image, { id: sample.id, mask: sample.mask! });
    }
  }
  const records: Record<string, MethodRecords> = {};
  // top-1 pairs are on the prediction split: their image ids, read once
  const predictionIds = new Map<number, string>();
  const predictionId = (i: number) => {
    if (!predictionIds.has(i)) predictionIds.set(i, data.get(splits.prediction, i).id);
    return predictionIds.get(i)!;
  };
  for (const [mi, method] of opts.methods.entries()) {
    const base = nImages + mi * unitsPerMethod;
    const given = opts.ownMaps?.get(method);
    if (given) checkSamePairs(given, pairs, split, 'own');
    const own = given ?? computePairMaps(net, data, split, pairs, method, opts.batchSize, (n) => progress.update(base + n, { stage: method }));
    const loc = new LocalizationAccumulator(opts.localization);
    pairs.forEach((p, i) => {
      const { id: imageId, mask } = masks.get(p.image)!;
      loc.add({ imageId, classIndex: p.classIndex, logit: own.logits[i], map: own.maps[i], mask, height, width });
    });
    const teacher = opts.teacherMaps?.get(method);
    let agr: AgreementAccumulator | undefined;
    if (teacher) {
      if (!top1) checkSamePairs(teacher, pairs, split, 'teacher');
      else if (teacher.pairs.length !== nImages || teacher.pairs.some((p, i) => p.image !== i)) {
        throw new Error(`teacher ${method} maps cover ${teacher.pairs.length} pairs, not one per image of the ${nImages} '${splits.prediction}' images: `
          + 'for agreementPairs \'teacherTop1\' compute them with teacherAgreementMaps and the same options');
      }
      // the student's maps for the teacher's pairs: the localisation maps, or its own on the top-1 pairs
      const student = top1
        ? computePairMaps(net, data, splits.prediction, teacher.pairs, method, opts.batchSize, (n) => progress.update(base + pairs.length + n, { stage: `${method} top-1` }))
        : own;
      agr = new AgreementAccumulator({ requirePositiveLogits: !top1 });
      teacher.pairs.forEach((p, i) => {
        agr!.add({ imageId: top1 ? predictionId(p.image) : masks.get(p.image)!.id, classIndex: p.classIndex,
          teacherLogit: teacher.logits[i], studentLogit: student.logits[i], teacherMap: teacher.maps[i], studentMap: student.maps[i], height, width });
      });
    }
    const l = loc.result();
    const { records: locRecords, perClass: _p, ...locSummary } = l;
    const medianAUC = summarize(locRecords.flatMap((r) => (r.auc === null ? [] : [r.auc]))).median;
    let agreement: MethodEvaluation['agreement'];
    let agrRecords: readonly AgreementPairRecord[] | undefined;
    if (agr) {
      const a = agr.result();
      const { records: ar, ...aSummary } = a;
      agrRecords = ar;
      agreement = { cosine: a.cosine.mean, spearman: a.spearman.mean, topkIoU: a.topkIoU[HEADLINE_TOPK_PERCENT]?.mean ?? NaN, n: a.n, pairs: pairSet, report: aSummary };
    }
    if (opts.keepRecords) records[method] = { localization: locRecords, ...(agrRecords ? { agreement: agrRecords } : {}) };
    if (bootstrap) {
      Object.assign(ci95, localizationIntervals(method, pairs.map((p) => p.image), locRecords, { auc: l.meanAUC, pointing: l.pointingAcc }, bootstrap));
      if (agreement && agrRecords) Object.assign(ci95, agreementIntervals(method, teacher!.pairs.map((p) => p.image), agrRecords, agreement, bootstrap));
    }
    const conservation = conservationOf(own);
    if (opts.faithfulness) progress.update(base + pairs.length, { stage: `${method} faithfulness` });
    const faithfulness = opts.faithfulness ? pairFaithfulness(net, data, split, own, opts.faithfulness, opts.seed) : undefined;
    attribution[method] = { auc: l.meanAUC, pointing: l.pointingAcc, localization: { ...locSummary, medianAUC }, agreement, ...(conservation ? { conservation } : {}),
      ...(faithfulness ? { faithfulness } : {}) };
  }
  const mmc = opts.teacherNet && opts.teacherNet !== net
    ? matchedMapCosine(opts.teacherNet, net, data, splits.prediction, { limit: opts.limit, batchSize: opts.batchSize }) : undefined;
  const f = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const ci = (key: string, d: number) => (ci95[key] ? ` [${ci95[key][0].toFixed(d)}, ${ci95[key][1].toFixed(d)}]` : '');
  const perMethod = Object.entries(attribution).map(([m, e]) => `${m} AUC ${f(e.auc, 3)} · pointing ${Number.isFinite(e.pointing) ? `${f(100 * e.pointing, 1)} %` : '–'}`
    + (e.agreement ? ` · cosine ${f(e.agreement.cosine, 3)}` : ''));
  const where = splits.prediction === split ? `${pairs.length} pairs` : `mAP on ${splits.prediction} · ${pairs.length} ${split} pairs`;
  progress.stop(`${label}: mAP ${f(pred.mAP, 2)}${ci('mAP', 1)} · F1 ${f(pred.F1, 2)}${ci('f1', 1)}${perMethod.length ? ` · ${perMethod.join(' · ')}` : ''} · ${where} · ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    splits, mAP: pred.mAP, f1: pred.F1,
    prediction: { mAP: pred.mAP, mAP_raw: pred.mAP_raw, mAP_perImage_ref: pred.mAP_perImage_ref, F1: pred.F1, F1_ref: pred.F1_ref },
    attribution,
    ...(mmc ? { matchedMapCosine: mmc } : {}),
    ...(opts.keepRecords ? { records } : {}),
    ...(bootstrap ? { ci95, ciMethod: intervalMethod(bootstrap) } : {}),
  };
}
