/**
 * `voc:PATH` — PASCAL VOC 2012 as a `Dataset` (voc-protocol.md, evaluation.md).
 *
 * Classes: VOC2012's 20, or the tree's own from `classes.txt` beside ImageSets/ (one name per line,
 * in index order; `apc export-dataset` writes it), so a VOC-format folder of any labels loads.
 *
 * Split mapping (VOC has no test split, quirk E7):
 *   train = ImageSets/Main/train.txt          labels only (training)
 *   val   = ImageSets/Main/val.txt            labels only (checkpoint selection)
 *   test  = ImageSets/Segmentation/val.txt    labels + SegmentationClass masks, ids sorted
 *           (localisation and agreement)
 * `info.evalSplits` = { prediction: 'val', localization: 'test' }: `evaluateModel` / `apc evaluate`
 * report prediction metrics on Main val and localisation on Segmentation val (evaluation.md §1–§2).
 * Segmentation val lies inside Main val, so reported numbers share images with selection, as in
 * the reference. At open the loader logs how many Segmentation val ids are in Main train (should
 * be 0) and warns if any are.
 *
 * `get(split, i)` returns the evaluation transform for every split: the whole image resized to
 * imageSize² (default 227) with the antialiased bilinear resampler, as u/255 in [0,1]; masks are
 * resized with nearest (255 void kept, quirk V5 fixed). `info.mean/std` are the VOC statistics.
 * `trainSample(i, rng)` is the reference's train transform on the original-size image (random
 * resized crop, resize, flip); `hostBatch` (`src/train/batches.ts`) uses it for every augmented
 * train batch (`Dataset.trainSample`). `difficultOnly(split)` feeds the headline mAP
 * (`Dataset.difficultOnly`, via `collectLogits`).
 *
 * Bad files: every entry (XML, JPEG, and for `test` the mask) is validated when the dataset is
 * opened, by decoding it once into the on-disk cache (see voc_cache.ts; a warm cache only checks
 * file stamps and cache headers). So a bad file is reported before any training starts and no
 * epoch can crash on one: without `skipBad` the first problem throws a BadInputError naming the
 * file; with `skipBad` the entry is left out, recorded in `skipped` and logged. A missing or empty
 * list makes that split empty (a split-level skip). Only a PATH that is not a VOC folder always
 * throws.
 */
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Rng } from '../engine/random.js';
import { BadInputError, type BadInputLog, type SkippedEntry } from './bad_input.js';
import { checkIndex, checkSplit, type Dataset, type DatasetInfo, type EvalSplits, type Sample, SPLIT_NAMES, type SplitName, type TrainCrop } from './dataset.js';
import {
  parseClassList, parseIdList, parseVocAnnotation, VOC2012_CLASSES, VOC_MEAN, VOC_STD, type VocAnnotation, type VocClassList,
} from './voc_annotations.js';
import { cacheKey, defaultVocCacheDir, type FileStamp, VocCache } from './voc_cache.js';
import { DEFAULT_DECODE_LIMITS, decodeJpegRgb, decodeVocMask, type RgbImage } from './voc_decode.js';
import { resizeBilinearAntialias, resizeNearestIndex } from './voc_resize.js';
import { vocTrainTransform } from './voc_train_transform.js';

export interface VocOptions {
  /** Square model input size in pixels, 8..1024. Default 227. */
  imageSize?: number;
  /** Leave bad entries out (counted in `skipped`) instead of throwing. Default false. */
  skipBad?: boolean;
  /** Cache folder; null keeps decoded data in memory only. Default `defaultVocCacheDir(PATH)`. */
  cacheDir?: string | null;
  /** Refuse images/masks above this size (guards against corrupt headers). Default 40. */
  maxMegapixels?: number;
  /** Progress and warnings, one line each. Default: stderr. */
  log?: (line: string) => void;
  /** Also record skipped entries here (the CLI reports them at the end of a command). */
  skipLog?: BadInputLog;
}

export interface VocSample extends Sample {
  /** Per class: present and every object of it difficult (for the official-style mAP). */
  readonly difficultOnly: Float32Array;
}

