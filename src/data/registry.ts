/** Resolves a `--data` string to a Dataset. */
import { commandBadInputLog } from './bad_input.js';
import type { Dataset, SplitName } from './dataset.js';
import { createMnistMultiDataset } from './mnist_multi.js';
import { createShapesDataset } from './shapes.js';
import { openVocDataset } from './voc.js';

export interface OpenDatasetOptions {
  seed?: number;
  /** Square input size; default per dataset (shapes and mnist-multi 64, voc 227). */
  imageSize?: number;
  /**
   * VOC: leave bad entries out instead of failing; they are recorded in `commandBadInputLog`, which
   * the CLI reports at the end of the command. (VOC's cache folder: `defaultVocCacheDir`.)
   */
  skipBad?: boolean;
  /** shapes, mnist-multi: split sizes (default train 6000 / val 600 / test 600). */
  sizes?: Partial<Record<SplitName, number>>;
}

export const DATASET_KINDS = ['shapes', 'mnist-multi', 'voc:PATH'] as const;

export function openDataset(spec: string, opts: OpenDatasetOptions = {}): Dataset {
  if (spec === 'shapes') return createShapesDataset({ seed: opts.seed ?? 0, imageSize: opts.imageSize ?? 64, sizes: opts.sizes });
  if (spec === 'mnist-multi') return createMnistMultiDataset({ seed: opts.seed ?? 0, imageSize: opts.imageSize ?? 64, sizes: opts.sizes });
  if (spec.startsWith('voc:') && spec.length > 4) {
    return openVocDataset(spec.slice(4), { imageSize: opts.imageSize, skipBad: opts.skipBad, skipLog: commandBadInputLog });
  }
  throw new Error(`--data '${spec}' is not a dataset apc knows; use one of: ${DATASET_KINDS.join(', ')}`);
}
