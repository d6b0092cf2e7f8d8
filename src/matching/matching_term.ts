/**
 * The attribution-matching loss term L_AM (method spec §1–§6) and its configuration.
 *
 * Use in a training step (spec §7):
 *
 *   outside the tape   teacher forward (inference mode, capture matchingCaptures(cfg, T, false))
 *                      target = teacherTarget(cfg, {net: T, activations, logits, training: false}, rng)
 *   inside the tape    student forward (training mode, capture matchingCaptures(cfg, S, true))
 *                      loss += cfg.beta · matchingLoss(target, {net: S, activations, training: true, dropoutMask})
 *   after the step     target.dispose()
 *
 * `matchingLoss` returns the UNWEIGHTED L_AM (so it can be logged and range-checked); the caller
 * multiplies by `cfg.beta`. For kind 'none' (the 'naive' variant) the target is empty and the
 * loss a constant 0 that no variable reaches: do not add the term at all.
 *
 * Layers without the closed form (anything but the last pool / last ReLU, or the layer global
 * average pooling reads) use the explicit backward of §2.5: VGG's chain (`explicit_backward.ts`),
 * any other graph's reverse-topological pass (`graph_backward.ts`). There, with a training-mode student, G is the batched gradient of
 * Σ_b z_{b,c_b} (what reverse-mode autodiff of the batch gives; BN batch statistics couple the
 * samples), and 'teacherPositive' runs one explicit backward per class in `classList`, seeding
 * Σ_b z_{b,c}; so in that one setting 'teacherPositive' with single positives is close to, not
 * equal to, 'top1'. At closed-form layers, or with inference-mode BN, they are equal.
 */
// tfjs-core alone registers no gradient functions; tfjs-layers' bundle registers all of core's,
// which the tape needs when it differentiates a loss containing this term.
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../engine/random.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { isVgg, vggView } from '../models/vgg_view.js';
import { ewaMap } from './ewa.js';
import { explicitBackwardCaptures, explicitSensitivity, layerSequence } from './explicit_backward.js';
import { checkMatchLayer, graphBackwardCaptures, graphSensitivity } from './graph_backward.js';
import { l2NormalizePerSample, normalizedMapMse, weightedClassMapMse } from './normalize.js';
import { type DroppedChannels, channelKeepMask, drawDroppedChannels } from './stochastic.js';
import { type LayerShape, swaChannelWeights, swaChannelWeightsAllClasses, swaMap, swaMapAllClasses } from './swa_map.js';

export const MatchingConfigSchema = z.object({
  /** 'swa' (sensitivity-weighted, §2), 'ewa' (activation attention transfer, §4) or 'none'. */
  kind: z.enum(['none', 'ewa', 'swa']),
  /** Weight β of the term in the total loss (applied by the caller). Spec default 100. */
  beta: z.number().min(0).default(100),
  /**
   * Matched layer name(s), e.g. 'pool5'; a list sums the per-layer terms. Default: each net's
   * own last pool (`layout.matchLayer`). The closed form is used at the last pool and the last
   * ReLU (or the layer global average pooling reads); any other feature map uses the explicit
   * backward pass (§2.5), on VGG its conv/bn/relu/pool layers, on other graphs any node.
   */
  layer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** 'top1' (teacher's arg-max class, default) or 'teacherPositive' (all z^T > 0, σ-weighted). */
  matchClasses: z.enum(['top1', 'teacherPositive']).default('top1'),
  /** Stochastic matching drop fraction p (§5); 0 = off. The spec's 'on' value is 0.3. */
  stochastic: z.number().min(0).lt(1).default(0),
  /** 'batch': one dropped-channel set per batch (default); 'sample': one per sample (extension). */
  dropScope: z.enum(['batch', 'sample']).default('batch'),
  /** Student α uses the student's dropout mask (default, quirk Q6); false = D ≡ 1 for the map. */
  studentAlphaUsesDropout: z.boolean().default(true),
}).strict().superRefine((c, ctx) => {
  if (c.kind !== 'swa' && c.stochastic > 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['stochastic'], message: `stochastic dropping applies to kind 'swa' only, not '${c.kind}'` });
  }
  if (c.kind !== 'swa' && c.matchClasses !== 'top1') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['matchClasses'], message: `matchClasses applies to kind 'swa' only, not '${c.kind}'` });
  }
});
export type MatchingConfig = z.infer<typeof MatchingConfigSchema>;
export type MatchingConfigInput = z.input<typeof MatchingConfigSchema>;

