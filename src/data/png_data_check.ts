/**
 * Checks that a PNG's compressed image data inflates to exactly the bytes its header implies,
 * before pngjs decodes it: pngjs reads a short stream past its end into uninitialised memory, so
 * the same corrupt file decoded to different pixels (or different errors) on each read — found by
 * `npm run fuzz` with re-sealed chunk CRCs.
 */
import { crc32, inflateSync } from 'node:zlib';
import { BadInputError, describeThrown } from './bad_input.js';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of the filtered scanlines of a `w`×`h` image at `bitsPerPixel`: one filter byte per row. */
function scanlineBytes(w: number, h: number, bitsPerPixel: number): number {
  return w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0;
}

/** Expected inflated size: one image, or the seven Adam7 sub-images when interlaced. */
export function pngInflatedBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  if (!interlaced) return scanlineBytes(width, height, bitsPerPixel);
  // Adam7 passes: [x0, y0, dx, dy]
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) total += scanlineBytes(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy), bitsPerPixel);
  return total;
}

/**
 * Throws a BadInputError naming `file` unless IHDR's size is within `maxMegapixels` and the IDAT
 * chunks inflate to exactly the size it implies, and that the chunks are whole up to IEND. A
 * missing IHDR or a chunk failing its CRC is left to the decoder (which names it).
 */
export function checkPngDataLength(bytes: Uint8Array, file: string, maxMegapixels: number): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 33 || b.toString('latin1', 12, 16) !== 'IHDR') return;
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  if (width * height > maxMegapixels * 1e6) throw new BadInputError(file, `PNG header claims ${width}×${height} pixels, above the ${maxMegapixels} MP limit`);
  const depth = b[24];
  const channels = CHANNELS[b[25]];
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) return; // the decoder names these
  const expected = pngInflatedBytes(width, height, depth * channels, b[28] === 1);
  const idat: Buffer[] = [];
  let ended = false;
  for (let at = 8; !ended;) {
    // pngjs inflates whatever IDAT data it got from a file cut short: the chunks must be whole, up to IEND
    if (at + 12 > b.length) throw new BadInputError(file, `corrupt or truncated PNG: the file ends inside the chunk at byte ${at}, before IEND`);
    const len = b.readUInt32BE(at);
    if (at + 12 + len > b.length) throw new BadInputError(file, `corrupt or truncated PNG: the chunk at byte ${at} claims ${len} bytes, past the end of the file`);
    const type = b.toString('latin1', at + 4, at + 8);
    // a chunk failing its CRC is the decoder's to report (it says so); only sealed data is measured here
    if (crc32(b.subarray(at + 4, at + 8 + len)) >>> 0 !== b.readUInt32BE(at + 8 + len)) return;
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + len));
    ended = type === 'IEND';
    at += 12 + len;
  }
  if (idat.length === 0) throw new BadInputError(file, 'corrupt or truncated PNG: no image data (IDAT chunk)');
  let inflated: Buffer;
  try {
    // one byte more than expected is enough to tell "too long": never inflate a zip bomb in full
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1, finishFlush: 2 /* Z_SYNC_FLUSH: a truncated stream is measured, not an error */ });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new BadInputError(file, `corrupt or truncated PNG: image data inflates to more than the ${expected} bytes its ${width}×${height} header implies`);
    throw new BadInputError(file, `corrupt or truncated PNG (image data: ${describeThrown(err)})`);
  }
  if (inflated.length !== expected) {
    throw new BadInputError(file, `corrupt or truncated PNG: image data inflates to ${inflated.length} bytes, ${inflated.length < expected ? 'fewer' : 'more'} than the ${expected} its ${width}×${height} header implies`);
  }
}
