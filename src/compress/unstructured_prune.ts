/**
 * Unstructured global magnitude pruning (compression spec §3). The population is every conv
 * kernel pooled together (never biases, BN or the dense layer). Round t targets the cumulative
 * sparsity P_t = 1 − (1 − r)^t and zeroes exactly k_t = floor(P_t · N) weights:
 *
 *   key = |w| for unmasked weights, −∞ for weights masked in an earlier round
 *   mask out the k_t smallest keys; ties go to the lower canonical index
 *   (layer order conv1_1 … , then the HWIO row-major flat index)
 *
 * so masks are nested across rounds. Masks are plain 0/1 float32 tensors keyed by weight name
 * ('conv1_1/kernel' …); `applyMasks` makes a new network with W ⊙ M, and `installMasks` hands
 * them to an `SgdMomentum` (keyed by that network's variable names), which keeps masked weights,
 * their gradients and their momentum at exactly 0 during fine-tuning (spec §3.3).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelMasks } from '../models/accounting.js';
import type { Conv2dNode } from '../models/graph/graph_spec.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { kernelSuffix } from '../models/graph/ops/conv2d.js';
import type { SgdMomentum } from '../train/sgd.js';
import { cumulativeRate } from './structured_prune.js';

export type { KernelMasks };

/** Cumulative target sparsity of round t at per-round rate r: 1 − (1 − r)^t (spec §3.2). */
export function sparsitySchedule(r: number, t: number): number {
  if (!Number.isFinite(r) || r < 0 || r >= 1) throw new Error(`unstructured rate must be in [0, 1), got ${r}`);
  return cumulativeRate(r, t);
}

/** Names of the pruned weights: every conv kernel (depthwise included), in canonical (node) order. */
export function prunableWeights(net: GraphNet): string[] {
  return net.graph.nodes.filter((n) => n.op === 'conv2d').map((n) => `${n.name}/${kernelSuffix(n as Conv2dNode)}`);
}

export interface LayerSparsity {
  readonly name: string;
  readonly weights: number;
  readonly zeros: number;
  readonly sparsity: number;
}

export interface MagnitudePruneOptions {
  /** Target fraction P of conv-kernel weights that are zero, in [0, 1]. */
  readonly sparsity: number;
  /** Masks of the previous round: their zeros are selected first, so masks only shrink. */
  readonly previous?: KernelMasks;
  readonly compat?: {
    /**
     * Quirk C4: τ = the sorted |w| at position floor(P·N) and every |w| ≤ τ is pruned, i.e. at
     * least floor(P·N) + 1 weights (still AND-ed with `previous`). Default false: exact count.
     */
    readonly thresholdInclusive?: boolean;
  };
}

export interface MagnitudePruneResult {
  /** 0/1 float32 masks keyed by weight name; the caller owns (and disposes) them. */
  readonly masks: Map<string, tf.Tensor>;
  /** Pruned population size N. */
  readonly total: number;
  /** Target count k = floor(P·N). */
  readonly k: number;
  /** Zeros in the masks (= k by default; ≥ k + 1 with compat.thresholdInclusive when k < N). */
  readonly zeros: number;
  readonly sparsity: number;
  readonly layers: readonly LayerSparsity[];
}

