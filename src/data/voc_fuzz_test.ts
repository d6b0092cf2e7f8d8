/**
 * Fuzz test of the VOC loader: a tiny valid VOC tree is mutated with a seeded RNG (truncation,
 * byte flips, inserted garbage, deleted ranges, deleted or altered XML tags, wrong-size or
 * out-of-range masks, removed files, folders in place of files, list edits …) for FUZZ_CASES cases.
 * Each case must either load valid data or throw BadInputError (never another exception type),
 * and with skipBad it must never throw: a case that failed without skipBad reports ≥ 1 skip, a
 * case that loaded reports none and the same splits.
 *
 * The cases run in a worker thread; the main thread enforces a deadline and terminates the
 * worker if it stops answering, so a hang (which a synchronous decoder could cause) fails the
 * test with the case that was running instead of blocking the suite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Rng } from '../engine/random.js';
import { BadInputError } from './bad_input.js';
import type { SplitName } from './dataset.js';
import { openVocDataset, type VocDataset } from './voc.js';
import { defaultFixtureSpec, encodeGreyPng, encodeJpeg, encodePaletteMask, patternRgb, writeVocTree } from './voc_fixture.js';

const FUZZ_CASES = 2400;
const SEED = 20240611;
const IMAGE_SIZE = 8;
const DEADLINE_MS = 170_000;

interface WorkerMessage { kind: 'start'; index: number; what: string }
interface Summary {
  kind: 'done';
  cases: number;
  loaded: number;
  rejected: number;
  skippedCases: number;
  skippedEntries: number;
  byProblem: Record<string, number>;
  maxCaseMs: number;
  failures: string[];
}

// ---------------------------------------------------------------------------------------------
// Mutations

type Mutation = (root: string, rel: string, rng: Rng) => string;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)];
const readBuf = (p: string) => readFileSync(p);

const BYTE_MUTATIONS: Record<string, Mutation> = {
  truncate: (root, rel, rng) => {
    const b = readBuf(join(root, rel));
    const n = rng.int(b.length);
    writeFileSync(join(root, rel), b.subarray(0, n));
    return `truncate ${rel} to ${n}/${b.length}`;
  },
  flip: (root, rel, rng) => {
    const b = Buffer.from(readBuf(join(root, rel)));
    const k = 1 + rng.int(8);
    for (let i = 0; i < k && b.length > 0; i++) b[rng.int(b.length)] ^= 1 + rng.int(255);
    writeFileSync(join(root, rel), b);
    return `flip ${k} bytes of ${rel}`;
  },
  insert: (root, rel, rng) => {
    const b = readBuf(join(root, rel));
    const at = rng.int(b.length + 1);
    const junk = Buffer.from(Array.from({ length: 1 + rng.int(40) }, () => rng.int(256)));
    writeFileSync(join(root, rel), Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]));
    return `insert ${junk.length} garbage bytes into ${rel} at ${at}`;
  },
  cut: (root, rel, rng) => {
    const b = readBuf(join(root, rel));
    const a = rng.int(b.length + 1);
    const e = Math.min(b.length, a + 1 + rng.int(64));
    writeFileSync(join(root, rel), Buffer.concat([b.subarray(0, a), b.subarray(e)]));
    return `delete bytes ${a}..${e} of ${rel}`;
  },
  remove: (root, rel) => {
    unlinkSync(join(root, rel));
    return `remove ${rel}`;
  },
  directory: (root, rel) => {
    unlinkSync(join(root, rel));
    mkdirSync(join(root, rel));
    return `replace ${rel} by a folder`;
  },
  empty: (root, rel) => {
    writeFileSync(join(root, rel), '');
    return `empty ${rel}`;
  },
};

const XML_MUTATIONS: Record<string, Mutation> = {
  deleteTag: (root, rel, rng) => {
    const s = readBuf(join(root, rel)).toString('utf8');
    const tags = [...s.matchAll(/<\/?[a-z]+>/g)];
    if (tags.length === 0) return `no tag left to delete in ${rel}`;
    const t = pick(rng, tags);
    writeFileSync(join(root, rel), s.slice(0, t.index) + s.slice((t.index ?? 0) + t[0].length));
    return `delete tag ${t[0]} from ${rel}`;
  },
  deleteElement: (root, rel, rng) => {
    const s = readBuf(join(root, rel)).toString('utf8');
    const name = pick(rng, ['name', 'difficult', 'object', 'size', 'truncated', 'bndbox', 'part']);
    const re = new RegExp(`<${name}>[\\s\\S]*?</${name}>`);
    writeFileSync(join(root, rel), s.replace(re, ''));
    return `delete first <${name}> element of ${rel}`;
  },
  rename: (root, rel, rng) => {
    const s = readBuf(join(root, rel)).toString('utf8');
    const name = pick(rng, ['doggo', '', 'DOG', ' bus ', 'person<', '&amp;cat', 'background', '12', 'cat</name><name>dog', '<b>cat</b>']);
    writeFileSync(join(root, rel), s.replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`));
    return `rename first object of ${rel} to '${name}'`;
  },
  difficult: (root, rel, rng) => {
    const s = readBuf(join(root, rel)).toString('utf8');
    const v = pick(rng, ['1', '2', '', 'yes', ' 1 ', '<x/>', '0</difficult><difficult>1']);
    writeFileSync(join(root, rel), s.replace(/<difficult>[^<]*<\/difficult>/, `<difficult>${v}</difficult>`));
    return `set first <difficult> of ${rel} to '${v}'`;
  },
  nest: (root, rel, rng) => {
    const depth = pick(rng, [10, 1000, 20000]);
    const s = readBuf(join(root, rel)).toString('utf8');
    writeFileSync(join(root, rel), s.replace('</annotation>', `${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</annotation>`));
    return `nest ${depth} elements into ${rel}`;
  },
};

const PNG_MUTATIONS: Record<string, Mutation> = {
  wrongSize: (root, rel, rng) => {
    const w = 1 + rng.int(40);
    const h = 1 + rng.int(40);
    writeFileSync(join(root, rel), encodePaletteMask(w, h, new Uint8Array(w * h)));
    return `replace ${rel} by a ${w}×${h} mask`;
  },
  badIndices: (root, rel, rng) => {
    const { w, h } = maskSizeOf(rel);
    const v = new Uint8Array(w * h);
    const bad = pick(rng, [21, 100, 254, 7]);
    v[rng.int(v.length)] = bad;
    writeFileSync(join(root, rel), encodeGreyPng(w, h, v));
    return `replace ${rel} by a greyscale mask holding ${bad}`;
  },
};

const JPEG_MUTATIONS: Record<string, Mutation> = {
  otherSize: (root, rel, rng) => {
    const w = 1 + rng.int(40);
    const h = 1 + rng.int(40);
    writeFileSync(join(root, rel), encodeJpeg(w, h, patternRgb(w, h, 3)));
    return `replace ${rel} by a valid ${w}×${h} JPEG`;
  },
  png: (root, rel) => {
    writeFileSync(join(root, rel), encodePaletteMask(4, 4, new Uint8Array(16)));
    return `replace ${rel} by a PNG`;
  },
};

const LIST_MUTATIONS: Record<string, Mutation> = {
  addLine: (root, rel, rng) => {
    const line = pick(rng, ['2008_000099', '2008_000006', '2008_000001', '../x', ' ', '\u0000', '2008_000005 1', '.hidden', 'ü']);
    writeFileSync(join(root, rel), `${readBuf(join(root, rel)).toString('utf8')}${line}\n`);
    return `append '${JSON.stringify(line)}' to ${rel}`;
  },
  crlf: (root, rel) => {
    writeFileSync(join(root, rel), readBuf(join(root, rel)).toString('utf8').replace(/\n/g, '\r\n'));
    return `CRLF line ends in ${rel}`;
  },
};

const FIXTURE = defaultFixtureSpec();
function maskSizeOf(rel: string): { w: number; h: number } {
  const id = rel.split(/[\\/]/).pop()!.replace(/\.png$/, '');
  const img = FIXTURE.images.find((i) => i.id === id)!;
  return { w: img.width, h: img.height };
}

/** Mutations applicable to a file; byte-level edits are listed twice so they are drawn more often than whole-file ones. */
function mutationsFor(rel: string): Mutation[] {
  const extra = rel.endsWith('.xml') ? XML_MUTATIONS : rel.endsWith('.png') ? PNG_MUTATIONS
    : rel.endsWith('.jpg') ? JPEG_MUTATIONS : rel.endsWith('.txt') ? LIST_MUTATIONS : {};
  const b = BYTE_MUTATIONS;
  return [b.truncate, b.flip, b.flip, b.insert, b.insert, b.cut, b.cut, b.remove, b.directory, b.empty, ...Object.values(extra), ...Object.values(extra)];
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkDataset(ds: VocDataset): void {
  const S = IMAGE_SIZE;
  for (const split of ['train', 'val', 'test'] as SplitName[]) {
    const ids = ds.ids(split);
    assert.equal(ids.length, ds.size(split));
    for (let i = 0; i < ds.size(split); i++) {
      const s = ds.get(split, i);
      assert.equal(s.id, ids[i]);
      assert.equal(s.image.length, S * S * 3);
      for (const v of s.image) if (!(v >= 0 && v <= 1)) throw new Error(`${split}/${s.id}: pixel ${v}`);
      assert.equal(s.label.length, 20);
      assert.ok(s.label.every((v) => v === 0 || v === 1) && s.label.some((v) => v === 1), `${split}/${s.id}: label`);
      if (split === 'test') {
        assert.ok(s.mask && s.mask.length === S * S, `${split}/${s.id}: mask`);
        for (const v of s.mask!) if (!(v <= 20 || v === 255)) throw new Error(`${split}/${s.id}: mask value ${v}`);
      } else {
        assert.equal(s.mask, undefined);
      }
    }
  }
}

const sizes = (ds: VocDataset) => [ds.size('train'), ds.size('val'), ds.size('test')].join('/');

// ---------------------------------------------------------------------------------------------
// Worker: runs the cases

function runCases(n: number, seed: number): Summary {
  const base = mkdtempSync(join(tmpdir(), 'apc-voc-fuzz-'));
  try {
    const pristine = writeVocTree(join(base, 'pristine'), FIXTURE);
    const work = join(base, 'work');
    cpSync(pristine, work, { recursive: true });
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(relative(pristine, p));
      }
    };
    walk(pristine);
    const original = new Map(files.map((rel) => [rel, readFileSync(join(pristine, rel))]));
    const summary: Summary = { kind: 'done', cases: 0, loaded: 0, rejected: 0, skippedCases: 0, skippedEntries: 0, byProblem: {}, maxCaseMs: 0, failures: [] };
    const opts = { cacheDir: null, log: () => {}, imageSize: IMAGE_SIZE } as const; // default decode limits
    for (let c = 0; c < n; c++) {
      const rng = Rng.derive(seed, 'voc-fuzz', c);
      const steps: string[] = [];
      const touched = new Set<string>();
      const k = 1 + rng.int(3);
      for (let j = 0; j < k; j++) {
        const rel = pick(rng, files);
        let exists = false;
        try {
          exists = statSync(join(work, rel)).isFile();
        } catch {
          exists = false;
        }
        if (!exists) continue;
        touched.add(rel);
        steps.push(pick(rng, mutationsFor(rel))(work, rel, rng));
      }
      const what = `case ${c}: ${steps.join('; ') || 'no-op'}`;
      parentPort?.postMessage({ kind: 'start', index: c, what } satisfies WorkerMessage);
      const t0 = performance.now();
      try {
        let strict: VocDataset | undefined;
        let strictError: BadInputError | undefined;
        try {
          strict = openVocDataset(work, opts);
          checkDataset(strict);
        } catch (err) {
          if (!(err instanceof BadInputError)) throw new Error(`${what}: threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
          strictError = err;
        }
        let lenient: VocDataset;
        try {
          lenient = openVocDataset(work, { ...opts, skipBad: true });
          checkDataset(lenient);
        } catch (err) {
          throw new Error(`${what}: with skipBad threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
        }
        if (strict) {
          summary.loaded++;
          assert.equal(lenient.skipped.length, 0, `${what}: loaded without skipBad but skipped ${JSON.stringify(lenient.skipped)}`);
          assert.equal(sizes(lenient), sizes(strict), what);
        } else {
          summary.rejected++;
          assert.ok(lenient.skipped.length >= 1, `${what}: rejected (${strictError?.message}) but nothing skipped with skipBad`);
          const first = lenient.skipped[0];
          assert.equal(`${first.file}: ${first.problem}`, strictError?.message, `${what}: the first skip is the strict error`);
        }
        if (lenient.skipped.length > 0) summary.skippedCases++;
        summary.skippedEntries += lenient.skipped.length;
        for (const s of lenient.skipped) {
          const kind = s.problem.replace(/\(.*$/, '').replace(/'.*?'|\d+/g, '…').trim().slice(0, 48);
          summary.byProblem[kind] = (summary.byProblem[kind] ?? 0) + 1;
        }
      } catch (err) {
        summary.failures.push((err as Error).message);
        if (summary.failures.length >= 10) break;
      }
      summary.maxCaseMs = Math.max(summary.maxCaseMs, performance.now() - t0);
      summary.cases++;
      for (const rel of touched) {
        rmSync(join(work, rel), { recursive: true, force: true });
        writeFileSync(join(work, rel), original.get(rel) as Buffer);
      }
    }
    return summary;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (!isMainThread && workerData?.apcVocFuzz) {
  parentPort?.postMessage(runCases(workerData.cases as number, workerData.seed as number));
}

// ---------------------------------------------------------------------------------------------
// Main thread

if (isMainThread) {
  test(`VOC loader fuzz: ${FUZZ_CASES} mutated trees load valid data or throw BadInputError, and never hang`, { timeout: DEADLINE_MS + 10_000 }, async () => {
    const started = Date.now();
    // Workers do not inherit tsx's loader: a tiny eval'd entry imports this .ts file through tsx's API.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const worker = new Worker(entry, { eval: true, workerData: { apcVocFuzz: true, cases: FUZZ_CASES, seed: SEED } });
    let last: WorkerMessage | undefined;
    const summary = await new Promise<Summary>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`fuzz worker still busy after ${DEADLINE_MS / 1000} s; last case started: ${last?.what ?? 'none'}`));
      }, DEADLINE_MS);
      worker.on('message', (m: WorkerMessage | Summary) => {
        if (m.kind === 'start') last = m;
        else {
          clearTimeout(timer);
          resolve(m);
        }
      });
      worker.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`fuzz worker exited with ${code}; last case: ${last?.what ?? 'none'}`));
      });
    });
    await worker.terminate();
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`voc fuzz: ${summary.cases} cases in ${seconds.toFixed(1)} s (slowest case ${summary.maxCaseMs.toFixed(0)} ms): `
      + `${summary.loaded} loaded, ${summary.rejected} rejected with BadInputError; with skipBad ${summary.skippedEntries} entries skipped in ${summary.skippedCases} cases\n`);
    for (const [k, v] of Object.entries(summary.byProblem).sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stderr.write(`  ${v}× ${k}\n`);
    assert.deepEqual(summary.failures, []);
    assert.equal(summary.cases, FUZZ_CASES);
    assert.ok(summary.rejected > FUZZ_CASES / 4 && summary.loaded > FUZZ_CASES / 20, 'the mutations exercise both outcomes');
  });
}
