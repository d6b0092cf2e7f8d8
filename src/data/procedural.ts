/**
 * What the procedural datasets (`shapes`, `mnist-multi`) share around their renderer: the Dataset
 * object (split and index checks, `get` = `scene(...).sample`) and `info.mean` / `info.std`,
 * measured on the first `statsSamples` train images when first read and memoised per option set.
 */
import { checkIndex, checkSplit, type Dataset, type DatasetInfo, type Sample, type SplitName } from './dataset.js';

/** The resolved options the scaffold reads; the renderer reads the rest. */
export interface ProceduralOptions {
  readonly imageSize: number;
  readonly sizes: Readonly<Record<SplitName, number>>;
  readonly statsSamples: number;
}

export interface ProceduralDataset<O extends ProceduralOptions, S extends { readonly sample: Sample }> extends Dataset {
  readonly options: O;
  /** The sample plus its scene description. `get` returns `scene(...).sample`. */
  scene(split: SplitName, index: number): S;
}

/**
 * A Dataset over `render`, a pure function of (split, index) for the options `o`. `name` is
 * `info.name` and prefixes the split and index errors.
 */
export function proceduralDataset<O extends ProceduralOptions, S extends { readonly sample: Sample }>(
  name: string, classNames: readonly string[], o: O, render: (split: SplitName, index: number) => S,
): ProceduralDataset<O, S> {
  let stats: ChannelStats | undefined;
  const getStats = () => (stats ??= channelStats(name, o, (i) => render('train', i).sample.image));
  const info: DatasetInfo = Object.freeze({
    name,
    classNames,
    height: o.imageSize,
    width: o.imageSize,
    get mean() {
      return getStats().mean;
    },
    get std() {
      return getStats().std;
    },
  });
  const check = (split: SplitName, index: number) => {
    checkSplit(name, split);
    checkIndex(name, split, index, o.sizes[split]);
  };
  return {
    info,
    options: o,
    size(split: SplitName): number {
      checkSplit(name, split);
      return o.sizes[split];
    },
    get(split: SplitName, index: number): Sample {
      check(split, index);
      return render(split, index).sample;
    },
    scene(split: SplitName, index: number): S {
      check(split, index);
      return render(split, index);
    },
  };
}

interface ChannelStats {
  readonly mean: [number, number, number];
  readonly std: [number, number, number];
}

const statsCache = new Map<string, ChannelStats>();

/** Per-channel mean/std over train images 0 … statsSamples − 1 (cached per dataset and options). */
function channelStats(name: string, o: ProceduralOptions, trainImage: (index: number) => Float32Array): ChannelStats {
  // Sizes do not change the train stream's pixels, so they are not part of the key.
  const key = `${name}\u0000${JSON.stringify({ ...o, sizes: undefined })}`;
  const hit = statsCache.get(key);
  if (hit) return hit;
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < o.statsSamples; i++) {
    const img = trainImage(i);
    for (let j = 0; j < img.length; j += 3) {
      for (let c = 0; c < 3; c++) {
        const v = img[j + c];
        sum[c] += v;
        sq[c] += v * v;
      }
    }
    n += img.length / 3;
  }
  const mean = sum.map((s) => s / n) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(Math.max(1e-12, s / n - mean[c] * mean[c]))) as [number, number, number];
  const out = { mean, std };
  statsCache.set(key, out);
  return out;
}
