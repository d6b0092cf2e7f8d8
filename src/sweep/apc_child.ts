/**
 * One apc stage as a child process: the same Node, the CLI main from this build (tsx for sources),
 * one wasm thread, output appended to a log file, and a watch that ends the child when its parent
 * dies (`exit_with_parent.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const MAIN = fileURLToPath(new URL(`../cli/main${EXT}`, import.meta.url));
const PRELOAD = new URL(`./exit_with_parent${EXT}`, import.meta.url).href;

export interface ApcChildOptions {
  /** Log file the child's stdout and stderr are appended to. */
  readonly log: string;
  /** `--backend` of the parent, passed on (else APC_BACKEND or apc's default applies). */
  readonly backend?: string;
  /** Extra environment on top of the parent's and APC_WASM_THREADS=1 (one wasm thread per child: the pool is the parallelism). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ApcChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnApc(args: readonly string[], opts: ApcChildOptions): ApcChild {
  mkdirSync(dirname(opts.log), { recursive: true });
  const fd = openSync(opts.log, 'a');
  writeSync(fd, `\n=== ${new Date().toISOString()} · apc ${args.join(' ')}\n`);
  const argv = [...(EXT === '.ts' ? ['--import', 'tsx'] : []), '--import', PRELOAD, MAIN, ...(opts.backend ? ['--backend', opts.backend] : []), ...args];
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, argv, { stdio: ['ignore', fd, fd], env: { ...process.env, APC_WASM_THREADS: '1', APC_EXIT_WITH_PARENT: String(process.pid), ...opts.env } });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', () => resolve({ code: null, signal: null }));
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited };
}

/** The last `lines` lines of a log, for an error report. */
export async function logTail(path: string, lines = 5): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
