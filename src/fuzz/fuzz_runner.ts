/**
 * The watchdog side of the fuzz harness: runs a surface's cases in a worker thread (fuzz_worker.ts)
 * and, when a case does not finish within `caseTimeoutMs`, terminates the worker, records a hang
 * for that case and starts a new worker at the next case. A worker that dies (out of heap, native
 * crash) is recorded the same way, as excessive memory or a crash of the case that was running.
 */
import { Worker } from 'node:worker_threads';
import type { CaseResult, Outcome } from './surface.js';
import { FAILURES, OUTCOMES } from './surface.js';

export interface FuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** A case running longer is a hang. */
  readonly caseTimeoutMs?: number;
  /** Seed building and library loading in a fresh worker. */
  readonly setupTimeoutMs?: number;
  /** V8 heap limit of the worker (MB): exceeding it is excessive memory. */
  readonly heapLimitMb?: number;
}

export interface SurfaceSummary {
  readonly surface: string;
  readonly cases: number;
  readonly counts: Record<Outcome, number>;
  readonly slowest: { ms: number; what: string; index: number };
  /** Every case that failed (crash, hang, memory, partial), for replay. */
  readonly failures: CaseResult[];
  /** Clean error messages with numbers blanked, by count. */
  readonly errorKinds: Record<string, number>;
  readonly seconds: number;
}

type WorkerMessage =
  | { kind: 'start'; index: number; what: string }
  | { kind: 'result'; result: CaseResult }
  | { kind: 'done' }
  | { kind: 'fatal'; message: string };

const WORKER_URL = new URL('./fuzz_worker.ts', import.meta.url).href;

function startWorker(surface: string, seed: number, from: number, to: number, heapLimitMb: number): Worker {
  // Workers do not inherit tsx's loader: a tiny eval'd entry imports the worker through tsx's API.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(WORKER_URL)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(entry, {
    eval: true,
    workerData: { apcFuzz: { surface, seed, from, to } },
    resourceLimits: { maxOldGenerationSizeMb: heapLimitMb },
    // a library printing banners or warnings must not garble the report; failures come back as messages
    stdout: true,
    stderr: true,
  });
}

function errorKind(detail: string): string {
  return detail.replace(/CASE\/?[^\s:,)']*/g, 'FILE').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').replace(/'[^']*'|"[^"]*"/g, '…').slice(0, 90);
}

/** Runs `opts.cases` cases of `surface` (cases 0..N-1 of the seed) under the watchdog. */
export async function fuzzSurface(surface: string, opts: FuzzOptions, onProgress?: (done: number) => void): Promise<SurfaceSummary> {
  const caseTimeoutMs = opts.caseTimeoutMs ?? 20_000;
  const setupTimeoutMs = opts.setupTimeoutMs ?? 180_000;
  const heapLimitMb = opts.heapLimitMb ?? 2048;
  const t0 = Date.now();
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const failures: CaseResult[] = [];
  const errorKinds: Record<string, number> = {};
  let slowest = { ms: 0, what: '', index: -1 };
  let done = 0;
  const record = (r: CaseResult) => {
    counts[r.outcome]++;
    done++;
    if (FAILURES.includes(r.outcome)) failures.push(r);
    if (r.outcome === 'clean-error' && r.detail) {
      const k = errorKind(r.detail);
      errorKinds[k] = (errorKinds[k] ?? 0) + 1;
    }
    if (r.ms > slowest.ms) slowest = { ms: r.ms, what: r.what, index: r.index };
    onProgress?.(done);
  };

  let next = 0;
  while (next < opts.cases) {
    const from = next;
    const worker = startWorker(surface, opts.seed, from, opts.cases, heapLimitMb);
    // resolves with the index to continue from
    next = await new Promise<number>((resolve, reject) => {
      let running: { index: number; what: string; started: number } | undefined;
      let cursor = from;
      let timer = setTimeout(() => fail('hang', `worker set-up took over ${setupTimeoutMs / 1000} s`), setupTimeoutMs);
      const arm = (ms: number, onTimeout: () => void) => {
        clearTimeout(timer);
        timer = setTimeout(onTimeout, ms);
      };
      let settled = false;
      const finish = (value: number | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (value instanceof Error) reject(value);
        else resolve(value);
      };
      function fail(outcome: Outcome, detail: string): void {
        if (settled) return;
        if (!running) {
          finish(new Error(`fuzz worker for ${surface} failed before its first case: ${detail}`));
          return;
        }
        record({ index: running.index, outcome, ms: Date.now() - running.started, what: running.what, detail });
        finish(running.index + 1);
      }
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'start') {
          running = { index: m.index, what: m.what, started: Date.now() };
          arm(caseTimeoutMs, () => fail('hang', `no answer after ${caseTimeoutMs / 1000} s`));
        } else if (m.kind === 'result') {
          record(m.result);
          running = undefined;
          cursor = m.result.index + 1;
          arm(caseTimeoutMs * 3, () => fail('hang', `harness stalled after case ${cursor - 1}`));
        } else if (m.kind === 'done') {
          finish(opts.cases);
        } else {
          finish(new Error(`fuzz worker for ${surface}: ${m.message}`));
        }
      });
      worker.on('error', (e: Error & { code?: string }) => {
        const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY' || /out of memory|heap/i.test(e.message);
        fail(oom ? 'memory' : 'crash', `worker died: ${e.message}`);
      });
      worker.on('exit', (code) => {
        if (!settled) fail('crash', `worker exited with code ${code}`);
      });
    });
  }
  return { surface, cases: done, counts, slowest, failures, errorKinds, seconds: (Date.now() - t0) / 1000 };
}

/** One table row per surface and the worst cases, as `npm run fuzz` prints them. */
export function formatSummaries(summaries: readonly SurfaceSummary[]): string {
  const head = ['surface', 'cases', 'ok', 'clean errors', 'crashes', 'hangs', 'memory', 'partial', 'slowest ms', 's'];
  const rows = summaries.map((s) => [s.surface, s.cases, s.counts.ok, s.counts['clean-error'], s.counts.crash, s.counts.hang, s.counts.memory,
    s.counts.partial, s.slowest.ms.toFixed(0), s.seconds.toFixed(1)].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(head), ...rows.map(line)];
  for (const s of summaries) {
    if (s.slowest.index >= 0) out.push(`${s.surface}: slowest case ${s.slowest.index} (${s.slowest.ms.toFixed(0)} ms): ${s.slowest.what.slice(0, 160)}`);
    for (const f of s.failures.slice(0, 10)) out.push(`${s.surface}: ${f.outcome.toUpperCase()} case ${f.index}: ${f.what.slice(0, 200)} → ${f.detail ?? ''}`);
    if (s.failures.length > 10) out.push(`${s.surface}: … ${s.failures.length - 10} more failures`);
  }
  return out.join('\n');
}
