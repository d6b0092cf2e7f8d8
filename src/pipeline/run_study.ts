/**
 * `apc run`: the whole study on one dataset. Trains (or reuses) the teacher, compresses it with
 * every configured variant, evaluates all models on the test split with the selected attribution
 * methods, and writes `OUT/results.json`. Every stage checkpoints, so an interrupted run resumes.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Dataset, type EvalSplits, evalSplitsOf } from '../data/dataset.js';
import { describeRecipes, recipesFor } from './dataset_presets.js';
import { writeJsonFile } from '../engine/files.js';
import { currentBackend, describeBackend } from '../engine/backend.js';
import { type MatchingConfig, matchingCaptures, parseMatchingConfig } from '../matching/matching_term.js';
import { TeacherOutputCache } from '../compress/teacher_cache.js';
import { checkpointBytes, modelStats } from '../models/accounting.js';
import { loadNet } from '../models/checkpoint.js';
import { checkpointPaths, WEIGHTS_BIN } from '../models/checkpoint_io.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { type ModelConfig, archFamily, archOf, archPreset } from '../models/model_config.js';
import { studentConfigFor } from '../models/student_config.js';
import { datasetForModel } from '../models/input_normalization.js';
import { unsupportedReason } from '../attribution/registry.js';
import { APC_VERSION } from '../version.js';
import { distill, type KdRecipe, SHAPES_KD_RECIPE } from './compress.js';
import type { FaithfulnessResult } from '../eval/faithfulness.js';
import type { SanityResult } from '../eval/sanity_check.js';
import { type FaithfulnessSettings, type SanitySettings, teacherSanity } from './evaluate_faithfulness.js';
import {
  type AgreementPairSet, computePairMaps, evaluateModel, maskPairs, type MethodEvaluation, type MethodRecords, type ModelEvaluation, teacherAgreementMaps,
} from './evaluate_model.js';
import type { Summary } from '../eval/agreement.js';
import { DEFAULT_TOPK_PERCENTS, HEADLINE_TOPK_PERCENT } from '../eval/localization.js';
import { SHAPES_PRUNE_RECIPE, structuredPruneAndFineTune, type UnstructuredRound, unstructuredPruneRounds } from './prune.js';
import { SHAPES_TEACHER_RECIPE, trainTeacher } from './train_teacher.js';
import { type TrainRecipe, withEpochs } from './train_to_checkpoints.js';
import type { IntervalMethod, MetricIntervals } from './metric_intervals.js';

export interface StudyVariant {
  /** Row name in results.json, e.g. 'kd+wcam'. */
  readonly name: string;
  readonly compression: 'kd';
  readonly matching: MatchingConfig;
}

/** Pruning stages of a study: each method runs once without matching and once per matching variant. */
export interface PruneStudy {
  /** Structured L1 filter pruning at global rate p, `rounds` = 1 one-shot, then fine-tuning. */
  readonly structured?: { rate: number; rounds: number; recipe: TrainRecipe };
  /** Unstructured global magnitude pruning, per-round rate r, cumulative sparsity 1 − (1 − r)^t. */
  readonly unstructured?: { rate: number; rounds: number; recipe: TrainRecipe };
  /** β of the '+wcam' pruning rows. */
  readonly beta: number;
  /** Methods evaluated at every unstructured round for the quality-vs-sparsity series (default: the first method). */
  readonly seriesMethods?: readonly string[];
}

export interface StudyPreset {
  readonly name: string;
  readonly teacher: { arch: string; width: number; recipe: TrainRecipe };
  readonly student: { width: number; recipe: KdRecipe };
  readonly variants: readonly StudyVariant[];
  readonly prune?: PruneStudy;
  /** Attribution methods evaluated on every model. */
  readonly methods: readonly string[];
  /** Test images evaluated (undefined = the whole split). */
  readonly testLimit?: number;
  /** Sizes for other families than the preset's (`apc run --arch resnet18|mobilenetv2`), measured per family. */
  readonly families?: Partial<Record<ModelConfig['kind'], FamilySizing>>;
  /** Deletion/insertion faithfulness of every final model's maps (undefined = not computed). */
  readonly faithfulness?: FaithfulnessSettings;
  /** Cascading parameter-randomisation sanity check on the teacher (undefined = not run). */
  readonly sanity?: SanitySettings;
}

