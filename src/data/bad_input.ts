/**
 * Errors and skip records for dataset files that cannot be used (corrupt, truncated, missing,
 * malformed, inconsistent). Loaders throw `BadInputError` naming the file and the problem; with
 * `skipBad` they record a `SkippedEntry` instead and leave the entry out of the split.
 *
 * The CLI prints a `BadInputError` as one line without a stack trace, and the skip summary at the
 * end of the command.
 */

/** A dataset file that cannot be used. `message` is `FILE: PROBLEM` on one line. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  /** The offending file (or folder), as given to the loader. */
  readonly file: string;
  /** What is wrong with it, one line. */
  readonly problem: string;
  /** Whether `skipBad` could leave the entry out (false for e.g. a dataset folder that does not exist). */
  readonly skippable: boolean;

  constructor(file: string, problem: string, opts: { skippable?: boolean } = {}) {
    const oneLine = problem.replace(/\s*[\r\n]+\s*/g, ' ').trim();
    super(`${file}: ${oneLine}`);
    this.file = file;
    this.problem = oneLine;
    this.skippable = opts.skippable ?? true;
  }
}

/** One entry left out of a split because of a BadInputError. */
export interface SkippedEntry {
  /** Dataset name, e.g. `voc:/data/VOC2012`. */
  readonly dataset: string;
  /** Split the entry was listed in, or `*` when a whole list was unusable. */
  readonly split: string;
  /** Entry id (e.g. the VOC image id), or the list file for split-level problems. */
  readonly id: string;
  readonly file: string;
  readonly problem: string;
}

/** Text of an unknown thrown value, one line (library decoders throw strings, TypeErrors …). */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Collects skipped entries of every dataset a command opens (deduplicated), so the CLI can
 * report them once at the end.
 */
export class BadInputLog {
  private readonly entries: SkippedEntry[] = [];
  private readonly seen = new Set<string>();

  add(entry: SkippedEntry): void {
    const key = `${entry.dataset}\u0000${entry.split}\u0000${entry.id}\u0000${entry.file}\u0000${entry.problem}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.entries.push(entry);
  }

  get size(): number {
    return this.entries.length;
  }

  /** One line per skipped entry (at most `max`), preceded by a count line; '' when nothing was skipped. */
  summary(max = 20): string {
    if (this.entries.length === 0) return '';
    const lines = [`skipped ${this.entries.length} bad ${this.entries.length === 1 ? 'entry' : 'entries'} (--skip-bad):`];
    for (const e of this.entries.slice(0, max)) lines.push(`  ${e.split}/${e.id}: ${e.file}: ${e.problem}`);
    if (this.entries.length > max) lines.push(`  … and ${this.entries.length - max} more`);
    return lines.join('\n');
  }
}

/** Process-wide log the CLI reports at the end of a command (datasets opened through `openDataset`). */
export const commandBadInputLog = new BadInputLog();
