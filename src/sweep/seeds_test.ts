import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSeeds } from './seeds.js';

test('seeds: ranges are inclusive, lists keep their order, repeats count once', () => {
  assert.deepEqual(parseSeeds('0-4'), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseSeeds('3,1,2'), [3, 1, 2]);
  assert.deepEqual(parseSeeds('0-2,7,1'), [0, 1, 2, 7]);
});

test('seeds: bad parts are named', () => {
  assert.throws(() => parseSeeds('4-0'), /--seeds: range '4-0' runs backwards/);
  assert.throws(() => parseSeeds('0,x'), /--seeds: 'x' is not a seed/);
  assert.throws(() => parseSeeds('-1'), /'-1' is not a seed/);
});
