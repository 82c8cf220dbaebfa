// Issue 14 in a real VS Code, as an ML engineer uses the editor: requantize rules, the importance matrix checked on
// load and unloaded, what-if on a quantized tensor, Fits in, and the selection / toggles / fits text in each theme.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  start,
  runCommand,
  quickOpen,
  show,
  webview,
  webviewFocused,
  shot,
  setTheme,
  webviewThemed,
  textContrast,
  waitForQuickInputValue,
  takeConsoleErrors,
  endEachTest,
  CORPUS,
  type Session,
} from './harness.ts';

let s: Session;

/** The legacy llama.cpp imatrix format, written here byte by byte: count; per entry name, calls, values. */
function legacyImatrix(name: string, values: number[]): Buffer {
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
  const n = Buffer.from(name);
  return Buffer.concat([i32(1), i32(n.length), n, i32(1), i32(values.length), Buffer.from(Float32Array.from(values).buffer)]);
}

before(async () => {
  s = await start({
    'llama-tiny-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    'llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    'llama-mix-Q4_K_M.gguf': join(CORPUS, 'gguf', 'llama-mix-Q4_K_M.gguf'),
    // a raw float32 file (one value per column), which llama.cpp does not write as an imatrix
    'raw.imatrix': join(CORPUS, 'gguf', 'llama-tiny.imatrix.f32'),
    'good.dat':
      'bytes:' +
      legacyImatrix(
        'blk.0.attn_q.weight',
        Array.from({ length: 256 }, (_, i) => 1 + (i % 5)),
      ).toString('base64'),
  });
});

endEachTest('ux', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');
const quickRow = (text: string) => s.page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
const toast = (text: string) => s.page.locator('.notifications-toasts .notification-list-item', { hasText: text }).first();

/** Whether an element of the webview is inside the webview's viewport (the user can see it without scrolling). */
const inView = (selector: string) =>
  webview(s.page)
    .locator(selector)
    .first()
    .evaluate((e: Element) => {
      const r = e.getBoundingClientRect();
      return r.top < window.innerHeight && r.bottom > 0;
    });

test('requantize: several REGEX=TYPE rules in one line, each previewed; a rule matching nothing is reported', async () => {
  await quickOpen(s.page, 'llama-tiny-F32.gguf');
  await webview(s.page).locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Requantize Tensors…');
  await quickRow('Q8_0').waitFor();
  await quickInput().fill('Q8_0');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to change' }).waitFor();
  await quickInput().fill('attn_q=Q6_K ffn_down nothing_here');
  await s.page.keyboard.press('Enter');
  await quickRow('blk.0.attn_q.weight').waitFor({ timeout: 60_000 });
  // the attn_q rule used to be read as the pattern "attn_q=Q6_K" and dropped
  assert.match(await quickRow('blk.0.attn_q.weight').innerText(), /F32 → Q6_K/);
  assert.match(await quickRow('blk.0.ffn_down.weight').innerText(), /F32 → Q8_0/);
  assert.match(await quickRow('matches no tensor').innerText(), /nothing_here=Q8_0/);
  await shot(s.page, 'ux-requantize-rules');
  await s.page.keyboard.press('Escape');
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
});

async function loadImatrix(file: string): Promise<void> {
  await show(s.page, 'llama-tiny-F32.gguf');
  await runCommand(s.page, 'Quant Lens: Load Importance Matrix…');
  await quickRow(file).waitFor();
  await quickInput().press('End');
  await s.page.keyboard.type(file);
  await waitForQuickInputValue(s.page, `/${file}`);
  await s.page.keyboard.press('Enter');
}

test('Load Importance Matrix refuses a raw float32 file in one line, takes a real one, and Unload forgets it', async () => {
  const wv = webview(s.page);
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  await loadImatrix('raw.imatrix');
  await toast('raw.imatrix is not a llama.cpp importance matrix').waitFor({ timeout: 30_000 });
  assert.match(await wv.locator('[data-testid="imatrix-note"]').innerText(), /^Load a llama\.cpp importance matrix/);
  await shot(s.page, 'ux-imatrix-refused');
  await loadImatrix('good.dat');
  await wv
    .locator('[data-testid="imatrix-note"]', { hasText: 'good.dat (entries for 1 of 3 matrix tensors)' })
    .waitFor({ timeout: 30_000 });
  await wv.locator('vscode-button[data-testid="unload-imatrix"]').click();
  await wv.locator('[data-testid="imatrix-note"]', { hasText: 'Load a llama.cpp importance matrix' }).waitFor();
  // the workbench logs every error notification to the console: the refusal above is expected
  takeConsoleErrors(s, /raw\.imatrix is not a llama\.cpp importance matrix/);
});

test('what-if on a quantized tensor: results in view, said to be re-quantization error; a new selection starts at the top', async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-Q4_K.gguf' }).waitFor({ timeout: 60_000 });
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  await wv.locator('vscode-textfield[data-testid="what-if-candidates"] input').fill('q5_1, int3-asym-g32');
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  await wv.locator('[data-testid="what-if-table"] tr[data-candidate="int3-asym-g32"]').waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="what-if-table"] tr[data-candidate="Q5_1"]').waitFor();
  assert.match(
    await wv.locator('[data-testid="what-if-requantization"]').innerText(),
    /already Q4_K: .*quantizing its dequantized values again.*Compare With/,
  );
  assert.ok(await inView('[data-testid="what-if-table"] tr[data-candidate]'), 'the what-if results are on screen');
  await shot(s.page, 'ux-what-if-quantized');
  // keyboard: a what-if row opens its error histogram with Enter
  await wv.locator('[data-testid="what-if-table"] tr[data-candidate="Q5_1"]').focus();
  await s.page.keyboard.press('Enter');
  await wv.locator('canvas[data-testid="candidate-error-histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
  await wv.locator('.row[data-tensor="blk.0.ffn_down.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.ffn_down.weight' }).waitFor();
  assert.equal(await wv.locator('[data-testid="detail"]').evaluate((e) => e.scrollTop), 0);
  assert.ok(await inView('[data-testid="detail-name"]'), 'the new tensor name is on screen');
});

