/**
 * Option validation shared by the procedural datasets (`shapes`, `mnist-multi`). Every error
 * names the dataset and the offending field, e.g.
 * `shapes: option "imageSize" must be an integer in [32, 512], got 16`.
 */
import { SPLIT_NAMES, type SplitName } from './dataset.js';

export interface OptionChecks {
  /** Throws `<dataset>: option "<field>" must be <expected>, got <got as JSON>`. */
  fail(field: string, expected: string, got: unknown): never;
  /** An integer in [lo, hi]. */
  int(field: string, v: unknown, lo: number, hi: number): number;
  /** A finite number in [lo, hi], or in (lo, hi] with `loOpen`. */
  num(field: string, v: unknown, lo: number, hi: number, loOpen?: boolean): number;
  /** A [min, max] pair with min ≤ max whose entries pass `each` (called with `field[0]`, `field[1]`). */
  pair(field: string, v: unknown, each: (f: string, x: unknown) => number): [number, number];
  /** The options argument: a plain object whose keys are all in `known`. */
  options<T extends object>(opts: T, known: ReadonlySet<string>): T;
  /** `seed`: a safe integer; default 0. */
  seed(v: unknown): number;
  /** `sizes` before its values are checked: an object keyed by split names; default {}. */
  sizesObject(v: unknown): Partial<Record<SplitName, unknown>>;
  /** Split sizes: each an integer in [0, 1e8], `defaults` where not given. */
  splitSizes(given: Partial<Record<SplitName, unknown>>, defaults: Readonly<Record<SplitName, number>>): Record<SplitName, number>;
}

const MAX_SPLIT_SIZE = 100_000_000;

const isPlainObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The checks of one dataset; `dataset` prefixes every message. */
export function optionChecks(dataset: string): OptionChecks {
  const fail = (field: string, expected: string, got: unknown): never => {
    let shown: string;
    try {
      shown = JSON.stringify(got) ?? String(got);
    } catch {
      shown = String(got);
    }
    throw new Error(`${dataset}: option "${field}" must be ${expected}, got ${shown}`);
  };
  const int = (field: string, v: unknown, lo: number, hi: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(field, `an integer in [${lo}, ${hi}]`, v);
    return v as number;
  };
  return {
    fail,
    int,
    num(field, v, lo, hi, loOpen = false) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v > hi || (loOpen ? v <= lo : v < lo)) {
        fail(field, `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`, v);
      }
      return v as number;
    },
    pair(field, v, each) {
      if (!Array.isArray(v) || v.length !== 2) fail(field, 'a [min, max] pair', v);
      const [x, y] = v as unknown[];
      const a = each(`${field}[0]`, x);
      const b = each(`${field}[1]`, y);
      if (a > b) fail(field, 'a [min, max] pair with min ≤ max', v);
      return [a, b];
    },
    options(opts, known) {
      if (!isPlainObject(opts)) fail('options', 'an object', opts);
      for (const key of Object.keys(opts)) if (!known.has(key)) throw new Error(`${dataset}: unknown option "${key}"`);
      return opts;
    },
    seed(v) {
      const seed = v ?? 0;
      if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) fail('seed', 'a safe integer', seed);
      return seed as number;
    },
    sizesObject(v) {
      const sizes = v ?? {};
      if (!isPlainObject(sizes)) fail('sizes', 'an object', sizes);
      for (const key of Object.keys(sizes)) {
        if (!SPLIT_NAMES.includes(key as SplitName)) throw new Error(`${dataset}: unknown option "sizes.${key}" (expected train, val, test)`);
      }
      return sizes as Partial<Record<SplitName, unknown>>;
    },
    splitSizes(given, defaults) {
      return {
        train: int('sizes.train', given.train ?? defaults.train, 0, MAX_SPLIT_SIZE),
        val: int('sizes.val', given.val ?? defaults.val, 0, MAX_SPLIT_SIZE),
        test: int('sizes.test', given.test ?? defaults.test, 0, MAX_SPLIT_SIZE),
      };
    },
  };
}
