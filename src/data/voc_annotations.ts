/**
 * PASCAL VOC 2012 classes, palette, id lists and Annotations XML (voc-protocol.md §1–§3).
 *
 * Labels: every `<object>`'s `<name>` (trimmed, lower-cased) sets its class to 1. Objects flagged
 * `difficult` or `truncated` are included as positives (reference behaviour, quirk V1); per class
 * we also keep `difficultOnly` = 1 when every object of that class is difficult, which only the
 * official-style mAP uses (evaluation.md §1). Bounding boxes and `<part>`s are ignored.
 *
 * Class list: VOC2012's 20 classes, unless the tree has a `classes.txt` beside ImageSets/ (one
 * class name per line, in classification-index order; `apc export-dataset` writes one). Then the
 * object names must be those classes, and mask index k (1…K) is class k − 1.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { BadInputError, describeThrown } from './bad_input.js';

/** Classification indices 0–19 in the standard order; segmentation index k = class k − 1. */
export const VOC_CLASS_NAMES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
] as const;

export const VOC_NUM_CLASSES = VOC_CLASS_NAMES.length;

/** Mask value of void / object boundaries. */
export const VOC_VOID = 255;

/** SegmentationClass colours of indices 0 (background) … 20, and of void (224,224,192). */
export const VOC_PALETTE: readonly (readonly [number, number, number])[] = [
  [0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128], [0, 128, 128],
  [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128], [192, 0, 128],
  [64, 128, 128], [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128],
];
export const VOC_VOID_COLOUR: readonly [number, number, number] = [224, 224, 192];

/** VOC normalisation statistics, used for every network (voc-protocol.md §4, quirk V2). */
export const VOC_MEAN: readonly [number, number, number] = [0.4589, 0.4355, 0.4032];
export const VOC_STD: readonly [number, number, number] = [0.2239, 0.2186, 0.2206];

/** The classes of a VOC tree: names in index order and the name → index map. */
export interface VocClassList {
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  /** Where the list came from: 'VOC2012' or the classes.txt file. */
  readonly source: string;
}

/** Most classes a tree may have: mask indices 1…K must stay below void (255). */
export const VOC_MAX_CLASSES = 254;

function classList(names: readonly string[], source: string): VocClassList {
  return Object.freeze({ names: Object.freeze([...names]), index: new Map(names.map((n, i) => [n, i])), source });
}

/** VOC2012's 20 classes (voc-protocol.md §2). */
export const VOC2012_CLASSES: VocClassList = classList(VOC_CLASS_NAMES, 'VOC2012');

/**
 * Parses a `classes.txt`: one name per line (trimmed, lower-cased as `<name>`s are; empty lines
 * skipped), 1…254 distinct names without whitespace. Problems are BadInputErrors naming `file`.
 */
export function parseClassList(text: string, file: string): VocClassList {
  const names: string[] = [];
  text.replace(/^\uFEFF/, '').split(/\r?\n|\r/).forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (name === '') return;
    if (/\s/.test(name)) throw new BadInputError(file, `line ${i + 1}: class name '${printable(name)}' contains whitespace`, { skippable: false });
    if (names.includes(name)) throw new BadInputError(file, `line ${i + 1}: class '${printable(name)}' is listed twice`, { skippable: false });
    names.push(name);
  });
  if (names.length === 0) throw new BadInputError(file, 'lists no class names (expected one per line)', { skippable: false });
  if (names.length > VOC_MAX_CLASSES) throw new BadInputError(file, `lists ${names.length} classes, more than ${VOC_MAX_CLASSES}`, { skippable: false });
  return classList(names, file);
}

export interface VocAnnotation {
  /** Multi-hot label, one entry per class (20 for VOC2012). */
  readonly label: Float32Array;
  /** 1 where the class is present and every one of its objects is difficult. */
  readonly difficultOnly: Float32Array;
  /** Number of `<object>` elements. */
  readonly objects: number;
}

