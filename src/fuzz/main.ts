/**
 * `npm run fuzz -- --cases N [--surface NAME[,NAME…]] [--seed S] [--timeout MS]`: N mutation-fuzz
 * cases per input surface, each surface in its own worker under a hang watchdog. Prints per
 * surface the cases, ok loads, clean errors, crashes, hangs, excessive-memory cases, partial
 * outputs and the slowest case; exits 1 on any crash, hang, excessive memory or partial output.
 */
import { Command, InvalidArgumentError } from 'commander';
import { formatSummaries, fuzzSurfaces, type SurfaceSummary } from './fuzz_runner.js';
import { FAILURES } from './surface.js';
import { SURFACES } from './surfaces.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

const program = new Command('fuzz')
  .description('mutation fuzzing of every file apc reads and of its CLI flags')
  .option('--cases <n>', 'cases per surface', positiveInt('--cases'), 200)
  .option('--surface <names>', `comma-separated surfaces (default all): ${SURFACES.join(', ')}`)
  .option('--seed <n>', 'seed of the mutations', positiveInt('--seed'), 1)
  .option('--timeout <ms>', 'a case running longer is a hang', positiveInt('--timeout'), 20_000)
  .parse(process.argv);
const opts = program.opts<{ cases: number; surface?: string; seed: number; timeout: number }>();
const names = opts.surface ? opts.surface.split(',').map((s) => s.trim()) : [...SURFACES];
for (const n of names) if (!(SURFACES as readonly string[]).includes(n)) program.error(`unknown --surface '${n}'; known: ${SURFACES.join(', ')}`);

let last = Date.now();
const summaries: SurfaceSummary[] = await fuzzSurfaces(names, { cases: opts.cases, seed: opts.seed, caseTimeoutMs: opts.timeout }, (surface, done) => {
  if (Date.now() - last > 10_000 || done === opts.cases) {
    last = Date.now();
    process.stderr.write(`fuzz ${surface}: ${done}/${opts.cases}\n`);
  }
});
process.stdout.write(`${formatSummaries(summaries)}\n`);
const failed = summaries.reduce((n, s) => n + FAILURES.reduce((m, o) => m + s.counts[o], 0), 0);
process.stdout.write(failed ? `FAIL: ${failed} failing cases (seed ${opts.seed})\n` : `no crashes, hangs, excessive memory or partial outputs (seed ${opts.seed})\n`);
process.exitCode = failed ? 1 : 0;
