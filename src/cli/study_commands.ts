/** `apc compress`, `apc evaluate`, `apc run`: flags → library calls. */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
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
import { qatRecipe, quantizationAwareFineTune } from '../pipeline/qat.js';
import { type AgreementPairSet, type Conservation, evalSplitsFor, evaluateModel, teacherAgreementMaps } from '../pipeline/evaluate_model.js';
import { describeRecipes, recipesFor, teacherStartOf } from '../pipeline/dataset_presets.js';
import { writeJsonFile } from '../engine/files.js';
import type { FaithfulnessResult } from '../eval/faithfulness.js';
import { acquireOutputLock } from '../engine/output_lock.js';
import type { NonFinitePolicy } from '../train/non_finite.js';
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
  /** A non-finite loss or gradient: stop (default) or skip the batch. */
  onNonfinite?: NonFinitePolicy;
}

export async function compressCommand(f: CompressFlags): Promise<void> {
  if (!['kd', 'structured', 'unstructured', 'qat'].includes(f.method)) throw new Error(`--method must be kd, structured, unstructured or qat, got '${f.method}'`);
  if (f.rate !== undefined && !(f.rate > 0 && f.rate < 1)) throw new Error(`--rate must be in (0, 1), got ${f.rate}`);
  if (f.explainGroups) return explainGroups(f);
  if (f.matchLayer !== undefined && f.match === 'none') throw new Error('--match-layer needs --match ewa or wcam');
  const unlock = acquireOutputLock(f.out, `apc ${process.argv.slice(2).join(' ')}`);
  try {
    await compressLocked(f);
  } finally {
    unlock();
  }
}

