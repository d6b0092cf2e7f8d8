/**
 * Grid → stage jobs. A job is one `apc train`, `apc compress` or `apc evaluate` run; its key is the
 * hash of its canonical config (which names the keys of the jobs it reads from), so a teacher that
 * many compressions share is one job, and β = 0 is the same job as no matching. Artifacts live at
 * absolute paths under the sweep's output directory, which every worker must reach.
 */
import { join, resolve } from 'node:path';
import { archFamily } from '../models/model_config.js';
import { type StudyPreset, DEFAULT_BETA, STUDY_PRESETS } from '../pipeline/run_study.js';
import type { SweepGrid } from './grid.js';
import { jobKey } from './job_key.js';

export type StageKind = 'teacher' | 'compress' | 'evaluate';

/** What a result row describes, seed aside: the unit the statistics average over seeds. */
export interface RowConfig {
  readonly dataset: string;
  /** The teacher's input size when the grid sets one (absent: the dataset's own). */
  readonly imageSize?: number;
  readonly arch: string;
  /** 'none' for the teacher itself. */
  readonly compression: 'none' | 'kd' | 'structured' | 'unstructured';
  /** 'none' whenever β = 0. */
  readonly match: 'none' | 'ewa' | 'wcam';
  readonly beta: number;
  readonly stochastic: number;
  /** Pruning rate and rounds (structured p, unstructured per-round r). */
  readonly rate?: number;
  readonly rounds?: number;
}

export interface SweepJob {
  readonly key: string;
  readonly stage: StageKind;
  /** The hashed config: everything that changes what the stage computes. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Keys of the jobs whose artifacts this one reads. */
  readonly deps: readonly string[];
  /** apc arguments (after the main script), with absolute paths. */
  readonly args: readonly string[];
  /** Where the stage writes (train/compress output directory; evaluate: its JSON's folder). */
  readonly artifactDir: string;
  /** train/compress: the checkpoint later stages read; evaluate: the evaluation JSON. */
  readonly product: string;
  /** Evaluation jobs: the row and seed they measure. */
  readonly row?: RowConfig;
  readonly seed?: number;
}

export interface SweepLayout {
  /** Absolute sweep root (`--out`). */
  readonly root: string;
  artifact(stage: StageKind, key: string): string;
  record(key: string): string;
  log(key: string): string;
}

export function sweepLayout(out: string): SweepLayout {
  const root = resolve(out);
  return {
    root,
    artifact: (stage, key) => join(root, stage, key),
    record: (key) => join(root, 'jobs', `${key}.json`),
    log: (key) => join(root, 'logs', `${key}.log`),
  };
}

function presetOf(name: string): StudyPreset {
  const p = STUDY_PRESETS[name];
  if (!p) throw new Error(`sweep: preset '${name}' is unknown; use one of ${Object.keys(STUDY_PRESETS).join(', ')}`);
  return p;
}

/** Flags shared by compress jobs of a method: its schedule from the preset (and grid overrides). */
function compressionSchedule(preset: StudyPreset, family: ReturnType<typeof archFamily>, method: RowConfig['compression'], rate: number | undefined, grid: SweepGrid) {
  const sized = preset.families?.[family] ?? {};
  if (method === 'kd') {
    const s = { ...preset.student, ...sized.student };
    return { width: s.width, epochs: grid.epochs ?? s.recipe.epochs, trainLimit: grid.trainLimit ?? s.recipe.trainLimit };
  }
  const prune = { ...preset.prune, ...sized.prune };
  const p = method === 'structured' ? prune.structured : prune.unstructured;
  if (!p) return undefined;
  return { rate: rate ?? p.rate, rounds: p.rounds, epochs: grid.epochs ?? p.recipe.epochs, trainLimit: grid.trainLimit ?? p.recipe.trainLimit };
}

const opt = (flag: string, v: number | string | undefined): string[] => (v === undefined ? [] : [flag, String(v)]);

/**
 * Every job of the grid, dependencies first, each key once. Per dataset × arch × seed: a teacher
 * and its evaluation; per compression point: the compression and its evaluation against the teacher.
 */