/** Validates a matching config; errors name the field (e.g. "matching config field 'beta': …"). */
export function parseMatchingConfig(raw: unknown): MatchingConfig {
  const r = MatchingConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => {
    const keys = i.code === z.ZodIssueCode.unrecognized_keys ? i.keys.join(', ') : i.path.join('.');
    return `matching config field '${keys || '(root)'}': ${i.message}`;
  }).join('; ');
  throw new Error(msg);
}

/** The variants of spec §6. */
export type MatchingVariant = 'naive' | 'ewa' | 'swa' | 'swa-stochastic' | 'swa-multi';
export const MATCHING_VARIANTS: readonly MatchingVariant[] = ['naive', 'ewa', 'swa', 'swa-stochastic', 'swa-multi'];

export function matchingPreset(variant: MatchingVariant | string): MatchingConfig {
  switch (variant) {
    case 'naive': return parseMatchingConfig({ kind: 'none', beta: 0 });
    case 'ewa': return parseMatchingConfig({ kind: 'ewa' });
    case 'swa': return parseMatchingConfig({ kind: 'swa' });
    case 'swa-stochastic': return parseMatchingConfig({ kind: 'swa', stochastic: 0.3 });
    case 'swa-multi': return parseMatchingConfig({ kind: 'swa', matchClasses: 'teacherPositive' });
    default: throw new Error(`unknown matching variant '${variant}'; known: ${MATCHING_VARIANTS.join(', ')}`);
  }
}

/**
 * The matched layer names for a network (default: `net.matchLayer`, VGG's last pool or the layer
 * global average pooling reads). Any feature map on the way to the logits can be matched: VGG's
 * named conv/bn/relu/pool layers, any node of another graph (`matchableLayers`). Throws on
 * other names, listing the valid ones.
 */
export function matchedLayers(cfg: MatchingConfig, net: GraphNet): string[] {
  const layers = cfg.layer === undefined ? [net.matchLayer] : typeof cfg.layer === 'string' ? [cfg.layer] : [...cfg.layer];
  for (const l of layers) {
    if (closedFormHead(net, l)) continue;
    if (!isVgg(net)) {
      checkMatchLayer(net.graph, l);
      continue;
    }
    const known = layerSequence(vggView(net).layout).map((n) => n.name);
    if (!known.includes(l)) throw new Error(`matching config field 'layer': unknown layer '${l}'; known: ${known.join(', ')}`);
  }
  return layers;
}

/** Where α has a closed form (§2.4): the flattened layer's shape and the dense kernel. */
export interface ClosedFormHead {
  /** [H, W, C] of the layer the dense head reads: flatten's input, or [1, 1, C] after global average pooling. */
  readonly shape: LayerShape;
  /** Name of the dense kernel [H·W·C, classes]. */
  readonly kernel: string;
}

/**
 * The closed form of α at `layer`, when the layer feeds the output dense layer through only
 * [non-overlapping max-pool →] flatten | global-average-pool [→ dropout | identity …]: VGG's
 * last pool and last ReLU, a ResNet's or MobileNetV2's last activation. Max-pool routing and
 * average pooling keep each channel's gradient sum, so α_k = Σ_r D[r]·K[r·C + k, c] (for global
 * pooling α_k = D[k]·K[k, c], the 1/(h·w) factor dropped: the L2 normalisation cancels it).
 */
export function closedFormHead(net: GraphNet, layer: string): ClosedFormHead | undefined {
  const g = net.graph;
  if (!g.has(layer) || g.shape(layer).length !== 3) return undefined;
  let from = layer;
  let next = g.soleConsumer(from);
  if (next?.op === 'maxPool') {
    const pool = next;
    if (pool.pads.some((p) => p !== 0) || pool.poolSize.some((k, i) => k !== pool.strides[i])) return undefined;
    from = pool.name;
    next = g.soleConsumer(from);
  }
  let shape: LayerShape;
  if (next?.op === 'flatten') {
    const [h, w, c] = g.shape(from);
    shape = [h, w, c];
  } else if (next?.op === 'globalAvgPool') {
    shape = [1, 1, g.shape(from)[2]];
  } else return undefined;
  next = g.soleConsumer(next.name);
  while (next && (next.op === 'dropout' || next.op === 'identity')) next = g.soleConsumer(next.name);
  if (!next || next.op !== 'dense' || next.name !== g.outputName || !next.useBias) return undefined;
  return { shape, kernel: `${next.name}/kernel` };
}

