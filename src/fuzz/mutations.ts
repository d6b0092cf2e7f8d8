/**
 * Seeded mutations for fuzzing apc's input files: byte-level edits for any file (bit flips, byte
 * insert/delete, truncation, splicing with another valid file, huge length fields) and
 * structure-aware edits for JSON files (key deletion, type swaps, huge numbers, NaN strings, deep
 * nesting). Every mutation returns the new bytes and a one-line description of what it did, so a
 * failing case can be replayed by reading its description.
 */
import type { Rng } from '../engine/random.js';

export interface Mutated {
  readonly bytes: Uint8Array;
  /** What was done, e.g. `flip bit 3 of byte 17`. */
  readonly what: string;
}

/** `donor`: another valid file of the same surface, for splicing. */
export type ByteMutation = (b: Uint8Array, rng: Rng, donor: Uint8Array) => Mutated;

export const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** Little-endian bytes of `value` in `width` bytes (1, 2, 4 or 8). */
function littleEndian(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Length-like values a hostile header would hold: 0, 1, just past the file, and huge. */
function hugeLength(rng: Rng, fileBytes: number): bigint {
  return pick(rng, [0n, 1n, BigInt(fileBytes), BigInt(fileBytes + 1), 0x7fffffffn, 0xffffffffn, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n]);
}

export const BYTE_MUTATIONS: Record<string, ByteMutation> = {
  bitFlip: (b, rng) => {
    if (b.length === 0) return { bytes: b, what: 'bit flip of an empty file (no-op)' };
    const c = b.slice();
    const k = 1 + rng.int(4);
    const at: string[] = [];
    for (let i = 0; i < k; i++) {
      const p = rng.int(c.length);
      const bit = rng.int(8);
      c[p] ^= 1 << bit;
      at.push(`${p}.${bit}`);
    }
    return { bytes: c, what: `flip bits ${at.join(',')}` };
  },
  byteSet: (b, rng) => {
    if (b.length === 0) return { bytes: b, what: 'byte set of an empty file (no-op)' };
    const c = b.slice();
    const p = rng.int(c.length);
    c[p] = pick(rng, [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x7b, 0x5b, rng.int(256)]);
    return { bytes: c, what: `set byte ${p} to ${c[p]}` };
  },
  insert: (b, rng) => {
    const at = rng.int(b.length + 1);
    const junk = randomBytes(rng, 1 + rng.int(32));
    return { bytes: concat(b.subarray(0, at), junk, b.subarray(at)), what: `insert ${junk.length} random bytes at ${at}` };
  },
  delete: (b, rng) => {
    const a = rng.int(b.length + 1);
    const e = Math.min(b.length, a + 1 + rng.int(64));
    return { bytes: concat(b.subarray(0, a), b.subarray(e)), what: `delete bytes ${a}..${e}` };
  },
  truncate: (b, rng) => {
    const n = rng.int(b.length + 1);
    return { bytes: b.slice(0, n), what: `truncate to ${n} of ${b.length} bytes` };
  },
  splice: (b, rng, donor) => {
    const cut = rng.int(b.length + 1);
    const from = rng.int(donor.length + 1);
    return { bytes: concat(b.subarray(0, cut), donor.subarray(from)), what: `splice: first ${cut} bytes, then another seed's bytes from ${from}` };
  },
  duplicate: (b, rng) => {
    const a = rng.int(b.length + 1);
    const e = Math.min(b.length, a + 1 + rng.int(128));
    const at = rng.int(b.length + 1);
    return { bytes: concat(b.subarray(0, at), b.subarray(a, e), b.subarray(at)), what: `copy bytes ${a}..${e} to ${at}` };
  },
  hugeLength: (b, rng) => {
    // overwrite (or insert) a little-endian length field of 1..8 bytes with a hostile value
    const width = pick(rng, [2, 4, 8]);
    const v = hugeLength(rng, b.length);
    const field = littleEndian(v, width);
    const at = b.length < width || rng.next() < 0.5 ? 0 : rng.int(b.length - width + 1);
    const c = b.slice();
    if (c.length >= at + width) c.set(field, at);
    else return { bytes: concat(field, b), what: `prepend ${width}-byte length ${v}` };
    return { bytes: c, what: `write ${width}-byte length ${v} at ${at}` };
  },
  hugeVarint: (b, rng) => {
    // protobuf length prefix: a 10-byte varint near 2^64, or a prefix byte pointing past the end
    const at = rng.int(b.length + 1);
    const v = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01].slice(rng.int(9)));
    return { bytes: concat(b.subarray(0, at), v, b.subarray(at)), what: `insert a ${v.length}-byte varint at ${at}` };
  },
};

