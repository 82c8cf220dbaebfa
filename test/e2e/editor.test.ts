// The model editor in a real VS Code: open files, read the summary and table, select a tensor, inspect it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  start,
  runCommand,
  quickOpen,
  show,
  webview,
  shot,
  setTheme,
  webviewThemed,
  textContrast,
  endEachTest,
  CORPUS,
  type Session,
} from './harness.ts';

const corpusJson = (...parts: string[]) => JSON.parse(readFileSync(join(CORPUS, ...parts), 'utf8'));
const expected = corpusJson('gguf', 'llama-tiny-Q4_K.expected.json');
const attnQ = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.attn_q.weight');
const ffnDown = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_down.weight');
const ggmlTypes: { name: string; blck_size: number; type_size: number }[] = corpusJson('ggml-types.json');
const Q4_K_BLOCK_BYTES = ggmlTypes.find((t) => t.name === 'q4_K')!.type_size;
/** llama.cpp's enum llama_ftype (llama.h): the value general.file_type holds -> its name. */
const LLAMA_FTYPE_NAMES: Record<number, string> = { 14: 'Q4_K_S', 15: 'Q4_K_M' };
const kv = (file: { kv: { key: string; value: unknown }[] }, key: string) => file.kv.find((k) => k.key === key)!.value;
/** What the webview shows for a number (webview/dom.ts fmt: `digits` significant digits, exponent form below 1e-3). */
const shown = (x: number, digits = 5) =>
  x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(digits - 1) : Number(x.toPrecision(digits)).toString();

let s: Session;

/** GGUF's little-endian scalars and length-prefixed strings, and its 32-byte alignment of the tensor data. */
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (t: string) => Buffer.concat([u64(Buffer.byteLength(t)), Buffer.from(t)]);
const aligned = (header: Buffer) => Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32)]);
const GGUF_STRING = 8;
const GGUF_ARRAY = 9;

/** A GGUF with 50,000 small F32 tensors in 1,000 blocks, written here byte by byte (no project code). */
function manyTensorsGguf(): Buffer {
  const parts: Buffer[] = [];
  const n = 50_000;
  parts.push(Buffer.from('GGUF'), u32(3), u64(n), u64(1), str('general.architecture'), u32(GGUF_STRING), str('llama'));
  for (let i = 0; i < n; i++) parts.push(str(`blk.${Math.floor(i / 50)}.t${i % 50}.weight`), u32(1), u64(32), u32(0), u64(i * 128));
  return Buffer.concat([aligned(Buffer.concat(parts)), Buffer.alloc(n * 128)]);
}

/** Tokens in the vocabulary: one more than a whole number of "Show values" pages of 100. */
const VOCABULARY = 201;

/** A GGUF with a vocabulary of VOCABULARY tokens ("tok0", "tok1", ...) and one F32 tensor, written here byte by byte. */
function vocabularyGguf(): Buffer {
  const tokens = Array.from({ length: VOCABULARY }, (_, i) => str(`tok${i}`));
  const header = Buffer.concat([
    Buffer.from('GGUF'),
    u32(3),
    u64(1),
    u64(2),
    str('general.architecture'),
    u32(GGUF_STRING),
    str('llama'),
    str('tokenizer.ggml.tokens'),
    u32(GGUF_ARRAY),
    u32(GGUF_STRING),
    u64(VOCABULARY),
    ...tokens,
    str('blk.0.attn_norm.weight'),
    u32(1),
    u64(32),
    u32(0),
    u64(0),
  ]);
  return Buffer.concat([aligned(header), Buffer.alloc(32 * 4)]);
}

before(async () => {
  s = await start({
    'models/llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    'models/llama-tiny-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    'models/llama-mix-Q4_K_M.gguf': join(CORPUS, 'gguf', 'llama-mix-Q4_K_M.gguf'),
    'models/dtypes.safetensors': join(CORPUS, 'safetensors', 'dtypes.safetensors'),
    'models/broken.gguf': join(CORPUS, 'malformed', 'gguf-bad-magic.gguf'),
    'models/broken.safetensors': join(CORPUS, 'malformed', 'st-offsets-overlap.safetensors'),
    'models/many.gguf': 'bytes:' + manyTensorsGguf().toString('base64'),
    'models/vocabulary.gguf': 'bytes:' + vocabularyGguf().toString('base64'),
    'notes.py':
      'text:# which layer lost most?\nw = state["blk.0.attn_q.weight"]\nprint(w.shape)\nd = hf_state["model.layers.0.mlp.down_proj.weight"]\n',
  });
});

endEachTest('editor', () => s);