/** True when α has the closed form of §2.4 at `layer` (see `closedFormHead`). */
export function closedFormApplies(net: GraphNet, layer: string): boolean {
  return closedFormHead(net, layer) !== undefined;
}

/**
 * Names `net.forward` must capture for the matching term: the matched layers, plus (SWA at a
 * layer without closed form) what the explicit backward needs. `training` is the mode of the
 * forward whose activations are passed (teacher: false, student: true).
 */
export function matchingCaptures(cfg: MatchingConfig, net: GraphNet, training: boolean): string[] {
  if (cfg.kind === 'none') return [];
  const names = new Set<string>();
  for (const l of matchedLayers(cfg, net)) {
    if (cfg.kind !== 'swa' || closedFormApplies(net, l)) names.add(l);
    else if (isVgg(net)) for (const n of explicitBackwardCaptures(vggView(net).layout, l, training)) names.add(n);
    else for (const n of graphBackwardCaptures(net.graph, l, training)) names.add(n);
  }
  return [...names];
}

/** One network's forward pass as the matching term sees it (nothing here is modified). */
export interface NetPass {
  readonly net: GraphNet;
  /** Captured activations (see `matchingCaptures`). */
  readonly activations: Readonly<Record<string, tf.Tensor>>;
  /** Mode of the forward that produced `activations` (BN statistics for the explicit path). */
  readonly training: boolean;
  /** Dropout multiplier [B, denseIn] of that forward (training mode); absent = D ≡ 1. */
  readonly dropoutMask?: tf.Tensor2D;
}

export interface TeacherPass extends NetPass {
  /** Teacher logits [B, classes] (inference mode in the default setting). */
  readonly logits: tf.Tensor2D;
}

export interface LayerTarget {
  /**
   * The teacher's layer. The student's is the same name when `cfg.layer` is given, else the
   * student's own last pool (so a 5-pool teacher pairs with a 4-pool student).
   */
  readonly layer: string;
  /** Normalised teacher maps: [B, H·W] (top1, ewa) or [B, K, H·W] (teacherPositive, K = classList.length). */
  readonly maps: tf.Tensor;
  readonly height: number;
  readonly width: number;
  /** Teacher channels left out of this layer's map (stochastic SWA). */
  readonly dropped?: DroppedChannels;
}

/** Per-batch constants of the matching term, computed outside the tape. Owns its tensors. */
export interface MatchingTarget {
  readonly config: MatchingConfig;
  readonly batch: number;
  readonly layers: readonly LayerTarget[];
  /** top1: the teacher's arg-max class per sample, int32 [B]. */
  readonly classes?: tf.Tensor1D;
  /** teacherPositive: classes with non-zero weight for at least one sample (ascending). */
  readonly classList?: readonly number[];
  /** teacherPositive: [B, K] weights ω_{b,c}·[c ∈ P_b] / Σ_{c∈P_b} ω_{b,c} over `classList`. */
  readonly classWeights?: tf.Tensor2D;
  dispose(): void;
}

type ClassChoice = { kind: 'top1'; classes: tf.Tensor1D } | { kind: 'list'; classList: readonly number[] };

/**
 * Teacher side, once per batch and outside the gradient tape (§2.3): picks the classes, draws
 * the dropped channels (advancing `rng`; required when `cfg.stochastic > 0`) and computes the
 * normalised teacher maps. The caller disposes the result (`target.dispose()`).
 */
