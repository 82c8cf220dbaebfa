// The .vsix a user installs ships every file the built extension loads (the E2E tests run it from the tree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.ts';

test('the .vsix ships every built file but the benchmark and source maps', () => {
  const built = readdirSync(join(ROOT, 'dist')).filter(
    (f) => !f.endsWith('.map') && !f.startsWith('bench') && !f.endsWith('.vsix') && !f.endsWith('.gguf'),
  );
  assert.ok(built.includes('worker.js') && built.includes('kernels.wasm'), `dist holds the build: ${built.join(', ')}`);
  const shipped = execFileSync(process.execPath, [join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'ls', '--no-dependencies'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).split('\n');
  for (const f of built) assert.ok(shipped.includes(`dist/${f}`), `dist/${f} is in the .vsix`);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'syntaxes/quantlens-dump.tmLanguage.json'])
    assert.ok(shipped.includes(f), `${f} is in the .vsix`);
});
