/**
 * Small, fast, seedable PRNG utilities for the procedural datasets.
 *
 * `rngFor(...words)` hashes any number of 32-bit words (seed, stream id, sample index, …) into the
 * 128-bit state of an sfc32 generator, so every (seed, split, index) triple gets its own
 * independent, random-access stream: sample i never depends on samples 0..i-1.
 */

/** murmur3 finaliser: a bijective 32-bit avalanche mix. */
export function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Order-sensitive hash of a list of 32-bit words. */
export function hashWords(words: readonly number[], salt = 0): number {
  let h = mix32(0x9e3779b9 ^ salt);
  for (const w of words) {
    h = mix32((h ^ (mix32(w) + 0x9e3779b9 + (h << 6) + (h >>> 2))) | 0);
  }
  return h;
}

/** Split a safe integer into [low 32 bits, high 32 bits] so 53-bit seeds hash without loss. */
export function splitSafeInt(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / 4294967296) | 0];
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), 128-bit state. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `k` distinct integers from [0, n), in random order (partial Fisher–Yates). */
  distinct(k: number, n: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.next() * (n - i));
      const t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
    }
    return pool.slice(0, k);
  }
}

/** Independent generator for a tuple of 32-bit words, e.g. (seedLo, seedHi, split, index). */
export function rngFor(...words: number[]): Rng {
  return new Rng(
    hashWords(words, 0x243f6a88),
    hashWords(words, 0x85a308d3),
    hashWords(words, 0x13198a2e),
    hashWords(words, 0x03707344),
  );
}
