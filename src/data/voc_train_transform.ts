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
import type { RgbImage } from './voc_decode.js';
import { resizeBilinearAntialias } from './voc_resize.js';

/** Pixel crop box. */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

export const VOC_CROP_SCALE: readonly [number, number] = [0.08, 1];
export const VOC_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/** Draws the random-resized-crop box of voc-protocol.md §4 step 1 for a W×H image. */
export function vocRandomCropBox(W: number, H: number, rng: Rng): CropBox {
  const area = W * H;
  const [lo, hi] = VOC_CROP_RATIO;
  for (let t = 0; t < 10; t++) {
    const f = rng.uniform(VOC_CROP_SCALE[0], VOC_CROP_SCALE[1]);
    const r = Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
    const w = Math.round(Math.sqrt(f * area * r));
    const h = Math.round(Math.sqrt((f * area) / r));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const top = rng.int(H - h + 1);
      const left = rng.int(W - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  return vocCentreCropBox(W, H);
}

/** The fallback centred crop of voc-protocol.md §4. */
export function vocCentreCropBox(W: number, H: number): CropBox {
  const [lo, hi] = VOC_CROP_RATIO;
  let w = W;
  let h = H;
  if (W / H < lo) {
    w = W;
    h = Math.round(W / lo);
  } else if (W / H > hi) {
    h = H;
    w = Math.round(H * hi);
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
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
 * uint8 RGB and what was drawn (for tests and debugging).
 */
export function vocTrainTransform(img: RgbImage, size: number, rng: Rng): { data: Uint8Array; box: CropBox; flipped: boolean } {
  const box = vocRandomCropBox(img.width, img.height, rng);
  const crop = cropRgb(img, box);
  const data = resizeBilinearAntialias(crop.data, crop.width, crop.height, 3, size, size);
  const flipped = rng.next() < 0.5;
  if (flipped) flipRgbInPlace(data, size, size);
  return { data, box, flipped };
}
