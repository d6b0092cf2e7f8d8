/** Colormap lookup tables against d3-scale-chromatic's own colours. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolateInferno, interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import { COLORMAPS, colormapLut, colormapRgb, parseCssRgb } from './colormap.js';

const D3 = { turbo: interpolateTurbo, viridis: interpolateViridis, inferno: interpolateInferno } as const;

test('parseCssRgb reads both of d3\'s formats and rejects others', () => {
  assert.deepEqual(parseCssRgb('rgb(35, 23, 27)'), [35, 23, 27]);
  assert.deepEqual(parseCssRgb('#fde725'), [253, 231, 37]);
  assert.throws(() => parseCssRgb('hsl(0, 0%, 0%)'), /cannot parse colour 'hsl/);
});

for (const [name, interp] of Object.entries(D3) as [keyof typeof D3, (t: number) => string][]) {
  test(`${name}: endpoints and table entries equal d3's colours`, () => {
    assert.deepEqual(colormapRgb(name, 0), parseCssRgb(interp(0)));
    assert.deepEqual(colormapRgb(name, 1), parseCssRgb(interp(1)));
    assert.deepEqual(colormapRgb(name, 100 / 255), parseCssRgb(interp(100 / 255)));
    assert.equal(colormapLut(name).length, 256 * 3);
  });
}

test('t is clamped to [0,1] (NaN → 0) and rounded to the nearest of 256 entries', () => {
  for (const name of COLORMAPS) {
    assert.deepEqual(colormapRgb(name, -3), colormapRgb(name, 0));
    assert.deepEqual(colormapRgb(name, 7), colormapRgb(name, 1));
    assert.deepEqual(colormapRgb(name, NaN), colormapRgb(name, 0));
  }
  assert.deepEqual(colormapRgb('turbo', 0.5), parseCssRgb(interpolateTurbo(128 / 255)));
  assert.deepEqual(colormapRgb('turbo', 0.4 / 255), colormapRgb('turbo', 0));
});

test('gray is the identity ramp; unknown names list the known ones', () => {
  assert.deepEqual(colormapRgb('gray', 0), [0, 0, 0]);
  assert.deepEqual(colormapRgb('gray', 1), [255, 255, 255]);
  assert.deepEqual(colormapRgb('gray', 0.2), [51, 51, 51]);
  assert.throws(() => colormapLut('jet'), /unknown colormap 'jet'; known: turbo, viridis, inferno, gray/);
});
