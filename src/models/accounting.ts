/**
 * Parameter and FLOP accounting of a network graph (compression spec §4). Pure geometry: the counts
 * follow from the graph (each op's `weights` and `macs`), plus — for sparse models — the number of
 * non-zero conv-kernel weights, taken from masks or from the network's actual kernels.
 *
 *   params (dense) = conv kernels + conv biases + BN γ, β + dense kernel + dense bias
 *                    (BN moving statistics excluded)
 *   macs  (dense)  = Σ_conv H_out·W_out·kh·kw·C_in/groups·C_out  +  Σ_dense F·K   (padding ignored)
 *   sparseMacs     = the same with nnz(W_l) in place of each conv's kernel size
 *
 * MACs are at the config's own input size (227×227 for the reference configs). The reference's
 * FLOP counter (quirk C7, `referenceFlops`) is a separate function evaluated at 224×224.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON, WEIGHTS_BIN } from './checkpoint_io.js';
import type { GraphNet } from './graph/graph_net.js';
import { product } from './graph/op.js';
import { OPS } from './graph/ops/index.js';
import { kernelSuffix } from './graph/ops/conv2d.js';
import { type ModelConfig, graphOf } from './model_config.js';
import { type VggConfig, vggLayout } from './vgg_config.js';

/** Conv-kernel masks keyed by weight name ('conv1_1/kernel' …); 1 = kept, 0 = pruned. */
export type KernelMasks = ReadonlyMap<string, tf.Tensor>;

export interface LayerStats {
  /** Conv or dense node name ('conv1_1', 'fc' …); a BN that follows a conv counts with it. */
  readonly name: string;
  /** Dense parameter count of the layer (kernel + bias, plus BN γ/β after a conv). */
  readonly params: number;
  /** Kernel weights (kh·kw·C_in/groups·C_out for convs, F·K for dense layers). */
  readonly weights: number;
  /** Non-zero kernel weights (convs may be sparse; dense layers are never pruned). */
  readonly nonZeroWeights: number;
  readonly macs: number;
  readonly sparseMacs: number;
}

export interface ModelStats {
  /** Dense params as §4 counts them. */
  readonly params: number;
  /** params minus pruned (zero) conv-kernel weights. */
  readonly nonZeroParams: number;
  /** Conv-kernel weights in total (dense). */
  readonly convWeights: number;
  readonly nonZeroConvWeights: number;
  /** Dense MACs at the config's input size. */
  readonly macs: number;
  /** MACs with nnz(W_l) per conv layer. */
  readonly sparseMacs: number;
  /** 2·macs. */
  readonly flops: number;
  /** Fraction of zero conv-kernel weights (0 for a dense model). */
  readonly sparsity: number;
  readonly inputSize: readonly [number, number];
  readonly layers: readonly LayerStats[];
}

export interface ModelStatsOptions {
  /**
   * Conv-kernel masks: nnz per layer is the number of ones. Without masks, a network's kernels
   * are read and exact zeros counted; a bare config counts as dense.
   */
  readonly masks?: KernelMasks;
}

function isNet(m: GraphNet | ModelConfig): m is GraphNet {
  return (m as GraphNet).weights !== undefined && (m as GraphNet).graph !== undefined;
}

function countNonZero(t: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.cast(tf.notEqual(t, 0), 'int32')).dataSync()[0]);
}

/** Non-zero count of a conv kernel, from masks, from a net's weights, or dense. */
function convNonZeros(model: GraphNet | ModelConfig, name: string, dense: number, masks: KernelMasks | undefined): number {
  const mask = masks?.get(name);
  if (mask) {
    if (mask.size !== dense) throw new Error(`mask '${name}' has ${mask.size} entries, the layer ${dense}`);
    return countNonZero(mask);
  }
  if (masks === undefined && isNet(model)) return countNonZero(model.weight(name));
  return dense;
}

