/** The config fields every built-in family shares (input, classes, head dropout, BatchNorm, input metadata). */
import { z } from 'zod';
import { InputNormalizationSchema } from '../graph/graph_spec.js';

/**
 * Most repeats of one stage (blocks of a ResNet stage, inverted residuals of a MobileNetV2 stage) a
 * config may ask for: a config read from a file asking for 1e308 would otherwise build forever.
 */
export const MAX_STAGE_REPEATS = 1024;

/** Shared fields; `dropout` defaults to the family's own head dropout. */
export function familyFields(defaultDropout: number) {
  return {
    /** Input height and width (3 channels). */
    inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    numClasses: z.number().int().positive(),
    /** Drop rate of the head's dropout (PyTorch/Keras convention: probability of dropping). */
    dropout: z.number().min(0).max(0.95).default(defaultDropout),
    /** BatchNorm epsilon (PyTorch default 1e-5; Keras's 1e-3 would differ from the reference). */
    bnEpsilon: z.number().positive().default(1e-5),
    /** Fraction of the batch statistic mixed into the moving statistic (PyTorch momentum 0.1). */
    bnMomentum: z.number().gt(0).lte(1).default(0.1),
    /** Input pixels the network expects (e.g. ImageNet statistics for imported weights); absent: the dataset's. */
    normalization: InputNormalizationSchema.optional(),
  };
}
