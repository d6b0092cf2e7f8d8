import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SplitName } from './dataset.js';
import { createMnistMultiDataset, MNIST_MULTI_CLASS_NAMES, resolveMnistMultiOptions } from './mnist_multi.js';
import { mnistDigits, mnistSourceRange } from './mnist_source.js';
import { openDataset } from './registry.js';

const SPLITS: SplitName[] = ['train', 'val', 'test'];
const bytes = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('info, sizes and sample shapes follow the Dataset contract', () => {
  const ds = createMnistMultiDataset();
  assert.equal(ds.info.name, 'mnist-multi');
  assert.deepEqual([...ds.info.classNames], ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual([ds.info.height, ds.info.width], [64, 64]);
  assert.deepEqual(SPLITS.map((s) => ds.size(s)), [6000, 600, 600]);
  const s = ds.get('test', 42);
  assert.equal(s.id, 'mnist-multi-test-000042');
  assert.equal(s.image.length, 64 * 64 * 3);
  assert.equal(s.label.length, 10);
  assert.equal(s.mask!.length, 64 * 64);
  assert.ok(s.image.every((v) => v >= 0 && v <= 1));
  for (let c = 0; c < 3; c++) {
    assert.ok(ds.info.mean[c] > 0.5 && ds.info.mean[c] < 0.85, `mean ${ds.info.mean[c]}`); // light paper, dark ink
    assert.ok(ds.info.std[c] > 0.1 && ds.info.std[c] < 0.35, `std ${ds.info.std[c]}`);
  }
  const small = createMnistMultiDataset({ imageSize: 32, sizes: { train: 5, val: 2, test: 0 } });
  assert.equal(small.get('val', 1).image.length, 32 * 32 * 3);
  assert.equal(small.size('test'), 0);
  assert.throws(() => small.get('val', 2), RangeError);
  assert.equal(openDataset('mnist-multi').info.name, 'mnist-multi');
});

test('deterministic and random-access: same seed → same pixels in any order; other seed → other pixels', () => {
  const a = createMnistMultiDataset({ seed: 7 });
  const b = createMnistMultiDataset({ seed: 7 });
  const late = bytes(a.get('train', 4321).image);
  for (const i of [0, 1, 2]) b.get('train', i);
  assert.ok(bytes(b.get('train', 4321).image).equals(late), 'get(i) does not depend on earlier calls');
  for (const split of SPLITS) {
    for (const i of [0, 17, 599]) {
      const x = a.get(split, i);
      const y = b.get(split, i);
      assert.ok(bytes(x.image).equals(bytes(y.image)) && bytes(x.mask!).equals(bytes(y.mask!)) && bytes(x.label).equals(bytes(y.label)));
    }
  }
  const c = createMnistMultiDataset({ seed: 8 });
  assert.ok(!bytes(c.get('train', 0).image).equals(bytes(a.get('train', 0).image)));
  assert.ok(!bytes(a.get('val', 0).image).equals(bytes(a.get('test', 0).image)), 'splits are different streams');
});

test('labels match masks: 1–3 distinct digits, each owns stroke pixels; void only where strokes overlap', () => {
  const ds = createMnistMultiDataset({ seed: 3 });
  const counts = [0, 0, 0, 0];
  let voidPixels = 0;
  for (const split of SPLITS) {
    for (let i = 0; i < 300; i++) {
      const { sample, digits } = ds.scene(split, i);
      const labelled = [...sample.label].flatMap((v, k) => (v === 1 ? [k] : []));
      assert.ok(sample.label.every((v) => v === 0 || v === 1));
      assert.ok(labelled.length >= 1 && labelled.length <= 3, `${split}/${i}: ${labelled.length} labels`);
      counts[labelled.length]++;
      assert.deepEqual(digits.map((d) => d.classIndex).sort(), labelled, 'one digit per labelled class');
      const inMask = new Map<number, number>();
      for (const v of sample.mask) {
        if (v === 255) voidPixels++;
        else if (v > 0) inMask.set(v - 1, (inMask.get(v - 1) ?? 0) + 1);
        assert.ok(v <= 10 || v === 255);
      }
      assert.deepEqual([...inMask.keys()].sort(), labelled, `${split}/${i}: mask classes = label`);
      for (const d of digits) {
        assert.equal(inMask.get(d.classIndex), d.ownPixels);
        assert.ok(d.ownPixels >= 0.8 * d.strokePixels, 'at most 20 % of a digit is shared');
      }
      if (digits.length === 1) assert.ok(!sample.mask.includes(255), 'a lone digit has no void');
    }
  }
  assert.ok(counts[1] > 100 && counts[2] > 100 && counts[3] > 100, `label counts ${counts}`);
  assert.ok(voidPixels > 0, 'overlaps happen and are void');
});

test('splits use disjoint source digits (digits and fragments)', () => {
  const { counts } = mnistDigits();
  assert.equal(counts.length, 10);
  assert.ok(counts.reduce((a, b) => a + b, 0) >= 9000);
  for (let c = 0; c < 10; c++) {
    const [t0, t1] = mnistSourceRange(counts, 'train', c);
    const [v0, v1] = mnistSourceRange(counts, 'val', c);
    const [s0, s1] = mnistSourceRange(counts, 'test', c);
    assert.deepEqual([t0, t1 === v0, v1 === s0, s1], [0, true, true, counts[c]]);
    assert.ok(t1 - t0 > 600 && v1 - v0 > 60 && s1 - s0 > 60);
  }
  const ds = createMnistMultiDataset({ seed: 11 });
  const used = new Map<SplitName, Set<string>>(SPLITS.map((s) => [s, new Set()]));
  for (const split of SPLITS) {
    for (let i = 0; i < 400; i++) {
      const sc = ds.scene(split, i);
      for (const d of [...sc.digits, ...sc.fragments]) {
        const [a, b] = mnistSourceRange(counts, split, d.classIndex);
        assert.ok(d.source >= a && d.source < b, `${split}/${i}: digit ${d.classIndex}#${d.source} outside [${a}, ${b})`);
        used.get(split)!.add(`${d.classIndex}#${d.source}`);
      }
    }
  }
  for (const x of used.get('test')!) assert.ok(!used.get('train')!.has(x) && !used.get('val')!.has(x));
  for (const x of used.get('val')!) assert.ok(!used.get('train')!.has(x));
});

test('options are validated and errors name the field', () => {
  assert.throws(() => resolveMnistMultiOptions({ imageSize: 16 }), /"imageSize" must be an integer in \[32, 256\]/);
  assert.throws(() => resolveMnistMultiOptions({ digitsPerImage: [3, 1] }), /"digitsPerImage" must be a \[min, max\] pair with min ≤ max/);
  assert.throws(() => resolveMnistMultiOptions({ colour: 1 } as never), /unknown option "colour"/);
  assert.throws(() => resolveMnistMultiOptions({ sizes: { tset: 1 } as never }), /unknown option "sizes\.tset"/);
  assert.equal(MNIST_MULTI_CLASS_NAMES.length, 10);
});
