/**
 * What the fuzz harness needs to know about one input surface (a file kind apc reads, or the CLI's
 * flags): how to make valid seed inputs, how to load a case, and which errors are the clean,
 * named ones. The harness (case_runner.ts) mutates the seeds and classifies every outcome.
 */
import type { Rng } from '../engine/random.js';

/** The files of one valid input, by path relative to the case folder. */
export type FileSet = Record<string, Uint8Array>;

export interface FuzzSurface {
  /** `--surface` name, e.g. `onnx`, `apc.json`. */
  readonly name: string;
  /** Valid inputs, built in-process (once per worker). `dir` is a scratch folder for them. */
  seeds(dir: string): Promise<FileSet[]>;
  /**
   * The files of a seed that mutations edit (default: every file). Files ending in `.json` get
   * JSON-structure mutations as well as byte mutations.
   */
  targets?(seed: FileSet): string[];
  /**
   * Applied after the mutation, e.g. re-sealing a checkpoint's integrity hashes so the case reaches
   * the parsers behind the hash check. Returns a description to append, or undefined.
   */
  afterMutate?(files: FileSet, rng: Rng): string | undefined;
  /**
   * Replaces the file mutations entirely (the CLI surface mutates argv, not files). Writes the
   * case into `caseDir` and returns its description.
   */
  makeCase?(seeds: readonly FileSet[], rng: Rng, caseDir: string): string;
  /**
   * Loads the case in `caseDir`: resolves when it was valid (after checking what was loaded),
   * throws otherwise. Surfaces that write (import → checkpoint) write into `outDir`, which does
   * not exist beforehand; after a throw it must still not exist or be empty.
   */
  load(caseDir: string, outDir: string): Promise<void>;
  /** Whether `err` is one of the error classes apc defines for this input (not a crash). */
  isCleanError(err: unknown): boolean;
  /**
   * Whether a clean error names the input: by default its message mentions `caseDir` (every input
   * file lives there).
   */
  namesInput?(message: string, caseDir: string): boolean;
  /** The message of a clean error as a user sees it (default `err.message`); it must be one line. */
  errorMessage?(err: Error): string;
  /** Whether the surface writes output (partial outputs are then checked). */
  readonly writes?: boolean;
}

export type Outcome = 'ok' | 'clean-error' | 'crash' | 'hang' | 'memory' | 'partial';
export const OUTCOMES: readonly Outcome[] = ['ok', 'clean-error', 'crash', 'hang', 'memory', 'partial'];
/** Outcomes that fail a fuzz run. */
export const FAILURES: readonly Outcome[] = ['crash', 'hang', 'memory', 'partial'];

export interface CaseResult {
  readonly index: number;
  readonly outcome: Outcome;
  readonly ms: number;
  /** The mutation(s) applied. */
  readonly what: string;
  /** Error message (clean errors and failures), one line. */
  readonly detail?: string;
}
