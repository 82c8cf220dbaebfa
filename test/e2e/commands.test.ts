// Commands in a real VS Code: requantize round trip, compare, the text dump's outline and hover, the explorer menu,
// simulated quantization of a safetensors checkpoint.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  start,
  runCommand,
  quickOpen,
  show,
  webview,
  webviewFocused,
  shot,
  waitForQuickInputValue,
  endEachTest,
  CORPUS,
  type Session,
} from './harness.ts';

const corpusJson = (...parts: string[]) => JSON.parse(readFileSync(join(CORPUS, ...parts), 'utf8'));
const tensorOf = (file: string, name: string) => corpusJson('gguf', file).tensors.find((t: { name: string }) => t.name === name);
/** What the webview and the quick picks show for a number: `digits` significant digits (webview/dom.ts fmt). */
const shown = (x: number, digits: number) => Number(x.toPrecision(digits)).toString();

let s: Session;

before(async () => {
  s = await start({
    'llama-tiny-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    'llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    // the same F32 source under a name no other file starts with (the file dialog completes prefixes)
    'source-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    'ckpt.safetensors': 'bytes:' + checkpoint().toString('base64'),
    // a split model (laid out as llama-gguf-split writes it)
    'llama-mix-Q4_K_M-00001-of-00002.gguf': join(CORPUS, 'gguf', 'llama-mix-Q4_K_M-00001-of-00002.gguf'),
    'llama-mix-Q4_K_M-00002-of-00002.gguf': join(CORPUS, 'gguf', 'llama-mix-Q4_K_M-00002-of-00002.gguf'),
  });
});

