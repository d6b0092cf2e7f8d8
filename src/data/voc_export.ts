/**
 * Writes a dataset with masks (the embedded `shapes` and `mnist-multi`) as a PASCAL VOC tree that
 * `voc:DIR` reads back with the dataset's own classes:
 *
 *   JPEGImages/<id>.jpg            RGB, jpeg-js at `quality` (default 95)
 *   Annotations/<id>.xml           one <object> per labelled class instance: its class name and a
 *                                  bndbox around its pixels in the mask (VOC's 1-based, inclusive
 *                                  pixel coordinates); difficult and truncated 0
 *   SegmentationClass/<id>.png     paletted PNG with VOC's 256-colour map: 0 background, k+1 class
 *                                  k, 255 void where the dataset has void
 *   ImageSets/Main/{train,val,trainval}.txt, <class>_{train,val,trainval}.txt (`id  1` / `id -1`)
 *   ImageSets/Segmentation/{train,val,trainval}.txt (every image has a mask)
 *   classes.txt                    the class names in index order (the reader's class list)
 *   apc_export.json                what was exported (dataset, seed, counts, quality)
 *
 * Main train = the dataset's train split [0, train), Main val = its val split [0, val). The
 * dataset's test split is not exported: a VOC tree's localisation split is Segmentation val, which
 * lies inside Main val (voc-protocol.md §1). In the embedded datasets every class occurs at most
 * once per image, so one object per labelled class is one object per instance.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dataset, Sample, SplitName } from './dataset.js';
import { VOC_MAX_CLASSES } from './voc_annotations.js';
import { encodeJpeg, encodePaletteMask } from './voc_encode.js';

export interface VocExportOptions {
  /** Images taken from the train split into Main train. Default: the whole split. */
  train?: number;
  /** Images taken from the val split into Main val (and Segmentation val). Default: the whole split. */
  val?: number;
  /** JPEG quality 1–100. Default 95. */
  quality?: number;
  /** Recorded in apc_export.json (e.g. the dataset seed). */
  provenance?: Record<string, unknown>;
  /** Progress, one line each. Default: none. */
  log?: (line: string) => void;
}

export interface VocExportResult {
  /** The folder written (absolute); `voc:<root>` opens it. */
  readonly root: string;
  readonly train: number;
  readonly val: number;
  readonly quality: number;
}

export const DEFAULT_EXPORT_JPEG_QUALITY = 95;

/** A class's box in VOC convention: 1-based pixel indices, inclusive. */
export interface VocBox { readonly xmin: number; readonly ymin: number; readonly xmax: number; readonly ymax: number }

/** Box around the pixels of mask value `index`, or undefined when it has none. */
export function maskBox(mask: Uint8Array, width: number, height: number, index: number): VocBox | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x] !== index) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : { xmin: x0 + 1, ymin: y0 + 1, xmax: x1 + 1, ymax: y1 + 1 };
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The Annotations XML of one exported image. */
export function exportAnnotationXml(id: string, database: string, width: number, height: number,
  objects: readonly { name: string; box: VocBox }[]): string {
  return [
    '<annotation>',
    '  <folder>VOC2012</folder>',
    `  <filename>${id}.jpg</filename>`,
    `  <source><database>${xmlText(database)}</database></source>`,
    `  <size><width>${width}</width><height>${height}</height><depth>3</depth></size>`,
    '  <segmented>1</segmented>',
    ...objects.map(({ name, box }) => [
      '  <object>',
      `    <name>${xmlText(name)}</name>`,
      '    <pose>Unspecified</pose>',
      '    <truncated>0</truncated>',
      '    <difficult>0</difficult>',
      `    <bndbox><xmin>${box.xmin}</xmin><ymin>${box.ymin}</ymin><xmax>${box.xmax}</xmax><ymax>${box.ymax}</ymax></bndbox>`,
      '  </object>',
    ].join('\n')),
    '</annotation>',
    '',
  ].join('\n');
}

function toBytes(image: Float32Array): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, image[i])) * 255);
  return out;
}

function count(what: string, n: number | undefined, available: number): number {
  if (n === undefined) return available;
  if (!Number.isInteger(n) || n < 1 || n > available) throw new Error(`export: ${what} must be an integer in [1, ${available}] (the dataset's ${what} split), got ${n}`);
  return n;
}

