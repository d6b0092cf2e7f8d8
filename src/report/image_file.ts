/**
 * Reads a user's PNG or JPEG into the datasets' image layout (H·W·3 float32 in [0,1]); alpha is
 * dropped. Every failure is one Error whose message names the file (the CLI prints it as is).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { BadInputError } from '../data/bad_input.js';
import { checkPngDataLength } from '../data/png_data_check.js';
import { rgbaToUnitRgb } from './rgba_pixels.js';

export interface DecodedImage {
  /** H·W·3 float32 in [0,1], row-major. */
  readonly image: Float32Array;
  readonly height: number;
  readonly width: number;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

type ImageExtension = (typeof IMAGE_EXTENSIONS)[number];

/** The lower-case extension of `name`, which picks the codec; anything else is an error naming the file. */
function imageExtension(name: string): ImageExtension {
  const ext = extname(name).toLowerCase();
  if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new Error(`${name}: unsupported image type '${ext || '(no extension)'}'; use ${IMAGE_EXTENSIONS.join(', ')}`);
  }
  return ext as ImageExtension;
}

/** Decodes PNG or JPEG bytes of the file `name` (which labels errors) with the codec of `ext`. */
function decodeImage(buf: Buffer, name: string, ext: ImageExtension): DecodedImage {
  let rgba: Uint8Array, width: number, height: number;
  try {
    if (ext === '.png') {
      checkPngDataLength(buf, name, 64); // size and data length before pngjs allocates and decodes
      const png = PNG.sync.read(buf);
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 64 });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (err) {
    const why = err instanceof BadInputError ? err.problem : String((err as Error)?.message ?? err).split('\n')[0];
    throw new Error(`${name} is not a readable ${ext === '.png' ? 'PNG' : 'JPEG'} file (${why})`);
  }
  if (!(width > 0 && height > 0)) throw new Error(`${name} has no pixels (${width}×${height})`);
  return { image: rgbaToUnitRgb(rgba, width, height), height, width };
}

/** Reads and decodes an image file; a missing or unreadable file is an error naming it. */
export async function readImageFile(path: string): Promise<DecodedImage> {
  const ext = imageExtension(path); // before reading: a wrong type is reported even for a missing file
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  return decodeImage(bytes, path, ext);
}
