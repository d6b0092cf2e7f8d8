/**
 * A network as named variables plus one executor over its graph, for training and inference.
 *
 * Training, matching and attribution need what tf.LayersModel hides or gets wrong for us: an
 * explicit dropout mask (the matching term must see the logits' mask), per-node BatchNorm ε and
 * momentum with PyTorch's unbiased moving variance, our fused BatchNorm kernels, activations
 * captured by node name, and tensors substituted at a node (gradients with respect to an inner
 * layer). `layers_export.ts` converts to and from the TF.js layers format.
 *
 * Fast paths (exact rewrites; weights and checkpoints are unchanged, see `setFusedForward`): a
 * conv whose only consumer is a BatchNorm (optionally followed by its only consumer, a ReLU or
 * ReLU6) runs as
 *  - training: conv without its bias → apc's fused BatchNorm(+ReLU) kernel, which gets the bias
 *    only for the reported batch mean (a per-channel constant cancels in batch-statistics BN; its
 *    gradient is exactly 0, see engine/ops/batch_norm_train.ts);
 *  - inference: BN folded into the conv, W' = W·s, b' = (b − μ_run)·s + β, s = γ/√(σ²_run + ε),
 *    in one FusedConv2D / FusedDepthwiseConv2D with bias and activation.
 * A chain whose conv or BN output is captured or substituted runs node by node instead, so
 * captured tensors are exactly the plain sequence's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrain } from '../../engine/ops/batch_norm_train.js';
import { relu6 } from '../../engine/ops/relu6.js';
import { Rng } from '../../engine/random.js';
import { type ModelConfig, graphOf } from '../model_config.js';
import type { Graph } from './graph.js';
import { type BatchNormNode, type Conv2dNode, INPUT, type NodeSpec } from './graph_spec.js';
import { type BatchStat, type OpContext, product } from './op.js';
import { OPS } from './ops/index.js';
import { batchNormParams, foldIntoConv } from './ops/batch_norm.js';
import { convolve, isDepthwise, kernelSuffix } from './ops/conv2d.js';
import { tfPadding } from './padding.js';

export type { BatchStat };

export interface ForwardOptions {
  /** Training mode: batch statistics in BN and active dropout. Default false (inference). */
  readonly training?: boolean;
  /**
   * Multiplier of the head dropout (the one feeding the output layer), [B, F] with entries 0 or
   * 1/(1−rate). Training mode draws one from `rng` when absent; pass one to share it with the
   * matching term.
   */
  readonly dropoutMask?: tf.Tensor;
  /** Multipliers of other dropout nodes by name (drawn from `rng` when absent). */
  readonly dropoutMasks?: Readonly<Record<string, tf.Tensor>>;
  readonly rng?: Rng;
  /** Node names whose outputs are returned in `activations` (e.g. 'relu4_3', 'pool4'). */
  readonly capture?: readonly string[];
  /**
   * Tensors used as the outputs of these nodes instead of computing them (nodes needed only by
   * them are not run). With `tf.grad` over a substituted tensor this gives ∂/∂(inner layer).
   */
  readonly overrides?: Readonly<Record<string, tf.Tensor>>;
}

export interface ForwardResult {
  readonly logits: tf.Tensor2D;
  readonly activations: Record<string, tf.Tensor>;
  /** Training mode only: per-BN batch statistics for `updateMovingStatistics`, in node order. */
  readonly batchStats: BatchStat[];
  /** The head dropout mask used (training mode with a head dropout), so a caller can reuse it. */
  readonly dropoutMask?: tf.Tensor2D;
}

let fusedForward = true;

/** Enables (default) or disables the fused paths of every GraphNet. Off = node by node, for tests. */
export function setFusedForward(enabled: boolean): void {
  fusedForward = enabled;
}

let idCounter = 0;

/** Draws an inverted-dropout multiplier of `shape` with entries 0 and 1/(1−rate). */
export function drawDropoutMask(shape: readonly number[], rate: number, rng: Rng): tf.Tensor {
  const n = product(shape);
  const values = new Float32Array(n);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) values[i] = rng.next() >= rate ? keep : 0;
  return tf.tensor(values, [...shape]);
}

