/** `apc export-dataset`: writes an embedded dataset as a VOC-format tree (flags only; logic in src/data/voc_export.ts). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { openDataset } from '../data/registry.js';
import { DEFAULT_EXPORT_JPEG_QUALITY, exportVocTree } from '../data/voc_export.js';

export interface ExportDatasetFlags {
  format: 'voc';
  out: string;
  train?: number;
  val?: number;
  seed: number;
  imageSize?: number;
  quality: number;
  quiet: boolean;
}

function positiveInt(name: string, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}], got '${v}'`);
    return n;
  };
}

export async function exportDatasetCommand(dataset: string, f: ExportDatasetFlags): Promise<void> {
  const sizes = { train: f.train ?? 6000, val: f.val ?? 600, test: 0 };
  const data = openDataset(dataset, { seed: f.seed, imageSize: f.imageSize, sizes });
  const log = f.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const r = exportVocTree(data, f.out, { train: sizes.train, val: sizes.val, quality: f.quality, provenance: { seed: f.seed }, log });
  process.stdout.write(`${r.root}: ${r.train} train + ${r.val} val images of ${dataset} (${data.info.classNames.length} classes, `
    + `${data.info.width}×${data.info.height}, JPEG quality ${r.quality}); train on it with --data voc:${r.root}\n`);
}

export function registerExportDatasetCommand(program: Command): void {
  program.command('export-dataset')
    .description('write an embedded dataset (shapes, mnist-multi) as a PASCAL VOC tree: JPEGImages, Annotations, SegmentationClass, ImageSets, classes.txt')
    .addArgument(program.createArgument('<dataset>', 'the embedded dataset').choices(['shapes', 'mnist-multi']))
    .addOption(new Option('--format <f>', 'output layout').choices(['voc']).default('voc'))
    .requiredOption('--out <dir>', 'folder to create (must be new or empty); open it with --data voc:DIR')
    .option('--train <n>', 'images of the train split written to Main train (default 6000)', positiveInt('--train'))
    .option('--val <n>', 'images of the val split written to Main val and Segmentation val (default 600)', positiveInt('--val'))
    .option('--seed <n>', 'dataset seed', (v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`--seed must be an integer, got '${v}'`);
      return n;
    }, 0)
    .option('--image-size <n>', 'image height and width in pixels (default 64)', positiveInt('--image-size', 512))
    .option('--quality <q>', 'JPEG quality 1–100', positiveInt('--quality', 100), DEFAULT_EXPORT_JPEG_QUALITY)
    .option('--quiet', 'no progress output', false)
    .action(async (dataset: string, opts: ExportDatasetFlags) => {
      await exportDatasetCommand(dataset, opts);
    });
}