export interface VocDataset extends Dataset {
  /** The VOC2012 folder (absolute). */
  readonly root: string;
  /** Entries and split lists left out because of bad input (empty unless `skipBad`). */
  readonly skipped: readonly SkippedEntry[];
  /** Segmentation val ids that are also in Main train (spec: should be 0). */
  readonly segValInTrain: number;
  /** The tree's classes: its `classes.txt`, else VOC2012's 20. */
  readonly classes: VocClassList;
  readonly cache: VocCache;
  get(split: SplitName, index: number): VocSample;
  /** Image ids of a split, in sample order. */
  ids(split: SplitName): readonly string[];
  /** Difficult-only flags of a whole split, N×K row-major (evaluation.md §1 `Dif`). */
  difficultOnly(split: SplitName): Float32Array;
  /** The train transform of train sample `index` (new randomness from `rng`; default crop range the reference's). */
  trainSample(index: number, rng: Rng, crop?: TrainCrop): VocSample;
}

/** Prediction metrics on Main val, localisation on Segmentation val (evaluation.md §1–§2). */
export const VOC_EVAL_SPLITS: EvalSplits = Object.freeze({ prediction: 'val', localization: 'test' });
const LISTS: Readonly<Record<SplitName, readonly string[]>> = {
  train: ['ImageSets', 'Main', 'train.txt'],
  val: ['ImageSets', 'Main', 'val.txt'],
  test: ['ImageSets', 'Segmentation', 'val.txt'],
};
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const LIST_ID = '(list)';

interface ImageRef { readonly file: string; readonly stamp: FileStamp; readonly key: string; readonly width: number; readonly height: number }
interface MaskRef { readonly file: string; readonly key: string }
interface Entry { readonly id: string; readonly ann: VocAnnotation; readonly image: ImageRef; readonly mask?: MaskRef }

