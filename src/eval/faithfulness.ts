/**
 * Faithfulness of attribution maps: deletion and insertion curves (Petsiuk et al., RISE 2018)
 * with a blurred-image or ROAD-style imputed baseline (Rong et al., ROAD 2022).
 *
 * For a pair (image x, class c) and its map H at the input resolution, pixels are ranked by H,
 * largest first (ties: row-major order). At step k of `steps` the top m_k = round(k·HW/steps)
 * pixels are
 * - deletion: replaced by the baseline (the curve should fall fast: low AUC is better);
 * - insertion: taken from x, every other pixel from the baseline (should rise fast: high AUC).
 * The score is the class probability σ(z_c) of the model on the modified image. The AUC is the
 * trapezoid area of the curve over the removed/inserted fraction 0..1.
 *
 * Baselines:
 * - 'blur': a separable Gaussian blur of x (σ = `blurSigma` px, radius ⌈3σ⌉, symmetric padding,
 *   kernel normalised to sum 1). Deleting every pixel gives exactly the blurred image.
 * - 'road': noisy linear imputation. Every removed pixel becomes the weighted mean of its 8
 *   neighbours (weights 1/6 direct, 1/12 diagonal, as in ROAD), solved approximately by
 *   `roadIterations` Jacobi sweeps started from the mean of the kept pixels (the exact sparse
 *   solve of ROAD is replaced by sweeps so that it runs batched), plus Gaussian noise of standard
 *   deviation `roadNoise` (input units) on the imputed pixels. It removes the information in the
 *   mask's shape that a constant or blurred fill leaks (ROAD §3).
 *
 * Pure functions of tensors and a logits callable: the model is whatever `logitsOf` computes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/random.js';
import { argsortAscending } from './ranks.js';

export type FaithfulnessBaseline = 'blur' | 'road';

export interface FaithfulnessOptions {
  /** Equal steps from 0 to 100 % of the pixels (default 20, i.e. 5 % each). */
  readonly steps?: number;
  /** What removed pixels become (default 'blur'). */
  readonly baseline?: FaithfulnessBaseline;
  /** Blur σ in pixels (default: width/16, i.e. 4 px at 64 px and 14 px at 227 px). */
  readonly blurSigma?: number;
  /** ROAD: standard deviation of the noise on imputed pixels, in the input's units (default 0.2). */
  readonly roadNoise?: number;
  /** ROAD: Jacobi sweeps of the neighbour-mean imputation (default 32). */
  readonly roadIterations?: number;
  /** ROAD: seed of the noise stream. */
  readonly seed?: number;
}

export const DEFAULT_FAITHFULNESS_STEPS = 20;

/** Per pair, the scores σ(z_c) at fractions 0, 1/steps, …, 1 (length steps + 1). */
export interface FaithfulnessCurves {
  readonly deletion: Float64Array[];
  readonly insertion: Float64Array[];
}

export interface FaithfulnessResult {
  /** Trapezoid area of the mean deletion curve over fraction 0..1 (lower is better). */
  readonly deletionAuc: number;
  /** Trapezoid area of the mean insertion curve (higher is better). */
  readonly insertionAuc: number;
  readonly steps: number;
  readonly baseline: FaithfulnessBaseline;
  readonly nPairs: number;
  /** Mean over pairs of σ(z_c) at fractions k/steps, k = 0..steps (for plots). */
  readonly deletionCurve: number[];
  readonly insertionCurve: number[];
}

function resolvedSteps(options: FaithfulnessOptions): number {
  const steps = options.steps ?? DEFAULT_FAITHFULNESS_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`faithfulness: steps must be a positive integer, got ${steps}`);
  return steps;
}

/** The default blur σ for an image width (RISE blurs 224-px images; this is stronger, see README). */
export function defaultBlurSigma(width: number): number {
  return width / 16;
}

/** Normalised 1-D Gaussian taps for σ (radius ⌈3σ⌉, capped so symmetric padding stays valid). */
function gaussianTaps(sigma: number, maxRadius: number): Float32Array {
  const radius = Math.max(0, Math.min(Math.ceil(3 * sigma), maxRadius));
  const taps = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += (taps[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma)));
  for (let i = 0; i < taps.length; i++) taps[i] /= sum;
  return taps;
}

/**
 * Separable Gaussian blur of NHWC images (σ in pixels, symmetric padding, so a constant image
 * stays constant). Caller owns the result.
 */
