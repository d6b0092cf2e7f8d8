/** `apc sweep`: flags (and an optional grid file) → runSweep. */
import { type Command, InvalidArgumentError } from 'commander';
import { loadSweepGrid, type SweepGridInput } from '../sweep/grid.js';
import { runSweep } from '../sweep/run_sweep.js';
import { formatSweepTable } from '../report/sweep_report.js';

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
function numbers(flag: string) {
  return (v: string): number[] => list(v).map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${flag} takes comma-separated numbers, got '${s}'`);
    return n;
  });
}
function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be an integer ≥ 1, got '${v}'`);
    return n;
  };
}

interface SweepFlags {
  grid?: string; preset?: string; data?: string[]; imageSize?: number; arch?: string[]; compression?: string[]; match?: string[]; beta?: number[];
  stochastic?: number[]; rate?: number[]; seeds?: string; attribution?: string[]; trainLimit?: number; epochs?: number; limit?: number;
  out: string; name?: string; jobs?: number; retries: number; queue?: string;
}

export function registerSweepCommand(program: Command): void {
  program.command('sweep')
    .description('run a grid of studies over seeds, β and methods as independent stage jobs (local process pool, or BullMQ with --queue); writes OUT/sweep.json with means, 95 % intervals and paired tests')
    .option('--grid <file>', 'grid file (.json, .yaml): preset, datasets, imageSize, archs, compressions, matches, betas, stochastic, rates, seeds, attribution, trainLimit, epochs, testLimit; flags override its fields')
    .option('--preset <name>', 'study preset whose sizes and recipes the stages use: quick, smoke, full (default quick)')
    .option('--data <list>', 'datasets, comma-separated (default shapes)', list)
    .option('--image-size <n>', 'input height and width of every teacher (default: the dataset\'s, 64; VOC 227)', positiveInt('--image-size'))
    .option('--arch <list>', 'teacher architectures (default: the preset\'s)', list)
    .option('--compression <list>', 'kd, structured, unstructured (default all three)', list)
    .option('--match <list>', 'none, ewa, wcam (default none,wcam)', list)
    .option('--beta <list>', 'matching weights β (default: the preset\'s, 1); β = 0 is the no-matching job', numbers('--beta'))
    .option('--stochastic <list>', 'stochastic matching drop fractions (default 0)', numbers('--stochastic'))
    .option('--rate <list>', 'pruning rates (default: the preset\'s)', numbers('--rate'))
    .option('--seeds <spec>', 'seeds: 0,1,2 or 0-4 (default 0)')
    .option('--attribution <list>', 'attribution methods evaluated (default: the preset\'s)', list)
    .option('--train-limit <n>', 'every stage trains on the first N images (quick checks)', positiveInt('--train-limit'))
    .option('--epochs <n>', 'every stage trains this many epochs (quick checks)', positiveInt('--epochs'))
    .option('--limit <n>', 'evaluate the first N test images (default: the preset\'s)', positiveInt('--limit'))
    .requiredOption('--out <dir>', 'sweep directory (artifacts, job records, logs, sweep.json); with --queue a path every worker reaches')
    .option('--name <name>', 'statistics file OUT/NAME.json (default sweep): another grid over the same --out reuses its finished stages and keeps its own statistics')
    .option('--jobs <n>', 'local executor: child processes at once (default: the idle cores)', positiveInt('--jobs'))
    .option('--retries <n>', 'extra attempts of a failing job (each resumes from its checkpoint)', (v) => Number(v), 2)
    .option('--queue <url>', 'enqueue on BullMQ at this Redis URL (redis://HOST:PORT) for `apc worker`s instead of running locally')
    .action(async (f: SweepFlags) => {
      const flags: SweepGridInput = {
        preset: f.preset, datasets: f.data as SweepGridInput['datasets'], imageSize: f.imageSize, archs: f.arch as SweepGridInput['archs'],
        compressions: f.compression as SweepGridInput['compressions'], matches: f.match as SweepGridInput['matches'],
        betas: f.beta as SweepGridInput['betas'], stochastic: f.stochastic as SweepGridInput['stochastic'], rates: f.rate as SweepGridInput['rates'],
        seeds: f.seeds, attribution: f.attribution as SweepGridInput['attribution'], trainLimit: f.trainLimit, epochs: f.epochs, testLimit: f.limit,
      };
      const grid = await loadSweepGrid({ file: f.grid, flags });
      const { results, path, ok } = await runSweep({ grid, out: f.out, name: f.name, concurrency: f.jobs, queue: f.queue, retries: f.retries, backend: program.opts().backend });
      process.stdout.write(`${formatSweepTable(results)}\n`);
      const c = results.counts;
      process.stdout.write(`sweep: ${c.done}/${c.total} jobs done · ${c.failed} failed · ${c.blocked} not run · ${path}\n`);
      for (const j of results.jobs.filter((x) => x.status === 'failed')) process.stdout.write(`failed ${j.stage} ${j.key} after ${j.attempts} attempts: ${j.error}\n  log: ${j.log}\n`);
      if (!ok) throw new Error(`${c.total - c.done} of ${c.total} sweep jobs did not finish; re-run the same command to retry them (finished jobs are kept)`);
    });
}
