/**
 * The random-resized-crop box (torchvision RandomResizedCrop, as the reference uses it): up to 10
 * tries of an area fraction uniform in `scale` and a log-uniform aspect ratio in `ratio`; if none
 * fits, a centred crop clamped to the ratio range. One algorithm for the generic batch
 * augmentation (src/train/batches.ts) and VOC's own transform (voc_train_transform.ts).
 */
import type { Rng } from '../engine/random.js';

/** Pixel crop box. */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

export interface CropRange {
  readonly scale: readonly [number, number];
  readonly ratio: readonly [number, number];
}

/** Draws a crop box for an H×W image (draw order: area, log-ratio per try, then top, left). */
export function randomResizedCropBox(H: number, W: number, range: CropRange, rng: Rng): CropBox {
  const area = H * W;
  for (let t = 0; t < 10; t++) {
    const f = rng.uniform(range.scale[0], range.scale[1]);
    const r = Math.exp(rng.uniform(Math.log(range.ratio[0]), Math.log(range.ratio[1])));
    const w = Math.round(Math.sqrt(f * area * r));
    const h = Math.round(Math.sqrt((f * area) / r));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const top = rng.int(H - h + 1);
      const left = rng.int(W - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  return centredCropBox(H, W, range);
}

/** The fallback: the whole image, cut to the nearest aspect ratio inside `range.ratio`, centred. */
export function centredCropBox(H: number, W: number, range: Pick<CropRange, 'ratio'>): CropBox {
  const [lo, hi] = range.ratio;
  let w = W;
  let h = H;
  if (W / H < lo) h = Math.round(W / lo);
  else if (W / H > hi) w = Math.round(H * hi);
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}
