/**
 * The relevance rules of LRP, RAP and EBP for every op kind of the graph model, one entry per
 * kind (graph.md §4, attribution spec §2–§4). A rule maps the relevance at a node's output to
 * one relevance tensor per input; `graphRelevancePass` sums them where a tensor fans out.
 *
 * - conv2d (any kernel, stride, dilation, explicit pads; depthwise per channel): z^B when it reads
 *   the network input (through zero pads only), else z⁺ (LRP), RAP's signed rule with its uniform
 *   shift (RAP), the W⁺ rule (EBP) — each with the conv's own geometry (`convGeometry`);
 * - dense: z⁺ (LRP), RAP's first propagation, EBP's W⁺ rule;
 * - add: every method shares R in proportion to the inputs' positive parts, R_i = x_i⁺·R/Σx⁺,
 *   and splits equally where Σx⁺ = 0;
 * - avg / global-avg pool: in proportion to the inputs' positive parts within each window (the
 *   window weights cancel, so TF's and PyTorch's counting give the same rule);
 * - max pool: winner-take-all to the first maximum (row-major, −∞ padding), accumulating where
 *   windows overlap; LRP and RAP drop windows whose maximum is 0, EBP routes as the gradient;
 * - batchNorm: LRP pass-through (or folded into the conv before it, or quirk A3's ε form); RAP
 *   pass-through except where the BN input or γ is 0; EBP pass-through;
 * - relu, clip, dropout, identity: pass; pad: crop; concat: split by channel ranges; flatten:
 *   back to the map (RAP also drops positions whose activation is 0).
 *
 * Where a conv's or dense layer's input can be negative (MobileNetV2's linear bottlenecks), LRP's
 * z⁺ uses the contributions x⁺W⁺ + x⁻W⁻ with one shared denominator (zennit's ZPlus), so relevance
 * is conserved; the spec's separately normalised terms would hand each unit its relevance twice.
 * RAP splits contributions by the sign of x·w, which on x ≥ 0 is exactly the spec's W⁺/W⁻ split.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import { type BatchNormNode, type Conv2dNode, INPUT, type NodeOf, type NodeSpec, type OpKind } from '../models/graph/graph_spec.js';
import { isDepthwise, kernelSuffix } from '../models/graph/ops/conv2d.js';
import type { OpContext } from '../models/graph/op.js';
import { maxPoolOp } from '../models/graph/ops/pooling.js';
import { sdiv } from './attribution_method.js';
import { type ConvGeometry, convGeometry } from './conv_geometry.js';
import { EBP_EPSILON, ebpDense } from './ebp.js';
import type { DenseLayer, TraceEntry } from './forward_trace.js';
import type { GraphTrace, NodeTrace } from './graph_trace.js';
import { rapFirstDense, uniformShift } from './rap.js';
import { zbRelevance } from './relevance.js';

export type GraphRelevanceMethod = 'lrp' | 'rap' | 'ebp';

/** What the rules of one pass share. */
export interface GraphRuleContext {
  readonly method: GraphRelevanceMethod;
  readonly trace: GraphTrace;
  /** z^B bounds for LRP/RAP, broadcastable to the input ([N,1,1,1] or [1,1,1,C]). */
  readonly low?: tf.Tensor;
  readonly high?: tf.Tensor;
  /** LRP's BatchNorm handling (spec option `lrpBatchNorm`). */
  readonly batchNorm?: 'passThrough' | 'fold';
  /** LRP quirk A3 (`compat.lrpBnEpsilon`). */
  readonly lrpBnEpsilon?: boolean;
  /** EBP's contrastive dual: the output dense layer uses −K. */
  readonly negateOutput?: boolean;
}

/** Relevance at each input of `t.node` from the relevance `r` at its output. */
export type GraphRule = (t: NodeTrace, r: tf.Tensor, ctx: GraphRuleContext) => tf.Tensor[];

const pass: GraphRule = (_t, r) => [r];

/** LRP z⁺ with a shared denominator for the x⁺W⁺ and x⁻W⁻ contributions (the latter only when x can be < 0). */
function zPlusShared(x: tf.Tensor, w: tf.Tensor, r: tf.Tensor, nonNegative: boolean, geom: Linear): tf.Tensor {
  const wp = tf.relu(w);
  if (nonNegative) return tf.mul(x, geom.inputGrad(sdiv(r, geom.forward(x, wp)), wp));
  const xp = tf.relu(x);
  const xn = tf.minimum(x, 0);
  const wn = tf.minimum(w, 0);
  const s = sdiv(r, tf.add(geom.forward(xp, wp), geom.forward(xn, wn)));
  return tf.add(tf.mul(xp, geom.inputGrad(s, wp)), tf.mul(xn, geom.inputGrad(s, wn)));
}

