/**
 * Reproduces the "VOC from scratch" recipe table of the README: trains a teacher from scratch on
 * a dataset (a VOC tree or a native one) with the from-scratch recipe of `recipesFor`, changing one
 * knob at a time — crops (none | mild 75–100 % | half 50–100 % | spec 8–100 %), head dropout, lr,
 * batch size — and prints val mAP per epoch. A developer tool (not part of the CLI): the chosen
 * recipe is what `apc train` uses; this only measures the alternatives.
 *
 *   node --import tsx scripts/voc_recipe_probe.ts --data voc:TREE --image-size 227 --epochs 4 \
 *     --train-limit 2000 --crops spec --out runs/probe-spec
 */
import { parseArgs } from 'node:util';
import { openDataset } from '../src/data/registry.js';
import { describeBackend, initBackend } from '../src/engine/backend.js';
import { archFamily, archPreset } from '../src/models/model_config.js';
import { recipesFor } from '../src/pipeline/dataset_presets.js';
import { trainTeacher } from '../src/pipeline/train_teacher.js';
import { withEpochs } from '../src/pipeline/train_to_checkpoints.js';
import { type AugmentOptions, DEFAULT_AUGMENT, VOC_AUGMENT } from '../src/train/batches.js';

const CROPS: Record<string, AugmentOptions | null> = {
  none: null, mild: DEFAULT_AUGMENT, half: { ...VOC_AUGMENT, scale: [0.5, 1] }, spec: VOC_AUGMENT,
};

const { values: a } = parseArgs({ options: {
  data: { type: 'string', default: 'shapes' }, 'image-size': { type: 'string' }, arch: { type: 'string', default: 'vgg16' },
  width: { type: 'string', default: '8' }, epochs: { type: 'string', default: '4' }, 'train-limit': { type: 'string' },
  crops: { type: 'string', default: 'none' }, dropout: { type: 'string' }, lr: { type: 'string' }, batch: { type: 'string' },
  seed: { type: 'string', default: '0' }, out: { type: 'string', default: 'runs/probe' },
} });
const crops = a.crops!;
if (!(crops in CROPS)) throw new Error(`--crops must be one of ${Object.keys(CROPS).join(', ')}, got '${crops}'`);
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

const backend = await initBackend(process.env.APC_BACKEND);
const data = openDataset(a.data!, { imageSize: num(a['image-size']) });
const recipes = recipesFor(a.data!, archFamily(a.arch!), 'scratch');
const dropout = num(a.dropout) ?? recipes.teacherDropout;
const config = archPreset({ arch: a.arch!, width: Number(a.width), imageSize: data.info.height, numClasses: data.info.classNames.length, dropout });
const recipe = { ...withEpochs(recipes.teacher, Number(a.epochs)), augment: CROPS[crops], trainLimit: num(a['train-limit']),
  ...(a.lr ? { lr: Number(a.lr) } : {}), ...(a.batch ? { batchSize: Number(a.batch) } : {}) };
process.stderr.write(`probe: ${describeBackend(backend)} · ${a.data} @${data.info.height}px · crops ${crops} · dropout ${dropout} · lr ${recipe.lr} · batch ${recipe.batchSize} · ${recipe.epochs} epochs (milestones ${recipe.lrMilestones.join(',')})\n`);
const r = await trainTeacher({ data, config, recipe, seed: Number(a.seed), outDir: a.out!, quiet: true });
const byEpoch = r.state.history.map((h) => (h.metrics.mAP ?? NaN).toFixed(1)).join(', ');
process.stdout.write(`probe ${a.data} @${data.info.height}px crops ${crops} dropout ${dropout} lr ${recipe.lr} batch ${recipe.batchSize}: val mAP by epoch ${byEpoch} · best ${r.val.mAP?.toFixed(1)} · ${r.seconds.toFixed(0)} s\n`);
r.net.dispose();
