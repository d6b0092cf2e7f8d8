/**
 * Heat-map pictures as plain RGBA buffers (no tfjs): normalise a map, blend it over its image
 * with a colormap, outline a mask, put panels side by side with labels, encode as PNG.
 * Used by `apc explain` and the HTML report.
 *
 * Images are H·W·3 float32 in [0,1] (the datasets' `Sample.image` layout); maps are H·W; masks
 * are H·W with 1 = inside. Outputs are RGBA bytes, row-major, alpha 255.
 */
import { PNG } from 'pngjs';
import { minMaxNormalize } from '../eval/agreement.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap_font.js';
import { colormapLut, DEFAULT_COLORMAP, lutIndex } from './colormap.js';

export interface RgbaImage {
  /** width·height·4 bytes, row-major RGBA. */
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type Rgb = [number, number, number];

/**
 * Per-map min–max scaling to [0,1] (`minMaxNormalize`, evaluation spec §2.3) after clipping
 * negatives to 0; a constant map (incl. all ≤ 0) gives zeros, non-finite values count as 0.
 * Returns a new array.
 *
 * Why clip: the pictures show positive evidence for the class, which is what the spec's maps
 * keep. Grad-CAM and EBP end in ReLU / max(·,0), RAP keeps max(map,0), and LRP's z⁺/z^B
 * relevance is ≥ 0 whenever z_c > 0 (attribution spec §1–§4), so for them clipping changes
 * nothing but rounding noise. The signed gradient maps (IG, Gradient × Input) would otherwise
 * spend half the colour range on negative evidence and shift their zero with every image.
 */
export function normalizeMap(map: Float32Array): Float32Array {
  return minMaxNormalize(map.map((v) => (v > 0 && Number.isFinite(v) ? v : 0)));
}

/** The outline mask of one class in a segmentation mask (class k is stored as k + 1): 1 inside. */
export function classOutline(mask: ArrayLike<number>, classIndex: number): Uint8Array {
  return Uint8Array.from(mask, (v) => (v === classIndex + 1 ? 1 : 0));
}

export interface OverlayOptions {
  /** H·W·3 in [0,1] (values outside are clamped). */
  readonly image: Float32Array;
  /** H·W heat-map in [0,1] (see `normalizeMap`; clamped); omitted → the image alone. */
  readonly map?: Float32Array;
  readonly height: number;
  readonly width: number;
  /** Heat-map opacity in [0,1]: out = (1 − alpha)·image + alpha·colormap(map). Default 0.5. */
  readonly alpha?: number;
  /** 'turbo' (default), 'viridis', 'inferno' or 'gray'. */
  readonly colormap?: string;
  /** H·W mask (non-zero = inside); its inner boundary is drawn 1 output pixel wide. */
  readonly outline?: Uint8Array;
  /** Outline colour, default white. */
  readonly outlineRgb?: Rgb;
  /** Integer nearest-neighbour upscale factor ≥ 1, default 1. */
  readonly scale?: number;
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

/**
 * The image with the heat-map blended on top (per channel, rounded to bytes) and a 1-px outline
 * of the mask. The outline is computed after upscaling: an output pixel inside the mask is on
 * the outline iff one of its 4 neighbours is outside the mask; pixels beyond the image border
 * count as outside, so a mask touching the border is closed there.
 */
export function renderOverlay(opts: OverlayOptions): RgbaImage {
  const { image, map, height: H, width: W, outline } = opts;
  const alpha = opts.alpha ?? 0.5;
  const scale = opts.scale ?? 1;
  check(Number.isInteger(H) && H > 0 && Number.isInteger(W) && W > 0, `renderOverlay: height and width must be positive integers, got ${H}×${W}`);
  check(image.length === H * W * 3, `renderOverlay: image has ${image.length} values, expected H·W·3 = ${H * W * 3}`);
  check(!map || map.length === H * W, `renderOverlay: map has ${map?.length} values, expected H·W = ${H * W}`);
  check(!outline || outline.length === H * W, `renderOverlay: outline has ${outline?.length} values, expected H·W = ${H * W}`);
  check(alpha >= 0 && alpha <= 1, `renderOverlay: alpha must be in [0, 1], got ${alpha}`);
  check(Number.isInteger(scale) && scale >= 1, `renderOverlay: scale must be an integer ≥ 1, got ${scale}`);
  const lut = colormapLut(opts.colormap ?? DEFAULT_COLORMAP);
  const oh = H * scale, ow = W * scale;
  const rgba = new Uint8Array(oh * ow * 4);
  const px = new Uint8Array(3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const li = map ? 3 * lutIndex(map[i]) : 0;
      for (let ch = 0; ch < 3; ch++) {
        const v = Math.min(1, Math.max(0, image[3 * i + ch] || 0)) * 255;
        px[ch] = Math.round(map ? (1 - alpha) * v + alpha * lut[li + ch] : v);
      }
      for (let dy = 0; dy < scale; dy++) {
        let o = 4 * ((y * scale + dy) * ow + x * scale);
        for (let dx = 0; dx < scale; dx++, o += 4) {
          rgba[o] = px[0]; rgba[o + 1] = px[1]; rgba[o + 2] = px[2]; rgba[o + 3] = 255;
        }
      }
    }
  }
  if (outline) {
    const [r, g, b] = opts.outlineRgb ?? [255, 255, 255];
    const inside = (yy: number, xx: number) =>
      yy >= 0 && yy < oh && xx >= 0 && xx < ow && outline[Math.floor(yy / scale) * W + Math.floor(xx / scale)] !== 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        if (!inside(y, x)) continue;
        if (inside(y - 1, x) && inside(y + 1, x) && inside(y, x - 1) && inside(y, x + 1)) continue;
        const o = 4 * (y * ow + x);
        rgba[o] = r; rgba[o + 1] = g; rgba[o + 2] = b;
      }
    }
  }
  return { rgba, width: ow, height: oh };
}

