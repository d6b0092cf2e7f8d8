/**
 * Test helper: writes small, valid VOC2012 trees (JPEGs encoded with jpeg-js, Annotations XML,
 * SegmentationClass palette PNGs, ImageSets lists) for the loader tests and the fuzz test. The
 * encoders live in voc_encode.ts (the dataset export uses them too) and are re-exported here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGreyPng, encodeJpeg, encodePaletteMask, encodeRgbMask } from './voc_encode.js';

export { encodeGreyPng, encodeJpeg, encodePaletteMask, encodeRgbMask, encodeRgbPng, vocColormap256 } from './voc_encode.js';

export interface FixtureObject { readonly name: string; readonly difficult?: boolean; readonly truncated?: boolean }

export interface FixtureImage {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly objects: readonly FixtureObject[];
  /** RGB bytes (width·height·3); default a smooth pattern derived from the id. */
  readonly rgb?: Uint8Array;
  /** Class-index mask (width·height) for Segmentation val ids. */
  readonly mask?: Uint8Array;
  /** How the mask is stored. Default 'palette'. */
  readonly maskFormat?: 'palette' | 'rgb' | 'grey';
}

export interface FixtureSpec {
  readonly images: readonly FixtureImage[];
  readonly train: readonly string[];
  readonly val: readonly string[];
  readonly segVal: readonly string[];
  /** JPEG quality. Default 92. */
  readonly quality?: number;
}

export function annotationXml(img: FixtureImage): string {
  const objects = img.objects.map((o) => [
    '  <object>',
    `    <name>${o.name}</name>`,
    '    <pose>Unspecified</pose>',
    `    <truncated>${o.truncated ? 1 : 0}</truncated>`,
    `    <difficult>${o.difficult ? 1 : 0}</difficult>`,
    '    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>',
    '    <part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></part>',
    '  </object>',
  ].join('\n'));
  return [
    '<annotation>',
    '  <folder>VOC2012</folder>',
    `  <filename>${img.id}.jpg</filename>`,
    `  <size><width>${img.width}</width><height>${img.height}</height><depth>3</depth></size>`,
    '  <segmented>0</segmented>',
    ...objects,
    '</annotation>',
    '',
  ].join('\n');
}

/** A smooth, id-dependent RGB pattern (JPEG-friendly). */
export function patternRgb(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      out[o] = (40 + seed * 37 + x * 6) & 255;
      out[o + 1] = (60 + seed * 11 + y * 7) & 255;
      out[o + 2] = (90 + seed * 53 + (x + y) * 3) & 255;
    }
  }
  return out;
}

/** Writes the tree under `dir/VOC2012` and returns that folder. */
export function writeVocTree(dir: string, spec: FixtureSpec): string {
  const root = join(dir, 'VOC2012');
  for (const sub of ['JPEGImages', 'Annotations', 'SegmentationClass', join('ImageSets', 'Main'), join('ImageSets', 'Segmentation')]) {
    mkdirSync(join(root, sub), { recursive: true });
  }
  spec.images.forEach((img, i) => {
    writeFileSync(join(root, 'JPEGImages', `${img.id}.jpg`), encodeJpeg(img.width, img.height, img.rgb ?? patternRgb(img.width, img.height, i), spec.quality));
    writeFileSync(join(root, 'Annotations', `${img.id}.xml`), annotationXml(img));
    if (img.mask) {
      const fmt = img.maskFormat ?? 'palette';
      const png = fmt === 'palette' ? encodePaletteMask(img.width, img.height, img.mask)
        : fmt === 'rgb' ? encodeRgbMask(img.width, img.height, img.mask) : encodeGreyPng(img.width, img.height, img.mask);
      writeFileSync(join(root, 'SegmentationClass', `${img.id}.png`), png);
    }
  });
  writeFileSync(join(root, 'ImageSets', 'Main', 'train.txt'), spec.train.map((id) => `${id}\n`).join(''));
  writeFileSync(join(root, 'ImageSets', 'Main', 'val.txt'), spec.val.map((id) => `${id}\n`).join(''));
  writeFileSync(join(root, 'ImageSets', 'Segmentation', 'val.txt'), spec.segVal.map((id) => `${id}\n`).join(''));
  return root;
}

/** A block mask: background, one rectangle of `index`, and a 1-px void border around it. */
export function blockMask(width: number, height: number, index: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = y0 - 1; y <= y1; y++) {
    for (let x = x0 - 1; x <= x1; x++) {
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      m[y * width + x] = x === x0 - 1 || y === y0 - 1 || x === x1 || y === y1 ? 255 : index;
    }
  }
  return m;
}

/** The default small tree: 4 train, 3 val (2 of them Segmentation val, listed unsorted). */
export function defaultFixtureSpec(): FixtureSpec {
  const images: FixtureImage[] = [
    { id: '2008_000001', width: 24, height: 18, objects: [{ name: 'dog' }, { name: 'person', truncated: true }] },
    { id: '2008_000002', width: 20, height: 26, objects: [{ name: 'Cat ' }, { name: 'cat', difficult: true }] },
    { id: '2008_000003', width: 16, height: 16, objects: [{ name: 'bottle', difficult: true }] },
    { id: '2008_000004', width: 30, height: 12, objects: [{ name: 'tvmonitor' }] },
    { id: '2008_000005', width: 22, height: 18, objects: [{ name: 'aeroplane' }, { name: 'car', difficult: true }],
      mask: blockMask(22, 18, 1, 4, 3, 12, 10) },
    { id: '2008_000006', width: 18, height: 18, objects: [{ name: 'horse' }] },
    { id: '2008_000007', width: 20, height: 14, objects: [{ name: 'sheep' }],
      mask: blockMask(20, 14, 17, 10, 2, 19, 12), maskFormat: 'rgb' },
  ];
  return {
    images,
    train: ['2008_000001', '2008_000002', '2008_000003', '2008_000004'],
    val: ['2008_000005', '2008_000006', '2008_000007'],
    segVal: ['2008_000007', '2008_000005'],
  };
}