/** A one-tensor Hugging Face-style checkpoint (F32, 64 × 256), written here byte by byte (no project code). */
function checkpoint(): Buffer {
  const rows = 64;
  const cols = 256;
  const values = new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.37) * 0.05 * (i % cols === 11 ? 20 : 1));
  const header = JSON.stringify({
    __metadata__: { format: 'pt' },
    'model.layers.0.self_attn.q_proj.weight': { dtype: 'F32', shape: [rows, cols], data_offsets: [0, values.byteLength] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  return Buffer.concat([len, Buffer.from(header), Buffer.from(values.buffer)]);
}

endEachTest('commands', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');
const quickRow = (text: string) => s.page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();

test('requantize: palette -> type -> pattern -> preview -> a new verified file opens with the new types', async () => {
  await quickOpen(s.page, 'llama-tiny-F32.gguf');
  await webview(s.page).locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Requantize Tensors…');
  await quickRow('Q8_0').waitFor();
  await quickInput().fill('Q8_0');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to change' }).waitFor();
  await quickInput().fill('attn_q|ffn_down');
  await s.page.keyboard.press('Enter');
  await quickRow('blk.0.attn_q.weight').waitFor();
  assert.ok(await quickRow('F32 → Q8_0').isVisible());
  // each change shows the error it will cost (these tensors are small enough to be measured whole): the error
  // of ggml's Q8_0 quantization of this F32 source, as the corpus measured it
  const q8 = tensorOf('llama-tiny-Q8_0.expected.json', 'blk.0.ffn_down.weight').stats.error_vs_source;
  const preview = await quickRow('blk.0.ffn_down.weight').innerText();
  const m = /rel\. RMSE ([\d.e-]+) · SNR ([\d.]+) dB/.exec(preview);
  assert.ok(m, `the preview shows the error: ${preview}`);
  assert.ok(Math.abs(Number(m[1]) - q8.rel_rmse) <= 0.005 * q8.rel_rmse, `rel. RMSE ${m[1]} vs ggml's ${q8.rel_rmse}`);
  assert.ok(Math.abs(Number(m[2]) - q8.snr_db) <= 0.1, `SNR ${m[2]} dB vs ggml's ${q8.snr_db}`);
  await shot(s.page, 'requantize-preview');
  await quickRow('Write 2 changed tensors').waitFor();
  // a change row is part of the preview: choosing it keeps the preview open (it used to end the flow silently)
  await quickRow('blk.0.attn_q.weight').click();
  await quickRow('Write 2 changed tensors').waitFor();
  await quickRow('Write 2 changed tensors').click();
  // The save dialog (VS Code's simple dialog in the browser) proposes a name beside the source.
  await waitForQuickInputValue(s.page, '/llama-tiny-F32-Q8_0.gguf');
  await s.page.keyboard.press('Enter');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-F32-Q8_0.gguf' }).waitFor({ timeout: 60_000 });
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"] .type-chip', { hasText: 'Q8_0' }).waitFor();
  await wv.locator('.row[data-tensor="token_embd.weight"] .type-chip', { hasText: 'F32' }).waitFor();
  assert.ok(existsSync(join(s.workspace, 'llama-tiny-F32-Q8_0.gguf')));
  assert.deepEqual(
    readdirSync(s.workspace).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
});

test('requantize keep-split: a split model stays split, shard for shard, and opens as one model', async () => {
  await quickOpen(s.page, 'llama-mix-Q4_K_M-00001-of-00002.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M-00001-of-00002.gguf' }).waitFor({ timeout: 60_000 });
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Requantize Tensors…');
  await quickRow('Q8_0').waitFor();
  await quickInput().fill('Q8_0');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to change' }).waitFor();
  await quickInput().fill('ffn_down');
  await s.page.keyboard.press('Enter');
  await quickRow('Write 2 changed tensors').waitFor();
  await quickRow('Write 2 changed tensors').click();
  await s.page.locator('.quick-input-widget', { hasText: 'write the requantized model as' }).waitFor();
  await shot(s.page, 'requantize-keep-split');
  await quickRow('2 shards, like the source').click();
  await waitForQuickInputValue(s.page, '/llama-mix-Q4_K_M-Q8_0-00001-of-00002.gguf');
  await s.page.keyboard.press('Enter');
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M-Q8_0-00001-of-00002.gguf' }).waitFor({ timeout: 60_000 });
  // both shards' tensors are there: ffn_down of block 0 sits in shard 1, of block 1 in shard 2
  for (const name of ['blk.0.ffn_down.weight', 'blk.1.ffn_down.weight'])
    await wv.locator(`.row[data-tensor="${name}"] .type-chip`, { hasText: 'Q8_0' }).waitFor();
  await wv.locator('.row[data-tensor="output.weight"] .type-chip', { hasText: 'Q6_K' }).waitFor();
  assert.deepEqual(
    readdirSync(s.workspace)
      .filter((f) => f.startsWith('llama-mix-Q4_K_M-Q8_0'))
      .sort(),
    ['llama-mix-Q4_K_M-Q8_0-00001-of-00002.gguf', 'llama-mix-Q4_K_M-Q8_0-00002-of-00002.gguf'],
  );
  assert.deepEqual(
    readdirSync(s.workspace).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
});

test('compare: a quantized file against its F32 source ranks every tensor by error in the editor', async () => {
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-Q4_K.gguf' }).waitFor();
  await runCommand(s.page, 'Quant Lens: Compare With…');
  await s.page.locator('.quick-input-widget', { hasText: 'Compare llama-tiny-Q4_K.gguf with' }).waitFor();
  // VS Code's simple file dialog: wait for its listing, then type the file name after the folder it shows.
  await quickRow('source-F32.gguf').waitFor();
  await quickInput().press('End');
  await s.page.keyboard.type('source-F32.gguf');
  await waitForQuickInputValue(s.page, '/source-F32.gguf');
  await s.page.keyboard.press('Enter');
  const rows = wv.locator('[data-testid="ranked-errors"] tbody tr');
  await rows.first().waitFor({ timeout: 60_000 });
  assert.equal(await rows.count(), corpusJson('gguf', 'llama-tiny-Q4_K.expected.json').n_tensors);
  // Worst first: a Q4_K matrix, and the F32 norms (no error) last.
  const order = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.tensor));
  assert.deepEqual(order.slice(-2).sort(), ['blk.0.attn_norm.weight', 'output_norm.weight']);
  const worst = await rows.first().locator('td').nth(4).innerText();
  const expected = corpusJson('gguf', 'llama-tiny-Q4_K.expected.json');
  const maxRel = Math.max(
    ...expected.tensors.map((t: { stats: { error_vs_source: { rel_rmse: number } } }) => t.stats.error_vs_source.rel_rmse),
  );
  assert.ok(Math.abs(Number(worst) - maxRel) / maxRel < 1e-3, `worst rel. RMSE ${worst} vs ${maxRel}`);
  await wv.locator('[data-testid="tab-map"]').click();
  await wv.locator('[data-testid="map-colour"] button.active[data-colour="error"]').waitFor();
  await shot(s.page, 'compare-map');
  // A ranked row opens the tensor, now with its comparison: overlaid histograms, error histogram and heatmap.
  await wv.locator('[data-testid="tab-errors"]').click();
  await wv.locator('[data-testid="ranked-errors"] tr[data-tensor="blk.0.ffn_down.weight"]').click();
  const ffnDownError = tensorOf('llama-tiny-Q4_K.expected.json', 'blk.0.ffn_down.weight').stats.error_vs_source;
  await wv.locator('[data-testid="against-metrics"]', { hasText: `rel. RMSE ${shown(ffnDownError.rel_rmse, 4)} ` }).waitFor();
  await shot(s.page, 'compare-tensor');
  await wv.locator('[data-testid="tab-errors"]').click();
  await wv.locator('vscode-button[data-testid="errors-report"]').click();
  await s.page
    .locator('.part.editor .monaco-editor .view-line', { hasText: 'Error against the reference, worst first' })
    .waitFor({ timeout: 60_000 });
});

test('the text dump has an outline and the tensor hover', async () => {
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  await webview(s.page).locator('vscode-button[data-testid="cmd-showAsText"]').click();
  await s.page.locator('.statusbar-item[id="status.editor.mode"]', { hasText: 'Quant Lens Dump' }).waitFor();
  await s.page.locator('.part.editor .monaco-editor .view-line', { hasText: '== tensors' }).waitFor();
  await s.page.keyboard.press('Control+Shift+O');
  await quickInput().fill('@attn_q');
  await quickRow('blk.0.attn_q.weight').waitFor();
  await quickInput().fill('@block');
  await quickRow('block 0').waitFor();
  await quickInput().fill('@ffn_down');
  await quickRow('blk.0.ffn_down.weight').waitFor();
  await s.page.keyboard.press('Enter');
  const token = s.page.locator('.part.editor .monaco-editor .view-line span', { hasText: /^blk\.0\.ffn_down\.weight$/ }).first();
  await token.waitFor();
  await token.hover();
  const ne: number[] = tensorOf('llama-tiny-Q4_K.expected.json', 'blk.0.ffn_down.weight').ne;
  await s.page.locator('.monaco-hover:not(.hidden)', { hasText: ne.join(' × ') }).waitFor();
});

test("the explorer's context menu has the Quant Lens commands for a model file", async () => {
  await s.page.keyboard.press('Escape');
  const file = s.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'source-F32.gguf' }).first();
  await file.click({ button: 'right' });
  await s.page
    .locator('.monaco-menu .action-label', { hasText: /^Quant Lens$/ })
    .first()
    .hover();
  const showAsText = s.page.locator('.monaco-menu .action-label', { hasText: /^Show as Text$/ });
  await showAsText.waitFor();
  await shot(s.page, 'explorer-menu');
  await showAsText.click();
  await s.page.locator('.tabs-container .tab', { hasText: 'source-F32.gguf' }).filter({ hasText: 'qldump' }).first().waitFor();
  await s.page.locator('.part.editor .monaco-editor .view-line', { hasText: '== tensors' }).first().waitFor();
});

test('simulated quantization of a safetensors checkpoint: palette -> scheme -> pattern -> a new verified file opens', async () => {
  await s.page.keyboard.press('Escape');
  await quickOpen(s.page, 'ckpt.safetensors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'ckpt.safetensors' }).waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Export Simulated Quantization…');
  await quickRow('Q4_K').waitFor();
  await quickInput().fill('Q4_K');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to replace' }).waitFor();
  await s.page.keyboard.press('Enter');
  await waitForQuickInputValue(s.page, '/ckpt-sim-Q4_K.safetensors');
  await s.page.keyboard.press('Enter');
  await wv.locator('[data-testid="file-name"]', { hasText: 'ckpt-sim-Q4_K.safetensors' }).waitFor({ timeout: 60_000 });
  await wv.locator('.row[data-tensor="model.layers.0.self_attn.q_proj.weight"] .type-chip', { hasText: 'F32' }).waitFor();
  assert.ok(existsSync(join(s.workspace, 'ckpt-sim-Q4_K.safetensors')));
  assert.deepEqual(
    readdirSync(s.workspace).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
});