export class GraphNet {
  readonly graph: Graph;

  /**
   * @param config the architecture (a built-in family's config or an explicit graph)
   * @param weights `<node>/<suffix>` → variable, in the graph's weight order
   */
  private constructor(readonly config: ModelConfig, readonly weights: ReadonlyMap<string, tf.Variable>) {
    this.graph = graphOf(config);
  }

  /**
   * Fresh network with PyTorch's default initialisation (conv/dense kernel and bias
   * ~ U(±1/√fan_in), BN γ=1 β=0, moving mean 0 / variance 1), drawn from a seeded stream in the
   * graph's weight order, so the same seed gives the same weights on every backend.
   */
  static create(config: ModelConfig, seed: number): GraphNet {
    const graph = graphOf(config);
    const rng = Rng.derive(seed, 'init');
    const w = new Map<string, tf.Variable>();
    for (const def of graph.weights) {
      const t = def.init.kind === 'uniform'
        ? tf.tensor(rng.uniformArray(product(def.shape), -1 / Math.sqrt(def.init.fanIn), 1 / Math.sqrt(def.init.fanIn)), [...def.shape])
        : tf.fill([...def.shape], def.init.value);
      w.set(def.name, tf.variable(t, def.trainable, `apc:${def.name}#${++idCounter}`));
      t.dispose(); // the variable holds its own reference to the data
    }
    return new GraphNet(config, w);
  }

  /** Network holding copies of the given tensors (names and shapes checked against the graph). */
  static fromWeights(config: ModelConfig, tensors: tf.NamedTensorMap): GraphNet {
    const graph = graphOf(config);
    const w = new Map<string, tf.Variable>();
    try {
      for (const def of graph.weights) {
        const t = tensors[def.name];
        if (!t) throw new Error(`weights lack '${def.name}' (expected shape [${def.shape}])`);
        if (t.shape.join() !== def.shape.join()) throw new Error(`weight '${def.name}' has shape [${t.shape}], the graph needs [${def.shape}]`);
        w.set(def.name, tf.variable(t, def.trainable, `apc:${def.name}#${++idCounter}`));
      }
    } catch (err) {
      for (const v of w.values()) v.dispose();
      throw err;
    }
    return new GraphNet(config, w);
  }

  get inputSize(): [number, number] {
    const [h, w] = this.graph.inputShape;
    return [h, w];
  }

  get numClasses(): number {
    return this.graph.numClasses;
  }

  /** Default Grad-CAM / EBP layer (`Graph.gradCamLayer`; VGG: the last ReLU). */
  get gradCamLayer(): string {
    return this.graph.gradCamLayer;
  }

  /** Default matched layer (`Graph.matchLayer`; VGG: the last pool). */
  get matchLayer(): string {
    return this.graph.matchLayer;
  }

  /** The dropout node feeding the output layer, if any. */
  get headDropout(): Extract<NodeSpec, { op: 'dropout' }> | undefined {
    const out = this.graph.node(this.graph.outputName);
    const prev = out.inputs.length === 1 && out.inputs[0] !== INPUT ? this.graph.node(out.inputs[0]) : undefined;
    return prev?.op === 'dropout' ? prev : undefined;
  }

  /** Drop rate of the head dropout (0 without one). */
  get dropoutRate(): number {
    return this.headDropout?.rate ?? 0;
  }

  /** Trainable variables in the graph's weight order. */
  trainableVariables(): tf.Variable[] {
    return this.graph.weights.filter((d) => d.trainable).map((d) => this.weights.get(d.name)!);
  }

  /** Variable by name (`conv1_1/kernel`); throws naming the missing weight. */
  weight(name: string): tf.Variable {
    const w = this.weights.get(name);
    if (!w) throw new Error(`network has no weight '${name}'`);
    return w;
  }

