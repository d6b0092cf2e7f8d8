/**
 * Worker-thread entry of the fuzz harness: runs the case range fuzz_runner.ts asks for and posts
 * a `start` before and a `result` after each case.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CaseRange, runCaseRange } from './case_worker.js';
import { surfaceByName } from './surfaces.js';

const range = (workerData as { apcFuzz?: CaseRange } | undefined)?.apcFuzz;
if (parentPort && range) {
  const port = parentPort;
  try {
    const surface = await surfaceByName(range.surface);
    await runCaseRange(surface, range, {
      start: (index, what) => port.postMessage({ kind: 'start', index, what }),
      result: (result) => port.postMessage({ kind: 'result', result }),
    });
    port.postMessage({ kind: 'done' });
  } catch (err) {
    port.postMessage({ kind: 'fatal', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
}
