/**
 * A fixed, seeded sample of a dataset's splits as a dataset of its own: `apc verify` checks a
 * few dozen images spread over the whole split instead of its first ones, and the same seed
 * gives the same images on every run and machine.
 */
import { Rng } from '../engine/random.js';
import type { Dataset, SplitName } from './dataset.js';

/** The sampled indices of each split (ascending), as `sampledDataset` uses them. */
export type SplitSample = Partial<Record<SplitName, readonly number[]>>;

/**
 * `count` images of each of `splits` drawn without replacement with `Rng(seed)` per split
 * (the whole split when it is smaller), ascending. Other splits are left as they are.
 */
export function sampledDataset(data: Dataset, splits: readonly SplitName[], count: number, seed: number): { data: Dataset; sample: SplitSample } {
  if (!Number.isInteger(count) || count < 1) throw new Error(`sample size must be an integer ≥ 1, got ${count}`);
  const sample: SplitSample = {};
  for (const split of new Set(splits)) {
    const n = data.size(split);
    sample[split] = new Rng(`${seed}:sample:${split}`).sampleWithoutReplacement(n, Math.min(n, count));
  }
  const at = (split: SplitName, i: number) => {
    const idx = sample[split];
    if (!idx) return i;
    if (!(i >= 0 && i < idx.length)) throw new RangeError(`sampled ${data.info.name} split '${split}' has ${idx.length} images, asked for index ${i}`);
    return idx[i];
  };
  const view: Dataset = {
    info: data.info,
    size: (split) => sample[split]?.length ?? data.size(split),
    get: (split, i) => data.get(split, at(split, i)),
    ...(data.difficultOnly ? {
      difficultOnly: (split: SplitName) => {
        const all = data.difficultOnly!(split);
        const idx = sample[split];
        if (!idx) return all;
        const K = data.info.classNames.length;
        const out = new Float32Array(idx.length * K);
        idx.forEach((j, r) => out.set(all.subarray(j * K, (j + 1) * K), r * K));
        return out;
      },
    } : {}),
  };
  return { data: view, sample };
}
