// Issue 14 in a real VS Code, what the editor looks like and links to: a quantized checkpoint's size by scheme, type
// chips whole and the header scrolling with wide columns; the |w| heatmap's hover, colour bar and click-through to
// the block; the |error| heatmap's hover after Compare; charts saved as PNG, the overlay and error histogram too; the
// map legend's colour bar drawn at its height; Cancel only while a job runs; the Errors tab sorted by SNR and cosine from the
// keyboard with the model's aggregate; links from a tensor to its Errors row and map cell; the reference's type mix
// beside the model's; and in Dark, Light and High Contrast the map's labels readable, the error scale's steps told
// apart by lightness alone and the charts in the theme's own colours, read again when the theme changes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  start,
  quickOpen,
  show,
  runCommand,
  webview,
  webviewFocused,
  shot,
  setTheme,
  webviewThemed,
  textContrast,
  waitForQuickInputValue,
  exactly,
  endEachTest,
  CORPUS,
  ROOT,
  type Session,
} from './harness.ts';

const QUANT = join(ROOT, 'test', 'fixtures', 'safetensors-quant');
const AWQ = join(QUANT, 'awq-gemm-4bit-g128');
const corpusJson = (...p: string[]) => JSON.parse(readFileSync(join(CORPUS, ...p), 'utf8'));
const Q4K = corpusJson('gguf', 'llama-tiny-Q4_K.expected.json');
/** What the webview shows for a number (webview/dom.ts fmt) and a count (core formatCount). */
const shown = (x: number, digits = 5) =>
  x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential(digits - 1) : Number(x.toPrecision(digits)).toString();
const counted = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : String(n);
const bytesShown = (n: number) => {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let [i, v] = [0, n];
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
};

/** A safetensors file's header: each tensor's dtype, shape and bytes. */
function safetensorsHeader(path: string): Record<string, { dtype: string; shape: number[]; bytes: number }> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const json = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: number[] }
  >;
  return Object.fromEntries(
    Object.entries(json)
      .filter(([k]) => k !== '__metadata__')
      .map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, bytes: v.data_offsets[1] - v.data_offsets[0] }]),
  );
}

/** WCAG 2 relative luminance of a CSS rgb() colour, and the contrast of two luminances. */
function luminance(css: string): number {
  const [r, g, b] = /rgba?\(([^)]+)\)/
    .exec(css)![1]
    .split(/[ ,/]+/)
    .filter(Boolean)
    .map(Number);
  const c = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
}
const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

let s: Session;

before(async () => {
  s = await start({
    'llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    'source-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    'awq/config.json': join(AWQ, 'config.json'),
    'awq/awq-gemm.safetensors': join(AWQ, 'model.safetensors'),
    'original/model.safetensors': join(QUANT, 'original', 'model.safetensors'),
    'original/config.json': join(QUANT, 'original', 'config.json'),
  });
});

