/**
 * safetensors: round trips of every dtype (through memory and through the disk), a file written
 * byte by byte from the format description, the writer's header padding, and one ModelFileError
 * naming the file (and the tensor) per kind of corruption.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFileError } from './errors.js';
import {
  decodeSafetensors, encodeSafetensors, readSafetensors, SAFETENSORS_MAX_HEADER_BYTES, type SafeTensor, type SafeTensorInput,
  writeSafetensors,
} from './safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-safetensors-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a header object (serialised as given, padded to 8) and data bytes. */
function handmade(header: unknown, data: number[] | Uint8Array = [], pad = true): Buffer {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([n, h, Buffer.from(data)]);
}

function throwsFileError(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModelFileError, `expected ModelFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, re);
    return true;
  });
}

async function rejectsFileError(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ModelFileError, `expected ModelFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.match(err.message, re);
    return true;
  });
}

const every = new Map<string, SafeTensorInput>([
  ['f32', { dtype: 'F32', shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, -5.5]) }],
  ['f64', { dtype: 'F64', shape: [2], data: new Float64Array([0.5, -1e10]) }],
  ['f16', { dtype: 'F16', shape: [3], data: new Float32Array([1, -65504, 2 ** -24]) }],
  ['bf16', { dtype: 'BF16', shape: [2], data: new Float32Array([1.5, -(2 ** 100)]) }],
  ['i64', { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]) }],
  ['i32', { dtype: 'I32', shape: [1], data: new Int32Array([-7]) }],
  ['i16', { dtype: 'I16', shape: [1], data: new Int16Array([-32768]) }],
  ['i8', { dtype: 'I8', shape: [2], data: new Int8Array([-1, 1]) }],
  ['u64', { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) }],
  ['u32', { dtype: 'U32', shape: [1], data: new Uint32Array([4294967295]) }],
  ['u16', { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) }],
  ['u8', { dtype: 'U8', shape: [1, 1, 3], data: new Uint8Array([0, 128, 255]) }],
  ['bool', { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }],
  ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
  ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
]);

/** What reading `every` back gives: F64 comes back as Float32Array. */
function expectedRead(): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [k, v] of every) out.set(k, v.dtype === 'F64' ? { dtype: 'F64', shape: v.shape, data: Float32Array.from(v.data) } : v);
  return out;
}

test('every dtype round-trips in memory and on disk, with metadata', async () => {
  const meta = { format: 'pt', note: 'größe' };
  const bytes = encodeSafetensors(every, meta);
  assert.equal(Buffer.from(bytes).readBigUInt64LE(0) % 8n, 0n, 'the data starts at a multiple of 8');
  const back = decodeSafetensors(bytes);
  assert.deepStrictEqual(back.metadata, meta);
  assert.deepStrictEqual(back.tensors, expectedRead());
  assert.deepEqual([...back.tensors.keys()], [...every.keys()], 'order of the data');

  const path = join(tmp, 'every.safetensors');
  await writeSafetensors(path, every, meta);
  const fromDisk = await readSafetensors(path);
  assert.deepStrictEqual(fromDisk, back);

  // a plain record works too, and no metadata reads as null
  const rec = decodeSafetensors(encodeSafetensors({ a: { dtype: 'I32', shape: [1], data: new Int32Array([3]) } }));
  assert.equal(rec.metadata, null);
  assert.deepStrictEqual(rec.tensors.get('a'), { dtype: 'I32', shape: [1], data: new Int32Array([3]) });
});

test('a file made by hand from the format description reads back; F64/F16/BF16 come back as float32', () => {
  const data = Buffer.concat([
    Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer), // w: bytes 0–24
    Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7c00]).buffer), // h: bytes 24–30 (1, -2, +inf)
    Buffer.from([0, 0]), // 2 bytes of padding between tensors
    Buffer.from(new Float64Array([0.25]).buffer), // d: 32–40
    Buffer.from(new BigInt64Array([-3n]).buffer), // n: 40–48
    Buffer.from(new Uint16Array([0x3f80]).buffer), // b: 48–50 (bf16 1.0)
  ]);
  const file = handmade({
    // keys deliberately not in data order
    n: { dtype: 'I64', shape: [1], data_offsets: [40, 48] },
    __metadata__: { format: 'pt' },
    w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    h: { dtype: 'F16', shape: [3], data_offsets: [24, 30] },
    d: { dtype: 'F64', shape: [1], data_offsets: [32, 40] },
    b: { dtype: 'BF16', shape: [], data_offsets: [48, 50] },
  }, data);
  const r = decodeSafetensors(file, 'hand.safetensors');
  assert.deepStrictEqual(r.metadata, { format: 'pt' });
  assert.deepEqual([...r.tensors.keys()], ['w', 'h', 'd', 'n', 'b']);
  assert.deepStrictEqual(r.tensors.get('w'), { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  assert.deepStrictEqual(r.tensors.get('h'), { dtype: 'F16', shape: [3], data: new Float32Array([1, -2, Infinity]) });
  assert.deepStrictEqual(r.tensors.get('d'), { dtype: 'F64', shape: [1], data: new Float32Array([0.25]) });
  assert.deepStrictEqual(r.tensors.get('n'), { dtype: 'I64', shape: [1], data: new BigInt64Array([-3n]) });
  assert.deepStrictEqual(r.tensors.get('b'), { dtype: 'BF16', shape: [], data: new Float32Array([1]) });
});

