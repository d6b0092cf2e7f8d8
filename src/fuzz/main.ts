/**
 * `npm run fuzz -- --cases N [--surface NAME[,NAME…]] [--seed S] [--timeout MS] [--case I]`: N mutation-fuzz
 * cases per input surface, each surface in its own worker under a hang watchdog. Prints per
 * surface the cases, ok loads, clean errors, crashes, hangs, excessive-memory cases, partial
 * outputs and the slowest case; exits 1 on any crash, hang, excessive memory or partial output.
 */
import { Command, InvalidArgumentError } from 'commander';
import { formatSummaries, fuzzSurfaces, type SurfaceSummary } from './fuzz_runner.js';
import { FAILURES } from './surface.js';
import { SURFACES } from './surfaces.js';

function integer(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

const program = new Command('fuzz')
  .description('mutation fuzzing of every file apc reads and of its CLI flags')
  .option('--cases <n>', 'cases per surface', integer('--cases', 1), 200)
  .option('--surface <names>', `comma-separated surfaces (default all): ${SURFACES.join(', ')}`)
  .option('--seed <n>', 'seed of the mutations', integer('--seed', 0), 1)
  .option('--timeout <ms>', 'a case running longer is a hang', integer('--timeout', 1), 20_000)
  .option('--case <i>', 'replay only case i (of each surface named)', integer('--case', 0))
  .parse(process.argv);
const opts = program.opts<{ cases: number; surface?: string; seed: number; timeout: number; case?: number }>();
if (opts.case !== undefined) opts.cases = 1;
const names = opts.surface ? opts.surface.split(',').map((s) => s.trim()) : [...SURFACES];
for (const n of names) if (!(SURFACES as readonly string[]).includes(n)) program.error(`unknown --surface '${n}'; known: ${SURFACES.join(', ')}`);

let last = Date.now();
const summaries: SurfaceSummary[] = await fuzzSurfaces(names, { cases: opts.cases, seed: opts.seed, caseTimeoutMs: opts.timeout, first: opts.case }, (surface, done) => {
  if (Date.now() - last > 10_000 || done === opts.cases) {
    last = Date.now();
    process.stderr.write(`fuzz ${surface}: ${done}/${opts.cases}\n`);
  }
});
process.stdout.write(`${formatSummaries(summaries)}\n`);
const failed = summaries.reduce((n, s) => n + FAILURES.reduce((m, o) => m + s.counts[o], 0), 0);
process.stdout.write(failed ? `FAIL: ${failed} failing cases (seed ${opts.seed})\n` : `no crashes, hangs, excessive memory or partial outputs (seed ${opts.seed})\n`);
process.exitCode = failed ? 1 : 0;