endEachTest('ux-visual', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');
const listed = (label: string) =>
  s.page.locator('.quick-input-list .monaco-list-row', { has: s.page.locator('.label-name', { hasText: exactly(label) }) }).first();

/** Compare With… a file, typed into VS Code's simple file dialog once it lists `listedFirst`. */
async function compareWith(path: string, listedFirst: string, headText: RegExp): Promise<void> {
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Compare With…');
  await s.page.locator('.quick-input-widget', { hasText: 'with' }).waitFor();
  await listed(listedFirst).waitFor();
  await quickInput().fill(path);
  await waitForQuickInputValue(s.page, path.slice(path.lastIndexOf('/', path.lastIndexOf('/') - 1)));
  await listed(path.split('/').pop()!).waitFor();
  await waitForQuickInputValue(s.page, path.slice(path.lastIndexOf('/', path.lastIndexOf('/') - 1)));
  await s.page.locator('.quick-input-widget .monaco-button', { hasText: /^OK$/ }).click();
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  await webview(s.page).locator('[data-testid="errors"] .errors-head', { hasText: headText }).waitFor({ timeout: 120_000 });
}

/** Save a chart through its button: VS Code's simple save dialog offers `<tensor>-<chart>.png` in the workspace. */
async function savePng(
  testid: string,
  tensor: string,
): Promise<{ width: number; height: number; canvas: { width: number; height: number } }> {
  const wv = webview(s.page);
  const canvas = await wv
    .locator(`canvas[data-testid="${testid}"]`)
    .evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height }));
  await wv.locator(`vscode-button[data-testid="save-${testid}"]`).click();
  const name = `${tensor}-${testid}.png`;
  await waitForQuickInputValue(s.page, `/${name}`);
  await s.page.keyboard.press('Enter');
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  const file = join(s.workspace, name);
  for (let i = 0; !existsSync(file); i++) {
    if (i > 300) throw new Error(`${name} was not written`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const png = readFileSync(file);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name} is a PNG`);
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), canvas };
}

test('a quantized checkpoint: size by type counts logical weights by scheme, type chips whole, the header scrolls with wide columns', async () => {
  await quickOpen(s.page, 'awq-gemm.safetensors');
  const wv = webview(s.page);
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  const exp = JSON.parse(readFileSync(join(AWQ, 'expected.json'), 'utf8'));
  await wv.locator('[data-testid="tab-summary"]').click();
  const types = await wv
    .locator('[data-testid="size-by-type"] tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())));
  // no stored dtype of the packed components (I32 qweight / qzeros): one row for the scheme of all 14 weights
  assert.ok(!types.some((r) => r[0] === 'I32'), `no I32 row: ${JSON.stringify(types)}`);
  const weights = exp.weights as { shape: number[] }[];
  const scheme = types.find((r) => r[1] === String(weights.length));
  assert.ok(scheme, `a row of ${weights.length} logical weights: ${JSON.stringify(types)}`);
  assert.equal(scheme[2], counted(weights.reduce((a, w) => a + w.shape[0] * w.shape[1], 0)));
  const f16 = (exp.unquantized_tensors as { dtype: string }[]).filter((t) => t.dtype === 'F16').length;
  assert.equal(types.find((r) => r[0] === 'F16')?.[1], String(f16));
  await shot(s.page, 'ux-visual-awq-summary');

  await wv.locator('[data-testid="tab-tensors"]').click();
  const chips = wv.locator('.row[data-tensor] .col-type .type-chip');
  await chips.first().waitFor();
  const cut = await chips.evaluateAll((cs) => cs.filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent));
  assert.deepEqual(cut, [], 'no type chip is cut');
  // the header's columns stand above the rows' (the type column sized to the longest scheme in both)
  for (const key of ['shape', 'type', 'offset']) {
    const header = await wv.locator(`#tensor-table-header [data-sort="${key}"]`).evaluate((e) => e.getBoundingClientRect().left);
    const cell = await wv
      .locator(`.row[data-tensor] [role="gridcell"]`)
      .nth(['shape', 'type', 'bitsPerWeight', 'nbytes', 'offset'].indexOf(key))
      .evaluate((e) => e.getBoundingClientRect().left);
    assert.ok(Math.abs(header - cell) <= 1, `${key}: header at ${header}, cells at ${cell}`);
  }
  await shot(s.page, 'ux-visual-awq-table');
  // widen the name column past the table: the header scrolls sideways with the rows
  const handle = wv.locator('#tensor-table-header [data-sort="name"] .col-resize');
  const box = (await handle.boundingBox())!;
  await s.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await s.page.mouse.down();
  await s.page.mouse.move(box.x + 900, box.y + box.height / 2, { steps: 5 });
  await s.page.mouse.up();
  const grid = wv.locator('[data-testid="tensor-table"]');
  await grid.evaluate((v) => {
    v.scrollLeft = 150;
    v.dispatchEvent(new Event('scroll'));
  });
  const [headerShape, rowShape] = await Promise.all([
    wv.locator('#tensor-table-header [data-sort="shape"]').evaluate((e) => e.getBoundingClientRect().left),
    wv
      .locator('.row[data-tensor] .col-shape')
      .first()
      .evaluate((e) => e.getBoundingClientRect().left),
  ]);
  assert.ok(await grid.evaluate((v) => v.scrollLeft > 0), 'the rows scrolled sideways');
  assert.ok(Math.abs(headerShape - rowShape) <= 1, `the shape header (${headerShape}) is above the shape cells (${rowShape})`);
  await shot(s.page, 'ux-visual-wide-name');
});

