import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { BadInputError } from './bad_input.js';
import { checkPngDataLength, pngInflatedBytes } from './png_data_check.js';
import { decodeVocMask } from './voc_decode.js';
import { encodeGreyPng } from './voc_fixture.js';
import { pngChunk } from './voc_encode.js';

/** A greyscale 8-bit PNG whose IDAT holds `scanlines` (filter bytes included) as given. */
function greyPng(width: number, height: number, scanlines: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(scanlines)), pngChunk('IEND', Buffer.alloc(0))]);
}

test('inflated sizes: 8×8 8-bit is 8 rows of 1 + 8 bytes; interlaced, the seven Adam7 passes (hand-counted)', () => {
  assert.equal(pngInflatedBytes(8, 8, 8, false), 72);
  // passes 1×1, 1×1, 2×1, 2×2, 4×2, 4×4, 8×4 → 2 + 2 + 3 + 6 + 10 + 20 + 36
  assert.equal(pngInflatedBytes(8, 8, 8, true), 79);
  assert.equal(pngInflatedBytes(3, 2, 1, false), 2 * (1 + 1)); // 3 one-bit pixels fit one byte
  assert.equal(pngInflatedBytes(1, 1, 8, true), 2); // only pass 1 has a pixel
});

test('a valid mask passes the check and decodes', () => {
  const png = encodeGreyPng(5, 3, Uint8Array.from({ length: 15 }, (_, i) => i % 3));
  checkPngDataLength(png, 'm.png', 40);
  assert.deepEqual([...decodeVocMask(png, 'm.png').data], Array.from({ length: 15 }, (_, i) => i % 3));
});

test('image data shorter than the header implies is refused, the same way every time (pngjs read past it)', () => {
  const png = greyPng(4, 4, Buffer.alloc(3 * 5)); // 3 of 4 rows
  for (let k = 0; k < 3; k++) {
    assert.throws(() => decodeVocMask(png, 'short.png'), (err: unknown) => {
      assert.ok(err instanceof BadInputError);
      assert.equal(err.message, 'short.png: corrupt or truncated PNG: image data inflates to 15 bytes, fewer than the 20 its 4×4 header implies');
      return true;
    });
  }
});

test('image data longer than the header implies, and a header above the pixel limit, are refused', () => {
  assert.throws(() => checkPngDataLength(greyPng(4, 4, Buffer.alloc(10_000)), 'long.png', 40),
    /^BadInputError: long\.png: corrupt or truncated PNG: image data inflates to more than the 20 bytes its 4×4 header implies$/);
  assert.throws(() => checkPngDataLength(greyPng(100_000, 100_000, Buffer.alloc(4)), 'huge.png', 40),
    /huge\.png: PNG header claims 100000×100000 pixels, above the 40 MP limit/);
});

test('a chunk running past the end of the file, or no IEND, is refused (CRCs intact: pngjs would inflate the part it got)', () => {
  const png = greyPng(4, 4, Buffer.alloc(20));
  assert.throws(() => checkPngDataLength(png.subarray(0, png.length - 12), 'noend.png', 40), /noend\.png: corrupt or truncated PNG: the file ends inside the chunk at byte \d+, before IEND/);
  const long = Buffer.from(png);
  long.writeUInt32BE(1000, 33); // IDAT's length
  assert.throws(() => checkPngDataLength(long, 'cut.png', 40), /cut\.png: corrupt or truncated PNG: the chunk at byte 33 claims 1000 bytes, past the end of the file/);
});

test('a PNG without image data is refused (pngjs decoded uninitialised memory)', () => {
  const png = greyPng(4, 4, Buffer.alloc(20));
  const noIdat = Buffer.concat([png.subarray(0, 33), png.subarray(png.length - 12)]); // signature, IHDR, IEND
  assert.throws(() => decodeVocMask(noIdat, 'empty.png'), /empty\.png: corrupt or truncated PNG: no image data \(IDAT chunk\)/);
});
