/**
 * A VGG network as plain tensors and one forward function.
 *
 * Training, matching and attribution all need things tf.LayersModel hides or gets wrong for us:
 * an explicit dropout mask (the matching term must see the same mask as the logits), PyTorch
 * BatchNorm semantics (momentum 0.1, ε 1e-5, unbiased moving variance), our fused BatchNorm
 * kernels, and the intermediate activations by name. So the network is a map of named variables
 * plus `forward`; `layers_model.ts` converts it to and from the TF.js layers format for saving.
 *
 * Fast paths (exact rewrites; weights and checkpoints are unchanged, see `setFusedForward`):
 *  - training: conv without its bias → one fused BatchNorm+ReLU kernel that gets the bias only
 *    for the reported batch mean (a per-channel constant cancels in batch-statistics BN; its
 *    gradient is exactly 0, see engine/ops/batch_norm_train.ts);
 *  - inference: BN folded into the conv, W' = W·s, b' = (b − μ_run)·s + β with s = γ/√(σ²_run+ε),
 *    and one FusedConv2D with bias and ReLU per layer.
 * A layer whose conv or BN output is requested in `capture` runs the plain conv → +bias → BN →
 * ReLU sequence instead, so captured tensors are exactly what they were.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrain } from '../engine/ops/batch_norm_train.js';
import { Rng } from '../engine/random.js';
import { type VggConfig, type VggLayout, vggLayout } from './vgg_config.js';

export interface ForwardOptions {
  /** Training mode: batch statistics in BN and an active dropout. Default false (inference). */
  readonly training?: boolean;
  /**
   * Dropout multiplier [B, denseIn] with entries 0 or 1/(1−rate). Training mode draws one from
   * `rng` when absent; pass one to share it with the matching term.
   */
  readonly dropoutMask?: tf.Tensor2D;
  readonly rng?: Rng;
  /** Layer names whose outputs are returned in `activations` (e.g. 'relu4_3', 'pool4'). */
  readonly capture?: readonly string[];
}

export interface BatchStat {
  readonly bn: string;
  readonly mean: tf.Tensor1D;
  readonly variance: tf.Tensor1D;
  /** Elements per channel that the statistic was computed over (N·H·W). */
  readonly count: number;
}

export interface ForwardResult {
  readonly logits: tf.Tensor2D;
  readonly activations: Record<string, tf.Tensor>;
  /** Training mode only: per-BN batch statistics for `updateMovingStatistics`. */
  readonly batchStats: BatchStat[];
  /** The dropout mask used (training mode), so a caller can reuse it. */
  readonly dropoutMask?: tf.Tensor2D;
}

/** Keras-style weight names, e.g. 'conv1_1/kernel', 'bn1_1/moving_mean', 'fc/kernel'. */
export function vggWeightNames(layout: VggLayout): { trainable: string[]; moving: string[] } {
  const trainable: string[] = [];
  const moving: string[] = [];
  for (const c of layout.convs) {
    trainable.push(`${c.name}/kernel`, `${c.name}/bias`, `${c.bn}/gamma`, `${c.bn}/beta`);
    moving.push(`${c.bn}/moving_mean`, `${c.bn}/moving_variance`);
  }
  trainable.push('fc/kernel', 'fc/bias');
  return { trainable, moving };
}

let fusedForward = true;

/**
 * Enables (default) or disables the fused forward paths of every VggNet. Off = the plain
 * reference sequence, for tests and measurements.
 */
export function setFusedForward(enabled: boolean): void {
  fusedForward = enabled;
}

/**
 * Inference-mode BN folded into the preceding conv: [W·s, (b − μ)·s + β], s = γ/√(σ²+ε). Done on
 * every forward: measured ≈3% of a batch-8/16 vgg16s/8 forward on wasm (≈10% at batch 1), too little
 * to keep cached copies that would have to follow every reassignment of the weights.
 */
function foldBatchNorm(kernel: tf.Tensor4D, bias: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D,
  mean: tf.Tensor1D, variance: tf.Tensor1D, eps: number): [tf.Tensor4D, tf.Tensor1D] {
  return tf.tidy(() => {
    const s = tf.div(gamma, tf.sqrt(tf.add(variance, eps)));
    return [tf.mul(kernel, s) as tf.Tensor4D, tf.add(tf.mul(tf.sub(bias, mean), s), beta) as tf.Tensor1D];
  });
}

export class VggNet {
  readonly layout: VggLayout;