test('an unknown what-if candidate is a one-line error in the What if section, where the user is', async () => {
  const wv = webview(s.page);
  await wv.locator('vscode-textfield[data-testid="what-if-candidates"] input').fill('q9_z');
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  await wv.locator('[data-testid="what-if-error"]', { hasText: 'unknown candidate q9_z' }).waitFor({ timeout: 60_000 });
  assert.ok(await inView('[data-testid="what-if-error"]'));
});

test('Fits in: a negative context length is said in words, and the KV cache type changes the total', async () => {
  const wv = webview(s.page);
  await wv.locator('[data-testid="tab-summary"]').click();
  const line = wv.locator('[data-testid="fits-total"]');
  assert.match(await line.innerText(), /\(f16, \d+ tokens\) \+ compute buffers/);
  const ctx = wv.locator('vscode-textfield[data-testid="context-length"] input');
  await ctx.fill('-5');
  await wv.locator('[data-testid="fits-total"]', { hasText: 'must be a whole number of tokens' }).waitFor();
  assert.doesNotMatch(await line.innerText(), /1 tokens/);
  await ctx.fill('2048');
  await wv.locator('select[data-testid="kv-type"]').selectOption('q8_0');
  await wv.locator('[data-testid="fits-total"]', { hasText: '(q8_0, 2048 tokens)' }).waitFor();
});

