/**
 * Progress display: a cli-progress bar (loss, metric, step time, ETA) on a terminal; on a
 * non-terminal (CI, pipes) a plain line every ~10 % so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields: Record<string, string | number>): void;
  stop(summary?: string): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Write to this stream (default stderr); quiet disables output. */
  quiet?: boolean;
}

function formatFields(fields: Record<string, string | number>): string {
  return Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3)) : v}`).join(' · ');
}

export function createProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return { update() {}, stop() {} };
  const started = Date.now();
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${opts.label} {bar} {value}/{total} · {fields} · ETA {eta_formatted}`,
      hideCursor: true, clearOnComplete: false, etaBuffer: 50, stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    bar.start(opts.total, 0, { fields: '' });
    return {
      update(done, fields) { bar.update(done, { fields: formatFields(fields) }); },
      stop(summary) { bar.stop(); if (summary) process.stderr.write(`${summary}\n`); },
    };
  }
  let nextReport = 0;
  return {
    update(done, fields) {
      if (done < nextReport && done !== opts.total) return;
      nextReport = done + Math.max(1, Math.ceil(opts.total / 10));
      const elapsed = (Date.now() - started) / 1000;
      const eta = done > 0 ? (elapsed / done) * (opts.total - done) : NaN;
      process.stderr.write(`${opts.label} ${done}/${opts.total} · ${formatFields(fields)} · ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}\n`);
    },
    stop(summary) { if (summary) process.stderr.write(`${summary}\n`); },
  };
}
