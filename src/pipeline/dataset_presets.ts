/**
 * Per-dataset training recipes: which teacher, distillation and pruning fine-tuning recipes,
 * input size and teacher head dropout a dataset is trained with by default.
 *
 * - `shapes`: the measured 64×64 recipes (SHAPES_TEACHER_RECIPE, SHAPES_KD_RECIPE,
 *   SHAPES_PRUNE_RECIPE), teacher dropout 0.
 * - `mnist-multi`: MNIST_MULTI_TEACHER_RECIPE (10 epochs) with the shapes KD and pruning recipes,
 *   teacher dropout 0.
 * - `voc` / `voc:PATH` with a teacher started from pretrained weights (`--init`): the paper's
 *   protocol unchanged — VOC_TEACHER_RECIPE (voc-protocol.md §7), VOC_KD_RECIPE (compression.md
 *   §1.2), VOC_PRUNE_RECIPE (§2.5, §3.4), 227 px, dropout 0.5, plus the reference seeds and
 *   matching weight β = 100.
 * - `voc:PATH` with a teacher trained from scratch: the VOC_SCRATCH_* recipes
 *   (voc_scratch_recipes.ts), dropout 0, the caller's seed and β.
 *
 * `name` and `why` say which recipe was chosen and why; the commands log them.
 */
import { VOC_AUGMENT } from '../train/batches.js';
import { type KdRecipe, SHAPES_KD_RECIPE, VOC_KD_RECIPE, VOC_KD_SEED } from './compress.js';
import { SHAPES_PRUNE_RECIPE, VOC_PRUNE_RECIPE } from './prune.js';
import {
  MNIST_MULTI_TEACHER_RECIPE, SHAPES_TEACHER_DROPOUT, SHAPES_TEACHER_RECIPE, VOC_TEACHER_DROPOUT, VOC_TEACHER_RECIPE, VOC_TEACHER_SEED,
} from './train_teacher.js';
import type { TrainRecipe } from './train_to_checkpoints.js';
import type { ModelKind } from '../models/model_config.js';
import {
  VOC_SCRATCH_DROPOUT, VOC_SCRATCH_KD_RECIPE, VOC_SCRATCH_PRUNE_RECIPE, VOC_SCRATCH_TEACHER_RECIPE,
} from './voc_scratch_recipes.js';

/** How the teacher's weights began: pretrained (`--init`, an imported model) or a fresh network. */
export type TeacherStart = 'pretrained' | 'scratch';

export interface DatasetRecipes {
  /** Which recipe set this is, e.g. 'voc (from scratch)'. */
  readonly name: string;
  /** Why it applies (logged by train, compress and run). */
  readonly why: string;
  /** Teacher training (`apc train`, `apc run`'s first stage). */
  readonly teacher: TrainRecipe;
  /** Knowledge distillation of the students. */
  readonly kd?: KdRecipe;
  /** Fine-tuning after each pruning round (structured and unstructured). */
  readonly prune?: TrainRecipe;
  /** Square input size the recipes were set for. */
  readonly imageSize: number;
  /** Drop rate of the teacher's head dropout. */
  readonly teacherDropout: number;
  /**
   * Seeds the reference used (VOC: teacher 3, quirk V3; KD 42). Absent: the caller's `--seed`.
   * Random streams differ across frameworks, so these record the setting rather than reproduce
   * the reference's draws.
   */
  readonly seeds?: { readonly teacher: number; readonly kd: number };
  /** β of the matching term the dataset's protocol prescribes (VOC: 100). Absent: the caller's default. */
  readonly matchingBeta?: number;
}

const SHAPES: DatasetRecipes = Object.freeze({
  name: 'shapes', why: 'the measured 64 px recipes of the shapes dataset',
  teacher: SHAPES_TEACHER_RECIPE, kd: SHAPES_KD_RECIPE, prune: SHAPES_PRUNE_RECIPE, imageSize: 64, teacherDropout: SHAPES_TEACHER_DROPOUT,
});

const MNIST_MULTI: DatasetRecipes = Object.freeze({
  name: 'mnist-multi', why: 'the measured 64 px recipes of the mnist-multi dataset',
  teacher: MNIST_MULTI_TEACHER_RECIPE, kd: SHAPES_KD_RECIPE, prune: SHAPES_PRUNE_RECIPE, imageSize: 64, teacherDropout: SHAPES_TEACHER_DROPOUT,
});