  /** Independent copy (new variables, same values). */
  clone(): GraphNet {
    const tensors: tf.NamedTensorMap = {};
    for (const [k, v] of this.weights) tensors[k] = v;
    return GraphNet.fromWeights(this.config, tensors);
  }

  /** Plain tensors of all weights (copies the caller owns). */
  snapshot(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [k, v] of this.weights) out[k] = tf.clone(v);
    return out;
  }

  /** Per-sample shape of a node's output. */
  activationShape(name: string): number[] {
    return [...this.graph.shape(name)];
  }

  /** Draws the head dropout's multiplier [batch, F] (entries 0 and 1/(1−rate)). */
  dropoutMask(batch: number, rng: Rng): tf.Tensor2D {
    const d = this.headDropout;
    if (!d) throw new Error('dropoutMask: the network has no dropout before its output layer');
    const shape = this.graph.shape(d.inputs[0]);
    return drawDropoutMask([batch, product(shape)], d.rate, rng) as tf.Tensor2D;
  }

  /**
   * Forward pass. Returns logits, the requested activations and (training mode) batch
   * statistics. Tensors returned are owned by the caller (or the enclosing tidy).
   */
  forward(x: tf.Tensor4D, opts: ForwardOptions = {}): ForwardResult {
    const training = opts.training ?? false;
    const want = new Set(opts.capture ?? []);
    for (const name of want) this.graph.shape(name); // unknown names fail here, listing the nodes
    const overrides = opts.overrides ?? {};
    const cut = new Set(Object.keys(overrides));
    const need = this.graph.requiredNodes([...want], cut);
    const values = new Map<string, tf.Tensor>([[INPUT, x]]);
    const done = new Set<string>();
    const batchStats: BatchStat[] = [];
    const head = this.headDropout;
    let headMask: tf.Tensor2D | undefined;
    const rng = opts.rng;
    const batch = x.shape[0];
    for (const node of this.graph.nodes) {
      if (!need.has(node.name) || done.has(node.name)) continue;
      const given = overrides[node.name];
      if (given) { values.set(node.name, given); done.add(node.name); continue; }
      if (fusedForward && node.op === 'conv2d' && this.fusedConvChain(node, values, want, cut, training, batchStats, done)) continue;
      const ctx: OpContext = {
        training,
        weight: (suffix) => this.weight(`${node.name}/${suffix}`),
        recordBatchStat: (s) => batchStats.push(s),
        dropoutMask: (shape) => {
          if (node.op !== 'dropout') throw new Error(`node '${node.name}' asked for a dropout mask`);
          const flat = [shape[0], product(shape.slice(1))];
          let mask: tf.Tensor | undefined = node === head ? opts.dropoutMask : opts.dropoutMasks?.[node.name];
          if (!mask) {
            // never a clock seed: the same seed must give the same training run
            if (!rng) {
              throw new Error(`forward: training mode draws a dropout mask for '${node.name}' and needs an explicit random stream `
                + '(ForwardOptions.rng) or the mask itself (dropoutMask, dropoutMasks)');
            }
            mask = drawDropoutMask(flat, node.rate, rng);
          }
          if (mask.shape.length !== 2 || mask.shape[0] !== batch || mask.shape[1] !== flat[1]) {
            throw new Error(`dropout mask for '${node.name}' must be [${flat}], got [${mask.shape}]`);
          }
          if (node === head) headMask = mask as tf.Tensor2D;
          return shape.length === 2 ? mask : tf.reshape(mask, [...shape]);
        },
      };
      const inputs = node.inputs.map((i) => values.get(i)!);
      values.set(node.name, OPS[node.op].forward(node as never, inputs, ctx));
      done.add(node.name);
    }
    const activations: Record<string, tf.Tensor> = {};
    for (const name of want) {
      const t = values.get(name);
      if (!t) throw new Error(`forward: activation '${name}' was not computed`);
      activations[name] = t;
    }
    const logits = values.get(this.graph.outputName) as tf.Tensor2D;
    return { logits, activations, batchStats, dropoutMask: headMask };
  }

  /**
   * conv → BN [→ ReLU | ReLU6] as one fused step when nothing reads the conv's or the BN's own
   * output. Returns false (nothing computed) when the chain does not qualify.
   */
  private fusedConvChain(conv: Conv2dNode, values: Map<string, tf.Tensor>, want: ReadonlySet<string>, cut: ReadonlySet<string>,
    training: boolean, stats: BatchStat[], done: Set<string>): boolean {
    const bn = this.graph.soleConsumer(conv.name);
    if (!bn || bn.op !== 'batchNorm' || want.has(conv.name) || want.has(bn.name) || cut.has(bn.name)) return false;
    const next = this.graph.soleConsumer(bn.name);
    const act = next && !cut.has(next.name) && (next.op === 'relu' || (next.op === 'clip' && next.min === 0 && next.max === 6)) ? next : undefined;
    const x = values.get(conv.inputs[0]) as tf.Tensor4D;
    const kernel = this.weight(`${conv.name}/${kernelSuffix(conv)}`) as tf.Tensor4D;
    const bias = conv.useBias ? this.weight(`${conv.name}/bias`) as tf.Tensor1D : null;
    const p = batchNormParams({ weight: (s) => this.weight(`${bn.name}/${s}`) });
    const eps = (bn as BatchNormNode).epsilon;
    let y: tf.Tensor;
    if (training) {
      const relu = act?.op === 'relu';
      const r = batchNormTrain(convolve(conv, x, kernel), p.gamma, p.beta, eps, { relu, ...(bias ? { bias } : {}) });
      stats.push({ bn: bn.name, mean: r.mean, variance: r.variance, count: r.y.size / conv.filters });
      y = act && !relu ? relu6(r.y) : r.y;
    } else {
      const [k, b] = foldIntoConv(kernel, bias, p, eps, isDepthwise(conv));
      const pad = tfPadding(conv.pads, x.shape[1], x.shape[2], conv.kernelSize, conv.strides, conv.dilations);
      const activation = act ? (act.op === 'relu' ? 'relu' : 'relu6') : 'linear';
      const [sh, sw] = conv.strides;
      const strides: number | [number, number] = sh === sw ? sh : [sh, sw];
      const [dh, dw] = conv.dilations;
      const dilations: number | [number, number] = dh === dw ? dh : [dh, dw];
      if (isDepthwise(conv)) {
        // fused depthwise takes no explicit pads: zero-pad first, then 'valid' (same values)
        const explicit = typeof pad !== 'string';
        y = tf.fused.depthwiseConv2d({ x: explicit ? tf.pad(x, pad) : x, filter: k, strides, pad: explicit ? 'valid' : pad, dilations, bias: b, activation });
      } else {
        y = dh === 1 && dw === 1
          ? tf.fused.conv2d({ x, filter: k, strides, pad, bias: b, activation })
          : tf.fused.conv2d({ x, filter: k, strides, pad, dilations, bias: b, activation });
      }
    }
    const last = act ?? bn;
    values.set(last.name, y);
    done.add(conv.name); done.add(bn.name); done.add(last.name);
    return true;
  }

  /**
   * PyTorch BatchNorm moving-average update with each node's own momentum μ:
   * m ← (1−μ)m + μ·mean, v ← (1−μ)v + μ·var·n/(n−1) (unbiased variance for the moving statistic,
   * biased for normalising, as the spec requires).
   */
  updateMovingStatistics(stats: readonly BatchStat[]): void {
    tf.tidy(() => {
      for (const s of stats) {
        const mu = (this.graph.node(s.bn) as BatchNormNode).momentum;
        const m = this.weights.get(`${s.bn}/moving_mean`)!;
        const v = this.weights.get(`${s.bn}/moving_variance`)!;
        const unbias = s.count > 1 ? s.count / (s.count - 1) : 1;
        m.assign(tf.add(tf.mul(m, 1 - mu), tf.mul(s.mean, mu)));
        v.assign(tf.add(tf.mul(v, 1 - mu), tf.mul(s.variance, mu * unbias)));
      }
    });
  }

  /** Logits in inference mode for a batch. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x).logits);
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
  }
}