/** Writes `data` as a VOC tree into `dir`, which must not exist or be empty. See the module comment. */
export function exportVocTree(data: Dataset, dir: string, opts: VocExportOptions = {}): VocExportResult {
  const root = resolve(dir);
  if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`export: ${root} is not empty; give a new or empty folder`);
  const quality = opts.quality ?? DEFAULT_EXPORT_JPEG_QUALITY;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new Error(`export: quality must be an integer in [1, 100], got ${quality}`);
  const classNames = data.info.classNames;
  if (classNames.length > VOC_MAX_CLASSES) throw new Error(`export: ${data.info.name} has ${classNames.length} classes, more than a VOC mask can index (${VOC_MAX_CLASSES})`);
  const bad = classNames.find((n) => n !== n.trim().toLowerCase() || /\s/.test(n) || n === '');
  if (bad !== undefined) throw new Error(`export: class name '${bad}' cannot round-trip (VOC names are read trimmed and lower-cased)`);
  const counts: Record<'train' | 'val', number> = {
    train: count('train', opts.train, data.size('train')),
    val: count('val', opts.val, data.size('val')),
  };
  const { width: W, height: H } = data.info;
  const log = opts.log ?? (() => {});
  for (const sub of ['JPEGImages', 'Annotations', 'SegmentationClass', join('ImageSets', 'Main'), join('ImageSets', 'Segmentation')]) {
    mkdirSync(join(root, sub), { recursive: true });
  }

  const ids: Record<'train' | 'val', string[]> = { train: [], val: [] };
  const positives: Record<'train' | 'val', Uint8Array[]> = { train: [], val: [] };
  let written = 0;
  for (const split of ['train', 'val'] as const satisfies readonly SplitName[]) {
    for (let i = 0; i < counts[split]; i++) {
      const s: Sample = data.get(split, i);
      if (!s.mask) throw new Error(`export: ${data.info.name} ${split} sample ${i} has no mask (a VOC tree needs SegmentationClass masks)`);
      const id = `${split}_${String(i).padStart(6, '0')}`;
      const objects: { name: string; box: VocBox }[] = [];
      const present = new Uint8Array(classNames.length);
      classNames.forEach((name, k) => {
        if (s.label[k] <= 0) return;
        present[k] = 1;
        // a labelled class always owns mask pixels in the embedded datasets; the whole image otherwise
        objects.push({ name, box: maskBox(s.mask as Uint8Array, W, H, k + 1) ?? { xmin: 1, ymin: 1, xmax: W, ymax: H } });
      });
      if (objects.length === 0) throw new Error(`export: ${data.info.name} ${split} sample ${i} has no positive class (every VOC image has an object)`);
      writeFileSync(join(root, 'JPEGImages', `${id}.jpg`), encodeJpeg(W, H, toBytes(s.image), quality));
      writeFileSync(join(root, 'Annotations', `${id}.xml`), exportAnnotationXml(id, `apc ${data.info.name}`, W, H, objects));
      writeFileSync(join(root, 'SegmentationClass', `${id}.png`), encodePaletteMask(W, H, s.mask));
      ids[split].push(id);
      positives[split].push(present);
      if (++written % 1000 === 0) log(`export: ${written} / ${counts.train + counts.val} images …`);
    }
  }

  const lines = (list: readonly string[]) => list.map((id) => `${id}\n`).join('');
  const trainval = [...ids.train, ...ids.val];
  for (const sub of ['Main', 'Segmentation']) {
    writeFileSync(join(root, 'ImageSets', sub, 'train.txt'), lines(ids.train));
    writeFileSync(join(root, 'ImageSets', sub, 'val.txt'), lines(ids.val));
    writeFileSync(join(root, 'ImageSets', sub, 'trainval.txt'), lines(trainval));
  }
  classNames.forEach((name, k) => {
    const perClass = (split: 'train' | 'val') => ids[split].map((id, i) => `${id} ${positives[split][i][k] ? ' 1' : '-1'}\n`).join('');
    writeFileSync(join(root, 'ImageSets', 'Main', `${name}_train.txt`), perClass('train'));
    writeFileSync(join(root, 'ImageSets', 'Main', `${name}_val.txt`), perClass('val'));
    writeFileSync(join(root, 'ImageSets', 'Main', `${name}_trainval.txt`), perClass('train') + perClass('val'));
  });
  writeFileSync(join(root, 'classes.txt'), lines(classNames));
  writeFileSync(join(root, 'apc_export.json'), `${JSON.stringify({
    dataset: data.info.name, classes: classNames, imageSize: [W, H], train: counts.train, val: counts.val,
    jpegQuality: quality, ...opts.provenance,
  }, null, 2)}\n`);
  log(`export: wrote ${counts.train} train + ${counts.val} val images of ${data.info.name} to ${root} (JPEG quality ${quality})`);
  return { root, train: counts.train, val: counts.val, quality };
}
