/**
 * `apc sweep` grid files (src/sweep/grid.ts: JSON or YAML, zod-validated): the harness applies its
 * byte and JSON-structure mutations (key deletion, type swaps, huge numbers, NaN strings, deep
 * nesting) to `grid.json`; every case must load or fail with one BadInputError naming the file.
 */
import { join } from 'node:path';
import type { FuzzSurface } from '../surface.js';

export function sweepGridSurface(
  /** Reads and validates a grid file, throwing one named error when it is bad. */
  load: (path: string) => Promise<unknown> | unknown,
  /** Valid grids (as the JSON values a user would write) to mutate. */
  validGrids: readonly unknown[],
  isCleanError: (err: unknown) => boolean,
): FuzzSurface {
  return {
    name: 'sweep-grid',
    async seeds() {
      return validGrids.map((g) => ({ 'grid.json': Buffer.from(JSON.stringify(g, null, 2)) }));
    },
    async load(caseDir) {
      await load(join(caseDir, 'grid.json'));
    },
    isCleanError,
  };
}