test('the writer pads the JSON header with spaces to a multiple of 8 and lays the data out in order', () => {
  const bytes = Buffer.from(encodeSafetensors(new Map([
    ['a', { dtype: 'F32', shape: [1], data: new Float32Array([1]) } as SafeTensorInput],
    ['bb', { dtype: 'I8', shape: [2], data: new Int8Array([-1, 2]) } as SafeTensorInput],
  ])));
  const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"bb":{"dtype":"I8","shape":[2],"data_offsets":[4,6]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const expected = Buffer.concat([Buffer.alloc(8), Buffer.from(padded), Buffer.from(new Float32Array([1]).buffer), Buffer.from([0xff, 2])]);
  expected.writeBigUInt64LE(BigInt(padded.length));
  assert.deepEqual(bytes, expected);
  assert.equal(padded.length % 8, 0);
});

test('corrupt headers: each error names the file and, where there is one, the tensor', () => {
  const f = 'bad.safetensors';
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const data8 = new Array(8).fill(0);
  const dec = (b: Uint8Array) => () => decodeSafetensors(b, f);
  throwsFileError(dec(Buffer.from([1, 2, 3])), f, /is 3 bytes, too short/);
  const big = Buffer.alloc(16);
  big.writeBigUInt64LE(9n);
  throwsFileError(dec(big), f, /header length 9 exceeds the file \(16 bytes\)/);
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 64n - 1n);
  throwsFileError(dec(huge), f, /header length 18446744073709551615 exceeds the file/);
  throwsFileError(dec(Buffer.alloc(16)), f, /header length is 0/);
  throwsFileError(dec(handmade('{"a": {"dtype": "F32",', data8)), f, /header is not valid JSON/);
  throwsFileError(dec(handmade(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('latin1'), [], false)), f, /header is not valid JSON|not valid UTF-8/);
  const notUtf8 = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xc3, 0x28, 0x7d])]);
  throwsFileError(dec(notUtf8), f, /header is not valid UTF-8/);
  throwsFileError(dec(handmade([1, 2])), f, /header is a JSON array, expected an object of tensors/);
  throwsFileError(dec(handmade({ a: 'x' })), f, /tensor 'a': entry is "x", expected \{dtype, shape, data_offsets\}/);
  throwsFileError(dec(handmade({ a: { ...ok, dtype: 'Q8' } }, data8)), f, /tensor 'a': unknown dtype "Q8"/);
  throwsFileError(dec(handmade({ a: { ...ok, dtype: 'F8_E4M3' } }, data8)), f, /tensor 'a': dtype F8_E4M3 is not supported/);
  throwsFileError(dec(handmade({ a: { ...ok, dtype: 7 } }, data8)), f, /tensor 'a': dtype is 7, expected a string/);
  throwsFileError(dec(handmade({ a: { ...ok, shape: [-2] } }, data8)), f, /tensor 'a': shape \[-2\] is not a list of non-negative integers/);
  throwsFileError(dec(handmade({ a: { ...ok, shape: [2.5] } }, data8)), f, /tensor 'a': shape \[2.5\]/);
  throwsFileError(dec(handmade({ a: { ...ok, data_offsets: [0] } }, data8)), f, /tensor 'a': data_offsets \[0\] is not \[begin, end\]/);
  throwsFileError(dec(handmade({ a: { ...ok, data_offsets: [0, 8.5] } }, data8)), f, /tensor 'a': data_offsets \[0,8.5\]/);
  throwsFileError(dec(handmade({ a: { ...ok, data_offsets: [8, 0] } }, data8)), f, /tensor 'a': data_offsets \[8, 0\] end before they begin/);
  throwsFileError(dec(handmade({ a: { ...ok, shape: [3] } }, data8)), f, /tensor 'a': data_offsets \[0, 8\] hold 8 bytes, but F32 shape \[3\] needs 12 \(3 × 4\)/);
  throwsFileError(dec(handmade({ a: { ...ok, shape: [2 ** 40, 2 ** 40] } }, data8)), f, /tensor 'a': shape .* has too many elements/);
  throwsFileError(dec(handmade({ a: { ...ok, data_offsets: [4, 12] } }, data8)), f, /tensor 'a': data_offsets \[4, 12\] run past the data section \(8 bytes; file truncated\?\)/);
  throwsFileError(dec(handmade({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, new Array(12).fill(0))), f,
    /tensor 'b' \(bytes 4–12\) overlaps tensor 'a' \(bytes 0–8\)/);
  throwsFileError(dec(handmade({ __metadata__: { k: 1 } })), f, /__metadata__ 'k' is 1, expected a string/);
  throwsFileError(dec(handmade({ __metadata__: [] })), f, /__metadata__ is \[\], expected an object of strings/);
});