  private constructor(readonly config: VggConfig, readonly weights: ReadonlyMap<string, tf.Variable>) {
    this.layout = vggLayout(config);
  }

  /**
   * Fresh network with PyTorch's default initialisation (conv/dense kernel and bias
   * ~ U(±1/√fan_in), BN γ=1 β=0, moving mean 0 / variance 1), drawn from a seeded stream so the
   * same seed gives the same weights on every backend.
   */
  static create(config: VggConfig, seed: number): VggNet {
    const layout = vggLayout(config);
    const rng = Rng.derive(seed, 'init');
    const w = new Map<string, tf.Variable>();
    const v = (name: string, t: tf.Tensor) => {
      w.set(name, tf.variable(t, true, `apc:${name}#${nextId()}`));
      t.dispose(); // the variable holds its own reference to the data
    };
    for (const c of layout.convs) {
      const bound = 1 / Math.sqrt(9 * c.inChannels);
      v(`${c.name}/kernel`, tf.tensor4d(rng.uniformArray(9 * c.inChannels * c.outChannels, -bound, bound), [3, 3, c.inChannels, c.outChannels]));
      v(`${c.name}/bias`, tf.tensor1d(rng.uniformArray(c.outChannels, -bound, bound)));
      v(`${c.bn}/gamma`, tf.ones([c.outChannels]));
      v(`${c.bn}/beta`, tf.zeros([c.outChannels]));
      v(`${c.bn}/moving_mean`, tf.zeros([c.outChannels]));
      v(`${c.bn}/moving_variance`, tf.ones([c.outChannels]));
    }
    const bound = 1 / Math.sqrt(layout.denseIn);
    v('fc/kernel', tf.tensor2d(rng.uniformArray(layout.denseIn * config.numClasses, -bound, bound), [layout.denseIn, config.numClasses]));
    v('fc/bias', tf.tensor1d(rng.uniformArray(config.numClasses, -bound, bound)));
    for (const name of vggWeightNames(layout).moving) w.get(name)!.trainable = false;
    return new VggNet(config, w);
  }

  /** Network holding copies of the given tensors (checked against the config's shapes). */
  static fromWeights(config: VggConfig, tensors: tf.NamedTensorMap): VggNet {
    const layout = vggLayout(config);
    const names = vggWeightNames(layout);
    const expected = VggNet.create(config, 0);
    try {
      const w = new Map<string, tf.Variable>();
      for (const name of [...names.trainable, ...names.moving]) {
        const t = tensors[name];
        const shape = expected.weights.get(name)!.shape;
        if (!t) throw new Error(`weights lack '${name}' (expected shape [${shape}])`);
        if (t.shape.join() !== shape.join()) throw new Error(`weight '${name}' has shape [${t.shape}], the config needs [${shape}]`);
        w.set(name, tf.variable(t, !names.moving.includes(name), `apc:${name}#${nextId()}`));
      }
      return new VggNet(config, w);
    } finally {
      expected.dispose();
    }
  }

  /** Trainable variables in a stable order (conv/BN by layer, then the dense head). */
  trainableVariables(): tf.Variable[] {
    return vggWeightNames(this.layout).trainable.map((n) => this.weights.get(n)!);
  }

  /** Variable by Keras-style name; throws naming the missing weight. */
  weight(name: string): tf.Variable {
    const w = this.weights.get(name);
    if (!w) throw new Error(`network has no weight '${name}'`);
    return w;
  }

  /** Independent copy (new variables, same values). */
  clone(): VggNet {
    const tensors: tf.NamedTensorMap = {};
    for (const [k, v] of this.weights) tensors[k] = v;
    return VggNet.fromWeights(this.config, tensors);
  }

