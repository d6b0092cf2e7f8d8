/**
 * Job identity: a hash of the job's canonical config (keys sorted, undefined fields dropped), so
 * the same stage asked for twice — by two grid points, a re-run or a second sweep — is one job.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level; `undefined` members are left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`canonicalJson: ${value} has no JSON form`);
  return JSON.stringify(value);
}

/** 16 hex digits of SHA-256 over the canonical JSON (64 bits: no collision in any plausible sweep). */
export function jobKey(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}
