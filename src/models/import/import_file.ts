/**
 * Imports a model file by its kind: `.onnx` (PyTorch export), a TF.js / Keras `model.json`, or a
 * `.safetensors` state dict onto a template (which must be named). Every importer returns an
 * `ImportedModel`; nothing is written here (`apc import` writes the checkpoint).
 */
import { basename, extname } from 'node:path';
import type { InputNormalization } from '../graph/graph_spec.js';
import type { ImportedModel } from './imported_model.js';
import { importKerasFile } from './keras_import.js';
import { importOnnxFile } from './onnx_import.js';
import { readSafetensors } from './safetensors.js';
import { importTemplate, type TemplateOptions } from './torchvision_templates.js';

export interface ImportFileOptions {
  /** Input metadata; default RGB [0, 1] pixels with mean 0 and std 1 (templates: ImageNet's). */
  readonly normalization?: InputNormalization;
  /** safetensors only: the template (`torchvision:vgg16_bn` …) and its options. */
  readonly template?: string;
  readonly templateOptions?: Omit<TemplateOptions, 'normalization'>;
}

export type ModelFileKind = 'onnx' | 'keras' | 'safetensors';

export function modelFileKind(path: string): ModelFileKind | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.json' || basename(path) === 'model.json') return 'keras';
  return undefined;
}

/** True for the files `importModelFile` reads without a template (.onnx, model.json). */
export function isModelFile(path: string): boolean {
  const k = modelFileKind(path);
  return k === 'onnx' || k === 'keras';
}

export async function importModelFile(path: string, opts: ImportFileOptions): Promise<ImportedModel> {
  const kind = modelFileKind(path);
  switch (kind) {
    case 'onnx': return importOnnxFile(path, { normalization: opts.normalization });
    case 'keras': return importKerasFile(path, { normalization: opts.normalization });
    case 'safetensors': {
      if (!opts.template || !opts.templateOptions) throw new Error(`${path}: a safetensors file holds weights without a graph; name a template (--template torchvision:vgg16_bn …)`);
      return importTemplate(await readSafetensors(path), path, opts.template, { ...opts.templateOptions, normalization: opts.normalization });
    }
    default:
      throw new Error(`${path}: unknown model file type (expected .onnx, model.json or .safetensors)`);
  }
}
