/** Resolves a `--data` string to a Dataset. */
import type { Dataset } from './dataset.js';
import { createShapesDataset } from './shapes.js';

export interface OpenDatasetOptions {
  seed?: number;
  imageSize?: number;
}

export const DATASET_KINDS = ['shapes'] as const;

export function openDataset(spec: string, opts: OpenDatasetOptions = {}): Dataset {
  if (spec === 'shapes') return createShapesDataset({ seed: opts.seed ?? 0, imageSize: opts.imageSize ?? 64 });
  throw new Error(`--data '${spec}' is not a dataset apc knows; use one of: ${DATASET_KINDS.join(', ')}`);
}
