/**
 * The VOC loader on small trees written to a temp folder: labels (difficult handling), split
 * mapping, masks (palette / RGB / greyscale, void 255), resizing, normalisation, the reference
 * train transform, the disk cache, and one BadInputError (or counted skip) per kind of bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../engine/random.js';
import { toTensors } from '../train/batches.js';
import { BadInputError, BadInputLog } from './bad_input.js';
import { openVocDataset, type VocOptions } from './voc.js';
import { VOC_CLASS_NAMES, VOC_MEAN, VOC_STD } from './voc_annotations.js';
import { decodeJpegRgb, decodeVocMask } from './voc_decode.js';
import {
  annotationXml, blockMask, defaultFixtureSpec, encodeGreyPng, encodePaletteMask, encodeRgbPng, type FixtureSpec, writeVocTree,
} from './voc_fixture.js';
import { resizeBilinearAntialias, resizeNearestIndex } from './voc_resize.js';
import { cropRgb, flipRgbInPlace, vocCentreCropBox, vocRandomCropBox } from './voc_train_transform.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-voc-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let treeCount = 0;
function tree(spec: FixtureSpec = defaultFixtureSpec()): string {
  return writeVocTree(join(tmp, `t${treeCount++}`), spec);
}
const quiet: VocOptions = { cacheDir: null, log: () => {} };
const cls = (name: string) => VOC_CLASS_NAMES.indexOf(name as (typeof VOC_CLASS_NAMES)[number]);
const positives = (v: Float32Array) => [...v].map((x, i) => (x ? VOC_CLASS_NAMES[i] : '')).filter(Boolean);

test('labels: names trimmed and lower-cased, difficult and truncated objects count as positives', () => {
  const ds = openVocDataset(tree(), { ...quiet, imageSize: 16 });
  assert.equal(ds.info.name, `voc:${ds.root}`);
  assert.deepEqual([...ds.info.classNames], [...VOC_CLASS_NAMES]);
  assert.equal(VOC_CLASS_NAMES.length, 20);
  assert.equal(cls('aeroplane'), 0);
  assert.equal(cls('tvmonitor'), 19);
  const t = (i: number) => ds.get('train', i);
  assert.deepEqual(positives(t(0).label), ['dog', 'person']); // person is truncated: still positive
  assert.deepEqual(positives(t(1).label), ['cat']); // 'Cat ' and a difficult 'cat'
  assert.deepEqual(positives(t(2).label), ['bottle']); // only object is difficult: still positive
  // difficult-only: set only when every object of the class is difficult
  assert.deepEqual(positives(t(0).difficultOnly), []);
  assert.deepEqual(positives(t(1).difficultOnly), []);
  assert.deepEqual(positives(t(2).difficultOnly), ['bottle']);
  const v = ds.get('val', 0);
  assert.deepEqual(positives(v.label), ['aeroplane', 'car']);
  assert.deepEqual(positives(v.difficultOnly), ['car']);
  const dif = ds.difficultOnly('val');
  assert.equal(dif.length, 3 * 20);
  assert.equal(dif[cls('car')], 1);
  assert.equal(dif.reduce((a, b) => a + b, 0), 1);
  for (const split of ['train', 'val', 'test'] as const) {
    for (let i = 0; i < ds.size(split); i++) assert.ok(ds.get(split, i).label.some((x) => x === 1), `${split}/${i} has a positive`);
  }
});

test('splits: train/val = Main lists, test = Segmentation val sorted, masks only on test', () => {
  const logs: string[] = [];
  const ds = openVocDataset(tree(), { ...quiet, imageSize: 16, log: (l) => logs.push(l) });
  assert.deepEqual(ds.ids('train'), ['2008_000001', '2008_000002', '2008_000003', '2008_000004']);
  assert.deepEqual(ds.ids('val'), ['2008_000005', '2008_000006', '2008_000007']);
  assert.deepEqual(ds.ids('test'), ['2008_000005', '2008_000007']); // listed 7, 5
  assert.deepEqual([ds.size('train'), ds.size('val'), ds.size('test')], [4, 3, 2]);
  assert.equal(ds.get('train', 0).mask, undefined);
  assert.equal(ds.get('val', 0).mask, undefined);
  assert.ok(ds.get('test', 0).mask instanceof Uint8Array);
  assert.equal(ds.get('test', 1).id, '2008_000007');
  assert.equal(ds.segValInTrain, 0);
  assert.ok(logs.some((l) => /0 Segmentation val ids in Main train/.test(l)), logs.join('\n'));
  assert.ok(!logs.some((l) => /warning/.test(l)));
  assert.throws(() => ds.get('test', 2), RangeError);

  const spec = defaultFixtureSpec();
  const leaky = { ...spec, segVal: [...spec.segVal, '2008_000003'], images: spec.images.map((im) => (im.id === '2008_000003' ? { ...im, mask: new Uint8Array(16 * 16) } : im)) };
  const logs2: string[] = [];
  const ds2 = openVocDataset(tree(leaky), { ...quiet, imageSize: 16, log: (l) => logs2.push(l) });
  assert.equal(ds2.segValInTrain, 1);
  assert.ok(logs2.some((l) => /warning: 1 Segmentation val images are also in Main train/.test(l)), logs2.join('\n'));
});

test('masks: palette, RGB and greyscale PNGs give the same indices; void stays 255; nearest resize', () => {
  const W = 16;
  const H = 16;
  const mask = blockMask(W, H, 12, 4, 4, 12, 10); // dog (index 12 = class 11), void border
  const spec = (format: 'palette' | 'rgb' | 'grey'): FixtureSpec => ({
    images: [{ id: 'a', width: W, height: H, objects: [{ name: 'dog' }], mask, maskFormat: format }],
    train: ['a'], val: ['a'], segVal: ['a'],
  });
  for (const format of ['palette', 'rgb', 'grey'] as const) {
    const ds = openVocDataset(tree(spec(format)), { ...quiet, imageSize: 8 });
    const m = ds.get('test', 0).mask!;
    // 16 → 8: a = 2, source index trunc(1 + 2o) = 1, 3, …, 15 (hand-computed)
    const want = new Uint8Array(64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) want[y * 8 + x] = mask[(2 * y + 1) * W + 2 * x + 1];
    assert.deepEqual([...m], [...want], format);
    assert.deepEqual(new Set(m), new Set([0, 12, 255]), format);
    // row 3 (source row 7) crosses the object: x source 1,3 → 0; 3 is the void column; 5..11 → 12; 13,15 → 0
    assert.deepEqual([...m.slice(24, 32)], [0, 255, 12, 12, 12, 12, 0, 0], format);
  }
  // the default tree: the palette mask of 2008_000005 and the RGB mask of 2008_000007
  const ds = openVocDataset(tree(), { ...quiet, imageSize: 12 });
  const fx = defaultFixtureSpec().images;
  assert.deepEqual([...ds.get('test', 0).mask!], [...resizeNearestIndex(fx[4].mask!, 22, 18, 12, 12)]);
  assert.deepEqual([...ds.get('test', 1).mask!], [...resizeNearestIndex(fx[6].mask!, 20, 14, 12, 12)]);
  assert.ok(ds.get('test', 1).mask!.includes(17) && ds.get('test', 1).mask!.includes(255)); // sheep: class 16, mask index 17
});

test('masks: a palette that is not the VOC one is inverted from the file (indices, not colours)', () => {
  const idx = Uint8Array.from([0, 1, 2, 255, 20, 0]);
  const palette = Array.from({ length: 256 }, (_, i) => [i, 255 - i, (i * 7) % 256]);
  const m = decodeVocMask(encodePaletteMask(3, 2, idx, palette), 'x.png');
  assert.deepEqual([...m.data], [...idx]);
  assert.deepEqual([m.width, m.height], [3, 2]);
});

test('images: eval transform = whole image resized to imageSize² (antialiased bilinear), u/255', () => {
  const root = tree();
  const ds = openVocDataset(root, { ...quiet, imageSize: 10 });
  assert.deepEqual([ds.info.height, ds.info.width], [10, 10]);
  for (const [split, i, id] of [['train', 3, '2008_000004'], ['val', 1, '2008_000006'], ['test', 0, '2008_000005']] as const) {
    const rgb = decodeJpegRgb(readFileSync(join(root, 'JPEGImages', `${id}.jpg`)), id);
    const want = resizeBilinearAntialias(rgb.data, rgb.width, rgb.height, 3, 10, 10);
    const got = ds.get(split, i).image;
    assert.equal(got.length, 300);
    assert.deepEqual([...got], [...Float32Array.from(want, (u) => u / 255)], id);
  }
});

test('normalisation: VOC mean/std, (u/255 − mean)/std by channel (hand-computed on a flat image)', () => {
  const rgb = new Uint8Array(16 * 16 * 3);
  for (let p = 0; p < 256; p++) rgb.set([200, 100, 50], 3 * p);
  const root = tree({ images: [{ id: 'flat', width: 16, height: 16, objects: [{ name: 'cow' }], rgb }], train: ['flat'], val: ['flat'], segVal: [] });
  const ds = openVocDataset(root, { cacheDir: null, log: () => {}, imageSize: 8, skipBad: true }); // empty test split is a skip
  assert.deepEqual(ds.info.mean, [0.4589, 0.4355, 0.4032]);
  assert.deepEqual(ds.info.std, [0.2239, 0.2186, 0.2206]);
  assert.equal(ds.size('test'), 0);
  const s = ds.get('train', 0);
  // jpeg-js decodes the flat colour (200,100,50) as (199,99,49): YCbCr rounding
  const u = [199, 99, 49];
  for (let p = 0; p < 64; p++) for (let c = 0; c < 3; c++) assert.equal(s.image[3 * p + c], Math.fround(u[c] / 255));
  const { x, y } = toTensors(ds, { indices: [0], images: s.image, labels: s.label });
  const xv = x.dataSync();
  // (199/255 − 0.4589)/0.2239 = 1.435874, (99/255 − 0.4355)/0.2186 = −0.216215, (49/255 − 0.4032)/0.2206 = −0.956678
  const hand = [1.435874, -0.216215, -0.956678];
  for (let p = 0; p < 64; p++) {
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(xv[3 * p + c] - hand[c]) < 2e-6, `pixel ${p} channel ${c}: ${xv[3 * p + c]} vs ${hand[c]}`);
  }
  tf.dispose([x, y]);
  assert.deepEqual([...VOC_MEAN, ...VOC_STD], [0.4589, 0.4355, 0.4032, 0.2239, 0.2186, 0.2206]);
});

test('train transform: random resized crop on the original image, resized, flipped (voc-protocol §4)', () => {
  // fallback centred crops (hand-computed)
  assert.deepEqual(vocCentreCropBox(30, 12), { top: 0, left: 7, height: 12, width: 16 }); // W/H > 4/3: w = round(12·4/3)
  assert.deepEqual(vocCentreCropBox(12, 30), { top: 7, left: 0, height: 16, width: 12 }); // W/H < 3/4: h = round(12·4/3)
  assert.deepEqual(vocCentreCropBox(20, 18), { top: 0, left: 0, height: 18, width: 20 });
  // drawn boxes respect area 8–100 % and aspect 3/4–4/3 (up to rounding), and lie inside the image
  const rng = new Rng(5);
  for (let t = 0; t < 500; t++) {
    const b = vocRandomCropBox(500, 375, rng);
    assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 375 && b.left + b.width <= 500);
    const f = (b.width * b.height) / (500 * 375);
    assert.ok(f > 0.07 && f <= 1.0, `area ${f}`);
    assert.ok(b.width / b.height > 0.72 && b.width / b.height < 1.39, `aspect ${b.width / b.height}`);
  }
  // trainSample = crop of the decoded original → resize → flip, with the same draws
  const root = tree();
  const ds = openVocDataset(root, { ...quiet, imageSize: 12 });
  const raw = decodeJpegRgb(readFileSync(join(root, 'JPEGImages', '2008_000001.jpg')), 'x');
  let flips = 0;
  for (let seed = 0; seed < 12; seed++) {
    const s = ds.trainSample(0, new Rng(seed));
    const r = new Rng(seed);
    const box = vocRandomCropBox(raw.width, raw.height, r);
    const crop = cropRgb(raw, box);
    const want = resizeBilinearAntialias(crop.data, crop.width, crop.height, 3, 12, 12);
    if (r.next() < 0.5) {
      flipRgbInPlace(want, 12, 12);
      flips++;
    }
    assert.deepEqual([...s.image], [...Float32Array.from(want, (u) => u / 255)], `seed ${seed}`);
    assert.deepEqual(positives(s.label), ['dog', 'person']);
  }
  assert.ok(flips > 0 && flips < 12);
});

test('cache: decode once, reuse across opens, invalidate on change, atomic files, corrupt entries rewritten', async () => {
  const root = tree();
  const cacheDir = join(tmp, 'cache-a');
  const a = openVocDataset(root, { cacheDir, log: () => {}, imageSize: 12 });
  assert.equal(a.cache.stats.writes, 9); // 7 images + 2 masks
  const before = a.get('test', 1);
  const b = openVocDataset(root, { cacheDir, log: () => {}, imageSize: 12 });
  assert.equal(b.cache.stats.writes, 0, 'warm cache: nothing decoded');
  assert.deepEqual([...b.get('test', 1).image], [...before.image]);
  assert.deepEqual([...b.get('test', 1).mask!], [...before.mask!]);
  assert.equal(openVocDataset(root, { cacheDir, log: () => {}, imageSize: 10 }).cache.stats.writes, 9, 'another size is another key');
  // a changed file (new mtime) is decoded again; the others are not
  const jpg = join(root, 'JPEGImages', '2008_000002.jpg');
  utimesSync(jpg, new Date(), new Date(Date.now() + 5000));
  assert.equal(openVocDataset(root, { cacheDir, log: () => {}, imageSize: 12 }).cache.stats.writes, 1);
  // truncated cache entries are misses, rewritten (all image entries here; the masks stay valid)
  for (const f of readdirSync(cacheDir)) if (f.startsWith('img-')) truncateSync(join(cacheDir, f), 10);
  assert.equal(openVocDataset(root, { cacheDir, log: () => {}, imageSize: 12 }).cache.stats.writes, 7);
  assert.ok(readdirSync(cacheDir).every((f) => f.endsWith('.bin')), 'no temp files left');

  // two processes filling the same cache at once both succeed and leave only complete entries
  const dir2 = join(tmp, 'cache-b');
  const script = `import { openVocDataset } from ${JSON.stringify(new URL('./voc.ts', import.meta.url).pathname)};
    const ds = openVocDataset(${JSON.stringify(root)}, { cacheDir: ${JSON.stringify(dir2)}, log: () => {}, imageSize: 64 });
    let s = 0; for (let i = 0; i < ds.size('test'); i++) s += ds.get('test', i).image[0];
    process.stdout.write(String(s));`;
  const run = () => new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
  });
  const [o1, o2] = await Promise.all([run(), run()]);
  assert.equal(o1, o2);
  const files = readdirSync(dir2);
  assert.equal(files.length, 9);
  assert.ok(files.every((f) => f.endsWith('.bin')));
  const c = openVocDataset(root, { cacheDir: dir2, log: () => {}, imageSize: 64 });
  assert.equal(c.cache.stats.writes, 0);
});

// ---------------------------------------------------------------------------------------------
// Bad input: one case per kind; each names the file and the problem, and --skip-bad counts it.

interface BadCase {
  readonly name: string;
  readonly mutate: (root: string) => void;
  readonly message: RegExp;
  /** Expected split sizes with skipBad (default 4/3/2 minus the entry). */
  readonly sizes: [number, number, number];
  readonly skips: number;
}