/** A family's own teacher and student widths and recipes, and pruning recipes, within a preset. */
export interface FamilySizing {
  readonly teacher?: { width: number; recipe: TrainRecipe };
  readonly student?: { width: number; recipe: KdRecipe };
  readonly prune?: Partial<PruneStudy>;
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
    // Sized for ≤ 20 minutes on 2 cores (see README): a /8 teacher (6 epochs), /16 students
    // (4 epochs, lr ×0.1 for the last, β warmed up over the first two), small pruning runs.
    teacher: { arch: 'vgg16', width: 8, recipe: withEpochs(SHAPES_TEACHER_RECIPE, 6) },
    student: { width: 16, recipe: withEpochs(SHAPES_KD_RECIPE, 4) },
    variants: kdVariants(),
    // Fewer, larger pruning rounds than the reference (r 0.5 × 3 → 87.5 % sparsity instead of
    // r 0.2 × 16 → 97.2 %), each fine-tuned for one epoch on part of the training split.
    prune: {
      structured: { rate: 0.5, rounds: 1, recipe: { ...withEpochs(SHAPES_PRUNE_RECIPE, 1), trainLimit: 3000 } },
      unstructured: { rate: 0.5, rounds: 3, recipe: { ...withEpochs(SHAPES_PRUNE_RECIPE, 1), trainLimit: 2000 } },
      beta: DEFAULT_BETA,
    },
    // The paper's four attribution methods.
    methods: ['gradcam', 'lrp', 'ebp', 'rap'],
    testLimit: 300,
    // a subset keeps `npm start` within budget (README): 64 pairs per model and method, 10 % steps
    faithfulness: { nPairs: 64, steps: 10 },
    sanity: { nPairs: 16 },
    // `--arch resnet18` runs the same sizes (ResNet-18/8 teacher, /16 students). MobileNetV2 learns
    // far more slowly per epoch (dataset_presets.ts) and its 8×8 small-input layout costs more per
    // image: a /4 teacher for 8 epochs, /8 students for 4 (10 and 5 took ~27 min on 2 cores).
    families: {
      mobilenetv2: {
        teacher: { width: 4, recipe: withEpochs(SHAPES_TEACHER_RECIPE, 8) },
        student: { width: 8, recipe: withEpochs(SHAPES_KD_RECIPE, 4) },
      },
    },
  },
  /** Seconds-long end-to-end check (tests, CI): tiny data, one epoch each. */
  smoke: {
    name: 'smoke',
    teacher: { arch: 'vgg16', width: 8, recipe: { ...withEpochs(SHAPES_TEACHER_RECIPE, 1), trainLimit: 128, valLimit: 64 } },
    student: { width: 16, recipe: { ...withEpochs(SHAPES_KD_RECIPE, 1), trainLimit: 128, valLimit: 64 } },
    variants: kdVariants(),
    prune: {
      structured: { rate: 0.5, rounds: 1, recipe: { ...withEpochs(SHAPES_PRUNE_RECIPE, 1), trainLimit: 64, valLimit: 32 } },
      unstructured: { rate: 0.5, rounds: 2, recipe: { ...withEpochs(SHAPES_PRUNE_RECIPE, 1), trainLimit: 64, valLimit: 32 } },
      beta: DEFAULT_BETA,
    },
    methods: ['gradcam'],
    testLimit: 24,
    faithfulness: { nPairs: 8, steps: 4 },
    sanity: { nPairs: 4, maxSteps: 4 },
  },
  full: {
    name: 'full',
    teacher: { arch: 'vgg16', width: 4, recipe: withEpochs(SHAPES_TEACHER_RECIPE, 30) },
    student: { width: 8, recipe: withEpochs(SHAPES_KD_RECIPE, 30) },
    variants: kdVariants(),
    // The reference schedule: structured p = 0.5 one-shot; unstructured r = 0.2 × 16 rounds (97.2 %).
    prune: {
      structured: { rate: 0.5, rounds: 1, recipe: SHAPES_PRUNE_RECIPE },
      unstructured: { rate: 0.2, rounds: 16, recipe: SHAPES_PRUNE_RECIPE },
      beta: DEFAULT_BETA,
    },
    methods: ['gradcam', 'lrp', 'rap', 'ebp', 'ig', 'smoothgrad', 'gradxinput'],
    faithfulness: { nPairs: 256, steps: 20 },
    sanity: { nPairs: 32 },
  },
};

/** Agreement with the teacher (evaluation spec §3): means, medians, top-k IoU at every percent, tallies. */
export type AgreementRow = {
  /** Means over the pairs used; `topkIoU` at the headline 15 %. */
  cosine: number; spearman: number; topkIoU: number; n: number;
  /** Pair set: 'bothPositive' (default) or 'teacherTop1' (`--agreement-pairs teacher-top1`). */
  pairs?: AgreementPairSet;
  /** Mean normalised peak distance (÷ image diagonal). */
  peakDistance?: number;
  median?: { cosine: number; spearman: number; topkIoU: number; peakDistance: number };
  /** Keyed by percent: '5', '10', '15', '20'. */
  topkIoUByPercent?: Record<string, { mean: number; median: number }>;
  /** Pairs with a non-finite map; pairs left out by the both-positive rule; pairs with a constant map (no Spearman). */
  nNonFinite?: number; nSkipped?: number; nConstant?: number;
};

