import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bilinearAxisCoefficients, nearestIndices, resizeBilinearAntialias, resizeNearestIndex } from './voc_resize.js';

const row = (...v: number[]) => Uint8Array.from(v);

test('shrinking 4 → 2 widens the kernel: taps 3/7, 3/7, 1/7 (hand-computed)', () => {
  // o = 0: centre 1, support 2, i ∈ [0, 3): w = 0.75, 0.75, 0.25 → 3/7, 3/7, 1/7.
  const c = bilinearAxisCoefficients(4, 2);
  assert.deepEqual([...c.lo], [0, 1]);
  assert.deepEqual([...c.count], [3, 3]);
  const k = (o: number) => [...c.k.slice(o * c.taps, o * c.taps + 3)];
  assert.deepEqual(k(0), [Math.trunc((3 / 7) * 2 ** 22 + 0.5), Math.trunc((3 / 7) * 2 ** 22 + 0.5), Math.trunc((1 / 7) * 2 ** 22 + 0.5)]);
  assert.deepEqual(k(1), [Math.trunc((1 / 7) * 2 ** 22 + 0.5), Math.trunc((3 / 7) * 2 ** 22 + 0.5), Math.trunc((3 / 7) * 2 ** 22 + 0.5)]);
  // [0, 70, 140, 210] → 0·3/7 + 70·3/7 + 140/7 = 50 and 70/7 + 140·3/7 + 210·3/7 = 160.
  assert.deepEqual([...resizeBilinearAntialias(row(0, 70, 140, 210), 4, 1, 1, 2, 1)], [50, 160]);
  // A plain (non-antialiased) bilinear would give 35 and 175 here.
});

test('enlarging 2 → 4 is half-pixel bilinear: [0,100] → [0,25,75,100]', () => {
  assert.deepEqual([...resizeBilinearAntialias(row(0, 100), 2, 1, 1, 4, 1)], [0, 25, 75, 100]);
  // vertical pass, 3 channels
  const col = Uint8Array.from([0, 10, 20, 100, 110, 120]); // 1×2 RGB
  assert.deepEqual([...resizeBilinearAntialias(col, 1, 2, 3, 1, 4)], [0, 10, 20, 25, 35, 45, 75, 85, 95, 100, 110, 120]);
});

test('rounding is (2^21 + Σ in·k) >> 22, and the horizontal pass is rounded to uint8 before the vertical one', () => {
  // 3 → 2 horizontally: scale 1.5, support 1.5; the taps follow the formula of voc-protocol §4.
  const w = (i: number, centre: number) => Math.max(0, 1 - Math.abs((i - centre + 0.5) / 1.5));
  const tapsFor = (centre: number, lo: number, hi: number) => {
    const ws = [];
    for (let i = lo; i < hi; i++) ws.push(w(i, centre));
    const s = ws.reduce((a, b) => a + b, 0);
    return ws.map((x) => Math.trunc((x / s) * 2 ** 22 + 0.5));
  };
  const k0 = tapsFor(0.75, 0, 2);
  const k1 = tapsFor(2.25, 1, 3);
  const inp = [7, 200, 33];
  const h0 = Math.floor((2 ** 21 + inp[0] * k0[0] + inp[1] * k0[1]) / 2 ** 22);
  const h1 = Math.floor((2 ** 21 + inp[1] * k1[0] + inp[2] * k1[1]) / 2 ** 22);
  assert.deepEqual([...resizeBilinearAntialias(row(...inp), 3, 1, 1, 2, 1)], [h0, h1]);
  // 2-D: the result equals horizontal-then-vertical on the rounded intermediate.
  const img = Uint8Array.from([10, 250, 3, 90, 17, 180, 255, 0, 128]); // 3×3 grey
  const horiz = resizeBilinearAntialias(img, 3, 3, 1, 2, 3);
  const both = resizeBilinearAntialias(horiz, 2, 3, 1, 2, 2);
  assert.deepEqual([...resizeBilinearAntialias(img, 3, 3, 1, 2, 2)], [...both]);
});

test('identity sizes copy; constant images stay constant at any size', () => {
  const img = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
  const same = resizeBilinearAntialias(img, 5, 4, 3, 5, 4);
  assert.deepEqual([...same], [...img]);
  assert.notEqual(same, img);
  const flat = new Uint8Array(31 * 17 * 3).fill(77);
  for (const [w, h] of [[227, 227], [8, 5], [40, 3]]) {
    assert.ok(resizeBilinearAntialias(flat, 31, 17, 3, w, h).every((v) => v === 77), `${w}×${h}`);
  }
});

test('nearest indices use repeated addition from a/2 (voc-protocol §5)', () => {
  assert.deepEqual([...nearestIndices(4, 2)], [1, 3]);
  assert.deepEqual([...nearestIndices(2, 4)], [0, 0, 1, 1]);
  assert.deepEqual([...nearestIndices(5, 3)], [0, 2, 4]); // a = 5/3: 0.83, 2.5, 4.17
  // Matches trunc(a/2 + o·a) built by accumulation, for a VOC-like size.
  const a = 500 / 227;
  let acc = a / 2;
  const want: number[] = [];
  for (let o = 0; o < 227; o++) {
    want.push(Math.trunc(acc));
    acc += a;
  }
  assert.deepEqual([...nearestIndices(500, 227)], want);
});

test('nearest mask resize never mixes labels and keeps void 255', () => {
  const m = Uint8Array.from([0, 0, 255, 12, 0, 255, 12, 12, 255, 255, 255, 255]); // 4×3
  const out = resizeNearestIndex(m, 4, 3, 2, 2);
  // xs = [1, 3], ys = trunc(0.75) = 0, trunc(2.25) = 2
  assert.deepEqual([...out], [0, 12, 255, 255]);
  const big = resizeNearestIndex(m, 4, 3, 9, 7);
  assert.ok(big.every((v) => v === 0 || v === 12 || v === 255));
});

test('bit-exact with Pillow on a small RGB and palette case', () => {
  // Expected values from Pillow 12.3:
  //   data = bytes(((x*37 + y*91 + c*53)*7) % 256 for y in range(5) for x in range(7) for c in range(3))
  //   Image.frombytes('RGB', (7, 5), data).resize((3, 4), Image.BILINEAR).tobytes()
  //   m = bytes([0, 0, 12, 12, 255, 3, 3][(x + 2*y) % 7] for y in range(5) for x in range(7))
  //   Image.frombytes('P', (7, 5), m).resize((5, 3), Image.NEAREST).tobytes()
  // (30 random cases up to 520×520 → 227×227 and other sizes also matched bit for bit.)
  const data = new Uint8Array(7 * 5 * 3);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 3; c++) data[(y * 7 + x) * 3 + c] = ((x * 37 + y * 91 + c * 53) * 7) % 256;
  assert.deepEqual([...resizeBilinearAntialias(data, 7, 5, 3, 3, 4)], [
    34, 149, 200, 40, 155, 206, 46, 139, 212, 157, 188, 154, 86, 194, 160, 85, 147, 166,
    154, 185, 151, 82, 191, 157, 82, 197, 163, 216, 139, 190, 166, 145, 196, 36, 151, 202]);
  const m = new Uint8Array(7 * 5);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) m[y * 7 + x] = [0, 0, 12, 12, 255, 3, 3][(x + 2 * y) % 7];
  assert.deepEqual([...resizeNearestIndex(m, 7, 5, 5, 3)], [0, 12, 12, 255, 3, 255, 3, 0, 0, 12, 0, 12, 255, 3, 0]);
});
