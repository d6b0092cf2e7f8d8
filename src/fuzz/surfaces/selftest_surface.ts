/**
 * A surface whose outcomes are known in advance, to test the harness itself (not run by
 * `npm run fuzz`): case i is ok when i % 6 = 0, a clean error naming the file when 1, a crash
 * (TypeError) when 2, a hang (a synchronous endless loop only the watchdog can stop) when 3, a
 * partial output (a failure that leaves a file in the output folder) when 4, and an allocation
 * sized by an unchecked header (2^40 doubles) when 5.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '../../data/bad_input.js';
import type { FuzzSurface } from '../surface.js';

export function selftestSurface(): FuzzSurface {
  return {
    name: 'selftest',
    async seeds() {
      return [{ 'input.txt': Buffer.from('hello') }];
    },
    makeCase(_seeds, _rng, caseDir) {
      writeFileSync(join(caseDir, 'input.txt'), 'x');
      return 'fixed';
    },
    async load(caseDir, outDir) {
      readFileSync(join(caseDir, 'input.txt'));
      const i = Number(/case-(\d+)$/.exec(caseDir)![1]);
      switch (i % 6) {
        case 0: return;
        case 1: throw new BadInputError(join(caseDir, 'input.txt'), 'is not what was expected');
        case 2: throw new TypeError('cannot read properties of undefined');
        case 3: for (;;) { /* hang */ }
        case 5: return void new Float64Array(2 ** 40);
        default:
          mkdirSync(outDir, { recursive: true });
          writeFileSync(join(outDir, 'half.bin'), 'x');
          throw new BadInputError(join(caseDir, 'input.txt'), 'failed half-way');
      }
    },
    isCleanError: (err) => err instanceof BadInputError,
    writes: true,
  };
}