/**
 * Ids of an ImageSets list: one per line, whitespace trimmed, empty lines skipped. An id must be
 * usable as a file name (no path separators, no control characters, no leading dot); an id listed
 * twice is an error. Returns the ids in file order plus per-line problems (`line` is 1-based).
 */
export function parseIdList(text: string): { ids: string[]; problems: { id: string; line: number; problem: string }[] } {
  const ids: string[] = [];
  const problems: { id: string; line: number; problem: string }[] = [];
  const firstLine = new Map<string, number>();
  text.split(/\r?\n|\r/).forEach((raw, i) => {
    const id = raw.trim();
    if (id === '') return;
    const line = i + 1;
    // VOC list files may carry a second column (e.g. `2008_000002  1` in class lists); keep the id.
    const first = id.split(/\s+/)[0];
    // eslint-disable-next-line no-control-regex
    if (/[/\\\u0000-\u001f\u007f]/.test(first) || first.startsWith('.')) {
      problems.push({ id: first, line, problem: `line ${line}: '${printable(first)}' is not a usable image id` });
      return;
    }
    const prev = firstLine.get(first);
    if (prev !== undefined) {
      problems.push({ id: first, line, problem: `line ${line}: id '${first}' is listed again (first on line ${prev})` });
      return;
    }
    firstLine.set(first, line);
    ids.push(first);
  });
  return { ids, problems };
}

function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (_name: string, jpath: unknown) => jpath === 'annotation.object',
});

/** Parses one Annotations XML against `classes`; every problem is a BadInputError naming `file`. */
export function parseVocAnnotation(xml: string, file: string, classes: VocClassList = VOC2012_CLASSES): VocAnnotation {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const e = valid.err;
    throw new BadInputError(file, `XML does not parse: ${e.msg} (line ${e.line}, column ${e.col})`);
  }
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new BadInputError(file, `XML does not parse: ${describeThrown(err)}`);
  }
  const root = isRecord(doc) ? doc.annotation : undefined;
  if (!isRecord(root)) throw new BadInputError(file, 'no <annotation> root element with children');
  const objects = root.object;
  if (!Array.isArray(objects) || objects.length === 0) {
    throw new BadInputError(file, 'no <object> element (every VOC image has at least one object)');
  }
  const K = classes.names.length;
  const label = new Float32Array(K);
  const easy = new Uint8Array(K);
  objects.forEach((obj: unknown, j: number) => {
    const where = `<object> #${j + 1}`;
    if (!isRecord(obj)) throw new BadInputError(file, `${where} has no <name>`);
    const name = obj.name;
    if (name === undefined) throw new BadInputError(file, `${where} has no <name>`);
    if (Array.isArray(name)) throw new BadInputError(file, `${where} has ${name.length} <name> elements`);
    if (typeof name !== 'string') throw new BadInputError(file, `${where}: <name> is not plain text`);
    const cls = name.trim().toLowerCase();
    if (cls === '') throw new BadInputError(file, `${where}: <name> is empty`);
    const k = classes.index.get(cls);
    if (k === undefined) {
      const known = classes === VOC2012_CLASSES ? 'the 20 VOC classes' : `the ${K} classes of ${classes.source}`;
      throw new BadInputError(file, `${where}: unknown class '${printable(cls)}' (not one of ${known})`);
    }
    const difficult = flag(obj.difficult, file, `${where}: <difficult>`);
    label[k] = 1;
    if (!difficult) easy[k] = 1;
  });
  const difficultOnly = new Float32Array(K);
  for (let k = 0; k < K; k++) if (label[k] === 1 && easy[k] === 0) difficultOnly[k] = 1;
  return { label, difficultOnly, objects: objects.length };
}

/** A 0/1 flag element; absent means 0. */
function flag(v: unknown, file: string, what: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '0') return false;
    if (t === '1') return true;
    throw new BadInputError(file, `${what} is '${printable(t)}', expected 0 or 1`);
  }
  throw new BadInputError(file, `${what} ${Array.isArray(v) ? 'appears more than once' : 'is not plain text'}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
