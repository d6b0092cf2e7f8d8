/**
 * Runs the apc CLI from source (tsx) on the wasm backend with one thread, as the CLI tests do;
 * not a test file itself (no `_test` suffix).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

export function apc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, APC_BACKEND: 'wasm', APC_WASM_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
