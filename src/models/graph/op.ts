/**
 * What every op kind of the graph model provides, in one place per kind (one `OpDef` in `ops/`,
 * listed in `ops/index.ts`'s `OPS`): its output shape, the weights it owns, its forward pass, its
 * multiply-accumulate count, its Keras export, and its channel rule (how its output channels relate
 * to its inputs' and which weight axes a structured cut slices). The
 * executor (`graph_net.ts`), the accounting and the exporters read these tables instead of
 * switching over op kinds themselves.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { NodeOf, OpKind } from './graph_spec.js';

/** Per-sample shape: [H, W, C] for feature maps, [F] for vectors. */
export type Shape = readonly number[];

export interface WeightDef {
  /** Keras-style suffix: the weight is named `<node>/<suffix>`. */
  readonly suffix: string;
  readonly shape: readonly number[];
  /** False for BN moving statistics (updated by the training loop, not the optimiser). */
  readonly trainable: boolean;
  /** PyTorch's default initialisation: U(±1/√fanIn) for kernels and biases, else a constant. */
  readonly init: { readonly kind: 'uniform'; readonly fanIn: number } | { readonly kind: 'constant'; readonly value: number };
}

/** Training-mode BN statistics of one forward, for the moving averages. */
export interface BatchStat {
  readonly bn: string;
  readonly mean: tf.Tensor1D;
  readonly variance: tf.Tensor1D;
  /** Elements per channel that the statistic was computed over (N·H·W). */
  readonly count: number;
}

/** What an op's forward may use besides its inputs. */
export interface OpContext {
  readonly training: boolean;
  /** The node's weight `<node>/<suffix>`. */
  weight(suffix: string): tf.Tensor;
  /** Training-mode BN: hand the batch statistics to the caller. */
  recordBatchStat(stat: BatchStat): void;
  /** Training-mode dropout: the multiplier for this node's input (entries 0 or 1/(1−rate)). */
  dropoutMask(shape: readonly number[]): tf.Tensor;
}

/** One weight axis indexed by channels: `<node>/<suffix>`, axis `axis`. */
export interface ChannelAxis {
  readonly suffix: string;
  readonly axis: number;
}

/**
 * How an op treats channels (graph.md §3), and so how structured pruning cuts it: which weight
 * axes follow its output channels and which follow its input channels. Surgery slices exactly
 * these axes with the kept index sets (`compress/group_prune.ts`); `resize` gives the node's new
 * shape fields.
 */
export interface ChannelRule {
  /**
   * 'new': the output starts a channel space (conv with groups 1, dense); 'pass': output channel c
   * is channel c of every input (BN, depthwise conv with multiplier 1, activations, pooling, pad,
   * dropout, identity; with several inputs, `add`, the spaces merge); 'concat': the inputs side by
   * side; 'flatten': NHWC flatten, row r is channel r mod C; 'opaque': channels mix in a way no
   * rule covers (a depthwise multiplier > 1), so the spaces around it are frozen.
   */
  readonly output: 'new' | 'pass' | 'concat' | 'flatten' | 'opaque';
  /** Weight axes indexed by the output channel (kernel out-channels, bias, BN vectors, depthwise channels). */
  readonly outAxes: readonly ChannelAxis[];
  /** Weight axes indexed by the input channel (the next conv's in-channels, dense rows). */
  readonly inAxes: readonly ChannelAxis[];
}

/** The rule of weightless ops that keep channels. */
export const PASS_CHANNELS: ChannelRule = { output: 'pass', outAxes: [], inAxes: [] };

export interface OpDef<K extends OpKind> {
  readonly kind: K;
  /** Output shape from the input shapes; throws a message (the graph prefixes the node's name). */
  outputShape(node: NodeOf<K>, inputs: readonly Shape[]): Shape;
  /** The weights the node owns, in a stable order (checkpoint and optimiser order follow it). */
  weights?(node: NodeOf<K>, inputs: readonly Shape[]): WeightDef[];
  /** Forward pass of one node, differentiable w.r.t. inputs and weights. */
  forward(node: NodeOf<K>, inputs: readonly tf.Tensor[], ctx: OpContext): tf.Tensor;
  /** Multiply-accumulates of one sample's forward (compression.md §4 counts conv and dense only). */
  macs?(node: NodeOf<K>, inputs: readonly Shape[], output: Shape, nonZeroWeights?: number): number;
  /**
   * The node as Keras layers (TF.js layers format), applied to the symbolic inputs. Layers that
   * carry the node's weights are named after the node (weights `<node>/<suffix>` match ours);
   * helper layers get suffixed names. Throws when no exact Keras form exists.
   */
  keras(node: NodeOf<K>, inputs: readonly SymbolicTensor[], ctx: KerasContext): SymbolicTensor;
  /** How the op maps channels and which weight axes follow them (graph.md §3). */
  channels(node: NodeOf<K>): ChannelRule;
  /**
   * The node producing `outChannels` channels from inputs of the given (new) shapes: its shape
   * fields (filters, units, groups) rewritten; absent for ops whose spec has no channel count.
   */
  resize?(node: NodeOf<K>, inputs: readonly Shape[], outChannels: number): NodeOf<K>;
  /** True when a non-negative input always gives a non-negative output (for z^B bounds, exports). */
  keepsNonNegative?(node: NodeOf<K>): boolean;
  /** True when the output is ≥ 0 whatever the input (ReLU, clip with min ≥ 0). */
  outputNonNegative?(node: NodeOf<K>): boolean;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((p, v) => p * v, 1);
}

/** What a `keras` export may need to know about the node's inputs. */
export interface KerasContext {
  readonly inputShapes: readonly Shape[];
  /** True when input i is ≥ 0 by construction (after a ReLU …). */
  nonNegativeInput(i: number): boolean;
}
