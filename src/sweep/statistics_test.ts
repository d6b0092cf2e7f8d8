import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedTTest, summarize, tCritical } from './statistics.js';

const near = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('t critical values match the published two-sided 95 % table', () => {
  // NIST/SEMATECH e-Handbook, Table of upper critical values of the t distribution, α = 0.025
  const table: [number, number][] = [[1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [9, 2.262], [29, 2.045]];
  for (const [df, t] of table) near(tCritical(df), t, 5e-4, `t(0.975, ${df})`);
});

test('summary: mean, sample sd and t interval by hand', () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x − 5)² = 32, sd = √(32/7)
  const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
  near(s.mean, 5, 1e-12, 'mean');
  near(s.sd, Math.sqrt(32 / 7), 1e-12, 'sd');
  const half = 2.3646 * Math.sqrt(32 / 7) / Math.sqrt(8); // t(0.975, 7) = 2.365
  near(s.ci95[0], 5 - half, 1e-3, 'lo');
  near(s.ci95[1], 5 + half, 1e-3, 'hi');
  assert.ok(Number.isNaN(summarize([3]).sd));
  assert.deepEqual(summarize([3]).ci95.map(Number.isNaN), [true, true]);
});

test('paired t-test: Student\'s sleep data (Cushny & Peebles) gives t = 4.062, df 9, p = 0.002833', () => {
  // R: t.test(extra ~ group, data = sleep, paired = TRUE) → mean difference −1.58,
  // 95 % CI [−2.4598858, −0.7001142], p-value = 0.002833
  const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
  const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
  const r = pairedTTest(g1, g2);
  near(r.meanDiff, -1.58, 1e-12, 'meanDiff');
  near(r.ci95[0], -2.4598858, 1e-6, 'lo');
  near(r.ci95[1], -0.7001142, 1e-6, 'hi');
  near(r.p, 0.002833, 1e-6, 'p');
  // the test is symmetric in its sign
  near(pairedTTest(g2, g1).p, r.p, 1e-15, 'swapped p');
});

test('paired t-test: identical pairs give p = 1; length mismatch is an error', () => {
  assert.equal(pairedTTest([1, 2, 3], [1, 2, 3]).p, 1);
  assert.throws(() => pairedTTest([1, 2], [1]), /2 values against 1/);
});
