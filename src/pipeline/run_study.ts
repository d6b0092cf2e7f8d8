/**
 * `apc run`: the whole study on one dataset. Trains (or reuses) the teacher, compresses it with
 * every configured variant, evaluates all models on the test split with the selected attribution
 * methods, and writes `OUT/results.json`. Every stage checkpoints, so an interrupted run resumes.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { currentBackend } from '../engine/backend.js';
import { type MatchingConfig, parseMatchingConfig } from '../matching/matching_term.js';
import type { VggNet } from '../models/vgg.js';
import { vggParamCount, vggPreset } from '../models/vgg_config.js';
import { APC_VERSION } from '../version.js';
import { distill, type KdRecipe, SHAPES_KD_RECIPE } from './compress.js';
import { computePairMaps, evaluateModel, maskPairs, type ModelEvaluation, type PairMaps } from './evaluate_model.js';
import { SHAPES_TEACHER_DROPOUT, SHAPES_TEACHER_RECIPE, trainTeacher } from './train_teacher.js';
import { type TrainRecipe, withEpochs } from './train_to_checkpoints.js';

export interface StudyVariant {
  /** Row name in results.json, e.g. 'kd+wcam'. */
  readonly name: string;
  readonly compression: 'kd';
  readonly matching: MatchingConfig;
}

export interface StudyPreset {
  readonly name: string;
  readonly teacher: { arch: string; width: number; recipe: TrainRecipe };
  readonly student: { width: number; recipe: KdRecipe };
  readonly variants: readonly StudyVariant[];
  /** Attribution methods evaluated on every model. */
  readonly methods: readonly string[];
  /** Test images evaluated (undefined = the whole split). */
  readonly testLimit?: number;
}

const v = (name: string, raw: Record<string, unknown>): StudyVariant => ({ name, compression: 'kd', matching: parseMatchingConfig(raw) });

/**
 * β for matching on the 64×64 presets, chosen by a sweep on shapes (README): at the 4×4 matched
 * layer the paper's β = 100 lets L_AM dominate the loss (val mAP 29.9 vs 37.8 for plain KD),
 * β = 10 gave 46.0 and β = 1 gave 51.6 with similar teacher agreement.
 */
export const DEFAULT_BETA = 1;

export function kdVariants(beta = DEFAULT_BETA): StudyVariant[] {
  return [
    v('kd', { kind: 'none', beta: 0 }),
    v('kd+ewa', { kind: 'ewa', beta }),
    v('kd+wcam', { kind: 'swa', beta }),
    v('kd+wcam+stochastic', { kind: 'swa', beta, stochastic: 0.3 }),
  ];
}

export const STUDY_PRESETS: Record<string, StudyPreset> = {
  quick: {
    name: 'quick',
    // Sized for ≤ 15 minutes on 2 cores (see README): a /8 teacher and /16 students.
    teacher: { arch: 'vgg16', width: 8, recipe: withEpochs(SHAPES_TEACHER_RECIPE, 6) },
    student: { width: 16, recipe: withEpochs(SHAPES_KD_RECIPE, 2) },
    variants: kdVariants(),
    methods: ['gradcam'],
    testLimit: 300,
  },
  /** Seconds-long end-to-end check (tests, CI): tiny data, one epoch each. */
  smoke: {
    name: 'smoke',
    teacher: { arch: 'vgg16', width: 8, recipe: { ...withEpochs(SHAPES_TEACHER_RECIPE, 1), trainLimit: 128, valLimit: 64 } },
    student: { width: 16, recipe: { ...withEpochs(SHAPES_KD_RECIPE, 1), trainLimit: 128, valLimit: 64 } },
    variants: kdVariants(),
    methods: ['gradcam'],
    testLimit: 24,
  },
  full: {
    name: 'full',
    teacher: { arch: 'vgg16', width: 4, recipe: withEpochs(SHAPES_TEACHER_RECIPE, 30) },
    student: { width: 8, recipe: withEpochs(SHAPES_KD_RECIPE, 30) },
    variants: kdVariants(),
    methods: ['gradcam', 'lrp', 'rap', 'ebp', 'ig', 'smoothgrad', 'gradxinput'],
  },
};

export interface ResultRow {
  name: string;
  compression: string;
  match: string;
  beta: number;
  stochastic: number;
  params: number;
  mAP: number;
  f1: number;
  prediction: Record<string, number>;
  attribution: Record<string, {
    auc: number; pointing: number; nCounted: number; nMissed: number;
    agreement: { cosine: number; spearman: number; topkIoU: number; n: number };
  }>;
  checkpoint: string;
  trainSeconds: number;
}

export interface StudyResults {
  dataset: string;
  split: string;
  preset: string;
  seed: number;
  apc: string;
  backend: string | undefined;
  models: ResultRow[];
  stages: { name: string; seconds: number }[];
}

export interface RunStudyOptions {
  data: Dataset;
  preset: StudyPreset;
  seed: number;
  outDir: string;
  quiet?: boolean;
  /** Called after each stage with a one-line summary. */
  log?: (line: string) => void;
}

