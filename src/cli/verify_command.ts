/**
 * `apc verify`: the attribution regression gate for CI. Flags → `verifyStudent`; prints the
 * table, writes JSON / JUnit XML / pictures of the worst pairs. Exit 0 all checks pass, 1 a check
 * fails, 2 bad input (flags, files, datasets) or anything else that stops the check.
 */
import { resolve } from 'node:path';
import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import { parseAttributionList } from '../attribution/registry.js';
import { describeBackend, initBackend } from '../engine/backend.js';
import { writeFileAtomic, writeJsonFile } from '../engine/files.js';
import { openDataset } from '../data/registry.js';
import { datasetForModel } from '../models/input_normalization.js';
import { loadModel } from '../models/load_model.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { DEFAULT_VERIFY_THRESHOLDS, verifyStudent } from '../pipeline/verify.js';
import { formatVerifyTable, saveWorstPairImages, verifyJunitXml } from '../report/verify_output.js';
import { APC_VERSION } from '../version.js';

/** An error that ends the command with this exit code (`main` honours `exitCode`). */
export class ExitCodeError extends Error {
  constructor(message: string, readonly exitCode: number, readonly alreadyPrinted = false) {
    super(message);
    this.name = 'ExitCodeError';
  }
}

export interface VerifyFlags {
  teacher: string; student: string; data?: string; skipBad?: boolean; methods: string;
  minCosine?: number; maxAucDrop?: number; maxMapDrop?: number; limit: number; seed: number; worst: number;
  out?: string; json?: string; junit?: string;
}

function num(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number, got '${v}'`);
    return n;
  };
}
function int(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

export function registerVerify(program: Command): void {
  const d = DEFAULT_VERIFY_THRESHOLDS;
  program.command('verify')
    .description('CI gate: exit 1 when a student\'s explanations or accuracy drift from its teacher\'s past thresholds (2 on bad input)')
    .requiredOption('--teacher <model>', 'the reference model (checkpoint, .onnx or model.json)')
    .requiredOption('--student <model>', 'the model to check (re-compressed, exported, fine-tuned)')
    .option('--data <spec>', 'dataset: shapes, mnist-multi or voc:PATH (default: the teacher checkpoint\'s)')
    .option('--skip-bad', 'VOC: leave out unreadable or inconsistent files instead of stopping', false)
    .option('--methods <list>', 'comma-separated attribution methods checked', 'gradcam')
    .option('--min-cosine <x>', `lowest mean cosine of the student's maps with the teacher's, teacher top-1 class, per method (default ${d.minCosine})`, num('--min-cosine'))
    .option('--max-auc-drop <y>', `largest drop of the localisation pixel AUC, per method (default ${d.maxAucDrop})`, num('--max-auc-drop'))
    .option('--max-map-drop <z>', `largest drop of mAP in points, ×100 scale (default ${d.maxMapDrop})`, num('--max-map-drop'))
    .option('--limit <n>', 'images sampled from each evaluation split', int('--limit', 1), 64)
    .option('--seed <n>', 'seed of the sample (same seed, same images)', int('--seed', 0), 0)
    .option('--worst <n>', 'worst-agreeing pairs pictured per method (with --out)', int('--worst', 0), 3)
    .option('--out <dir>', 'write the worst pairs as PNGs (input, teacher map, student map) here')
    .option('--json <file>', 'write the checks as JSON')
    .option('--junit <file>', 'write the checks as JUnit XML (one test case per check)')
    .exitOverride((err: CommanderError) => {
      if (err.exitCode === 0) process.exit(0); // --help, as commander itself ends it
      throw new ExitCodeError(err.message, 2, true);
    })
    .action(async (opts: VerifyFlags) => {
      const info = await initBackend(program.opts().backend);
      process.stderr.write(`apc ${APC_VERSION} · backend: ${describeBackend(info)}\n`);
      await verifyCommand(opts);
    });
}

/** Loads both models and the data (any failure: exit 2), runs the checks, writes the outputs; exit 1 on a failed check. */
export async function verifyCommand(f: VerifyFlags): Promise<void> {
  const nets: GraphNet[] = [];
  try {
    let setup;
    try {
      const methods = parseAttributionList(f.methods);
      const t = await loadModel(f.teacher);
      nets.push(t.net);
      const s = await loadModel(f.student);
      nets.push(s.net);
      const [h, w] = t.net.inputSize;
      if (s.net.inputSize[0] !== h || s.net.inputSize[1] !== w || s.net.numClasses !== t.net.numClasses) {
        throw new Error(`--student ${f.student} takes ${s.net.inputSize.join('×')} images with ${s.net.numClasses} classes; --teacher ${f.teacher} takes ${h}×${w} with ${t.net.numClasses}`);
      }
      const data = datasetForModel(openDataset(f.data ?? String(t.meta.dataset ?? 'shapes'), { imageSize: h, skipBad: f.skipBad }), t.net);
      if (t.net.numClasses !== data.info.classNames.length) {
        throw new Error(`${f.teacher} has ${t.net.numClasses} outputs but ${data.info.name} has ${data.info.classNames.length} classes`);
      }
      setup = { methods, teacher: t.net, student: s.net, data };
    } catch (err) {
      throw new ExitCodeError(`verify: bad input: ${err instanceof Error ? err.message : String(err)}`, 2);
    }
    let report;
    try {
      report = await verifyStudent(setup.teacher, setup.student, {
        data: setup.data, methods: setup.methods, limit: f.limit, seed: f.seed, worst: f.worst,
        thresholds: { ...(f.minCosine !== undefined ? { minCosine: f.minCosine } : {}), ...(f.maxAucDrop !== undefined ? { maxAucDrop: f.maxAucDrop } : {}),
          ...(f.maxMapDrop !== undefined ? { maxMapDrop: f.maxMapDrop } : {}) },
      });
    } catch (err) {
      throw new ExitCodeError(`verify: ${err instanceof Error ? err.message : String(err)}`, 2);
    }
    process.stdout.write(`teacher ${f.teacher} · student ${f.student} · ${report.dataset}: ${report.images.prediction} ${report.splits.prediction} images`
      + `${report.splits.localization === report.splits.prediction ? '' : `, ${report.images.localization} ${report.splits.localization}`} (seed ${report.seed}) · ${report.seconds.toFixed(1)} s\n\n`);
    process.stdout.write(`${formatVerifyTable(report)}\n`);
    const { sampled: _s, ...summary } = report;
    if (f.json) await writeJsonFile(f.json, { teacher: resolve(f.teacher), student: resolve(f.student), ...summary });
    if (f.junit) await writeFileAtomic(f.junit, verifyJunitXml(report));
    if (f.out && report.worst.length) {
      const files = await saveWorstPairImages(report, setup.teacher, setup.student, f.out);
      process.stdout.write(`worst pairs: ${files.length} PNGs in ${resolve(f.out)}\n`);
    }
    if (!report.passed) throw new ExitCodeError(`verify: ${report.checks.filter((c) => !c.passed).map((c) => c.name).join(', ')} past the threshold`, 1);
  } finally {
    for (const n of nets) n.dispose();
  }
}
