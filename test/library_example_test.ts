/**
 * The README's library example runs as written against the packed package: `npm pack`, unpacked
 * into a temporary `node_modules/apc` beside links to this repository's dependencies (no
 * registry), and imported by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

test('README library example runs against the packed package, imported as \'apc\'', { timeout: 600_000 }, () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- library-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- library-example:end -->/.exec(readme);
  assert.ok(m, 'README has a library example between the markers');
  const dir = mkdtempSync(join(tmpdir(), 'apc-pack-'));
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
    const tarball = join(dir, out.trim().split('\n').at(-1)!);
    const pkgDir = join(dir, 'node_modules', 'apc');
    mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1']);
    // the package's dependencies: links to this repository's installed copies
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name.startsWith('.') || name === 'apc') continue;
      symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
    }
    const files = readdirSync(pkgDir);
    assert.ok(files.includes('dist') && files.includes('package.json'), `packed files: ${files.join(', ')}`);
    writeFileSync(join(dir, 'example.mjs'), m[1]);
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', env: { ...process.env, APC_WASM_THREADS: '1' } });
    assert.equal(r.status, 0, `example failed:\n${r.stderr}`);
    assert.match(r.stdout, /^params \d+$/m);
    assert.match(r.stdout, /^maps 2×64×64$/m);
    assert.match(r.stdout, /^onnx round trip 10 classes$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
