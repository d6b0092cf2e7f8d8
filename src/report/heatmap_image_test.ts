/** Heat-map pictures: exact pixels on hand-made inputs, outline geometry, panel layout, PNG round trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import { GLYPH_HEIGHT, glyph, textWidth } from './bitmap_font.js';
import { parseCssRgb } from './colormap.js';
import { autoLabelScale, composePanels, encodePng, labelStripHeight, normalizeMap, renderOverlay, type RgbaImage } from './heatmap_image.js';

const px = (img: RgbaImage, y: number, x: number) => Array.from(img.rgba.subarray(4 * (y * img.width + x), 4 * (y * img.width + x) + 4));

/** Coordinates "y,x" of pixels whose RGB equals `rgb`. */
function pixelsOf(img: RgbaImage, rgb: number[]): Set<string> {
  const s = new Set<string>();
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    const p = px(img, y, x);
    if (p[0] === rgb[0] && p[1] === rgb[1] && p[2] === rgb[2]) s.add(`${y},${x}`);
  }
  return s;
}

test('normalizeMap: negatives clipped to 0, then min–max to [0,1]; constant maps → zeros', () => {
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([-2, 0, 1, 4]))), [0, 0, 0.25, 1]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([2, 3, 4, 6]))), [0, 0.25, 0.5, 1]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([3, 3, 3]))), [0, 0, 0]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([-1, -5]))), [0, 0]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([NaN, 2, Infinity]))), [0, 1, 0]);
  const input = Float32Array.from([-1, 2]);
  normalizeMap(input);
  assert.deepEqual(Array.from(input), [-1, 2], 'input not mutated');
});

// 2×2 image: red, green, blue, grey 0.2; map 0, 1, 0.5, 0.2
const image = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.2, 0.2, 0.2]);
const map = Float32Array.from([0, 1, 0.5, 0.2]);
const turbo = (i: number) => parseCssRgb(interpolateTurbo(i / 255));

test('renderOverlay: alpha 0 is the image, alpha 1 the colormap, 0.5 the rounded mean', () => {
  const a0 = renderOverlay({ image, map, height: 2, width: 2, alpha: 0 });
  assert.deepEqual([a0.width, a0.height], [2, 2]);
  assert.deepEqual([px(a0, 0, 0), px(a0, 0, 1), px(a0, 1, 0), px(a0, 1, 1)], [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [51, 51, 51, 255]]);
  const a1 = renderOverlay({ image, map, height: 2, width: 2, alpha: 1 });
  assert.deepEqual(px(a1, 0, 0), [...turbo(0), 255]);
  assert.deepEqual(px(a1, 0, 1), [...turbo(255), 255]);
  assert.deepEqual(px(a1, 1, 0), [...turbo(128), 255]); // round(0.5·255) = 128
  assert.deepEqual(px(a1, 1, 1), [...turbo(51), 255]);
  const half = renderOverlay({ image, map, height: 2, width: 2 }); // default alpha 0.5, turbo
  const c = turbo(255);
  assert.deepEqual(px(half, 0, 1), [Math.round(c[0] / 2), Math.round((255 + c[1]) / 2), Math.round(c[2] / 2), 255]);
  const v = renderOverlay({ image, map, height: 2, width: 2, alpha: 1, colormap: 'viridis' });
  assert.deepEqual(px(v, 0, 1), [...parseCssRgb(interpolateViridis(1)), 255]);
  const plain = renderOverlay({ image, height: 2, width: 2 });
  assert.deepEqual(plain.rgba, a0.rgba, 'no map = the image');
});

test('renderOverlay: nearest-neighbour upscale repeats each pixel scale×scale times', () => {
  const s = renderOverlay({ image, map, height: 2, width: 2, alpha: 0, scale: 3 });
  assert.deepEqual([s.width, s.height], [6, 6]);
  for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) {
    const src = Math.floor(y / 3) * 2 + Math.floor(x / 3);
    assert.deepEqual(px(s, y, x).slice(0, 3), Array.from(image.subarray(3 * src, 3 * src + 3), (u) => Math.round(255 * u)));
  }
});

test('renderOverlay: the outline is exactly the inner 4-neighbour boundary of the mask', () => {
  const H = 5, W = 6;
  const img = new Float32Array(H * W * 3); // black
  const mask = new Uint8Array(H * W);
  for (let y = 1; y <= 3; y++) for (let x = 1; x <= 4; x++) mask[y * W + x] = 1; // 3×4 block
  const out = renderOverlay({ image: img, height: H, width: W, outline: mask, outlineRgb: [0, 255, 0] });
  const expected = new Set<string>();
  for (let y = 1; y <= 3; y++) for (let x = 1; x <= 4; x++) if (y === 1 || y === 3 || x === 1 || x === 4) expected.add(`${y},${x}`);
  assert.deepEqual(pixelsOf(out, [0, 255, 0]), expected);
  assert.deepEqual(px(out, 2, 2), [0, 0, 0, 255], 'interior untouched');
  // a mask touching the image border is closed along the border
  const full = renderOverlay({ image: new Float32Array(27), height: 3, width: 3, outline: new Uint8Array(9).fill(1) });
  assert.deepEqual(pixelsOf(full, [255, 255, 255]), new Set(['0,0', '0,1', '0,2', '1,0', '1,2', '2,0', '2,1', '2,2']));
});

