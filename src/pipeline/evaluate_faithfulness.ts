/**
 * Faithfulness and sanity checks of a study's attribution maps on a dataset (the pure metrics are
 * in eval/faithfulness.ts and eval/sanity_check.ts).
 *
 * Pairs: the localisation pairs (image, ground-truth class) that the evaluated model predicts
 * (z_c > 0, the §2.2 counting rule) and whose map is finite, in pair order; the first `nPairs` of
 * them. Each model therefore uses its own predicted pairs and its own maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, SplitName } from '../data/dataset.js';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import {
  concatCurves, type FaithfulnessBaseline, type FaithfulnessCurves, faithfulnessCurves, type FaithfulnessOptions,
  type FaithfulnessResult, summarizeFaithfulness,
} from '../eval/faithfulness.js';
import { type Explainer, type SanityResult, sanityCheck } from '../eval/sanity_check.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { hostBatch, toTensors } from '../train/batches.js';
import type { Pair, PairMaps } from './evaluate_model.js';

/** How much faithfulness a run computes (a preset's setting; the quick preset uses a subset). */
export interface FaithfulnessSettings {
  /** Pairs per model and method (the first predicted pairs; undefined = all). */
  readonly nPairs?: number;
  /** Curve steps (default 20, 5 % each). */
  readonly steps?: number;
  readonly baseline?: FaithfulnessBaseline;
  /** Pairs per batch (the forward is twice this: deletion and insertion images). */
  readonly batchSize?: number;
}

/** A study's sanity-check setting: images and cascade states. */
export interface SanitySettings {
  /** (image, class) pairs, the teacher's predicted ones first (default 16). */
  readonly nPairs?: number;
  /** At most this many compared states (default 16). */
  readonly maxSteps?: number;
}

/** Indices of the pairs faithfulness uses: z_c > 0 and a finite map, the first `limit`. */
export function faithfulnessPairIndices(maps: PairMaps, limit = Infinity): number[] {
  const out: number[] = [];
  for (let i = 0; i < maps.pairs.length && out.length < limit; i++) {
    if (maps.logits[i] > 0 && maps.maps[i].every(Number.isFinite)) out.push(i);
  }
  return out;
}

/** Deletion/insertion AUCs of one method's maps on `net` (the model the maps are of). */
export function pairFaithfulness(net: GraphNet, data: Dataset, split: SplitName, maps: PairMaps, settings: FaithfulnessSettings = {}, seed = 0): FaithfulnessResult {
  const use = faithfulnessPairIndices(maps, settings.nPairs);
  const batch = settings.batchSize ?? 16;
  const options: FaithfulnessOptions = { steps: settings.steps, baseline: settings.baseline ?? 'blur' };
  const parts: FaithfulnessCurves[] = [];
  for (let start = 0; start < use.length; start += batch) {
    const idx = use.slice(start, start + batch);
    const { x, y } = toTensors(data, hostBatch(data, split, idx.map((i) => maps.pairs[i].image)));
    try {
      parts.push(faithfulnessCurves((v) => net.predict(v), x, idx.map((i) => maps.maps[i]), idx.map((i) => maps.pairs[i].classIndex),
        { ...options, seed: seed + start }));
    } finally {
      tf.dispose([x, y]);
    }
  }
  return summarizeFaithfulness(concatCurves(parts), options);
}

/** A registered attribution method as an explainer (input-resolution maps, on the host). */
export function methodExplainer(kind: string): Explainer {
  const method = makeAttribution(kind);
  return (net, images, classes) => {
    const r = method.attribute(net, images, classes);
    const [n, h, w] = r.maps.shape;
    const values = r.maps.dataSync() as Float32Array;
    disposeAttribution(r);
    return Array.from({ length: n }, (_, i) => values.slice(i * h * w, (i + 1) * h * w));
  };
}

/**
 * The sanity check of `methods` on the teacher, cascading randomisation on a clone. Pairs: the
 * first `nPairs` it predicts (`logits` z_c > 0), topped up with its other pairs in order when it
 * predicts fewer (a map for a class the model does not predict still has to depend on the weights).
 */
export function teacherSanity(net: GraphNet, data: Dataset, split: SplitName, pairs: readonly Pair[], logits: Float32Array,
  methods: readonly string[], settings: SanitySettings = {}, seed = 0): Record<string, SanityResult> {
  const n = settings.nPairs ?? 16;
  const chosen = [...pairs.filter((_, i) => logits[i] > 0), ...pairs.filter((_, i) => !(logits[i] > 0))].slice(0, n);
  if (chosen.length === 0 || methods.length === 0) return {};
  const { x, y } = toTensors(data, hostBatch(data, split, chosen.map((p) => p.image)));
  try {
    const explainers = Object.fromEntries(methods.map((m) => [m, methodExplainer(m)]));
    return sanityCheck(net, explainers, x, chosen.map((p) => p.classIndex), { seed, maxSteps: settings.maxSteps });
  } finally {
    tf.dispose([x, y]);
  }
}