test('the tensor table is a grid a screen reader can follow, sortable from the keyboard', async () => {
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-Q4_K.gguf' }).waitFor();
  await wv.locator('[data-testid="tab-tensors"]').click();
  const grid = wv.locator('[data-testid="tensor-table"]');
  // 5 tensors and the header row, which the grid owns
  assert.equal(await grid.getAttribute('aria-rowcount'), '6');
  assert.equal(await grid.getAttribute('aria-owns'), 'tensor-table-header');
  assert.equal(await wv.locator('#tensor-table-header [role="columnheader"]').count(), 6);
  assert.equal(await wv.locator('.row[data-tensor="output_norm.weight"]').getAttribute('aria-rowindex'), '6');
  assert.equal(await wv.locator('.row[data-tensor="output_norm.weight"] [role="gridcell"]').count(), 5);
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await grid.press('ArrowDown');
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.ffn_down.weight' }).waitFor();
  const active = await grid.getAttribute('aria-activedescendant');
  assert.equal(await wv.locator(`#${active}`).getAttribute('data-tensor'), 'blk.0.ffn_down.weight');
  // Enter on a header sorts by it
  const bytesHeader = wv.locator('#tensor-table-header [data-sort="nbytes"]');
  await bytesHeader.focus();
  await s.page.keyboard.press('Enter');
  await wv.locator('#tensor-table-header [data-sort="nbytes"][aria-sort="ascending"]').waitFor();
  assert.equal(await wv.locator('.row[data-tensor]').first().getAttribute('data-tensor'), 'blk.0.attn_norm.weight');
  assert.equal(await wv.locator('.row[data-tensor="blk.0.ffn_down.weight"] .col-name').getAttribute('title'), 'blk.0.ffn_down.weight');
  await s.page.keyboard.press('Enter');
  await s.page.keyboard.press('Enter');
  await wv.locator('#tensor-table-header [data-sort="nbytes"][aria-sort="none"]').waitFor();
});

for (const [theme, tag] of [
  ['Default Dark Modern', 'dark'],
  ['Default Light Modern', 'light'],
  ['Default High Contrast', 'high-contrast'],
] as const) {
  test(`${theme}: the selected row, the active toggle and the fits-in text can be seen`, async () => {
    await setTheme(s.page, theme);
    await quickOpen(s.page, 'llama-mix-Q4_K_M.gguf');
    const wv = webview(s.page);
    await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M.gguf' }).waitFor({ timeout: 60_000 });
    await webviewThemed(s.page, theme);
    await wv.locator('[data-testid="tab-tensors"]').click();
    const row = wv.locator('.row[data-tensor="blk.0.attn_q.weight"]');
    await row.click();
    await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
    // selected: a background unlike its neighbour's, or (High Contrast, no selection colour) an outline
    const look = (e: Element) => {
      const c = getComputedStyle(e);
      return { bg: c.backgroundColor, outline: c.outlineStyle !== 'none' && parseFloat(c.outlineWidth) >= 1 ? c.outlineColor : '' };
    };
    const selected = await row.evaluate(look);
    const other = await wv.locator('.row[data-tensor="blk.0.attn_k.weight"]').evaluate(look);
    assert.ok(
      selected.bg !== other.bg || (selected.outline && selected.outline !== 'rgba(0, 0, 0, 0)'),
      `${theme}: selected row ${JSON.stringify(selected)} vs ${JSON.stringify(other)}`,
    );
    await shot(s.page, `ux-selected-${tag}`);
    // the active segment of a toggle differs from the inactive one, and says so to a screen reader
    const active = wv.locator('[data-testid="scale-series"] .seg-btn[aria-pressed="true"], .seg .seg-btn[aria-pressed="true"]').first();
    await active.waitFor();
    const inactive = wv.locator('.seg .seg-btn[aria-pressed="false"]').first();
    const [a, b] = [await active.evaluate(look), await inactive.evaluate(look)];
    assert.ok(a.bg !== b.bg || a.outline, `${theme}: active toggle ${JSON.stringify(a)} vs inactive ${JSON.stringify(b)}`);
    const c = await textContrast(active);
    assert.ok(c.ratio >= 4.5, `${theme}: active toggle text ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
    await shot(s.page, `ux-toggle-${tag}`);
    await wv.locator('[data-testid="tab-summary"]').click();
    const fit = wv.locator('.fits-chips .chip').first();
    await fit.waitFor();
    for (const chip of [fit, wv.locator('.fits-chips .chip').last(), wv.locator('[data-testid="fits-total"]')]) {
      const r = await textContrast(chip);
      assert.ok(r.ratio >= 4.5, `${theme}: fits-in text ${r.ratio.toFixed(2)} (${r.color} on ${r.background})`);
    }
    await shot(s.page, `ux-fits-${tag}`);
    await wv.locator('[data-testid="tab-tensors"]').click();
  });
}
