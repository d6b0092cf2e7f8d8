#!/usr/bin/env node
/**
 * apc command line. Parses flags into validated options and calls the library; no logic here.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeBackend, initBackend } from '../engine/backend.js';
import { installInterruptHandlers, InterruptedError, signalExitCode } from '../engine/interrupt.js';
import { DEFAULT_MAX_SKIPPED_BATCHES, NON_FINITE_POLICIES } from '../train/non_finite.js';
import { APC_VERSION } from '../version.js';
import { BadInputError, commandBadInputLog } from '../data/bad_input.js';
import { DATASET_KINDS } from '../data/registry.js';
import { ATTRIBUTION_ALIASES, kinds as attributionKinds } from '../attribution/registry.js';
import { COLORMAPS, DEFAULT_COLORMAP } from '../report/colormap.js';
import { explainCommand } from './explain_command.js';
import { addEvaluationOptions, compressCommand, evaluateCommand, runCommand } from './study_commands.js';
import { reportCommand, reportNeedsBackend } from './report_command.js';
import { trainCommand } from './train_command.js';
import { registerViewerCommand } from './viewer_command.js';
import { registerVerify } from './verify_command.js';
import { registerSweepCommand } from './sweep_command.js';
import { registerWorkerCommand } from './worker_command.js';
import { registerExportDatasetCommand } from './export_dataset_command.js';
import { exportCommand, importCommand, predictCommand } from './model_commands.js';
import { ARCHS } from '../models/model_config.js';
import { TEMPLATES } from '../models/import/torchvision_templates.js';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}
function num(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got '${v}'`);
    return n;
  };
}

const DATASETS = `${DATASET_KINDS.slice(0, -1).join(', ')} or ${DATASET_KINDS.at(-1)} (PATH: a VOC2012 folder)`;
const DATA_HELP = `dataset: ${DATASETS}`;
const SKIP_BAD_HELP = 'VOC: leave out unreadable or inconsistent files (counted, reported at the end) instead of stopping';
const MODEL_HELP = 'checkpoint directory, or a model file: .onnx (PyTorch export) or a TF.js/Keras model.json';
const ARCH_HELP = `architecture: ${ARCHS.join(', ')} (below 128 px each family uses its small-input layout: VGG16 4 blocks, ResNet 3×3/1 stem, MobileNetV2 stride-1 64- and 160-channel stages)`;

export function buildProgram(): Command {
  const program = new Command('apc')
    .description('Attribution-preserving network compression on TensorFlow.js')
    .version(APC_VERSION)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (default: tfjs-node if installed, else wasm); also APC_BACKEND').choices(['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu']))
    .showHelpAfterError();

  program.command('train')
    .description('train a teacher CNN from scratch (writes OUT/best and OUT/last checkpoints)')
    .option('--data <spec>', DATA_HELP, 'shapes')
    .option('--skip-bad', SKIP_BAD_HELP, false)
    .addOption(new Option('--arch <name>', ARCH_HELP).choices([...ARCHS]).default('vgg16'))
    .option('--width <n>', 'width divisor of the family\'s full widths: 1, 2, 4, 8 …', int('--width', 1), 4)
    .option('--init <model>', `start from these weights instead of a fresh network (${MODEL_HELP}; e.g. apc import … --template torchvision:vgg16_bn)`)
    .option('--image-size <n>', 'input height and width in pixels (default: the dataset\'s, 64; VOC 227)', int('--image-size', 8))
    .option('--epochs <n>', 'training epochs (default: the dataset recipe)', int('--epochs', 1))
    .option('--batch-size <n>', 'mini-batch size', int('--batch-size', 1))
    .option('--lr <x>', 'initial learning rate', num('--lr'))
    .option('--train-limit <n>', 'use only the first N training images', int('--train-limit', 1))
    .option('--seed <n>', 'random seed (weights, order, augmentation, dropout)', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/teacher')
    .option('--resume', 'continue from OUT/last if it exists', false)
    .addOption(new Option('--on-nonfinite <policy>', `a NaN/Infinity loss or gradient: stop the stage (keeping the last good checkpoint) or skip the batch (at most ${DEFAULT_MAX_SKIPPED_BATCHES} per stage)`).choices([...NON_FINITE_POLICIES]).default('stop'))
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      await announceBackend(program);
      await trainCommand(opts);
    });

  program.command('compress')
    .description('compress a teacher checkpoint (distillation, pruning or uint8 quantisation-aware training), with or without attribution matching')
    .requiredOption('--teacher <model>', `teacher: ${MODEL_HELP} (e.g. runs/teacher/best)`)
    .option('--data <spec>', `${DATA_HELP} (default: the teacher's)`)
    .option('--skip-bad', SKIP_BAD_HELP, false)
    .addOption(new Option('--method <m>', 'compression: kd (distil a narrower student), structured (L1 filter pruning), unstructured (iterative global magnitude pruning), qat (uint8 quantisation-aware fine-tuning of the teacher, exported with apc export --format tfjs)').choices(['kd', 'structured', 'unstructured', 'qat']).default('kd'))
    .option('--rate <x>', 'pruning rate: structured p (default 0.3), unstructured per-round r (default 0.2)', num('--rate'))
    .option('--rounds <n>', 'pruning rounds: structured iterative R (default 1), unstructured (default 16)', int('--rounds', 1))
    .addOption(new Option('--importance <kind>', 'structured: filter score, summed over a channel group\'s producers: l1 (the paper\'s) or l2 norm').choices(['l1', 'l2']).default('l1'))
    .option('--explain-groups', 'with --method structured: print the channel groups pruned together (producers, members, cut weight axes, kept width at --rate) and stop', false)
    .option('--json <file>', 'with --explain-groups: also write the groups as JSON')
    .addOption(new Option('--match <kind>', 'attribution matching regulariser').choices(['none', 'ewa', 'wcam']).default('none'))
    .option('--beta <x>', 'matching weight β (default 1, chosen by a sweep on shapes; the paper uses 100 at a 7×7 layer on VOC)', num('--beta'))
    .option('--stochastic <p>', 'stochastic matching: drop this fraction of teacher channels (0 = off)', num('--stochastic'), 0)
    .addOption(new Option('--match-classes <mode>', 'classes matched: the teacher\'s top-1, or all teacher-positive classes weighted by probability').choices(['top1', 'positive']).default('top1'))
    .option('--match-layer <name>', 'node whose maps are matched (default: the last feature map before the head; others use the explicit backward)')
    .option('--width <n>', 'KD student width divisor: of the family\'s full widths (built-in families), of every free channel group (imported graphs)', int('--width', 1), 8)
    .option('--epochs <n>', 'training epochs', int('--epochs', 1))
    .option('--train-limit <n>', 'use only the first N training images', int('--train-limit', 1))
    .option('--beta-warmup <steps>', 'ramp β linearly from 0 over this many steps (default: the first half of training)', int('--beta-warmup'))
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/student')
    .option('--resume', 'continue from OUT/last if it exists', false)
    .addOption(new Option('--on-nonfinite <policy>', `a NaN/Infinity loss or gradient: stop the stage (keeping the last good checkpoint) or skip the batch (at most ${DEFAULT_MAX_SKIPPED_BATCHES} per stage)`).choices([...NON_FINITE_POLICIES]).default('stop'))
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      await announceBackend(program);
      await compressCommand(opts);
    });

  addEvaluationOptions(program.command('evaluate'))
    .description('evaluate a checkpoint: mAP/F1, attribution localisation (AUC, pointing game) and agreement with a teacher')
    .requiredOption('--model <model>', MODEL_HELP)
    .option('--teacher <model>', 'teacher for attribution agreement (checkpoint, .onnx or model.json)')
    .option('--data <spec>', `${DATA_HELP} (default: the one in the checkpoint)`)
    .option('--skip-bad', SKIP_BAD_HELP, false)
    .option('--split <name>', 'evaluate everything on train, val or test (VOC: Main train, Main val, Segmentation val; default: the dataset\'s, test; VOC: mAP/F1 on Main val, localisation on Segmentation val)')
    .option('--attribution <list>', 'comma-separated methods: gradcam, lrp, rap, ebp, ig, smoothgrad, gradxinput (alias gxi)', 'gradcam')
    .option('--limit <n>', 'evaluate only the first N images', int('--limit', 1))
    .option('--json <file>', 'write the full evaluation as JSON')
    .option('--faithfulness', 'also compute deletion/insertion AUC of each method (20 steps of 5 %, blurred baseline, predicted pairs)', false)
    .option('--faithfulness-baseline <b>', 'baseline of the faithfulness curves: blur or road (noisy linear imputation); implies --faithfulness')
    .action(async (opts) => {
      await announceBackend(program);
      await evaluateCommand(opts);
    });

  program.command('explain')
    .description('heat-map PNG of one image: input with the class\'s mask outline, then one overlay per model')
    .requiredOption('--model <model>', MODEL_HELP)
    .option('--image <file>', 'a .png or .jpg image (resized to the model\'s input size)')
    .option('--data <spec>', `take the image from this dataset: ${DATASETS}`)
    .option('--split <name>', 'with --data: train, val or test', 'test')
    .option('--index <n>', 'with --data: image index in the split', int('--index'), 0)
    .addOption(new Option('--method <m>', 'attribution method').choices([...attributionKinds(), ...Object.keys(ATTRIBUTION_ALIASES)]).default('gradcam'))
    .option('--layer <node>', 'gradcam, ebp: the feature-map node the map is read at (default: the last activation before the final pooling)')
    .option('--class <name>', 'class to explain (default: the first model\'s top-1 prediction)')
    .option('--compare <models...>', 'more models (checkpoints, .onnx, model.json) to explain the same image and class with')
    .addOption(new Option('--colormap <name>', 'heat-map colours').choices([...COLORMAPS]).default(DEFAULT_COLORMAP))
    .option('--scale <n>', 'integer upscale of each panel (default: panels of at least 256 px)', int('--scale', 1))
    .option('--alpha <x>', 'heat-map opacity in [0, 1]', num('--alpha'), 0.5)
    .requiredOption('--out <file>', 'PNG to write')
    .action(async (opts) => {
      await announceBackend(program);
      await explainCommand(opts);
    });

  addEvaluationOptions(program.command('run'))
    .description('the whole study: teacher, compressed students with and without matching, evaluation, results.json')
    .addOption(new Option('--preset <name>', 'quick (minutes) or full').choices(['quick', 'full', 'smoke']).default('quick'))
    .option('--data <spec>', DATA_HELP, 'shapes')
    .option('--skip-bad', SKIP_BAD_HELP, false)
    .addOption(new Option('--arch <name>', `teacher ${ARCH_HELP}; default the preset's (vgg16)`).choices([...ARCHS]))
    .option('--init <model>', `teacher starts from this model (${MODEL_HELP}); KD students divide its channel groups`)
    .option('--image-size <n>', 'input height and width in pixels (default: the dataset\'s, 64; VOC 227; an --init model\'s own)', int('--image-size', 8))
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/study')
    .option('--quiet', 'no progress output', false)
    .option('--faithfulness', 'print the deletion/insertion AUC columns and the sanity-check line in the table', false)
    .action(async (opts) => {
      await announceBackend(program);
      await runCommand(opts);
    });

  program.command('report')
    .description('write DIR/report.html: summary table, heat-map grids, plots and provenance of a study (apc run writes it too)')
    .requiredOption('--results <dir>', 'study directory holding results.json (and heatmaps/), or a sweep directory holding sweep.json, or a sweep statistics file (OUT/NAME.json of apc sweep --name)')
    .option('--inline', 'embed the heat-map pictures as data URLs (one portable file) instead of linking DIR/heatmaps', false)
    .option('--heatmaps [methods]', 'first redraw DIR/heatmaps from the checkpoints in results.json (methods: the recorded ones, or a list such as gradcam,lrp)')
    .option('--seed <n>', 'with --heatmaps: seed of the image choice (default: the study\'s)', int('--seed'))
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      if (reportNeedsBackend(opts)) await announceBackend(program);
      await reportCommand(opts);
    });

  program.command('import')
    .description('import a model file as an apc checkpoint: ONNX (PyTorch export), TF.js/Keras model.json, or a safetensors state dict onto a template')
    .argument('<file>', 'model.onnx, model.json or weights.safetensors')
    .requiredOption('--out <dir>', 'checkpoint directory to write')
    .option('--mean <r,g,b>', 'per-channel mean of the [0, 1] pixels the model expects (default 0,0,0; templates: ImageNet\'s)')
    .option('--std <r,g,b>', 'per-channel std (default 1,1,1; templates: ImageNet\'s)')
    .option('--bgr', 'the model expects BGR channel order', false)
    .addOption(new Option('--template <name>', 'safetensors: the architecture the weights belong to').choices([...TEMPLATES]))
    .option('--width <n>', 'safetensors: width divisor of the template (reduced-width copies)', int('--width', 1))
    .option('--image-size <n>', 'safetensors: input height and width (default 224, or --data\'s)', int('--image-size', 8))
    .option('--num-classes <n>', 'outputs (checked for ONNX/Keras; the size of a template\'s new head)', int('--num-classes', 1))
    .option('--data <spec>', `dataset whose classes the outputs are: ${DATASETS}`)
    .option('--seed <n>', 'seed of a template\'s new head', int('--seed'), 0)
    .action(async (file, opts) => {
      await announceBackend(program);
      await importCommand({ ...opts, file });
    });

  program.command('export')
    .description('export a model for deployment: TF.js layers (tf.loadLayersModel) or ONNX (opset 13, NCHW)')
    .requiredOption('--model <model>', MODEL_HELP)
    .addOption(new Option('--format <f>', 'output format').choices(['tfjs', 'onnx']).makeOptionMandatory())
    .requiredOption('--out <path>', 'tfjs: a directory (model.json + weights.bin); onnx: a .onnx file')
    .addOption(new Option('--quantize <dtype>', 'store weights as float16 (tfjs, onnx: FLOAT16 initializers + Cast) or affine uint8 per tensor (tfjs only; TF.js quantisation as tensorflowjs_converter writes it); default float32, or uint8 for a QAT checkpoint (tfjs)').choices(['float16', 'uint8']))
    .action(async (opts) => {
      await announceBackend(program);
      await exportCommand(opts);
    });

  program.command('predict')
    .description('write a model\'s logits for an input tensor (.npy) or an image, for scripts and checks')
    .requiredOption('--model <model>', MODEL_HELP)
    .option('--input <file>', 'float32 .npy holding the network input as is (already normalised)')
    .addOption(new Option('--layout <l>', 'layout of --input').choices(['nchw', 'nhwc']).default('nchw'))
    .option('--image <file>', 'a .png or .jpg image (resized, normalised with the model\'s metadata or its dataset\'s statistics)')
    .option('--data <spec>', 'with --image and a model without input metadata: whose statistics normalise it (default: the checkpoint\'s dataset)')
    .requiredOption('--out <file>', '.npy (float32 [N, K]) or .json')
    .action(async (opts) => {
      await announceBackend(program);
      await predictCommand(opts);
    });

  registerViewerCommand(program);
  registerVerify(program);
  registerSweepCommand(program);
  registerWorkerCommand(program);
  registerExportDatasetCommand(program);
  return program;
}

async function announceBackend(program: Command): Promise<void> {
  const info = await initBackend(program.opts().backend);
  process.stderr.write(`apc ${APC_VERSION} · backend: ${describeBackend(info)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  installInterruptHandlers();
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof InterruptedError) {
      process.stderr.write(`apc: ${err.message}\n`);
      return signalExitCode(err.signal);
    }
    if (err instanceof BadInputError) {
      // a dataset file that cannot be used: one line naming it, never a stack trace
      process.stderr.write(`apc: bad input: ${err.message}${err.skippable ? ' (--skip-bad leaves such entries out)' : ''}\n`);
      return 1;
    }
    const msg = err instanceof Error ? err.message : String(err);
    // a command may choose its exit code (apc verify: 1 a check failed, 2 bad input)
    const code = (err as { exitCode?: unknown }).exitCode;
    if (!(err as { alreadyPrinted?: boolean }).alreadyPrinted) process.stderr.write(`apc: error: ${msg}\n`);
    if (process.env.APC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return typeof code === 'number' && code > 0 ? code : 1;
  } finally {
    const skipped = commandBadInputLog.summary();
    if (skipped) process.stderr.write(`apc: ${skipped}\n`);
  }
}

/** True when this module is the process's entry point (node main.js, the npm bin symlink, tsx). */
function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Imported (the fuzz harness builds the program in-process), it must not run the CLI.
if (isEntryPoint()) process.exitCode = await main(process.argv);
