/**
 * What a training stage does when a step's loss or gradient is NaN or ±Infinity: 'stop' (the
 * default) ends the stage, naming where and which samples; 'skip-batch' leaves the weights,
 * momentum and BN statistics as they were and goes on, at most `maxSkips` times per stage.
 */
export type NonFinitePolicy = 'stop' | 'skip-batch';

export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['stop', 'skip-batch'];

/** Skipped batches a stage tolerates under 'skip-batch' before it stops. */
export const DEFAULT_MAX_SKIPPED_BATCHES = 10;

/** A stage stopped by a non-finite loss or gradient; no update was applied for that batch. */
export class NonFiniteError extends Error {
  constructor(message: string, readonly where: { stage: string; epoch: number; step: number; samples: readonly number[] }) {
    super(message);
    this.name = 'NonFiniteError';
  }
}