test('a GGUF opens in Quant Lens with its summary and table', async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  assert.equal(await wv.locator('[data-testid="file-name"]').innerText(), 'llama-tiny-Q4_K.gguf');
  assert.equal(await wv.locator('[data-testid="table-status"]').innerText(), `${expected.n_tensors} of ${expected.n_tensors} tensors`);
  await wv.locator('[data-testid="tab-summary"]').click();
  assert.equal(await wv.locator('[data-testid="file-type"]').innerText(), LLAMA_FTYPE_NAMES[kv(expected, 'general.file_type') as number]);
  assert.equal(await wv.locator('[data-testid="architecture"]').innerText(), kv(expected, 'general.architecture'));
  assert.equal(await wv.locator('[data-testid="tensor-count"]').innerText(), String(expected.n_tensors));
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
  assert.ok((title ?? '').includes(`min ${shown(attnQ.stats.min)}  max ${shown(attnQ.stats.max)}`), `row tooltip shows stats: ${title}`);
});

test('the block inspector moves between blocks', async () => {
  const wv = webview(s.page);
  const index = wv.locator('vscode-textfield[data-testid="block-index"] input');
  await index.fill('3');
  await index.press('Enter');
  await wv.locator('[data-testid="block-inspector"]', { hasText: `file offset ${attnQ.absolute_offset + 3 * Q4_K_BLOCK_BYTES}` }).waitFor();
});

