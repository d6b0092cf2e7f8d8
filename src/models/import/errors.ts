/**
 * The one error the model-file readers and writers of this folder throw (ONNX, safetensors):
 * `FILE: PROBLEM` on one line, so a CLI can print `err.message` alone. No TensorFlow.js here.
 */

/** A model file that cannot be read or written. `message` is `FILE: PROBLEM` on one line. */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
  /** The file concerned, as given to the reader (or the label given to a bytes decoder). */
  readonly file: string;
  /** What is wrong with it, one line. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    const line = oneLine(problem, 400);
    super(`${oneLine(file, 400)}: ${line}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.file = file;
    this.problem = line;
  }
}

/**
 * `text` on one line, at most `max` characters: line breaks and other control characters (a JSON
 * parser quoting hostile bytes, say) become spaces / `\xNN`, and a long text ends in `…`.
 */
export function oneLine(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  let s = text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).trim();
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}

/** Text of an unknown thrown value, one line. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return oneLine(err.message || err.name);
  return oneLine(String(err));
}

/** `value` quoted for a message: JSON, shortened. */
export function quote(value: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof value === 'bigint' ? `${value}` : JSON.stringify(value) ?? String(value);
  } catch {
    // too deep (or cyclic) to print: its type only — String() would recurse as deeply
    s = Array.isArray(value) ? `[${value.length} items]` : typeof value === 'object' && value !== null ? '{…}' : typeof value;
  }
  return oneLine(s, max);
}

/** Plural helper: `count(3, 'byte')` → `3 bytes`. */
export function count(n: number | bigint, unit: string): string {
  return `${n} ${unit}${n === 1 || n === 1n ? '' : 's'}`;
}
