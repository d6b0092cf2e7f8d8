/** `apc train`: flags → trainTeacher, with the dataset's teacher recipe (`recipesFor`). */
import { openDataset } from '../data/registry.js';
import { vggPreset } from '../models/vgg_config.js';
import { recipesFor } from '../pipeline/dataset_presets.js';
import { trainTeacher } from '../pipeline/train_teacher.js';
import { withEpochs } from '../pipeline/train_to_checkpoints.js';

export interface TrainFlags {
  data: string;
  arch: string;
  width: number;
  /** Default: the dataset's (64; VOC 227). */
  imageSize?: number;
  skipBad?: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  trainLimit?: number;
  seed: number;
  out: string;
  resume: boolean;
  quiet: boolean;
}

export async function trainCommand(f: TrainFlags): Promise<void> {
  const data = openDataset(f.data, { imageSize: f.imageSize, skipBad: f.skipBad }); // its default size is recipes.imageSize
  const recipes = recipesFor(f.data);
  const imageSize = data.info.height;
  const config = vggPreset({ arch: f.arch, width: f.width, imageSize, numClasses: data.info.classNames.length, dropout: recipes.teacherDropout });
  const recipe = { ...withEpochs(recipes.teacher, f.epochs),
    ...(f.batchSize ? { batchSize: f.batchSize } : {}), ...(f.lr ? { lr: f.lr } : {}), trainLimit: f.trainLimit };
  const r = await trainTeacher({ data, config, recipe, seed: f.seed, outDir: f.out, resume: f.resume, quiet: f.quiet,
    provenance: { command: process.argv.slice(2).join(' ') } });
  const params = r.net.trainableVariables().reduce((s, v) => s + v.size, 0);
  process.stdout.write(`teacher ${f.arch}/${f.width} @${imageSize}px · ${params.toLocaleString('en-US')} params · `
    + `best val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} (epoch ${r.state.bestEpoch + 1}) · ${r.seconds.toFixed(0)} s · ${r.bestDir}\n`);
  r.net.dispose();
}