type AttributionRow = {
  auc: number; pointing: number; nCounted: number; nMissed: number;
  /** Median AUC over the pairs `auc` averages; counted pairs with a non-finite map; with an undefined AUC. */
  medianAUC?: number; nNonFinite?: number; nDegenerate?: number;
  agreement: AgreementRow;
  /** Deletion/insertion AUCs and mean curves (absent in results written before they existed). */
  faithfulness?: FaithfulnessResult;
};

export interface ResultRow {
  name: string;
  /** 'none' (teacher), 'kd', 'structured' or 'unstructured'. */
  compression: string;
  match: string;
  beta: number;
  stochastic: number;
  /** Dense parameter count (compression spec §4). */
  params: number;
  /** Parameters that are not pruned (exact zeros in conv kernels excluded). */
  nonZeroParams: number;
  /** Dense FLOPs = 2 × multiply-accumulates at the model's input size. */
  flops: number;
  /** Effective FLOPs of a sparse model: 2 × MACs with only non-zero conv weights counted. */
  flopsEffective: number;
  /** Fraction of zero conv-kernel weights. */
  sparsity: number;
  /** Checkpoint size on disk (model.json + weights.bin), and weights.bin gzip-compressed (sparsity shows there). */
  bytes: number;
  bytesGzip: number;
  mAP: number;
  f1: number;
  prediction: Record<string, number>;
  attribution: Record<string, AttributionRow>;
  /** Cosine of the teacher's and this model's SWA maps at the matched layer (spec §3); absent on the teacher's row. */
  matchedMapCosine?: Summary;
  /**
   * 95 % bootstrap intervals over test images of this row's metrics, keyed 'mAP', 'f1', '<method>.auc', '<method>.pointing',
   * '<method>.cosine' … ([lo, hi] in the metric's units; `StudyResults.ciMethod` says which interval). Absent in older results.
   */
  ci95?: MetricIntervals;
  checkpoint: string;
  trainSeconds: number;
}

/** One unstructured-pruning round's best checkpoint, evaluated on the test split. */
export type SeriesPoint = Pick<ResultRow, 'sparsity' | 'nonZeroParams' | 'flopsEffective' | 'mAP' | 'f1' | 'attribution' | 'checkpoint'> & {
  round: number;
  /** Val metrics right after the cut and of the best fine-tuning epoch. */
  valBefore: Record<string, number>;
  val: Record<string, number>;
};

/** Quality vs sparsity over the rounds of one unstructured-pruning run (± matching). */
export interface PruningSeries {
  name: string;
  compression: 'unstructured';
  match: string;
  beta: number;
  rate: number;
  points: SeriesPoint[];
}

export interface StudyResults {
  dataset: string;
  /** Where prediction metrics (mAP, F1) were computed. */
  split: string;
  /** Prediction and localisation splits (VOC: Main val, Segmentation val; else both test). */
  splits?: EvalSplits;
  preset: string;
  seed: number;
  apc: string;
  backend: string | undefined;
  /** The backend line every command prints (wasm: SIMD, threads and how they were chosen). */
  backendDetail: string | undefined;
  models: ResultRow[];
  /** Per-round series of the unstructured pruning runs (empty when the preset prunes nothing). */
  series: PruningSeries[];
  /** Teacher architecture: the `--arch` name, or 'graph' for an imported model. */
  arch?: string;
  /** Rows and methods the study left out, and why (a method without a rule for one of the graph's ops). */
  skipped?: { what: string; reason: string }[];
  /**
   * Cascading parameter-randomisation check of each method on the teacher (eval/sanity_check.ts):
   * Spearman of the maps before vs after each step, and whether the method passes.
   */
  sanity?: Record<string, SanityResult>;
  /** Evaluation options the study ran with (pointing tolerance, void as background, agreement pairs). */
  evaluation?: StudyEvaluationOptions;
  /** Which interval the rows' `ci95` are (percentile bootstrap over test images, level, resamples, seed). */
  ciMethod?: IntervalMethod;
  stages: { name: string; seconds: number }[];
}

/** Evaluation options of a study (`apc run --pointing-tolerance --void-as-background --agreement-pairs`). */
export interface StudyEvaluationOptions {
  readonly pointingTolerancePx: number;
  readonly voidAsBackground: boolean;
  readonly agreementPairs: AgreementPairSet;
}

