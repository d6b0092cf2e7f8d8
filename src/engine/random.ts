/**
 * Seeded pseudo-random numbers (sfc32 seeded through splitmix32). Everything random in apc —
 * initial weights, shuffling, augmentation, dropout masks, channel dropping — draws from one of
 * these so a run is reproducible from its seed on a given backend.
 */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a hash of a string, to derive independent streams from labels. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: number | string) {
    const mix = splitmix32(typeof seed === 'string' ? hashString(seed) : seed >>> 0);
    this.a = mix(); this.b = mix(); this.c = mix(); this.d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Independent stream derived from this seed and a label (does not advance this one). */
  static derive(seed: number, ...labels: (string | number)[]): Rng {
    return new Rng(hashString(`${seed >>> 0}/${labels.join('/')}`));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]; items[i] = items[j]; items[j] = tmp;
    }
  }

  /** `count` distinct integers from [0, n), uniformly without replacement, ascending. */
  sampleWithoutReplacement(n: number, count: number): number[] {
    if (count > n || count < 0) throw new Error(`cannot draw ${count} of ${n} without replacement`);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < count; i++) {
      const j = i + this.int(n - i);
      const tmp = pool[i]; pool[i] = pool[j]; pool[j] = tmp;
    }
    return pool.slice(0, count).sort((x, y) => x - y);
  }

  /** Float32Array of uniform values in [low, high). */
  uniformArray(size: number, low: number, high: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  /** Snapshot/restore, so a resumed run continues the same stream. */
  state(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  setState(s: readonly [number, number, number, number]): void {
    [this.a, this.b, this.c, this.d] = s;
  }
}