export function gaussianBlur(images: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (!(sigma > 0)) throw new RangeError(`gaussianBlur: sigma must be > 0, got ${sigma}`);
  const [, h, w, ch] = images.shape;
  return tf.tidy(() => {
    const ty = gaussianTaps(sigma, h);
    const tx = gaussianTaps(sigma, w);
    const ry = (ty.length - 1) / 2;
    const rx = (tx.length - 1) / 2;
    const ky = tf.tile(tf.tensor4d(ty, [ty.length, 1, 1, 1]), [1, 1, ch, 1]) as tf.Tensor4D;
    const kx = tf.tile(tf.tensor4d(tx, [1, tx.length, 1, 1]), [1, 1, ch, 1]) as tf.Tensor4D;
    const padY = tf.mirrorPad(images, [[0, 0], [ry, ry], [0, 0], [0, 0]], 'symmetric');
    const colBlur = tf.depthwiseConv2d(padY, ky, 1, 'valid');
    const padX = tf.mirrorPad(colBlur, [[0, 0], [0, 0], [rx, rx], [0, 0]], 'symmetric');
    return tf.depthwiseConv2d(padX, kx, 1, 'valid');
  });
}

/** ROAD's neighbour weights: 1/6 for the 4 direct, 1/12 for the 4 diagonal neighbours. */
const ROAD_KERNEL = [1 / 12, 1 / 6, 1 / 12, 1 / 6, 0, 1 / 6, 1 / 12, 1 / 6, 1 / 12];

/**
 * Noisy linear imputation: pixels where `removed` = 1 ([B,H,W,1]) are filled with the
 * neighbour-weighted mean (Jacobi sweeps, see the file comment) plus `noise` ([B,H,W,C]); kept
 * pixels are exactly `images`'. Caller owns the result.
 */