export interface RunStudyOptions {
  data: Dataset;
  preset: StudyPreset;
  /** Teacher architecture (`--arch`); default the preset's. */
  arch?: string;
  /**
   * Start the teacher from this network (an imported or pretrained model, `--init`); its graph is
   * the teacher's, and KD students divide its channel groups. Not disposed here.
   */
  init?: GraphNet;
  seed: number;
  outDir: string;
  quiet?: boolean;
  /** Called after each stage with a one-line summary. */
  log?: (line: string) => void;
  /** Localisation and agreement options (default: exact pointing, void excluded, both-positive pairs). */
  evaluation?: Partial<StudyEvaluationOptions>;
  /** Write every final model's per-pair records (localisation, agreement) to this JSON file. */
  recordsFile?: string;
}

function matchName(matching: MatchingConfig | undefined): string {
  return matching?.kind === 'swa' ? 'wcam' : matching?.kind ?? 'none';
}

function agreementRow(a: NonNullable<MethodEvaluation['agreement']>): AgreementRow {
  const r = a.report;
  const topkIoUByPercent: Record<string, { mean: number; median: number }> = {};
  for (const [pct, t] of Object.entries(r.topkIoU)) topkIoUByPercent[pct] = { mean: t.mean, median: t.median };
  return {
    cosine: a.cosine, spearman: a.spearman, topkIoU: a.topkIoU, n: a.n, pairs: a.pairs, peakDistance: r.peakDistance.mean,
    median: { cosine: r.cosine.median, spearman: r.spearman.median, topkIoU: r.topkIoU[HEADLINE_TOPK_PERCENT]?.median ?? NaN, peakDistance: r.peakDistance.median },
    topkIoUByPercent, nNonFinite: r.nNonFinite, nSkipped: r.nSkipped, nConstant: r.spearman.nConstant,
  };
}

/** The teacher's agreement with itself: trivially 1 (distance 0) on its counted pairs. */
function selfAgreementRow(n: number, pairs: AgreementPairSet): AgreementRow {
  const topkIoUByPercent = Object.fromEntries(DEFAULT_TOPK_PERCENTS.map((p) => [String(p), { mean: 1, median: 1 }]));
  return { cosine: 1, spearman: 1, topkIoU: 1, n, pairs, peakDistance: 0, median: { cosine: 1, spearman: 1, topkIoU: 1, peakDistance: 0 },
    topkIoUByPercent, nNonFinite: 0, nSkipped: 0, nConstant: 0 };
}

function attributionRows(ev: ModelEvaluation, pairs: AgreementPairSet = 'bothPositive'): Record<string, AttributionRow> {
  const attribution: Record<string, AttributionRow> = {};
  for (const [m, e] of Object.entries(ev.attribution)) {
    const l = e.localization;
    attribution[m] = {
      auc: e.auc, medianAUC: l.medianAUC, pointing: e.pointing, nCounted: l.nCounted, nMissed: l.nMissed, nNonFinite: l.nNonFinite, nDegenerate: l.nDegenerate,
      agreement: e.agreement ? agreementRow(e.agreement) : selfAgreementRow(l.nCounted, pairs),
      ...(e.faithfulness ? { faithfulness: e.faithfulness } : {}),
    };
  }
  return attribution;
}

/** Size and cost of a trained model and its checkpoint (compression spec §4). */
async function sizeFields(net: GraphNet, checkpoint: string): Promise<Pick<ResultRow, 'params' | 'nonZeroParams' | 'flops' | 'flopsEffective' | 'sparsity' | 'bytes' | 'bytesGzip'>> {
  const s = modelStats(net);
  const weights = await readFile(join(checkpoint, WEIGHTS_BIN));
  return {
    params: s.params, nonZeroParams: s.nonZeroParams, flops: 2 * s.macs, flopsEffective: 2 * s.sparseMacs, sparsity: s.sparsity,
    bytes: await checkpointBytes(checkpoint), bytesGzip: gzipSync(weights).length,
  };
}

async function row(name: string, compression: string, matching: MatchingConfig | undefined, net: GraphNet, ev: ModelEvaluation, checkpoint: string, trainSeconds: number,
  pairs: AgreementPairSet = 'bothPositive'): Promise<ResultRow> {
  return {
    name, compression, match: matchName(matching), beta: matching?.beta ?? 0, stochastic: matching?.stochastic ?? 0,
    ...(await sizeFields(net, checkpoint)), mAP: ev.mAP, f1: ev.f1, prediction: ev.prediction, attribution: attributionRows(ev, pairs),
    ...(ev.matchedMapCosine ? { matchedMapCosine: ev.matchedMapCosine } : {}), ...(ev.ci95 ? { ci95: ev.ci95 } : {}), checkpoint, trainSeconds,
  };
}

/**
 * A preset's recipe moved onto the dataset's own recipe (`recipesFor`): presets are written
 * against the shapes recipes; on another dataset the optimiser settings, schedule shape and
 * augmentation come from that dataset's recipe while the preset's epochs and limits stay.
 */