const VOC: DatasetRecipes = Object.freeze({
  name: 'voc (spec, fine-tuning pretrained weights)',
  why: 'the teacher starts from pretrained weights, which the spec\'s VOC recipes (lr 0.1, batch 64, crops of 8–100 %, dropout 0.5) are made to fine-tune',
  teacher: VOC_TEACHER_RECIPE,
  kd: VOC_KD_RECIPE,
  // VOC_PRUNE_RECIPE's augmentation switch with the VOC parameters: the dataset's own transform.
  prune: { ...VOC_PRUNE_RECIPE, augment: VOC_AUGMENT },
  imageSize: 227,
  teacherDropout: VOC_TEACHER_DROPOUT,
  seeds: { teacher: VOC_TEACHER_SEED, kd: VOC_KD_SEED },
  matchingBeta: 100,
});

const VOC_SCRATCH: DatasetRecipes = Object.freeze({
  name: 'voc (from scratch)',
  why: 'the teacher was not started from pretrained weights (no --init); the spec\'s VOC recipes fine-tune ImageNet weights and barely learn from scratch',
  teacher: VOC_SCRATCH_TEACHER_RECIPE,
  kd: VOC_SCRATCH_KD_RECIPE,
  prune: VOC_SCRATCH_PRUNE_RECIPE,
  imageSize: 227,
  teacherDropout: VOC_SCRATCH_DROPOUT,
});

/**
 * The recipes of a dataset, by its `--data` spec or `info.name`: 'shapes', 'mnist-multi', or
 * 'voc' / 'voc:PATH' (a VOC dataset's `info.name` is `voc:<root>`). Throws on anything else.
 * `start` matters for VOC only: 'pretrained' (default) gives the spec's recipes, 'scratch' the
 * from-scratch ones.
 */
export function recipesFor(datasetName: string, family: ModelKind = 'vgg', start: TeacherStart = 'pretrained'): DatasetRecipes {
  const base = datasetRecipes(datasetName, start);
  return FAMILY_RECIPES[family]?.(base, datasetName) ?? base;
}

/**
 * Per-family changes to a dataset's recipes, measured on shapes (README "Recipes for ResNet and
 * MobileNetV2"); families without an entry (VGG, ResNet, imported graphs) use the dataset's as
 * they are. MobileNetV2 from scratch learns far more slowly per epoch than VGG or ResNet here
 * (val mAP 48 after the 6 epochs that take ResNet-18 to 88), at every width, stride schedule and
 * learning rate from 0.01 to 0.5 tried; lr 0.2 was the best of those short probes (+4 mAP).
 */
const FAMILY_RECIPES: Partial<Record<ModelKind, (base: DatasetRecipes, datasetName: string) => DatasetRecipes>> = {
  mobilenetv2: (base, name) => (name.startsWith('voc') ? base : { ...base, teacher: { ...base.teacher, lr: 0.2 } }),
};

/** One log line: which recipes and why. */
export function describeRecipes(r: DatasetRecipes): string {
  return `recipes: ${r.name}: ${r.why}`;
}

/**
 * How a loaded teacher's weights began, from its checkpoint metadata: apc teachers record
 * `initialization`; an older apc teacher is 'pretrained' iff its provenance names an `--init`;
 * anything else (an imported model or file) is taken as pretrained.
 */
export function teacherStartOf(meta: { readonly kind?: unknown; readonly initialization?: unknown; readonly provenance?: Record<string, unknown> }): TeacherStart {
  if (meta.initialization === 'scratch' || meta.initialization === 'pretrained') return meta.initialization;
  if (meta.kind === 'teacher') return meta.provenance?.init !== undefined ? 'pretrained' : 'scratch';
  return 'pretrained';
}

function datasetRecipes(datasetName: string, start: TeacherStart): DatasetRecipes {
  if (datasetName === 'shapes') return SHAPES;
  if (datasetName === 'mnist-multi') return MNIST_MULTI;
  if (datasetName === 'voc' || datasetName.startsWith('voc:')) return start === 'scratch' ? VOC_SCRATCH : VOC;
  throw new Error(`no training recipes for dataset '${datasetName}'; known: shapes, mnist-multi, voc:PATH`);
}
