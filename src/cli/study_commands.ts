/** `apc compress`, `apc evaluate`, `apc run`: flags → library calls. */
import { resolve } from 'node:path';
import { parseAttributionList } from '../attribution/registry.js';
import { channelGroupReport, formatChannelGroupReport } from '../compress/channel_group_report.js';
import { filterImportance } from '../compress/structured_prune.js';
import { openDataset } from '../data/registry.js';
import type { Dataset } from '../data/dataset.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { matchedLayers, parseMatchingConfig } from '../matching/matching_term.js';
import { loadModel } from '../models/load_model.js';
import { datasetForModel, describeNormalization } from '../models/input_normalization.js';
import { studentConfigFor } from '../models/student_config.js';
import { distill, SHAPES_KD_RECIPE } from '../pipeline/compress.js';
import { SHAPES_PRUNE_RECIPE, structuredPruneAndFineTune, unstructuredPruneRounds } from '../pipeline/prune.js';
import { type Conservation, computePairMaps, evalSplitsFor, evaluateModel, maskPairs } from '../pipeline/evaluate_model.js';
import { describeRecipes, recipesFor, teacherStartOf } from '../pipeline/dataset_presets.js';
import { writeJsonFile } from '../engine/files.js';
import { DEFAULT_BETA, formatResultsTable, runStudy, STUDY_PRESETS } from '../pipeline/run_study.js';
import { withEpochs } from '../pipeline/train_to_checkpoints.js';

export interface CompressFlags {
  /** Dataset spec (default: the teacher checkpoint's) and VOC bad-file policy. */
  data?: string; skipBad?: boolean;
  teacher: string; method: string; match: string; beta?: number; stochastic: number; matchClasses: string;
  /** Node the matching term compares maps at (default: the teacher's last feature map). */
  matchLayer?: string;
  width: number; epochs?: number; trainLimit?: number; betaWarmup?: number; seed: number; out: string; resume: boolean; quiet: boolean;
  /** Pruning: structured global rate p (default 0.3) or unstructured per-round rate r (default 0.2). */
  rate?: number;
  /** Pruning rounds: structured iterative R (default 1 = one-shot), unstructured rounds (default 16). */
  rounds?: number;
  /** Structured pruning's filter importance criterion ('l1' default, 'l2'). */
  importance?: string;
  /** Structured: print the channel groups (and write them to `json`) instead of pruning. */
  explainGroups?: boolean; json?: string;
}