function onDataset<R extends TrainRecipe>(presetRecipe: R, datasetRecipe: R | undefined, shapesRecipe: TrainRecipe): R {
  if (!datasetRecipe || datasetRecipe === shapesRecipe) return presetRecipe;
  return { ...withEpochs(datasetRecipe, presetRecipe.epochs), trainLimit: presetRecipe.trainLimit, valLimit: presetRecipe.valLimit };
}

/** Loads a checkpoint, runs `f` on its network and disposes it. */
async function withCheckpoint<T>(dir: string, f: (net: GraphNet) => Promise<T>): Promise<T> {
  const { net } = await loadNet(dir);
  try {
    return await f(net);
  } finally {
    net.dispose();
  }
}

interface PrunedModel {
  name: string;
  compression: 'structured' | 'unstructured';
  matching: MatchingConfig;
  /** Best checkpoint of the final round. */
  dir: string;
  seconds: number;
  /** Unstructured only: every round, for the quality-vs-sparsity series. */
  rounds?: UnstructuredRound[];
  rate?: number;
}

/**
 * The preset's pruning stages, each once without matching and once with WCAM. They start from
 * the trained teacher (which also serves as the frozen matching target) and checkpoint every
 * round, so a rerun resumes. Returns where each final model is.
 */
async function runPruning(opts: RunStudyOptions, teacher: GraphNet, teacherDir: string, stages: StudyResults['stages'], log: (l: string) => void): Promise<PrunedModel[]> {
  const pr = opts.preset.prune;
  if (!pr) return [];
  const data = opts.data;
  const variants: [string, MatchingConfig][] = [
    ['', parseMatchingConfig({ kind: 'none', beta: 0 })],
    ['+wcam', parseMatchingConfig({ kind: 'swa', beta: pr.beta })],
  ];
  const common = { data, teacher, teacherDir, seed: opts.seed, resume: true, quiet: opts.quiet };
  const base = recipesFor(data.info.name, teacher.config.kind, opts.init ? 'pretrained' : 'scratch').prune;
  const out: PrunedModel[] = [];
  if (pr.structured) {
    for (const [suffix, matching] of variants) {
      const name = `structured${suffix}`;
      const r = await structuredPruneAndFineTune({ ...common, matching, rate: pr.structured.rate, rounds: pr.structured.rounds,
        recipe: onDataset(pr.structured.recipe, base, SHAPES_PRUNE_RECIPE), outDir: join(opts.outDir, name), label: name });
      r.net.dispose();
      const seconds = r.rounds.reduce((acc, x) => acc + x.seconds, 0);
      stages.push({ name, seconds });
      const last = r.rounds.at(-1)!;
      log(`${name}: p ${pr.structured.rate} · ${last.params.toLocaleString('en-US')} params · val mAP ${last.before.mAP?.toFixed(2)} after the cut → ${last.best.mAP?.toFixed(2)} fine-tuned · ${seconds.toFixed(0)} s`);
      out.push({ name, compression: 'structured', matching, dir: r.bestDir, seconds });
    }
  }
  if (pr.unstructured) {
    for (const [suffix, matching] of variants) {
      const name = `unstructured${suffix}`;
      const r = await unstructuredPruneRounds({ ...common, matching, rate: pr.unstructured.rate, rounds: pr.unstructured.rounds,
        recipe: onDataset(pr.unstructured.recipe, base, SHAPES_PRUNE_RECIPE), outDir: join(opts.outDir, name), label: name });
      const seconds = r.rounds.reduce((acc, x) => acc + x.seconds, 0);
      stages.push({ name, seconds });
      const curve = r.rounds.map((x) => `${(100 * x.sparsity).toFixed(1)} %: ${x.best.mAP?.toFixed(1)}`).join(', ');
      log(`${name}: r ${pr.unstructured.rate} × ${pr.unstructured.rounds} rounds · val mAP by sparsity ${curve} · ${seconds.toFixed(0)} s`);
      out.push({ name, compression: 'unstructured', matching, dir: checkpointPaths(r.rounds.at(-1)!.dir).best, seconds, rounds: r.rounds, rate: pr.unstructured.rate });
    }
  }
  return out;
}

