/** Resolves a `--data` string to a Dataset. */
import { type BadInputLog, commandBadInputLog } from './bad_input.js';
import type { Dataset } from './dataset.js';
import { createMnistMultiDataset } from './mnist_multi.js';
import { createShapesDataset } from './shapes.js';
import { openVocDataset } from './voc.js';

export interface OpenDatasetOptions {
  seed?: number;
  /** Square input size; default per dataset (shapes and mnist-multi 64, voc 227). */
  imageSize?: number;
  /** VOC: leave bad entries out (counted and reported) instead of failing. */
  skipBad?: boolean;
  /** VOC: cache folder for decoded data (null = memory only); default under the user's cache. */
  cacheDir?: string | null;
  /** VOC: progress and warnings; default stderr. */
  log?: (line: string) => void;
  /** VOC: where skipped entries are recorded; default the CLI's per-command log. */
  skipLog?: BadInputLog;
}

export const DATASET_KINDS = ['shapes', 'mnist-multi', 'voc:PATH'] as const;

export function openDataset(spec: string, opts: OpenDatasetOptions = {}): Dataset {
  if (spec === 'shapes') return createShapesDataset({ seed: opts.seed ?? 0, imageSize: opts.imageSize ?? 64 });
  if (spec === 'mnist-multi') return createMnistMultiDataset({ seed: opts.seed ?? 0, imageSize: opts.imageSize ?? 64 });
  if (spec.startsWith('voc:') && spec.length > 4) {
    return openVocDataset(spec.slice(4), {
      imageSize: opts.imageSize, skipBad: opts.skipBad, cacheDir: opts.cacheDir, log: opts.log, skipLog: opts.skipLog ?? commandBadInputLog,
    });
  }
  throw new Error(`--data '${spec}' is not a dataset apc knows; use one of: ${DATASET_KINDS.join(', ')}`);
}
