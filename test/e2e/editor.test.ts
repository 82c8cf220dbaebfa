// The model editor in a real VS Code: open files, read the summary and table, select a tensor, inspect it.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, runCommand, quickOpen, show, webview, shot, CORPUS, type Session } from './harness.ts';

const expected = JSON.parse(readFileSync(join(CORPUS, 'gguf', 'llama-tiny-Q4_K.expected.json'), 'utf8'));
const attnQ = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.attn_q.weight');
const ffnDown = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_down.weight');

let s: Session;
let step = 0;

/** A GGUF with 50,000 small F32 tensors in 1,000 blocks, written here byte by byte (no project code). */
function manyTensorsGguf(): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const str = (t: string) => Buffer.concat([u64(Buffer.byteLength(t)), Buffer.from(t)]);
  const n = 50_000;
  parts.push(Buffer.from('GGUF'), u32(3), u64(n), u64(1), str('general.architecture'), u32(8), str('llama'));
  for (let i = 0; i < n; i++) parts.push(str(`blk.${Math.floor(i / 50)}.t${i % 50}.weight`), u32(1), u64(32), u32(0), u64(i * 128));
  let header = Buffer.concat(parts);
  header = Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32)]);
  return Buffer.concat([header, Buffer.alloc(n * 128)]);
}

before(async () => {
  s = await start({
    'models/llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    'models/llama-mix-Q4_K_M.gguf': join(CORPUS, 'gguf', 'llama-mix-Q4_K_M.gguf'),
    'models/dtypes.safetensors': join(CORPUS, 'safetensors', 'dtypes.safetensors'),
    'models/broken.gguf': join(CORPUS, 'malformed', 'gguf-bad-magic.gguf'),
    'models/many.gguf': 'bytes:' + manyTensorsGguf().toString('base64'),
    'notes.py': 'text:# which layer lost most?\nw = state["blk.0.attn_q.weight"]\nprint(w.shape)\nd = hf_state["model.layers.0.mlp.down_proj.weight"]\n',
  });
});

after(async () => {
  assert.deepEqual(s?.cspViolations ?? [], [], 'no Content-Security-Policy violations');
  await s?.close();
});

afterEach(async () => {
  if (s) await shot(s.page, `editor-${String(++step).padStart(2, '0')}`);
});

test('a GGUF opens in Quant Lens with its summary and table', async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  assert.equal(await wv.locator('[data-testid="file-name"]').innerText(), 'llama-tiny-Q4_K.gguf');
  assert.equal(await wv.locator('[data-testid="table-status"]').innerText(), '5 of 5 tensors');
  await wv.locator('[data-testid="tab-summary"]').click();
  assert.equal(await wv.locator('[data-testid="file-type"]').innerText(), 'Q4_K_S');
  assert.equal(await wv.locator('[data-testid="architecture"]').innerText(), 'llama');
  assert.equal(await wv.locator('[data-testid="tensor-count"]').innerText(), '5');
  await wv.locator('[data-testid="fits-total"]').waitFor();
  await wv.locator('[data-testid="tab-tensors"]').click();
});

test('filtering the table by text and by regex', async () => {
  const wv = webview(s.page);
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill('attn');
  await wv.locator('[data-testid="table-status"]', { hasText: '2 of 5 tensors match' }).waitFor();
  await filter.fill('/^blk\\.0\\.(attn_q|ffn_down)/');
  await wv.locator('[data-testid="table-status"]', { hasText: '2 of 5 tensors match' }).waitFor();
  await filter.fill('');
  await wv.locator('[data-testid="table-status"]', { hasText: '5 of 5 tensors' }).waitFor();
});

test('selecting a tensor draws its histogram and shows exact stats, scales and a block', async () => {
  const wv = webview(s.page);
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor();
  const inked = await wv.locator('canvas[data-testid="histogram"]').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return n / (c.width * c.height);
  });
  assert.ok(inked > 0.01, `histogram drawn (${inked})`);
  const stat = async (k: string) => Number(await wv.locator(`[data-testid="stat-${k}"]`).getAttribute('data-value'));
  assert.equal(await stat('min'), attnQ.stats.min);
  assert.equal(await stat('max'), attnQ.stats.max);
  assert.equal(await stat('zero_count'), attnQ.stats.zero_count);
  assert.ok(Math.abs((await stat('std')) - attnQ.stats.std) <= 1e-9 * attnQ.stats.std);
  await wv.locator('[data-testid="block-fields"] tr[data-field="scales"]').waitFor();
  await wv.locator('[data-testid="scales-note"]', { hasText: 'blocks × 8 sub-blocks' }).waitFor();
  const title = await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').getAttribute('title');
  assert.match(title ?? '', /min -2\.947/, 'row tooltip shows stats');
});

test('what-if: every candidate\'s error, and one candidate\'s error distribution', async () => {
  const wv = webview(s.page);
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  const row = wv.locator('[data-testid="what-if-table"] tr[data-candidate="Q8_0"]');
  await row.waitFor({ timeout: 60_000 });
  await row.click();
  await wv.locator('canvas[data-testid="candidate-error-histogram"][data-drawn="true"]').waitFor();
  await shot(s.page, 'what-if');
});