export function teacherTarget(cfg: MatchingConfig, teacher: TeacherPass, rng?: Rng): MatchingTarget {
  const batch = teacher.logits.shape[0];
  if (cfg.kind === 'none') return { config: cfg, batch, layers: [], dispose() {} };
  const layers = matchedLayers(cfg, teacher.net);
  if (cfg.kind === 'swa' && cfg.stochastic > 0 && !rng) throw new Error('teacherTarget: stochastic matching needs an rng');
  let choice: ClassChoice | undefined;
  let classWeights: tf.Tensor2D | undefined;
  if (cfg.kind === 'swa' && cfg.matchClasses === 'top1') {
    choice = { kind: 'top1', classes: tf.tidy(() => tf.cast(tf.argMax(teacher.logits, 1), 'int32') as tf.Tensor1D) };
  } else if (cfg.kind === 'swa') {
    const w = positiveClassWeights(teacher.logits.arraySync());
    choice = { kind: 'list', classList: w.classList };
    classWeights = tf.tensor2d(w.weights, [batch, w.classList.length]);
  }
  const out: LayerTarget[] = [];
  try {
    for (const layer of layers) {
      const f = activation(teacher, layer, 'teacherTarget');
      const [, height, width, channels] = f.shape;
      const dropped = cfg.kind === 'swa' && cfg.stochastic > 0
        ? drawDroppedChannels(channels, cfg.stochastic, rng!, cfg.dropScope, batch) : undefined;
      const maps = tf.tidy(() => l2NormalizePerSample(cfg.kind === 'ewa'
        ? ewaMap(f)
        : swaMaps(teacher, layer, choice!, teacher.dropoutMask ?? null, dropped ?? null)));
      out.push({ layer, maps, height, width, dropped });
    }
  } catch (e) {
    tf.dispose(out.map((l) => l.maps));
    if (choice?.kind === 'top1') choice.classes.dispose();
    classWeights?.dispose();
    throw e;
  }
  const classes = choice?.kind === 'top1' ? choice.classes : undefined;
  return {
    config: cfg, batch, layers: out, classes, classWeights,
    classList: choice?.kind === 'list' ? choice.classList : undefined,
    dispose() { tf.dispose([...out.map((l) => l.maps), ...(classes ? [classes] : []), ...(classWeights ? [classWeights] : [])]); },
  };
}

/**
 * Student side, inside the tape: the unweighted L_AM, summed over the matched layers
 * (multiply by `cfg.beta` yourself). The student's map is differentiable w.r.t. all its
 * parameters (features through the forward, the head kernel through α, and for an explicit-path
 * layer the conv/BN parameters above it through G). If the student's H×W at a layer differs
 * from the teacher's, its map is resized bilinearly (half-pixel centres) before normalisation.
 */
export function matchingLoss(target: MatchingTarget, student: NetPass): tf.Scalar {
  const cfg = target.config;
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    const studentLayers = target.layers.length > 0 ? matchedLayers(cfg, student.net) : [];
    target.layers.forEach((lt, i) => {
      const layer = studentLayers[i];
      const f = activation(student, layer, 'matchingLoss');
      if (f.shape[0] !== target.batch) throw new Error(`matchingLoss: student batch ${f.shape[0]} differs from the target's ${target.batch}`);
      const mask = cfg.studentAlphaUsesDropout ? student.dropoutMask ?? null : null;
      let raw: tf.Tensor;
      if (cfg.kind === 'ewa') raw = ewaMap(f);
      else if (target.classes) raw = swaMaps(student, layer, { kind: 'top1', classes: target.classes }, mask, null);
      else raw = swaMaps(student, layer, { kind: 'list', classList: target.classList! }, mask, null);
      const sHat = l2NormalizePerSample(resizeMaps(raw, lt.height, lt.width));
      const term = target.classWeights
        ? weightedClassMapMse(lt.maps as tf.Tensor3D, sHat as tf.Tensor3D, target.classWeights)
        : normalizedMapMse(lt.maps, sHat);
      total = tf.add(total, term);
    });
    return total;
  });
}

/**
 * 'teacherPositive' class weights from teacher logits: P_b = {c : z_{b,c} > 0} (or the arg-max,
 * lowest index on ties, when empty), ω = σ(z), normalised over P_b; restricted to the classes
 * that occur in some P_b.
 */
