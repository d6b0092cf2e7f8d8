/**
 * Model files a user brings: ONNX, a safetensors state dict on a torchvision template, and a
 * TF.js / Keras model.json with its weights, each taken through what `apc import` does — import,
 * build the network, write a checkpoint into `outDir` — so a case that fails must leave no partial
 * checkpoint behind; one that succeeds must load back. And `.npy`, which `apc predict --input` reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '../../data/bad_input.js';
import { encodeNpy, readNpy } from '../../data/npy.js';
import { CheckpointError, loadNet, saveNet } from '../../models/checkpoint.js';
import { encodeOnnx } from '../../models/export/onnx_export.js';
import { ModelFileError } from '../../models/import/errors.js';
import { importModelFile, type ImportFileOptions } from '../../models/import/import_file.js';
import { importedNet } from '../../models/import/imported_model.js';
import { encodeSafetensors, type SafeTensorInput } from '../../models/import/safetensors.js';
import { templateFor, templateKeys } from '../../models/import/torchvision_templates.js';
import { fileSystemIO } from '../../models/checkpoint_io.js';
import { toLayersModel } from '../../models/layers_export.js';
import type { FileSet, FuzzSurface } from '../surface.js';
import { tinyNets, useCpuBackend } from './tiny_nets.js';

const isImportError = (err: unknown) => err instanceof ModelFileError || err instanceof CheckpointError;

/** `apc import FILE --out outDir`, then the checkpoint must load back. */
async function importToCheckpoint(file: string, outDir: string, opts: ImportFileOptions = {}): Promise<void> {
  await useCpuBackend();
  const imported = await importModelFile(file, opts);
  const net = importedNet(imported, opts.template ? { initSeed: 0 } : {});
  try {
    await saveNet(outDir, net, { kind: 'imported' });
  } finally {
    net.dispose();
  }
  const { net: back } = await loadNet(outDir);
  back.dispose();
}

export function onnxSurface(): FuzzSurface {
  return {
    name: 'onnx',
    async seeds() {
      const nets = await tinyNets();
      try {
        return nets.map((n) => ({ 'model.onnx': encodeOnnx(n) }));
      } finally {
        for (const n of nets) n.dispose();
      }
    },
    load: (caseDir, outDir) => importToCheckpoint(join(caseDir, 'model.onnx'), outDir),
    isCleanError: isImportError,
    writes: true,
  };
}

const TEMPLATE = 'torchvision:vgg16_bn';
const TEMPLATE_OPTIONS = { width: 64, imageSize: 32, numClasses: 3 };

export function safetensorsSurface(): FuzzSurface {
  return {
    name: 'safetensors',
    async seeds() {
      const keys = templateKeys(templateFor(TEMPLATE, TEMPLATE_OPTIONS));
      const seeds: FileSet[] = [];
      for (const dtype of ['F32', 'F16'] as const) {
        const tensors = new Map<string, SafeTensorInput>();
        let k = 0;
        for (const [name, { shape }] of keys) {
          const n = shape.reduce((a, b) => a * b, 1);
          const data = Float32Array.from({ length: n }, (_, i) => (name.endsWith('running_var') ? 1 : Math.sin(++k + i) * 0.1));
          tensors.set(name, { dtype, shape, data } as SafeTensorInput);
        }
        tensors.set('classifier.6.weight', { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) });
        seeds.push({ 'weights.safetensors': encodeSafetensors(tensors) });
      }
      return seeds;
    },
    load: (caseDir, outDir) => importToCheckpoint(join(caseDir, 'weights.safetensors'), outDir, { template: TEMPLATE, templateOptions: TEMPLATE_OPTIONS }),
    isCleanError: isImportError,
    writes: true,
  };
}

export function kerasSurface(): FuzzSurface {
  return {
    name: 'keras',
    async seeds(dir) {
      const nets = await tinyNets();
      const seeds: FileSet[] = [];
      try {
        for (const [i, net] of nets.entries()) {
          const model = toLayersModel(net);
          const out = join(dir, `keras-${i}`);
          await model.save(fileSystemIO(out));
          model.dispose();
          seeds.push({ 'model.json': new Uint8Array(readFileSync(join(out, 'model.json'))), 'weights.bin': new Uint8Array(readFileSync(join(out, 'weights.bin'))) });
        }
      } finally {
        for (const n of nets) n.dispose();
      }
      return seeds;
    },
    load: (caseDir, outDir) => importToCheckpoint(join(caseDir, 'model.json'), outDir),
    isCleanError: isImportError,
    writes: true,
  };
}

export function npySurface(): FuzzSurface {
  return {
    name: 'npy',
    async seeds() {
      return [
        { 'input.npy': encodeNpy([2, 3, 4, 4], Float32Array.from({ length: 96 }, (_, i) => i / 96)) },
        { 'input.npy': encodeNpy([5], Int32Array.of(1, -2, 3, 4, 5)) },
        { 'input.npy': encodeNpy([2, 2], Float64Array.of(0.5, 1, 2, 4)) },
      ];
    },
    async load(caseDir) {
      const a = await readNpy(join(caseDir, 'input.npy'));
      const n = a.shape.reduce((x, y) => x * y, 1);
      if (a.data.length !== n) throw new Error(`decoded ${a.data.length} values for shape [${a.shape}]`);
    },
    isCleanError: (err) => err instanceof BadInputError,
  };
}