test('renderOverlay: at scale 3 the outline stays 1 output pixel wide', () => {
  const mask = new Uint8Array(9);
  mask[4] = 1; // centre pixel of 3×3 → output block rows/cols 3..5
  const out = renderOverlay({ image: new Float32Array(27), height: 3, width: 3, outline: mask, scale: 3 });
  const expected = new Set<string>();
  for (let y = 3; y <= 5; y++) for (let x = 3; x <= 5; x++) if (!(y === 4 && x === 4)) expected.add(`${y},${x}`);
  assert.deepEqual(pixelsOf(out, [255, 255, 255]), expected);
});

test('renderOverlay: wrong sizes and options are errors naming the argument', () => {
  assert.throws(() => renderOverlay({ image, height: 2, width: 3 }), /image has 12 values, expected H·W·3 = 18/);
  assert.throws(() => renderOverlay({ image, map: new Float32Array(3), height: 2, width: 2 }), /map has 3 values/);
  assert.throws(() => renderOverlay({ image, height: 2, width: 2, outline: new Uint8Array(5) }), /outline has 5 values/);
  assert.throws(() => renderOverlay({ image, height: 2, width: 2, scale: 1.5 }), /scale must be an integer/);
  assert.throws(() => renderOverlay({ image, height: 2, width: 2, alpha: 2 }), /alpha must be in \[0, 1\]/);
  assert.throws(() => renderOverlay({ image, map, height: 2, width: 2, colormap: 'jet' }), /unknown colormap 'jet'/);
});

function solid(width: number, height: number, rgb: number[]): RgbaImage {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) rgba.set([...rgb, 255], i);
  return { rgba, width, height };
}

test('composePanels: width = Σ widths + gaps, top-aligned on the background', () => {
  const a = solid(2, 2, [255, 0, 0]), b = solid(3, 4, [0, 0, 255]), c = solid(1, 1, [0, 255, 0]);
  const out = composePanels([a, b, c], { gap: 2, background: [10, 20, 30] });
  assert.deepEqual([out.width, out.height], [2 + 3 + 1 + 2 * 2, 4]);
  assert.deepEqual(px(out, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(px(out, 1, 1), [255, 0, 0, 255]);
  assert.deepEqual(px(out, 2, 0), [10, 20, 30, 255], 'below the shorter panel');
  assert.deepEqual(px(out, 0, 2), [10, 20, 30, 255], 'gap');
  assert.deepEqual(px(out, 0, 4), [0, 0, 255, 255]);
  assert.deepEqual(px(out, 3, 6), [0, 0, 255, 255]);
  assert.deepEqual(px(out, 0, 9), [0, 255, 0, 255]);
  assert.deepEqual(composePanels([a]).rgba, a.rgba, 'one panel, no labels = itself');
  assert.equal(composePanels([a, b]).width, 2 + 4 + 3, 'default gap 4');
});

test('composePanels: labels go in a strip above, drawn with the 5×7 font and clipped to the panel', () => {
  const a = solid(20, 10, [200, 0, 0]), b = solid(30, 10, [0, 0, 200]);
  const gap = 3;
  const out = composePanels([a, b], { gap, labels: ['I', 'x'], labelScale: 1 });
  assert.equal(out.height, 10 + labelStripHeight(1, gap));
  assert.equal(labelStripHeight(1, gap), GLYPH_HEIGHT + 6);
  const top = labelStripHeight(1, gap);
  assert.deepEqual(px(out, top, 0), [200, 0, 0, 255], 'panel below the strip');
  // glyph 'I' row 0 is .###. → ink at x = 1..3 of panel a, row = gap
  const I = glyph('I');
  for (let gx = 0; gx < 5; gx++) assert.equal(px(out, gap, gx)[0] === 0, I[gx] === 1, `I row 0 col ${gx}`);
  assert.deepEqual(px(out, gap, 1), [0, 0, 0, 255], 'black ink on white');
  // 'x' of panel b starts at x = 20 + gap; its row 2 is #...#
  assert.deepEqual(px(out, gap + 2, 23), [0, 0, 0, 255]);
  assert.deepEqual(px(out, gap + 2, 24), [255, 255, 255, 255]);
  // long labels are clipped at the panel edge (gap column stays background)
  const long = composePanels([a, b], { gap, labels: ['MMMMMMMMMM', ''], labelScale: 1 });
  for (let y = 0; y < labelStripHeight(1, gap); y++) for (let x = 20; x < 23; x++) assert.deepEqual(px(long, y, x), [255, 255, 255, 255]);
  // automatic font size: 2 when every label fits at 2, else 1
  assert.equal(autoLabelScale([{ width: 40 }], ['abc']), 2); // 17·2 = 34 ≤ 40
  assert.equal(autoLabelScale([{ width: 60 }, { width: 30 }], ['abc', 'abc']), 1);
  assert.equal(autoLabelScale([{ width: 10 }], ['abc']), 1);
  assert.equal(textWidth('abc', 2), 34);
  assert.throws(() => composePanels([a, b], { labels: ['one'] }), /1 labels for 2 panels/);
});

test('encodePng: decoding with pngjs gives identical RGBA', () => {
  const w = 7, h = 5;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 37 + 11) % 256;
  const buf = encodePng({ rgba, width: w, height: h });
  assert.deepEqual(Array.from(buf.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = PNG.sync.read(buf);
  assert.deepEqual([back.width, back.height], [w, h]);
  assert.deepEqual(new Uint8Array(back.data), rgba);
  const overlay = renderOverlay({ image, map, height: 2, width: 2, scale: 2 });
  assert.deepEqual(new Uint8Array(PNG.sync.read(encodePng(overlay)).data), overlay.rgba);
});
