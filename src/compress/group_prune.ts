/**
 * Dependency-grouped structured pruning on any graph (graph.md §3, compression.md §2): the
 * channel groups of `channelLayout` are the unit of pruning. A pure, JSON-serialisable plan
 * (`planGroupPrune`: which channels each group keeps), then surgery (`applyGroupPrunePlan`: a NEW
 * network in which every member of every group — kernel out-channels, biases, BN vectors,
 * depthwise channels, the next convs' in-channels, dense rows — keeps the same channels). The
 * caller's network is never changed.
 *
 * Importance of a group's channel: the criterion's score of that output filter (default L1),
 * summed over the group's producers. Kept: n = max(1, floor(C_orig · (1 − ρ))) relative to the
 * ORIGINAL width, ties to the lower index (`topFilters`). Rates: on VGG the spec's table
 * ([p, 0×6, p×6], `structuredRates`), so the plan equals `planStructuredPrune`'s; on other
 * graphs ρ = p on every free group. Rates and widths are arrays aligned with the graph's groups
 * (`channelGroups` order, stable for one topology).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ChannelGroup, channelLayout, resizedGraph } from '../models/graph/channel_groups.js';
import type { Graph } from '../models/graph/graph.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { graphOf, type ModelConfig } from '../models/model_config.js';
import { OPS } from '../models/graph/ops/index.js';
import { VggConfigSchema, vggLayout } from '../models/vgg_config.js';
import {
  checkRate, type FilterImportance, type KeptChannels, keptFilters, L1FilterImportance, type LayerRates, structuredRates, topFilters,
} from './structured_prune.js';

/** One group of a plan (rate 0 for frozen groups). */
export interface PrunedGroup extends KeptChannels {
  readonly id: number;
  readonly producers: readonly string[];
  readonly frozen?: ChannelGroup['frozen'];
}

/** Pure, JSON-serialisable description of one grouped structured cut. */
export interface GroupPrunePlan {
  /** Importance criterion the channels were ranked by. */
  readonly importance: string;
  /** Every channel group of the graph, in `channelGroups` order. */
  readonly groups: readonly PrunedGroup[];
  /** Architecture after surgery: a VggConfig for VGG, a `graph` config otherwise. */
  readonly config: ModelConfig;
}

export interface GroupPlanOptions {
  /** Widths the rates refer to, per group (compression.md §2.4: the ORIGINAL widths). Default: the current widths. */
  readonly originalWidths?: readonly number[];
}

const groupName = (g: ChannelGroup) => `group ${g.id} (${g.producers.join(', ') || g.members[0]})`;

/**
 * Per-group rates for global rate p: on VGG the spec's table (`structuredRates`, which also takes
 * an explicit per-conv list), rate p on every free group otherwise; frozen groups 0.
 */
export function groupRates(config: ModelConfig, p: number | LayerRates): number[] {
  const groups = channelLayout(graphOf(config)).groups;
  if (config.kind === 'vgg') {
    const layout = vggLayout(config);
    const rates = structuredRates(layout, p);
    const byConv = new Map(layout.convs.map((c, i) => [c.name, rates[i]]));
    return groups.map((g) => (g.frozen ? 0 : byConv.get(g.producers[0]) ?? 0));
  }
  if (typeof p !== 'number') {
    if (p.length !== groups.length) throw new Error(`groupRates: ${p.length} rates given, the graph has ${groups.length} channel groups`);
    p.forEach((r, i) => checkRate(r, `rate of ${groupName(groups[i])}`));
    return [...p];
  }
  checkRate(p, 'rate');
  return groups.map((g) => (g.frozen ? 0 : p));
}

/** Per-channel scores of a group: Σ over its producers of the criterion's score of each output filter. */
function groupScores(net: GraphNet, g: ChannelGroup, importance: FilterImportance): Float64Array {
  const total = new Float64Array(g.width);
  if (!g.producers.length) throw new Error(`${groupName(g)} has no producer to score`);
  for (const p of g.producers) {
    const node = net.graph.node(p);
    const kernelAxis = OPS[node.op].channels(node as never).outAxes[0];
    const w = net.weight(`${p}/${kernelAxis.suffix}`);
    // conv kernels are HWIO already; a dense kernel [F, U] scores as a [1, 1, F, U] kernel
    const s = tf.tidy(() => importance.score((w.rank === 4 ? w : tf.reshape(w, [1, 1, w.shape[0], w.shape[w.rank - 1]])) as tf.Tensor4D));
    const scores = s.dataSync();
    s.dispose();
    if (scores.length !== g.width) throw new Error(`importance '${importance.kind}' returned ${scores.length} scores for ${p}, expected ${g.width}`);
    for (let i = 0; i < g.width; i++) total[i] += scores[i];
  }
  return total;
}