test('the reference beside the model: Errors scheme names on one line, and the Summary shows its size by type', async () => {
  await show(s.page, 'awq-gemm.safetensors');
  await compareWith(join(s.workspace, 'original', 'model.safetensors'), 'awq-gemm.safetensors', /^Against model\.safetensors · /);
  const wv = webview(s.page);
  const lines = await wv.locator('[data-testid="ranked-errors"] tbody td.type').evaluateAll((tds) =>
    tds.map((td) => {
      const r = document.createRange();
      r.selectNodeContents(td);
      return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
    }),
  );
  assert.ok(lines.length && lines.every((n) => n === 1), `every type on one line: ${lines}`);
  await shot(s.page, 'ux-visual-awq-errors');
  await wv.locator('[data-testid="tab-summary"]').click();
  await wv.locator('[data-testid="reference-bytes-head"]').waitFor();
  const original = Object.values(safetensorsHeader(join(QUANT, 'original', 'model.safetensors')));
  const bf16 = original.filter((t) => t.dtype === 'BF16').reduce((a, t) => a + t.bytes, 0);
  assert.equal(
    await wv.locator('[data-testid="size-by-type"] tr[data-type="BF16"] [data-testid="reference-bytes"]').innerText(),
    bytesShown(bf16),
  );
  await shot(s.page, 'ux-visual-type-mixes');
});

test('the |w| heatmap: a cell’s rows, columns and value on hover, a colour bar, and a click opens its block', async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-Q4_K.gguf' }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="tab-tensors"]').click();
  await wv.locator('.row[data-tensor="blk.0.ffn_down.weight"]').click();
  await wv.locator('[data-testid="heatmap-scale"]', { hasText: 'cells over 256 rows × 512 columns' }).waitFor({ timeout: 60_000 });
  // no job runs once the tensor's analyses are in: no Cancel
  await wv.locator('vscode-button[data-testid="cancel"]').waitFor({ state: 'hidden', timeout: 60_000 });
  assert.match(
    (await wv.locator('[data-testid="heatmap-bar"] [role="img"]').getAttribute('aria-label'))!,
    /^colour scale: max \|w\| 0 darkest, /,
  );
  // ffn_down: rows of 512 (ne[0]) × 256 rows in 128 × 128 cells, so cell (10, 20) covers rows 40–41, columns 40–43
  const t = Q4K.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_down.weight');
  const raw = readFileSync(join(CORPUS, 'gguf', t.dequant.file));
  const values = new Float32Array(
    raw.buffer.slice(raw.byteOffset + t.dequant.offset_bytes, raw.byteOffset + t.dequant.offset_bytes + 4 * t.dequant.count),
  );
  let expected = 0;
  for (let r = 40; r < 42; r++) for (let c = 40; c < 44; c++) expected = Math.max(expected, Math.abs(values[r * 512 + c]));
  const heat = wv.locator('canvas[data-testid="heatmap"]');
  await heat.scrollIntoViewIfNeeded();
  // the canvas on the page (its 1 px border aside), and the middle of cell (10, 20)
  const b = (await heat.boundingBox())!;
  const at = { x: b.x + 1 + ((10 + 0.5) / 128) * (b.width - 2), y: b.y + 1 + ((20 + 0.5) / 128) * (b.height - 2) };
  await s.page.mouse.move(at.x, at.y);
  const tip = wv.locator('[data-testid="heatmap-tip"]');
  await tip.waitFor();
  const blockSize = corpusJson('ggml-types.json').find((x: { name: string }) => x.name === 'q4_K').blck_size;
  const block = Math.floor((40 * 512 + 40) / blockSize);
  assert.equal(await tip.innerText(), `rows 40–41 · columns 40–43 · max |w| ${shown(expected, 4)} · block ${block}`);
  assert.equal(Number(await tip.getAttribute('data-value')), expected);
  await shot(s.page, 'ux-visual-heatmap-hover');
  await s.page.mouse.click(at.x, at.y);
  await wv
    .locator('[data-testid="block-inspector"]', {
      hasText: `of ${t.n_elements / blockSize} · file offset ${t.absolute_offset + block * (t.nbytes / (t.n_elements / blockSize))}`,
    })
    .waitFor();
  assert.equal(
    await wv.locator('vscode-textfield[data-testid="block-index"]').evaluate((e) => (e as HTMLInputElement).value),
    String(block),
  );
});

test('charts and the heatmap save as PNG files of their own size, through the save dialog', async () => {
  const wv = webview(s.page);
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
  for (const chart of ['histogram', 'heatmap', 'scales']) {
    const { width, height, canvas } = await savePng(chart, 'blk.0.ffn_down.weight');
    assert.deepEqual({ width, height }, canvas, `${chart}: the PNG is the chart's size`);
    // the heatmap: one pixel per cell
    if (chart === 'heatmap') assert.deepEqual([width, height], [128, 128]);
  }
});

