/**
 * A Keras model config (`model.json`'s `modelTopology`) as one list of layer calls, whatever form
 * it comes in: what TF.js layers writes (`{ class_name, config, keras_version }`), the Keras H5
 * conversion form (`{ model_config, training_config, keras_version }`), Sequential or functional,
 * Keras 2 (`batch_input_shape`, `inbound_nodes` as nested lists `[[[layer, node, tensor, kwargs]]]`)
 * or Keras 3 (`batch_shape`, `module` / `registered_name` fields, `inbound_nodes` as
 * `[{ args: [{ class_name: '__keras_tensor__', config: { keras_history: [layer, node, tensor] } }], kwargs }]`).
 *
 * Structure only: no layer is interpreted here beyond finding the input. Every failure is a
 * `ModelFileError` naming the file and the layer or field.
 */
import { ModelFileError, quote } from './errors.js';

/** An output of a layer call: Keras's (layer, node index, tensor index). */
export interface TensorRef {
  readonly layer: string;
  readonly node: number;
  readonly tensor: number;
}

/** One layer, called once. */
export interface LayerCall {
  /** The Keras layer name (unique within the model). */
  readonly name: string;
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** The tensors the call reads, in argument order (empty for the input layer). */
  readonly inputs: readonly TensorRef[];
}

