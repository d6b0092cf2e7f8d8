/**
 * HOOK for `apc sweep` grid files (issue 15, branch i15: a zod-validated JSON grid), not yet
 * registered in surfaces.ts because the loader does not exist on this branch. When it lands:
 *
 *   case 'sweep-grid': return sweepGridSurface(loadSweepGrid, [validGrid1, validGrid2], (e) => e instanceof BadInputError);
 *
 * and add 'sweep-grid' to SURFACES. The harness then applies its byte and JSON-structure
 * mutations (key deletion, type swaps, huge numbers, NaN strings, deep nesting) to `grid.json`.
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