/** A linear map of the input by a weight (conv or dense) and its input gradient. */
interface Linear {
  forward(x: tf.Tensor, w: tf.Tensor): tf.Tensor;
  inputGrad(s: tf.Tensor, w: tf.Tensor): tf.Tensor;
}

const DENSE: Linear = {
  forward: (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
  inputGrad: (s, w) => tf.matMul(s as tf.Tensor2D, w as tf.Tensor2D, false, true),
};

function asLinear(g: ConvGeometry): Linear {
  return { forward: (x, w) => g.forward(x as tf.Tensor4D, w as tf.Tensor4D), inputGrad: (s, w) => g.inputGrad(s as tf.Tensor4D, w as tf.Tensor4D) };
}

/**
 * RAP's conv/dense rule before the shift (spec §3 step 5), contributions split by the sign of
 * x·w: P = Σ(x·w)⁺, N = Σ|(x·w)⁻| on units with R ≠ 0, T = P + N, S1 = sdiv(R⁺,P),
 * S2 = sdiv(R⁺,T) + sdiv(R⁻,N) + sdiv(R⁻,T), C_i = Σ_j (x_i w_ij)⁺·S1_j + |(x_i w_ij)⁻|·S2_j.
 * On x ≥ 0 this is `rapConvContributions`.
 */
function rapContributions(x: tf.Tensor, w: tf.Tensor, r: tf.Tensor, nonNegative: boolean, geom: Linear): tf.Tensor {
  const wp = tf.relu(w);
  const wn = tf.relu(tf.neg(w));
  const active = tf.cast(tf.notEqual(r, 0), 'float32');
  const xp = nonNegative ? x : tf.relu(x);
  const xn = nonNegative ? undefined : tf.relu(tf.neg(x)); // |x⁻|
  let p = geom.forward(xp, wp);
  let n = geom.forward(xp, wn);
  if (xn) {
    p = tf.add(p, geom.forward(xn, wn));
    n = tf.add(n, geom.forward(xn, wp));
  }
  p = tf.mul(p, active);
  n = tf.mul(n, active);
  const t = tf.add(p, n);
  const rp = tf.relu(r);
  const rn = tf.minimum(r, 0);
  const s1 = sdiv(rp, p);
  const s2 = tf.add(tf.add(sdiv(rp, t), sdiv(rn, n)), sdiv(rn, t));
  let c = tf.mul(xp, tf.add(geom.inputGrad(s1, wp), geom.inputGrad(s2, wn)));
  if (xn) c = tf.add(c, tf.mul(xn, tf.add(geom.inputGrad(s1, wn), geom.inputGrad(s2, wp))));
  return c;
}

/** EBP's W⁺ rule: P_in = x ⊙ W⁺ᵀ·(P / (o⁺ + 1e-10)), terms with o⁺ = W⁺x ≤ 0 are 0. */
function ebpWPlus(x: tf.Tensor, w: tf.Tensor, p: tf.Tensor, geom: Linear): tf.Tensor {
  const wp = tf.relu(w);
  const o = geom.forward(x, wp);
  const s = tf.where(tf.greater(o, 0), tf.div(p, tf.add(o, EBP_EPSILON)), tf.zerosLike(o));
  return tf.mul(x, geom.inputGrad(s, wp));
}

/** BN scale γ/√(var + ε) of a node. */
function bnScale(net: GraphNet, bn: BatchNormNode): tf.Tensor1D {
  const w = (s: string) => net.weight(`${bn.name}/${s}`);
  return tf.div(w('gamma'), tf.sqrt(tf.add(w('moving_variance'), bn.epsilon))) as tf.Tensor1D;
}

/** The BN folded into `conv` under LRP's 'fold' option: the conv's sole consumer, when it is a BN. */
function foldedBn(net: GraphNet, conv: NodeSpec): BatchNormNode | undefined {
  const next = net.graph.soleConsumer(conv.name);
  return next?.op === 'batchNorm' ? next : undefined;
}

/**
 * z^B bounds at a conv's input when it reads the network input through zero pads (and identities)
 * only: the bounds broadcast over the input, zero-padded like x. Undefined otherwise.
 */
function inputBounds(ctx: GraphRuleContext, conv: NodeSpec): [tf.Tensor4D, tf.Tensor4D] | undefined {
  const g = ctx.trace.net.graph;
  const pads: NodeOf<'pad'>[] = [];
  let name = conv.inputs[0];
  while (name !== INPUT) {
    const n = g.node(name);
    if (n.op === 'pad' && n.value === 0) pads.unshift(n);
    else if (n.op !== 'identity' && n.op !== 'dropout') return undefined;
    name = n.inputs[0];
  }
  if (!ctx.low || !ctx.high) throw new Error(`${ctx.method}: conv '${conv.name}' reads the input and needs z^B bounds`);
  const x = ctx.trace.input;
  const spread = (b: tf.Tensor) => pads.reduce((t, p) => tf.pad(t, [[0, 0], [p.pads[0], p.pads[1]], [p.pads[2], p.pads[3]], [0, 0]]),
    tf.mul(tf.onesLike(x), b) as tf.Tensor4D);
  return [spread(ctx.low), spread(ctx.high)];
}

const conv2dRule: GraphRule = (t, r, ctx) => {
  const node = t.node as Conv2dNode;
  const x = t.inputs[0] as tf.Tensor4D;
  const net = ctx.trace.net;
  let w = t.weight(kernelSuffix(node)) as tf.Tensor4D;
  const geom = convGeometry(node, x.shape);
  const bounds = ctx.method === 'ebp' ? undefined : inputBounds(ctx, node);
  if (ctx.method === 'lrp' && ctx.batchNorm === 'fold') {
    const bn = foldedBn(net, node);
    if (bn) {
      const s = bnScale(net, bn);
      w = (isDepthwise(node) ? tf.mul(w, tf.reshape(s, [1, 1, -1, w.shape[3]])) : tf.mul(w, s)) as tf.Tensor4D;
    }
  }
  if (bounds) return [zbRelevance(x, bounds[0], bounds[1], w, r as tf.Tensor4D, ctx.method === 'lrp' ? 1e-9 : 0, geom)];
  const nonNeg = t.inputNonNegative[0];
  switch (ctx.method) {
    case 'lrp': return [zPlusShared(x, w, r, nonNeg, asLinear(geom))];
    case 'rap': return [uniformShift(rapContributions(x, w, r, nonNeg, asLinear(geom)), r)];
    case 'ebp': return [ebpWPlus(nonNeg ? x : tf.relu(x), w, r, asLinear(geom))];
  }
};

/** The chain rules' view of a graph dense node (for the shared dense rules of rap.ts and ebp.ts). */
function denseEntry(t: NodeTrace): TraceEntry {
  const kernel = t.weight('kernel') as tf.Tensor2D;
  const bias = (t.hasWeight('bias') ? t.weight('bias') : tf.zeros([kernel.shape[1]])) as tf.Tensor1D;
  const layer: DenseLayer = { kind: 'dense', name: t.node.name, kernel, bias };
  return { layer, index: -1, input: t.inputs[0], output: t.output, inputNonNegative: t.inputNonNegative[0] };
}

const denseRule: GraphRule = (t, r, ctx) => {
  const x = t.inputs[0];
  switch (ctx.method) {
    case 'lrp': return [zPlusShared(x, t.weight('kernel'), r, t.inputNonNegative[0], DENSE)];
    case 'rap': return [rapFirstDense.propagate(denseEntry(t), r)];
    case 'ebp': {
      const negate = !!ctx.negateOutput && t.node.name === ctx.trace.net.graph.outputName;
      return [ebpDense(negate).propagate(denseEntry(t), r)];
    }
  }
};

/** R_i = x_i⁺·sdiv(R, Σx⁺), and R/m where Σx⁺ = 0 (graph.md §4). */
const addRule: GraphRule = (t, r) => {
  const pos = t.inputs.map((x) => tf.relu(x));
  const total = pos.reduce((a, b) => tf.add(a, b));
  const share = sdiv(r, total);
  const equal = tf.mul(tf.cast(tf.equal(total, 0), 'float32'), tf.div(r, t.inputs.length));
  return pos.map((p) => tf.add(tf.mul(p, share), equal));
};

const concatRule: GraphRule = (t, r) => tf.split(r, t.inputs.map((x) => x.shape[x.rank - 1]), -1);

const padRule: GraphRule = (t, r) => {
  const p = (t.node as NodeOf<'pad'>).pads;
  return [tf.slice(r, [0, p[0], p[2], 0], t.inputs[0].shape)];
};

const flattenRule: GraphRule = (t, r, ctx) => {
  const back = tf.reshape(r, t.inputs[0].shape);
  // RAP step 2: relevance where the activation is exactly 0 is dropped
  return [ctx.method === 'rap' ? tf.mul(back, tf.cast(tf.notEqual(t.inputs[0], 0), 'float32')) : back];
};

/** The inference context of an op without weights (pools). */
const NO_WEIGHTS: OpContext = {
  training: false,
  weight: (suffix) => { throw new Error(`a pool has no weight '${suffix}'`); },
  recordBatchStat: () => {},
  dropoutMask: () => { throw new Error('a pool has no dropout mask'); },
};

/** Winner-take-all through the pool's own gradient (first maximum, −∞ pads, overlaps accumulate). */
const maxPoolRule: GraphRule = (t, r, ctx) => {
  const node = t.node as NodeOf<'maxPool'>;
  const x = t.inputs[0];
  const routed = tf.grad((v: tf.Tensor) => maxPoolOp.forward(node, [v], NO_WEIGHTS))(x, r);
  // LRP/RAP: a window whose maximum is 0 drops its relevance (its winner is 0)
  return [ctx.method === 'ebp' ? routed : tf.mul(routed, tf.cast(tf.notEqual(x, 0), 'float32'))];
};

/** Σ over each window of the zero-padded input (up to the constant window size, which cancels). */
function windowMean(node: NodeOf<'avgPool'>, x: tf.Tensor): tf.Tensor {
  const p = node.pads;
  const padded = p.some((v) => v !== 0) ? tf.pad(x, [[0, 0], [p[0], p[1]], [p[2], p[3]], [0, 0]]) : x;
  return tf.avgPool(padded as tf.Tensor4D, node.poolSize, node.strides, 'valid');
}

const avgPoolRule: GraphRule = (t, r) => {
  const node = t.node as NodeOf<'avgPool'>;
  const xp = t.inputNonNegative[0] ? t.inputs[0] : tf.relu(t.inputs[0]);
  const s = sdiv(r, windowMean(node, xp));
  return [tf.mul(xp, tf.grad((v: tf.Tensor) => windowMean(node, v))(xp, s))];
};

const globalAvgPoolRule: GraphRule = (t, r) => {
  const x = t.inputs[0];
  const xp = t.inputNonNegative[0] ? x : tf.relu(x);
  const [n, , , c] = x.shape;
  return [tf.mul(xp, tf.reshape(sdiv(r, tf.sum(xp, [1, 2])), [n, 1, 1, c]))];
};

const batchNormRule: GraphRule = (t, r, ctx) => {
  const node = t.node as BatchNormNode;
  const x = t.inputs[0];
  if (ctx.method === 'rap') {
    const keep = tf.logicalAnd(tf.notEqual(x, 0), tf.notEqual(t.weight('gamma'), 0));
    return [tf.mul(r, tf.cast(keep, 'float32'))];
  }
  if (ctx.method === 'lrp' && ctx.lrpBnEpsilon) {
    // quirk A3: R·Xs/(Xs + 1e-9), Xs = X·γ/√(var² + ε)
    const scale = tf.div(t.weight('gamma'), tf.sqrt(tf.add(tf.square(t.weight('moving_variance')), node.epsilon)));
    const xs = tf.mul(x, scale);
    return [tf.div(tf.mul(r, xs), tf.add(xs, 1e-9))];
  }
  return [r];
};

/** The rule of every op kind (graph.md §4). */
export const GRAPH_RELEVANCE_RULES: { readonly [K in OpKind]: GraphRule } = {
  conv2d: conv2dRule,
  batchNorm: batchNormRule,
  relu: pass,
  clip: pass,
  maxPool: maxPoolRule,
  avgPool: avgPoolRule,
  globalAvgPool: globalAvgPoolRule,
  pad: padRule,
  add: addRule,
  concat: concatRule,
  flatten: flattenRule,
  dense: denseRule,
  dropout: pass,
  identity: pass,
};
