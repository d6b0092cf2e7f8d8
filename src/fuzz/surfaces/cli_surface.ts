/**
 * The CLI's flags, fuzzed in-process: valid command lines are mutated (tokens deleted, duplicated,
 * swapped, replaced by hostile values or other commands' flags …) and parsed by the real program
 * from `buildProgram()` with `exitOverride()` on every command, output captured and every action
 * replaced by a stub — what is fuzzed is the flag parsing and validation, not the commands' work.
 * A case must either reach an action or fail with one CommanderError naming the flag, argument or
 * command concerned.
 */
import { Command, CommanderError } from 'commander';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../engine/random.js';
import { pick } from '../mutations.js';
import type { FileSet, FuzzSurface } from '../surface.js';

/** Valid command lines (after `apc`), one per command and a few flag combinations. */
export const VALID_COMMAND_LINES: readonly string[][] = [
  ['train', '--data', 'shapes', '--epochs', '2', '--width', '8', '--seed', '3', '--out', 'runs/t'],
  ['train', '--arch', 'resnet18', '--image-size', '32', '--batch-size', '16', '--lr', '0.01', '--resume', '--quiet'],
  ['compress', '--teacher', 'runs/t/best', '--method', 'structured', '--rate', '0.3', '--rounds', '2', '--match', 'ewa', '--beta', '1'],
  ['compress', '--teacher', 't.onnx', '--method', 'kd', '--width', '4', '--stochastic', '0.2', '--match-classes', 'positive', '--beta-warmup', '10'],
  ['evaluate', '--model', 'runs/s/best', '--attribution', 'gradcam,lrp', '--limit', '10', '--json', 'e.json', '--split', 'val'],
  ['explain', '--model', 'm', '--image', 'x.png', '--method', 'lrp', '--alpha', '0.3', '--scale', '2', '--out', 'o.png'],
  ['explain', '--model', 'm', '--data', 'shapes', '--index', '3', '--compare', 'a', 'b', '--out', 'o.png'],
  ['run', '--preset', 'quick', '--data', 'shapes', '--seed', '1', '--out', 'runs/study'],
  ['report', '--results', 'runs/study', '--heatmaps', 'gradcam,lrp', '--seed', '2', '--inline'],
  ['import', 'model.onnx', '--out', 'imp', '--mean', '0.1,0.2,0.3', '--std', '1,1,1', '--bgr'],
  ['import', 'w.safetensors', '--out', 'imp', '--template', 'torchvision:vgg16_bn', '--width', '8', '--num-classes', '20'],
  ['export', '--model', 'm', '--format', 'onnx', '--out', 'm.onnx'],
  ['predict', '--model', 'm', '--input', 'x.npy', '--layout', 'nhwc', '--out', 'y.npy'],
  ['--backend', 'cpu', 'train', '--quiet'],
];

const HOSTILE = ['-1', '0', 'NaN', 'Infinity', '1e309', '-0', '0x10', '1.5', '', ' ', '--', '-', '\u0000', 'x'.repeat(5000), '../../..', 'ü', '9007199254740993', '--help', '--version', '-h'];

type ArgvMutation = (argv: string[], rng: Rng, all: readonly string[][]) => string;

