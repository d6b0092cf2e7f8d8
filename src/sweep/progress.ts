/** Sweep progress: jobs done / running / failed, and an ETA from the finished jobs' durations per stage. */
import type { StageKind, SweepJob } from './jobs.js';

export class SweepProgress {
  private readonly stageOf = new Map<string, StageKind>();
  private readonly running = new Set<string>();
  private readonly finished = new Set<string>();
  private readonly failedKeys = new Set<string>();
  /** Seconds of jobs run in this sweep (not the ones found finished), per stage. */
  private readonly seconds: Record<StageKind, number[]> = { teacher: [], compress: [], evaluate: [] };
  private readonly started = Date.now();

  constructor(jobs: readonly SweepJob[], private readonly slots: number) {
    for (const j of jobs) this.stageOf.set(j.key, j.stage);
  }

  start(key: string): void { this.running.add(key); }
  /** `seconds` undefined: found already finished. */
  done(key: string, seconds?: number): void {
    this.running.delete(key);
    this.finished.add(key);
    const stage = this.stageOf.get(key);
    if (seconds !== undefined && stage) this.seconds[stage].push(seconds);
  }
  failed(key: string): void { this.running.delete(key); this.failedKeys.add(key); }

  get counts() {
    const total = this.stageOf.size;
    return { total, done: this.finished.size, running: this.running.size, failed: this.failedKeys.size,
      pending: total - this.finished.size - this.running.size - this.failedKeys.size };
  }

  /** Seconds left: the unfinished jobs' mean stage durations spread over the slots; undefined before any timing. */
  etaSeconds(): number | undefined {
    const all = Object.values(this.seconds).flat();
    if (!all.length) return undefined;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : all.reduce((s, x) => s + x, 0) / all.length);
    let work = 0;
    for (const [key, stage] of this.stageOf) {
      if (!this.finished.has(key) && !this.failedKeys.has(key)) work += mean(this.seconds[stage]) * (this.running.has(key) ? 0.5 : 1);
    }
    return work / Math.max(1, this.slots);
  }

  line(): string {
    const c = this.counts;
    const eta = this.etaSeconds();
    const elapsed = (Date.now() - this.started) / 1000;
    return `sweep: ${c.done}/${c.total} done · ${c.running} running · ${c.failed} failed · ${c.pending} waiting · ${formatDuration(elapsed)} elapsed`
      + (c.done + c.failed < c.total ? ` · ETA ${eta === undefined ? '–' : formatDuration(eta)}` : '');
  }
}

export function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')} min`;
}
