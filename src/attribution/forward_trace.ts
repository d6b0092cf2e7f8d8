/**
 * The network as a flat list of layers, and one cached inference-mode forward pass over it.
 *
 * On a plain VGG chain, relevance methods (LRP, RAP, EBP) walk this trace from the top down
 * (attribution spec §0; any other graph takes `GraphTrace` and `graphRelevancePass`):
 * every layer's input is recorded, BN parameters are at hand, and each max-pool records its
 * arg-max mask — the **first** maximum of each 2×2 window in row-major order — so that routing
 * is identical across methods. Layers are views of the network's variables; nothing here
 * changes them. Dropout is the identity in inference mode and is not a layer of the list.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import type { NodeSpec } from '../models/graph/graph_spec.js';
import { conv2dSameInputGrad } from '../engine/ops/conv2d_same_input_grad.js';

export interface Conv2dLayer {
  readonly kind: 'conv2d';
  readonly name: string;
  /** HWIO, 'same' padding, stride 1. */
  readonly kernel: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
}
export interface BatchNormLayer {
  readonly kind: 'batchNorm';
  readonly name: string;
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
  readonly movingMean: tf.Tensor1D;
  readonly movingVariance: tf.Tensor1D;
  readonly epsilon: number;
}
export interface ReluLayer { readonly kind: 'relu'; readonly name: string }
/** 2×2, stride 2, 'valid' (floor): trailing odd rows/columns are never read. */
export interface MaxPoolLayer { readonly kind: 'maxPool'; readonly name: string }
/** NHWC → [N, H·W·C]. */
export interface FlattenLayer { readonly kind: 'flatten'; readonly name: string }
export interface DenseLayer {
  readonly kind: 'dense';
  readonly name: string;
  /** [in, out] */
  readonly kernel: tf.Tensor2D;
  readonly bias: tf.Tensor1D;
}
export type Layer = Conv2dLayer | BatchNormLayer | ReluLayer | MaxPoolLayer | FlattenLayer | DenseLayer;
export type LayerKind = Layer['kind'];

/**
 * The network's layers in forward order, as views of its variables (not copies), for networks that
 * are a plain chain of the ops below (apc's VGG, or an imported VGG-style graph); dropout and
 * identity nodes are left out (identities in inference). Anything else (residual adds, depthwise
 * or strided convs, other pools) is refused with a message naming the node.
 */
export function chainLayers(net: GraphNet): Layer[] {
  const layers: Layer[] = [];
  const w = (name: string) => net.weight(name);
  const refuse = (node: NodeSpec, why: string): never => {
    throw new Error(`the layer-by-layer chain path needs a plain VGG-style chain (other graphs take the graph paths); node '${node.name}' (${node.op}) ${why}`);
  };
  // the graph-level reason first (a residual add, a depthwise conv …), then per-node details
  const structural = net.graph.nodes.find((n) => n.op === 'add' || n.op === 'concat' || (n.op === 'conv2d' && n.groups > 1));
  if (structural) refuse(structural, structural.op === 'conv2d' ? 'is a depthwise convolution' : `joins branches (a ${structural.op === 'add' ? 'residual add' : 'concatenation'})`);
  let prev = 'input';
  for (const node of net.graph.nodes) {
    if (node.inputs.length !== 1 || node.inputs[0] !== prev) refuse(node, `does not read the previous node's output ('${prev}')`);
    prev = node.name;
    switch (node.op) {
      case 'conv2d': {
        const same = node.kernelSize.every((k) => k === 3) && node.strides.every((s) => s === 1) && node.dilations.every((d) => d === 1)
          && node.pads.every((p) => p === 1) && node.groups === 1;
        if (!same) refuse(node, 'is not a 3×3/1 convolution with padding 1');
        if (!node.useBias) refuse(node, 'has no bias');
        layers.push({ kind: 'conv2d', name: node.name, kernel: w(`${node.name}/kernel`) as tf.Tensor4D, bias: w(`${node.name}/bias`) as tf.Tensor1D });
        break;
      }
      case 'batchNorm':
        if (net.graph.shape(node.inputs[0]).length !== 3) refuse(node, 'normalises a vector, not a feature map');
        layers.push({
          kind: 'batchNorm', name: node.name, gamma: w(`${node.name}/gamma`) as tf.Tensor1D, beta: w(`${node.name}/beta`) as tf.Tensor1D,
          movingMean: w(`${node.name}/moving_mean`) as tf.Tensor1D, movingVariance: w(`${node.name}/moving_variance`) as tf.Tensor1D,
          epsilon: node.epsilon,
        });
        break;
      case 'relu':
        layers.push({ kind: 'relu', name: node.name });
        break;
      case 'maxPool':
        if (!node.poolSize.every((k) => k === 2) || !node.strides.every((s) => s === 2) || node.pads.some((p) => p !== 0)) {
          refuse(node, 'is not a 2×2/2 max-pool without padding');
        }
        layers.push({ kind: 'maxPool', name: node.name });
        break;
      case 'flatten':
        layers.push({ kind: 'flatten', name: node.name });
        break;
      case 'dense':
        if (!node.useBias) refuse(node, 'has no bias');
        layers.push({ kind: 'dense', name: node.name, kernel: w(`${node.name}/kernel`) as tf.Tensor2D, bias: w(`${node.name}/bias`) as tf.Tensor1D });
        break;
      case 'dropout':
      case 'identity':
        break;
      default:
        refuse(node, 'is an op the relevance rules do not cover yet');
    }
  }
  return layers;
}