// ---------------------------------------------------------------------------------------------
// JSON structure

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values deeper than this, or beyond this many, are not mutation targets (keeps a case's making cheap). */
const MAX_PATH_DEPTH = 48;
const MAX_PATHS = 20_000;

/** Paths (lists of keys / indices) of the values in `v`, the root included (bounded, see above). */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length >= MAX_PATHS) return out;
  out.push(prefix);
  if (prefix.length >= MAX_PATH_DEPTH) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function getAt(v: Json, path: (string | number)[]): Json {
  let cur: Json = v;
  for (const k of path) cur = (cur as Record<string, Json>)[k as string];
  return cur;
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value === undefined ? null : value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json> | Json[];
  const key = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, Json>)[key as string];
  } else {
    (parent as Record<string | number, Json>)[key] = value;
  }
  return root;
}

const HOSTILE_VALUES: readonly { json: string; label: string }[] = [
  { json: '1e308', label: 'a huge number' },
  { json: '-1e308', label: 'a huge negative number' },
  { json: '9007199254740993', label: '2^53 + 1' },
  { json: '4294967296', label: '2^32' },
  { json: '-1', label: '-1' },
  { json: '0', label: '0' },
  { json: '0.5', label: '0.5' },
  { json: '"NaN"', label: 'the string "NaN"' },
  { json: '"Infinity"', label: 'the string "Infinity"' },
  { json: '""', label: 'an empty string' },
  { json: 'null', label: 'null' },
  { json: 'true', label: 'true' },
  { json: '[]', label: 'an empty array' },
  { json: '{}', label: 'an empty object' },
  { json: '"../../etc/passwd"', label: 'a path escaping the folder' },
  { json: '"__proto__"', label: 'the string "__proto__"' },
  { json: '[1e9, 1e9, 1e9]', label: 'a shape of 10^27 elements' },
];

/** A value of another JSON type than `v` (number ↔ string, object ↔ array …). */
function typeSwap(v: Json, rng: Rng): { value: Json; label: string } {
  if (typeof v === 'number') return pick(rng, [{ value: String(v), label: `the string "${v}"` }, { value: [v], label: `[${v}]` }, { value: null, label: 'null' }]);
  if (typeof v === 'string') return pick(rng, [{ value: Number(v.length), label: `the number ${v.length}` }, { value: [v], label: 'a one-element array' }, { value: {}, label: 'an object' }]);
  if (typeof v === 'boolean') return { value: v ? 1 : 'false', label: v ? '1' : '"false"' };
  if (Array.isArray(v)) return pick(rng, [{ value: Object.fromEntries(v.map((x, i) => [String(i), x])), label: 'an object keyed by index' }, { value: v.length, label: `the number ${v.length}` }]);
  if (v === null) return { value: 0, label: '0' };
  return pick(rng, [{ value: Object.values(v), label: 'the array of its values' }, { value: JSON.stringify(v).slice(0, 40), label: 'a string' }]);
}

export type JsonMutation = (root: Json, rng: Rng) => { root: Json; what: string } | undefined;