const file = (root: string, ...p: string[]) => join(root, ...p);
const jpegOf = (root: string, id: string) => file(root, 'JPEGImages', `${id}.jpg`);
const xmlOf = (root: string, id: string) => file(root, 'Annotations', `${id}.xml`);
const pngOf = (root: string, id: string) => file(root, 'SegmentationClass', `${id}.png`);
const img3 = defaultFixtureSpec().images[2];

const BAD_CASES: BadCase[] = [
  { name: 'truncated JPEG', mutate: (r) => truncateSync(jpegOf(r, '2008_000003'), 300),
    message: /JPEGImages\/2008_000003\.jpg: corrupt or truncated JPEG/, sizes: [3, 3, 2], skips: 1 },
  { name: 'not a JPEG', mutate: (r) => writeFileSync(jpegOf(r, '2008_000003'), 'hello'),
    message: /2008_000003\.jpg: not a JPEG file/, sizes: [3, 3, 2], skips: 1 },
  { name: 'corrupt PNG (bytes flipped: CRC)', mutate: (r) => {
    const b = readFileSync(pngOf(r, '2008_000005'));
    b[b.length - 20] ^= 0xff;
    writeFileSync(pngOf(r, '2008_000005'), b);
  }, message: /SegmentationClass\/2008_000005\.png: corrupt or truncated PNG/, sizes: [4, 3, 1], skips: 1 },
  { name: 'truncated PNG', mutate: (r) => truncateSync(pngOf(r, '2008_000007'), 40),
    message: /2008_000007\.png: corrupt or truncated PNG/, sizes: [4, 3, 1], skips: 1 },
  { name: 'XML that does not parse', mutate: (r) => writeFileSync(xmlOf(r, '2008_000002'), '<annotation><object><name>cat</name></annotation>'),
    message: /Annotations\/2008_000002\.xml: XML does not parse: .*line 1/, sizes: [3, 3, 2], skips: 1 },
  { name: 'XML without <name>', mutate: (r) => writeFileSync(xmlOf(r, '2008_000002'), annotationXml(defaultFixtureSpec().images[1]).replace(/<name>Cat <\/name>/, '')),
    message: /2008_000002\.xml: <object> #1 has no <name>/, sizes: [3, 3, 2], skips: 1 },
  { name: 'XML without objects', mutate: (r) => writeFileSync(xmlOf(r, '2008_000006'), '<annotation><filename>x.jpg</filename></annotation>'),
    message: /2008_000006\.xml: no <object> element/, sizes: [4, 2, 2], skips: 1 },
  { name: 'XML with a bad <difficult>', mutate: (r) => writeFileSync(xmlOf(r, '2008_000001'), annotationXml(defaultFixtureSpec().images[0]).replace('<difficult>0</difficult>', '<difficult>maybe</difficult>')),
    message: /2008_000001\.xml: <object> #1: <difficult> is 'maybe', expected 0 or 1/, sizes: [3, 3, 2], skips: 1 },
  { name: 'unknown class name', mutate: (r) => writeFileSync(xmlOf(r, '2008_000003'), annotationXml({ ...img3, objects: [{ name: 'doggo' }] })),
    message: /2008_000003\.xml: <object> #1: unknown class 'doggo'/, sizes: [3, 3, 2], skips: 1 },
  { name: 'mask of the wrong size', mutate: (r) => writeFileSync(pngOf(r, '2008_000005'), encodePaletteMask(10, 10, new Uint8Array(100))),
    message: /2008_000005\.png: mask is 10×10 but its image .*2008_000005\.jpg is 22×18/, sizes: [4, 3, 1], skips: 1 },
  { name: 'mask colour outside the VOC palette', mutate: (r) => {
    const colours = new Uint8Array(20 * 14 * 3); // background black, except (1,2,3) at (0, 0)
    colours.set([1, 2, 3], 0);
    writeFileSync(pngOf(r, '2008_000007'), encodeRgbPng(20, 14, colours));
  }, message: /2008_000007\.png: colour \(1,2,3\) at \(0, 0\) is not in the VOC palette/, sizes: [4, 3, 1], skips: 1 },
  { name: 'mask index outside 0–20/255', mutate: (r) => writeFileSync(pngOf(r, '2008_000005'), encodeGreyPng(22, 18, new Uint8Array(22 * 18).fill(30))),
    message: /2008_000005\.png: mask value 30 at \(0, 0\) is not a VOC index/, sizes: [4, 3, 1], skips: 1 },
  { name: 'image listed but missing', mutate: (r) => unlinkSync(jpegOf(r, '2008_000004')),
    message: /JPEGImages\/2008_000004\.jpg: is missing \(listed in ImageSets\/Main\/train\.txt\)/, sizes: [3, 3, 2], skips: 1 },
  { name: 'id listed without any files', mutate: (r) => writeFileSync(file(r, 'ImageSets', 'Main', 'train.txt'), '2008_000001\n2008_000099\n'),
    message: /Annotations\/2008_000099\.xml: is missing \(listed in ImageSets\/Main\/train\.txt\)/, sizes: [1, 3, 2], skips: 1 },
  { name: 'mask missing', mutate: (r) => unlinkSync(pngOf(r, '2008_000007')),
    message: /SegmentationClass\/2008_000007\.png: is missing \(listed in ImageSets\/Segmentation\/val\.txt\)/, sizes: [4, 3, 1], skips: 1 },
  { name: 'empty split', mutate: (r) => writeFileSync(file(r, 'ImageSets', 'Main', 'val.txt'), '\n  \n'),
    message: /ImageSets\/Main\/val\.txt: is empty|ImageSets\/Main\/val\.txt: lists no image ids \(empty val split\)/, sizes: [4, 0, 2], skips: 1 },
  { name: 'missing list', mutate: (r) => unlinkSync(file(r, 'ImageSets', 'Segmentation', 'val.txt')),
    message: /ImageSets\/Segmentation\/val\.txt: is missing \(the test list\)/, sizes: [4, 3, 0], skips: 1 },
  { name: 'id listed twice', mutate: (r) => writeFileSync(file(r, 'ImageSets', 'Main', 'train.txt'), '2008_000001\n2008_000002\n2008_000001\n'),
    message: /train\.txt: line 3: id '2008_000001' is listed again \(first on line 1\)/, sizes: [2, 3, 2], skips: 1 },
  { name: 'id that is a path', mutate: (r) => writeFileSync(file(r, 'ImageSets', 'Main', 'train.txt'), '2008_000001\n../../etc/passwd\n'),
    message: /train\.txt: line 2: '\.\.\/\.\.\/etc\/passwd' is not a usable image id/, sizes: [1, 3, 2], skips: 1 },
];

for (const c of BAD_CASES) {
  test(`bad input: ${c.name} → BadInputError naming the file, or a counted skip`, () => {
    const root = tree();
    c.mutate(root);
    assert.throws(() => openVocDataset(root, { ...quiet, imageSize: 8 }), (err: unknown) => {
      assert.ok(err instanceof BadInputError, `${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      assert.match(err.message, c.message);
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.ok(err.message.startsWith(err.file));
      return true;
    });
    const log = new BadInputLog();
    const lines: string[] = [];
    const ds = openVocDataset(root, { ...quiet, imageSize: 8, skipBad: true, skipLog: log, log: (l) => lines.push(l) });
    assert.equal(ds.skipped.length, c.skips, JSON.stringify(ds.skipped));
    assert.equal(log.size, c.skips);
    assert.match(`${ds.skipped[0].file}: ${ds.skipped[0].problem}`, c.message);
    assert.deepEqual([ds.size('train'), ds.size('val'), ds.size('test')], c.sizes);
    assert.ok(lines.some((l) => /skipped 1 bad entry/.test(l)), lines.join('\n'));
    assert.match(log.summary(), /^skipped 1 bad entry \(--skip-bad\):\n {2}\S+\/\S+: /);
    for (const split of ['train', 'val', 'test'] as const) for (let i = 0; i < ds.size(split); i++) ds.get(split, i);
  });
}

test('a path that is not a VOC folder always throws (also with skipBad)', () => {
  for (const skipBad of [false, true]) {
    assert.throws(() => openVocDataset(join(tmp, 'nope'), { ...quiet, skipBad }), (err: unknown) =>
      err instanceof BadInputError && /nope: is not a VOC2012 folder/.test(err.message));
  }
  // PATH may also be the devkit folder or the folder above VOC2012
  const root = tree();
  assert.equal(openVocDataset(join(root, '..'), { ...quiet, imageSize: 8 }).root, root);
});

test('the same bad image in two splits is skipped in each', () => {
  const root = tree();
  truncateSync(jpegOf(root, '2008_000005'), 100); // in Main val and Segmentation val
  const ds = openVocDataset(root, { ...quiet, imageSize: 8, skipBad: true });
  assert.deepEqual(ds.skipped.map((s) => s.split), ['val', 'test']);
  assert.deepEqual([ds.size('val'), ds.size('test')], [2, 1]);
});
