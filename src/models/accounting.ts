/**
 * Parameter and FLOP accounting of a VGG network (compression spec §4). Pure geometry: the counts
 * follow from the config, plus — for sparse models — the number of non-zero conv-kernel weights,
 * taken from masks or from the network's actual kernels.
 *
 *   params (dense) = conv kernels + conv biases + BN γ, β + dense kernel + dense bias
 *                    (BN moving statistics excluded)
 *   macs  (dense)  = Σ_conv H_out·W_out·9·C_in·C_out  +  denseIn·K      (border padding ignored)
 *   sparseMacs     = the same with nnz(W_l) in place of 9·C_in·C_out
 *
 * MACs are at the config's own input size (227×227 for the reference configs). The reference's
 * FLOP counter (quirk C7, `referenceFlops`) is a separate function evaluated at 224×224.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON, WEIGHTS_BIN } from './checkpoint_io.js';
import type { VggNet } from './vgg.js';
import { type VggConfig, vggLayout } from './vgg_config.js';

/** Conv-kernel masks keyed by weight name ('conv1_1/kernel' …); 1 = kept, 0 = pruned. */
export type KernelMasks = ReadonlyMap<string, tf.Tensor>;

export interface LayerStats {
  /** Conv layer name ('conv1_1' …) or 'fc'. */
  readonly name: string;
  /** Dense parameter count of the layer (kernel + bias, plus BN γ/β for convs). */
  readonly params: number;
  /** Kernel weights (9·C_in·C_out for convs, denseIn·K for the dense layer). */
  readonly weights: number;
  /** Non-zero kernel weights (convs may be sparse; the dense layer is never pruned). */
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
   * Conv-kernel masks: nnz per layer is the number of ones. Without masks, a `VggNet`'s kernels
   * are read and exact zeros counted; a bare config counts as dense.
   */
  readonly masks?: KernelMasks;
}

function isNet(m: VggNet | VggConfig): m is VggNet {
  return (m as VggNet).weights !== undefined && (m as VggNet).layout !== undefined;
}

function countNonZero(t: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.cast(tf.notEqual(t, 0), 'int32')).dataSync()[0]);
}

/** Non-zero count of each conv kernel, from masks, from a net's weights, or dense. */
function convNonZeros(model: VggNet | VggConfig, masks: KernelMasks | undefined): number[] {
  const cfg = isNet(model) ? model.config : model;
  const layout = vggLayout(cfg);
  return layout.convs.map((c) => {
    const name = `${c.name}/kernel`;
    const dense = 9 * c.inChannels * c.outChannels;
    const mask = masks?.get(name);
    if (mask) {
      if (mask.size !== dense) throw new Error(`mask '${name}' has ${mask.size} entries, the layer ${dense}`);
      return countNonZero(mask);
    }
    if (masks === undefined && isNet(model)) return countNonZero(model.weight(name));
    return dense;
  });
}

/** Params, MACs and sparsity of a network or config (compression spec §4). */
export function modelStats(model: VggNet | VggConfig, opts: ModelStatsOptions = {}): ModelStats {
  const cfg = isNet(model) ? model.config : model;
  const layout = vggLayout(cfg);
  const nnz = convNonZeros(model, opts.masks);
  const layers: LayerStats[] = [];
  layout.convs.forEach((c, i) => {
    const weights = 9 * c.inChannels * c.outChannels;
    const hw = c.height * c.width; // 'same' padding: output size = input size
    layers.push({
      name: c.name, params: weights + 3 * c.outChannels, weights, nonZeroWeights: nnz[i],
      macs: hw * weights, sparseMacs: hw * nnz[i],
    });
  });
  const K = cfg.numClasses;
  const denseW = layout.denseIn * K;
  layers.push({ name: 'fc', params: denseW + K, weights: denseW, nonZeroWeights: denseW, macs: denseW, sparseMacs: denseW });
  const sum = (f: (l: LayerStats) => number) => layers.reduce((a, l) => a + f(l), 0);
  const convs = layers.slice(0, -1);
  const params = sum((l) => l.params);
  const convWeights = convs.reduce((a, l) => a + l.weights, 0);
  const nonZeroConvWeights = convs.reduce((a, l) => a + l.nonZeroWeights, 0);
  const macs = sum((l) => l.macs);
  return {
    params, nonZeroParams: params - (convWeights - nonZeroConvWeights), convWeights, nonZeroConvWeights,
    macs, sparseMacs: sum((l) => l.sparseMacs), flops: 2 * macs,
    sparsity: convWeights > 0 ? (convWeights - nonZeroConvWeights) / convWeights : 0,
    inputSize: [cfg.inputSize[0], cfg.inputSize[1]], layers,
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
export function referenceFlops(model: VggNet | VggConfig, opts: ReferenceFlopsOptions = {}): number {
  const cfg = isNet(model) ? model.config : model;
  const size = opts.inputSize ?? [224, 224];
  const layout = vggLayout({ ...cfg, inputSize: [size[0], size[1]] });
  const nnz = convNonZeros(model, opts.masks);
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
