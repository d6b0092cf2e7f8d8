/**
 * Worker-thread entry of the fuzz harness: runs the case ranges fuzz_runner.ts asks for, surface
 * after surface, and posts `setup` before building a surface's seeds, `start` before and `result`
 * after each case.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CaseRange, runCaseRange } from './case_worker.js';
import { surfaceByName } from './surfaces.js';

const jobs = (workerData as { apcFuzz?: CaseRange[] } | undefined)?.apcFuzz;
if (parentPort && jobs) {
  const port = parentPort;
  try {
    for (const range of jobs) {
      port.postMessage({ kind: 'setup', surface: range.surface });
      const surface = await surfaceByName(range.surface);
      await runCaseRange(surface, range, {
        start: (index, what) => port.postMessage({ kind: 'start', surface: range.surface, index, what }),
        result: (result) => port.postMessage({ kind: 'result', surface: range.surface, result }),
      });
    }
    port.postMessage({ kind: 'done' });
  } catch (err) {
    port.postMessage({ kind: 'fatal', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
}
