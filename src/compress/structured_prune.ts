/**
 * Structured L1-norm filter pruning (compression spec §2), Torch-Pruning style: a pure,
 * inspectable plan (`planStructuredPrune`: which filters each conv keeps), then surgery
 * (`applyPrunePlan`: a NEW network with those filters, the matching BN entries, the next conv's
 * input channels and the dense rows of the kept last-pool channels). The caller's network is
 * never changed. This is the VGG plan (per conv, the spec's rate table); `group_prune.ts` cuts
 * the channel groups of any graph and reproduces this plan on VGG.
 *
 * Widths are always relative to the ORIGINAL widths: n_l = max(1, floor(C_l^orig · (1 − ρ_l)))
 * in float64, so the architecture after any number of rounds can be rebuilt from the original
 * config and the rates alone (`prunedConfig`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { vggView } from '../models/vgg_view.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { type VggConfig, type VggLayout, VggConfigSchema, vggLayout } from '../models/vgg_config.js';

// ---------------------------------------------------------------------------------------------
// Importance criteria

/** Scores the output filters of one conv kernel: HWIO [3,3,I,O] → [O]; higher = more important. */
export interface FilterImportance {
  readonly kind: string;
  score(kernel: tf.Tensor4D): tf.Tensor1D;
}

/** s[o] = Σ_{kh,kw,i} |W[kh,kw,i,o]| over the whole unpruned kernel (spec §2.2, the default). */
export class L1FilterImportance implements FilterImportance {
  readonly kind = 'l1';
  score(kernel: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => tf.sum(tf.abs(kernel), [0, 1, 2]) as tf.Tensor1D);
  }
}

/** s[o] = √(Σ W[·,·,·,o]²): the L2 variant (an extension; not used by the reference). */
export class L2FilterImportance implements FilterImportance {
  readonly kind = 'l2';
  score(kernel: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => tf.sqrt(tf.sum(tf.square(kernel), [0, 1, 2])) as tf.Tensor1D);
  }
}

export const FILTER_IMPORTANCE_KINDS = ['l1', 'l2'] as const;