const MUTATIONS: Record<string, ArgvMutation> = {
  deleteToken: (a, rng) => { if (a.length === 0) return 'nothing to delete'; const [t] = a.splice(rng.int(a.length), 1); return `delete '${t}'`; },
  duplicateToken: (a, rng) => { if (a.length === 0) return 'nothing to duplicate'; const i = rng.int(a.length); a.splice(i, 0, a[i]); return `duplicate '${a[i]}'`; },
  swapTokens: (a, rng) => { if (a.length < 2) return 'nothing to swap'; const i = rng.int(a.length - 1); [a[i], a[i + 1]] = [a[i + 1], a[i]]; return `swap tokens ${i}, ${i + 1}`; },
  hostileValue: (a, rng) => { const i = rng.int(a.length); const v = pick(rng, HOSTILE); const was = a[i]; a[i] = v; return `'${was}' := ${JSON.stringify(v.slice(0, 20))}`; },
  foreignFlag: (a, rng, all) => {
    const other = pick(rng, all);
    const flags = other.filter((t) => t.startsWith('--'));
    const j = other.indexOf(pick(rng, flags));
    const take = other.slice(j, j + 1 + rng.int(2));
    a.splice(rng.int(a.length + 1), 0, ...take);
    return `insert '${take.join(' ')}'`;
  },
  unknownFlag: (a, rng) => { const f = pick(rng, ['--nope', '-z', '--data-', '--WIDTH', '---width', '--no-quiet']); a.splice(rng.int(a.length + 1), 0, f); return `insert '${f}'`; },
  joinEquals: (a, rng) => {
    const i = a.findIndex((t, k) => t.startsWith('--') && k + 1 < a.length && !a[k + 1].startsWith('--') && rng.next() < 0.5);
    if (i < 0) return 'no flag to join';
    a.splice(i, 2, `${a[i]}=${a[i + 1]}`);
    return `join ${a[i]}`;
  },
  truncateArgv: (a, rng) => { const n = rng.int(a.length + 1); a.length = n; return `keep the first ${n} tokens`; },
  command: (a, rng) => { const c = pick(rng, ['trian', 'Train', 'help', '', 'import', 'sweep', 'run']); a[a[0] === '--backend' ? 2 : 0] = c; return `command := '${c}'`; },
};

/** The program with every command's process exit and output captured, and every action stubbed. */
function capturedProgram(buildProgram: () => Command, out: string[]): { program: Command; ran: string[] } {
  const program = buildProgram();
  const ran: string[] = [];
  const visit = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => { out.push(s); }, writeErr: (s) => { out.push(s); }, outputError: (s) => { out.push(s); } });
    if (cmd !== program) cmd.action(() => { ran.push(cmd.name()); });
    for (const c of cmd.commands) visit(c);
  };
  visit(program);
  return { program, ran };
}

export function cliSurface(): FuzzSurface {
  let buildProgram: (() => Command) | undefined;
  return {
    name: 'cli',
    async seeds() {
      buildProgram = (await import('../../cli/main.js')).buildProgram;
      return VALID_COMMAND_LINES.map((argv) => ({ 'argv.json': Buffer.from(JSON.stringify(argv)) }));
    },
    makeCase(seeds: readonly FileSet[], rng: Rng, caseDir: string) {
      const all = seeds.map((s) => JSON.parse(Buffer.from(s['argv.json']).toString('utf8')) as string[]);
      const argv = [...pick(rng, all)];
      const steps: string[] = [];
      for (let r = 1 + rng.int(3); r > 0; r--) steps.push(MUTATIONS[pick(rng, Object.keys(MUTATIONS))](argv, rng, all));
      writeFileSync(join(caseDir, 'argv.json'), JSON.stringify(argv));
      return `${steps.join('; ')} → apc ${argv.map((t) => (t.length > 30 ? `${t.slice(0, 30)}…` : t)).join(' ')}`;
    },
    async load(caseDir) {
      const argv = JSON.parse(readFileSync(join(caseDir, 'argv.json'), 'utf8')) as string[];
      const out: string[] = [];
      const { program, ran } = capturedProgram(buildProgram!, out);
      try {
        await program.parseAsync(argv, { from: 'user' });
      } catch (err) {
        // help and version output are answers, not errors
        if (err instanceof CommanderError && ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)) return;
        throw err;
      }
      if (ran.length !== 1 && argv.length > 0) throw new Error(`parsed without error but ran ${ran.length} actions (${ran.join(', ')})`);
    },
    isCleanError: (err) => err instanceof CommanderError,
    // Commander adds its suggestion on a second line; the CLI prints both, which is fine
    errorMessage: (err) => err.message.replace(/\n\(Did you mean (.*)\?\)$/, ' (Did you mean $1?)'),
    // Commander's messages quote what they are about: the option, argument or command
    namesInput: (message) => /'[^']*'/.test(message),
  };
}
