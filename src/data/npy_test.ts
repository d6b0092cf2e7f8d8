/**
 * .npy reading and writing: the exact bytes numpy writes for np.arange(6, dtype='<f4').reshape(2, 3)
 * (built here from the format description), round trips of every dtype and shape kind, format
 * versions 2.0/3.0, header dialects, and one BadInputError naming the file per kind of bad file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError } from './bad_input.js';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from './npy.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-npy-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A .npy file from a header text (padded with spaces + '\n' so the data starts at a multiple of 64) and data. */
function npyBytes(header: string, data: Uint8Array | number[], version = 1, align = true): Buffer {
  const prefix = version === 1 ? 10 : 12;
  let h = header;
  if (align) {
    const total = prefix + Buffer.byteLength(h, version === 3 ? 'utf8' : 'latin1') + 1;
    h += ' '.repeat((64 - (total % 64)) % 64);
  }
  h += '\n';
  const hb = Buffer.from(h, version === 3 ? 'utf8' : 'latin1');
  const pre = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(pre);
  if (version === 1) pre.writeUInt16LE(hb.length, 8);
  else pre.writeUInt32LE(hb.length, 8);
  return Buffer.concat([pre, hb, Buffer.from(data)]);
}

function throwsBad(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError, `expected BadInputError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, re);
    return true;
  });
}

const f32le = (xs: number[]) => [...Buffer.from(new Float32Array(xs).buffer)];

test("the bytes numpy writes for np.arange(6, dtype='<f4').reshape(2, 3) read back, and encodeNpy writes exactly them", () => {
  // magic, version 1.0, header length 118 (0x76), the dict, 20 spaces numpy leaves for growing axis 0,
  // padding to 127 bytes and '\n' at byte 127: the data starts at byte 128
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const header = `${dict}${' '.repeat(20)}${' '.repeat(128 - 10 - dict.length - 20 - 1)}\n`;
  const bytes = Buffer.concat([
    Buffer.from('\x93NUMPY\x01\x00', 'latin1'),
    Buffer.from([118, 0]),
    Buffer.from(header, 'latin1'),
    Buffer.from([
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,
      0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0xa0, 0x40,
    ]),
  ]);
  assert.equal(bytes.length, 152);
  assert.equal(header.length, 118);
  const a = decodeNpy(bytes, 'arange.npy');
  assert.deepStrictEqual(a, { shape: [2, 3], dtype: '<f4', data: new Float32Array([0, 1, 2, 3, 4, 5]), narrowed: false });
  assert.deepEqual(Buffer.from(encodeNpy([2, 3], new Float32Array([0, 1, 2, 3, 4, 5]))), bytes);
});

test('every dtype and shape kind round-trips; <f8 narrows to float32 unless keepFloat64', async () => {
  const cases: [number[], Parameters<typeof encodeNpy>[1], string, { bool?: boolean }?][] = [
    [[], new Float32Array([3.5]), '<f4'],
    [[0], new Float32Array(0), '<f4'],
    [[3], new Int32Array([-1, 0, 2147483647]), '<i4'],
    [[2, 1, 2], new BigInt64Array([-(2n ** 63n), 0n, 1n, 2n ** 63n - 1n]), '<i8'],
    [[4], new Uint8Array([0, 1, 128, 255]), '|u1'],
    [[2], new Int8Array([-128, 127]), '|i1'],
    [[3], new Uint8Array([1, 0, 1]), '|b1', { bool: true }],
  ];
  for (const [shape, data, dtype, opts] of cases) {
    const back = decodeNpy(encodeNpy(shape, data, opts));
    assert.deepStrictEqual(back, { shape, dtype, data, narrowed: false }, dtype);
  }
  const f64 = new Float64Array([0.1, -2, 1e300]);
  const bytes = encodeNpy([3], f64);
  assert.deepStrictEqual(decodeNpy(bytes), { shape: [3], dtype: '<f8', data: Float32Array.from(f64), narrowed: true });
  assert.deepStrictEqual(decodeNpy(bytes, 'x', { keepFloat64: true }), { shape: [3], dtype: '<f8', data: f64, narrowed: false });

  const path = join(tmp, 'x.npy');
  await writeNpy(path, [2, 2], new Float32Array([1, 2, 3, 4]));
  assert.deepStrictEqual(await readNpy(path), { shape: [2, 2], dtype: '<f4', data: new Float32Array([1, 2, 3, 4]), narrowed: false });
  // every header is 64-aligned
  for (const shape of [[], [1], [7, 3], [1, 2, 3, 4, 5, 6, 7, 8]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const b = Buffer.from(encodeNpy(shape, new Float32Array(n)));
    assert.equal((10 + b.readUInt16LE(8)) % 64, 0);
  }
});

test('format versions 2.0 and 3.0 and header dialects (double quotes, no trailing comma, Python 2 longs, key order)', () => {
  const d = f32le([1, 2]);
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", d, 2)).data, new Float32Array([1, 2]));
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", d, 3)).shape, [2]);
  assert.deepEqual(decodeNpy(npyBytes('{"shape": (1, 2), "fortran_order": False, "descr": "<f4"}', d)).shape, [1, 2]);
  assert.deepEqual(decodeNpy(npyBytes("{'descr':'<f4','fortran_order':False,'shape':(2L,1L)}", d, 1, false)).shape, [2, 1]);
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '=f4', 'fortran_order': False, 'shape': ( 2 , ), }", d)).dtype, '<f4');
  assert.deepEqual(decodeNpy(npyBytes("{'descr': 'u1', 'fortran_order': False, 'shape': (2,), }", [7, 8])).dtype, '|u1');
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32le([9]))).shape, []);
});

test('bad files: one line naming the file and the problem', async () => {
  const f = 'bad.npy';
  const ok = (shape: string, rest = '') => `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, ${rest}}`;
  throwsBad(() => decodeNpy(Buffer.from('PK\x03\x04 not npy at all'), f), f, /is not a \.npy file \(starts with 50 4b 03 04 20 6e/);
  throwsBad(() => decodeNpy(Buffer.from([0x93, 0x4e]), f), f, /is 2 bytes, too short/);
  throwsBad(() => decodeNpy(npyBytes(ok('(2,)'), f32le([1, 2]), 4), f), f, /format version 4\.0; supported: 1\.0, 2\.0, 3\.0/);
  const full = npyBytes(ok('(2, 3)'), f32le([0, 1, 2, 3, 4, 5]));
  throwsBad(() => decodeNpy(full.subarray(0, full.length - 4), f), f, /has 20 bytes of data after the header, expected 24 \(<f4 × shape \(2, 3\); truncated\?\)/);
  throwsBad(() => decodeNpy(Buffer.concat([full, Buffer.from([0])]), f), f, /has 25 bytes of data after the header, expected 24/);
  throwsBad(() => decodeNpy(full.subarray(0, 60), f), f, /header length 118 exceeds the file \(60 bytes; truncated\?\)/);
  const huge = Buffer.from(full);
  huge.writeUInt16LE(65535, 8);
  throwsBad(() => decodeNpy(huge, f), f, /header length 65535 exceeds the file/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32le([0, 1, 2, 3, 4, 5])), f), f,
    /fortran_order is True; only C-order arrays are supported/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", f32le([1])), f), f, /big-endian dtype '>f4' is not supported/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", f32le([1, 2])), f), f,
    /dtype "<c8" is not supported \(supported: <f4, <f8, <i4, <i8, \|u1, \|i1, \|b1\)/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", f32le([1, 2])), f), f,
    /structured dtypes .* are not supported/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4', 'shape': (1,), }", f32le([1])), f), f, /header has keys \{descr, shape\}, expected exactly/);
  throwsBad(() => decodeNpy(npyBytes(ok('(1,)', "'extra': 1, "), f32le([1])), f), f, /expected a value|header has keys/);
  throwsBad(() => decodeNpy(npyBytes(ok('(3)'), f32le([1, 2, 3])), f), f, /a 1-tuple needs a trailing comma/);
  throwsBad(() => decodeNpy(npyBytes(ok('(-1,)'), []), f), f, /expected a non-negative integer/);
  throwsBad(() => decodeNpy(npyBytes(ok('(99999999999999999999,)'), []), f), f, /dimension 99999999999999999999 is too large/);
  throwsBad(() => decodeNpy(npyBytes(ok('(4294967296, 4294967296, 4294967296)'), []), f), f, /has too many elements/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", f32le([1])), f), f, /unexpected text after the dict/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", f32le([1])), f), f, /expected ',' or '}'/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}", f32le([1])), f), f, /fortran_order is "no", expected True or False/);
  throwsBad(() => decodeNpy(npyBytes("{'descr': '<f4\n\x01', 'fortran_order': False, 'shape': (1,)}", f32le([1])), f), f, /dtype "<f4\\n\\u0001" is not supported/);
  throwsBad(() => decodeNpy(npyBytes(ok('(1,)'), f32le([1]), 3).fill(0xff, 12, 14), f), f, /header is not valid UTF-8/);

  const missing = join(tmp, 'missing.npy');
  await assert.rejects(readNpy(missing), (e: unknown) => e instanceof BadInputError && e.message === `${missing}: does not exist`);
  await assert.rejects(readNpy(tmp), (e: unknown) => e instanceof BadInputError && e.message.startsWith(`${tmp}: is a directory`));
  const onDisk = join(tmp, 'cut.npy');
  writeFileSync(onDisk, full.subarray(0, 130));
  await assert.rejects(readNpy(onDisk), (e: unknown) => e instanceof BadInputError && e.message.startsWith(`${onDisk}: has 2 bytes of data`));
});

test('the writer refuses a shape that does not match the data', () => {
  throwsBad(() => encodeNpy([2, 2], new Float32Array(3), {}, 'out.npy'), 'out.npy', /has 3 values, shape \(2, 2\) needs 4/);
  throwsBad(() => encodeNpy([-1], new Float32Array(0), {}, 'out.npy'), 'out.npy', /shape \[-1\] is not a list of non-negative integers/);
  throwsBad(() => encodeNpy([1], new Uint16Array(1) as unknown as Float32Array, {}, 'out.npy'), 'out.npy', /data must be a Float32Array/);
});
