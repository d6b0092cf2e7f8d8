/**
 * `matchedMapCosine` (evaluation spec §3): per image, the cosine between the teacher's and a
 * student's SWA maps (method spec §2) at each network's matched layer, for the teacher's top-1
 * class, both networks in inference mode — exactly the maps the WCAM regulariser compares. A
 * student map of another H×W is resized bilinearly to the teacher's, as the matching term does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, SplitName } from '../data/dataset.js';
import { cosineSimilarity, summarize, type Summary } from '../eval/agreement.js';
import { matchingCaptures, parseMatchingConfig, resizeMaps, teacherTarget } from '../matching/matching_term.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { evalBatches } from '../train/batches.js';

/** Cosine per image (first `limit` images of `split`), in image order. */
export function matchedMapCosines(teacher: GraphNet, student: GraphNet, data: Dataset, split: SplitName,
  opts: { limit?: number; batchSize?: number } = {}): Float64Array {
  const cfg = parseMatchingConfig({ kind: 'swa', beta: 0, matchClasses: 'top1' });
  const teacherCaptures = matchingCaptures(cfg, teacher, false);
  const studentCaptures = matchingCaptures(cfg, student, false);
  const n = Math.min(data.size(split), opts.limit ?? Infinity);
  const out = new Float64Array(n);
  for (const b of evalBatches(data, split, opts.batchSize ?? 32, n)) {
    const [t, s] = tf.tidy(() => {
      const tr = teacher.forward(b.x, { capture: teacherCaptures });
      const tt = teacherTarget(cfg, { net: teacher, activations: tr.activations, training: false, logits: tr.logits });
      const sr = student.forward(b.x, { capture: studentCaptures });
      // the student's map for the teacher's class: its logits are not used, the teacher's pick the class
      const st = teacherTarget(cfg, { net: student, activations: sr.activations, training: false, logits: tr.logits });
      const { height, width } = tt.layers[0];
      const sl = st.layers[0];
      const sMaps = resizeMaps(tf.reshape(sl.maps, [b.indices.length, sl.height, sl.width]), height, width);
      return [tt.layers[0].maps, tf.reshape(sMaps, [b.indices.length, height * width])];
    });
    const hw = t.shape[1]!;
    const tv = t.dataSync();
    const sv = s.dataSync();
    b.indices.forEach((image, i) => {
      out[image] = cosineSimilarity(tv.subarray(i * hw, (i + 1) * hw), sv.subarray(i * hw, (i + 1) * hw));
    });
    tf.dispose([t, s, b.x, b.y]);
  }
  return out;
}

/** Mean, median and count of `matchedMapCosines`. */
export function matchedMapCosine(teacher: GraphNet, student: GraphNet, data: Dataset, split: SplitName,
  opts: { limit?: number; batchSize?: number } = {}): Summary {
  return summarize(matchedMapCosines(teacher, student, data, split, opts));
}