export async function runStudy(opts: RunStudyOptions): Promise<StudyResults> {
  const { preset, seed, outDir } = opts;
  let data = opts.data;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  await mkdir(outDir, { recursive: true });
  const stages: StudyResults['stages'] = [];
  const K = data.info.classNames.length;
  const imageSize = data.info.height;
  const skipped: { what: string; reason: string }[] = [];

  // with an initial model its own architecture applies: a built-in family's name, else 'graph'
  const arch = opts.init ? archOf(opts.init.config) ?? 'graph' : opts.arch ?? preset.teacher.arch;
  const family = opts.init ? opts.init.config.kind : archFamily(arch);
  const recipes = recipesFor(data.info.name, family, opts.init ? 'pretrained' : 'scratch');
  log(`run: ${describeRecipes(recipes)}`);
  const sized = preset.families?.[family] ?? {};
  const teacherPreset = { ...preset.teacher, ...sized.teacher };
  const studentPreset = { ...preset.student, ...sized.student };
  if (opts.init && opts.init.numClasses !== K) throw new Error(`the initial teacher has ${opts.init.numClasses} outputs but ${data.info.name} has ${K} classes`);
  const teacherConfig: ModelConfig = opts.init ? opts.init.config
    : archPreset({ arch, width: teacherPreset.width, imageSize, numClasses: K, dropout: recipes.teacherDropout });
  if (opts.init) data = datasetForModel(data, opts.init);
  const t = await trainTeacher({ data, config: teacherConfig, init: opts.init, recipe: onDataset(teacherPreset.recipe, recipes.teacher, SHAPES_TEACHER_RECIPE), seed, outDir: join(outDir, 'teacher'), resume: true, quiet: opts.quiet });
  stages.push({ name: 'teacher', seconds: t.seconds });
  log(`teacher: val mAP ${t.val.mAP?.toFixed(2)} · F1 ${t.val.F1?.toFixed(2)} · ${t.seconds.toFixed(0)} s · ${t.bestDir}`);

  const studentConfig = studentConfigFor(teacherConfig, studentPreset.width, { dropout: recipes.teacherDropout });
  const studentRecipe = onDataset(studentPreset.recipe, recipes.kd, SHAPES_KD_RECIPE);
  const students: { variant: StudyVariant; net: GraphNet; dir: string; seconds: number }[] = [];
  // one teacher cache for all variants (same teacher, same unaugmented training images): the
  // teacher forward runs in the first student's first epoch only
  const teacherCaptures = [...new Set(preset.variants.flatMap((v) => matchingCaptures(v.matching, t.net, false)))];
  const sharedCache = new TeacherOutputCache(t.net, teacherCaptures);
  for (const variant of preset.variants) {
    const r = await distill({ data, teacher: t.net, teacherDir: t.bestDir, studentConfig, matching: variant.matching,
      recipe: studentRecipe, seed, outDir: join(outDir, variant.name), resume: true, quiet: opts.quiet, label: variant.name, teacherCache: sharedCache });
    stages.push({ name: variant.name, seconds: r.seconds });
    log(`${variant.name}: val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} · ${r.seconds.toFixed(0)} s`);
    students.push({ variant, net: r.net, dir: r.bestDir, seconds: r.seconds });
  }

  const pruned = await runPruning({ ...opts, data, preset: { ...preset, prune: preset.prune && { ...preset.prune, ...sized.prune } } }, t.net, t.bestDir, stages, log);
  const methods = preset.methods.filter((m) => {
    const reason = unsupportedReason(m, t.net);
    if (reason) { skipped.push({ what: m, reason }); log(`${m}: skipped (${reason})`); }
    return !reason;
  });

  const evalStart = Date.now();
  // the dataset's evaluation splits: VOC prediction on Main val, localisation on Segmentation val; else both 'test'
  const splits = evalSplitsOf(data);
  const split = splits.localization;
  const pairs = maskPairs(data, split, preset.testLimit);
  const evaluation: StudyEvaluationOptions = { pointingTolerancePx: opts.evaluation?.pointingTolerancePx ?? 0,
    voidAsBackground: opts.evaluation?.voidAsBackground ?? false, agreementPairs: opts.evaluation?.agreementPairs ?? 'bothPositive' };
  const keepRecords = opts.recordsFile !== undefined;
  const records: { name: string; records: Record<string, MethodRecords> }[] = [];
  const evaluated = (name: string, ev: ModelEvaluation) => {
    if (ev.records) records.push({ name, records: ev.records });
    return ev;
  };
  const evalOpts = { data, predictionSplit: splits.prediction, localizationSplit: split, methods, limit: preset.testLimit, quiet: opts.quiet,
    localization: { pointingTolerancePx: evaluation.pointingTolerancePx, voidAsBackground: evaluation.voidAsBackground }, agreementPairs: evaluation.agreementPairs,
    faithfulness: preset.faithfulness, seed };
  const teacherMaps = await teacherAgreementMaps(t.net, evalOpts);
  // the teacher's own localisation maps are its agreement maps on the default pair set
  const teacherOwn = evaluation.agreementPairs === 'bothPositive' ? { ownMaps: teacherMaps } : {};
  const studentOpts = { ...evalOpts, teacherMaps, teacherNet: t.net };
  const teacherEvaluation = await evaluateModel(t.net, { ...evalOpts, ...teacherOwn, keepRecords, label: 'teacher' });
  const ciMethod = teacherEvaluation.ciMethod;
  const models: ResultRow[] = [await row('teacher', 'none', undefined, t.net, evaluated('teacher', teacherEvaluation), t.bestDir, t.seconds, evaluation.agreementPairs)];
  for (const s of students) {
    models.push(await row(s.variant.name, s.variant.compression, s.variant.matching, s.net,
      evaluated(s.variant.name, await evaluateModel(s.net, { ...studentOpts, keepRecords, label: s.variant.name })), s.dir, s.seconds));
  }
  const series: PruningSeries[] = [];
  for (const p of pruned) {
    const final = await withCheckpoint(p.dir, async (net) => row(p.name, p.compression, p.matching, net,
      evaluated(p.name, await evaluateModel(net, { ...studentOpts, keepRecords, label: p.name })), p.dir, p.seconds));
    models.push(final);
    if (!p.rounds) continue;
    const seriesMethods = (preset.prune?.seriesMethods ?? methods.slice(0, 1)).filter((m) => methods.includes(m));
    const points: SeriesPoint[] = [];
    for (const r of p.rounds) {
      const dir = checkpointPaths(r.dir).best;
      const ev = r === p.rounds.at(-1)
        ? { mAP: final.mAP, f1: final.f1, attribution: final.attribution }
        : await withCheckpoint(dir, async (net) => {
          // series points carry no intervals: no bootstrap for the intermediate rounds
          const e = await evaluateModel(net, { ...studentOpts, teacherNet: undefined, faithfulness: undefined, bootstrap: false, methods: seriesMethods, label: `${p.name} round ${r.round}` });
          return { mAP: e.mAP, f1: e.f1, attribution: attributionRows(e) };
        });
      points.push({ round: r.round, sparsity: r.sparsity, nonZeroParams: r.nonZeroParams, flopsEffective: 2 * r.sparseMacs,
        valBefore: r.before, val: r.best, ...ev, checkpoint: dir });
    }
    series.push({ name: p.name, compression: 'unstructured', match: matchName(p.matching), beta: p.matching.beta, rate: p.rate ?? NaN, points });
  }
  stages.push({ name: 'evaluate', seconds: (Date.now() - evalStart) / 1000 });
  log(`evaluate: ${models.length} models × ${methods.join(', ')} on ${pairs.length} ${split} pairs · ${((Date.now() - evalStart) / 1000).toFixed(0)} s`);
  let sanity: StudyResults['sanity'];
  if (preset.sanity && methods.length > 0) {
    const sanityStart = Date.now();
    // the teacher's logits on the localisation pairs: its agreement maps hold them unless agreement uses teacher-top-1 pairs
    const logits = evaluation.agreementPairs === 'bothPositive' ? teacherMaps.get(methods[0])!.logits : computePairMaps(t.net, data, split, pairs, methods[0]).logits;
    sanity = teacherSanity(t.net, data, split, pairs, logits, methods, preset.sanity, seed);
    const seconds = (Date.now() - sanityStart) / 1000;
    stages.push({ name: 'sanity', seconds });
    log(`sanity: ${Object.entries(sanity).map(([m, r]) => `${m} ${r.passed ? 'passes' : 'FAILS'} (Spearman ${r.layers.at(-1)?.spearman.toFixed(2)} fully random)`).join(' · ')} · ${seconds.toFixed(0)} s`);
  }

  const results: StudyResults = {
    dataset: data.info.name, split: splits.prediction, splits, preset: preset.name, seed, apc: APC_VERSION, backend: currentBackend()?.name, backendDetail: backendDetail(), models, series, stages,
    arch, ...(skipped.length ? { skipped } : {}), ...(sanity ? { sanity } : {}), evaluation, ...(ciMethod ? { ciMethod } : {}),
  };
  if (opts.recordsFile) await writeJsonFile(opts.recordsFile, { dataset: data.info.name, splits, evaluation, models: records });
  // ── report (issue 7; owned by src/report) ─────────────────────────────────────────────────
  // Heat-map pictures of every listed model (in-memory nets, else their checkpoints), then
  // OUT/report.html from these results. Self-contained block: its imports are dynamic.
  {
    const { saveStudyHeatmaps } = await import('../report/study_heatmaps.js');
    const { writeReport } = await import('../report/html_report.js');
    const { finalRows } = await import('../report/report_data.js');
    const inMemory = new Map<string, GraphNet>([['teacher', t.net], ...students.map((s) => [s.variant.name, s.net] as [string, GraphNet])]);
    const heatmapStart = Date.now();
    await saveStudyHeatmaps({ data, split, methods, outDir, seed, quiet: opts.quiet,
      models: finalRows(results.models).map((r) => ({ name: r.name, net: inMemory.get(r.name), checkpoint: r.checkpoint })) });
    const heatmapSeconds = (Date.now() - heatmapStart) / 1000;
    stages.push({ name: 'heatmaps', seconds: heatmapSeconds });
    await writeReport(outDir, { results });
    log(`heatmaps: ${heatmapSeconds.toFixed(1)} s · report.html written`);
  }
  // ── end report ────────────────────────────────────────────────────────────────────────────
  await writeJsonFile(join(outDir, 'results.json'), results);
  t.net.dispose();
  for (const s of students) s.net.dispose();
  return results;
}

