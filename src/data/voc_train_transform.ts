/**
 * The reference's VOC training transform (voc-protocol.md §4), on the original-size image:
 * random resized crop (area 8–100 %, log-uniform aspect 3/4–4/3, up to 10 tries, else a centred
 * crop), resized to the model size with the antialiased bilinear resampler, then a horizontal
 * flip with probability ½. Normalisation is left to the batch code (`info.mean`/`info.std`).
 *
 * The reference also draws an unused random scale per sample (quirk V4); it changes only the
 * random stream, so it is not reproduced.
 */
import type { Rng } from '../engine/random.js';
import type { TrainCrop } from './dataset.js';
import type { RgbImage } from './voc_decode.js';
import { centredCropBox, type CropBox, type CropRange, randomResizedCropBox } from './random_resized_crop.js';
import { resizeBilinearAntialias } from './voc_resize.js';

export type { CropBox } from './random_resized_crop.js';

export const VOC_CROP_SCALE: readonly [number, number] = [0.08, 1];
export const VOC_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];
const VOC_CROP: CropRange = { scale: VOC_CROP_SCALE, ratio: VOC_CROP_RATIO };
/** The reference's crop range and flip probability (voc-protocol.md §4). */
export const VOC_TRAIN_CROP: TrainCrop = { scale: VOC_CROP_SCALE, ratio: VOC_CROP_RATIO, flip: 0.5 };

/** Draws the random-resized-crop box of voc-protocol.md §4 step 1 for a W×H image. */
export function vocRandomCropBox(W: number, H: number, rng: Rng): CropBox {
  return randomResizedCropBox(H, W, VOC_CROP, rng);
}

/** The fallback centred crop of voc-protocol.md §4. */
export function vocCentreCropBox(W: number, H: number): CropBox {
  return centredCropBox(H, W, VOC_CROP);
}

/** Copies a crop out of an RGB image. */
export function cropRgb(img: RgbImage, box: CropBox): RgbImage {
  const { top, left, height, width } = box;
  if (top < 0 || left < 0 || top + height > img.height || left + width > img.width || height <= 0 || width <= 0) {
    throw new RangeError(`cropRgb: box ${JSON.stringify(box)} outside ${img.width}×${img.height}`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** Mirrors an RGB image left–right in place. */
export function flipRgbInPlace(data: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let a = 0, b = width - 1; a < b; a++, b--) {
      for (let c = 0; c < 3; c++) {
        const t = data[row + a * 3 + c];
        data[row + a * 3 + c] = data[row + b * 3 + c];
        data[row + b * 3 + c] = t;
      }
    }
  }
}

/**
 * Training transform of one original-size image: crop box, resize to size×size, flip. Returns
 * uint8 RGB and what was drawn (for tests and debugging). `range` defaults to the reference's
 * (VOC_TRAIN_CROP); the from-scratch recipes narrow the crop's area range.
 */
export function vocTrainTransform(img: RgbImage, size: number, rng: Rng, range: TrainCrop = VOC_TRAIN_CROP): { data: Uint8Array; box: CropBox; flipped: boolean } {
  const box = randomResizedCropBox(img.height, img.width, range, rng);
  const crop = cropRgb(img, box);
  const data = resizeBilinearAntialias(crop.data, crop.width, crop.height, 3, size, size);
  const flipped = rng.next() < range.flip;
  if (flipped) flipRgbInPlace(data, size, size);
  return { data, box, flipped };
}