  /** Plain tensors of all weights (copies the caller owns). */
  snapshot(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [k, v] of this.weights) out[k] = tf.clone(v);
    return out;
  }

  /** Draws an inverted-dropout multiplier [batch, denseIn] with entries 0 and 1/(1−rate). */
  dropoutMask(batch: number, rng: Rng): tf.Tensor2D {
    const rate = this.config.dropout;
    const n = batch * this.layout.denseIn;
    const values = new Float32Array(n);
    const keep = 1 / (1 - rate);
    for (let i = 0; i < n; i++) values[i] = rng.next() >= rate ? keep : 0;
    return tf.tensor2d(values, [batch, this.layout.denseIn]);
  }

  /**
   * Forward pass. Returns logits, the requested activations and (training mode) batch
   * statistics. Tensors returned are owned by the caller (or the enclosing tidy).
   */
  forward(x: tf.Tensor4D, opts: ForwardOptions = {}): ForwardResult {
    const training = opts.training ?? false;
    const want = new Set(opts.capture ?? []);
    const activations: Record<string, tf.Tensor> = {};
    const batchStats: BatchStat[] = [];
    const keep = (name: string, t: tf.Tensor) => { if (want.has(name)) activations[name] = t; };
    const eps = this.config.bnEpsilon;
    let h: tf.Tensor4D = x;
    let convIndex = 0;
    this.config.blocks.forEach((block, bi) => {
      for (let i = 0; i < block.length; i++) {
        const c = this.layout.convs[convIndex++];
        const kernel = this.weights.get(`${c.name}/kernel`)! as tf.Tensor4D;
        const bias = this.weights.get(`${c.name}/bias`)! as tf.Tensor1D;
        const gamma = this.weights.get(`${c.bn}/gamma`)! as tf.Tensor1D;
        const beta = this.weights.get(`${c.bn}/beta`)! as tf.Tensor1D;
        const movingMean = this.weights.get(`${c.bn}/moving_mean`)! as tf.Tensor1D;
        const movingVariance = this.weights.get(`${c.bn}/moving_variance`)! as tf.Tensor1D;
        if (fusedForward && !want.has(c.name) && !want.has(c.bn)) {
          if (training) {
            const r = batchNormTrain(tf.conv2d(h, kernel, 1, 'same'), gamma, beta, eps, { relu: true, bias });
            batchStats.push({ bn: c.bn, mean: r.mean, variance: r.variance, count: r.y.size / c.outChannels });
            h = r.y as tf.Tensor4D;
          } else {
            const [k, b] = foldBatchNorm(kernel, bias, gamma, beta, movingMean, movingVariance, eps);
            h = tf.fused.conv2d({ x: h, filter: k, strides: 1, pad: 'same', bias: b, activation: 'relu' });
          }
          keep(c.relu, h);
          continue;
        }
        const conv = tf.add(tf.conv2d(h, kernel, 1, 'same'), bias) as tf.Tensor4D;
        keep(c.name, conv);
        let normed: tf.Tensor4D;
        if (training) {
          const r = batchNormTrain(conv, gamma, beta, eps);
          normed = r.y as tf.Tensor4D;
          batchStats.push({ bn: c.bn, mean: r.mean, variance: r.variance, count: conv.size / c.outChannels });
        } else {
          normed = tf.batchNorm4d(conv, movingMean, movingVariance, beta, gamma, eps);
        }
        keep(c.bn, normed);
        h = tf.relu(normed);
        keep(c.relu, h);
      }
      h = tf.maxPool(h, 2, 2, 'valid');
      keep(this.layout.pools[bi].name, h);
    });
    let flat = tf.reshape(h, [h.shape[0], this.layout.denseIn]) as tf.Tensor2D;
    let dropoutMask: tf.Tensor2D | undefined;
    if (training && this.config.dropout > 0) {
      dropoutMask = opts.dropoutMask ?? this.dropoutMask(h.shape[0], opts.rng ?? new Rng(Date.now()));
      flat = tf.mul(flat, dropoutMask);
    }
    keep('dropout', flat);
    const logits = tf.add(tf.matMul(flat, this.weights.get('fc/kernel')! as tf.Tensor2D), this.weights.get('fc/bias')!) as tf.Tensor2D;
    return { logits, activations, batchStats, dropoutMask };
  }

  /**
   * PyTorch BatchNorm moving-average update: m ← (1−μ)m + μ·mean, v ← (1−μ)v + μ·var·n/(n−1)
   * (unbiased variance for the moving statistic, biased for normalising, as the spec requires).
   */
  updateMovingStatistics(stats: readonly BatchStat[]): void {
    const mu = this.config.bnMomentum;
    tf.tidy(() => {
      for (const s of stats) {
        const m = this.weights.get(`${s.bn}/moving_mean`)!;
        const v = this.weights.get(`${s.bn}/moving_variance`)!;
        const unbias = s.count > 1 ? s.count / (s.count - 1) : 1;
        m.assign(tf.add(tf.mul(m, 1 - mu), tf.mul(s.mean, mu)));
        v.assign(tf.add(tf.mul(v, 1 - mu), tf.mul(s.variance, mu * unbias)));
      }
    });
  }

  /** Logits in inference mode for a batch, as a plain array (convenience for evaluation). */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x).logits);
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
  }
}

let idCounter = 0;
function nextId(): number {
  return ++idCounter;
}
