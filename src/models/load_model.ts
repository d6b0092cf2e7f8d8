/**
 * One loader for every flag that takes a model (`--model`, `--teacher`, `--compare`, `--init`): an
 * apc checkpoint directory, or a model file a user brings — `.onnx` (PyTorch export) or a TF.js /
 * Keras `model.json` (or a folder holding one and no apc.json, as `apc export --format tfjs` writes)
 * — imported on the fly with its default input metadata (`apc import` writes a checkpoint and lets
 * you set it).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadNet, type NetMeta } from './checkpoint.js';
import { META_JSON } from './checkpoint_io.js';
import { UINT8_FAKE_QUANT } from './export/fake_quant.js';
import type { GraphNet } from './graph/graph_net.js';
import { type ImportedModel, importedNet } from './import/imported_model.js';
import { importModelFile, isModelFile } from './import/import_file.js';

export interface LoadedModel {
  readonly net: GraphNet;
  readonly meta: Partial<NetMeta>;
  /** What an on-the-fly import changed (empty for checkpoints). */
  readonly notes: readonly string[];
}

/** Loads a checkpoint directory or imports a model file; errors name the path. */
export async function loadModel(path: string): Promise<LoadedModel> {
  // a directory without apc.json but with a model.json: an `apc export --format tfjs` folder (or
  // any TF.js layers model), read as it ships (quantised weights dequantised as TF.js does)
  if (existsSync(path) && statSync(path).isDirectory() && !existsSync(join(path, META_JSON)) && existsSync(join(path, 'model.json'))) {
    path = join(path, 'model.json');
  }
  if (existsSync(path) && statSync(path).isDirectory()) return checkpoint(path);
  // model.json inside an apc checkpoint: the checkpoint
  if (basename(path) === 'model.json' && existsSync(join(dirname(path), META_JSON))) return checkpoint(dirname(path));
  if (!existsSync(path)) throw new Error(`${path} does not exist (expected a checkpoint directory, a .onnx file or a model.json)`);
  if (!isModelFile(path)) throw new Error(`${path} is neither a checkpoint directory nor a .onnx / model.json file (safetensors need a template: apc import FILE --template …)`);
  const imported: ImportedModel = await importModelFile(path, {});
  return { net: importedNet(imported), meta: {}, notes: imported.notes };
}

/**
 * An apc checkpoint; a quantisation-aware-trained one (apc.json `quantization: 'uint8'`) is its
 * uint8 model: the forward reads the weights as its uint8 export stores them (what it was trained as).
 */
async function checkpoint(dir: string): Promise<LoadedModel> {
  const { net, meta } = await loadNet(dir);
  const quantized = (meta as Record<string, unknown>).quantization === 'uint8';
  return { net: quantized ? net.withWeightView(UINT8_FAKE_QUANT) : net, meta, notes: [] };
}