export async function compressCommand(f: CompressFlags): Promise<void> {
  if (!['kd', 'structured', 'unstructured'].includes(f.method)) throw new Error(`--method must be kd, structured or unstructured, got '${f.method}'`);
  if (f.rate !== undefined && !(f.rate > 0 && f.rate < 1)) throw new Error(`--rate must be in (0, 1), got ${f.rate}`);
  if (f.explainGroups) return explainGroups(f);
  if (f.matchLayer !== undefined && f.match === 'none') throw new Error('--match-layer needs --match ewa or wcam');
  const { net: teacher, meta } = await loadModel(f.teacher);
  const data = datasetForModel(openDataset(f.data ?? String(meta.dataset ?? 'shapes'), { imageSize: teacher.inputSize[0], skipBad: f.skipBad }), teacher);
  checkClassCount(f.teacher, teacher, data);
  const recipes = recipesFor(data.info.name, teacher.config.kind, teacherStartOf(meta));
  if (!f.quiet) process.stderr.write(`compress: ${describeRecipes(recipes)}\n`);
  const kind = f.match === 'wcam' ? 'swa' : f.match;
  const matching = parseMatchingConfig({
    kind, beta: kind === 'none' ? 0 : f.beta ?? recipes.matchingBeta ?? DEFAULT_BETA, stochastic: f.stochastic,
    matchClasses: f.matchClasses === 'positive' ? 'teacherPositive' : f.matchClasses,
    ...(f.matchLayer !== undefined ? { layer: f.matchLayer } : {}),
  });
  const common = { data, teacher, teacherDir: resolve(f.teacher), matching, seed: f.seed, outDir: f.out, resume: f.resume, quiet: f.quiet };
  try {
    matchedLayers(matching, teacher); // an unknown --match-layer fails here, before training, listing the valid names
    if (f.method === 'kd') {
      const studentConfig = studentConfigFor(teacher.config, f.width, { dropout: recipes.teacherDropout });
      const recipe = { ...withEpochs(recipes.kd ?? SHAPES_KD_RECIPE, f.epochs), trainLimit: f.trainLimit, betaWarmupSteps: f.betaWarmup };
      const r = await distill({ ...common, studentConfig, recipe });
      process.stdout.write(`kd+${f.match}: best val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} · ${r.seconds.toFixed(0)} s · ${r.bestDir}\n`);
      r.net.dispose();
      return;
    }
    const recipe = { ...withEpochs(recipes.prune ?? SHAPES_PRUNE_RECIPE, f.epochs), trainLimit: f.trainLimit };
    if (f.method === 'structured') {
      const r = await structuredPruneAndFineTune({ ...common, recipe, rate: f.rate ?? 0.3, rounds: f.rounds ?? 1, importance: filterImportance({ kind: f.importance ?? 'l1' }) });
      process.stdout.write(`structured p=${f.rate ?? 0.3}+${f.match}: best val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} · ${r.bestDir}\n`);
      r.net.dispose();
      return;
    }
    const r = await unstructuredPruneRounds({ ...common, recipe, rate: f.rate ?? 0.2, rounds: f.rounds ?? 16 });
    for (const t of r.rounds) {
      process.stdout.write(`round ${t.round}: sparsity ${(100 * t.sparsity).toFixed(1)} % · val mAP before ${t.before.mAP?.toFixed(2)} → best ${t.best.mAP?.toFixed(2)} · ${t.dir}\n`);
    }
    process.stdout.write(`unstructured r=${f.rate ?? 0.2}+${f.match}: ${r.rounds.length} rounds · curve ${r.summaryPath}\n`);
  } finally {
    teacher.dispose();
  }
}

/** `--explain-groups`: the teacher's channel groups and the widths structured pruning at --rate keeps. */
async function explainGroups(f: CompressFlags): Promise<void> {
  if (f.method !== 'structured') throw new Error(`--explain-groups lists the channel groups of structured pruning; use it with --method structured, not '${f.method}'`);
  const { net } = await loadModel(f.teacher);
  try {
    const report = channelGroupReport(net.config, f.rate ?? 0.3);
    process.stdout.write(formatChannelGroupReport(report));
    if (f.json) await writeJsonFile(f.json, report);
  } finally {
    net.dispose();
  }
}

export interface EvaluateFlags {
  /** `split`: both groups on it; default the dataset's evalSplits (VOC: Main val / Segmentation val). */
  model: string; teacher?: string; data?: string; split?: string; attribution: string; limit?: number; json?: string;
  skipBad?: boolean;
}

export async function evaluateCommand(f: EvaluateFlags): Promise<void> {
  const { net, meta } = await loadModel(f.model);
  const data = datasetForModel(openDataset(f.data ?? String(meta.dataset ?? 'shapes'), { imageSize: net.inputSize[0], skipBad: f.skipBad }), net);
  checkClassCount(f.model, net, data);
  if (f.split !== undefined && !['train', 'val', 'test'].includes(f.split)) throw new Error(`--split must be train, val or test, got '${f.split}'`);
  const split = f.split as 'train' | 'val' | 'test' | undefined;
  const splits = evalSplitsFor({ data, split });
  const methods = parseAttributionList(f.attribution);
  let teacherMaps;
  if (f.teacher) {
    const t = await loadModel(f.teacher);
    checkClassCount(f.teacher, t.net, data);
    const pairs = maskPairs(data, splits.localization, f.limit);
    teacherMaps = new Map(methods.map((m) => [m, computePairMaps(t.net, data, splits.localization, pairs, m)] as const));
    t.net.dispose();
  }
  const ev = await evaluateModel(net, { data, split, methods, limit: f.limit, teacherMaps });
  const out = { model: resolve(f.model), teacher: f.teacher ? resolve(f.teacher) : undefined, dataset: data.info.name,
    split: splits.prediction === splits.localization ? splits.prediction : undefined, ...ev };
  if (f.json) await writeJsonFile(f.json, out);
  const both = splits.prediction === splits.localization;
  process.stdout.write(`mAP ${ev.mAP.toFixed(2)} · F1 ${ev.f1.toFixed(2)}${both ? '' : ` (${splits.prediction})`}\n`);
  for (const [m, e] of Object.entries(ev.attribution)) {
    process.stdout.write(`${m}: AUC ${e.auc.toFixed(3)} · pointing ${(100 * e.pointing).toFixed(1)} % (${e.localization.nCounted} ${both ? '' : `${splits.localization} `}pairs)`
      + (e.agreement ? ` · agreement cosine ${e.agreement.cosine.toFixed(3)} · spearman ${e.agreement.spearman.toFixed(3)} · top15%IoU ${e.agreement.topkIoU.toFixed(3)}` : '')
      + conservationText(e.conservation) + '\n');
  }
  net.dispose();
}