/** Global magnitude masks for `net` at a target sparsity (spec §3.2). Reads `net`; changes nothing. */
export function globalMagnitudeMasks(net: GraphNet, opts: MagnitudePruneOptions): MagnitudePruneResult {
  const P = opts.sparsity;
  if (!Number.isFinite(P) || P < 0 || P > 1) throw new Error(`target sparsity must be in [0, 1], got ${P}`);
  const names = prunableWeights(net);
  const sizes = names.map((n) => net.weight(n).size);
  const N = sizes.reduce((a, b) => a + b, 0);
  const keys = new Float32Array(N);
  let off = 0;
  names.forEach((name, li) => {
    const w = net.weight(name).dataSync();
    const prev = opts.previous?.get(name);
    if (opts.previous && !prev) throw new Error(`previous masks lack '${name}'`);
    if (prev && prev.size !== sizes[li]) throw new Error(`previous mask '${name}' has ${prev.size} entries, the weight ${sizes[li]}`);
    const m = prev?.dataSync();
    for (let i = 0; i < w.length; i++) keys[off + i] = m && m[i] === 0 ? -Infinity : Math.abs(w[i]);
    off += w.length;
  });
  const k = Math.floor(P * N);
  const pruned = new Uint8Array(N);
  if (opts.compat?.thresholdInclusive) {
    if (k >= N) pruned.fill(1);
    else {
      const tau = Float32Array.from(keys).sort()[k];
      for (let i = 0; i < N; i++) if (keys[i] <= tau) pruned[i] = 1;
    }
  } else if (k > 0) {
    const tau = Float32Array.from(keys).sort()[k - 1];
    let less = 0;
    for (let i = 0; i < N; i++) if (keys[i] < tau) less++;
    let ties = k - less; // keys equal to τ to prune, in canonical order
    for (let i = 0; i < N; i++) {
      if (keys[i] < tau) pruned[i] = 1;
      else if (keys[i] === tau && ties > 0) { pruned[i] = 1; ties--; }
    }
  }
  const masks = new Map<string, tf.Tensor>();
  const layers: LayerSparsity[] = [];
  off = 0;
  let zeros = 0;
  names.forEach((name, li) => {
    const n = sizes[li];
    const m = new Float32Array(n);
    let z = 0;
    for (let i = 0; i < n; i++) {
      if (pruned[off + i]) z++;
      else m[i] = 1;
    }
    masks.set(name, tf.tensor(m, net.weight(name).shape));
    layers.push({ name, weights: n, zeros: z, sparsity: n > 0 ? z / n : 0 });
    zeros += z;
    off += n;
  });
  return { masks, total: N, k, zeros, sparsity: N > 0 ? zeros / N : 0, layers };
}

/** Masks from the non-zero pattern of the current kernels (quirk C5: |W| > 0). */
export function nonzeroMasks(net: GraphNet): Map<string, tf.Tensor> {
  const masks = new Map<string, tf.Tensor>();
  for (const name of prunableWeights(net)) {
    const w = net.weight(name);
    masks.set(name, tf.tensor(Float32Array.from(w.dataSync(), (v) => (v !== 0 ? 1 : 0)), w.shape));
  }
  return masks;
}

function checkMasks(net: GraphNet, masks: KernelMasks): void {
  for (const [name, m] of masks) {
    const w = net.weight(name);
    if (m.shape.join() !== w.shape.join()) throw new Error(`mask '${name}' has shape [${m.shape}], the weight [${w.shape}]`);
  }
}

/** A NEW network whose masked weights are W ⊙ M (every other weight copied). `net` is unchanged. */
export function applyMasks(net: GraphNet, masks: KernelMasks): GraphNet {
  checkMasks(net, masks);
  const tensors = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    for (const [name, w] of net.weights) {
      const m = masks.get(name);
      out[name] = m ? tf.mul(w, m) : tf.clone(w);
    }
    return out;
  });
  try {
    return GraphNet.fromWeights(net.config, tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Installs masks on an optimizer for the variables of `net` (SgdMomentum keys masks by variable
 * name). The optimizer borrows the tensors: keep them alive while it is used, dispose them after.
 */
export function installMasks(optimizer: SgdMomentum, net: GraphNet, masks: KernelMasks): void {
  checkMasks(net, masks);
  for (const [name, m] of masks) optimizer.masks.set(net.weight(name).name, m);
}

/** Per-layer sparsity (fraction of exact zeros) of a network's conv kernels. */
export function kernelSparsity(net: GraphNet): LayerSparsity[] {
  return prunableWeights(net).map((name) => {
    const w = net.weight(name);
    const zeros = tf.tidy(() => tf.sum(tf.cast(tf.equal(w, 0), 'int32')).dataSync()[0]);
    return { name, weights: w.size, zeros, sparsity: w.size > 0 ? zeros / w.size : 0 };
  });
}

export function disposeMasks(masks: KernelMasks): void {
  for (const m of masks.values()) m.dispose();
}