async function compressLocked(f: CompressFlags): Promise<void> {
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
  const common = { data, teacher, teacherDir: resolve(f.teacher), matching, seed: f.seed, outDir: f.out, resume: f.resume, quiet: f.quiet, onNonFinite: f.onNonfinite };
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
    if (f.method === 'qat') {
      const r = await quantizationAwareFineTune({ ...common, recipe: { ...withEpochs(qatRecipe(recipes), f.epochs), trainLimit: f.trainLimit } });
      process.stdout.write(`qat uint8+${f.match}: best val mAP of the uint8 model ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} · ${r.seconds.toFixed(0)} s · ${r.bestDir} (apc export --format tfjs writes it as uint8)\n`);
      r.net.dispose();
      return;
    }
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

/** Localisation and agreement flags shared by `apc evaluate` and `apc run` (evaluation spec §2.5, E4, §3). */
export interface EvaluationFlags {
  pointingTolerance?: number; voidAsBackground?: boolean; agreementPairs?: string; records?: string;
}

const AGREEMENT_PAIR_FLAGS: Record<string, AgreementPairSet> = { 'both-positive': 'bothPositive', 'teacher-top1': 'teacherTop1' };

/** Adds --pointing-tolerance, --void-as-background, --agreement-pairs and --records to a command. */
export function addEvaluationOptions(cmd: Command): Command {
  const px = (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--pointing-tolerance must be a number of pixels ≥ 0, got '${v}'`);
    return n;
  };
  return cmd
    .option('--pointing-tolerance <px>', 'pointing game: a hit if the class lies within this many pixels of the peak (default 0 = the exact pixel; the original game used 15)', px)
    .option('--void-as-background', 'compat E4: void pixels count as background negatives in the pixel AUC (default: left out)', false)
    .addOption(new Option('--agreement-pairs <set>', 'agreement pairs: both-positive (mask classes with z_c > 0 for teacher and student) or teacher-top1 (every image, the teacher\'s top-1 class)')
      .choices(Object.keys(AGREEMENT_PAIR_FLAGS)).default('both-positive'))
    .option('--records <file>', 'write every (image, class) pair\'s localisation and agreement record as JSON');
}

/** The library options of the evaluation flags. */
function evaluationOptions(f: EvaluationFlags) {
  return {
    localization: { pointingTolerancePx: f.pointingTolerance ?? 0, voidAsBackground: f.voidAsBackground ?? false },
    agreementPairs: AGREEMENT_PAIR_FLAGS[f.agreementPairs ?? 'both-positive'],
  };
}

export interface EvaluateFlags extends EvaluationFlags {
  /** `split`: both groups on it; default the dataset's evalSplits (VOC: Main val / Segmentation val). */
  model: string; teacher?: string; data?: string; split?: string; attribution: string; limit?: number; json?: string;
  skipBad?: boolean;
  /** Also compute deletion/insertion faithfulness (20 steps; every predicted pair within --limit). */
  faithfulness?: boolean;
  /** Baseline of the faithfulness curves: 'blur' (default) or 'road'. */
  faithfulnessBaseline?: string;
}

export async function evaluateCommand(f: EvaluateFlags): Promise<void> {
  const { net, meta } = await loadModel(f.model);
  const data = datasetForModel(openDataset(f.data ?? String(meta.dataset ?? 'shapes'), { imageSize: net.inputSize[0], skipBad: f.skipBad }), net);
  checkClassCount(f.model, net, data);
  if (f.split !== undefined && !['train', 'val', 'test'].includes(f.split)) throw new Error(`--split must be train, val or test, got '${f.split}'`);
  const split = f.split as 'train' | 'val' | 'test' | undefined;
  const splits = evalSplitsFor({ data, split });
  const methods = parseAttributionList(f.attribution);
  if (f.faithfulnessBaseline !== undefined && !['blur', 'road'].includes(f.faithfulnessBaseline)) {
    throw new Error(`--faithfulness-baseline must be blur or road, got '${f.faithfulnessBaseline}'`);
  }
  const faithfulness = f.faithfulness || f.faithfulnessBaseline !== undefined
    ? { baseline: (f.faithfulnessBaseline ?? 'blur') as 'blur' | 'road' } : undefined;
  const evaluation = evaluationOptions(f);
  if (evaluation.agreementPairs === 'teacherTop1' && !f.teacher) throw new Error('--agreement-pairs teacher-top1 needs --teacher');
  let teacher;
  let teacherMaps;
  if (f.teacher) {
    teacher = (await loadModel(f.teacher)).net;
    checkClassCount(f.teacher, teacher, data);
    teacherMaps = await teacherAgreementMaps(teacher, { data, split, methods, limit: f.limit, ...evaluation });
  }
  const ev = await evaluateModel(net, { data, split, methods, limit: f.limit, teacherMaps, faithfulness, teacherNet: teacher,
    keepRecords: f.records !== undefined, ...evaluation });
  teacher?.dispose();
  const { records, ...summary } = ev;
  const out = { model: resolve(f.model), teacher: f.teacher ? resolve(f.teacher) : undefined, dataset: data.info.name,
    split: splits.prediction === splits.localization ? splits.prediction : undefined, ...summary };
  if (f.json) await writeJsonFile(f.json, out);
  if (f.records) await writeJsonFile(f.records, { model: out.model, teacher: out.teacher, dataset: out.dataset, splits, ...evaluation, records });
  const both = splits.prediction === splits.localization;
  // ' [lo, hi]': the metric's 95 % bootstrap interval over test images, when there is one
  const ci = (key: string, d: number, scale = 1) => {
    const c = ev.ci95?.[key];
    return c ? ` [${(scale * c[0]).toFixed(d)}, ${(scale * c[1]).toFixed(d)}]` : '';
  };
  process.stdout.write(`mAP ${ev.mAP.toFixed(2)}${ci('mAP', 2)} · F1 ${ev.f1.toFixed(2)}${ci('f1', 2)}${both ? '' : ` (${splits.prediction})`}\n`);
  for (const [m, e] of Object.entries(ev.attribution)) {
    process.stdout.write(`${m}: AUC ${e.auc.toFixed(3)}${ci(`${m}.auc`, 3)} · pointing ${(100 * e.pointing).toFixed(1)} %${ci(`${m}.pointing`, 1, 100)} (${e.localization.nCounted} ${both ? '' : `${splits.localization} `}pairs)`
      + (e.agreement ? ` · agreement cosine ${e.agreement.cosine.toFixed(3)}${ci(`${m}.cosine`, 3)} · spearman ${e.agreement.spearman.toFixed(3)}${ci(`${m}.spearman`, 3)}`
        + ` · top15%IoU ${e.agreement.topkIoU.toFixed(3)}${ci(`${m}.topkIoU`, 3)}` : '')
      + conservationText(e.conservation) + faithfulnessText(e.faithfulness) + '\n');
  }
  if (ev.ciMethod) process.stdout.write(`[lo, hi]: ${ev.ciMethod.description}\n`);
  if (ev.matchedMapCosine) process.stdout.write(`matched-layer map cosine ${ev.matchedMapCosine.mean.toFixed(3)} (median ${ev.matchedMapCosine.median.toFixed(3)}, ${ev.matchedMapCosine.n} images)\n`);
  net.dispose();
}

/** ' · deletion AUC 0.081 · insertion AUC 0.899 (64 pairs, 20 steps, blur)' or ''. */
function faithfulnessText(r: FaithfulnessResult | undefined): string {
  return r ? ` · deletion AUC ${r.deletionAuc.toFixed(3)} · insertion AUC ${r.insertionAuc.toFixed(3)} (${r.nPairs} pairs, ${r.steps} steps, ${r.baseline})` : '';
}

/** ' · Σmap/z_c 0.98' (LRP, RAP; RAP also before clipping) or ' · map sum 1.000' (EBP); '' otherwise. */
function conservationText(c: Conservation | undefined): string {
  if (!c || c.n === 0) return '';
  if (c.mapSum !== undefined) return ` · map sum ${c.mapSum.toFixed(3)}`;
  const r = c.relevanceRatio !== undefined && Math.abs(c.relevanceRatio - (c.mapRatio ?? NaN)) > 5e-4 ? ` (ΣR/z_c ${c.relevanceRatio.toFixed(3)})` : '';
  return c.mapRatio !== undefined ? ` · Σmap/z_c ${c.mapRatio.toFixed(3)}${r}` : '';
}

export interface RunFlags extends EvaluationFlags {
  preset: string; data: string; seed: number; out: string; quiet: boolean; skipBad?: boolean; arch?: string; init?: string;
  /** Print the deletion/insertion AUC columns and the sanity-check line. */
  faithfulness?: boolean;
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
  const unlock = acquireOutputLock(f.out, `apc ${process.argv.slice(2).join(' ')}`);
  const init = f.init ? await loadModel(f.init).catch((err) => { unlock(); throw err; }) : undefined;
  try {
    // --image-size, else the dataset's own size (64, VOC 227); an initial model fixes its own
    if (init && f.imageSize !== undefined && f.imageSize !== init.net.inputSize[0]) {
      throw new Error(`--image-size ${f.imageSize} conflicts with --init ${f.init}, whose input is ${init.net.inputSize.join('×')}`);
    }
    const data = openDataset(f.data, { skipBad: f.skipBad, imageSize: init ? init.net.inputSize[0] : f.imageSize });
    if (init) process.stderr.write(`run: teacher starts from ${f.init}; ${describeNormalization(init.net)}${init.notes.length ? `; ${init.notes.join('; ')}` : ''}\n`);
    const started = Date.now();
    const { localization, agreementPairs } = evaluationOptions(f);
    const results = await runStudy({ data, preset, seed: f.seed, outDir: f.out, quiet: f.quiet, arch: f.arch, init: init?.net,
      evaluation: { ...localization, agreementPairs }, recordsFile: f.records });
    process.stdout.write(`\n${formatResultsTable(results, 'gradcam', { faithfulness: f.faithfulness })}\n\nresults: ${resolve(f.out, 'results.json')} · ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    for (const s of results.skipped ?? []) process.stdout.write(`skipped ${s.what}: ${s.reason}\n`);
    process.stdout.write(`report: ${resolve(f.out, 'report.html')}\n`);
  } finally {
    init?.net.dispose();
    unlock();
  }
}