/** Importance criterion from its JSON config `{ kind }`. */
export function filterImportance(cfg: { kind: string }): FilterImportance {
  switch (cfg.kind) {
    case 'l1': return new L1FilterImportance();
    case 'l2': return new L2FilterImportance();
    default: throw new Error(`unknown filter importance '${cfg.kind}'; known: ${FILTER_IMPORTANCE_KINDS.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rates and widths

/** Per-conv pruning rates ρ_l, in `layout.convs` order. */
export type LayerRates = readonly number[];

/**
 * Per-layer rates. A number p gives the reference recipe (spec §2.1): rate p on the first conv
 * and on every conv of the last TWO blocks, 0 elsewhere — for the 13-conv VGG16 that is
 * conv1_1 and conv4_1…conv5_3; for the 4-block small-image layout conv1_1 and conv3_x, conv4_x.
 * An explicit list is validated and returned as is.
 */
export function structuredRates(layout: VggLayout, p: number | LayerRates): number[] {
  if (typeof p !== 'number') {
    if (p.length !== layout.convs.length) throw new Error(`structuredRates: ${p.length} rates given, the network has ${layout.convs.length} convs`);
    p.forEach((r, i) => checkRate(r, `rate of ${layout.convs[i].name}`));
    return [...p];
  }
  checkRate(p, 'rate');
  const blocks = Math.max(...layout.convs.map((c) => c.block));
  return layout.convs.map((c, i) => (i === 0 || c.block >= blocks - 1 ? p : 0));
}

/** Throws `<what> must be in [0, 1]` for a rate outside it. */
export function checkRate(r: number, what: string): void {
  if (!Number.isFinite(r) || r < 0 || r > 1) throw new Error(`${what} must be in [0, 1], got ${r}`);
}

/** Cumulative rate after t rounds at per-round rate p: P_t = 1 − (1 − p)^t (spec §2.4, §3.2). */
export function cumulativeRate(p: number, t: number): number {
  if (!Number.isInteger(t) || t < 0) throw new Error(`round must be a non-negative integer, got ${t}`);
  return 1 - (1 - p) ** t;
}

/** Rates of round t of an iterative schedule: every ρ_l becomes 1 − (1 − ρ_l)^t. */
export function roundRates(rates: LayerRates, t: number): number[] {
  return rates.map((r) => (r === 0 ? 0 : cumulativeRate(r, t)));
}

/** Filters kept: n = max(1, floor(C · (1 − ρ))) in float64 (spec §2.1). */
export function keptFilters(width: number, rate: number): number {
  return Math.max(1, Math.floor(width * (1 - rate)));
}

/** The pruned architecture: `config` (original widths) with every conv cut to n_l filters. */
export function prunedConfig(config: VggConfig, rates: LayerRates): VggConfig {
  const layout = vggLayout(config);
  if (rates.length !== layout.convs.length) throw new Error(`prunedConfig: ${rates.length} rates given, the config has ${layout.convs.length} convs`);
  let i = 0;
  const blocks = config.blocks.map((b) => b.map((c) => keptFilters(c, rates[i++])));
  return VggConfigSchema.parse({ ...config, blocks });
}

// ---------------------------------------------------------------------------------------------
// Plan

/** What a plan says about one cut channel space: its rate, widths and kept indices. */
export interface KeptChannels {
  /** Rate relative to `originalWidth`. */
  readonly rate: number;
  /** Width before this plan (the network the plan was made for). */
  readonly width: number;
  /** Width the rate refers to (the original, unpruned width). */
  readonly originalWidth: number;
  /** Kept channel indices into the current width, ascending. */
  readonly keep: readonly number[];
}

export interface PrunedConv extends KeptChannels {
  readonly name: string;
  readonly bn: string;
}

/** Pure, JSON-serialisable description of one structured cut. */
export interface PrunePlan {
  /** Importance criterion the filters were ranked by. */
  readonly importance: string;
  readonly convs: readonly PrunedConv[];
  /** The last pool, whose kept channels select the dense rows (NHWC). */
  readonly dense: { readonly height: number; readonly width: number; readonly channels: number; readonly keep: readonly number[] };
  /** Architecture after surgery. */
  readonly config: VggConfig;
}

export interface PlanOptions {
  /**
   * Widths the rates refer to (spec §2.4: the ORIGINAL widths in iterative pruning). Default:
   * the network's own widths (one-shot).
   */
  readonly originalWidths?: readonly number[];
}

/** Indices of the n largest scores, ties to the lower index, returned ascending. */
export function topFilters(scores: ArrayLike<number>, n: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, n).sort((a, b) => a - b);
}

/**
 * Plans a structured cut of `net` (spec §2.1–2.2): all scores are computed on the given
 * (unpruned) weights before any surgery; layer l keeps its n_l best filters. Pure: reads the
 * kernels, creates no lasting tensors, changes nothing.
 */
export function planStructuredPrune(net: GraphNet, rates: LayerRates, importance: FilterImportance = new L1FilterImportance(),
  opts: PlanOptions = {}): PrunePlan {
  const { config, layout } = vggView(net, 'structured pruning');
  const convs = layout.convs;
  if (rates.length !== convs.length) throw new Error(`planStructuredPrune: ${rates.length} rates given, the network has ${convs.length} convs`);
  const orig = opts.originalWidths ?? convs.map((c) => c.outChannels);
  if (orig.length !== convs.length) throw new Error(`planStructuredPrune: ${orig.length} original widths given, the network has ${convs.length} convs`);
  const planned: PrunedConv[] = convs.map((c, i) => {
    checkRate(rates[i], `rate of ${c.name}`);
    const n = keptFilters(orig[i], rates[i]);
    if (n > c.outChannels) {
      throw new Error(`planStructuredPrune: ${c.name} has ${c.outChannels} filters, rate ${rates[i]} of its original ${orig[i]} keeps ${n}; a plan can only remove filters`);
    }
    let keep: number[];
    if (n === c.outChannels) {
      keep = Array.from({ length: n }, (_, k) => k);
    } else {
      const s = importance.score(net.weight(`${c.name}/kernel`) as tf.Tensor4D);
      const scores = s.dataSync();
      s.dispose();
      if (scores.length !== c.outChannels) throw new Error(`importance '${importance.kind}' returned ${scores.length} scores for ${c.name}, expected ${c.outChannels}`);
      keep = topFilters(scores, n);
    }
    return { name: c.name, bn: c.bn, rate: rates[i], width: c.outChannels, originalWidth: orig[i], keep };
  });
  let i = 0;
  const blocks = config.blocks.map((b) => b.map(() => planned[i++].keep.length));
  const lastPool = layout.pools[layout.pools.length - 1];
  return {
    importance: importance.kind,
    convs: planned,
    dense: { height: lastPool.height, width: lastPool.width, channels: lastPool.channels, keep: planned[planned.length - 1].keep },
    config: VggConfigSchema.parse({ ...config, blocks }),
  };
}

/** Compact, JSON-friendly description of a plan for checkpoint metadata and logs. */
export function planSummary(plan: PrunePlan): { importance: string; widths: number[][]; layers: { name: string; rate: number; width: number; kept: number }[] } {
  return {
    importance: plan.importance,
    widths: plan.config.blocks.map((b) => [...b]),
    layers: plan.convs.map((c) => ({ name: c.name, rate: c.rate, width: c.width, kept: c.keep.length })),
  };
}

// ---------------------------------------------------------------------------------------------
// Surgery

export interface SurgeryOptions {
  readonly compat?: {
    /**
     * Quirk C1: the reference's dense cut, which keeps the right number of columns but not the
     * kept channels' ones (fine-tuning starts from a scrambled head). Default false: correct cut.
     */
    readonly scrambledDenseColumns?: boolean;
  };
}

/**
 * Dense rows kept by the reference's cut (quirk C1), as old NHWC row indices in new row order.
 * PyTorch column i is kept iff keep[i mod C]; L = those columns ascending; new NHWC row
 * (p·C' + j) takes old NHWC row (L[j·P + p] mod P)·C + floor(L[j·P + p] / P), P = H·W.
 */
export function scrambledDenseRows(P: number, C: number, keep: readonly number[]): number[] {
  const kept = new Uint8Array(C);
  for (const k of keep) kept[k] = 1;
  const L: number[] = [];
  for (let i = 0; i < C * P; i++) if (kept[i % C]) L.push(i);
  const C2 = keep.length;
  const rows = new Array<number>(P * C2);
  for (let p = 0; p < P; p++) {
    for (let j = 0; j < C2; j++) {
      const old = L[j * P + p];
      rows[p * C2 + j] = (old % P) * C + Math.floor(old / P);
    }
  }
  return rows;
}

/**
 * Surgery (spec §2.3): a NEW network holding, for every conv, the kept filters (kernel axis 3),
 * the previous layer's kept channels (axis 2), bias and all four BN vectors; and the dense
 * kernel rows of the kept last-pool channels in NHWC order ([H·W·C, K] → [H, W, C, K] → gather
 * axis 2 → [H·W·C', K]). The dense bias is unchanged. `net` is not modified.
 */
export function applyPrunePlan(net: GraphNet, plan: PrunePlan, opts: SurgeryOptions = {}): GraphNet {
  const { layout } = vggView(net, 'structured pruning');
  const convs = layout.convs;
  if (plan.convs.length !== convs.length) throw new Error(`applyPrunePlan: the plan has ${plan.convs.length} convs, the network ${convs.length}`);
  plan.convs.forEach((p, i) => {
    const c = convs[i];
    if (p.name !== c.name || p.width !== c.outChannels) {
      throw new Error(`applyPrunePlan: plan layer ${i} is ${p.name} of width ${p.width}, the network has ${c.name} of width ${c.outChannels} (plan made for another network?)`);
    }
    if (p.keep.some((k, j) => !Number.isInteger(k) || k < 0 || k >= c.outChannels || (j > 0 && k <= p.keep[j - 1]))) {
      throw new Error(`applyPrunePlan: kept indices of ${p.name} must be ascending, distinct integers in [0, ${c.outChannels})`);
    }
  });
  const tensors = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    const idx = (keep: readonly number[]) => tf.tensor1d(keep as number[], 'int32');
    let prev = idx([0, 1, 2]);
    plan.convs.forEach((p) => {
      const keep = idx(p.keep);
      const w = net.weight(`${p.name}/kernel`);
      out[`${p.name}/kernel`] = tf.gather(tf.gather(w, keep, 3), prev, 2);
      out[`${p.name}/bias`] = tf.gather(net.weight(`${p.name}/bias`), keep, 0);
      for (const v of ['gamma', 'beta', 'moving_mean', 'moving_variance']) {
        out[`${p.bn}/${v}`] = tf.gather(net.weight(`${p.bn}/${v}`), keep, 0);
      }
      prev = keep;
    });
    const last = plan.convs[plan.convs.length - 1];
    const pool = layout.pools[layout.pools.length - 1];
    const K = net.numClasses;
    const kernel = net.weight('fc/kernel');
    if (opts.compat?.scrambledDenseColumns) {
      out['fc/kernel'] = tf.gather(kernel, idx(scrambledDenseRows(pool.height * pool.width, pool.channels, last.keep)), 0);
    } else {
      const k4 = tf.reshape(kernel, [pool.height, pool.width, pool.channels, K]);
      out['fc/kernel'] = tf.reshape(tf.gather(k4, prev, 2), [pool.height * pool.width * last.keep.length, K]);
    }
    out['fc/bias'] = tf.clone(net.weight('fc/bias'));
    return out;
  });
  try {
    return GraphNet.fromWeights(plan.config, tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** One-shot structured pruning: plan at `rates` (relative to `originalWidths`, default the net's own) and cut. */
export function structuredPrune(net: GraphNet, rates: LayerRates, importance: FilterImportance = new L1FilterImportance(),
  opts: PlanOptions & SurgeryOptions = {}): { net: GraphNet; plan: PrunePlan } {
  const plan = planStructuredPrune(net, rates, importance, opts);
  return { net: applyPrunePlan(net, plan, opts), plan };
}
