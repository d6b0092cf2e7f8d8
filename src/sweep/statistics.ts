/**
 * Statistics over seeds: mean, sample sd and a Student-t 95 % interval per configuration, and the
 * paired comparison (matching − no matching on the same seed and teacher) with its t interval and
 * two-sided paired t-test p. With 5 seeds a rank test cannot reach p < 0.05 (its smallest two-sided
 * p is 2/2⁵ = 0.0625), so the t-test it is. Quantiles and the CDF come from stdlib.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

export interface Summary {
  /** Values summarised (seeds). */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1); NaN for n < 2. */
  readonly sd: number;
  /** mean ± t(0.975, n − 1) · sd / √n; [NaN, NaN] for n < 2. */
  readonly ci95: readonly [number, number];
}

export interface PairedTest extends Summary {
  /** Mean of the differences (= `mean`, named for the paired table). */
  readonly meanDiff: number;
  /** Two-sided paired t-test p of mean difference 0 (n − 1 df); NaN for n < 2; 1 when every difference is 0. */
  readonly p: number;
}

/** The upper 1 − α/2 Student-t quantile with `df` degrees of freedom. */
export function tCritical(df: number, confidence = 0.95): number {
  return tQuantile(1 - (1 - confidence) / 2, df);
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: NaN, sd: NaN, ci95: [NaN, NaN] };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { n, mean, sd: NaN, ci95: [NaN, NaN] };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = tCritical(n - 1) * sd / Math.sqrt(n);
  return { n, mean, sd, ci95: [mean - half, mean + half] };
}

/** Paired t-test of `a[i] − b[i]` (the same seed and teacher at index i). */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTest {
  if (a.length !== b.length) throw new Error(`pairedTTest: ${a.length} values against ${b.length}; pairs need equal lengths`);
  const s = summarize(a.map((x, i) => x - b[i]));
  let p = NaN;
  if (s.n >= 2) {
    const se = s.sd / Math.sqrt(s.n);
    // identical pairs: no evidence of a difference (t = 0/0)
    p = se === 0 ? (s.mean === 0 ? 1 : 0) : 2 * (1 - tCdf(Math.abs(s.mean / se), s.n - 1));
  }
  return { ...s, meanDiff: s.mean, p };
}
