// Evaluate on Outputs… in a real VS Code: a tiny llama model requantized to Q4_0 against its F32 source (both
// open in Quant Lens editors), on the bundled sample text, through llama.cpp in the evaluation child; the report
// opens as Markdown and shows the same figures the CLI prints for the same run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { start, runCommand, quickOpen, webview, webviewFocused, shot, endEachTest, setTheme, ROOT, type Session } from './harness.ts';
import { existsSync } from 'node:fs';

// (the E2E tests run on Node's type stripping: the project's sources are reached through tsx or dist/cli.js)
const skip = ['node-llama-cpp', '@node-llama-cpp/linux-x64'].every((p) => existsSync(join(ROOT, 'node_modules', p)))
  ? false
  : 'skipped: the llama.cpp runtime is not installed (node-llama-cpp, @node-llama-cpp/linux-x64)';
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });

let s: Session;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ql-e2e-eval-'));
  const w = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'writeTinyLlamaMain.ts'), join(dir, 'f32.gguf')],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  assert.equal(w.status, 0, w.stderr);
  const q = cli('requantize', join(dir, 'f32.gguf'), join(dir, 'q4.gguf'), '--tensor-type', '.*=Q4_0');
  assert.equal(q.status, 0, q.stderr);
  s = await start({ 'tiny-F32.gguf': join(dir, 'f32.gguf'), 'tiny-Q4_0.gguf': join(dir, 'q4.gguf') });
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

endEachTest('evaluate', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');
/** Types `value` into the input box titled `title` once it shows, and confirms it. */
async function answer(title: string, value: string): Promise<void> {
  await s.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ timeout: 30_000 });
  await quickInput().fill(value);
  await s.page.keyboard.press('Enter');
}

const quickRow = (text: string) => s.page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();

test('Evaluate on Outputs… from the palette: Q4_0 against its F32 source, the report opens', { skip }, async () => {
  for (const name of ['tiny-F32.gguf', 'tiny-Q4_0.gguf']) {
    await quickOpen(s.page, name);
    await webview(s.page).locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  }
  // the focus moves into the webview a moment after it opens, and would close a quick pick opened before that
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Evaluate on Outputs…');
  await quickRow('tiny-F32.gguf').click();
  await quickRow('Bundled sample text').click();
  // each input box by its title: typing before the next box has replaced the previous one would go to the old one
  await answer('Context size', '64');
  await answer('Chunks to evaluate', '4');
  const lines = s.page.locator('.editor-instance .view-lines').last();
  await lines.getByText('Output evaluation').first().waitFor({ timeout: 180_000 });
  const text = (await lines.innerText()).replace(/\u00a0/g, ' ');
  const cell = (label: string) => new RegExp(`\\| ${label} \\| ([-\\d.]+)`).exec(text)?.[1];
  // the CLI on the same files and options: the same figures
  const r = cli('eval', join(dir, 'q4.gguf'), '--reference', join(dir, 'f32.gguf'), '--ctx', '64', '--chunks', '4', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(cell('KLD mean'), j.kld.mean.toFixed(6));
  assert.equal(cell('KLD p99'), j.kld.p99.toFixed(6));
  assert.equal(cell('Same top token'), (100 * j.sameTop).toFixed(3));
  assert.ok(j.kld.mean > 0 && j.sameTop < 1);
  assert.match(text, /4 chunks of 64, 124 positions scored/);
  await shot(s.page, 'evaluate-report-dark');
  for (const [theme, name] of [
    ['Default Light Modern', 'light'],
    ['Default High Contrast', 'high-contrast'],
  ]) {
    await setTheme(s.page, theme);
    await shot(s.page, `evaluate-report-${name}`);
  }
});