/** The pruned architecture of `graph` (config `config`) with group widths `widths` (aligned with its groups). */
function configWithWidths(config: ModelConfig, graph: Graph, groups: readonly ChannelGroup[], widths: readonly number[]): ModelConfig {
  const byId = new Map(groups.map((g, i) => [g.id, widths[i]]));
  if (config.kind === 'vgg') {
    // VGG keeps its family config (today's checkpoints, reports and rebuilds read the blocks)
    const byConv = new Map(groups.flatMap((g, i) => g.producers.map((p) => [p, widths[i]] as const)));
    let i = 0;
    const convs = vggLayout(config).convs;
    return VggConfigSchema.parse({ ...config, blocks: config.blocks.map((b) => b.map(() => byConv.get(convs[i++].name)!)) });
  }
  const spec = resizedGraph(graph, (g) => byId.get(g.id)!, 'pruned graph');
  return { ...spec, source: { ...spec.source, structuredPruning: { from: config.kind === 'graph' ? config.name ?? 'graph' : config.kind } } };
}

/**
 * The pruned architecture rebuilt from the original config and per-group rates (compression.md
 * §2.4): every free group at max(1, floor(C_orig · (1 − ρ))). Generalises `prunedConfig`.
 */
export function prunedGroupConfig(config: ModelConfig, rates: readonly number[]): ModelConfig {
  const graph = graphOf(config);
  const groups = channelLayout(graph).groups;
  if (rates.length !== groups.length) throw new Error(`prunedGroupConfig: ${rates.length} rates given, the graph has ${groups.length} channel groups`);
  return configWithWidths(config, graph, groups, groups.map((g, i) => (g.frozen ? g.width : keptFilters(g.width, rates[i]))));
}

/**
 * Plans a grouped structured cut of `net`: all scores on the given weights before any surgery;
 * group i keeps its max(1, floor(C_orig,i · (1 − ρ_i))) best channels. Pure: reads the kernels,
 * creates no lasting tensors, changes nothing.
 */
export function planGroupPrune(net: GraphNet, rates: readonly number[], importance: FilterImportance = new L1FilterImportance(),
  opts: GroupPlanOptions = {}): GroupPrunePlan {
  const groups = channelLayout(net.graph).groups;
  if (rates.length !== groups.length) throw new Error(`planGroupPrune: ${rates.length} rates given, the graph has ${groups.length} channel groups`);
  const orig = opts.originalWidths ?? groups.map((g) => g.width);
  if (orig.length !== groups.length) throw new Error(`planGroupPrune: ${orig.length} original widths given, the graph has ${groups.length} channel groups`);
  const planned = groups.map((g, i): PrunedGroup => {
    checkRate(rates[i], `rate of ${groupName(g)}`);
    if (g.frozen && rates[i] !== 0) throw new Error(`planGroupPrune: ${groupName(g)} is frozen (${g.frozen}), its rate must be 0, got ${rates[i]}`);
    const n = g.frozen ? g.width : keptFilters(orig[i], rates[i]);
    if (n > g.width) {
      throw new Error(`planGroupPrune: ${groupName(g)} has ${g.width} channels, rate ${rates[i]} of its original ${orig[i]} keeps ${n}; a plan can only remove channels`);
    }
    const keep = n === g.width ? Array.from({ length: n }, (_, k) => k) : topFilters(groupScores(net, g, importance), n);
    return { id: g.id, producers: g.producers, ...(g.frozen ? { frozen: g.frozen } : {}), rate: rates[i], width: g.width, originalWidth: orig[i], keep };
  });
  return { importance: importance.kind, groups: planned, config: configWithWidths(net.config, net.graph, groups, planned.map((p) => p.keep.length)) };
}

