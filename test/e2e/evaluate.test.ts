// Evaluate on Outputs… in a real VS Code: a tiny llama model requantized to Q4_0 against its F32 source (both
// open in Quant Lens editors), on the bundled sample text, through llama.cpp in the evaluation child. The report
// panel shows the figures the CLI prints for the same run, a plot of KLD per position with its values as a table,
// and the text with the highest-KLD tokens marked by rank; it exports JSON and opens as Markdown. After Requantize
// Tensors…, "Write, then evaluate on outputs" shows the measured output error of the new file. A model that makes
// llama.cpp abort is one error line, and the editor keeps working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  start,
  runCommand,
  quickOpen,
  webview,
  webviewFocused,
  shot,
  endEachTest,
  setTheme,
  exactly,
  takeConsoleErrors,
  waitForQuickInputValue,
  ROOT,
  type Session,
} from './harness.ts';

// (the E2E tests run on Node's type stripping: the project's sources are reached through tsx or dist/cli.js)
const skip = ['node-llama-cpp', '@node-llama-cpp/linux-x64'].every((p) => existsSync(join(ROOT, 'node_modules', p)))
  ? false
  : 'skipped: the llama.cpp runtime is not installed (node-llama-cpp, @node-llama-cpp/linux-x64)';
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
const tsx = (script: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', script), ...args], { cwd: ROOT, encoding: 'utf8' });

let s: Session;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ql-e2e-eval-'));
  const w = tsx('writeTinyLlamaMain.ts', join(dir, 'f32.gguf'));
  assert.equal(w.status, 0, w.stderr);
  const q = cli('requantize', join(dir, 'f32.gguf'), join(dir, 'q4.gguf'), '--tensor-type', '.*=Q4_0');
  assert.equal(q.status, 0, q.stderr);
  // llama.cpp aborts the process on a llama model without llama.feed_forward_length (exit 134)
  const b = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import { writeFileSync } from 'node:fs'; import { makeTinyLlama, writeTinyLlama } from './test/helpers/tinyLlama.ts';
       writeFileSync(${JSON.stringify(join(dir, 'broken.gguf'))}, writeTinyLlama(makeTinyLlama(), { omitKeys: ['llama.feed_forward_length'] }));`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(b.status, 0, b.stderr);
  s = await start({
    'tiny-F32.gguf': join(dir, 'f32.gguf'),
    'tiny-Q4_0.gguf': join(dir, 'q4.gguf'),
    'tiny-broken.gguf': join(dir, 'broken.gguf'),
  });
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
const panel = () => webview(s.page);
const stat = (id: string) => panel().locator(`[data-stat="${id}"]`).innerText();

/** Brings the model's editor to the front: its own tab when open (not a report panel named after it), else Quick Open. */
async function openModel(name: string): Promise<void> {
  const tab = s.page.locator('.tabs-container .tab', { has: s.page.locator('.label-name', { hasText: exactly(name) }) });
  if (await tab.count()) await tab.first().click();
  else await quickOpen(s.page, name);
  await webview(s.page).locator('[data-testid="file-name"]', { hasText: name }).waitFor({ timeout: 60_000 });
  await webview(s.page).locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
}

/** `quantlens eval MODEL --reference REF --json` with these options. */
function cliEval(model: string, reference: string, ctx: string, chunks: string) {
  const r = cli('eval', model, '--reference', reference, '--ctx', ctx, '--chunks', chunks, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// first: the tests after it show that the editor, the worker and the next evaluations keep working
test('a model that makes llama.cpp abort: one error line in the panel and a notification', { skip }, async () => {
  await openModel('tiny-F32.gguf');
  await openModel('tiny-broken.gguf');
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Evaluate on Outputs…');
  await quickRow('tiny-F32.gguf').click();
  await quickRow('Bundled sample text').click();
  await answer('Context size', '64');
  await answer('Chunks to evaluate', '1');
  const toast = s.page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'llama.cpp' }).first();
  await toast.waitFor({ timeout: 120_000 });
  const message = await toast.innerText();
  assert.match(message, /^Quant Lens: .*tiny-broken\.gguf/);
  assert.doesNotMatch(message, /\n/);
  await panel().locator('body[data-state="error"]').waitFor();
  assert.match(await panel().locator('[role="alert"]').innerText(), /tiny-broken\.gguf/);
  await shot(s.page, 'evaluate-broken-model');
  assert.ok(takeConsoleErrors(s, /^Quant Lens: .*tiny-broken\.gguf/).length >= 1);
});

test('Evaluate on Outputs… from the palette: Q4_0 against its F32 source, the report panel', { skip }, async () => {
  await openModel('tiny-Q4_0.gguf');
  // the focus moves into the webview a moment after it opens, and would close a quick pick opened before that
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Evaluate on Outputs…');
  await quickRow('tiny-F32.gguf').click();
  await quickRow('Bundled sample text').click();
  // each input box by its title: typing before the next box has replaced the previous one would go to the old one
  await answer('Context size', '64');
  await answer('Chunks to evaluate', '4');
  await panel().locator('body[data-state="done"]').waitFor({ timeout: 180_000 });
  // the CLI on the same files and options: the same figures
  const j = cliEval(join(s.workspace, 'tiny-Q4_0.gguf'), join(s.workspace, 'tiny-F32.gguf'), '64', '4');
  assert.ok(j.kld.mean > 0 && j.sameTop < 1);
  for (const [id, value] of [
    ['kld-mean', j.kld.mean],
    ['kld-median', j.kld.median],
    ['kld-p90', j.kld.p90],
    ['kld-p99', j.kld.p99],
    ['kld-max', j.kld.max],
  ])
    assert.equal(await stat(id), value.toFixed(6), id);
  assert.equal(await stat('same-top'), `${(100 * j.sameTop).toFixed(3)} %`);
  assert.equal(await stat('ppl'), j.perplexity.toFixed(4));
  assert.equal(await stat('ppl-ref'), j.perplexityRef.toFixed(4));
  const change = 100 * (j.perplexity / j.perplexityRef - 1);
  assert.equal(await stat('ppl-change'), `${change >= 0 ? '+' : ''}${change.toFixed(3)} %`);
  assert.match(await panel().locator('body').innerText(), /4 chunks of 64, 124 positions scored/);
  // the plot: an image with a text alternative, whose table's highest value is the KLD max
  const plot = panel().locator('svg[data-testid="kld-plot"]');
  assert.equal(await plot.getAttribute('role'), 'img');
  assert.match((await plot.locator('desc').textContent()) ?? '', /124 positions in 4 chunks; highest/);
  const cells = await panel().locator('[data-testid="plot-values"] tbody tr td:nth-child(2)').allTextContents();
  assert.ok(cells.length > 0 && cells.length <= 50);
  assert.equal(Math.max(...cells.map(Number)).toFixed(6), j.kld.max.toFixed(6));
  // the ten highest-KLD tokens, marked in the text with their rank (not by colour alone): the CLI's ten highest
  const ranked = j.positions.kld
    .map((k: number, i: number) => ({ k, index: j.positions.index[i] }))
    .sort((a: { k: number }, b: { k: number }) => b.k - a.k)
    .slice(0, 10);
  const marks = panel().locator('[data-testid="eval-text"] mark');
  assert.equal(await marks.count(), 10);
  assert.deepEqual(
    await marks.locator('sup').allTextContents(),
    [...Array(10).keys()]
      .map((i) => String(i + 1))
      .sort((a, b) => {
        // in text order: the rank of each mark in the order of its token index
        const at = (rank: string) => ranked[Number(rank) - 1].index;
        return at(a) - at(b);
      }),
  );
  const worst = await panel().locator('[data-testid="eval-worst"] tbody tr td:nth-child(4)').allTextContents();
  assert.deepEqual(
    worst,
    ranked.map((r: { k: number }) => r.k.toFixed(6)),
  );
  for (const [theme, name] of [
    ['Default Dark Modern', 'dark'],
    ['Default Light Modern', 'light'],
    ['Default High Contrast', 'high-contrast'],
  ]) {
    await setTheme(s.page, theme);
    await panel().locator('h1').scrollIntoViewIfNeeded();
    await shot(s.page, `evaluate-report-${name}`);
    await marks.first().scrollIntoViewIfNeeded();
    await shot(s.page, `evaluate-report-text-${name}`);
  }
  await setTheme(s.page, 'Default Dark Modern');

  // Export JSON…: the save dialog proposes a name beside the model; the file holds the same figures
  await panel().getByRole('button', { name: 'Export JSON…' }).click();
  await waitForQuickInputValue(s.page, '/tiny-Q4_0.quantlens-eval.json');
  await s.page.keyboard.press('Enter');
  const exported = join(s.workspace, 'tiny-Q4_0.quantlens-eval.json');
  await s.page.locator('.tab', { hasText: 'tiny-Q4_0.quantlens-eval.json' }).waitFor({ timeout: 30_000 });
  const e = JSON.parse(readFileSync(exported, 'utf8'));
  assert.equal(e.kld.mean.toFixed(6), j.kld.mean.toFixed(6));
  assert.equal(e.scored, 124);
  assert.match(e.text, /^bundled sample: /);
  assert.deepEqual(
    readdirSync(s.workspace).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left',
  );

  // Open as Markdown: the same report as a document
  await s.page.locator('.tab', { hasText: 'Output evaluation: tiny-Q4_0.gguf' }).click();
  await panel().getByRole('button', { name: 'Open as Markdown' }).click();
  const lines = s.page.locator('.editor-instance .view-lines').last();
  await lines.getByText('# Output evaluation').first().waitFor({ timeout: 30_000 });
  const text = (await lines.innerText()).replace(/\u00a0/g, ' ');
  assert.equal(new RegExp(`\\| KLD mean \\| ([-\\d.]+)`).exec(text)?.[1], j.kld.mean.toFixed(6));

  // Export Stats… of the model now carries its last output evaluation, after the tensor statistics
  await openModel('tiny-Q4_0.gguf');
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Export Stats…');
  await s.page.locator('.quick-input-widget', { hasText: 'with the last output evaluation' }).waitFor();
  await quickRow('Markdown').click();
  await waitForQuickInputValue(s.page, '/tiny-Q4_0.quantlens.md');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.tab', { hasText: 'tiny-Q4_0.quantlens.md' }).waitFor({ timeout: 60_000 });
  const report = readFileSync(join(s.workspace, 'tiny-Q4_0.quantlens.md'), 'utf8');
  assert.match(report, /blk\.0\.attn_q\.weight/, 'the tensor statistics');
  assert.ok(report.indexOf('# Output evaluation') > report.indexOf('blk.0.attn_q.weight'), 'then the evaluation');
  assert.equal(new RegExp(`\\| KLD mean \\| ([-\\d.]+)`).exec(report)?.[1], j.kld.mean.toFixed(6));
});

test('Requantize Tensors…: "Write, then evaluate on outputs" shows the measured output error of the new file', { skip }, async () => {
  await openModel('tiny-F32.gguf');
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Requantize Tensors…');
  await quickRow('Q8_0').waitFor();
  await quickInput().fill('Q4_0');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to change' }).waitFor();
  await quickInput().fill('ffn_down');
  await s.page.keyboard.press('Enter');
  await quickRow('blk.0.ffn_down.weight').waitFor({ timeout: 60_000 });
  // the predicted weight error and, one click away, the measured output error
  assert.match(await quickRow('blk.0.ffn_down.weight').innerText(), /rel\. RMSE [\d.e-]+/);
  await shot(s.page, 'evaluate-requantize-preview');
  await quickRow('Write, then evaluate on outputs').click();
  await waitForQuickInputValue(s.page, '/tiny-F32-Q4_0.gguf');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.tab', { hasText: 'Output evaluation: tiny-F32-Q4_0.gguf' }).waitFor({ timeout: 120_000 });
  await panel().locator('body[data-state="done"]').waitFor({ timeout: 180_000 });
  // the one-click defaults: the bundled sample, 4 chunks of 128
  const j = cliEval(join(s.workspace, 'tiny-F32-Q4_0.gguf'), join(s.workspace, 'tiny-F32.gguf'), '128', '4');
  assert.ok(j.kld.mean > 0);
  assert.equal(await stat('kld-mean'), j.kld.mean.toFixed(6));
  assert.equal(await stat('same-top'), `${(100 * j.sameTop).toFixed(3)} %`);
  assert.match(await panel().locator('body').innerText(), /4 chunks of 128, 252 positions scored/);
  await shot(s.page, 'evaluate-after-requantize');
});
