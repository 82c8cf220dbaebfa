/**
 * The extension's strings are localisable as VS Code's own extensions do it: package.json's titles and
 * descriptions are %keys% of package.nls.json, the extension host's messages, titles, prompts and pick labels go
 * through vscode.l10n.t and the webview's headings, buttons, labels and tooltips through webview/l10n.ts (the same
 * bundle, passed in the page); the English bundle (l10n/bundle.l10n.json) is kept up to date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { t } from '../../webview/l10n.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const nls = JSON.parse(readFileSync(join(ROOT, 'package.nls.json'), 'utf8'));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test("package.json's user-facing strings are %keys%, each in package.nls.json, and every key is used", () => {
  const c = pkg.contributes;
  const shown: string[] = [
    pkg.displayName,
    pkg.description,
    ...c.commands.flatMap((x: { title: string; category?: string }) => [x.title, x.category ?? '%category%']),
    ...c.customEditors.map((x: { displayName: string }) => x.displayName),
    ...(c.submenus ?? []).map((x: { label: string }) => x.label),
    c.configuration.title,
    ...Object.values(c.configuration.properties).map((p) => (p as { description: string }).description),
  ];
  assert.deepEqual(
    shown.filter((s) => !/^%[^%]+%$/.test(s)),
    [],
    'no literal string',
  );
  const used = new Set([...JSON.stringify(pkg).matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]));
  assert.deepEqual(
    [...used].filter((k) => !(k in nls)),
    [],
    'every key has its English text',
  );
  assert.deepEqual(
    Object.keys(nls).filter((k) => !used.has(k)),
    [],
    'no unused key',
  );
  assert.equal(pkg.l10n, './l10n');
});

test('the English bundle lists exactly the vscode.l10n.t messages of the extension', () => {
  // exits 1, naming the file, when a message was added or changed without running the script
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'l10n-bundle.mjs'), '--check'], { stdio: 'pipe' });
  const bundle = JSON.parse(readFileSync(join(ROOT, 'l10n', 'bundle.l10n.json'), 'utf8'));
  assert.ok(Object.keys(bundle).length > 50);
  for (const [k, v] of Object.entries(bundle)) assert.equal(v, k);
});

test('messages, titles, prompts and placeholders of the extension host are not literal strings', () => {
  const literal =
    /(show(Information|Warning|Error)Message|withJob|flow\.(pick|text))\(\s*['`"]|\b(title|prompt|placeholder|placeHolder): *['`"]/;
  const found: string[] = [];
  for (const f of sources(join(ROOT, 'src', 'extension'))) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (literal.test(line)) found.push(`${f.slice(ROOT.length + 1)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});

test("the webview's t() fills {0}, {1}… as vscode.l10n.t does, and keeps a placeholder it has no argument for", () => {
  assert.equal(t('{0} tensors · {1}', 3, '1.5 KiB'), '3 tensors · 1.5 KiB');
  assert.equal(t('Save the {0} as PNG', 'histogram'), 'Save the histogram as PNG');
  assert.equal(t('{1} before {0}', 'a', 'b'), 'b before a');
  assert.equal(t('missing {1}', 'a'), 'missing {1}');
});

test('the webview wraps its headings and labels in l10n.t', () => {
  const detail = readFileSync(join(ROOT, 'webview', 'detail.ts'), 'utf8');
  for (const heading of ['Weight histogram', 'Block scales', 'What if']) assert.ok(detail.includes(`l10n.t('${heading}')`), heading);
  const bundle = JSON.parse(readFileSync(join(ROOT, 'l10n', 'bundle.l10n.json'), 'utf8'));
  assert.ok('Weight histogram' in bundle && 'Save the {0} as PNG' in bundle);
});