export function noisyLinearImputation(images: tf.Tensor4D, removed: tf.Tensor4D, noise: tf.Tensor4D, iterations: number): tf.Tensor4D {
  const ch = images.shape[3];
  return tf.tidy(() => {
    const kept = tf.sub(1, removed);
    const keptSum = tf.sum(tf.mul(images, kept), [1, 2], true);
    const keptCount = tf.sum(kept, [1, 2], true);
    const start = tf.divNoNan(keptSum, keptCount); // per image and channel; 0 when nothing is kept
    const known = tf.mul(images, kept);
    let v = tf.add(known, tf.mul(start, removed)) as tf.Tensor4D;
    const k = tf.tile(tf.tensor4d(ROAD_KERNEL, [3, 3, 1, 1]), [1, 1, ch, 1]) as tf.Tensor4D;
    for (let it = 0; it < iterations; it++) {
      const mean = tf.depthwiseConv2d(tf.mirrorPad(v, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric'), k, 1, 'valid');
      v = tf.add(known, tf.mul(mean, removed)) as tf.Tensor4D;
    }
    return tf.add(v, tf.mul(noise, removed)) as tf.Tensor4D;
  });
}

/**
 * Per pair, the rank of every pixel in descending map order (0 = the largest value; ties in
 * row-major order). Throws naming the pair if a map has NaN or the wrong length.
 */
export function descendingRanks(map: ArrayLike<number>, pixels: number, pair = 0): Int32Array {
  if (map.length !== pixels) throw new RangeError(`faithfulness: map ${pair} has ${map.length} values, the images have ${pixels} pixels`);
  const negated = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    if (Number.isNaN(map[p])) throw new RangeError(`faithfulness: map ${pair} has NaN at pixel ${p}`);
    negated[p] = -map[p];
  }
  const order = argsortAscending(negated);
  const rank = new Int32Array(pixels);
  for (let r = 0; r < pixels; r++) rank[order[r]] = r;
  return rank;
}

/** Pixels changed at step k of `steps` for `pixels` pixels. */
export function pixelsAtStep(k: number, steps: number, pixels: number): number {
  return Math.round((k * pixels) / steps);
}

/**
 * Deletion and insertion curves for a batch of pairs: `images` [P,H,W,C] (the model's input
 * space), `maps[i]` H·W row-major for image i, `classIndices[i]` its class. One forward of 2P
 * images per step (deletion and insertion together); `logitsOf` returns [2P, K] logits and is
 * called inside a tidy.
 */
export function faithfulnessCurves(
  logitsOf: (x: tf.Tensor4D) => tf.Tensor2D,
  images: tf.Tensor4D,
  maps: readonly ArrayLike<number>[],
  classIndices: readonly number[],
  options: FaithfulnessOptions = {},
): FaithfulnessCurves {
  const steps = resolvedSteps(options);
  const [n, h, w, ch] = images.shape;
  if (maps.length !== n || classIndices.length !== n) {
    throw new RangeError(`faithfulness: ${n} images, ${maps.length} maps and ${classIndices.length} class indices`);
  }
  const pixels = h * w;
  const rankValues = new Float32Array(n * pixels);
  maps.forEach((m, i) => rankValues.set(descendingRanks(m, pixels, i), i * pixels));
  const baselineKind = options.baseline ?? 'blur';
  if (baselineKind !== 'blur' && baselineKind !== 'road') throw new RangeError(`faithfulness: baseline must be 'blur' or 'road', got '${String(baselineKind)}'`);
  const iterations = options.roadIterations ?? 32;
  if (!Number.isInteger(iterations) || iterations < 0) throw new RangeError(`faithfulness: roadIterations must be an integer ≥ 0, got ${iterations}`);
  const noiseStd = options.roadNoise ?? 0.2;
  const rng = new Rng(options.seed ?? 0);
  const deletion = Array.from({ length: n }, () => new Float64Array(steps + 1));
  const insertion = Array.from({ length: n }, () => new Float64Array(steps + 1));
  const rank = tf.tensor4d(rankValues, [n, h, w, 1]);
  const blurred = baselineKind === 'blur' ? gaussianBlur(images, options.blurSigma ?? defaultBlurSigma(w)) : undefined;
  try {
    for (let k = 0; k <= steps; k++) {
      const m = pixelsAtStep(k, steps, pixels);
      const scores = tf.tidy(() => {
        const top = tf.cast(tf.less(rank, m), 'float32') as tf.Tensor4D; // 1 on the m highest-ranked pixels
        const rest = tf.sub(1, top) as tf.Tensor4D;
        let del: tf.Tensor4D;
        let ins: tf.Tensor4D;
        if (blurred) {
          del = tf.add(tf.mul(images, rest), tf.mul(blurred, top)) as tf.Tensor4D;
          ins = tf.add(tf.mul(images, top), tf.mul(blurred, rest)) as tf.Tensor4D;
        } else {
          const noise = () => tf.tensor4d(Float32Array.from({ length: n * pixels * ch }, () => noiseStd * rng.normal()), [n, h, w, ch]);
          del = noisyLinearImputation(images, top, noise(), iterations);
          ins = noisyLinearImputation(images, rest, noise(), iterations);
        }
        const logits = logitsOf(tf.concat([del, ins]) as tf.Tensor4D);
        const numClasses = logits.shape[1];
        const oneHot = tf.oneHot(tf.tensor1d([...classIndices, ...classIndices], 'int32'), numClasses);
        return tf.sigmoid(tf.sum(tf.mul(logits, tf.cast(oneHot, 'float32')), 1));
      });
      const s = scores.dataSync();
      scores.dispose();
      for (let i = 0; i < n; i++) {
        deletion[i][k] = s[i];
        insertion[i][k] = s[n + i];
      }
    }
  } finally {
    tf.dispose([rank, ...(blurred ? [blurred] : [])]);
  }
  return { deletion, insertion };
}

/** Trapezoid area of a curve sampled at equal steps over [0, 1]. */
export function curveAuc(curve: ArrayLike<number>): number {
  const steps = curve.length - 1;
  if (steps < 1) throw new RangeError('curveAuc: a curve needs at least 2 points');
  let area = 0;
  for (let k = 0; k < steps; k++) area += (curve[k] + curve[k + 1]) / 2;
  return area / steps;
}

function meanCurve(curves: readonly Float64Array[], length: number): number[] {
  const out = new Array<number>(length).fill(curves.length ? 0 : NaN);
  for (const c of curves) for (let k = 0; k < length; k++) out[k] += c[k] / curves.length;
  return out;
}

/**
 * Mean curves and their AUCs over all pairs (the AUC of the mean curve equals the mean of the
 * per-pair AUCs: the trapezoid rule is linear). NaN AUCs when there are no pairs.
 */
export function summarizeFaithfulness(curves: FaithfulnessCurves, options: FaithfulnessOptions = {}): FaithfulnessResult {
  const steps = resolvedSteps(options);
  const deletionCurve = meanCurve(curves.deletion, steps + 1);
  const insertionCurve = meanCurve(curves.insertion, steps + 1);
  const nPairs = curves.deletion.length;
  return {
    deletionAuc: nPairs ? curveAuc(deletionCurve) : NaN,
    insertionAuc: nPairs ? curveAuc(insertionCurve) : NaN,
    steps, baseline: options.baseline ?? 'blur', nPairs, deletionCurve, insertionCurve,
  };
}

/** Concatenates the curves of several batches (in order). */
export function concatCurves(parts: readonly FaithfulnessCurves[]): FaithfulnessCurves {
  return { deletion: parts.flatMap((p) => p.deletion), insertion: parts.flatMap((p) => p.insertion) };
}
