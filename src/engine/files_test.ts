import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directorySwapPaths, FileWriteError, recoverDirectory, replaceDirectory, setFileOpsForTesting, writeFileAtomic, writeJsonFile } from './files.js';

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

test('replaceDirectory swaps a whole directory; a failed fill leaves the old one; a kill between the renames is recovered', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'apc-files-'));
  const dir = join(parent, 'last');
  await replaceDirectory(dir, async (staged) => { await writeFileAtomic(join(staged, 'a.txt'), 'one'); });
  await replaceDirectory(dir, async (staged) => { await writeFileAtomic(join(staged, 'b.txt'), 'two'); });
  assert.deepEqual(readdirSync(dir), ['b.txt'], 'the old directory is replaced, not merged');
  assert.deepEqual(readdirSync(parent), ['last'], 'nothing staged or parked is left');
  await assert.rejects(replaceDirectory(dir, async (staged) => { await writeFileAtomic(join(staged, 'c.txt'), 'half'); throw new Error('disk full'); }), /disk full/);
  assert.deepEqual(readdirSync(dir), ['b.txt']);
  assert.deepEqual(readdirSync(parent), ['last']);
  // the state a kill between `dir → .dir.old` and `.dir.new → dir` leaves behind
  const { old, staged } = directorySwapPaths(dir);
  renameSync(dir, old);
  mkdirSync(staged);
  await recoverDirectory(dir);
  assert.deepEqual(readdirSync(dir), ['b.txt']);
});

test('setFileOpsForTesting injects a full disk into every write, and restores Node\'s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-files-'));
  setFileOpsForTesting({ open: async () => { throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }); } });
  try {
    await assert.rejects(writeJsonFile(join(dir, 'r.json'), {}), (err: unknown) => err instanceof FileWriteError && /cannot write file .*r\.json: ENOSPC/.test(err.message));
  } finally {
    setFileOpsForTesting();
  }
  await writeJsonFile(join(dir, 'r.json'), {});
  assert.deepEqual(readdirSync(dir), ['r.json']);
});
