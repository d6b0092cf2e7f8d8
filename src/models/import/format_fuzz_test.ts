/**
 * Mutation fuzz test of the three file readers (ONNX, safetensors, .npy): small valid files are
 * mutated with a seeded RNG (truncation, byte flips, inserted garbage, deleted or duplicated
 * ranges, huge varints, rewritten length fields) for FUZZ_CASES cases per format. Each case must
 * either decode to consistent data (every tensor holds product(dims) values) or throw the
 * reader's error type (ModelFileError / BadInputError) with a one-line message that names the
 * file — never another exception type, never a hang. Every 8th case goes through the on-disk
 * reader instead of the in-memory decoder.
 *
 * The cases run in a worker thread; the main thread terminates it if it stops answering, so a
 * hang fails the test with the case that was running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BadInputError } from '../../data/bad_input.js';
import { decodeNpy, encodeNpy, readNpy } from '../../data/npy.js';
import { Rng } from '../../engine/random.js';
import { ModelFileError } from './errors.js';
import { sampleOnnxModel } from './fixtures.js';
import { decodeOnnxModel, encodeOnnxModel, float32Tensor, int64Tensor, readOnnxModel, type OnnxGraph, type OnnxModel } from './onnx_model.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, type SafeTensorInput } from './safetensors.js';

const FUZZ_CASES = 400;
const SEED = 20250117;
const DEADLINE_MS = 120_000;

type Format = 'onnx' | 'safetensors' | 'npy';
const FORMATS: Format[] = ['onnx', 'safetensors', 'npy'];

interface StartMessage { kind: 'start'; what: string }
interface Summary {
  kind: 'done';
  cases: number;
  decoded: Record<Format, number>;
  rejected: Record<Format, number>;
  byProblem: Record<string, number>;
  maxCaseMs: number;
  failures: string[];
}

// ---------------------------------------------------------------------------------------------
// Valid base files

function onnxWithSubgraph(): OnnxModel {
  const body: OnnxGraph = {
    name: 'body', nodes: [{ name: 'c', opType: 'Constant', inputs: [], outputs: ['k'], attributes: [{ name: 'value', type: 'tensor', value: int64Tensor('', [2], [1, -1]) }] }],
    initializers: [], inputs: [], outputs: [{ name: 'k', type: { kind: 'tensor', elemType: 'INT64', shape: [2] } }], valueInfo: [],
  };
  return {
    irVersion: 8, opsetImports: [{ domain: '', version: 13 }], producerName: 'fuzz', producerVersion: '1',
    graph: {
      name: 'g',
      nodes: [{
        name: 'if', opType: 'If', inputs: ['cond'], outputs: ['k'],
        attributes: [
          { name: 'then_branch', type: 'graph', value: body }, { name: 'else_branch', type: 'graph', value: body },
          { name: 'names', type: 'strings', value: ['a', 'b'] }, { name: 'f', type: 'floats', value: [0.5, 2] },
        ],
      }],
      initializers: [
        { name: 's', dims: [2], dataType: 'STRING', data: ['x', 'yz'] },
        { name: 'h', dims: [3], dataType: 'FLOAT16', data: new Float32Array([1, 2, 3]) },
        float32Tensor('w', [2, 3], [1, 2, 3, 4, 5, 6]),
      ],
      inputs: [{ name: 'cond', type: { kind: 'tensor', elemType: 'BOOL', shape: [] } }],
      outputs: [{ name: 'k', type: { kind: 'tensor', elemType: 'INT64', shape: ['n'] } }],
      valueInfo: [],
    },
  };
}

function baseFiles(): Record<Format, Uint8Array[]> {
  const st1 = new Map<string, SafeTensorInput>([
    ['a.weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
    ['a.n', { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) }],
    ['b', { dtype: 'F16', shape: [2], data: new Float32Array([0.5, -1]) }],
    ['c', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['d', { dtype: 'BF16', shape: [1, 1], data: new Float32Array([3]) }],
  ]);
  const files: Record<Format, Uint8Array[]> = {
    onnx: [encodeOnnxModel(sampleOnnxModel()), encodeOnnxModel(onnxWithSubgraph())],
    safetensors: [encodeSafetensors(st1, { format: 'pt' }), encodeSafetensors({ x: { dtype: 'U8', shape: [4], data: new Uint8Array([1, 2, 3, 4]) } })],
    npy: [
      encodeNpy([2, 3], new Float32Array([0, 1, 2, 3, 4, 5])),
      encodeNpy([], new Float64Array([1.5])),
      encodeNpy([2, 2], new BigInt64Array([1n, 2n, 3n, 4n])),
      encodeNpy([3], new Uint8Array([1, 0, 1]), { bool: true }),
    ],
  };
  // plain copies, so that a mutation's .slice() never writes into a base file
  for (const f of FORMATS) files[f] = files[f].map((b) => Uint8Array.from(b));
  return files;
}

// ---------------------------------------------------------------------------------------------
// Mutations

type Mutation = (b: Uint8Array, rng: Rng, format: Format) => [Uint8Array, string];

const randomBytes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, rng) => {
    const n = rng.int(b.length);
    return [b.slice(0, n), `truncate to ${n}/${b.length}`];
  },
  flip: (b, rng) => {
    const c = b.slice();
    const k = 1 + rng.int(6);
    const at: number[] = [];
    for (let i = 0; i < k; i++) {
      const p = rng.int(c.length);
      c[p] ^= 1 + rng.int(255);
      at.push(p);
    }
    return [c, `flip bytes at ${at.join(',')}`];
  },
  insert: (b, rng) => {
    const at = rng.int(b.length + 1);
    const junk = randomBytes(rng, 1 + rng.int(24));
    return [concat(b.subarray(0, at), junk, b.subarray(at)), `insert ${junk.length} bytes at ${at}`];
  },
  cut: (b, rng) => {
    const a = rng.int(b.length);
    const e = Math.min(b.length, a + 1 + rng.int(32));
    return [concat(b.subarray(0, a), b.subarray(e)), `delete bytes ${a}..${e}`];
  },
  duplicate: (b, rng) => {
    const a = rng.int(b.length);
    const e = Math.min(b.length, a + 1 + rng.int(64));
    const at = rng.int(b.length + 1);
    return [concat(b.subarray(0, at), b.subarray(a, e), b.subarray(at)), `copy bytes ${a}..${e} to ${at}`];
  },
  extreme: (b, rng) => {
    const c = b.slice();
    const p = rng.int(c.length);
    c[p] = [0x00, 0xff, 0x80, 0x7f][rng.int(4)];
    return [c, `set byte ${p} to ${c[p]}`];
  },
  bigVarint: (b, rng) => {
    const at = rng.int(b.length + 1);
    const v = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01].slice(rng.int(8)));
    return [concat(b.subarray(0, at), v, b.subarray(at)), `insert a ${v.length}-byte varint at ${at}`];
  },
  lengthField: (b, rng, format) => {
    const c = Buffer.from(b);
    if ((format === 'safetensors' && c.length < 8) || (format === 'npy' && c.length < 10)) return MUTATIONS.flip(b, rng, format);
    if (format === 'safetensors') {
      const n = [0n, 1n, 7n, BigInt(c.length), BigInt(rng.int(c.length * 2)), 2n ** 63n][rng.int(6)];
      c.writeBigUInt64LE(n, 0);
      return [Uint8Array.from(c), `header length := ${n}`];
    }
    if (format === 'npy') {
      const n = [0, 1, 117, 119, c.length, rng.int(65536)][rng.int(6)];
      c.writeUInt16LE(n, 8);
      return [Uint8Array.from(c), `header length := ${n}`];
    }
    // ONNX: rewrite a length prefix byte somewhere (any byte with the top bit clear after a tag 0x?a)
    const tags = [...c.keys()].filter((i) => (c[i] & 7) === 2 && i + 1 < c.length);
    const i = tags.length ? tags[rng.int(tags.length)] + 1 : rng.int(c.length);
    c[i] = rng.int(128);
    return [Uint8Array.from(c), `length byte ${i} := ${c[i]}`];
  },
};

// ---------------------------------------------------------------------------------------------
// Worker: runs the cases

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkGraph(g: OnnxGraph): string | undefined {
  for (const t of g.initializers) if (t.data.length !== product(t.dims)) return `initializer ${t.name}: ${t.data.length} values for dims ${t.dims}`;
  for (const n of g.nodes) {
    for (const a of n.attributes) {
      if (a.type === 'tensor' && a.value.data.length !== product(a.value.dims)) return `attribute ${a.name}: bad tensor size`;
      if (a.type === 'graph') {
        const p = checkGraph(a.value);
        if (p) return p;
      }
    }
  }
  return undefined;
}

/** Decode `bytes` (from memory or from `path`); returns a consistency problem, or undefined. */
async function decode(format: Format, bytes: Uint8Array, file: string, fromDisk: boolean): Promise<string | undefined> {
  if (fromDisk) writeFileSync(file, bytes);
  switch (format) {
    case 'onnx': return checkGraph((fromDisk ? await readOnnxModel(file) : decodeOnnxModel(bytes, file)).graph);
    case 'safetensors': {
      const r = fromDisk ? await readSafetensors(file) : decodeSafetensors(bytes, file);
      for (const [k, t] of r.tensors) if (t.data.length !== product(t.shape)) return `tensor ${k}: ${t.data.length} values for shape ${t.shape}`;
      return undefined;
    }
    case 'npy': {
      const r = fromDisk ? await readNpy(file) : decodeNpy(bytes, file);
      return r.data.length === product(r.shape) ? undefined : `${r.data.length} values for shape ${r.shape}`;
    }
  }
}