test("what-if on the F32 source: each ggml type's rel. RMSE is the error of ggml's own quantization of it", async () => {
  // llama-tiny-F32 holds the corpus's float32 source; llama-tiny-<TYPE> holds ggml's quantization of it, and its
  // expected.json the error numpy measured against the source: what-if must show that error for every such type
  await quickOpen(s.page, 'llama-tiny-F32.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-F32.gguf' }).waitFor();
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  await wv.locator('[data-testid="what-if-table"] tr[data-candidate]').first().waitFor({ timeout: 60_000 });
  const checked: string[] = [];
  for (const type of ['F16', 'BF16', 'Q8_0', 'Q6_K', 'Q5_K', 'Q4_K', 'Q4_0', 'IQ4_XS', 'Q3_K', 'Q2_K']) {
    const ggml = corpusJson('gguf', `llama-tiny-${type}.expected.json`).tensors.find(
      (t: { name: string }) => t.name === 'blk.0.attn_q.weight',
    );
    const want = ggml.stats.error_vs_source.rel_rmse;
    const cell = wv.locator(`[data-testid="what-if-table"] tr[data-candidate="${type}"] td`).nth(3);
    assert.equal(await cell.innerText(), shown(want, 4), `${type}: rel. RMSE shown vs ggml's ${want}`);
    checked.push(type);
  }
  assert.equal(checked.length, 10);
  await wv.locator('[data-testid="what-if-table"] tr[data-candidate="Q8_0"]').click();
  await wv.locator('canvas[data-testid="candidate-error-histogram"][data-drawn="true"]').waitFor();
  await shot(s.page, 'what-if');
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

// Replies reach the view that asked: the webview routes each of the host's replies by its request's id.
test('the last page of one token of "Show values" lands in the metadata table, not in the token lookup', async () => {
  await quickOpen(s.page, 'vocabulary.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'vocabulary.gguf' }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="tab-metadata"]').click();
  const page = wv.locator('vscode-button[data-testid="page-tokenizer.ggml.tokens"]');
  const values = wv.locator('.array-page[data-key="tokenizer.ggml.tokens"] .array-value');
  for (let shown = 100; shown < VOCABULARY; shown += 100) {
    await page.click();
    await values.nth(shown - 1).waitFor();
  }
  await page.click();
  // the last page holds one token: it belongs after the others
  await values.nth(VOCABULARY - 1).waitFor();
  assert.equal((await values.nth(VOCABULARY - 1).innerText()).trim(), `${VOCABULARY - 1}: "tok${VOCABULARY - 1}"`);
  assert.equal(await wv.locator('[data-testid="token-results"] .token').count(), 0, 'the token lookup asked for nothing');
  // and a lookup by id still answers in the lookup box
  const query = wv.locator('vscode-textfield[data-testid="token-query"] input');
  await query.fill('7');
  await query.press('Enter');
  await wv.locator('[data-testid="token-results"] .token', { hasText: '"tok7"' }).waitFor();
  assert.equal(await values.count(), VOCABULARY, 'the lookup added nothing to the metadata table');
  await wv.locator('[data-testid="tab-tensors"]').click();
});

test('an invalid GGUF and an invalid safetensors file: a headline saying so and the one-line reason', async () => {
  const wv = webview(s.page);
  for (const [file, headline, reason] of [
    ['broken.gguf', 'Not a valid GGUF file', /^not a GGUF file: magic is "GGML" at byte 0, expected "GGUF"$/],
    // tensors a [0,32) and b [16,48): the reason names the overlap and where
    ['broken.safetensors', 'Not a valid safetensors file', /overlap.*\b(16|32)\b|\b(16|32)\b.*overlap/i],
  ] as const) {
    await quickOpen(s.page, file);
    await wv.locator('[data-testid="open-error-headline"]', { hasText: headline }).waitFor();
    const text = await wv.locator('[data-testid="open-error-reason"]').innerText();
    assert.match(text, reason, `${file}: ${text}`);
    assert.ok(!text.includes('\n'), `${file}: the reason is one line`);
  }
});

test('a safetensors file opens too', async () => {
  await quickOpen(s.page, 'dtypes.safetensors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'dtypes.safetensors' }).waitFor();
  const n = corpusJson('safetensors', 'dtypes.expected.json').tensors.length;
  await wv.locator('[data-testid="table-status"]', { hasText: `${n} of ${n} tensors` }).waitFor();
});

test('50,000 tensors: the table opens, filters and scrolls to the end', async () => {
  await quickOpen(s.page, 'many.gguf');
  const wv = webview(s.page);
  // reading 50,000 tensor infos takes a while on a busy machine: the wait is for the state, bounded generously
  await wv.locator('[data-testid="table-status"]', { hasText: '50000 of 50000 tensors' }).waitFor({ timeout: 180_000 });
  assert.ok((await wv.locator('.row[data-tensor]').count()) < 200, 'only visible rows are in the DOM');
  await wv.locator('.row[data-tensor="blk.0.t0.weight"]').click();
  await wv.locator('[data-testid="tensor-table"]').press('End');
  await wv.locator('.row.selected[data-tensor="blk.999.t49.weight"]').waitFor();
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill('/^blk\\.12\\./');
  await wv.locator('[data-testid="table-status"]', { hasText: '50 of 50000 tensors match' }).waitFor();
  await filter.fill('');
});

/** The text a user reads first, and the weakest contrast it may have on its background (WCAG AA for normal text). */
const KEY_TEXT = [
  '[data-testid="file-name"]',
  '[data-testid="tab-tensors"]',
  '.row[data-tensor="blk.1.ffn_down.weight"] .type-chip',
  '.row[data-tensor="output.weight"]',
  '[data-testid="detail-name"]',
  '[data-testid="stat-std"]',
];
const MIN_CONTRAST = 4.5;
for (const [theme, tag] of [
  ['Default Dark Modern', 'dark'],
  ['Default Light Modern', 'light'],
  ['Default High Contrast', 'high-contrast'],
] as const) {
  test(`${theme}: the Q4_K_M mix's quant map and detail, and an invalid file's headline, in readable contrast`, async () => {
    await setTheme(s.page, theme);
    await quickOpen(s.page, 'llama-mix-Q4_K_M.gguf');
    const wv = webview(s.page);
    await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M.gguf' }).waitFor();
    await webviewThemed(s.page, theme);
    const measured: string[] = [];
    const measure = async (what: string, selector: string) => {
      const c = await textContrast(wv.locator(selector).first());
      measured.push(`${what} ${selector} ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
      return c;
    };
    await wv.locator('[data-testid="tab-map"]').click();
    await wv.locator('.map-cell[data-tensor="blk.1.ffn_down.weight"]').waitFor();
    await shot(s.page, `theme-${tag}-map`);
    await wv.locator('.map-cell[data-tensor="blk.1.ffn_down.weight"]').click();
    await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.1.ffn_down.weight' }).waitFor();
    await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor();
    await wv.locator('[data-testid="stat-std"]').waitFor();
    for (const selector of KEY_TEXT) {
      const c = await measure('detail', selector);
      assert.ok(c.ratio >= MIN_CONTRAST, `${theme}: ${selector} contrast ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
    }
    await shot(s.page, `theme-${tag}`);
    for (const file of ['broken.gguf', 'broken.safetensors']) {
      await quickOpen(s.page, file);
      await wv.locator('[data-testid="open-error-headline"]').waitFor();
      await webviewThemed(s.page, theme);
      for (const selector of ['[data-testid="open-error-headline"]', '[data-testid="open-error-reason"]']) {
        const c = await measure(file, selector);
        assert.ok(c.ratio >= MIN_CONTRAST, `${theme}: ${file} ${selector} contrast ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
      }
      await shot(s.page, `invalid-${file.replace('.', '-')}-${tag}`);
    }
    console.log(`# ${theme} contrast: ${measured.join('; ')}`);
  });

  // The map's labels are black or white by the luminance of their type colour (webview/colours.ts labelColourOn).
  test(`${theme}: every quant map cell's label is readable on its colour`, async () => {
    await quickOpen(s.page, 'llama-mix-Q4_K_M.gguf');
    const wv = webview(s.page);
    await wv.locator('[data-testid="file-name"]', { hasText: 'llama-mix-Q4_K_M.gguf' }).waitFor();
    await webviewThemed(s.page, theme);
    await wv.locator('[data-testid="tab-map"]').click();
    const cells = wv.locator('.map-cell[data-tensor]');
    await cells.first().waitFor();
    const low: string[] = [];
    for (let i = 0; i < (await cells.count()); i++) {
      const c = await textContrast(cells.nth(i));
      if (c.ratio < MIN_CONTRAST)
        low.push(`${await cells.nth(i).getAttribute('data-tensor')} ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
    }
    await wv.locator('[data-testid="tab-tensors"]').click();
    assert.deepEqual(low, [], `${theme}: map labels below ${MIN_CONTRAST}:1`);
  });
}
