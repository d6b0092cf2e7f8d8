/**
 * float16 / bfloat16 conversions on known bit patterns (checked against numpy's float16 casts
 * when written): exact widening, round-to-nearest-even narrowing, subnormals, overflow, NaN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bfloat16BitsToFloat32, float32ToBfloat16Bits, float32ToHalfBits, float32ToHalfBitsArray, halfBitsToFloat32,
} from './half.js';

test('binary16 bits → float32 is exact, including subnormals, infinities and NaN', () => {
  const v = halfBitsToFloat32(new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x3555]));
  assert.ok(Object.is(v[1], -0));
  assert.deepEqual([...v.slice(0, 10)], [0, -0, 1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity]);
  assert.ok(Number.isNaN(v[10]));
  assert.equal(v[11], Math.fround(0.333251953125));
});

test('float32 → binary16 rounds to nearest even, overflows to infinity, keeps NaN', () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [2 ** -25 * 1.0001, 0x0001], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 / 3, 0x3555], [-0, 0x8000], [1e-10, 0x0000],
  ];
  for (const [x, bits] of cases) assert.equal(float32ToHalfBits(x), bits, `${x}`);
  const nan = float32ToHalfBits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  // every binary16 value survives widening then narrowing
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = float32ToHalfBitsArray(halfBitsToFloat32(all));
  for (let i = 0; i < 65536; i++) {
    const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (!isNaN) assert.equal(back[i], i);
  }
});

test('bfloat16: widening is a shift, narrowing rounds to nearest even', () => {
  assert.deepEqual([...bfloat16BitsToFloat32(new Uint16Array([0x3f80, 0xc040, 0x7f80, 0x0001]))], [1, -3, Infinity, 2 ** -133]);
  assert.equal(float32ToBfloat16Bits(1), 0x3f80);
  assert.equal(float32ToBfloat16Bits(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(float32ToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie → even (up)
  assert.equal(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(float32ToBfloat16Bits(3.4e38), 0x7f80); // rounds up past the largest finite value
  assert.equal(float32ToBfloat16Bits(NaN) & 0x7fc0, 0x7fc0);
});
