/**
 * The compression objective, one for every compression method (method spec §6):
 *
 *   distillation:  L = (1−a)·L_BCE(z^S, y) + a·L_KD(z^S, z^T; T) + β·L_AM
 *   pruning:       L = L_BCE(z^S, y) + β·L_AM
 *
 * The teacher is frozen and in inference mode; its logits and target maps are computed once per
 * batch outside the gradient tape. The student's dropout mask is drawn explicitly so the matching
 * term sees the same mask as the logits (quirk Q6). With `teacherCache` (unaugmented batches
 * only), the teacher's logits and captured activations come from a per-sample host cache after
 * the first epoch (teacher_cache.ts); the target is still built per step from them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/random.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { type MatchingConfig, type MatchingTarget, matchingCaptures, matchingLoss, teacherTarget } from '../matching/matching_term.js';
import type { Objective } from '../train/fit.js';
import { multiLabelKd, multiLabelSoftMargin } from '../train/losses.js';
import { type TeacherCacheOptions, TeacherOutputCache, teacherForward } from './teacher_cache.js';

export interface KdSettings {
  /** Mix a of the KD term (spec default 0.9). */
  readonly alpha: number;
  /** Temperature T (spec default 4). */
  readonly temperature: number;
}

export interface CompressionObjectiveOptions {
  readonly teacher: GraphNet;
  /** Logit distillation; absent for pruning fine-tuning. */
  readonly kd?: KdSettings;
  readonly matching: MatchingConfig;
  /**
   * Linear warm-up of β over this many steps (0 = none): the matching term starts at 0 and
   * reaches β, so an untrained student is not dominated by it before it has features.
   */
  readonly betaWarmupSteps?: number;
  /**
   * Cache the teacher's logits and captured activations per training-sample index
   * (`TeacherOutputCache`; `true` = default options). ONLY for batches that are a pure function
   * of `batch.indices`, i.e. without augmentation: the caller decides (`distill` turns it on when
   * the recipe has no augmentation). Results equal the uncached objective's. The teacher forward
   * here is always inference mode (no dropout, BN running statistics), as the cache needs; a
   * training-mode teacher (reference quirk Q1) must not use it. Default off.
   * A `TeacherOutputCache` instance is used as given, so several objectives on the same teacher
   * and training set (e.g. a study's KD variants) share one cache: it must capture at least this
   * objective's teacher captures (extra ones are ignored).
   */
  readonly teacherCache?: boolean | TeacherCacheOptions | TeacherOutputCache;
}

/** The compression objective; `teacherCache` is the cache in use (absent when off), for stats. */
export type CompressionObjective = Objective & { readonly teacherCache?: TeacherOutputCache };

export function compressionObjective(opts: CompressionObjectiveOptions): CompressionObjective {
  const { teacher, kd, matching } = opts;
  const useMatching = matching.kind !== 'none' && matching.beta > 0;
  const captures = useMatching ? matchingCaptures(matching, teacher, false) : [];
  const cache = opts.teacherCache instanceof TeacherOutputCache ? checkedSharedCache(opts.teacherCache, teacher, captures)
    : opts.teacherCache ? new TeacherOutputCache(teacher, captures, opts.teacherCache === true ? {} : opts.teacherCache)
      : undefined;
  // pruning fine-tuning without matching uses the label loss only: no teacher forward at all
  const needsTeacher = !!kd || useMatching;
  let teacherLogits: tf.Tensor2D | undefined;
  let target: MatchingTarget | undefined;
  let dropoutMask: tf.Tensor2D | undefined;
  let step = 0;
  return {
    teacherCache: cache,
    beforeStep(batch, rng: Rng) {
      dropoutMask = undefined;
      if (!needsTeacher) return;
      const t = cache ? cache.outputs(batch.x, batch.indices, captures) : teacherForward(teacher, batch.x, captures);
      teacherLogits = t.logits;
      if (useMatching) target = teacherTarget(matching, { net: teacher, activations: t.activations, logits: t.logits, training: false }, rng);
      tf.dispose(Object.values(t.activations));
    },
    loss(net, batch, rng) {
      const captures = useMatching ? matchingCaptures(matching, net, true) : [];
      if (!dropoutMask && net.dropoutRate > 0) dropoutMask = tf.keep(net.dropoutMask(batch.x.shape[0], rng));
      const s = net.forward(batch.x, { training: true, dropoutMask, rng, capture: captures });
      const label = multiLabelSoftMargin(s.logits, batch.y);
      const parts: Record<string, tf.Scalar> = { label };
      let total: tf.Scalar = label;
      if (kd) {
        const k = multiLabelKd(s.logits, teacherLogits!, kd.temperature);
        parts.kd = k;
        total = tf.add(tf.mul(label, 1 - kd.alpha), tf.mul(k, kd.alpha));
      }
      if (useMatching && target) {
        const m = matchingLoss(target, { net, activations: s.activations, training: true, dropoutMask: s.dropoutMask });
        parts.match = m;
        // `fit` numbers the batches, so a resumed stage continues the ramp where it stopped
        const warm = opts.betaWarmupSteps ? Math.min(1, ((batch.step ?? step) + 1) / opts.betaWarmupSteps) : 1;
        total = tf.add(total, tf.mul(m, matching.beta * warm));
      }
      return { loss: total, parts, stats: s.batchStats };
    },
    afterStep() {
      teacherLogits?.dispose();
      dropoutMask?.dispose();
      target?.dispose();
      target = undefined; teacherLogits = undefined; dropoutMask = undefined;
      step++;
    },
  };
}

/** A caller's shared cache, checked to hold this objective's teacher and captures. */
function checkedSharedCache(cache: TeacherOutputCache, teacher: GraphNet, captures: readonly string[]): TeacherOutputCache {
  if (cache.teacher !== teacher) throw new Error('compressionObjective: the shared teacher cache belongs to another teacher');
  const missing = captures.filter((n) => !cache.captures.includes(n));
  if (missing.length) throw new Error(`compressionObjective: the shared teacher cache does not capture ${missing.join(', ')}`);
  return cache;
}