/**
 * True when `chainLayers` accepts the network (a plain VGG-style chain): relevance methods then
 * take the chain's fast path, any other graph the graph pass (`graphRelevancePass`).
 */
export function isChainNet(net: GraphNet): boolean {
  try {
    chainLayers(net);
    return true;
  } catch {
    return false;
  }
}

/** Index of a layer by name; throws listing the names. */
export function layerIndex(layers: readonly Layer[], name: string): number {
  const i = layers.findIndex((l) => l.name === name);
  if (i < 0) throw new Error(`no layer '${name}'; layers: ${layers.map((l) => l.name).join(', ')}`);
  return i;
}

/** Inference-mode BN as y = x·scale + shift: scale = γ/√(var+ε) [C]. */
export function batchNormScale(bn: BatchNormLayer): tf.Tensor1D {
  return tf.tidy(() => tf.div(bn.gamma, tf.sqrt(tf.add(bn.movingVariance, bn.epsilon))) as tf.Tensor1D);
}

/**
 * conv2d 'same' whose gradient w.r.t. x uses `conv2dSameInputGrad` (much faster than tfjs's
 * Conv2DBackpropInput on wasm). No gradient flows to the kernel: attribution never needs one.
 */
function convSameInputDifferentiable(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.conv2d(args[0] as tf.Tensor4D, kernel, 1, 'same'),
    gradFunc: (dy: tf.Tensor) => conv2dSameInputGrad(dy as tf.Tensor4D, kernel),
  }));
  return f(x) as tf.Tensor4D;
}

/**
 * Inference-mode application of one layer, differentiable with respect to its input (not to the
 * layer's weights).
 */
export function applyLayer(layer: Layer, x: tf.Tensor): tf.Tensor {
  switch (layer.kind) {
    case 'conv2d':
      return tf.add(convSameInputDifferentiable(x as tf.Tensor4D, layer.kernel), layer.bias);
    case 'batchNorm': {
      const scale = batchNormScale(layer);
      const shift = tf.sub(layer.beta, tf.mul(layer.movingMean, scale));
      return tf.add(tf.mul(x, scale), shift);
    }
    case 'relu':
      return tf.relu(x);
    case 'maxPool':
      return tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
    case 'flatten':
      return tf.reshape(x, [x.shape[0], -1]);
    case 'dense':
      return tf.add(tf.matMul(x as tf.Tensor2D, layer.kernel), layer.bias);
  }
}

/** Runs layers [from, to) on x (differentiable; intermediates belong to the enclosing scope). */
export function runLayers(layers: readonly Layer[], x: tf.Tensor, from = 0, to = layers.length): tf.Tensor {
  let h = x;
  for (let i = from; i < to; i++) h = applyLayer(layers[i], h);
  return h;
}

/**
 * One-hot [N, H, W, C] marking, per 2×2/2 window, the **first** maximum in row-major order
 * (spec §0, §6.10). Rows/columns that floor pooling never reads are 0. Implemented with
 * `argMax` over the 4 window positions (first maximum on the cpu and wasm backends; the tests
 * compare it with an explicit first-max construction), which is much faster than strided slices.
 */
