/**
 * Encoders for VOC-format files: JPEG (jpeg-js), RGB / greyscale PNG (pngjs) and the paletted
 * SegmentationClass PNG. Used by the dataset export (voc_export.ts) and the test fixtures.
 *
 * pngjs cannot write palette PNGs, so `encodePaletteMask` writes an 8-bit greyscale PNG with
 * pngjs (the pixel bytes are then the indices) and turns it into a palette PNG by setting the
 * IHDR colour type to 3 and inserting a PLTE chunk (both with their CRCs): the image data of an
 * 8-bit greyscale PNG and an 8-bit palette PNG are byte-identical.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { VOC_PALETTE, VOC_VOID_COLOUR } from './voc_annotations.js';

/** The standard 256-entry VOC colormap (bit-interleaved; index 255 = (224,224,192)). */
export function vocColormap256(): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** Opaque RGBA bytes of `pixels` RGB pixels (what the encoders take). */
function rgbaOf(rgb: Uint8Array, pixels: number): Buffer {
  const rgba = Buffer.alloc(pixels * 4);
  for (let p = 0; p < pixels; p++) rgba.set([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2], 255], 4 * p);
  return rgba;
}

interface JpegEncoder { encode(img: { data: Buffer; width: number; height: number }, quality: number): Buffer }

/**
 * jpeg-js's `encode` builds a new encoder, with its Huffman and category tables, on every call:
 * ≈ 0.1 s of CPU even for a 32×32 image, which made exporting 6,000 images take 10+ minutes. Its
 * encoder resets all per-image state in `encode`, so one instance per quality can be reused; the
 * constructor is not exported, so it is taken from the package's own encoder source. If that ever
 * fails (a changed package layout) `encodeJpeg` falls back to `jpeg.encode`, with the same bytes
 * (voc_export_test.ts checks they are equal).
 */
let reusable: ((quality: number) => JpegEncoder) | null | undefined;
const encoders = new Map<number, JpegEncoder>();

function reusableEncoder(quality: number): JpegEncoder | undefined {
  if (reusable === undefined) {
    try {
      const file = createRequire(import.meta.url).resolve('jpeg-js/lib/encoder.js');
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const Ctor = new Function('module', `${readFileSync(file, 'utf8')}\nreturn JPEGEncoder;`)({ exports: {} }) as new (q: number) => JpegEncoder;
      reusable = (q) => new Ctor(q);
    } catch {
      reusable = null;
    }
  }
  if (!reusable) return undefined;
  let enc = encoders.get(quality);
  if (!enc) encoders.set(quality, (enc = reusable(quality)));
  return enc;
}

/** Baseline JPEG of `rgb` (width·height·3 bytes) at `quality` 1–100, with jpeg-js. */
export function encodeJpeg(width: number, height: number, rgb: Uint8Array, quality = 92): Buffer {
  const img = { data: rgbaOf(rgb, width * height), width, height };
  const enc = reusableEncoder(quality);
  return enc ? enc.encode(img, quality) : jpeg.encode(img, quality).data;
}

/** The same JPEG through jpeg-js's public `encode` (a fresh encoder per call; slow). */
export function encodeJpegFresh(width: number, height: number, rgb: Uint8Array, quality = 92): Buffer {
  return jpeg.encode({ data: rgbaOf(rgb, width * height), width, height }, quality).data;
}

/** RGB PNG of the given colours (width·height·3 bytes). */
export function encodeRgbPng(width: number, height: number, rgb: Uint8Array): Buffer {
  return PNG.sync.write({ width, height, data: rgbaOf(rgb, width * height) } as unknown as PNG, { colorType: 2 });
}

/** One PNG chunk: length, type, data, CRC-32 over type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** 8-bit greyscale PNG whose pixel values are `values`. */
export function encodeGreyPng(width: number, height: number, values: Uint8Array): Buffer {
  return PNG.sync.write({ width, height, data: Buffer.from(values) } as unknown as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

/** 8-bit palette PNG with pixel indices `indices` and the given palette (default VOC's 256 colours). */
export function encodePaletteMask(width: number, height: number, indices: Uint8Array, palette: number[][] = vocColormap256()): Buffer {
  const grey = encodeGreyPng(width, height, indices);
  // signature (8) + IHDR chunk (4 len + 4 type + 13 data + 4 crc)
  const ihdrData = Buffer.from(grey.subarray(16, 29));
  ihdrData[9] = 3; // colour type: palette
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((c, i) => plte.set(c, 3 * i));
  return Buffer.concat([grey.subarray(0, 8), pngChunk('IHDR', ihdrData), pngChunk('PLTE', plte), grey.subarray(33)]);
}

/** RGB PNG whose colours are the VOC table colours of `indices` (void → (224,224,192)). */
export function encodeRgbMask(width: number, height: number, indices: Uint8Array): Buffer {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(indices[p] === 255 ? VOC_VOID_COLOUR : VOC_PALETTE[indices[p]], 3 * p);
  return encodeRgbPng(width, height, rgb);
}
