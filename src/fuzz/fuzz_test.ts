/**
 * The fast subset of `npm run fuzz`: FUZZ_CASES mutated inputs per surface (every file apc reads
 * and the CLI's flags) must each load valid data or fail with one named error — no crash, hang,
 * excessive memory or partial output. And the harness itself classifies known outcomes right,
 * including a hang it must stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummaries, fuzzSurfaces } from './fuzz_runner.js';
import { SURFACES } from './surfaces.js';

const FUZZ_CASES = 25;
const SEED = 20261202;

test('the harness classifies ok, clean error, crash, hang, partial output and unbounded allocation, and continues after a hang', { timeout: 120_000 }, async () => {
  const [s] = await fuzzSurfaces(['selftest'], { cases: 12, seed: 1, caseTimeoutMs: 2_000 });
  assert.deepEqual(s.counts, { ok: 2, 'clean-error': 2, crash: 2, hang: 2, memory: 2, partial: 2 });
  assert.deepEqual(s.failures.map((f) => `${f.index} ${f.outcome}`), ['2 crash', '3 hang', '4 partial', '5 memory', '8 crash', '9 hang', '10 partial', '11 memory']);
  assert.match(s.failures[0].detail ?? '', /TypeError: cannot read properties/);
  assert.match(s.failures[2].detail ?? '', /left half\.bin in the output folder/);
});

test(`fuzz: ${FUZZ_CASES} mutated inputs per surface load or fail cleanly (no crash, hang, excessive memory, partial output)`, { timeout: 600_000 }, async (t) => {
  const summaries = await fuzzSurfaces(SURFACES, { cases: FUZZ_CASES, seed: SEED });
  for (const line of formatSummaries(summaries).split('\n')) t.diagnostic(line);
  for (const s of summaries) {
    assert.equal(s.cases, FUZZ_CASES, s.surface);
    assert.deepEqual(s.failures.map((f) => `${f.outcome} case ${f.index}: ${f.what} → ${f.detail}`), [], s.surface);
    // the mutations must reach the loader's checks, not only fail to parse or pass untouched
    assert.ok(s.counts['clean-error'] > 0, `${s.surface}: some cases are rejected`);
  }
  assert.ok(summaries.filter((s) => s.counts.ok > 0).length >= SURFACES.length - 2, 'most surfaces also load some mutated inputs');
});
