/**
 * The one contract every dataset implements (procedural `shapes`, `mnist-multi`, VOC).
 *
 * Images are NHWC float32 in [0,1] before normalisation; `normalize` maps them to network input.
 * Masks are class-index maps like VOC's SegmentationClass: 0 = background, k+1 = class k,
 * 255 = void. Keeping one index map (rather than one binary mask per class) lets the pointing
 * game and ROC-AUC treat "other class" and "background" exactly as the evaluation spec says.
 */
export type SplitName = 'train' | 'val' | 'test';

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
}

export interface Dataset {
  readonly info: DatasetInfo;
  /** Number of samples in a split. */
  size(split: SplitName): number;
  /** Sample i of a split; deterministic (same seed → same pixels). */
  get(split: SplitName, index: number): Sample;
}
