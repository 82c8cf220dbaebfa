// Restricted Mode in a real VS Code: with workspace trust on and the folder not trusted, models can be viewed,
// while Requantize and Export Simulated Quantization, which write files, are disabled everywhere they are offered.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { start, quickOpen, webview, shot, endEachTest, takeConsoleErrors, CORPUS, type Session } from './harness.ts';

const expected = JSON.parse(readFileSync(join(CORPUS, 'gguf', 'llama-tiny-Q4_K.expected.json'), 'utf8'));
const WRITING_COMMANDS = ['Requantize Tensors…', 'Export Simulated Quantization…'];

let s: Session;

before(async () => {
  s = await start(
    {
      'llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
      'dtypes.safetensors': join(CORPUS, 'safetensors', 'dtypes.safetensors'),
    },
    { untrusted: true },
  );
});

endEachTest('trust', () => s);

test('the folder opens in Restricted Mode', async () => {
  await s.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor();
});

test("viewing works: the model opens with its table, and a tensor's exact stats", async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv
    .locator('[data-testid="table-status"]', { hasText: `${expected.n_tensors} of ${expected.n_tensors} tensors` })
    .waitFor({ timeout: 60_000 });
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  const attnQ = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.attn_q.weight');
  await wv.locator('[data-testid="stat-max"]').waitFor({ timeout: 30_000 });
  assert.equal(Number(await wv.locator('[data-testid="stat-max"]').getAttribute('data-value')), attnQ.stats.max);
});

test('the editor title offers Requantize only as a disabled action', async () => {
  const action = s.page.locator('.editor-actions .action-item', { has: s.page.locator('[aria-label^="Requantize Tensors"]') });
  await action.waitFor();
  assert.match((await action.getAttribute('class')) ?? '', /\bdisabled\b/);
});

/** Whether a menu entry is drawn disabled (VS Code marks the item or its anchor). */
const isDisabled = (label: Locator) =>
  label.evaluate((el: Element) =>
    [el.closest('.action-item'), el.closest('a')].some(
      (e) => e?.classList.contains('disabled') || e?.getAttribute('aria-disabled') === 'true',
    ),
  );

test("the explorer's Quant Lens menu shows Requantize disabled, for a GGUF and for a safetensors file", async () => {
  for (const file of ['llama-tiny-Q4_K.gguf', 'dtypes.safetensors']) {
    await s.page.keyboard.press('Escape');
    await s.page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).first().click({ button: 'right' });
    await s.page
      .locator('.monaco-menu .action-label', { hasText: /^Quant Lens$/ })
      .first()
      .hover();
    const showAsText = s.page.locator('.monaco-menu .action-label', { hasText: /^Show as Text$/ });
    await showAsText.waitFor();
    assert.equal(await isDisabled(showAsText), false, `${file}: Show as Text is enabled`);
    assert.equal(
      await isDisabled(s.page.locator('.monaco-menu .action-label', { hasText: /^Requantize Tensors…$/ })),
      true,
      `${file}: Requantize is disabled`,
    );
    await shot(s.page, `trust-menu-${file.replace('.', '-')}`);
    await s.page.keyboard.press('Escape');
    await s.page.keyboard.press('Escape');
  }
});

test('the command palette offers neither writing command, but the others', async () => {
  const input = s.page.locator('.quick-input-widget .quick-input-box input');
  for (const deadline = Date.now() + 30_000; ;) {
    await s.page.locator('.part.sidebar .composite.title').first().click();
    await s.page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
  await input.fill('>Quant Lens: ');
  // the palette lists the extension's commands once it knows them: wait for one that must be there
  await s.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Quant Lens: Show as Text' }).waitFor();
  const rows = await s.page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
  await shot(s.page, 'trust-palette');
  await s.page.keyboard.press('Escape');
  assert.ok(
    rows.some((r) => r.includes('Compare With…')),
    `Compare is offered: ${rows.join(' | ')}`,
  );
  for (const label of WRITING_COMMANDS) assert.ok(!rows.some((r) => r.includes(label)), `${label} is not offered: ${rows.join(' | ')}`);
});

test("the editor's own Requantize… button is refused with one line, for GGUF and safetensors, and nothing is written", async () => {
  const before = readdirSync(s.workspace).sort();
  const wv = webview(s.page);
  for (const [file, tensor] of [
    ['llama-tiny-Q4_K.gguf', 'blk.0.attn_q.weight'],
    ['dtypes.safetensors', 'weights.f32'],
  ] as const) {
    await quickOpen(s.page, file);
    await wv.locator('[data-testid="file-name"]', { hasText: file }).waitFor();
    await wv.locator(`.row[data-tensor="${tensor}"]`).click();
    await wv.locator('[data-testid="detail-name"]', { hasText: tensor }).waitFor();
    await wv.locator('vscode-button[data-testid="requantize"]').click();
    const toast = s.page.locator('.notifications-toasts .notification-list-item-message', {
      hasText: 'writing files is disabled in untrusted workspaces',
    });
    await toast.waitFor();
    assert.equal(
      await s.page
        .locator('.quick-input-widget', { hasText: /Requantize|simulate/i })
        .filter({ visible: true })
        .count(),
      0,
      `${file}: no picker opened`,
    );
    await shot(s.page, `trust-refused-${file.replace('.', '-')}`);
    await s.page.locator('.notifications-toasts .notification-list-item', { hasText: 'writing files is disabled' }).first().hover();
    await s.page.locator('.notifications-toasts .codicon-notifications-clear').first().click();
    await toast.waitFor({ state: 'hidden' });
  }
  assert.deepEqual(readdirSync(s.workspace).sort(), before, 'no file was written');
  // the workbench logs each error notification to the console: exactly the two refusals
  assert.equal(takeConsoleErrors(s, /^Quant Lens: writing files is disabled in untrusted workspaces /).length, 2);
});
