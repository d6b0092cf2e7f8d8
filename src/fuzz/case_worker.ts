/**
 * Runs fuzz cases of one surface and classifies each outcome. Meant to run in a worker thread
 * (fuzz_runner.ts starts it and is the watchdog): it reports each case before running it, so a
 * hang is pinned on the case that was running.
 *
 * Case `i` of surface `s` under seed `S` is fully determined by `Rng.derive(S, s, i)`, so a run
 * restarted after a hang continues with exactly the cases it would have run.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Rng } from '../engine/random.js';
import { mutate, pick } from './mutations.js';
import type { CaseResult, FileSet, FuzzSurface, Outcome } from './surface.js';

/** RSS growth of one case above which it counts as excessive memory (header sizes unchecked). */
export const MEMORY_LIMIT_BYTES = 768 * 2 ** 20;

export interface CaseRange {
  readonly surface: string;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
}

function oneLineMessage(err: unknown): string {
  const m = err instanceof Error ? `${err.name}: ${err.message}` : `thrown ${typeof err}: ${String(err)}`;
  return m.length > 400 ? `${m.slice(0, 399)}…` : m;
}

/** An allocation that failed because a size came from the file unchecked. */
function isAllocationFailure(err: unknown): boolean {
  return err instanceof RangeError && /allocation failed|Invalid array length|Invalid typed array length|Array buffer allocation|out of memory/i.test(err.message);
}

function writeFiles(dir: string, files: FileSet): void {
  for (const [rel, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
  }
}

/** Mutates one or two files of a seed (the default case maker). */
function mutateFiles(surface: FuzzSurface, seeds: readonly FileSet[], rng: Rng, caseDir: string): string {
  const seed = pick(rng, seeds);
  const files: FileSet = { ...seed };
  const targets = surface.targets?.(seed) ?? Object.keys(seed);
  const steps: string[] = [];
  const rounds = 1 + (rng.next() < 0.3 ? 1 : 0);
  for (let r = 0; r < rounds; r++) {
    const rel = pick(rng, targets);
    const donorSeed = pick(rng, seeds);
    const donor = donorSeed[rel] ?? pick(rng, Object.values(donorSeed));
    const m = mutate(files[rel], rng, donor, { json: rel.endsWith('.json') });
    files[rel] = m.bytes;
    steps.push(`${rel}: ${m.what}`);
  }
  const extra = surface.afterMutate?.(files, rng);
  if (extra) steps.push(extra);
  writeFiles(caseDir, files);
  return steps.join('; ');
}

function dirIsEmptyOrAbsent(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return true;
  }
}

/** Runs one case; never throws. */
export async function runCase(surface: FuzzSurface, seeds: readonly FileSet[], seed: number, index: number, scratch: string,
  onStart?: (what: string) => void): Promise<CaseResult> {
  const rng = Rng.derive(seed, surface.name, index);
  const caseDir = join(scratch, `case-${index}`);
  const outDir = join(scratch, `out-${index}`);
  mkdirSync(caseDir, { recursive: true });
  onStart?.(`case ${index} (being made)`); // a harness that stalls making a case is caught too
  let what: string;
  try {
    what = surface.makeCase ? surface.makeCase(seeds, rng, caseDir) : mutateFiles(surface, seeds, rng, caseDir);
  } catch (err) {
    return { index, outcome: 'crash', ms: 0, what: 'making the case', detail: `the harness failed: ${oneLineMessage(err)}` };
  }
  onStart?.(what);
  const rss0 = process.memoryUsage.rss();
  const t0 = performance.now();
  let outcome: Outcome;
  let detail: string | undefined;
  try {
    await surface.load(caseDir, outDir);
    outcome = 'ok';
  } catch (err) {
    const message = err instanceof Error ? (surface.errorMessage?.(err) ?? err.message) : String(err);
    if (isAllocationFailure(err)) {
      outcome = 'memory';
      detail = oneLineMessage(err);
    } else if (!surface.isCleanError(err)) {
      outcome = 'crash';
      detail = oneLineMessage(err);
    } else if (message.includes('\n')) {
      outcome = 'crash';
      detail = `clean error class but not one line: ${JSON.stringify(message.slice(0, 300))}`;
    } else if (!(surface.namesInput ?? ((m: string, d: string) => m.includes(d)))(message, caseDir)) {
      outcome = 'crash';
      detail = `clean error class but does not name the input: ${message.slice(0, 300)}`;
    } else {
      outcome = 'clean-error';
      detail = message.split(caseDir).join('CASE').slice(0, 300);
    }
    if (surface.writes && !dirIsEmptyOrAbsent(outDir)) {
      outcome = 'partial';
      detail = `failed (${message.slice(0, 200)}) but left ${readdirSync(outDir).join(', ')} in the output folder`;
    }
  }
  const ms = performance.now() - t0;
  const grew = process.memoryUsage.rss() - rss0;
  if (grew > MEMORY_LIMIT_BYTES && outcome !== 'crash') {
    outcome = 'memory';
    detail = `RSS grew by ${(grew / 2 ** 20).toFixed(0)} MB during the case (${detail ?? 'loaded'})`;
  }
  rmSync(caseDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  return { index, outcome, ms, what, detail };
}

/** Runs cases `from`..`to`-1 in this thread, reporting each one as it starts and ends. */
export async function runCaseRange(surface: FuzzSurface, range: CaseRange, report: {
  start(index: number, what: string): void;
  result(r: CaseResult): void;
}): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), `apc-fuzz-${surface.name.replace(/\W/g, '_')}-`));
  try {
    const seeds = await surface.seeds(join(scratch, 'seeds'));
    for (let i = range.from; i < range.to; i++) {
      report.result(await runCase(surface, seeds, range.seed, i, scratch, (what) => report.start(i, what)));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