export interface ResultsTableOptions {
  /** Add deletion and insertion AUC columns and the teacher's sanity-check line (`--faithfulness`). */
  readonly faithfulness?: boolean;
}

/** Plain-text table of a study's rows (one attribution method), then the sparsity series. */
export function formatResultsTable(results: StudyResults, method = 'gradcam', options: ResultsTableOptions = {}): string {
  const header = ['model', 'params', 'sparsity', 'MFLOPs', 'mAP', 'F1', `${method} AUC`, 'pointing', 'cosine', 'spearman', 'top15%IoU'];
  if (options.faithfulness) header.push('deletion', 'insertion');
  const f = (x: number | undefined, d = 2) => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const lines = results.models.map((m) => {
    const a = m.attribution[method];
    // value ± half the width of its 95 % interval when recorded (the exact [lo, hi] are in results.json and the report)
    const pm = (x: number | undefined, key: string, d: number, scale = 1) => {
      const ci = m.ci95?.[key];
      return f(x === undefined ? undefined : scale * x, d) + (ci && x !== undefined && Number.isFinite(x) ? `±${f((scale * (ci[1] - ci[0])) / 2, d)}` : '');
    };
    return [m.name, m.params.toLocaleString('en-US'), m.sparsity === undefined ? '–' : `${f(100 * m.sparsity, 1)} %`,
      f(m.flopsEffective === undefined ? undefined : m.flopsEffective / 1e6, 1), pm(m.mAP, 'mAP', 2), pm(m.f1, 'f1', 2), pm(a?.auc, `${method}.auc`, 3),
      pm(a?.pointing, `${method}.pointing`, 1, 100), pm(a?.agreement.cosine, `${method}.cosine`, 3), pm(a?.agreement.spearman, `${method}.spearman`, 3),
      pm(a?.agreement.topkIoU, `${method}.topkIoU`, 3),
      ...(options.faithfulness ? [f(a?.faithfulness?.deletionAuc, 3), f(a?.faithfulness?.insertionAuc, 3)] : [])];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const table = [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)];
  if (results.models.some((m) => m.ci95 && Object.keys(m.ci95).length > 0)) {
    const c = results.ciMethod;
    table.push('', `±: half the width of the ${c ? `${100 * c.level} % percentile bootstrap interval over test images (${c.resamples} resamples, seed ${c.seed})` : '95 % interval'}; `
      + 'test-set sampling only, not training-seed variation (apc sweep); [lo, hi] in results.json and report.html');
  }
  if (options.faithfulness) {
    const fa = results.models.find((m) => m.attribution[method]?.faithfulness)?.attribution[method].faithfulness;
    const most = Math.max(0, ...results.models.map((m) => m.attribution[method]?.faithfulness?.nPairs ?? 0));
    if (fa) table.push('', `deletion/insertion: AUC of σ(z_c) over ${fa.steps} steps (${fa.baseline} baseline, up to ${most} predicted pairs per model); deletion lower is better, insertion higher`);
    if (results.sanity && Object.keys(results.sanity).length > 0) table.push(formatSanity(results.sanity));
  }
  for (const s of results.series ?? []) {
    const pts = s.points.map((p) => `${f(100 * p.sparsity, 1)} %: mAP ${f(p.mAP, 1)}, cosine ${f(p.attribution[method]?.agreement.cosine, 3)}`);
    table.push('', `${s.name} by round — ${pts.join(' · ')}`);
  }
  return table.join('\n');
}

/** One line: which methods pass the teacher's sanity check, with the Spearman of the fully random network. */
export function formatSanity(sanity: Readonly<Record<string, SanityResult>>): string {
  const parts = Object.entries(sanity).map(([m, r]) => `${m} ${r.passed ? 'passes' : 'FAILS'} (${r.layers.at(-1)?.spearman.toFixed(2) ?? '–'})`);
  const threshold = Object.values(sanity)[0]?.threshold;
  return `sanity check (teacher, Spearman before/after randomising every block, pass < ${threshold ?? '–'}): ${parts.join(' · ')}`;
}

function backendDetail(): string | undefined {
  const info = currentBackend();
  return info ? describeBackend(info) : undefined;
}
