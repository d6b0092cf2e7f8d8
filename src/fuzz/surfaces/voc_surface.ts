/**
 * The files of a VOC2012 tree, one surface per kind: JPEG images, PNG segmentation masks, XML
 * annotations. The seed is voc_fixture's small tree; a case opens it (no cache, 8×8 inputs) and
 * reads every sample of every split, strictly and with skipBad. 70 % of the PNG cases get their chunk
 * CRCs re-sealed, so they reach the decoder behind the CRC check.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Rng } from '../../engine/random.js';
import { BadInputError } from '../../data/bad_input.js';
import type { SplitName } from '../../data/dataset.js';
import { openVocDataset, type VocDataset } from '../../data/voc.js';
import { defaultFixtureSpec, writeVocTree } from '../../data/voc_fixture.js';
import type { FileSet, FuzzSurface } from '../surface.js';

const EXTENSION = { jpeg: '.jpg', png: '.png', xml: '.xml' } as const;

function readTree(root: string): FileSet {
  const files: FileSet = {};
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else files[relative(root, p)] = new Uint8Array(readFileSync(p));
    }
  };
  walk(root);
  return files;
}

/**
 * Rewrites the CRC of every PNG chunk it can walk (length, type, data, CRC) to match the chunk, so a
 * mutation reaches the decoder (dimensions, zlib stream, palette) instead of stopping at the CRC
 * check. Returns how many chunks were re-sealed.
 */
export function resealPngCrcs(png: Uint8Array): number {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let n = 0;
  while (at + 12 <= b.length) {
    const len = b.readUInt32BE(at);
    if (at + 12 + len > b.length) break;
    b.writeUInt32BE(crc32(b.subarray(at + 4, at + 8 + len)) >>> 0, at + 8 + len);
    n++;
    at += 12 + len;
  }
  return n;
}

const OPTIONS = { cacheDir: null, log: () => {}, imageSize: 8 } as const;

/** Reads every sample of every split, as training and evaluation would, checking value ranges. */
function readAll(ds: VocDataset): void {
  for (const split of ['train', 'val', 'test'] as SplitName[]) {
    for (let i = 0; i < ds.size(split); i++) {
      const s = ds.get(split, i);
      if (s.image.length !== 8 * 8 * 3 || s.image.some((v) => !(v >= 0 && v <= 1))) throw new Error(`${split}/${s.id}: image out of range`);
      if (s.mask && s.mask.some((v) => !(v <= 20 || v === 255))) throw new Error(`${split}/${s.id}: mask value out of range`);
    }
  }
}

export function vocSurface(kind: keyof typeof EXTENSION): FuzzSurface {
  return {
    name: kind,
    async seeds(dir) {
      const root = writeVocTree(dir, defaultFixtureSpec());
      const files = readTree(root);
      return [Object.fromEntries(Object.entries(files).map(([rel, b]) => [join('VOC2012', rel), b]))];
    },
    targets: (seed) => Object.keys(seed).filter((rel) => rel.endsWith(EXTENSION[kind])),
    afterMutate(files, rng: Rng) {
      if (kind !== 'png' || rng.next() < 0.3) return undefined;
      let n = 0;
      for (const [rel, b] of Object.entries(files)) if (rel.endsWith('.png')) n += resealPngCrcs(b);
      return `re-sealed ${n} PNG chunk CRCs`;
    },
    async load(caseDir) {
      // strict, then with skipBad, which must never throw and must skip exactly when strict failed
      // (its first skip being the strict error), as voc_fuzz_test.ts asserts
      const root = join(caseDir, 'VOC2012');
      let strictError: unknown;
      try {
        readAll(openVocDataset(root, OPTIONS));
      } catch (err) {
        strictError = err;
      }
      if (strictError !== undefined && !(strictError instanceof BadInputError)) throw strictError;
      let lenient: VocDataset;
      try {
        lenient = openVocDataset(root, { ...OPTIONS, skipBad: true });
        readAll(lenient);
      } catch (err) {
        throw new Error(`with skipBad: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }
      if (strictError === undefined && lenient.skipped.length > 0) throw new Error(`loaded, but skipBad skipped ${lenient.skipped.length} entries`);
      if (strictError instanceof BadInputError) {
        const first = lenient.skipped[0];
        if (!first) throw new Error(`rejected (${strictError.message}) but skipBad skipped nothing`);
        if (`${first.file}: ${first.problem}` !== strictError.message) throw new Error(`skipBad's first skip '${first.file}: ${first.problem}' is not the strict error '${strictError.message}'`);
        throw strictError;
      }
    },
    isCleanError: (err) => err instanceof BadInputError,
  };
}
