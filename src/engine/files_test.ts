import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWriteError, writeFileAtomic, writeJsonFile } from './files.js';

test('writeJsonFile creates the directory, indents, and writes non-finite numbers as null', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-files-'));
  const path = join(dir, 'a', 'b', 'r.json');
  await writeJsonFile(path, { auc: NaN, n: 2, xs: [Infinity, 1.5] });
  assert.equal(readFileSync(path, 'utf8'), '{\n  "auc": null,\n  "n": 2,\n  "xs": [\n    null,\n    1.5\n  ]\n}');
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['r.json'], 'no temp file left');
});

test('a failed write names the file, leaves the target untouched and removes its temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-files-'));
  const target = join(dir, 'keep.txt');
  writeFileSync(target, 'old');
  // the target is a file, so a path under it cannot be created
  await assert.rejects(writeFileAtomic(join(target, 'x.txt'), 'new'), (err: unknown) => err instanceof FileWriteError && /keep\.txt/.test(err.message));
  assert.equal(readFileSync(target, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['keep.txt']);
});
