/**
 * The VOC export read back by the VOC loader: the tree's own classes (classes.txt), labels, masks
 * (void 255 kept) and splits agree exactly with the source dataset, pixels within JPEG error,
 * and every XML box is the tight box of its class's mask pixels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { BadInputError } from './bad_input.js';
import type { Dataset } from './dataset.js';
import { createMnistMultiDataset } from './mnist_multi.js';
import { createShapesDataset, SHAPES_CLASS_NAMES } from './shapes.js';
import { openVocDataset } from './voc.js';
import { encodeJpeg, encodeJpegFresh } from './voc_encode.js';
import { exportVocTree, maskBox } from './voc_export.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-voc-export-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = { cacheDir: null, log: () => {} };

/** Exports `src` (train 8, val 6), reads it back, and checks everything the reader sees. */
function roundTrip(src: Dataset, dir: string): { meanAbs: number; voidPixels: number } {
  const r = exportVocTree(src, join(tmp, dir), { train: 8, val: 6 });
  const voc = openVocDataset(r.root, { ...quiet, imageSize: src.info.width });
  assert.deepEqual(voc.info.classNames, src.info.classNames);
  assert.deepEqual([voc.size('train'), voc.size('val'), voc.size('test')], [8, 6, 6]);
  let absSum = 0;
  let n = 0;
  let voidPixels = 0;
  // VOC train = source train, val = source val, test (Segmentation val) = source val again, with masks
  for (const [vocSplit, srcSplit] of [['train', 'train'], ['val', 'val'], ['test', 'val']] as const) {
    for (let i = 0; i < voc.size(vocSplit); i++) {
      const a = voc.get(vocSplit, i);
      const b = src.get(srcSplit, i);
      assert.deepEqual([...a.label], [...b.label], `${vocSplit} ${i} label`);
      if (vocSplit === 'test') {
        assert.deepEqual(a.mask, b.mask, `${vocSplit} ${i} mask`);
        voidPixels += (b.mask as Uint8Array).filter((v) => v === 255).length;
      }
      for (let p = 0; p < a.image.length; p++) {
        const d = Math.abs(a.image[p] - b.image[p]);
        assert.ok(d < 0.25, `${vocSplit} ${i} pixel ${p}: ${a.image[p]} vs ${b.image[p]}`);
        absSum += d;
        n++;
      }
    }
  }
  // boxes: one object per labelled class, the tight box of its mask pixels
  const parser = new XMLParser({ isArray: (_n: string, path: unknown) => path === 'annotation.object' });
  const { width: W, height: H } = src.info;
  for (let i = 0; i < 6; i++) {
    const xml = parser.parse(readFileSync(join(r.root, 'Annotations', `val_${String(i).padStart(6, '0')}.xml`), 'utf8'));
    const s = src.get('val', i);
    const mask = s.mask as Uint8Array;
    const objects = xml.annotation.object as { name: string | number; bndbox: Record<string, number> }[];
    assert.equal(objects.length, s.label.reduce((t, v) => t + v, 0));
    for (const o of objects) {
      const k = src.info.classNames.indexOf(String(o.name));
      assert.ok(k >= 0 && s.label[k] === 1, `object ${o.name} is a labelled class`);
      const { xmin, ymin, xmax, ymax } = o.bndbox;
      let inside = 0;
      const edges = new Set<string>();
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (mask[y * W + x] !== k + 1) continue;
          const [vx, vy] = [x + 1, y + 1]; // VOC boxes are 1-based
          assert.ok(vx >= xmin && vx <= xmax && vy >= ymin && vy <= ymax, `class ${o.name} pixel (${x}, ${y}) outside its box`);
          inside++;
          if (vx === xmin) edges.add('l');
          if (vx === xmax) edges.add('r');
          if (vy === ymin) edges.add('t');
          if (vy === ymax) edges.add('b');
        }
      }
      assert.ok(inside > 0);
      assert.equal(edges.size, 4, `box of ${o.name} is tight`);
    }
  }
  return { meanAbs: absSum / n, voidPixels };
}

test('encodeJpeg (one reused jpeg-js encoder per quality) writes the same bytes as jpeg-js encode', () => {
  const src = createShapesDataset({ imageSize: 32, sizes: { train: 3, val: 1, test: 0 }, statsSamples: 1 });
  for (const q of [95, 50, 95]) {
    for (let i = 0; i < 3; i++) {
      const rgb = Uint8Array.from(src.get('train', i).image, (v) => Math.round(v * 255));
      assert.ok(encodeJpeg(32, 32, rgb, q).equals(encodeJpegFresh(32, 32, rgb, q)), `image ${i}, quality ${q}`);
    }
  }
});

test('maskBox: 1-based inclusive box of one index; undefined when absent (hand-computed)', () => {
  // 5×4 mask, index 3 at (1,1), (3,2); index 7 nowhere
  const m = new Uint8Array(20);
  m[1 * 5 + 1] = 3;
  m[2 * 5 + 3] = 3;
  m[0] = 255;
  assert.deepEqual(maskBox(m, 5, 4, 3), { xmin: 2, ymin: 2, xmax: 4, ymax: 3 });
  assert.equal(maskBox(m, 5, 4, 7), undefined);
});

test('export shapes as VOC → voc: reader: classes.txt classes, labels, masks, boxes exact; pixels within JPEG error', () => {
  const { meanAbs } = roundTrip(createShapesDataset({ sizes: { train: 8, val: 6, test: 0 } }), 'shapes');
  assert.ok(meanAbs < 0.02, `mean |JPEG − source| = ${meanAbs}`);
  const voc = openVocDataset(join(tmp, 'shapes'), quiet);
  assert.deepEqual(voc.info.classNames, SHAPES_CLASS_NAMES);
  assert.equal(voc.info.height, 227, 'the reader still resizes to the requested size (default 227)');
});

test('export mnist-multi as VOC: void (255) where strokes cross survives the palette PNG', () => {
  // mnist-multi voids only where two digits' strokes cross; seed 0's first val images have some
  const { meanAbs, voidPixels } = roundTrip(createMnistMultiDataset({ sizes: { train: 8, val: 6, test: 0 } }), 'mnist');
  assert.ok(meanAbs < 0.02, `mean |JPEG − source| = ${meanAbs}`);
  assert.ok(voidPixels > 0, 'some void pixels were exported');
});

test('a class not in classes.txt, and a non-empty output folder, are clear errors', () => {
  const src = createShapesDataset({ sizes: { train: 2, val: 2, test: 0 } });
  const root = exportVocTree(src, join(tmp, 'strict'), {}).root;
  assert.throws(() => exportVocTree(src, root), /is not empty/);
  writeFileSync(join(root, 'classes.txt'), 'circle\nsquare\n');
  assert.throws(() => openVocDataset(root, quiet), (e: unknown) => e instanceof BadInputError && /unknown class '\w+' \(not one of the 2 classes of .*classes\.txt\)/.test(e.message));
  writeFileSync(join(root, 'classes.txt'), 'circle\ncircle\n');
  assert.throws(() => openVocDataset(root, quiet), /classes\.txt.*listed twice/);
});