export function positiveClassWeights(logits: number[][]): { classList: number[]; weights: Float32Array } {
  const sets = logits.map((z) => {
    let p = z.map((v, c) => (v > 0 ? c : -1)).filter((c) => c >= 0);
    if (p.length === 0) p = [z.reduce((best, v, c) => (v > z[best] ? c : best), 0)];
    return p;
  });
  const classList = [...new Set(sets.flat())].sort((a, b) => a - b);
  const weights = new Float32Array(logits.length * classList.length);
  sets.forEach((p, b) => {
    const omega = p.map((c) => 1 / (1 + Math.exp(-logits[b][c])));
    const total = omega.reduce((s, v) => s + v, 0);
    p.forEach((c, i) => { weights[b * classList.length + classList.indexOf(c)] = omega[i] / total; });
  });
  return { classList, weights };
}

function activation(pass: NetPass, layer: string, op: string): tf.Tensor4D {
  const t = pass.activations[layer];
  if (!t) throw new Error(`${op}: activation '${layer}' was not captured; pass capture: matchingCaptures(cfg, net, ${pass.training})`);
  return t as tf.Tensor4D;
}

/** Unnormalised SWA maps of one pass: [B,H,W] (top1) or [B,K,H,W] (class list). */
function swaMaps(pass: NetPass, layer: string, choice: ClassChoice, mask: tf.Tensor2D | null,
  dropped: DroppedChannels | null): tf.Tensor {
  const net = pass.net;
  const f = activation(pass, layer, 'swaMaps');
  const batch = f.shape[0];
  const head = closedFormHead(net, layer);
  if (head) {
    const kernel = net.forwardWeight(head.kernel) as tf.Tensor2D;
    const shape = head.shape;
    if (choice.kind === 'top1') return swaMap(f, swaChannelWeights(kernel, shape, choice.classes, mask, dropped));
    // only the listed classes' kernel columns (a product with a 0/1 selection, see swaChannelWeights)
    const select = tf.tensor2d(kernelColumnSelection(kernel.shape[1], choice.classList), [kernel.shape[1], choice.classList.length]);
    const alpha = swaChannelWeightsAllClasses(tf.matMul(kernel, select), shape, batch, mask, dropped);
    return swaMapAllClasses(f, alpha);
  }
  const numClasses = net.numClasses;
  const keep = dropped ? channelKeepMask(dropped, batch) : null;
  const mapFor = (dLogits: tf.Tensor2D): tf.Tensor3D => {
    const opts = { training: pass.training, dropoutMask: mask };
    const g = isVgg(net) ? explicitSensitivity(net, pass.activations, layer, dLogits, opts) : graphSensitivity(net, pass.activations, layer, dLogits, opts);
    let alpha = tf.sum(g, [1, 2]) as tf.Tensor2D;
    if (keep) alpha = tf.mul(alpha, keep);
    return swaMap(f, alpha);
  };
  const seed = (cls: tf.Tensor1D) => tf.cast(tf.oneHot(cls, numClasses), 'float32') as tf.Tensor2D;
  if (choice.kind === 'top1') return mapFor(seed(choice.classes));
  return tf.stack(choice.classList.map((c) => mapFor(seed(tf.fill([batch], c, 'int32') as tf.Tensor1D))), 1);
}

/** [classes, list.length] 0/1 matrix whose column j selects class list[j]. */
function kernelColumnSelection(classes: number, list: readonly number[]): Float32Array {
  const m = new Float32Array(classes * list.length);
  list.forEach((c, j) => { m[c * list.length + j] = 1; });
  return m;
}

/** Bilinear (half-pixel centres) resize of [B,H,W] or [B,K,H,W] maps to height×width; identity if equal. */
export function resizeMaps(maps: tf.Tensor, height: number, width: number): tf.Tensor {
  const [h, w] = maps.shape.slice(-2);
  if (h === height && w === width) return maps;
  return tf.tidy(() => {
    if (maps.rank === 3) {
      return tf.squeeze(tf.image.resizeBilinear(tf.expandDims(maps, 3) as tf.Tensor4D, [height, width], false, true), [3]);
    }
    const t = tf.transpose(maps, [0, 2, 3, 1]) as tf.Tensor4D;
    return tf.transpose(tf.image.resizeBilinear(t, [height, width], false, true), [0, 3, 1, 2]);
  });
}
