/**
 * On-disk cache of decoded, preprocessed VOC data, so a file is decoded once and later epochs
 * and runs read bytes.
 *
 * Layout: one file per entry, `DIR/<kind>-<sha1>.bin`, where kind is `img` (RGB resized to the
 * model size), `mask` (class indices resized with nearest) or `raw` (RGB at the original size, for
 * the reference train transform). The sha1 covers the cache format version, the entry kind, the
 * source file's absolute path, byte size and mtime, and the preprocessing parameters, so editing
 * or replacing a source file (or changing the image size) makes a new key; stale entries are
 * simply never read again (delete DIR to reclaim space).
 *
 * Entry format: 'APC1' magic, u32 kind code, u32 width, u32 height, u32 channels, u32 extra[2],
 * then width·height·channels bytes. A file whose header or length does not match is a miss.
 * Writes go to a unique temp file in DIR and are renamed into place, so concurrent runs never see
 * a partial entry (both write identical bytes; the last rename wins).
 *
 * When DIR cannot be written (read-only, full disk), the cache warns once and keeps entries in
 * memory instead; `dir: null` always keeps them in memory (tests, tiny datasets).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** Bump when the decoded bytes for the same inputs would change (decoder, resampler, layout). */
export const VOC_CACHE_VERSION = 1;

export type CacheKind = 'img' | 'mask' | 'raw';
const KIND_CODE: Record<CacheKind, number> = { img: 1, mask: 2, raw: 3 };
const HEADER_BYTES = 4 + 4 * 6;
const MAGIC = [0x41, 0x50, 0x43, 0x31]; // 'APC1'

/** Identity of a source file for cache keys. */
export interface FileStamp {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface CacheEntry {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** Two kind-specific integers (img/mask: the source's original width and height). */
  readonly extra: readonly [number, number];
  readonly data: Uint8Array;
}

/**
 * Default cache folder: `$APC_CACHE_DIR`, else `$XDG_CACHE_HOME/apc/voc` or `~/.cache/apc/voc`,
 * else (no home folder) `ROOT/../.apc-cache`.
 */
export function defaultVocCacheDir(root: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.APC_CACHE_DIR) return resolve(env.APC_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return join(resolve(env.XDG_CACHE_HOME), 'apc', 'voc');
  let home = '';
  try {
    home = homedir();
  } catch {
    home = '';
  }
  if (home) return join(home, '.cache', 'apc', 'voc');
  return join(dirname(resolve(root)), '.apc-cache');
}

export function cacheKey(kind: CacheKind, sources: readonly FileStamp[], params: Record<string, number | string>): string {
  const text = JSON.stringify({ v: VOC_CACHE_VERSION, kind, sources: sources.map((s) => [resolve(s.path), s.size, s.mtimeMs]), params });
  return createHash('sha1').update(text).digest('hex');
}

export class VocCache {
  /** Entries served from disk or memory, and entries stored. */
  readonly stats = { hits: 0, misses: 0, writes: 0 };
  private readonly memory = new Map<string, CacheEntry>();
  private diskOk: boolean;

  /**
   * @param dir cache folder (created on first write), or null for memory only.
   * @param warn called once if the folder cannot be written.
   */
  constructor(readonly dir: string | null, private readonly warn: (line: string) => void = () => {}) {
    this.diskOk = dir !== null;
  }

  private path(kind: CacheKind, key: string): string {
    return join(this.dir as string, `${kind}-${key}.bin`);
  }

  /** The entry, or undefined when absent or unreadable (a miss). */
  read(kind: CacheKind, key: string): CacheEntry | undefined {
    const mem = this.memory.get(`${kind}-${key}`);
    if (mem) {
      this.stats.hits++;
      return mem;
    }
    if (this.dir === null) {
      this.stats.misses++;
      return undefined;
    }
    let buf: Buffer;
    try {
      buf = readFileSync(this.path(kind, key));
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const entry = parseEntry(buf, KIND_CODE[kind]);
    if (entry) this.stats.hits++;
    else this.stats.misses++;
    return entry;
  }

  /**
   * The header of an entry without reading its pixels (open-time checks of a warm cache), or
   * undefined when absent or the wrong length.
   */
  peek(kind: CacheKind, key: string): Omit<CacheEntry, 'data'> | undefined {
    const mem = this.memory.get(`${kind}-${key}`);
    if (mem) return mem;
    if (this.dir === null) return undefined;
    let fd: number | undefined;
    try {
      fd = openSync(this.path(kind, key), 'r');
      const head = Buffer.alloc(HEADER_BYTES);
      if (readSync(fd, head, 0, HEADER_BYTES, 0) !== HEADER_BYTES) return undefined;
      const h = parseHeader(head, KIND_CODE[kind]);
      if (!h || fstatSync(fd).size !== HEADER_BYTES + h.width * h.height * h.channels) return undefined;
      return h;
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  write(kind: CacheKind, key: string, entry: CacheEntry): void {
    this.stats.writes++;
    if (this.diskOk && this.dir !== null) {
      const file = this.path(kind, key);
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        mkdirSync(this.dir, { recursive: true });
        writeFileSync(tmp, serialiseEntry(entry, KIND_CODE[kind]));
        renameSync(tmp, file);
        return;
      } catch (err) {
        try {
          rmSync(tmp, { force: true });
        } catch {
          /* nothing to clean */
        }
        this.diskOk = false;
        this.warn(`cache folder ${this.dir} is not writable (${(err as Error).message}); keeping decoded data in memory`);
      }
    }
    this.memory.set(`${kind}-${key}`, entry);
  }
}

function serialiseEntry(e: CacheEntry, code: number): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + e.data.length);
  buf.set(MAGIC, 0);
  const words = [code, e.width, e.height, e.channels, e.extra[0], e.extra[1]];
  words.forEach((w, i) => buf.writeUInt32LE(w >>> 0, 4 + 4 * i));
  buf.set(e.data, HEADER_BYTES);
  return buf;
}

function parseHeader(buf: Buffer, code: number): Omit<CacheEntry, 'data'> | undefined {
  if (buf.length < HEADER_BYTES || MAGIC.some((b, i) => buf[i] !== b)) return undefined;
  const w = (i: number) => buf.readUInt32LE(4 + 4 * i);
  if (w(0) !== code) return undefined;
  return { width: w(1), height: w(2), channels: w(3), extra: [w(4), w(5)] };
}

function parseEntry(buf: Buffer, code: number): CacheEntry | undefined {
  const h = parseHeader(buf, code);
  if (!h) return undefined;
  const n = h.width * h.height * h.channels;
  if (buf.length !== HEADER_BYTES + n) return undefined;
  return { ...h, data: new Uint8Array(buf.buffer, buf.byteOffset + HEADER_BYTES, n) };
}