export function firstMaxPoolMask(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const ho = Math.floor(h / 2);
  const wo = Math.floor(w / 2);
  return tf.tidy(() => {
    const read = ho * 2 === h && wo * 2 === w ? x : tf.slice(x, [0, 0, 0, 0], [n, 2 * ho, 2 * wo, c]);
    // [N,ho,2,wo,2,C] → [N,ho,wo,C,2,2] → window positions (0,0),(0,1),(1,0),(1,1) on the last axis
    const windows = tf.reshape(tf.transpose(tf.reshape(read, [n, ho, 2, wo, 2, c]), [0, 1, 3, 5, 2, 4]), [n, ho, wo, c, 4]);
    const hot = tf.oneHot(tf.argMax(windows, 4), 4); // int32 [N,ho,wo,C,4]
    const back = tf.transpose(tf.reshape(tf.cast(hot, 'float32'), [n, ho, wo, c, 2, 2]), [0, 1, 4, 2, 5, 3]);
    return padTo(tf.reshape(back, [n, 2 * ho, 2 * wo, c]) as tf.Tensor4D, h, w);
  });
}

function padTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, hh, ww] = x.shape;
  return hh === h && ww === w ? x : tf.pad(x, [[0, 0], [0, h - hh], [0, w - ww], [0, 0]]);
}

/**
 * Max-pool routing: each output cell's value goes to its window's arg-max (mask from
 * `firstMaxPoolMask`); other inputs, and unread rows/columns, get 0. Out [N,ho,wo,C] → [N,H,W,C].
 */
export function routeToArgmax(out: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = mask.shape;
    const [, ho, wo] = out.shape;
    const m = ho * 2 === h && wo * 2 === w ? mask : tf.slice(mask, [0, 0, 0, 0], [n, 2 * ho, 2 * wo, c]);
    const routed = tf.mul(tf.reshape(m, [n, ho, 2, wo, 2, c]), tf.reshape(out, [n, ho, 1, wo, 1, c]));
    return padTo(tf.reshape(routed, [n, 2 * ho, 2 * wo, c]) as tf.Tensor4D, h, w);
  });
}

export interface TraceEntry {
  readonly layer: Layer;
  readonly index: number;
  readonly input: tf.Tensor;
  readonly output: tf.Tensor;
  /** True when the input is structurally ≥ 0 (it comes from a ReLU through pools/flatten). */
  readonly inputNonNegative: boolean;
  /** maxPool only (when requested): `firstMaxPoolMask(input)`. */
  readonly argmaxMask?: tf.Tensor4D;
}

export interface TraceOptions {
  /** Record max-pool arg-max masks: all (true, default), none (false) or the named pools. */
  readonly argmaxMasks?: boolean | readonly string[];
}

export class ForwardTrace {
  private constructor(
    readonly layers: readonly Layer[],
    readonly entries: readonly TraceEntry[],
    readonly input: tf.Tensor4D,
    readonly logits: tf.Tensor2D,
  ) {}

  /** Inference-mode forward pass over `layers` recording every layer's input and output. */
  static run(layers: readonly Layer[], x: tf.Tensor4D, opts: TraceOptions = {}): ForwardTrace {
    const want = opts.argmaxMasks ?? true;
    const masks = (name: string) => (typeof want === 'boolean' ? want : want.includes(name));
    const entries: TraceEntry[] = [];
    let h: tf.Tensor = x;
    let nonNeg = false;
    layers.forEach((layer, index) => {
      const input = h;
      const output = tf.tidy(() => applyLayer(layer, input));
      const argmaxMask = layer.kind === 'maxPool' && masks(layer.name) ? firstMaxPoolMask(h as tf.Tensor4D) : undefined;
      entries.push({ layer, index, input: h, output, inputNonNegative: nonNeg, argmaxMask });
      nonNeg = layer.kind === 'relu' || ((layer.kind === 'maxPool' || layer.kind === 'flatten') && nonNeg);
      h = output;
    });
    if (h.rank !== 2) throw new Error(`forward trace: the last layer must give [N, K] logits, got [${h.shape}]`);
    return new ForwardTrace(layers, entries, x, h as tf.Tensor2D);
  }

  /** The trace of a chain network (inference mode; `chainLayers` refuses other graphs). */
  static ofNet(net: GraphNet, x: tf.Tensor4D, opts: TraceOptions = {}): ForwardTrace {
    return ForwardTrace.run(chainLayers(net), x, opts);
  }

  entry(name: string): TraceEntry {
    return this.entries[layerIndex(this.layers, name)];
  }

  /** Disposes the recorded tensors (never the input or the layers' weights). */
  dispose(): void {
    const keep = new Set<tf.Tensor>([this.input]);
    const gone = new Set<tf.Tensor>();
    for (const e of this.entries) {
      for (const t of [e.input, e.output, e.argmaxMask]) {
        if (t && !keep.has(t) && !gone.has(t)) { gone.add(t); t.dispose(); }
      }
    }
  }
}