/** ' · Σmap/z_c 0.98' (LRP, RAP; RAP also before clipping) or ' · map sum 1.000' (EBP); '' otherwise. */
function conservationText(c: Conservation | undefined): string {
  if (!c || c.n === 0) return '';
  if (c.mapSum !== undefined) return ` · map sum ${c.mapSum.toFixed(3)}`;
  const r = c.relevanceRatio !== undefined && Math.abs(c.relevanceRatio - (c.mapRatio ?? NaN)) > 5e-4 ? ` (ΣR/z_c ${c.relevanceRatio.toFixed(3)})` : '';
  return c.mapRatio !== undefined ? ` · Σmap/z_c ${c.mapRatio.toFixed(3)}${r}` : '';
}

export interface RunFlags {
  preset: string; data: string; seed: number; out: string; quiet: boolean; skipBad?: boolean; arch?: string; init?: string;
  /** Input size (default the dataset's: 64, VOC 227); an `--init` model fixes its own. */
  imageSize?: number;
}

/** Output i is the dataset's class i: a count mismatch names both. */
function checkClassCount(path: string, net: GraphNet, data: Dataset): void {
  const K = data.info.classNames.length;
  if (net.numClasses !== K) throw new Error(`${path} has ${net.numClasses} outputs but ${data.info.name} has ${K} classes (output i must be class i)`);
}

export async function runCommand(f: RunFlags): Promise<void> {
  const preset = STUDY_PRESETS[f.preset];
  if (!preset) throw new Error(`--preset '${f.preset}' is unknown; use one of ${Object.keys(STUDY_PRESETS).join(', ')}`);
  const init = f.init ? await loadModel(f.init) : undefined;
  try {
    // --image-size, else the dataset's own size (64, VOC 227); an initial model fixes its own
    if (init && f.imageSize !== undefined && f.imageSize !== init.net.inputSize[0]) {
      throw new Error(`--image-size ${f.imageSize} conflicts with --init ${f.init}, whose input is ${init.net.inputSize.join('×')}`);
    }
    const data = openDataset(f.data, { skipBad: f.skipBad, imageSize: init ? init.net.inputSize[0] : f.imageSize });
    if (init) process.stderr.write(`run: teacher starts from ${f.init}; ${describeNormalization(init.net)}${init.notes.length ? `; ${init.notes.join('; ')}` : ''}\n`);
    const started = Date.now();
    const results = await runStudy({ data, preset, seed: f.seed, outDir: f.out, quiet: f.quiet, arch: f.arch, init: init?.net });
    process.stdout.write(`\n${formatResultsTable(results)}\n\nresults: ${resolve(f.out, 'results.json')} · ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    for (const s of results.skipped ?? []) process.stdout.write(`skipped ${s.what}: ${s.reason}\n`);
    process.stdout.write(`report: ${resolve(f.out, 'report.html')}\n`);
  } finally {
    init?.net.dispose();
  }
}