export interface KerasTopology {
  /** 'Sequential', 'Functional', 'Model' (TF.js). */
  readonly modelClass: string;
  readonly modelName?: string;
  readonly kerasVersion?: string;
  readonly backend?: string;
  /** Which config dialect the file uses (Keras 3 marks: module/registered_name, batch_shape, dict inbound nodes). */
  readonly dialect: 'keras2' | 'keras3';
  /** The input layer's name. */
  readonly input: string;
  /** Per-sample input shape from the config, [H, W, C] with null for a free size. */
  readonly inputShape: readonly (number | null)[];
  /** Every layer, in config order, the input layer first. */
  readonly layers: readonly LayerCall[];
  /** The one output tensor. */
  readonly output: TensorRef;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const INPUT_CLASSES = new Set(['InputLayer']);
const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/**
 * The layer calls of a model config. `raw` is `model.json`'s `modelTopology` (or a bare
 * `{ class_name, config }`).
 */
export function readTopology(raw: unknown, file: string): KerasTopology {
  const fail = (problem: string): never => { throw new ModelFileError(file, problem); };
  if (!isObject(raw)) return fail(`modelTopology must be an object, found ${describe(raw)}`);
  // the Keras H5 conversion form wraps the model config; TF.js writes it bare
  const model = isObject(raw.model_config) ? raw.model_config : raw;
  const kerasVersion = str(raw.keras_version) ?? str(model.keras_version);
  const backend = str(raw.backend) ?? str(model.backend);
  if (Array.isArray(raw.node) || Array.isArray(model.node)) {
    return fail('modelTopology is a TensorFlow GraphDef (a TF.js graph model); apc imports Keras / TF.js layers models (tensorflowjs_converter --input_format keras, or model.save in TF.js)');
  }
  const modelClass = str(model.class_name);
  if (!modelClass) return fail(`modelTopology has no class_name (found keys ${quote(Object.keys(model))}); not a Keras model config`);
  if (!MODEL_CLASSES.has(modelClass)) {
    return fail(`modelTopology.class_name is ${quote(modelClass)}; expected a Sequential or functional model (Sequential, Functional, Model)`);
  }
  const result = modelClass === 'Sequential' ? sequential(model.config, file) : functional(model.config, file);
  const marks = hasKeras3Marks(model) || result.keras3;
  const modelName = isObject(model.config) ? str(model.config.name) : undefined;
  return {
    modelClass, kerasVersion, backend, dialect: marks ? 'keras3' : 'keras2',
    ...(modelName !== undefined ? { modelName } : {}),
    input: result.input, inputShape: result.inputShape, layers: result.layers, output: result.output,
  };
}

interface Parsed {
  input: string;
  inputShape: (number | null)[];
  layers: LayerCall[];
  output: TensorRef;
  keras3: boolean;
}

function hasKeras3Marks(o: Record<string, unknown>): boolean {
  return 'module' in o || 'registered_name' in o;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** Per-sample shape from `batch_input_shape` (Keras 2, TF.js) or `batch_shape` (Keras 3). */
function batchShape(config: Record<string, unknown>): { shape: (number | null)[]; keras3: boolean } | undefined {
  const b = config.batch_input_shape ?? config.batch_shape;
  if (!Array.isArray(b)) return undefined;
  return { shape: b.slice(1).map((d) => (typeof d === 'number' ? d : null)), keras3: config.batch_shape !== undefined && config.batch_input_shape === undefined };
}

/** Functional layers carry `name` beside `config`; Sequential ones only inside it. */
function layerName(layer: Record<string, unknown>): string | undefined {
  return str(layer.name) ?? (isObject(layer.config) ? str(layer.config.name) : undefined);
}

function layerEntry(layer: unknown, i: number, file: string): { name: string; className: string; config: Record<string, unknown>; raw: Record<string, unknown> } {
  if (!isObject(layer)) throw new ModelFileError(file, `layers[${i}] must be an object, found ${describe(layer)}`);
  const className = str(layer.class_name);
  if (!className) throw new ModelFileError(file, `layers[${i}] has no class_name`);
  const config = isObject(layer.config) ? layer.config : {};
  const name = layerName(layer);
  if (!name) throw new ModelFileError(file, `layers[${i}] (${className}) has no name`);
  return { name, className, config, raw: layer };
}

function sequential(config: unknown, file: string): Parsed {
  // Keras < 2.2.3 wrote a Sequential config as the bare list of layers
  const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new ModelFileError(file, 'the Sequential config has no layers');
  const entries = list.map((l, i) => layerEntry(l, i, file));
  let keras3 = entries.some((e) => hasKeras3Marks(e.raw));
  const layers: LayerCall[] = [];
  let input: string;
  let shape: ReturnType<typeof batchShape>;
  let rest = entries;
  if (INPUT_CLASSES.has(entries[0].className)) {
    input = entries[0].name;
    shape = batchShape(entries[0].config);
    rest = entries.slice(1);
  } else {
    // the input is implied by the first layer's batch_input_shape (or the model's build_input_shape)
    input = uniqueInputName(entries.map((e) => e.name));
    shape = batchShape(entries[0].config);
    const built = isObject(config) ? config.build_input_shape : undefined;
    if (!shape && Array.isArray(built)) shape = { shape: built.slice(1).map((d) => (typeof d === 'number' ? d : null)), keras3: false };
  }
  if (!shape) throw new ModelFileError(file, `the Sequential model's input shape is unknown (no InputLayer, and layer '${entries[0].name}' has no batch_input_shape)`);
  keras3 ||= shape.keras3;
  layers.push({ name: input, className: 'InputLayer', config: {}, inputs: [] });
  let prev = input;
  for (const e of rest) {
    if (INPUT_CLASSES.has(e.className)) throw new ModelFileError(file, `layer '${e.name}' is a second InputLayer in a Sequential model`);
    layers.push({ name: e.name, className: e.className, config: e.config, inputs: [{ layer: prev, node: 0, tensor: 0 }] });
    prev = e.name;
  }
  checkUniqueNames(layers, file);
  return { input, inputShape: shape.shape, layers, output: { layer: prev, node: 0, tensor: 0 }, keras3 };
}

function uniqueInputName(names: string[]): string {
  let name = 'input';
  for (let i = 1; names.includes(name); i++) name = `input_${i}`;
  return name;
}

function functional(config: unknown, file: string): Parsed {
  if (!isObject(config) || !Array.isArray(config.layers)) throw new ModelFileError(file, 'the functional model config has no layers array');
  let keras3 = false;
  const layers: LayerCall[] = config.layers.map((l, i) => {
    const e = layerEntry(l, i, file);
    keras3 ||= hasKeras3Marks(e.raw);
    const inbound = e.raw.inbound_nodes ?? [];
    if (!Array.isArray(inbound)) throw new ModelFileError(file, `layer '${e.name}' (${e.className}): inbound_nodes must be a list`);
    if (inbound.length > 1) {
      throw new ModelFileError(file, `layer '${e.name}' (${e.className}) is called ${inbound.length} times (a shared layer); apc imports models whose layers are each applied once`);
    }
    const call = inbound[0];
    let inputs: TensorRef[] = [];
    if (call !== undefined) {
      const r = callInputs(call, `layer '${e.name}' (${e.className})`, file);
      inputs = r.refs;
      keras3 ||= r.keras3;
    }
    return { name: e.name, className: e.className, config: e.config, inputs };
  });
  checkUniqueNames(layers, file);
  const ins = refList(config.input_layers, 'input_layers', file);
  const outs = refList(config.output_layers, 'output_layers', file);
  if (ins.length !== 1) throw new ModelFileError(file, `the model has ${ins.length} inputs; apc imports single-input models`);
  if (outs.length !== 1) throw new ModelFileError(file, `the model has ${outs.length} outputs; apc needs one logits output [N, K]`);
  const input = layers.find((l) => l.name === ins[0].layer);
  if (!input) throw new ModelFileError(file, `input_layers names '${ins[0].layer}', which is not a layer of the model`);
  if (!INPUT_CLASSES.has(input.className)) throw new ModelFileError(file, `the model input '${input.name}' is a ${input.className}, expected an InputLayer`);
  const shape = batchShape(input.config);
  if (!shape) throw new ModelFileError(file, `input layer '${input.name}' has no batch_input_shape / batch_shape`);
  keras3 ||= shape.keras3;
  for (const l of layers) {
    for (const r of l.inputs) checkRef(r, `layer '${l.name}' (${l.className})`, file);
  }
  checkRef(outs[0], 'output_layers', file);
  if (!layers.some((l) => l.name === outs[0].layer)) throw new ModelFileError(file, `output_layers names '${outs[0].layer}', which is not a layer of the model`);
  return { input: input.name, inputShape: shape.shape, layers, output: outs[0], keras3 };
}

/** Shared layers and multi-output layers are out: every reference is (layer, 0, 0). */
function checkRef(r: TensorRef, where: string, file: string): void {
  if (r.node !== 0) throw new ModelFileError(file, `${where} reads call ${r.node} of layer '${r.layer}' (a shared layer); apc imports models whose layers are each applied once`);
  if (r.tensor !== 0) throw new ModelFileError(file, `${where} reads output ${r.tensor} of layer '${r.layer}'; apc supports single-output layers only`);
}

function checkUniqueNames(layers: readonly LayerCall[], file: string): void {
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.name)) throw new ModelFileError(file, `two layers are named '${l.name}'; Keras layer names must be unique`);
    seen.add(l.name);
  }
}

