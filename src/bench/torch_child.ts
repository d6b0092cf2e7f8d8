/**
 * The PyTorch side of `npm run bench -- --vs-torch`: a long-lived `bench/torch_bench.py` child
 * that takes one JSON command per line on stdin and answers one JSON line on stdout, so the bench
 * can alternate apc and PyTorch repetitions on the same CPU.
 *
 * The child runs Debian's python3-torch under Debian's own interpreter (`/usr/bin/python3`; a
 * pyenv/venv `python3` earlier on PATH would not see it), or `APC_TORCH_PYTHON`. When torch is
 * missing the error says how to install it (`npm run bench:setup`, non-interactive apt-get).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { VggConfig } from '../models/vgg_config.js';
import type { GraphSpec } from '../models/graph/graph_spec.js';

export type TorchRow = 'teacher_step' | 'kd_step' | 'kdwcam_ref_step' | 'kdwcam_lean_step' | 'gradcam' | 'forward' | `graph_step:${string}` | `graph_forward:${string}`;

export interface TorchInfo {
  torch: string;
  threads: number;
  mkldnn: boolean;
  python: string;
}

/** Repository root (this file is src/bench/ or dist/bench/). */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function torchPython(): string {
  return process.env.APC_TORCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** The torch version importable by `torchPython()`, or undefined. */
export function torchVersion(python = torchPython()): string | undefined {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export class TorchChild {
  private constructor(
    private readonly proc: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
    private readonly pending: ((line: string) => void)[],
    private readonly stderr: string[],
  ) {}

  static start(): TorchChild {
    const python = torchPython();
    if (!torchVersion(python)) {
      throw new Error(`--vs-torch: PyTorch is not importable by ${python}; install it with \`npm run bench:setup\` `
        + '(runs `apt-get install -y python3-torch` non-interactively; needs root) or set APC_TORCH_PYTHON');
    }
    const script = join(repoRoot(), 'bench', 'torch_bench.py');
    if (!existsSync(script)) throw new Error(`--vs-torch: ${script} is missing`);
    // One OpenMP team of the requested size; no busy-waiting between calls (the apc side runs
    // in between and would otherwise compete with spinning torch threads).
    const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', PYTHONUNBUFFERED: '1' };
    const proc = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const pending: ((line: string) => void)[] = [];
    const stderr: string[] = [];
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => { stderr.push(d); if (stderr.length > 50) stderr.shift(); });
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (l) => pending.shift()?.(l));
    proc.on('exit', (code) => {
      for (const p of pending.splice(0)) p(JSON.stringify({ ok: false, error: `torch child exited (${code}): ${stderr.join('').slice(-500)}` }));
    });
    return new TorchChild(proc, lines, pending, stderr);
  }

  private request(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolveReply, reject) => {
      this.pending.push((line) => {
        try {
          const r = JSON.parse(line) as Record<string, unknown>;
          if (r.ok !== true) reject(new Error(`torch: ${String(r.error)}`));
          else resolveReply(r);
        } catch {
          reject(new Error(`torch child wrote '${line.slice(0, 200)}'`));
        }
      });
      this.proc.stdin.write(JSON.stringify(msg) + '\n');
    });
  }

  async init(teacher: VggConfig, student: VggConfig, batch: number, threads: number): Promise<TorchInfo> {
    const r = await this.request({ op: 'init', teacher, student, batch, threads, seed: 0 });
    return { torch: String(r.torch), threads: Number(r.threads), mkldnn: Boolean(r.mkldnn), python: torchPython() };
  }

  /**
   * Builds apc graphs (ResNet, MobileNetV2 …) in PyTorch from their JSON for the `graph_step:NAME`
   * and `graph_forward:NAME` rows; returns PyTorch's parameter count of each.
   */
  async initGraphs(graphs: Record<string, { spec: GraphSpec; shapes: Record<string, readonly number[]> }>, batch: number): Promise<Record<string, number>> {
    const r = await this.request({ op: 'init_graphs', graphs, batch });
    return r.params as Record<string, number>;
  }

  /** Wall times (ms) of `iters` consecutive calls of one row. */
  async run(what: TorchRow, iters = 1): Promise<number[]> {
    const r = await this.request({ op: 'run', what, iters });
    return r.ms as number[];
  }

  async close(): Promise<void> {
    try {
      await this.request({ op: 'quit' });
    } catch { /* already gone */ }
    this.lines.close();
    this.proc.stdin.end();
  }
}
