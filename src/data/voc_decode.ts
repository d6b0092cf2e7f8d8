/**
 * Decoding of VOC files with the installed codecs (jpeg-js, pngjs). Every failure, whatever the
 * decoder throws, becomes a BadInputError naming the file.
 *
 * Masks: pngjs expands palette PNGs to RGBA and does not return the indices, so for a palette PNG
 * the indices are recovered by inverting the file's own palette (exact when its colours are
 * distinct, as in VOC's 256-entry colormap); otherwise — or for RGB/RGBA masks — colours are
 * mapped through the VOC table of voc-protocol.md §2 (void (224,224,192) → 255; any other colour is
 * an error). 8-bit greyscale masks (as in converted "SegmentationClassAug"-style sets) are read as
 * indices. Every index must be 0–K (K = 20 classes, or the tree's classes.txt) or 255.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { BadInputError, describeThrown } from './bad_input.js';
import { checkPngDataLength } from './png_data_check.js';
import { VOC_NUM_CLASSES, VOC_PALETTE, VOC_VOID, VOC_VOID_COLOUR } from './voc_annotations.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width·height·3 bytes, row-major RGB. */
  readonly data: Uint8Array;
}

export interface IndexMap {
  readonly width: number;
  readonly height: number;
  /** width·height class indices (0 background, 1–20 classes, 255 void). */
  readonly data: Uint8Array;
}

export interface DecodeLimits {
  /** Refuse images above this many megapixels (bounds time and memory on a corrupt header). */
  readonly maxMegapixels: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxMegapixels: 40 };

/** Decodes a JPEG to 8-bit RGB. */
export function decodeJpegRgb(bytes: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): RgbImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new BadInputError(file, 'not a JPEG file (no SOI marker)');
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: true,
      maxResolutionInMP: limits.maxMegapixels,
      maxMemoryUsageInMB: Math.max(64, Math.ceil(limits.maxMegapixels * 12)),
    });
  } catch (err) {
    throw new BadInputError(file, `corrupt or truncated JPEG (${describeThrown(err)})`);
  }
  const { width, height, data } = img;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new BadInputError(file, `corrupt JPEG: decoded ${width}×${height} with ${data.length} bytes`);
  }
  return { width, height, data };
}

const rgbKey = (r: number, g: number, b: number) => (r << 16) | (g << 8) | b;

const VOC_COLOUR_INDEX = new Map<number, number>([
  ...VOC_PALETTE.map((c, i) => [rgbKey(c[0], c[1], c[2]), i] as [number, number]),
  [rgbKey(VOC_VOID_COLOUR[0], VOC_VOID_COLOUR[1], VOC_VOID_COLOUR[2]), VOC_VOID],
]);

interface PngMeta {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  palette?: number[][];
  data: Uint8Array;
}

/** Decodes a SegmentationClass PNG of a tree with `numClasses` classes to class indices (see the module comment). */
export function decodeVocMask(bytes: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, numClasses: number = VOC_NUM_CLASSES): IndexMap {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) throw new BadInputError(file, 'not a PNG file (bad signature)');
  // IHDR is the first chunk: check the size before pngjs allocates for it.
  if (bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const w = dv.getUint32(16);
    const h = dv.getUint32(20);
    if (w * h > limits.maxMegapixels * 1e6) throw new BadInputError(file, `PNG header claims ${w}×${h} pixels, above the ${limits.maxMegapixels} MP limit`);
  }
  checkPngDataLength(bytes, file, limits.maxMegapixels);
  let png: PngMeta;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true }) as unknown as PngMeta;
  } catch (err) {
    throw new BadInputError(file, `corrupt or truncated PNG (${describeThrown(err)})`);
  }
  const { width, height, colorType, depth, data } = png;
  const n = width * height;
  if (!(width > 0 && height > 0) || !data || data.length < n * 4) {
    throw new BadInputError(file, `corrupt PNG: decoded ${width}×${height} with ${data?.length ?? 0} bytes`);
  }
  const out = new Uint8Array(n);
  const at = (p: number) => `(${p % width}, ${Math.floor(p / width)})`;
  if (colorType === 0 || colorType === 4) {
    if (depth !== 8) throw new BadInputError(file, `${depth}-bit greyscale masks are not supported (need 8-bit indices or a palette)`);
    for (let p = 0; p < n; p++) out[p] = data[4 * p];
  } else {
    if (colorType !== 3 && depth !== 8) throw new BadInputError(file, `${depth}-bit colour masks are not supported`);
    const lookup = colorType === 3 ? paletteIndex(png.palette) ?? VOC_COLOUR_INDEX : VOC_COLOUR_INDEX;
    let lastKey = -1;
    let lastIdx = 0;
    for (let p = 0; p < n; p++) {
      const key = rgbKey(data[4 * p], data[4 * p + 1], data[4 * p + 2]);
      if (key !== lastKey) {
        const idx = lookup.get(key);
        if (idx === undefined) {
          throw new BadInputError(file, `colour (${data[4 * p]},${data[4 * p + 1]},${data[4 * p + 2]}) at ${at(p)} is not in the VOC palette`);
        }
        lastKey = key;
        lastIdx = idx;
      }
      out[p] = lastIdx;
    }
  }
  for (let p = 0; p < n; p++) {
    const v = out[p];
    if (v > numClasses && v !== VOC_VOID) {
      throw new BadInputError(file, `mask value ${v} at ${at(p)} is not a VOC index (0–${numClasses}, ${VOC_VOID} void)`);
    }
  }
  return { width, height, data: out };
}

/** Colour → index of a PNG palette, or undefined if two entries share a colour (not invertible). */
function paletteIndex(palette: number[][] | undefined): Map<number, number> | undefined {
  if (!palette || palette.length === 0) return undefined;
  const m = new Map<number, number>();
  for (let i = 0; i < palette.length; i++) {
    const c = palette[i];
    const key = rgbKey(c[0], c[1], c[2]);
    if (m.has(key)) return undefined;
    m.set(key, i);
  }
  return m;
}