/**
 * `input_layers` / `output_layers`: a list of [layer, node, tensor]; Keras 3 may also write one
 * bare triple, or a dict of them (a model built on a dict of inputs).
 */
function refList(v: unknown, field: string, file: string): TensorRef[] {
  const items = isObject(v) ? Object.values(v) : v;
  if (!Array.isArray(items)) throw new ModelFileError(file, `the model config has no ${field} list`);
  const list = typeof items[0] === 'string' ? [items] : items;
  return list.map((t, i) => triple(t, `${field}[${i}]`, file));
}

function triple(t: unknown, where: string, file: string): TensorRef {
  if (!Array.isArray(t) || typeof t[0] !== 'string' || !Number.isInteger(t[1] ?? 0) || !Number.isInteger(t[2] ?? 0)) {
    throw new ModelFileError(file, `${where} must be [layer, node index, tensor index], found ${quote(t)}`);
  }
  return { layer: t[0], node: (t[1] as number | undefined) ?? 0, tensor: (t[2] as number | undefined) ?? 0 };
}

/** The tensors one inbound node reads: Keras 2 `[[layer, node, tensor, kwargs], …]`, Keras 3 `{ args, kwargs }`. */
function callInputs(call: unknown, where: string, file: string): { refs: TensorRef[]; keras3: boolean } {
  if (Array.isArray(call)) return { refs: call.map((t, i) => triple(t, `${where} inbound_nodes[0][${i}]`, file)), keras3: false };
  if (isObject(call) && Array.isArray(call.args)) {
    const refs: TensorRef[] = [];
    collectKerasTensors(call.args, refs, where, file);
    const inKwargs: TensorRef[] = [];
    collectKerasTensors(call.kwargs, inKwargs, where, file);
    if (inKwargs.length) throw new ModelFileError(file, `${where} receives tensors as keyword arguments (${inKwargs.map((r) => r.layer).join(', ')}); not supported`);
    return { refs, keras3: true };
  }
  throw new ModelFileError(file, `${where}: inbound_nodes[0] is neither a Keras 2 list nor a Keras 3 { args, kwargs } object (found ${quote(call)})`);
}

function collectKerasTensors(v: unknown, out: TensorRef[], where: string, file: string): void {
  if (Array.isArray(v)) {
    for (const x of v) collectKerasTensors(x, out, where, file);
  } else if (isObject(v)) {
    if (v.class_name === '__keras_tensor__') {
      const h = isObject(v.config) ? v.config.keras_history : undefined;
      out.push(triple(h, `${where} keras_history`, file));
      return;
    }
    for (const x of Object.values(v)) collectKerasTensors(x, out, where, file);
  }
}
