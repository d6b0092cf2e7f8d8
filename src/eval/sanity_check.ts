/**
 * Model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", 2018),
 * cascading from the top: the weights of the network's blocks are re-drawn one block after the
 * other, from the output layer down to the first conv, and after each cumulative step every
 * method's maps are compared with its maps on the trained network. A map that still looks the
 * same once the weights it is meant to explain are random does not explain the model.
 *
 * Blocks come from the graph's node list, so this works for any graph (VGG, ResNet, MobileNetV2):
 * every node with a kernel (conv2d, dense), in reverse topological order, together with a
 * BatchNorm that is its only consumer. Re-drawing uses the initialisation `GraphNet.create` uses
 * (kernels and biases U(±1/√fan_in); BN γ = 1, β = 0, moving mean 0, variance 1) from a seeded
 * stream. The caller's network is never changed: the randomisation runs on a clone.
 *
 * Similarity is Spearman's rank correlation of the two maps per image (mid-ranks, as §3 of the
 * evaluation spec), averaged over the images. Edge cases follow the cosine rule of §3: both maps
 * constant → 1 (nothing changed), exactly one constant → 0 (no rank information is left).
 *
 * Pass rule: a method passes when the mean Spearman after randomising every block is below
 * `SANITY_THRESHOLD` = 0.5. Rank correlations of unrelated smooth maps of natural images sit
 * around 0–0.3 (the image's own structure, e.g. object edges, keeps some correlation — the
 * "edge detector" effect Adebayo et al. report); a method at ≥ 0.5 with the whole network random
 * is mostly showing the input, not the model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/random.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { spearman } from './agreement.js';

/** A method's maps for a network: one H·W map per image, for the given classes (inference mode). */
export type Explainer = (net: GraphNet, images: tf.Tensor4D, classIndices: readonly number[]) => Float32Array[];

/** Mean Spearman after randomising every block must be below this to pass. */
export const SANITY_THRESHOLD = 0.5;

/** Weighted nodes re-drawn together in one cascade step. */
export interface RandomisationBlock {
  /** The kernel-carrying node (conv2d or dense), used as the step's label. */
  readonly layer: string;
  /** Every weight re-drawn in this block (`<node>/<suffix>`). */
  readonly weights: readonly string[];
}

export interface SanityLayer {
  /** The lowest block randomised so far (all blocks from the output down to it are random). */
  readonly layer: string;
  /** Mean over images of Spearman(map before, map after). */
  readonly spearman: number;
}

export interface SanityResult {
  readonly layers: SanityLayer[];
  /** The last layer's Spearman (every block random) is below `threshold`. */
  readonly passed: boolean;
  readonly threshold: number;
  readonly nImages: number;
}

export interface SanityOptions {
  /** Seed of the re-drawn weights. */
  readonly seed?: number;
  /**
   * Maps are compared after at most this many cumulative states (evenly spaced over the blocks,
   * always including the fully random network), bounding the cost on deep graphs (default 16).
   */
  readonly maxSteps?: number;
  readonly threshold?: number;
}

/** Conv2d and dense nodes with a sole-consumer BatchNorm, output first (reverse topological order). */
export function randomisationBlocks(net: GraphNet): RandomisationBlock[] {
  const g = net.graph;
  const byNode = new Map<string, string[]>();
  for (const w of g.weights) {
    const list = byNode.get(w.node) ?? [];
    list.push(w.name);
    byNode.set(w.node, list);
  }
  const blocks: RandomisationBlock[] = [];
  for (const node of [...g.nodes].reverse()) {
    if (node.op !== 'conv2d' && node.op !== 'dense') continue;
    const bn = g.soleConsumer(node.name);
    const weights = [...(byNode.get(node.name) ?? []), ...(bn?.op === 'batchNorm' ? byNode.get(bn.name) ?? [] : [])];
    blocks.push({ layer: node.name, weights });
  }
  return blocks;
}

/** Indices of the cumulative states compared: evenly spaced, the last always included. */
export function sanityStepIndices(nBlocks: number, maxSteps: number): number[] {
  if (nBlocks <= maxSteps) return Array.from({ length: nBlocks }, (_, i) => i);
  return [...new Set(Array.from({ length: maxSteps }, (_, s) => Math.round(((s + 1) * nBlocks) / maxSteps) - 1))];
}

/** Spearman with the edge cases above (both constant → 1, one constant → 0). */
export function mapRankSimilarity(before: ArrayLike<number>, after: ArrayLike<number>): number {
  const rho = spearman(before, after);
  if (rho !== null) return rho;
  const constant = (m: ArrayLike<number>) => { for (let p = 1; p < m.length; p++) if (m[p] !== m[0]) return false; return true; };
  return constant(before) && constant(after) ? 1 : 0;
}

function redraw(net: GraphNet, block: RandomisationBlock, rng: Rng): void {
  const defs = new Map(net.graph.weights.map((d) => [d.name, d]));
  for (const name of block.weights) {
    const def = defs.get(name)!;
    const v = net.weight(name);
    const size = def.shape.reduce((a, b) => a * b, 1);
    tf.tidy(() => v.assign(def.init.kind === 'uniform'
      ? tf.tensor(rng.uniformArray(size, -1 / Math.sqrt(def.init.fanIn), 1 / Math.sqrt(def.init.fanIn)), [...def.shape])
      : tf.fill([...def.shape], def.init.value)));
  }
}

/**
 * Cascading randomisation for each method. `images` [N,H,W,3] and one class per image (the
 * caller picks them, e.g. pairs the trained model predicts). Returns per method the Spearman
 * after each compared step and whether it passes. `onStep(done, total)` reports progress.
 */
export function sanityCheck(
  net: GraphNet,
  explainers: Readonly<Record<string, Explainer>>,
  images: tf.Tensor4D,
  classIndices: readonly number[],
  options: SanityOptions = {},
  onStep?: (done: number, total: number) => void,
): Record<string, SanityResult> {
  const threshold = options.threshold ?? SANITY_THRESHOLD;
  const blocks = randomisationBlocks(net);
  if (blocks.length === 0) throw new Error('sanityCheck: the network has no conv2d or dense node to randomise');
  const compared = new Set(sanityStepIndices(blocks.length, options.maxSteps ?? 16));
  const methods = Object.keys(explainers);
  const before = new Map(methods.map((m) => [m, explainers[m](net, images, classIndices)]));
  const layers = new Map<string, SanityLayer[]>(methods.map((m) => [m, []]));
  const rng = Rng.derive(options.seed ?? 0, 'sanity');
  const work = net.clone();
  try {
    blocks.forEach((block, i) => {
      redraw(work, block, rng);
      if (!compared.has(i)) return;
      for (const m of methods) {
        const after = explainers[m](work, images, classIndices);
        const ref = before.get(m)!;
        const mean = ref.reduce((s, a, j) => s + mapRankSimilarity(a, after[j]), 0) / ref.length;
        layers.get(m)!.push({ layer: block.layer, spearman: mean });
      }
      onStep?.(i + 1, blocks.length);
    });
  } finally {
    work.dispose();
  }
  const out: Record<string, SanityResult> = {};
  for (const m of methods) {
    const l = layers.get(m)!;
    out[m] = { layers: l, passed: l[l.length - 1].spearman < threshold, threshold, nImages: images.shape[0] };
  }
  return out;
}