export interface ComposeOptions {
  /** Pixels between panels (and around labels), default 4. */
  readonly gap?: number;
  /** One label per panel, drawn above it with the built-in 5×7 font; clipped to the panel width. */
  readonly labels?: readonly string[];
  /** Background (gaps, label strip, below shorter panels), default white. */
  readonly background?: Rgb;
  /** Integer size of the label font; default 2 if every label fits its panel at 2, else 1. */
  readonly labelScale?: number;
}

/** Height of the label strip for a font scale: the glyphs plus `gap` above and below. */
export function labelStripHeight(labelScale: number, gap: number): number {
  return GLYPH_HEIGHT * labelScale + 2 * gap;
}

/** The font scale `composePanels` picks when `labelScale` is not given (larger text crowds the strip). */
export function autoLabelScale(panels: readonly { width: number }[], labels: readonly string[]): number {
  for (let s = 2; s > 1; s--) {
    if (labels.every((l, i) => textWidth(l, s) <= panels[i].width)) return s;
  }
  return 1;
}

/**
 * Panels side by side, top-aligned: width = Σ widths + gap·(n − 1), height = max height (+ a
 * label strip of `labelStripHeight(scale, gap)` on top when labels are given). Label text is black
 * on light backgrounds and white on dark ones.
 */
export function composePanels(panels: readonly RgbaImage[], opts: ComposeOptions = {}): RgbaImage {
  check(panels.length > 0, 'composePanels: no panels');
  const gap = opts.gap ?? 4;
  check(Number.isInteger(gap) && gap >= 0, `composePanels: gap must be an integer ≥ 0, got ${gap}`);
  const labels = opts.labels;
  check(!labels || labels.length === panels.length, `composePanels: ${labels?.length} labels for ${panels.length} panels`);
  panels.forEach((p, i) => check(p.rgba.length === p.width * p.height * 4, `composePanels: panel ${i} has ${p.rgba.length} bytes, expected ${p.width}×${p.height}×4`));
  const bg = opts.background ?? [255, 255, 255];
  const labelScale = labels ? opts.labelScale ?? autoLabelScale(panels, labels) : 0;
  check(!labels || (Number.isInteger(labelScale) && labelScale >= 1), `composePanels: labelScale must be an integer ≥ 1, got ${labelScale}`);
  const top = labels ? labelStripHeight(labelScale, gap) : 0;
  const width = panels.reduce((s, p) => s + p.width, 0) + gap * (panels.length - 1);
  const height = top + Math.max(...panels.map((p) => p.height));
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = bg[0]; rgba[i + 1] = bg[1]; rgba[i + 2] = bg[2]; rgba[i + 3] = 255;
  }
  const ink: Rgb = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] >= 128 ? [0, 0, 0] : [255, 255, 255];
  let left = 0;
  panels.forEach((p, k) => {
    for (let y = 0; y < p.height; y++) {
      rgba.set(p.rgba.subarray(4 * y * p.width, 4 * (y + 1) * p.width), 4 * ((top + y) * width + left));
    }
    if (labels) drawText(rgba, width, height, labels[k], left, gap, ink, labelScale, p.width);
    left += p.width + gap;
  });
  return { rgba, width, height };
}

/** PNG bytes (8-bit RGBA) of an image. */
export function encodePng(img: RgbaImage): Buffer {
  check(img.rgba.length === img.width * img.height * 4, `encodePng: ${img.rgba.length} bytes for ${img.width}×${img.height} RGBA`);
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.rgba.buffer, img.rgba.byteOffset, img.rgba.byteLength);
  return PNG.sync.write(png);
}
