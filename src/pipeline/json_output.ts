/**
 * JSON files apc writes for people and tools (results.json, `apc evaluate --json`): indented, and
 * non-finite numbers (an AUC with no counted pairs, say) as null, which JSON can represent.
 * Written atomically, so a crash never leaves half a file.
 */
import { writeFileAtomic } from '../models/checkpoint_io.js';

export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2);
}

export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, Buffer.from(jsonText(value), 'utf8'));
}
