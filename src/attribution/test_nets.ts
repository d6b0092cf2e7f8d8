/**
 * Small seeded VGG networks (GraphNet) and inputs for the attribution tests (and quick benchmarks).
 * Not used by the library itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggView } from '../models/vgg_view.js';
import { VggConfigSchema } from '../models/vgg_config.js';
import { Rng } from '../engine/random.js';
import { type DenseLayer, type TraceEntry, applyLayer } from './forward_trace.js';

export interface TinyNetOptions {
  readonly blocks?: number[][];
  readonly inputSize?: [number, number];
  readonly numClasses?: number;
  readonly seed?: number;
  /**
   * 'random': non-trivial BN statistics and affine parameters (γ of both signs);
   * 'biasFree': conv/dense biases 0, BN mean 0, β 0, γ > 0 (attribution spec §6.5);
   * 'default': the network as `GraphNet.create` makes it.
   */
  readonly params?: 'random' | 'biasFree' | 'default';
}

export function tinyNet(opts: TinyNetOptions = {}): GraphNet {
  const cfg = VggConfigSchema.parse({
    kind: 'vgg', blocks: opts.blocks ?? [[4], [4]], inputSize: opts.inputSize ?? [8, 8], numClasses: opts.numClasses ?? 3,
  });
  const seed = opts.seed ?? 1;
  const net = GraphNet.create(cfg, seed);
  const mode = opts.params ?? 'random';
  if (mode === 'default') return net;
  const rng = Rng.derive(seed, 'tinyNet', mode);
  const set = (name: string, values: Float32Array | number) => {
    const v = net.weight(name);
    tf.tidy(() => v.assign(typeof values === 'number' ? tf.fill(v.shape, values) : tf.tensor(values, v.shape)));
  };
  for (const c of vggView(net).layout.convs) {
    const k = c.outChannels;
    if (mode === 'biasFree') {
      set(`${c.name}/bias`, 0);
      set(`${c.bn}/moving_mean`, 0);
      set(`${c.bn}/beta`, 0);
      set(`${c.bn}/gamma`, rng.uniformArray(k, 0.5, 1.5));
      set(`${c.bn}/moving_variance`, rng.uniformArray(k, 0.5, 2));
    } else {
      set(`${c.bn}/moving_mean`, rng.uniformArray(k, -0.2, 0.2));
      set(`${c.bn}/moving_variance`, rng.uniformArray(k, 0.5, 2));
      set(`${c.bn}/gamma`, rng.uniformArray(k, -0.5, 1.5));
      set(`${c.bn}/beta`, rng.uniformArray(k, -0.1, 0.2));
    }
  }
  if (mode === 'biasFree') set('fc/bias', 0);
  return net;
}

/** Seeded normalised-looking images [n, H, W, 3] with values in [−2, 2]. */
export function randomImages(net: GraphNet, n: number, seed = 5): tf.Tensor4D {
  const [h, w] = net.inputSize;
  return tf.tensor4d(new Rng(seed).uniformArray(n * h * w * 3, -2, 2), [n, h, w, 3]);
}

/** Copies of all weights, to check later that nothing changed them. */
export function weightValues(net: GraphNet): Map<string, Float32Array> {
  return new Map([...net.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
}

/** Per image, the class with the largest logit (positive in the tests that need it). */
export function topClasses(net: GraphNet, x: tf.Tensor4D): number[] {
  const logits = net.predict(x);
  const idx = tf.tidy(() => tf.argMax(logits, 1));
  const out = Array.from(idx.dataSync());
  tf.dispose([logits, idx]);
  return out;
}

/** A hand-made dense-layer trace entry (input x [N, D], kernel [D, K], bias [K]). */
export function denseEntry(x: number[][], k: number[][], b: number[], inputNonNegative = true): TraceEntry {
  const layer: DenseLayer = { kind: 'dense', name: 'fc', kernel: tf.tensor2d(k), bias: tf.tensor1d(b) };
  const input = tf.tensor2d(x);
  return { layer, index: 0, input, output: applyLayer(layer, input), inputNonNegative };
}

/** Per-image sums of a relevance tensor (all axes but the first). */
export function relevanceSums(t: tf.Tensor): number[] {
  return tf.tidy(() => Array.from(tf.sum(t, t.shape.map((_, i) => i).slice(1)).dataSync()));
}
