/**
 * Memory figures for `npm run bench`: the peak RSS of an `apc run` child (`--preset smoke` by default;
 * `--rss-preset quick` is exactly `npm start`'s job, ≈ 12 min on 2 idle cores), and
 * an in-process check that the tensor count and RSS stay flat across training epochs (fit with a
 * KD + WCAM objective, so teacher targets, dropout masks and matching tensors are all exercised).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressionObjective } from '../compress/objective.js';
import { openDataset } from '../data/registry.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { fit } from '../train/fit.js';
import { repoRoot } from './torch_child.js';

export interface StudyRss {
  preset: StudyRssPreset;
  ok: boolean;
  seconds: number;
  /** Peak resident set of the child, MB (process.resourceUsage().maxRSS). */
  maxRssMb?: number;
  note?: string;
}

export const STUDY_RSS_PRESETS = ['smoke', 'quick'] as const;
export type StudyRssPreset = typeof STUDY_RSS_PRESETS[number];

/** Runs `apc run --preset P` (built CLI, fresh output folder) in a child and reports its peak RSS. */
export async function studyRunRss(preset: StudyRssPreset = 'smoke', timeoutMs = (preset === 'smoke' ? 15 : 60) * 60_000): Promise<StudyRss> {
  const cli = join(repoRoot(), 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) return { preset, ok: false, seconds: 0, note: `${cli} missing (npm run build)` };
  const out = mkdtempSync(join(tmpdir(), `apc-${preset}-`));
  // Preload that reports the child's own peak RSS when it exits.
  const preload = 'data:text/javascript,process.on("exit",()=>process.stderr.write("APC_MAXRSS_KB="+process.resourceUsage().maxRSS+"\\n"))';
  const t0 = performance.now();
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', preload, cli, 'run', '--preset', preset, '--out', out, '--quiet'],
        { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
      let err = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => { err += d; if (err.length > 20_000) err = err.slice(-10_000); });
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.on('exit', (c) => { clearTimeout(timer); resolve({ code: c, stderr: err }); });
    });
    const m = /APC_MAXRSS_KB=(\d+)/.exec(stderr);
    const seconds = (performance.now() - t0) / 1000;
    return { preset, ok: code === 0, seconds, maxRssMb: m ? Number(m[1]) / 1024 : undefined,
      note: code === 0 ? undefined : `exit ${code}: ${stderr.trim().split('\n').slice(-2).join(' / ')}` };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export interface EpochMemory {
  epoch: number;
  tensors: number;
  rssMb: number;
  /** Bytes held by tensors (tf.memory().numBytes), MB. */
  tensorMb: number;
}

/**
 * `epochs` short epochs of KD + WCAM distillation on shapes; tensor count and RSS after each.
 * `flat` when the tensor count never changes after the first epoch.
 */
export async function epochMemoryCheck(epochs = 4, trainLimit = 64, batchSize = 16): Promise<{ rows: EpochMemory[]; flat: boolean; rssGrowthMb: number }> {
  const data = openDataset('shapes');
  const teacher = GraphNet.create(vggPreset({ arch: 'vgg16', width: 8, imageSize: 64, numClasses: data.info.classNames.length }), 1);
  const student = GraphNet.create(vggPreset({ arch: 'vgg16', width: 16, imageSize: 64, numClasses: data.info.classNames.length }), 2);
  const rows: EpochMemory[] = [];
  try {
    const objective = compressionObjective({ teacher, kd: { alpha: 0.9, temperature: 4 }, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }) });
    await fit(student, objective, {
      data, epochs, batchSize, seed: 0, trainLimit, lrMilestones: [], quiet: true,
      sgd: { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
      selectBy: 'epoch',
      evaluate: (_net, epoch) => {
        const m = tf.memory();
        rows.push({ epoch, tensors: m.numTensors, rssMb: process.memoryUsage().rss / 2 ** 20, tensorMb: m.numBytes / 2 ** 20 });
        return { epoch };
      },
    });
  } finally {
    teacher.dispose();
    student.dispose();
  }
  const flat = rows.every((r) => r.tensors === rows[0].tensors);
  return { rows, flat, rssGrowthMb: rows.length > 1 ? rows[rows.length - 1].rssMb - rows[1].rssMb : 0 };
}