export function expandGrid(grid: SweepGrid, layout: SweepLayout): SweepJob[] {
  const preset = presetOf(grid.preset);
  const jobs = new Map<string, SweepJob>();
  const add = (j: SweepJob) => { if (!jobs.has(j.key)) jobs.set(j.key, j); return j; };
  const methods = grid.attribution ?? [...preset.methods];
  const testLimit = grid.testLimit ?? preset.testLimit;
  const betas = grid.betas ?? [preset.prune?.beta ?? DEFAULT_BETA];

  const evaluation = (model: SweepJob, teacher: SweepJob | undefined, row: RowConfig, seed: number): SweepJob => {
    const config = { stage: 'evaluate', model: model.key, teacher: teacher?.key, attribution: methods, limit: testLimit };
    const key = jobKey(config);
    const dir = layout.artifact('evaluate', key);
    const product = join(dir, 'evaluation.json');
    return add({ key, stage: 'evaluate', config, deps: teacher ? [model.key, teacher.key] : [model.key], artifactDir: dir, product, row, seed,
      args: ['evaluate', '--model', model.product, ...(teacher ? ['--teacher', teacher.product] : []), '--attribution', methods.join(','),
        ...opt('--limit', testLimit), '--json', product] });
  };

  // only when set, so the keys of grids without it stay what they were
  const inputSize = grid.imageSize === undefined ? {} : { imageSize: grid.imageSize };
  for (const dataset of grid.datasets) {
    for (const arch of grid.archs ?? [preset.teacher.arch]) {
      const family = archFamily(arch);
      const t = { ...preset.teacher, ...preset.families?.[family]?.teacher };
      for (const seed of grid.seeds) {
        const tConfig = { stage: 'teacher', dataset, ...inputSize, arch, width: t.width, epochs: grid.epochs ?? t.recipe.epochs, trainLimit: grid.trainLimit ?? t.recipe.trainLimit, seed };
        const tKey = jobKey(tConfig);
        const tDir = layout.artifact('teacher', tKey);
        const teacher = add({ key: tKey, stage: 'teacher', config: tConfig, deps: [], artifactDir: tDir, product: join(tDir, 'best'),
          args: ['train', '--data', dataset, ...opt('--image-size', grid.imageSize), '--arch', arch, '--width', String(t.width), ...opt('--epochs', tConfig.epochs),
            ...opt('--train-limit', tConfig.trainLimit), '--seed', String(seed), '--out', tDir, '--resume', '--quiet'] });
        evaluation(teacher, undefined, { dataset, ...inputSize, arch, compression: 'none', match: 'none', beta: 0, stochastic: 0 }, seed);

        for (const method of grid.compressions) {
          for (const rate of method === 'kd' ? [undefined] : grid.rates ?? [undefined]) {
            const sched = compressionSchedule(preset, family, method, rate, grid);
            if (!sched) continue; // the preset has no such pruning stage
            for (const matchAsked of grid.matches) {
              for (const betaAsked of matchAsked === 'none' ? [0] : betas) {
                for (const stochAsked of matchAsked === 'none' ? [0] : grid.stochastic) {
                  // β = 0 (or no matching) is one job whatever the other matching settings say
                  const off = matchAsked === 'none' || betaAsked === 0;
                  const match = off ? 'none' : matchAsked;
                  const beta = off ? 0 : betaAsked;
                  const stochastic = off ? 0 : stochAsked;
                  const cConfig = { stage: 'compress', teacher: tKey, method, match, beta, stochastic, ...sched, seed };
                  const cKey = jobKey(cConfig);
                  const cDir = layout.artifact('compress', cKey);
                  const rounds = 'rounds' in sched ? sched.rounds : undefined;
                  const best = method === 'unstructured' || (rounds ?? 1) > 1 ? join(cDir, `round-${rounds}`, 'best') : join(cDir, 'best');
                  const compressed = add({ key: cKey, stage: 'compress', config: cConfig, deps: [tKey], artifactDir: cDir, product: best,
                    args: ['compress', '--teacher', teacher.product, '--method', method, '--match', match, ...(off ? [] : ['--beta', String(beta), '--stochastic', String(stochastic)]),
                      ...opt('--width', 'width' in sched ? sched.width : undefined), ...opt('--rate', 'rate' in sched ? sched.rate : undefined), ...opt('--rounds', rounds),
                      ...opt('--epochs', sched.epochs), ...opt('--train-limit', sched.trainLimit), '--seed', String(seed), '--out', cDir, '--resume', '--quiet'] });
                  const row: RowConfig = { dataset, ...inputSize, arch, compression: method, match, beta, stochastic,
                    ...(method === 'kd' ? {} : { rate: 'rate' in sched ? sched.rate : undefined, rounds }) };
                  evaluation(compressed, teacher, row, seed);
                }
              }
            }
          }
        }
      }
    }
  }
  return [...jobs.values()];
}