function row(name: string, compression: string, matching: MatchingConfig | undefined, net: VggNet, ev: ModelEvaluation, checkpoint: string, trainSeconds: number): ResultRow {
  const attribution: ResultRow['attribution'] = {};
  for (const [m, e] of Object.entries(ev.attribution)) {
    attribution[m] = {
      auc: e.auc, pointing: e.pointing, nCounted: e.localization.nCounted, nMissed: e.localization.nMissed,
      agreement: e.agreement ? { cosine: e.agreement.cosine, spearman: e.agreement.spearman, topkIoU: e.agreement.topkIoU, n: e.agreement.n }
        : { cosine: 1, spearman: 1, topkIoU: 1, n: e.localization.nCounted },
    };
  }
  return {
    name, compression, match: matching?.kind === 'swa' ? 'wcam' : matching?.kind ?? 'none', beta: matching?.beta ?? 0,
    stochastic: matching?.stochastic ?? 0, params: vggParamCount(net.config), mAP: ev.mAP, f1: ev.f1,
    prediction: ev.prediction, attribution, checkpoint, trainSeconds,
  };
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2));
  await rename(tmp, path);
}

export async function runStudy(opts: RunStudyOptions): Promise<StudyResults> {
  const { data, preset, seed, outDir } = opts;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  await mkdir(outDir, { recursive: true });
  const stages: StudyResults['stages'] = [];
  const K = data.info.classNames.length;
  const imageSize = data.info.height;

  const teacherConfig = vggPreset({ arch: preset.teacher.arch, width: preset.teacher.width, imageSize, numClasses: K, dropout: SHAPES_TEACHER_DROPOUT });
  const t = await trainTeacher({ data, config: teacherConfig, recipe: preset.teacher.recipe, seed, outDir: join(outDir, 'teacher'), resume: true, quiet: opts.quiet });
  stages.push({ name: 'teacher', seconds: t.seconds });
  log(`teacher: val mAP ${t.val.mAP?.toFixed(2)} · F1 ${t.val.F1?.toFixed(2)} · ${t.seconds.toFixed(0)} s · ${t.bestDir}`);

  const studentConfig = vggPreset({ arch: preset.teacher.arch, width: preset.student.width, imageSize, numClasses: K });
  const students: { variant: StudyVariant; net: VggNet; dir: string; seconds: number }[] = [];
  for (const variant of preset.variants) {
    const r = await distill({ data, teacher: t.net, teacherDir: t.bestDir, studentConfig, matching: variant.matching,
      recipe: preset.student.recipe, seed, outDir: join(outDir, variant.name), resume: true, quiet: opts.quiet, label: variant.name });
    stages.push({ name: variant.name, seconds: r.seconds });
    log(`${variant.name}: val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} · ${r.seconds.toFixed(0)} s`);
    students.push({ variant, net: r.net, dir: r.bestDir, seconds: r.seconds });
  }

  const evalStart = Date.now();
  const split = 'test' as const;
  const pairs = maskPairs(data, split, preset.testLimit);
  const teacherMaps = new Map<string, PairMaps>();
  for (const m of preset.methods) teacherMaps.set(m, computePairMaps(t.net, data, split, pairs, m));
  const evalOpts = { data, split, methods: preset.methods, limit: preset.testLimit, teacherMaps };
  const models: ResultRow[] = [row('teacher', 'none', undefined, t.net, await evaluateModel(t.net, { ...evalOpts, teacherMaps: undefined }), t.bestDir, t.seconds)];
  for (const s of students) models.push(row(s.variant.name, s.variant.compression, s.variant.matching, s.net, await evaluateModel(s.net, evalOpts), s.dir, s.seconds));
  stages.push({ name: 'evaluate', seconds: (Date.now() - evalStart) / 1000 });
  log(`evaluate: ${models.length} models × ${preset.methods.join(', ')} on ${pairs.length} test pairs · ${((Date.now() - evalStart) / 1000).toFixed(0)} s`);

  const results: StudyResults = {
    dataset: data.info.name, split, preset: preset.name, seed, apc: APC_VERSION, backend: currentBackend()?.name, models, stages,
  };
  await writeJsonAtomic(join(outDir, 'results.json'), results);
  t.net.dispose();
  for (const s of students) s.net.dispose();
  return results;
}

/** Plain-text table of a study's rows (one attribution method). */
export function formatResultsTable(results: StudyResults, method = 'gradcam'): string {
  const header = ['model', 'params', 'mAP', 'F1', `${method} AUC`, 'pointing', 'cosine', 'spearman', 'top15%IoU'];
  const f = (x: number | undefined, d = 2) => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const lines = results.models.map((m) => {
    const a = m.attribution[method];
    return [m.name, m.params.toLocaleString('en-US'), f(m.mAP), f(m.f1), f(a?.auc, 3), f(a ? a.pointing * 100 : undefined, 1),
      f(a?.agreement.cosine, 3), f(a?.agreement.spearman, 3), f(a?.agreement.topkIoU, 3)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
