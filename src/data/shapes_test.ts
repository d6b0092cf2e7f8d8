import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SplitName } from './dataset.js';
import {
  SHAPES_CLASS_NAMES,
  SHAPES_CUE_PALETTE,
  createShapesDataset,
  resolveShapesOptions,
  type ShapesDataset,
  type ShapesOptions,
} from './shapes.js';
import { rngFor } from './random.js';

const K = SHAPES_CLASS_NAMES.length;

function bytes(a: Float32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Class whose palette colour is nearest to the mean colour of the frame's top row. */
function frameClass(image: Float32Array, size: number): number {
  const c = [0, 0, 0];
  for (let x = 0; x < size; x++) for (let ch = 0; ch < 3; ch++) c[ch] += image[x * 3 + ch] / size;
  let best = -1;
  let bestD = Infinity;
  SHAPES_CUE_PALETTE.forEach((p, k) => {
    const d = Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

/** P(frame class is in the label) − P(a random class is in the label), over n samples. */
function cueLift(ds: ShapesDataset, n: number): number {
  let hit = 0;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const s = ds.get('train', i);
    const k = frameClass(s.image, ds.info.width);
    hit += s.label[k];
    positives += s.label.reduce((a, b) => a + b, 0);
  }
  return hit / n - positives / (n * K);
}

test('info, sizes and sample shapes follow the Dataset contract', () => {
  const ds = createShapesDataset();
  assert.equal(ds.info.name, 'shapes');
  assert.deepEqual([...ds.info.classNames], [...SHAPES_CLASS_NAMES]);
  assert.ok(K >= 8);
  for (const name of ds.info.classNames) assert.match(name, /^[a-z]+$/);
  assert.equal(ds.info.height, 64);
  assert.equal(ds.info.width, 64);
  assert.equal(ds.size('train'), 6000);
  assert.equal(ds.size('val'), 600);
  assert.equal(ds.size('test'), 600);
  const s = ds.get('test', 123);
  assert.equal(s.id, 'shapes-test-000123');
  assert.ok(s.image instanceof Float32Array);
  assert.equal(s.image.length, 64 * 64 * 3);
  assert.equal(s.label.length, K);
  assert.ok(s.mask instanceof Uint8Array);
  assert.equal(s.mask!.length, 64 * 64);
  for (const v of s.image) assert.ok(v >= 0 && v <= 1);
  for (const v of s.label) assert.ok(v === 0 || v === 1);
  // Normalisation statistics: plausible and cached.
  for (let c = 0; c < 3; c++) {
    assert.ok(ds.info.mean[c] > 0.3 && ds.info.mean[c] < 0.7, `mean[${c}] = ${ds.info.mean[c]}`);
    assert.ok(ds.info.std[c] > 0.1 && ds.info.std[c] < 0.35, `std[${c}] = ${ds.info.std[c]}`);
  }
  assert.equal(ds.info.mean, ds.info.mean);
  const other = createShapesDataset({ imageSize: 96, sizes: { train: 10, val: 3, test: 0 } });
  assert.equal(other.info.width, 96);
  assert.equal(other.get('val', 2).image.length, 96 * 96 * 3);
  assert.equal(other.size('test'), 0);
});

test('same seed gives identical bytes; a different seed gives different images', () => {
  const a = createShapesDataset({ seed: 7 });
  const b = createShapesDataset({ seed: 7 });
  const c = createShapesDataset({ seed: 8 });
  for (const split of ['train', 'val', 'test'] as SplitName[]) {
    for (const i of [0, 1, 17, 599]) {
      const sa = a.get(split, i);
      const sb = b.get(split, i);
      assert.ok(bytes(sa.image).equals(bytes(sb.image)), `${split} ${i} image`);
      assert.ok(bytes(sa.label).equals(bytes(sb.label)), `${split} ${i} label`);
      assert.ok(bytes(sa.mask!).equals(bytes(sb.mask!)), `${split} ${i} mask`);
      assert.ok(!bytes(sa.image).equals(bytes(c.get(split, i).image)), `${split} ${i} differs across seeds`);
    }
  }
  // Random access: reading in a different order changes nothing.
  const late = a.get('train', 5000);
  const fresh = createShapesDataset({ seed: 7 }).get('train', 5000);
  assert.ok(bytes(late.image).equals(bytes(fresh.image)));
  // get() is scene().sample.
  assert.ok(bytes(a.scene('val', 3).sample.image).equals(bytes(a.get('val', 3).image)));
});

test('splits are different streams', () => {
  const ds = createShapesDataset();
  const seen = new Set<string>();
  for (const split of ['train', 'val', 'test'] as SplitName[]) {
    for (let i = 0; i < 50; i++) {
      const key = bytes(ds.get(split, i).image).toString('base64');
      assert.ok(!seen.has(key), `${split} ${i} duplicates another sample`);
      seen.add(key);
    }
  }
});

test('labels and masks agree with the visibility rule; 1–3 positives per image', () => {
  const ds = createShapesDataset({ seed: 3 });
  const { minVisiblePixels, minVisibleFraction } = ds.options;
  assert.equal(minVisiblePixels, 20);
  assert.equal(minVisibleFraction, 0.3);
  const positivesHist = [0, 0, 0, 0];
  for (let i = 0; i < 400; i++) {
    const split: SplitName = i % 2 === 0 ? 'train' : 'val';
    const { sample, objects } = ds.scene(split, i);
    const counts = new Array<number>(256).fill(0);
    for (const m of sample.mask) counts[m]++;
    for (let v = 0; v < 256; v++) {
      if (counts[v] > 0) assert.ok(v <= K || v === 255, `mask value ${v} in sample ${i}`);
    }
    const positives = sample.label.reduce((x, y) => x + y, 0);
    assert.ok(positives >= 1 && positives <= 3, `sample ${i} has ${positives} positives`);
    positivesHist[positives]++;
    // Distinct classes per image.
    assert.equal(new Set(objects.map((o) => o.classIndex)).size, objects.length);
    for (let k = 0; k < K; k++) {
      const obj = objects.find((o) => o.classIndex === k);
      const visible = counts[k + 1];
      if (!obj) {
        assert.equal(sample.label[k], 0);
        assert.equal(visible, 0, `class ${k} in mask but not placed (sample ${i})`);
        continue;
      }
      assert.ok(obj.area > 0 && obj.visiblePixels <= obj.area);
      const passes: boolean = obj.visiblePixels >= minVisiblePixels && obj.visiblePixels >= minVisibleFraction * obj.area;
      assert.equal(obj.present, passes);
      // With the default layout constraint (≥ 60 % visible) every placed object passes.
      assert.ok(passes, `object ${k} of sample ${i} fails the rule under defaults`);
      assert.equal(sample.label[k], passes ? 1 : 0, `label of class ${k} (sample ${i})`);
      // A labelled class's mask pixels are exactly its visible pixels; an unlabelled one has none.
      assert.equal(visible, passes ? obj.visiblePixels : 0, `mask count of class ${k} (sample ${i})`);
      if (passes) {
        assert.ok(visible >= minVisiblePixels);
        // Object size within the requested range (14–30 px at 64×64).
        assert.ok(obj.size >= 14 - 1e-9 && obj.size <= 30 + 1e-9, `size ${obj.size}`);
      }
    }
    // The frame and everything outside objects is background.
    assert.equal(sample.mask[0], 0);
    assert.equal(sample.mask[64 * 64 - 1], 0);
  }
  for (let p = 1; p <= 3; p++) assert.ok(positivesHist[p] > 80, `positives histogram ${positivesHist}`);
});

test('occlusion beyond the visibility rule turns an object void and drops its label', () => {
  // Allow heavy occlusion but demand most of each object visible, so the rule must bite sometimes.
  const ds = createShapesDataset({ seed: 1, maxOcclusion: 0.7, minVisibleFraction: 0.9, objectsPerImage: [3, 3] });
  let dropped = 0;
  for (let i = 0; i < 200; i++) {
    const { sample, objects } = ds.scene('train', i);
    for (const o of objects) {
      if (o.present) continue;
      dropped++;
      assert.equal(sample.label[o.classIndex], 0);
      // Its remaining visible pixels are void, not background or another class.
      const voidCount = sample.mask.reduce((n, m) => n + (m === 255 ? 1 : 0), 0);
      assert.ok(voidCount >= o.visiblePixels);
    }
  }
  assert.ok(dropped > 0, 'expected some objects to fail the visibility rule');
});

test('class frequencies are roughly balanced', () => {
  const ds = createShapesDataset({ seed: 11 });
  const freq = new Array<number>(K).fill(0);
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const s = ds.get('train', i);
    for (let k = 0; k < K; k++) freq[k] += s.label[k];
  }
  const mean = freq.reduce((a, b) => a + b, 0) / K;
  for (let k = 0; k < K; k++) {
    assert.ok(Math.abs(freq[k] - mean) < 0.2 * mean, `class ${SHAPES_CLASS_NAMES[k]}: ${freq[k]} vs mean ${mean.toFixed(0)}`);
  }
});

test('context cue: off is uncorrelated with the label, weak and strong are not', () => {
  const n = 1500;
  const off = createShapesDataset({ contextCue: 'off' });
  const weak = createShapesDataset({ contextCue: 'weak' });
  const strong = createShapesDataset({ contextCue: 'strong' });
  const liftOff = cueLift(off, n);
  const liftWeak = cueLift(weak, n);
  const liftStrong = cueLift(strong, n);
  // Under 'off', P(frame class present) ≈ 0.2 = base rate; binomial sd ≈ 0.01.
  assert.ok(Math.abs(liftOff) < 0.04, `off lift ${liftOff}`);
  // Expected lifts: weak 0.2·0.8 = 0.16, strong 0.7·0.8 = 0.56.
  assert.ok(liftWeak > 0.1 && liftWeak < 0.25, `weak lift ${liftWeak}`);
  assert.ok(liftStrong > 0.45, `strong lift ${liftStrong}`);
  // The cue is the only difference: the interior pixels and masks are identical across levels.
  for (let i = 0; i < 20; i++) {
    const a = off.scene('train', i);
    const b = strong.scene('train', i);
    assert.ok(bytes(a.sample.mask).equals(bytes(b.sample.mask)));
    assert.equal(frameClass(b.sample.image, 64), b.cueClass);
    for (let y = 2; y < 62; y++) {
      const row = (y * 64 + 2) * 3;
      assert.ok(bytes(a.sample.image.subarray(row, row + 60 * 3)).equals(bytes(b.sample.image.subarray(row, row + 60 * 3))));
    }
  }
});

test('option validation names the offending field', () => {
  const bad: [ShapesOptions, string][] = [
    [{ seed: 1.5 }, 'seed'],
    [{ seed: Number.NaN }, 'seed'],
    [{ imageSize: 16 }, 'imageSize'],
    [{ imageSize: 64.5 }, 'imageSize'],
    [{ sizes: { train: -1 } }, 'sizes.train'],
    [{ sizes: { val: 1.2 } }, 'sizes.val'],
    [{ sizes: { dev: 3 } as never }, 'sizes.dev'],
    [{ contextCue: 'medium' as never }, 'contextCue'],
    [{ cueFraction: 1.5 }, 'cueFraction'],
    [{ objectsPerImage: [0, 3] }, 'objectsPerImage[0]'],
    [{ objectsPerImage: [3, 2] }, 'objectsPerImage'],
    [{ objectsPerImage: [1] as never }, 'objectsPerImage'],
    [{ objectSize: [0.05, 0.3] }, 'objectSize[0]'],
    [{ objectSize: [0.3, 0.9] }, 'objectSize[1]'],
    [{ clutter: -1 }, 'clutter'],
    [{ clutter: 'lots' as never }, 'clutter'],
    [{ maxOcclusion: 0.95 }, 'maxOcclusion'],
    [{ minVisibleFraction: 0 }, 'minVisibleFraction'],
    [{ minVisiblePixels: 0 }, 'minVisiblePixels'],
    [{ minVisiblePixels: 500 }, 'minVisiblePixels'],
    [{ statsSamples: 0 }, 'statsSamples'],
    [{ colour: 'red' } as never, 'colour'],
  ];
  for (const [opts, field] of bad) {
    assert.throws(
      () => createShapesDataset(opts),
      (e: unknown) => e instanceof Error && e.message.includes(`"${field}"`),
      `expected an error naming "${field}" for ${JSON.stringify(opts)}`,
    );
  }
  const ds = createShapesDataset({ sizes: { train: 5 } });
  assert.throws(() => ds.get('train', 5), /index/);
  assert.throws(() => ds.get('train', -1), /index/);
  assert.throws(() => ds.get('train', 0.5), /index/);
  assert.throws(() => ds.get('dev' as SplitName, 0), /split/);
  assert.throws(() => ds.size('dev' as SplitName), /split/);
  // Defaults resolve as documented.
  const o = resolveShapesOptions();
  assert.equal(o.seed, 0);
  assert.equal(o.contextCue, 'off');
  assert.equal(o.cueFraction, 0);
  assert.deepEqual(o.objectsPerImage, [1, 3]);
  assert.deepEqual(o.sizes, { train: 6000, val: 600, test: 600 });
  assert.equal(resolveShapesOptions({ contextCue: 'strong' }).cueFraction, 0.7);
  assert.equal(resolveShapesOptions({ imageSize: 128 }).minVisiblePixels, 80);
});

test('PRNG streams are deterministic and well spread', () => {
  const a = rngFor(1, 2, 3);
  const b = rngFor(1, 2, 3);
  const c = rngFor(1, 2, 4);
  let same = 0;
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = a.next();
    assert.equal(x, b.next());
    if (x === c.next()) same++;
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(same < 5);
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
  const d = rngFor(9).distinct(10, 10);
  assert.deepEqual([...d].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('generation is fast (well under 1 ms per 64×64 sample)', () => {
  const ds = createShapesDataset({ seed: 5 });
  for (let i = 0; i < 100; i++) ds.get('train', i); // warm-up
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ds.get('val', i % 600);
  const ms = (performance.now() - t0) / n;
  // Typically ≈ 0.35 ms; the bound leaves room for slow or busy CI machines.
  assert.ok(ms < 3, `${ms.toFixed(3)} ms per sample`);
});