async function runCases(cases: number, seed: number): Promise<Summary> {
  const dir = mkdtempSync(join(tmpdir(), 'apc-format-fuzz-'));
  const bases = baseFiles();
  const names = Object.keys(MUTATIONS);
  const summary: Summary = {
    kind: 'done', cases: 0, decoded: { onnx: 0, safetensors: 0, npy: 0 }, rejected: { onnx: 0, safetensors: 0, npy: 0 },
    byProblem: {}, maxCaseMs: 0, failures: [],
  };
  try {
    for (const format of FORMATS) {
      const rng = Rng.derive(seed, format);
      for (let c = 0; c < cases; c++) {
        const base = bases[format][rng.int(bases[format].length)];
        let bytes = base;
        const steps: string[] = [];
        const rounds = 1 + (rng.next() < 0.25 ? 1 : 0);
        for (let r = 0; r < rounds; r++) {
          const name = names[rng.int(names.length)];
          const [next, what] = MUTATIONS[name](bytes.length ? bytes : Uint8Array.of(0), rng, format);
          bytes = next;
          steps.push(what);
        }
        const file = join(dir, `case-${c}.${format}`);
        const fromDisk = c % 8 === 7;
        const what = `${format} case ${c}${fromDisk ? ' (from disk)' : ''}: ${steps.join('; ')}`;
        parentPort?.postMessage({ kind: 'start', what } satisfies StartMessage);
        const t0 = performance.now();
        try {
          const problem = await decode(format, bytes, file, fromDisk);
          if (problem) summary.failures.push(`${what}: decoded inconsistent data: ${problem}`);
          summary.decoded[format]++;
        } catch (err) {
          const expected = format === 'npy' ? err instanceof BadInputError : err instanceof ModelFileError;
          const message = err instanceof Error ? err.message : String(err);
          if (!expected) summary.failures.push(`${what}: threw ${err instanceof Error ? err.constructor.name : typeof err}: ${message}`);
          else if (!message.startsWith(`${file}: `)) summary.failures.push(`${what}: message does not start with the file name: ${message}`);
          else if (message.includes('\n')) summary.failures.push(`${what}: message has a line break: ${JSON.stringify(message)}`);
          else {
            summary.rejected[format]++;
            const key = `${format}: ${message.slice(file.length + 2).replace(/\d+/g, 'N').replace(/'[^']*'/g, "'…'").slice(0, 70)}`;
            summary.byProblem[key] = (summary.byProblem[key] ?? 0) + 1;
          }
        }
        summary.maxCaseMs = Math.max(summary.maxCaseMs, performance.now() - t0);
        summary.cases++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return summary;
}

if (!isMainThread && workerData?.apcFormatFuzz) {
  parentPort?.postMessage(await runCases(workerData.cases as number, workerData.seed as number));
}

// ---------------------------------------------------------------------------------------------
// Main thread: deadline and report

if (isMainThread) {
  test(`model-file fuzz: ${FUZZ_CASES} mutated files per format decode consistently or throw one-line errors naming the file, never hang`, { timeout: DEADLINE_MS + 10_000 }, async () => {
    const started = Date.now();
    // Workers do not inherit tsx's loader: a tiny eval'd entry imports this .ts file through tsx's API.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const worker = new Worker(entry, { eval: true, workerData: { apcFormatFuzz: true, cases: FUZZ_CASES, seed: SEED } });
    let last: StartMessage | undefined;
    const summary = await new Promise<Summary>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`fuzz worker still busy after ${DEADLINE_MS / 1000} s; last case started: ${last?.what ?? 'none'}`));
      }, DEADLINE_MS);
      worker.on('message', (m: StartMessage | Summary) => {
        if (m.kind === 'start') last = m;
        else {
          clearTimeout(timer);
          resolve(m);
        }
      });
      worker.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`fuzz worker crashed during ${last?.what ?? 'start-up'}: ${e.message}`));
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`fuzz worker exited with ${code}; last case: ${last?.what ?? 'none'}`));
      });
    });
    await worker.terminate();
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`format fuzz: ${summary.cases} cases in ${seconds.toFixed(1)} s (slowest ${summary.maxCaseMs.toFixed(0)} ms); `
      + FORMATS.map((f) => `${f} ${summary.decoded[f]} decoded / ${summary.rejected[f]} rejected`).join(', ') + '\n');
    for (const [k, v] of Object.entries(summary.byProblem).sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stderr.write(`  ${v}× ${k}\n`);
    assert.deepEqual(summary.failures, []);
    assert.equal(summary.cases, FUZZ_CASES * FORMATS.length);
    for (const f of FORMATS) assert.ok(summary.rejected[f] > FUZZ_CASES / 4, `${f}: the mutations are rejected often`);
    assert.ok(summary.decoded.onnx + summary.decoded.safetensors + summary.decoded.npy > 0, 'and sometimes still decode');
  });
}