test('Errors: sorted by SNR and cosine from the keyboard, with the model-level aggregate; a tensor links to its row and map cell', async () => {
  await show(s.page, 'llama-tiny-Q4_K.gguf');
  await compareWith(join(s.workspace, 'source-F32.gguf'), 'source-F32.gguf', /^Against source-F32\.gguf · /);
  const wv = webview(s.page);
  const errs = Q4K.tensors.map(
    (t: { name: string; n_elements: number; stats: { error_vs_source: { rel_rmse: number; snr_db: number | null } } }) => ({
      name: t.name,
      n: t.n_elements,
      ...t.stats.error_vs_source,
    }),
  ) as { name: string; n: number; rel_rmse: number; snr_db: number | null }[];
  const n = errs.reduce((a, e) => a + e.n, 0);
  const overall = Math.sqrt(errs.reduce((a, e) => a + e.n * e.rel_rmse ** 2, 0) / n);
  assert.equal(await wv.locator('[data-testid="aggregate-rel-rmse"]').innerText(), shown(overall, 4));
  const minSnr = Math.min(...errs.filter((e) => e.snr_db !== null).map((e) => e.snr_db!));
  assert.equal(await wv.locator('[data-testid="aggregate-snr"]').innerText(), `min ${shown(minSnr, 4)}`);
  const order = () =>
    wv.locator('[data-testid="ranked-errors"] tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.tensor));
  // SNR from the keyboard: Enter on its header sorts worst (lowest) first, again the other way
  await wv.locator('th[data-sort="snr_db"] button').focus();
  await s.page.keyboard.press('Enter');
  await wv.locator('th[data-sort="snr_db"][aria-sort="ascending"]').waitFor();
  const bySnr = [...errs]
    .sort((a, b) => (a.snr_db ?? Infinity) - (b.snr_db ?? Infinity) || a.name.localeCompare(b.name))
    .map((e) => e.name);
  assert.deepEqual(await order(), bySnr);
  assert.equal(await wv.locator('th[data-sort="rel_rmse"]').getAttribute('aria-sort'), 'none');
  await s.page.keyboard.press('Enter');
  await wv.locator('th[data-sort="snr_db"][aria-sort="descending"]').waitFor();
  const bySnrDown = [...errs].sort((a, b) => (b.snr_db ?? Infinity) - (a.snr_db ?? Infinity) || a.name.localeCompare(b.name));
  assert.deepEqual(
    await order(),
    bySnrDown.map((e) => e.name),
  );
  await wv.locator('th[data-sort="cosine"] button').focus();
  await s.page.keyboard.press(' ');
  await wv.locator('th[data-sort="cosine"][aria-sort="ascending"]').waitFor();
  const cosines = await wv.locator('[data-testid="ranked-errors"] tbody tr td:nth-child(9)').allInnerTexts();
  assert.deepEqual(
    cosines.map(Number),
    [...cosines.map(Number)].sort((a, b) => a - b),
    'cosine ascending',
  );
  await shot(s.page, 'ux-visual-errors-sorted');
  // a row opens its tensor from the keyboard; the tensor links back to its row and to its map cell
  await wv.locator('[data-testid="ranked-errors"] tr[data-tensor="blk.0.attn_q.weight"]').focus();
  await s.page.keyboard.press('Enter');
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  await wv.locator('[data-testid="link-errors"]').click();
  await wv.locator('[data-testid="ranked-errors"] tr.linked[data-tensor="blk.0.attn_q.weight"]').waitFor();
  assert.equal(await wv.locator('body').evaluate(() => (document.activeElement as HTMLElement).dataset.tensor), 'blk.0.attn_q.weight');
  await wv.locator('[data-testid="tab-tensors"]').click();
  await wv.locator('[data-testid="link-map"]').click();
  await wv.locator('.map-cell.linked[data-tensor="blk.0.attn_q.weight"]').waitFor();
  assert.equal(await wv.locator('body').evaluate(() => (document.activeElement as HTMLElement).dataset.tensor), 'blk.0.attn_q.weight');
  await wv.locator('[data-testid="tab-tensors"]').click();
  // the what-if chart: its points in the theme's colours too (checked per theme below)
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  await wv.locator('canvas[data-testid="error-vs-bits"][data-colours]').waitFor({ timeout: 60_000 });
  await wv.locator('canvas[data-testid="overlay"][data-colours]').waitFor({ timeout: 60_000 });
});

test('Compare: the |error| heatmap gives a cell’s rows, columns and value on hover and from the keyboard; the overlay and error histogram save as PNG', async () => {
  const wv = webview(s.page);
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  // attn_q: rows of 256 (ne[0]) × 256 rows in 128 × 128 cells, so cell (10, 20) covers rows 40–41, columns 20–21
  const heat = wv.locator('canvas[data-testid="error-heatmap"][width="128"][height="128"]');
  await heat.waitFor({ timeout: 60_000 });
  const valuesOf = (file: string, at: number, count: number) => {
    const raw = readFileSync(join(CORPUS, 'gguf', file));
    return new Float32Array(raw.buffer.slice(raw.byteOffset + at, raw.byteOffset + at + 4 * count));
  };
  const t = Q4K.tensors.find((x: { name: string }) => x.name === 'blk.0.attn_q.weight');
  const source = corpusJson('gguf', 'llama-tiny-F32.expected.json').tensors.find((x: { name: string }) => x.name === t.name);
  const mine = valuesOf(t.dequant.file, t.dequant.offset_bytes, t.dequant.count);
  const reference = valuesOf(source.dequant.file, source.dequant.offset_bytes, source.dequant.count);
  const maxError = (r0: number, r1: number, c0: number, c1: number) => {
    let m = 0;
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) m = Math.max(m, Math.abs(mine[r * 256 + c] - reference[r * 256 + c]));
    return m;
  };
  const blockSize = corpusJson('ggml-types.json').find((x: { name: string }) => x.name === 'q4_K').blck_size;
  await heat.scrollIntoViewIfNeeded();
  const b = (await heat.boundingBox())!;
  await s.page.mouse.move(b.x + 1 + ((10 + 0.5) / 128) * (b.width - 2), b.y + 1 + ((20 + 0.5) / 128) * (b.height - 2));
  const tip = wv.locator('[data-testid="error-heatmap-tip"]');
  await tip.waitFor();
  const hovered = maxError(40, 42, 20, 22);
  assert.ok(hovered > 0);
  assert.equal(
    await tip.innerText(),
    `rows 40–41 · columns 20–21 · max |error| ${shown(hovered, 4)} · block ${Math.floor((40 * 256 + 20) / blockSize)}`,
  );
  assert.equal(Number(await tip.getAttribute('data-value')), hovered);
  await shot(s.page, 'ux-visual-error-heatmap-hover');
  // from the keyboard: the first cell on focus, the next one across with the right arrow
  await s.page.mouse.move(b.x - 40, b.y - 40);
  await tip.waitFor({ state: 'hidden' });
  await heat.focus();
  await tip.waitFor();
  assert.equal(await tip.innerText(), `rows 0–1 · columns 0–1 · max |error| ${shown(maxError(0, 2, 0, 2), 4)} · block 0`);
  await s.page.keyboard.press('ArrowRight');
  await wv.locator('[data-testid="error-heatmap-tip"]', { hasText: /^rows 0–1 · columns 2–3 · / }).waitFor();
  assert.equal(Number(await tip.getAttribute('data-value')), maxError(0, 2, 2, 4));
  // the overlay and the error histogram have their PNG buttons, as every other chart
  await wv.locator('canvas[data-testid="error-histogram"][data-colours]').waitFor();
  for (const chart of ['overlay', 'error-histogram']) {
    const { width, height, canvas } = await savePng(chart, 'blk.0.attn_q.weight');
    assert.deepEqual({ width, height }, canvas, `${chart}: the PNG is the chart's size`);
  }
});