/** Finds the VOC2012 folder at PATH, PATH/VOC2012 or PATH/VOCdevkit/VOC2012. */
export function resolveVocRoot(path: string): string {
  const abs = resolve(path);
  for (const cand of [abs, join(abs, 'VOC2012'), join(abs, 'VOCdevkit', 'VOC2012')]) {
    if (isDir(join(cand, 'ImageSets'))) return cand;
  }
  throw new BadInputError(abs, 'is not a VOC2012 folder (expected ImageSets/, Annotations/, JPEGImages/ and SegmentationClass/ inside)', { skippable: false });
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Stat + read a source file; every failure is a BadInputError naming it. */
function readSource(file: string, context: string): Buffer {
  stampSource(file, context);
  return readStamped(file);
}

/** Reads a file `stampSource` has just checked. */
function readStamped(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new BadInputError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The cache identity of a usable source file (exists, regular, not empty, within the size limit). */
function stampSource(file: string, context: string): FileStamp {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new BadInputError(file, `is missing (${context})`);
    throw new BadInputError(file, `cannot be read (${code ?? (err as Error).message})`);
  }
  if (!st.isFile()) throw new BadInputError(file, 'is not a regular file');
  if (st.size > MAX_FILE_BYTES) throw new BadInputError(file, `is ${(st.size / 2 ** 20).toFixed(0)} MB, above the ${MAX_FILE_BYTES / 2 ** 20} MB limit`);
  if (st.size === 0) throw new BadInputError(file, `is empty (${context})`);
  return { path: file, size: st.size, mtimeMs: st.mtimeMs };
}

/** Name of the optional class list beside ImageSets/ (one class per line, index order). */
export const VOC_CLASS_LIST_FILE = 'classes.txt';

/** The tree's `classes.txt` if it has one, else VOC2012's 20 classes. */
function readClassList(root: string): VocClassList {
  const file = join(root, VOC_CLASS_LIST_FILE);
  if (!existsSync(file)) return VOC2012_CLASSES;
  return parseClassList(readSource(file, 'the class list').toString('utf8'), file);
}

export function openVocDataset(path: string, opts: VocOptions = {}): VocDataset {
  const root = resolveVocRoot(path);
  const S = opts.imageSize ?? 227;
  if (!Number.isInteger(S) || S < 8 || S > 1024) throw new Error(`voc: option "imageSize" must be an integer in [8, 1024], got ${S}`);
  const maxMegapixels = opts.maxMegapixels ?? DEFAULT_DECODE_LIMITS.maxMegapixels;
  if (!(maxMegapixels > 0)) throw new Error(`voc: option "maxMegapixels" must be > 0, got ${maxMegapixels}`);
  const limits = { maxMegapixels };
  const skipBad = opts.skipBad ?? false;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = `voc:${root}`;
  const cacheDir = opts.cacheDir === undefined ? defaultVocCacheDir(root) : opts.cacheDir;
  const cache = new VocCache(cacheDir, (line) => log(`voc: warning: ${line}`));
  const skipped: SkippedEntry[] = [];

  const bad = (split: SplitName, id: string, err: unknown): void => {
    if (!(err instanceof BadInputError) || !skipBad) throw err;
    const e: SkippedEntry = { dataset: name, split, id, file: err.file, problem: err.problem };
    skipped.push(e);
    opts.skipLog?.add(e);
  };

  // --- classes and lists ---------------------------------------------------------------------
  const classes = readClassList(root);
  const K = classes.names.length;
  if (classes !== VOC2012_CLASSES) log(`voc: ${K} classes from ${classes.source}: ${classes.names.join(', ')}`);
  const lists = {} as Record<SplitName, string[]>;
  for (const split of SPLIT_NAMES) {
    const file = join(root, ...LISTS[split]);
    let ids: string[] = [];
    try {
      const parsed = parseIdList(readSource(file, `the ${split} list`).toString('utf8'));
      ids = parsed.ids;
      for (const p of parsed.problems) bad(split, p.id, new BadInputError(file, p.problem));
      if (ids.length === 0) throw new BadInputError(file, `lists no image ids (empty ${split} split)`);
    } catch (err) {
      bad(split, LIST_ID, err);
    }
    if (split === 'test') ids.sort(); // voc-protocol.md §1: segmentation ids in sorted order
    lists[split] = ids;
  }
  const trainIds = new Set(lists.train);
  const segValInTrain = lists.test.filter((id) => trainIds.has(id)).length;
  log(`voc: ${root}: train ${lists.train.length}, val ${lists.val.length}, test (Segmentation val) ${lists.test.length} ids; `
    + `${segValInTrain} Segmentation val ids in Main train`);
  if (segValInTrain > 0) log(`voc: warning: ${segValInTrain} Segmentation val images are also in Main train, so localisation is measured on training images`);

  // --- per-file preparation (memoised across splits) -----------------------------------------
  let decoded = 0;
  const noteDecode = () => {
    decoded++;
    if (decoded % 500 === 0) log(`voc: decoded ${decoded} files into the cache${cacheDir ? ` at ${cacheDir}` : ''} (first use only) …`);
  };

  const annotationFile = (id: string) => join(root, 'Annotations', `${id}.xml`);
  const imageFile = (id: string) => join(root, 'JPEGImages', `${id}.jpg`);
  const maskFile = (id: string) => join(root, 'SegmentationClass', `${id}.png`);

  const readAnnotation = (id: string, context: string): VocAnnotation => {
    const file = annotationFile(id);
    return parseVocAnnotation(readSource(file, context).toString('utf8').replace(/^\uFEFF/, ''), file, classes);
  };

  /** Decodes (if not cached) and caches the resized image; returns its reference. */
  const prepareImage = (id: string, context: string): ImageRef => {
    const file = imageFile(id);
    const stamp = stampSource(file, context);
    const key = cacheKey('img', [stamp], { size: S, resample: 'bilinear-aa' });
    const head = cache.peek('img', key);
    if (head && head.width === S && head.height === S && head.channels === 3) {
      return { file, stamp, key, width: head.extra[0], height: head.extra[1] };
    }
    const rgb = decodeJpegRgb(readStamped(file), file, limits);
    noteDecode();
    const data = resizeBilinearAntialias(rgb.data, rgb.width, rgb.height, 3, S, S);
    cache.write('img', key, { width: S, height: S, channels: 3, extra: [rgb.width, rgb.height], data });
    return { file, stamp, key, width: rgb.width, height: rgb.height };
  };

  const prepareMask = (id: string, image: ImageRef, context: string): MaskRef => {
    const file = maskFile(id);
    const stamp = stampSource(file, context);
    const key = cacheKey('mask', [stamp], { size: S, width: image.width, height: image.height });
    const head = cache.peek('mask', key);
    if (head && head.width === S && head.height === S && head.channels === 1) return { file, key };
    const m = decodeVocMask(readStamped(file), file, limits, K);
    noteDecode();
    if (m.width !== image.width || m.height !== image.height) {
      throw new BadInputError(file, `mask is ${m.width}×${m.height} but its image ${image.file} is ${image.width}×${image.height}`);
    }
    const data = resizeNearestIndex(m.data, m.width, m.height, S, S);
    cache.write('mask', key, { width: S, height: S, channels: 1, extra: [m.width, m.height], data });
    return { file, key };
  };

  const annMemo = new Map<string, VocAnnotation | BadInputError>();
  const imgMemo = new Map<string, ImageRef | BadInputError>();
  const memo = <T>(m: Map<string, T | BadInputError>, id: string, make: () => T): T => {
    let v = m.get(id);
    if (v === undefined) {
      try {
        v = make();
      } catch (err) {
        if (!(err instanceof BadInputError)) throw err;
        v = err;
      }
      m.set(id, v);
    }
    if (v instanceof BadInputError) throw v;
    return v;
  };

  const entries = {} as Record<SplitName, Entry[]>;
  for (const split of SPLIT_NAMES) {
    const context = `listed in ${LISTS[split].join('/')}`;
    const out: Entry[] = [];
    for (const id of lists[split]) {
      try {
        const ann = memo(annMemo, id, () => readAnnotation(id, context));
        const image = memo(imgMemo, id, () => prepareImage(id, context));
        const mask = split === 'test' ? prepareMask(id, image, context) : undefined;
        out.push({ id, ann, image, mask });
      } catch (err) {
        bad(split, id, err);
      }
    }
    entries[split] = out;
  }
  if (skipped.length > 0) {
    log(`voc: skipped ${skipped.length} bad ${skipped.length === 1 ? 'entry' : 'entries'} (--skip-bad); first: ${skipped[0].file}: ${skipped[0].problem}`);
  }

  // --- access ------------------------------------------------------------------------------
  const info: DatasetInfo = Object.freeze({
    name, classNames: classes.names, height: S, width: S, mean: VOC_MEAN, std: VOC_STD, evalSplits: VOC_EVAL_SPLITS,
  });

  const splitEntries = (split: SplitName): Entry[] => {
    checkSplit('voc', split);
    return entries[split];
  };
  const check = (split: SplitName, index: number): Entry => {
    const list = splitEntries(split);
    checkIndex('voc', split, index, list.length);
    return list[index];
  };

  /** Cached bytes of an entry; re-prepares from the source if the cache entry went away. */
  const imageBytes = (e: Entry): Uint8Array => {
    const hit = cache.read('img', e.image.key);
    if (hit) return hit.data;
    const again = prepareImage(e.id, 'needed again after the cache entry was removed');
    return (cache.read('img', again.key) as { data: Uint8Array }).data;
  };
  const maskBytes = (e: Entry): Uint8Array => {
    const m = e.mask as MaskRef;
    const hit = cache.read('mask', m.key);
    if (hit) return hit.data;
    const again = prepareMask(e.id, e.image, 'needed again after the cache entry was removed');
    return (cache.read('mask', again.key) as { data: Uint8Array }).data;
  };
  const toFloat = (bytes: Uint8Array): Float32Array => {
    const out = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
    return out;
  };
  const rawImage = (e: Entry): RgbImage => {
    const key = cacheKey('raw', [e.image.stamp], {});
    const hit = cache.read('raw', key);
    if (hit) return { width: hit.width, height: hit.height, data: hit.data };
    const rgb = decodeJpegRgb(readSource(e.image.file, 'needed for the train transform'), e.image.file, limits);
    cache.write('raw', key, { width: rgb.width, height: rgb.height, channels: 3, extra: [0, 0], data: rgb.data });
    return rgb;
  };

  return {
    info,
    root,
    skipped,
    segValInTrain,
    classes,
    cache,
    size(split: SplitName): number {
      return splitEntries(split).length;
    },
    get(split: SplitName, index: number): VocSample {
      const e = check(split, index);
      return {
        id: e.id, image: toFloat(imageBytes(e)), label: e.ann.label.slice(), difficultOnly: e.ann.difficultOnly.slice(),
        ...(e.mask ? { mask: maskBytes(e).slice() } : {}),
      };
    },
    ids(split: SplitName): readonly string[] {
      return splitEntries(split).map((e) => e.id);
    },
    difficultOnly(split: SplitName): Float32Array {
      const list = splitEntries(split);
      const out = new Float32Array(list.length * K);
      list.forEach((e, i) => out.set(e.ann.difficultOnly, i * K));
      return out;
    },
    trainSample(index: number, rng: Rng, crop?: TrainCrop): VocSample {
      const e = check('train', index);
      const { data } = vocTrainTransform(rawImage(e), S, rng, crop);
      return { id: e.id, image: toFloat(data), label: e.ann.label.slice(), difficultOnly: e.ann.difficultOnly.slice() };
    },
  };
}
