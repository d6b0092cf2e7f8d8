/**
 * Host-memory cache of the frozen teacher's per-sample outputs for distillation (issue 8).
 *
 * In `compressionObjective` the teacher runs in inference mode (BN running statistics, dropout
 * the identity) and never changes. When the training batches are not augmented, sample i's input
 * is the same in every epoch, so the teacher's logits and its captured activations (the matched
 * layer's pre-collapse features F^T, plus whatever `matchingCaptures` names for the explicit
 * path) are a pure function of i. This cache keeps them, per training-sample index, as float32
 * rows in host memory, and builds the batch tensors from those rows instead of running the
 * teacher forward again.
 *
 * It stores activations, not maps: stochastic matching (§5) drops a fresh channel set E every
 * step, and the teacher target (classes, E, normalised maps) is still built per step from the
 * cached F^T by `teacherTarget`, with the same rng draws as without the cache.
 *
 * Validity is the caller's promise, and the cache must be off otherwise:
 *   - batches are a pure function of their indices: no augmentation (`recipe.augment` null),
 *     and the dataset returns the same pixels for an index every time (the Dataset contract);
 *   - the teacher is frozen and its forward is inference mode (no training-mode BN, no dropout);
 *   - indices name samples of one split (fit passes training-set indices).
 * Batches whose `indices` do not match the batch size (e.g. benchmarks with synthetic batches)
 * bypass the cache.
 *
 * Memory: `bytesPerSample` = 4·(classes + Σ per-sample sizes of the captured activations). The
 * vgg16s/8 @64 teacher matched at pool4 (4·4·64 features) with 10 classes needs 4·1,034 B ≈ 4.1 kB
 * per sample, so 6,000 training images take ≈ 24.8 MB; the paper's VGG16 @227 at pool5
 * (7·7·512) with 20 classes needs ≈ 100 kB per sample, ≈ 574 MB for VOC's 5,717 training images.
 * `maxBytes` (default 512 MiB) bounds it: samples beyond the bound are not stored, and the teacher
 * runs on just the batch's uncached samples (so the forward cost falls with the cached fraction).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';

export interface TeacherCacheOptions {
  /** Bound on the host memory of the stored rows, bytes. Default `DEFAULT_TEACHER_CACHE_BYTES`. */
  readonly maxBytes?: number;
}

/** 512 MiB. */
export const DEFAULT_TEACHER_CACHE_BYTES = 512 * 2 ** 20;

/** The teacher's inference outputs for one batch. Tensors are the caller's. */
export interface TeacherOutputs {
  /** [B, classes] */
  readonly logits: tf.Tensor2D;
  /** The captured activations by layer name, [B, …]. */
  readonly activations: Record<string, tf.Tensor>;
}

export interface TeacherCacheStats {
  /** Batches built from the cache (no teacher forward). */
  readonly hits: number;
  /** Batches that ran the teacher (on all samples, or on those not cached). */
  readonly misses: number;
  /** Samples the teacher forward ran on, in total. */
  readonly teacherSamples: number;
  /** Samples stored. */
  readonly samples: number;
  /** Host bytes of the stored rows. */
  readonly bytes: number;
  /** True once a sample was left out because of `maxBytes`. */
  readonly full: boolean;
}

/** One inference forward of the teacher with `captures` (what the objective runs without a cache). */
export function teacherForward(teacher: GraphNet, x: tf.Tensor4D, captures: readonly string[]): TeacherOutputs {
  // tidy: the teacher's intermediate activations must not outlive the call
  return tf.tidy(() => {
    const r = teacher.forward(x, { capture: captures });
    return { logits: r.logits, activations: r.activations };
  });
}

const product = (shape: readonly number[]) => shape.reduce((p, v) => p * v, 1);

/** Host bytes one sample takes in the cache: 4·(classes + Σ captured activation sizes). */
export function teacherCacheBytesPerSample(teacher: Pick<GraphNet, 'numClasses' | 'activationShape'>, captures: readonly string[]): number {
  return 4 * (teacher.numClasses + captures.reduce((s, n) => s + product(teacher.activationShape(n)), 0));
}

export class TeacherOutputCache {
  private readonly rows = new Map<number, Float32Array>();
  private readonly maxBytes: number;
  /** Per-sample shapes of the captured activations (without the batch axis). */
  private readonly shapes: number[][];
  private readonly sizes: number[];
  private readonly rowFloats: number;
  private hits = 0;
  private misses = 0;
  private teacherSamples = 0;
  private full = false;

  /** `captures`: activation names the teacher forward captures (as `matchingCaptures(cfg, teacher, false)`). */
  constructor(readonly teacher: GraphNet, readonly captures: readonly string[], opts: TeacherCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_TEACHER_CACHE_BYTES;
    if (!(this.maxBytes >= 0)) throw new Error(`teacher cache: maxBytes must be ≥ 0, got ${opts.maxBytes}`);
    this.shapes = captures.map((n) => teacher.activationShape(n));
    this.sizes = this.shapes.map(product);
    this.rowFloats = teacher.numClasses + this.sizes.reduce((s, v) => s + v, 0);
  }

