/** `apc train`: flags → trainTeacher, with the dataset's teacher recipe (`recipesFor`). */
import { openDataset } from '../data/registry.js';
import { acquireOutputLock } from '../engine/output_lock.js';
import { loadModel } from '../models/load_model.js';
import { archFamily, archPreset } from '../models/model_config.js';
import { datasetForModel, describeNormalization } from '../models/input_normalization.js';
import { describeRecipes, recipesFor } from '../pipeline/dataset_presets.js';
import { trainTeacher } from '../pipeline/train_teacher.js';
import { withEpochs } from '../pipeline/train_to_checkpoints.js';
import type { NonFinitePolicy } from '../train/non_finite.js';

export interface TrainFlags {
  data: string;
  arch: string;
  width: number;
  /** Start from these weights (checkpoint directory, .onnx or model.json) instead of a fresh network. */
  init?: string;
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
  onNonfinite?: NonFinitePolicy;
}

export async function trainCommand(f: TrainFlags): Promise<void> {
  const unlock = acquireOutputLock(f.out, `apc ${process.argv.slice(2).join(' ')}`);
  const init = f.init ? await loadModel(f.init).catch((err) => { unlock(); throw err; }) : undefined;
  try {
    // an initial model fixes the input size; otherwise the dataset's default (recipes.imageSize)
    let data = openDataset(f.data, { imageSize: init ? init.net.inputSize[0] : f.imageSize, skipBad: f.skipBad });
    const recipes = recipesFor(f.data, init ? init.net.config.kind : archFamily(f.arch), init ? 'pretrained' : 'scratch');
    if (!f.quiet) process.stderr.write(`train: ${describeRecipes(recipes)}\n`);
    const K = data.info.classNames.length;
    if (init && init.net.numClasses !== K) {
      throw new Error(`--init ${f.init} has ${init.net.numClasses} outputs but ${data.info.name} has ${K} classes (output i is class i; import with --num-classes ${K} or a template's new head)`);
    }
    const imageSize = data.info.height;
    const config = init ? init.net.config : archPreset({ arch: f.arch, width: f.width, imageSize, numClasses: K, dropout: recipes.teacherDropout });
    if (init) {
      data = datasetForModel(data, init.net);
      process.stderr.write(`train: starting from ${f.init} (${init.net.config.kind}); its architecture and ${init.net.inputSize.join('×')} input size apply (--arch, --width and --image-size do not); ${describeNormalization(init.net)}\n`);
    }
    const recipe = { ...withEpochs(recipes.teacher, f.epochs),
      ...(f.batchSize ? { batchSize: f.batchSize } : {}), ...(f.lr ? { lr: f.lr } : {}), trainLimit: f.trainLimit };
    const r = await trainTeacher({ data, config, init: init?.net, recipe, seed: f.seed, outDir: f.out, resume: f.resume, quiet: f.quiet, onNonFinite: f.onNonfinite,
      provenance: { command: process.argv.slice(2).join(' '), ...(f.init ? { init: f.init } : {}) } });
    const params = r.net.trainableVariables().reduce((s, v) => s + v.size, 0);
    const name = init ? `${init.net.config.kind} from ${f.init}` : `${f.arch}/${f.width}`;
    process.stdout.write(`teacher ${name} @${imageSize}px · ${params.toLocaleString('en-US')} params · `
      + `best val mAP ${r.val.mAP?.toFixed(2)} · F1 ${r.val.F1?.toFixed(2)} (epoch ${r.state.bestEpoch + 1}) · ${r.seconds.toFixed(0)} s · ${r.bestDir}\n`);
    r.net.dispose();
  } finally {
    init?.net.dispose();
    unlock();
  }
}
