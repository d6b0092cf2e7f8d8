/**
 * The watchdog side of the fuzz harness: runs the surfaces' cases in a worker thread (fuzz_worker.ts)
 * and, when a case does not finish within `caseTimeoutMs`, terminates the worker, records a hang
 * for that case and starts a new worker at the next case. A worker that dies (out of heap, native
 * crash) is recorded the same way, as excessive memory or a crash of the case that was running.
 */
import { Worker } from 'node:worker_threads';
import type { CaseRange } from './case_worker.js';
import type { CaseResult, Outcome } from './surface.js';
import { FAILURES, OUTCOMES } from './surface.js';

export interface FuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** First case index (default 0): `{ first: i, cases: 1 }` replays case i. */
  readonly first?: number;
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
  | { kind: 'setup'; surface: string }
  | { kind: 'start'; surface: string; index: number; what: string }
  | { kind: 'result'; surface: string; result: CaseResult }
  | { kind: 'done' }
  | { kind: 'fatal'; message: string };

const WORKER_URL = new URL('./fuzz_worker.ts', import.meta.url).href;

function startWorker(jobs: CaseRange[], heapLimitMb: number): Worker {
  // Workers do not inherit tsx's loader: a tiny eval'd entry imports the worker through tsx's API.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(WORKER_URL)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(entry, {
    eval: true,
    workerData: { apcFuzz: jobs },
    resourceLimits: { maxOldGenerationSizeMb: heapLimitMb },
    // a library printing banners or warnings must not garble the report; failures come back as messages
    stdout: true,
    stderr: true,
  });
}

function errorKind(detail: string): string {
  return detail.replace(/CASE\/?[^\s:,)']*/g, 'FILE').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').replace(/'[^']*'|"[^"]*"/g, '…').slice(0, 90);
}

class SummaryBuilder {
  readonly counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  readonly failures: CaseResult[] = [];
  readonly errorKinds: Record<string, number> = {};
  slowest = { ms: 0, what: '', index: -1 };
  done = 0;
  ms = 0;
  constructor(readonly surface: string) {}

  record(r: CaseResult): void {
    this.counts[r.outcome]++;
    this.done++;
    if (FAILURES.includes(r.outcome)) this.failures.push(r);
    if (r.outcome === 'clean-error' && r.detail) {
      const k = errorKind(r.detail);
      this.errorKinds[k] = (this.errorKinds[k] ?? 0) + 1;
    }
    if (r.ms > this.slowest.ms) this.slowest = { ms: r.ms, what: r.what, index: r.index };
  }

  summary(): SurfaceSummary {
    return { surface: this.surface, cases: this.done, counts: this.counts, slowest: this.slowest, failures: this.failures, errorKinds: this.errorKinds, seconds: this.ms / 1000 };
  }
}

/**
 * Runs cases first..first+N-1 of every surface in `surfaces` (N = `opts.cases`) in one worker thread under
 * the watchdog; after a hang or a dead worker, a new worker continues with the next case.
 */
export async function fuzzSurfaces(surfaces: readonly string[], opts: FuzzOptions,
  onProgress?: (surface: string, done: number) => void): Promise<SurfaceSummary[]> {
  const caseTimeoutMs = opts.caseTimeoutMs ?? 20_000;
  const setupTimeoutMs = opts.setupTimeoutMs ?? 180_000;
  const heapLimitMb = opts.heapLimitMb ?? 2048;
  const builders = new Map(surfaces.map((s) => [s, new SummaryBuilder(s)]));
  const first = opts.first ?? 0;
  let pending: CaseRange[] = surfaces.map((surface) => ({ surface, seed: opts.seed, from: first, to: first + opts.cases }));

  while (pending.length > 0) {
    const jobs = pending;
    const worker = startWorker(jobs, heapLimitMb);
    // resolves with the work left after this worker
    pending = await new Promise<CaseRange[]>((resolve, reject) => {
      let running: { surface: string; index: number; what: string; started: number } | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let sliceStart = Date.now();
      const arm = (ms: number, onTimeout: () => void) => {
        clearTimeout(timer);
        timer = setTimeout(onTimeout, ms);
      };
      const finish = (value: CaseRange[] | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (value instanceof Error) reject(value);
        else resolve(value);
      };
      const fail = (outcome: Outcome, detail: string) => {
        if (settled) return;
        if (!running) {
          finish(new Error(`fuzz worker failed outside a case: ${detail}`));
          return;
        }
        const b = builders.get(running.surface)!;
        b.record({ index: running.index, outcome, ms: Date.now() - running.started, what: running.what, detail });
        b.ms += Date.now() - sliceStart;
        const k = jobs.findIndex((j) => j.surface === running!.surface);
        const rest = [{ ...jobs[k], from: running.index + 1 }, ...jobs.slice(k + 1)].filter((j) => j.from < j.to);
        finish(rest);
      };
      arm(setupTimeoutMs, () => fail('hang', `worker set-up took over ${setupTimeoutMs / 1000} s`));
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'setup') {
          sliceStart = Date.now();
          arm(setupTimeoutMs, () => fail('hang', `building the ${m.surface} seeds took over ${setupTimeoutMs / 1000} s`));
        } else if (m.kind === 'start') {
          running = { surface: m.surface, index: m.index, what: m.what, started: Date.now() };
          arm(caseTimeoutMs, () => fail('hang', `no answer after ${caseTimeoutMs / 1000} s`));
        } else if (m.kind === 'result') {
          const b = builders.get(m.surface)!;
          b.record(m.result);
          running = undefined;
          if (m.result.index === jobs.find((j) => j.surface === m.surface)!.to - 1) {
            b.ms += Date.now() - sliceStart;
            sliceStart = Date.now();
          }
          onProgress?.(m.surface, b.done);
          arm(caseTimeoutMs * 3, () => fail('hang', `the harness stalled after ${m.surface} case ${m.result.index}`));
        } else if (m.kind === 'done') {
          finish([]);
        } else {
          finish(new Error(`fuzz worker: ${m.message}`));
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
  return surfaces.map((s) => builders.get(s)!.summary());
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
