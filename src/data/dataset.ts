/**
 * The one contract every dataset implements (procedural `shapes`, `mnist-multi`, VOC).
 *
 * Images are NHWC float32 in [0,1] before normalisation; `normalize` maps them to network input.
 * Masks are class-index maps like VOC's SegmentationClass: 0 = background, k+1 = class k,
 * 255 = void. Keeping one index map (rather than one binary mask per class) lets the pointing
 * game and ROC-AUC treat "other class" and "background" exactly as the evaluation spec says.
 */
import type { Rng } from '../engine/random.js';

export type SplitName = 'train' | 'val' | 'test';

/** Every split, in order. */
export const SPLIT_NAMES: readonly SplitName[] = Object.freeze(['train', 'val', 'test']);

/** Throws `<dataset>: unknown split …` unless `split` is a SplitName (a guard for untyped callers). */
export function checkSplit(dataset: string, split: SplitName): void {
  if (!SPLIT_NAMES.includes(split)) throw new Error(`${dataset}: unknown split "${String(split)}" (expected train, val or test)`);
}

/** Throws a RangeError naming the dataset unless `index` is an integer in [0, size). */
export function checkIndex(dataset: string, split: SplitName, index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`${dataset}: index ${index} out of range for split "${split}" (size ${size})`);
  }
}

/** Random-resized-crop range and flip probability of a dataset's own train transform. */
export interface TrainCrop {
  /** Area fraction range of the crop. */
  readonly scale: readonly [number, number];
  /** Aspect-ratio range (w/h). */
  readonly ratio: readonly [number, number];
  /** Horizontal flip probability. */
  readonly flip: number;
}

export interface Sample {
  /** Stable id, e.g. `shapes-test-000123`. */
  readonly id: string;
  /** H·W·3 float32 in [0,1], row-major NHWC without the batch axis. */
  readonly image: Float32Array;
  /** Multi-hot label of length `classNames.length`. */
  readonly label: Float32Array;
  /** H·W class-index map (0 background, k+1 class k, 255 void), when the split has masks. */
  readonly mask?: Uint8Array;
}

export interface DatasetInfo {
  readonly name: string;
  readonly classNames: readonly string[];
  readonly height: number;
  readonly width: number;
  /** Per-channel mean/std applied by `normalize` (x − mean)/std. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** 'bgr': `normalize` reverses the channels first (a model that expects caffe-style input). Default 'rgb'. */
  readonly channelOrder?: 'rgb' | 'bgr';
  /**
   * Which split each evaluation group runs on (see `evalSplitsOf`). Absent: both on 'test'.
   * VOC: prediction metrics on Main val ('val'), localisation on Segmentation val ('test'),
   * as evaluation.md §1–§2 prescribe.
   */
  readonly evalSplits?: EvalSplits;
}

/** Where `evaluateModel` / `apc evaluate` compute each group of metrics. */
export interface EvalSplits {
  /** mAP, F1 … (evaluation.md §1). */
  readonly prediction: SplitName;
  /** Localisation and teacher–student agreement; this split must have masks (§2–§3). */
  readonly localization: SplitName;
}

/** The default of datasets that do not say: prediction and localisation both on 'test'. */
export const DEFAULT_EVAL_SPLITS: EvalSplits = Object.freeze({ prediction: 'test', localization: 'test' });

/** A dataset's evaluation splits (`info.evalSplits`, else `DEFAULT_EVAL_SPLITS`). */
export function evalSplitsOf(data: Pick<Dataset, 'info'>): EvalSplits {
  return data.info.evalSplits ?? DEFAULT_EVAL_SPLITS;
}

export interface Dataset {
  readonly info: DatasetInfo;
  /** Number of samples in a split. */
  size(split: SplitName): number;
  /** Sample i of a split; deterministic (same seed → same pixels). */
  get(split: SplitName, index: number): Sample;
  /**
   * Optional: the dataset's own training transform of train sample `index`, drawing its
   * randomness from `rng` (new draws every call). Same H×W×3 [0,1] layout and label length as
   * `get`. When present, `hostBatch` uses it for every augmented 'train' batch instead of the
   * generic crop/flip of the already-resized `get` image, passing the recipe's crop range and
   * flip probability as `crop`. VOC: a random resized crop of the original-size image + flip
   * (voc-protocol.md §4; without `crop` the reference's area 8–100 %, aspect 3/4–4/3, flip ½).
   * Absent (shapes, mnist-multi): the generic path.
   */
  trainSample?(index: number, rng: Rng, crop?: TrainCrop): Sample;
  /**
   * Optional: per image and class, 1 when the class is present and every object of it is
   * difficult, N×K row-major over the whole split (evaluation.md §1 `Dif`). Only the headline
   * `mAP` uses it (those pairs are left out of the class's ranked list); `mAP_raw`, the per-image
   * AP and F1 count them as positives. Absent: nothing is difficult.
   */
  difficultOnly?(split: SplitName): Float32Array;
}