  /** Host bytes per stored sample. */
  get bytesPerSample(): number {
    return 4 * this.rowFloats;
  }

  /**
   * The teacher's logits and captured activations for the batch `x` whose rows are the samples
   * `indices`. Every index cached: built from the cache. None cached (or `indices` does not match
   * the batch): one inference forward of the batch. Some cached: a forward of the uncached rows
   * only, merged with the cached ones. Rows computed here are stored (within `maxBytes`). Only the
   * activations named in `want` (default: all captured) are returned, so an objective sharing a
   * cache that captures more builds no tensors it does not read. Caller owns the tensors.
   */
  outputs(x: tf.Tensor4D, indices: readonly number[], want: readonly string[] = this.captures): TeacherOutputs {
    const batch = x.shape[0];
    if (indices.length !== batch) return this.only(this.forward(x), want);
    const missing: number[] = [];
    indices.forEach((idx, b) => { if (!this.rows.has(idx)) missing.push(b); });
    if (missing.length === 0) {
      this.hits++;
      return this.fromRows(indices.map((i) => this.rows.get(i)!), want);
    }
    if (missing.length === batch) {
      const out = this.forward(x);
      if (!this.full) this.store(indices, this.toRows(out, batch)); // full: no row fits any more
      return this.only(out, want);
    }
    const sub = tf.tidy(() => tf.gather(x, tf.tensor1d(missing, 'int32')) as tf.Tensor4D);
    const part = this.forward(sub);
    sub.dispose();
    const computed = this.toRows(part, missing.length);
    tf.dispose([part.logits, ...Object.values(part.activations)]);
    this.store(missing.map((b) => indices[b]), computed);
    const rows = indices.map((i) => this.rows.get(i));
    missing.forEach((b, j) => { rows[b] = computed[j]; }); // also rows that did not fit
    return this.fromRows(rows as Float32Array[], want);
  }

  /** `out` with the activations not in `want` disposed. */
  private only(out: TeacherOutputs, want: readonly string[]): TeacherOutputs {
    if (want.length === this.captures.length) return out;
    const activations: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(out.activations)) {
      if (want.includes(name)) activations[name] = t; else t.dispose();
    }
    return { logits: out.logits, activations };
  }

  stats(): TeacherCacheStats {
    return {
      hits: this.hits, misses: this.misses, teacherSamples: this.teacherSamples,
      samples: this.rows.size, bytes: this.rows.size * this.bytesPerSample, full: this.full,
    };
  }

  /** Drops every stored row (e.g. if the teacher's weights were changed after all). */
  clear(): void {
    this.rows.clear();
    this.full = false;
  }

  /** `teacherForward`, counted. */
  private forward(x: tf.Tensor4D): TeacherOutputs {
    this.misses++;
    this.teacherSamples += x.shape[0];
    return teacherForward(this.teacher, x, this.captures);
  }

  /** Host rows (logits, then each captured activation) of a forward's `batch` samples. */
  private toRows(out: TeacherOutputs, batch: number): Float32Array[] {
    const k = this.teacher.numClasses;
    const logits = out.logits.dataSync();
    const acts = this.captures.map((n, j) => {
      const t = out.activations[n];
      if (!t) throw new Error(`teacher cache: the forward did not capture '${n}'`);
      if (t.size !== batch * this.sizes[j]) throw new Error(`teacher cache: '${n}' has shape [${t.shape}], expected ${this.sizes[j]} values per sample`);
      return t.dataSync();
    });
    return Array.from({ length: batch }, (_, b) => {
      const row = new Float32Array(this.rowFloats);
      row.set(logits.subarray(b * k, (b + 1) * k), 0);
      let offset = k;
      acts.forEach((a, j) => {
        const n = this.sizes[j];
        row.set(a.subarray(b * n, (b + 1) * n), offset);
        offset += n;
      });
      return row;
    });
  }

  /** Stores rows[j] as sample indices[j] unless present or over `maxBytes`. */
  private store(indices: readonly number[], rows: readonly Float32Array[]): void {
    indices.forEach((idx, j) => {
      if (this.rows.has(idx)) return;
      if ((this.rows.size + 1) * this.bytesPerSample > this.maxBytes) { this.full = true; return; }
      this.rows.set(idx, rows[j]);
    });
  }

  /** Batch tensors from host rows: the logits and the activations in `want`. */
  private fromRows(rows: readonly Float32Array[], want: readonly string[]): TeacherOutputs {
    const batch = rows.length;
    const k = this.teacher.numClasses;
    const logits = new Float32Array(batch * k);
    rows.forEach((row, b) => logits.set(row.subarray(0, k), b * k));
    const activations: Record<string, tf.Tensor> = {};
    let offset = k;
    this.captures.forEach((name, j) => {
      const n = this.sizes[j];
      const start = offset;
      offset += n;
      if (!want.includes(name)) return;
      const values = new Float32Array(batch * n);
      rows.forEach((row, b) => values.set(row.subarray(start, start + n), b * n));
      activations[name] = tf.tensor(values, [batch, ...this.shapes[j]]);
    });
    return { logits: tf.tensor2d(logits, [batch, k]), activations };
  }
}