const describePath = (p: (string | number)[]) => (p.length ? p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') : '(root)');

export const JSON_MUTATIONS: Record<string, JsonMutation> = {
  deleteKey: (root, rng) => {
    const ps = paths(root).filter((p) => p.length > 0);
    if (ps.length === 0) return undefined;
    const p = pick(rng, ps);
    return { root: setAt(root, p, undefined), what: `delete ${describePath(p)}` };
  },
  typeSwap: (root, rng) => {
    const p = pick(rng, paths(root));
    const { value, label } = typeSwap(getAt(root, p), rng);
    return { root: setAt(root, p, value), what: `${describePath(p)} := ${label}` };
  },
  hostileValue: (root, rng) => {
    const leaves = paths(root).filter((p) => { const v = getAt(root, p); return v === null || typeof v !== 'object' || rng.next() < 0.1; });
    const p = pick(rng, leaves);
    const h = pick(rng, HOSTILE_VALUES);
    return { root: setAt(root, p, JSON.parse(h.json) as Json), what: `${describePath(p)} := ${h.label}` };
  },
  deepNesting: (root, rng) => {
    const p = pick(rng, paths(root));
    const depth = pick(rng, [64, 5000, 100_000]);
    // spliced in as text: JSON.stringify of a 100 000-deep value would overflow our own stack
    return { root: setAt(root, p, `\u0000NEST${depth}\u0000`), what: `${describePath(p)} := ${depth} nested arrays` };
  },
  duplicateElement: (root, rng) => {
    const arrays = paths(root).filter((p) => { const v = getAt(root, p); return Array.isArray(v) && v.length > 0; });
    if (arrays.length === 0) return undefined;
    const p = pick(rng, arrays);
    const arr = getAt(root, p) as Json[];
    const i = rng.int(arr.length);
    arr.splice(i, 0, JSON.parse(JSON.stringify(arr[i])) as Json);
    return { root, what: `duplicate ${describePath([...p, i])}` };
  },
  addKey: (root, rng) => {
    const objects = paths(root).filter((p) => { const v = getAt(root, p); return v !== null && typeof v === 'object' && !Array.isArray(v); });
    if (objects.length === 0) return undefined;
    const p = pick(rng, objects);
    const key = pick(rng, ['__proto__', 'constructor', 'extra', '', 'kind', 'name']);
    (getAt(root, p) as Record<string, Json>)[key] = pick(rng, [1, 'x', null, [], {}]);
    return { root, what: `add key '${key}' to ${describePath(p)}` };
  },
};

/**
 * A structure-aware mutation of a JSON file, or undefined when `bytes` is not JSON (the caller
 * then falls back to a byte mutation).
 */
export function mutateJson(bytes: Uint8Array, rng: Rng): Mutated | undefined {
  let root: Json;
  try {
    root = JSON.parse(Buffer.from(bytes).toString('utf8')) as Json;
  } catch {
    return undefined;
  }
  const names = Object.keys(JSON_MUTATIONS);
  try {
    for (let attempt = 0; attempt < 4; attempt++) {
      const name = pick(rng, names);
      const r = JSON_MUTATIONS[name](root, rng);
      if (!r) continue;
      const text = JSON.stringify(r.root).replace(/"\\u0000NEST(\d+)\\u0000"/g, (_, d: string) => '['.repeat(Number(d)) + ']'.repeat(Number(d)));
      return { bytes: Buffer.from(text, 'utf8'), what: r.what };
    }
  } catch (err) {
    // a file an earlier round nested too deeply for our own recursion: mutate its bytes instead
    if (!(err instanceof RangeError)) throw err;
  }
  return undefined;
}

/** One mutation of `bytes`: a JSON-structure edit for JSON (`json`, 60 % of the time), else a byte edit. */
export function mutate(bytes: Uint8Array, rng: Rng, donor: Uint8Array, opts: { json?: boolean } = {}): Mutated {
  if (opts.json && rng.next() < 0.6) {
    const m = mutateJson(bytes, rng);
    if (m) return m;
  }
  const name = pick(rng, Object.keys(BYTE_MUTATIONS));
  return BYTE_MUTATIONS[name](bytes, rng, donor);
}
