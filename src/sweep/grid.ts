/**
 * A sweep's grid: dataset × arch × compression × match × β × stochastic × rate × seed, on one study
 * preset's sizes and recipes. Read from flags and/or a small JSON or YAML file, validated with zod
 * (an error names the file and the field).
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BadInputError } from '../data/bad_input.js';
import { parseSeeds } from './seeds.js';

export const COMPRESSIONS = ['kd', 'structured', 'unstructured'] as const;
export const MATCHES = ['none', 'ewa', 'wcam'] as const;

const seedList = z.union([
  z.array(z.number().int().nonnegative()).nonempty(),
  z.string().transform((s, ctx) => {
    try {
      return parseSeeds(s, 'seeds');
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  }),
  z.number().int().nonnegative().transform((s) => [s]),
]);

/** The grid as written in a file or assembled from flags (every axis optional: the preset's defaults). */
export const sweepGridSchema = z.object({
  /** Study preset whose widths, epochs, pruning schedules, methods and test limit the stages use. */
  preset: z.string().default('quick'),
  datasets: z.array(z.string().min(1)).nonempty().default(['shapes']),
  /** Teacher architectures (default: the preset's). */
  archs: z.array(z.string().min(1)).nonempty().optional(),
  /** Input height and width of every teacher (default: the dataset's, 64; VOC 227); students keep their teacher's. */
  imageSize: z.number().int().min(8).optional(),
  compressions: z.array(z.enum(COMPRESSIONS)).nonempty().default(['kd', 'structured', 'unstructured']),
  matches: z.array(z.enum(MATCHES)).nonempty().default(['none', 'wcam']),
  /** Matching weights β (default: the preset's); β = 0 is the same job as no matching. */
  betas: z.array(z.number().nonnegative()).nonempty().optional(),
  stochastic: z.array(z.number().min(0).lt(1)).nonempty().default([0]),
  /** Pruning rates (structured p, unstructured per-round r); default: the preset's. */
  rates: z.array(z.number().gt(0).lt(1)).nonempty().optional(),
  seeds: seedList.default([0]),
  /** Attribution methods evaluated (default: the preset's). */
  attribution: z.array(z.string().min(1)).nonempty().optional(),
  /** Overrides for quick checks: training images and epochs of every stage, test images. */
  trainLimit: z.number().int().positive().optional(),
  epochs: z.number().int().positive().optional(),
  testLimit: z.number().int().positive().optional(),
}).strict();

export type SweepGridInput = z.input<typeof sweepGridSchema>;
export type SweepGrid = z.output<typeof sweepGridSchema>;

/** Validates a grid; `source` (a file name or 'flags') prefixes every problem, naming the field. */
export function parseSweepGrid(raw: unknown, source: string): SweepGrid {
  const r = sweepGridSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(grid)'}: ${i.message}`);
  throw new BadInputError(source, problems.join('; '), { skippable: false });
}

/** A grid file: `.yaml`/`.yml` or JSON. */
export async function readSweepGridFile(path: string): Promise<SweepGridInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BadInputError(path, `cannot read the grid file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { skippable: false });
  }
  try {
    const raw: unknown = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('expected an object of grid fields (datasets, seeds, betas, …)');
    return raw as SweepGridInput;
  } catch (err) {
    throw new BadInputError(path, `not a valid grid file: ${(err as Error).message}`, { skippable: false });
  }
}

/** File fields, then the flags given explicitly on top; validated as one grid. */
export async function loadSweepGrid(opts: { file?: string; flags: SweepGridInput }): Promise<SweepGrid> {
  const fromFile = opts.file ? await readSweepGridFile(opts.file) : {};
  const defined = Object.fromEntries(Object.entries(opts.flags).filter(([, v]) => v !== undefined));
  return parseSweepGrid({ ...fromFile, ...defined }, opts.file ?? 'flags');
}
