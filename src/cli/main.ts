#!/usr/bin/env node
/**
 * apc command line. Parses flags into validated options and calls the library; no logic here.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { describeBackend, initBackend } from '../engine/backend.js';
import { APC_VERSION } from '../version.js';
import { compressCommand, evaluateCommand, runCommand } from './study_commands.js';
import { trainCommand } from './train_command.js';

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

export function buildProgram(): Command {
  const program = new Command('apc')
    .description('Attribution-preserving network compression on TensorFlow.js')
    .version(APC_VERSION)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (default: tfjs-node if installed, else wasm); also APC_BACKEND').choices(['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu']))
    .showHelpAfterError();

  program.command('train')
    .description('train a teacher CNN from scratch (writes OUT/best and OUT/last checkpoints)')
    .option('--data <spec>', 'dataset: shapes', 'shapes')
    .option('--arch <name>', 'architecture: vgg16 (4-block layout below 128 px), vgg16s, vgg11', 'vgg16')
    .option('--width <n>', 'width divisor: 1 = full VGG16, 2, 4, 8 …', int('--width', 1), 4)
    .option('--image-size <n>', 'input height and width in pixels', int('--image-size', 8), 64)
    .option('--epochs <n>', 'training epochs (default: the dataset recipe)', int('--epochs', 1))
    .option('--batch-size <n>', 'mini-batch size', int('--batch-size', 1))
    .option('--lr <x>', 'initial learning rate', num('--lr'))
    .option('--train-limit <n>', 'use only the first N training images', int('--train-limit', 1))
    .option('--seed <n>', 'random seed (weights, order, augmentation, dropout)', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/teacher')
    .option('--resume', 'continue from OUT/last if it exists', false)
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      await announceBackend(program);
      await trainCommand(opts);
    });

  program.command('compress')
    .description('compress a teacher checkpoint (distillation or pruning), with or without attribution matching')
    .requiredOption('--teacher <dir>', 'teacher checkpoint directory (e.g. runs/teacher/best)')
    .addOption(new Option('--method <m>', 'compression: kd (distil a narrower student), structured (L1 filter pruning), unstructured (iterative global magnitude pruning)').choices(['kd', 'structured', 'unstructured']).default('kd'))
    .option('--rate <x>', 'pruning rate: structured p (default 0.3), unstructured per-round r (default 0.2)', num('--rate'))
    .option('--rounds <n>', 'pruning rounds: structured iterative R (default 1), unstructured (default 16)', int('--rounds', 1))
    .addOption(new Option('--match <kind>', 'attribution matching regulariser').choices(['none', 'ewa', 'wcam']).default('none'))
    .option('--beta <x>', 'matching weight β (default 1, chosen by a sweep on shapes; the paper uses 100 at a 7×7 layer on VOC)', num('--beta'))
    .option('--stochastic <p>', 'stochastic matching: drop this fraction of teacher channels (0 = off)', num('--stochastic'), 0)
    .addOption(new Option('--match-classes <mode>', 'classes matched: the teacher\'s top-1, or all teacher-positive classes weighted by probability').choices(['top1', 'positive']).default('top1'))
    .option('--width <n>', 'student width divisor (same layout as the teacher)', int('--width', 1), 8)
    .option('--epochs <n>', 'training epochs', int('--epochs', 1))
    .option('--train-limit <n>', 'use only the first N training images', int('--train-limit', 1))
    .option('--beta-warmup <steps>', 'ramp β linearly from 0 over this many steps', int('--beta-warmup'), 0)
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/student')
    .option('--resume', 'continue from OUT/last if it exists', false)
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      await announceBackend(program);
      await compressCommand(opts);
    });

  program.command('evaluate')
    .description('evaluate a checkpoint: mAP/F1, attribution localisation (AUC, pointing game) and agreement with a teacher')
    .requiredOption('--model <dir>', 'checkpoint directory')
    .option('--teacher <dir>', 'teacher checkpoint for attribution agreement')
    .option('--data <spec>', 'dataset (default: the one in the checkpoint)')
    .option('--split <name>', 'train, val or test', 'test')
    .option('--attribution <list>', 'comma-separated methods: gradcam, lrp, rap, ebp, ig, smoothgrad, gradxinput', 'gradcam')
    .option('--limit <n>', 'evaluate only the first N images', int('--limit', 1))
    .option('--json <file>', 'write the full evaluation as JSON')
    .action(async (opts) => {
      await announceBackend(program);
      await evaluateCommand(opts);
    });

  program.command('run')
    .description('the whole study: teacher, compressed students with and without matching, evaluation, results.json')
    .addOption(new Option('--preset <name>', 'quick (minutes) or full').choices(['quick', 'full', 'smoke']).default('quick'))
    .option('--data <spec>', 'dataset', 'shapes')
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--out <dir>', 'output directory', 'runs/study')
    .option('--quiet', 'no progress output', false)
    .action(async (opts) => {
      await announceBackend(program);
      await runCommand(opts);
    });

  return program;
}

async function announceBackend(program: Command): Promise<void> {
  const info = await initBackend(program.opts().backend);
  process.stderr.write(`apc ${APC_VERSION} · backend: ${describeBackend(info)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`apc: error: ${msg}\n`);
    if (process.env.APC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