test('the block inspector moves between blocks', async () => {
  const wv = webview(s.page);
  const index = wv.locator('vscode-textfield[data-testid="block-index"] input');
  await index.fill('3');
  await index.press('Enter');
  await wv.locator('[data-testid="block-inspector"]', { hasText: `file offset ${attnQ.absolute_offset + 3 * 144}` }).waitFor();
});

test('hovering a tensor name in a text file shows its type and stats', async () => {
  await quickOpen(s.page, 'notes.py');
  const token = s.page.locator('.part.editor .monaco-editor .view-line span', { hasText: 'attn_q' }).first();
  await token.waitFor();
  await token.hover();
  await s.page.locator('.monaco-hover:not(.hidden)', { hasText: 'Q4_K' }).waitFor();
  await s.page.locator('.monaco-hover:not(.hidden)', { hasText: 'std' }).waitFor();
  await s.page.keyboard.press('Escape');
});

test('a Hugging Face name finds its llama.cpp tensor, with stats computed for the hover', async () => {
  const token = s.page.locator('.part.editor .monaco-editor .view-line span', { hasText: 'down_proj' }).first();
  await token.hover();
  const hover = s.page.locator('.monaco-hover:not(.hidden)', { hasText: 'blk.0.ffn_down.weight' });
  await hover.waitFor();
  // never selected in the editor: the hover scanned it in a worker
  await s.page.locator('.monaco-hover:not(.hidden)', { hasText: `std ${Number(ffnDown.stats.std.toPrecision(5))}` }).waitFor();
  assert.match(await hover.innerText(), /as model\.layers\.0\.mlp\.down_proj\.weight/);
  await shot(s.page, 'hover-hf-name');
  await s.page.keyboard.press('Escape');
});

test('Show as Text opens the coloured dump', async () => {
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  await webview(s.page).locator('body[data-ready="true"]').waitFor();
  await runCommand(s.page, 'Quant Lens: Show as Text');
  await s.page.locator('.statusbar-item[id="status.editor.mode"]', { hasText: 'Quant Lens Dump' }).waitFor();
  await s.page.locator('.part.editor .monaco-editor .view-line', { hasText: 'quantlens-dump 1' }).waitFor();
});

test('metadata: chat template as text, token lookup by text and by id, long arrays paged', async () => {
  const wv = webview(s.page);
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  await wv.locator('[data-testid="tab-metadata"]').click();
  const table = wv.locator('[data-testid="metadata-table"]');
  await table.locator('tr', { hasText: 'tokenizer.chat_template' }).locator('summary').click();
  await table.locator('pre.long-text', { hasText: "messages[0]['role'] == 'system'" }).waitFor();
  const query = wv.locator('vscode-textfield[data-testid="token-query"] input');
  await query.fill('</s>');
  await query.press('Enter');
  await wv.locator('[data-testid="token-results"] .token', { hasText: '"</s>"' }).first().waitFor();
  await query.fill('1');
  await query.press('Enter');
  await wv.locator('[data-testid="token-results"] .token', { hasText: '"<s>"' }).waitFor();
  await wv.locator('vscode-button[data-testid="page-tokenizer.ggml.scores"]').click();
  await wv.locator('.array-page[data-key="tokenizer.ggml.scores"] .array-value').nth(99).waitFor();
  await shot(s.page, 'metadata');
  await wv.locator('[data-testid="tab-tensors"]').click();
});

test('a malformed file shows one clear error line', async () => {
  await quickOpen(s.page, 'broken.gguf');
  const err = webview(s.page).locator('[data-testid="open-error"]');
  await err.waitFor();
  assert.match(await err.innerText(), /not a GGUF file: magic is "GGML" at byte 0, expected "GGUF"/);
});

test('a safetensors file opens too', async () => {
  await quickOpen(s.page, 'dtypes.safetensors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'dtypes.safetensors' }).waitFor();
  await wv.locator('[data-testid="table-status"]', { hasText: '20 of 20 tensors' }).waitFor();
});

test('50,000 tensors: the table opens, filters and scrolls to the end', async () => {
  await quickOpen(s.page, 'many.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="table-status"]', { hasText: '50000 of 50000 tensors' }).waitFor({ timeout: 60_000 });
  assert.ok((await wv.locator('.row[data-tensor]').count()) < 200, 'only visible rows are in the DOM');
  await wv.locator('.row[data-tensor="blk.0.t0.weight"]').click();
  await wv.locator('[data-testid="tensor-table"]').press('End');
  await wv.locator('.row.selected[data-tensor="blk.999.t49.weight"]').waitFor();
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill('/^blk\\.12\\./');
  await wv.locator('[data-testid="table-status"]', { hasText: '50 of 50000 tensors match' }).waitFor();
  await filter.fill('');
});

test('the Q4_K_M mix in both themes: quant map and detail', async () => {
  await quickOpen(s.page, 'llama-mix-Q4_K_M.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M.gguf' }).waitFor();
  await wv.locator('[data-testid="tab-map"]').click();
  await wv.locator('.map-cell[data-tensor="blk.1.ffn_down.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.1.ffn_down.weight' }).waitFor();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor();
  await shot(s.page, 'theme-dark');
  await runCommand(s.page, 'Preferences: Toggle between Light/Dark Themes');
  await s.page.locator('.monaco-workbench.vs').waitFor({ timeout: 30_000 });
  await show(s.page, 'llama-mix-Q4_K_M.gguf');
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor();
  await shot(s.page, 'theme-light');
});
