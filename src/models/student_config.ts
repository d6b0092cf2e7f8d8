/**
 * The KD student of a teacher at width divisor k (`apc compress --method kd --width k`). On a
 * built-in family k divides the family's full widths, as the presets always did (so a /4 VGG
 * teacher and a /16 student are both fractions of VGG16); on an imported graph it divides every
 * free channel group of the teacher (rounded up, at least 1; graph.md §3).
 */
import { dividedGraph } from './graph/channel_groups.js';
import { type ModelConfig, archOf, archPreset, graphOf } from './model_config.js';

export function studentConfigFor(teacher: ModelConfig, width: number, opts: { dropout?: number } = {}): ModelConfig {
  if (teacher.kind === 'graph') return dividedGraph(graphOf(teacher), width);
  const [h] = teacher.inputSize;
  return archPreset({ arch: archOf(teacher), width, imageSize: h, numClasses: teacher.numClasses, dropout: opts.dropout });
}