for (const [theme, tag] of [
  ['Default Dark Modern', 'dark'],
  ['Default Light Modern', 'light'],
  ['Default High Contrast', 'high-contrast'],
] as const) {
  test(`${theme}: map labels readable, error scale steps apart in lightness alone, charts in the theme's colours`, async () => {
    await setTheme(s.page, theme);
    await show(s.page, 'llama-tiny-Q4_K.gguf');
    const wv = webview(s.page);
    await webviewThemed(s.page, theme);
    // the charts drawn before the switch are drawn again in this theme's chart colours
    const tokens = await wv.locator('body').evaluate(() => {
      const css = getComputedStyle(document.body);
      const v = (n: string) => css.getPropertyValue(`--vscode-${n}`).trim();
      return { blue: v('charts-blue'), yellow: v('charts-yellow'), red: v('charts-red'), background: v('editor-background') };
    });
    await wv.locator(`canvas[data-testid="overlay"][data-colours='${JSON.stringify([tokens.blue, tokens.yellow])}']`).waitFor();
    const whatIf = JSON.parse((await wv.locator('canvas[data-testid="error-vs-bits"]').getAttribute('data-colours'))!) as string[];
    assert.ok(
      whatIf.every((c) => [tokens.red, tokens.blue, tokens.yellow].includes(c)),
      `${theme}: what-if colours ${whatIf} are the theme's`,
    );
    // each series stands out from the background (WCAG 1.4.11, 3:1), computed from the colours as the page renders them
    const rendered = await wv.locator('body').evaluate(
      (_, cs: string[]) => {
        const probe = document.createElement('span');
        document.body.append(probe);
        const out = cs.map((c) => {
          probe.style.color = c;
          return getComputedStyle(probe).color;
        });
        probe.remove();
        return { series: out, background: getComputedStyle(document.body).backgroundColor };
      },
      [tokens.blue, tokens.yellow, ...whatIf],
    );
    for (const c of rendered.series) {
      const r = contrast(luminance(c), luminance(rendered.background));
      assert.ok(r >= 3, `${theme}: series ${c} on ${rendered.background}: ${r.toFixed(2)}:1`);
    }
    await wv.locator('[data-testid="tab-map"]').click();
    await wv.locator('[data-testid="map-colour"] button.active[data-colour="error"]').waitFor();
    for (const mode of ['error', 'type'] as const) {
      await wv.locator(`[data-testid="map-colour"] button[data-colour="${mode}"]`).click();
      await wv.locator(`[data-testid="map-colour"] button.active[data-colour="${mode}"]`).waitFor();
      const cells = wv.locator('.map-cell[data-tensor]');
      for (let i = 0; i < (await cells.count()); i++) {
        const c = await textContrast(cells.nth(i));
        assert.ok(
          c.ratio >= 4.5,
          `${theme} ${mode}: ${await cells.nth(i).getAttribute('data-tensor')} ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`,
        );
      }
      await shot(s.page, `ux-visual-map-${mode}-${tag}`);
    }
    await wv.locator('[data-testid="map-colour"] button[data-colour="error"]').click();
    // the error legend: a colour bar with a text alternative, and its steps rising in lightness, each apart
    const legend = wv.locator('[data-testid="map-legend"]');
    assert.match(
      (await legend.getAttribute('aria-label'))!,
      /^colour by relative RMSE, log scale: 1e-4 or less darkest, 1 or more lightest/,
    );
    // its colour bar is drawn at its own height (a flex basis of 0 had collapsed it to its border), as a gradient
    const bar = legend.locator('.colour-bar');
    const barBox = (await bar.boundingBox())!;
    assert.ok(barBox.height >= 10 && barBox.width >= 160, `${theme}: colour bar ${barBox.width} × ${barBox.height} px`);
    assert.match(await bar.evaluate((e) => getComputedStyle(e).backgroundImage), /^linear-gradient\(/);
    const steps = await legend.locator('.swatch').evaluateAll((sw) => sw.map((e) => getComputedStyle(e).backgroundColor));
    assert.ok(steps.length >= 5, `${steps.length} steps`);
    const lum = steps.map(luminance);
    for (let i = 1; i < lum.length; i++)
      assert.ok(
        lum[i] > lum[i - 1] && contrast(lum[i], lum[i - 1]) >= 1.3,
        `${theme}: step ${i} ${steps[i - 1]} → ${steps[i]}: ${contrast(lum[i], lum[i - 1]).toFixed(2)}:1`,
      );
    await wv.locator('[data-testid="tab-tensors"]').click();
    await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
    await wv.locator('canvas[data-testid="error-heatmap"]').scrollIntoViewIfNeeded();
    await shot(s.page, `ux-visual-detail-${tag}`);
    // the comparison's charts with their Save as PNG buttons, in this theme
    await wv.locator('vscode-button[data-testid="save-overlay"]').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    assert.ok(await wv.locator('vscode-button[data-testid="save-error-histogram"]').isVisible());
    await shot(s.page, `ux-visual-against-${tag}`);
  });
}
