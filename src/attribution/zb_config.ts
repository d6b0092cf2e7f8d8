/**
 * The z^B options LRP and RAP share (attribution spec §2, quirk A5): which bounds the input rule
 * uses, and the normalisation 'channelRange' needs.
 */
import { z } from 'zod';
import { NormalizationSchema } from './attribution_method.js';
import type { ZbBounds } from './relevance.js';

export const ZbConfigFields = {
  /**
   * z^B bounds (spec option `zbBounds`): 'imageMinMax' = min/max over this image's normalised
   * values (reference, quirk A5); 'channelRange' = the normalised images of pixels 0 and 1 per
   * channel, which needs `normalization`.
   */
  zbBounds: z.enum(['imageMinMax', 'channelRange']).default('imageMinMax'),
  /** Input normalisation (mean/std of [0,1] pixels); required by zbBounds 'channelRange'. */
  normalization: NormalizationSchema.optional(),
};

export function zbBoundsOf(cfg: { zbBounds: 'imageMinMax' | 'channelRange'; normalization?: { mean: number[]; std: number[] } }): ZbBounds {
  return cfg.zbBounds === 'channelRange'
    ? { kind: 'channelRange', mean: cfg.normalization!.mean, std: cfg.normalization!.std }
    : { kind: 'imageMinMax' };
}

