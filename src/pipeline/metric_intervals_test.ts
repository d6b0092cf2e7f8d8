/**
 * Which pairs each interval resamples: the same pairs as the point value (summarizeLocalization,
 * summarizeAgreement), an image's pairs together. Checked with data whose every image has the
 * same per-image mean (so every resample has it: a zero-width interval at the point value) and
 * with one image that differs (so the interval opens and contains the point value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgreementPairRecord, LocalizationPairRecord } from '../eval/localization.js';
import { summarizeAgreement, summarizeLocalization } from '../eval/localization.js';
import { agreementIntervals, intervalMethod, localizationIntervals } from './metric_intervals.js';

function loc(image: number, status: LocalizationPairRecord['status'], auc: number | null, hit: boolean | null): LocalizationPairRecord {
  return { imageId: `img${image}`, classIndex: 0, logit: status === 'missed' ? -1 : 1, status, auc, degenerate: status === 'counted' && auc === null ? 'noNegatives' : null, hit, peak: null };
}

function agr(image: number, status: AgreementPairRecord['status'], cosine: number | null, spearman: number | null, iou?: number): AgreementPairRecord {
  return { imageId: `img${image}`, classIndex: 0, teacherLogit: 1, studentLogit: 1, status, cosine, spearman, topkIoU: iou === undefined ? {} : { 15: iou },
    peakDistance: null, constant: spearman === null };
}

const opts = { resamples: 300, seed: 1 };

test('localisation: AUC over counted pairs with an AUC, pointing over counted pairs; missed and degenerate pairs left out as in the point value', () => {
  // per image: a counted hit with AUC 0.75, a counted degenerate miss (no AUC), a missed pair
  const images = [0, 1, 2, 3, 4].flatMap((i) => [i, i, i]);
  const records = [0, 1, 2, 3, 4].flatMap((i) => [loc(i, 'counted', 0.75, true), loc(i, 'counted', null, false), loc(i, 'missed', null, null)]);
  const s = summarizeLocalization(records);
  assert.equal(s.meanAUC, 0.75);
  assert.equal(s.pointingAcc, 0.5);
  assert.deepEqual(localizationIntervals('gradcam', images, records, { auc: s.meanAUC, pointing: s.pointingAcc }, opts),
    { 'gradcam.auc': [0.75, 0.75], 'gradcam.pointing': [0.5, 0.5] });
  // one image differs: the intervals open around the point values
  const varied = [...records, loc(5, 'counted', 0.25, false)];
  const v = summarizeLocalization(varied);
  const ci = localizationIntervals('gradcam', [...images, 5], varied, { auc: v.meanAUC, pointing: v.pointingAcc }, opts);
  assert.ok(ci['gradcam.auc'][0] < v.meanAUC && v.meanAUC < ci['gradcam.auc'][1], JSON.stringify(ci));
  assert.ok(ci['gradcam.pointing'][0] < v.pointingAcc && v.pointingAcc <= ci['gradcam.pointing'][1], JSON.stringify(ci));
  // an undefined point value (no counted pair) has no interval
  const none = [loc(0, 'missed', null, null), loc(1, 'missed', null, null)];
  assert.deepEqual(localizationIntervals('gradcam', [0, 1], none, { auc: NaN, pointing: NaN }, opts), {});
});

test('agreement: means over used pairs; Spearman without constant maps; skipped and non-finite pairs left out', () => {
  const images = [0, 1, 2, 3].flatMap((i) => [i, i, i]);
  const records = [0, 1, 2, 3].flatMap((i) => [agr(i, 'used', 0.9, 0.6, 0.4), agr(i, 'used', 0.5, null, 0.2), agr(i, 'skipped', null, null)]);
  const s = summarizeAgreement(records);
  const point = { cosine: s.cosine.mean, spearman: s.spearman.mean, topkIoU: s.topkIoU[15].mean };
  assert.ok(Math.abs(point.cosine - 0.7) < 1e-12 && point.spearman === 0.6 && Math.abs(point.topkIoU - 0.3) < 1e-12);
  const ci = agreementIntervals('lrp', images, records, point, opts);
  assert.deepEqual(Object.keys(ci).sort(), ['lrp.cosine', 'lrp.spearman', 'lrp.topkIoU']);
  for (const [key, want] of [['lrp.cosine', 0.7], ['lrp.spearman', 0.6], ['lrp.topkIoU', 0.3]] as const) {
    assert.ok(Math.abs(ci[key][0] - want) < 1e-12 && Math.abs(ci[key][1] - want) < 1e-12, `${key}: ${ci[key]} vs ${want}`);
  }
});

test('intervalMethod states the interval', () => {
  assert.deepEqual({ ...intervalMethod({ seed: 3 }), description: undefined },
    { kind: 'percentile bootstrap over test images', level: 0.95, resamples: 1000, seed: 3, description: undefined });
  assert.match(intervalMethod({ resamples: 200 }).description, /^95 % percentile bootstrap interval, 200 resamples .* not training-seed variation/);
});
