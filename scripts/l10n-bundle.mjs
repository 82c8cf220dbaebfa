// The extension's localisable strings: every vscode.l10n.t('…') message in src/extension and l10n.t('…') in the
// webview, written to
// l10n/bundle.l10n.json (the English bundle translators start from, as @vscode/l10n-dev export writes it).
// Usage: node scripts/l10n-bundle.mjs [--check]   (--check: exit 1 if the bundle is not up to date)
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The message (first argument, a single-quoted literal) of every l10n.t call in these sources. */
export function l10nMessages(files) {
  const messages = new Set();
  const call = /\bl10n\.t\(\s*'((?:[^'\\\n]|\\.)*)'/g;
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(call)) {
      messages.add(m[1].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c)));
    }
  }
  return [...messages].sort();
}

const messages = l10nMessages([...sources(join(root, 'src', 'extension')), ...sources(join(root, 'webview'))]);
const text = JSON.stringify(Object.fromEntries(messages.map((m) => [m, m])), null, 2) + '\n';
const bundle = join(root, 'l10n', 'bundle.l10n.json');
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(bundle, 'utf8');
  } catch {
    // missing: not up to date
  }
  if (current !== text) {
    console.error(`${bundle} is not up to date: run node scripts/l10n-bundle.mjs`);
    process.exit(1);
  }
} else {
  mkdirSync(dirname(bundle), { recursive: true });
  writeFileSync(bundle, text);
  console.log(`${messages.length} messages -> ${bundle}`);
}