test('a truncated file: the last tensor runs past the data section', () => {
  const bytes = encodeSafetensors(every);
  throwsFileError(() => decodeSafetensors(bytes.subarray(0, bytes.length - 3), 'cut.safetensors'), 'cut.safetensors',
    /tensor 'empty'|tensor 'scalar': data_offsets .* run past the data section/);
  throwsFileError(() => decodeSafetensors(bytes.subarray(0, 20), 'cut.safetensors'), 'cut.safetensors', /header length \d+ exceeds the file \(20 bytes\)/);
});

test('readSafetensors: missing file, directory, truncated file, a header over the 100 MB cap (sparse file)', async () => {
  const missing = join(tmp, 'missing.safetensors');
  await rejectsFileError(readSafetensors(missing), missing, /does not exist/);
  const dir = join(tmp, 'dir.safetensors');
  mkdirSync(dir);
  await rejectsFileError(readSafetensors(dir), dir, /is not a file|is a directory/);
  const cut = join(tmp, 'cut.safetensors');
  writeFileSync(cut, encodeSafetensors(every).subarray(0, 300));
  await rejectsFileError(readSafetensors(cut), cut, /run past the data section|exceeds the file/);
  const short = join(tmp, 'short.safetensors');
  writeFileSync(short, Buffer.from([1, 2]));
  await rejectsFileError(readSafetensors(short), short, /is 2 bytes, too short/);

  // a 150 MB header in a 200 MB sparse file: refused by the cap before anything is read
  const sparse = join(tmp, 'sparse.safetensors');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(150_000_000n);
  const fd = openSync(sparse, 'w');
  writeSync(fd, head);
  closeSync(fd);
  truncateSync(sparse, 200_000_000);
  await rejectsFileError(readSafetensors(sparse), sparse, new RegExp(`header length 150000000 is larger than the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`));
});

test('the writer refuses bad tensors, naming them', async () => {
  const enc = (t: Record<string, unknown>) => () => encodeSafetensors(t as Record<string, SafeTensorInput>, null, 'out.safetensors');
  throwsFileError(enc({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }), 'out.safetensors', /tensor 'w': has 3 values, shape \[2,2\] needs 4/);
  throwsFileError(enc({ w: { dtype: 'I64', shape: [1], data: new Int32Array(1) } }), 'out.safetensors', /tensor 'w': data for I64 must be BigInt64Array/);
  throwsFileError(enc({ w: { dtype: 'Q8', shape: [1], data: new Uint8Array(1) } }), 'out.safetensors', /tensor 'w': dtype "Q8" is not one of/);
  throwsFileError(enc({ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }), 'out.safetensors', /tensor 'w': shape \[-1\]/);
  throwsFileError(enc({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }), 'out.safetensors', /reserved for metadata/);
  throwsFileError(() => encodeSafetensors({}, { k: 3 as unknown as string }, 'out.safetensors'), 'out.safetensors', /metadata 'k' is 3/);
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  await rejectsFileError(writeSafetensors(join(file, 'x.safetensors'), {}), join(file, 'x.safetensors'), /cannot write/);
});

test('a tensor named __proto__ is an ordinary tensor', () => {
  const t = new Map<string, SafeTensorInput>([['__proto__', { dtype: 'U8', shape: [1], data: new Uint8Array([9]) }]]);
  const back = decodeSafetensors(encodeSafetensors(t));
  assert.deepStrictEqual([...back.tensors.keys()], ['__proto__']);
  assert.deepStrictEqual(back.tensors.get('__proto__')?.data, new Uint8Array([9]));
});