/** Compact, JSON-friendly description of a plan for checkpoint metadata and logs. */
export function groupPlanSummary(plan: GroupPrunePlan): { importance: string; groups: { id: number; producers: readonly string[]; rate: number; width: number; kept: number }[] } {
  return {
    importance: plan.importance,
    groups: plan.groups.filter((g) => !g.frozen).map((g) => ({ id: g.id, producers: g.producers, rate: g.rate, width: g.width, kept: g.keep.length })),
  };
}

/**
 * Kept indices along one weight axis of `size` entries, given the cuts through it: index i reads
 * channel c = i (or i mod period for dense rows after a flatten), which the cut covering c keeps
 * or removes; indices no cut covers (the input's channels) stay. Ascending.
 */
function keptAlong(size: number, cuts: readonly { offset: number; period?: number; width: number; kept: Uint8Array }[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    let keep = true;
    for (const c of cuts) {
      const ch = c.period ? i % c.period : i;
      if (ch >= c.offset && ch < c.offset + c.width) { keep = c.kept[ch - c.offset] === 1; break; }
    }
    if (keep) out.push(i);
  }
  return out;
}

/**
 * Surgery: a NEW network in which every weight axis listed by a group (`outputs` and `consumers`)
 * keeps exactly that group's kept channels; all other weights are copied. `net` is not modified.
 */
export function applyGroupPrunePlan(net: GraphNet, plan: GroupPrunePlan): GraphNet {
  const groups = channelLayout(net.graph).groups;
  if (plan.groups.length !== groups.length) throw new Error(`applyGroupPrunePlan: the plan has ${plan.groups.length} channel groups, the network ${groups.length}`);
  const axes = new Map<string, Map<number, { offset: number; period?: number; width: number; kept: Uint8Array }[]>>();
  groups.forEach((g, i) => {
    const p = plan.groups[i];
    if (p.id !== g.id || p.width !== g.width) {
      throw new Error(`applyGroupPrunePlan: plan group ${i} is group ${p.id} of width ${p.width}, the network has ${groupName(g)} of width ${g.width} (plan made for another network?)`);
    }
    if (p.keep.length < 1 || p.keep.some((k, j) => !Number.isInteger(k) || k < 0 || k >= g.width || (j > 0 && k <= p.keep[j - 1]))) {
      throw new Error(`applyGroupPrunePlan: kept indices of ${groupName(g)} must be at least one ascending, distinct integer in [0, ${g.width})`);
    }
    if (g.frozen && p.keep.length !== g.width) throw new Error(`applyGroupPrunePlan: ${groupName(g)} is frozen (${g.frozen}) and must keep all ${g.width} channels`);
    const kept = new Uint8Array(g.width);
    for (const k of p.keep) kept[k] = 1;
    for (const cut of [...g.outputs, ...g.consumers]) {
      let byAxis = axes.get(cut.weight);
      if (!byAxis) { byAxis = new Map(); axes.set(cut.weight, byAxis); }
      let list = byAxis.get(cut.axis);
      if (!list) { list = []; byAxis.set(cut.axis, list); }
      list.push({ offset: cut.offset, ...(cut.period ? { period: cut.period } : {}), width: g.width, kept });
    }
  });
  const tensors = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    for (const def of net.graph.weights) {
      let t: tf.Tensor = net.weight(def.name);
      for (const [axis, cuts] of axes.get(def.name) ?? []) {
        const keep = keptAlong(def.shape[axis], cuts);
        if (keep.length !== def.shape[axis]) t = tf.gather(t, tf.tensor1d(keep, 'int32'), axis);
      }
      out[def.name] = t === net.weight(def.name) ? tf.clone(t) : t;
    }
    return out;
  });
  try {
    return GraphNet.fromWeights(plan.config, tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** One-shot grouped structured pruning: plan at `rates` (per group) and cut. */
export function groupPrune(net: GraphNet, rates: readonly number[], importance: FilterImportance = new L1FilterImportance(),
  opts: GroupPlanOptions = {}): { net: GraphNet; plan: GroupPrunePlan } {
  const plan = planGroupPrune(net, rates, importance, opts);
  return { net: applyGroupPrunePlan(net, plan), plan };
}