/** Params, MACs and sparsity of a network or config (compression spec §4), from its graph. */
export function modelStats(model: GraphNet | ModelConfig, opts: ModelStatsOptions = {}): ModelStats {
  const graph = isNet(model) ? model.graph : graphOf(model);
  const layers: LayerStats[] = [];
  const bnOwner = new Map<string, number>(); // BN node → index of the conv entry it counts with
  let params = 0;
  let convWeights = 0;
  let nonZeroConvWeights = 0;
  for (const node of graph.nodes) {
    const inShapes = graph.inputShapes(node);
    const defs = OPS[node.op].weights?.(node as never, inShapes) ?? [];
    const trainable = defs.filter((d) => d.trainable).reduce((a, d) => a + product(d.shape), 0);
    params += trainable;
    if (node.op === 'conv2d' || node.op === 'dense') {
      const kernel = node.op === 'conv2d' ? `${node.name}/${kernelSuffix(node)}` : `${node.name}/kernel`;
      const weights = product(defs[0].shape);
      const nnz = node.op === 'conv2d' ? convNonZeros(model, kernel, weights, opts.masks) : weights;
      if (node.op === 'conv2d') { convWeights += weights; nonZeroConvWeights += nnz; }
      const op = OPS[node.op];
      const out = graph.shape(node.name);
      layers.push({
        name: node.name, params: trainable, weights, nonZeroWeights: nnz,
        macs: op.macs!(node as never, inShapes, out), sparseMacs: op.macs!(node as never, inShapes, out, nnz),
      });
      if (node.op === 'conv2d') {
        const bn = graph.soleConsumer(node.name);
        if (bn?.op === 'batchNorm') bnOwner.set(bn.name, layers.length - 1);
      }
    } else if (node.op === 'batchNorm' && trainable > 0) {
      const owner = bnOwner.get(node.name);
      if (owner !== undefined) layers[owner] = { ...layers[owner], params: layers[owner].params + trainable };
      else layers.push({ name: node.name, params: trainable, weights: 0, nonZeroWeights: 0, macs: 0, sparseMacs: 0 });
    }
  }
  const macs = layers.reduce((a, l) => a + l.macs, 0);
  const [h, w] = graph.inputShape;
  return {
    params, nonZeroParams: params - (convWeights - nonZeroConvWeights), convWeights, nonZeroConvWeights,
    macs, sparseMacs: layers.reduce((a, l) => a + l.sparseMacs, 0), flops: 2 * macs,
    sparsity: convWeights > 0 ? (convWeights - nonZeroConvWeights) / convWeights : 0,
    inputSize: [h, w], layers,
  };
}

export interface ReferenceFlopsOptions extends ModelStatsOptions {
  /** Input size the counter runs at; the reference uses 224×224 (quirk C7). */
  readonly inputSize?: readonly [number, number];
}

/**
 * The reference implementation's FLOP counter (compression spec §4, `compat.referenceFlops`,
 * quirk C7), at 224×224 by default:
 * conv (2·nnz(W) + C_out)·H_out·W_out; dense 2·numel(K) + K; BN 2·numel(input); ReLU numel(input);
 * max-pool 4·C·H_out·W_out; the trailing identity average-pool C·H·W of the last pool's output.
 */
export function referenceFlops(model: GraphNet | ModelConfig, opts: ReferenceFlopsOptions = {}): number {
  const config = isNet(model) ? model.config : model;
  if (config.kind !== 'vgg') throw new Error(`referenceFlops reproduces the reference's VGG counter only; this model is a ${config.kind}`);
  const cfg: VggConfig = config;
  const size = opts.inputSize ?? [224, 224];
  const layout = vggLayout({ ...cfg, inputSize: [size[0], size[1]] });
  const nnz = layout.convs.map((c) => convNonZeros(model, `${c.name}/kernel`, 9 * c.inChannels * c.outChannels, opts.masks));
  let flops = 0;
  layout.convs.forEach((c, i) => {
    const out = c.height * c.width * c.outChannels;
    flops += (2 * nnz[i] + c.outChannels) * c.height * c.width; // conv
    flops += 2 * out; // BN
    flops += out; // ReLU
  });
  for (const p of layout.pools) flops += 4 * p.channels * p.height * p.width;
  const last = layout.pools[layout.pools.length - 1];
  flops += last.channels * last.height * last.width; // identity average-pool
  flops += 2 * layout.denseIn * cfg.numClasses + cfg.numClasses;
  return flops;
}

/** On-disk size of a checkpoint's network: bytes of model.json + weights.bin in `dir`. */
export async function checkpointBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of [MODEL_JSON, WEIGHTS_BIN]) {
    try {
      total += (await stat(join(dir, f))).size;
    } catch (err) {
      throw new Error(`checkpointBytes: cannot read ${join(dir, f)} (${(err as Error).message})`);
    }
  }
  return total;
}
