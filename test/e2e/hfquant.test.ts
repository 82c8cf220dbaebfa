// Quantized Hugging Face checkpoints in the model editor (issue 9): a GPTQ and an MLX model folder open as their
// logical weights (logical shape, scheme, bits per weight, components), and selecting one shows the exact stats of
// its dequantized values and its group scales. Every expected value comes from the corpus oracle (expected.json).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, quickOpen, webview, shot, endEachTest, ROOT, type Session } from './harness.ts';

const QUANT = join(ROOT, 'test', 'fixtures', 'safetensors-quant');
const GPTQ = 'gptq-v1-4bit-asym-actorder-g128';
const MLX = 'mlx-affine-4bit-g64';
const expected = (variant: string) => JSON.parse(readFileSync(join(QUANT, variant, 'expected.json'), 'utf8'));
/** What the webview shows for a number (webview/dom.ts fmt: `digits` significant digits, exponent form below 1e-3). */
const shown = (x: number, digits = 5) =>
  x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential(digits - 1) : Number(x.toPrecision(digits)).toString();
const DTYPE_BYTES: Record<string, number> = { I32: 4, U32: 4, F32: 4, F16: 2, BF16: 2, U8: 1 };
const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** A logical weight written in a script: both checkpoints have it, neither holds a tensor of that name for GPTQ. */
const HOVERED = 'model.layers.1.mlp.down_proj.weight';
/** The float32 values of a weight in expected.f32 (row-major [out, in]). */
function expectedValues(variant: string, e: { f32_offset: number; f32_count: number }): Float32Array {
  const b = readFileSync(join(QUANT, variant, 'expected.f32'));
  return new Float32Array(b.buffer.slice(b.byteOffset + 4 * e.f32_offset, b.byteOffset + 4 * (e.f32_offset + e.f32_count)));
}

let s: Session;

before(async () => {
  // each variant folder as the user has it (the oracle files left out); the GPTQ checkpoint under its own file name
  // so that Quick Open finds each model by a name of its own
  s = await start({
    'gptq/config.json': join(QUANT, GPTQ, 'config.json'),
    'gptq/quantize_config.json': join(QUANT, GPTQ, 'quantize_config.json'),
    'gptq/gptq-act-order.safetensors': join(QUANT, GPTQ, 'model.safetensors'),
    'mlx/config.json': join(QUANT, MLX, 'config.json'),
    'mlx/model.safetensors': join(QUANT, MLX, 'model.safetensors'),
    'mlx/model.safetensors.index.json': join(QUANT, MLX, 'model.safetensors.index.json'),
    'notes.py': `text:# which checkpoint keeps this layer closer?\nw = state_dict["${HOVERED}"]\n`,
  });
});

endEachTest('hfquant', () => s);

/** The table lists exactly the logical weights and plain tensors of expected.json, each weight with its shape and bits. */
async function assertLogicalTable(variant: string, fileName: string, format: RegExp): Promise<void> {
  const exp = expected(variant);
  await quickOpen(s.page, fileName);
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: fileName }).waitFor({ timeout: 60_000 });
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  assert.match(await wv.locator('[data-testid="quantization"]').innerText(), format);
  const total = exp.weights.length + exp.unquantized_tensors.length;
  assert.equal(await wv.locator('[data-testid="table-status"]').innerText(), `${total} of ${total} tensors`);
  // the table is virtualised: filter it down to the weights, then read every row
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  const rows = wv.locator('[data-testid="tensor-table"] .row[data-tensor]');
  const listed: string[] = [];
  for (const e of exp.weights) {
    await filter.fill(`/^${e.name.replace(/\./g, '\\.')}$/`);
    await wv.locator('[data-testid="table-status"]', { hasText: `1 of ${total} tensors match` }).waitFor();
    const row = rows.first();
    listed.push((await row.getAttribute('data-tensor'))!);
    const cells = row.locator('.cell');
    assert.equal(await cells.nth(1).innerText(), e.shape.join(' × '), `${e.name} logical shape`);
    const chip = await cells.nth(2).locator('.type-chip').innerText();
    assert.ok(
      chip.includes(String(e.bits)) && chip.includes(`g${e.group_size}`),
      `${e.name} scheme chip names ${e.bits} bits, group ${e.group_size}: ${chip}`,
    );
    const bytes = e.components.reduce((a: number, c: { dtype: string; shape: number[] }) => a + product(c.shape) * DTYPE_BYTES[c.dtype], 0);
    assert.equal(await cells.nth(3).innerText(), shown((8 * bytes) / product(e.shape), 4), `${e.name} bits per weight`);
  }
  assert.deepEqual(
    listed,
    exp.weights.map((w: { name: string }) => w.name),
  );
  await filter.fill('');
  await wv.locator('[data-testid="table-status"]', { hasText: `${total} of ${total} tensors` }).waitFor();
  for (const u of exp.unquantized_tensors.slice(0, 3)) {
    await filter.fill(`/^${u.tensor.replace(/\./g, '\\.')}$/`);
    await wv.locator('[data-testid="table-status"]', { hasText: `1 of ${total} tensors match` }).waitFor();
    assert.equal(await rows.first().locator('.cell').nth(2).innerText(), u.dtype, `${u.tensor} stays a plain ${u.dtype} tensor`);
  }
  await filter.fill('');
}

/** Selecting a weight: its components in the detail, exact stats of its dequantized values, its group scales. */
async function assertWeightDetail(variant: string, name: string): Promise<void> {
  const e = expected(variant).weights.find((w: { name: string }) => w.name === name);
  const wv = webview(s.page);
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill(`/^${name.replace(/\./g, '\\.')}$/`);
  await wv.locator(`.row[data-tensor="${name}"]`).click();
  await wv.locator('[data-testid="detail-name"]', { hasText: name }).waitFor();
  const components = await wv
    .locator('[data-testid="components"] tr[data-component]')
    .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-component')));
  assert.deepEqual(components.sort(), e.components.map((c: { tensor: string }) => c.tensor).sort(), `${name} components`);
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
  const stat = async (k: string) => Number(await wv.locator(`[data-testid="stat-${k}"]`).getAttribute('data-value'));
  for (const k of ['count', 'min', 'max', 'absmax', 'zero_count']) assert.equal(await stat(k), e.stats[k], `${name} ${k}`);
  const rel = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  assert.ok(rel(await stat('mean'), e.stats.mean), `${name} mean`);
  assert.ok(rel(await stat('std'), e.stats.std), `${name} std`);
  const groups = e.shape[1] / e.group_size;
  await wv.locator('[data-testid="scales-note"]', { hasText: `${e.shape[0]} rows × ${groups} groups` }).waitFor();
  assert.equal(await wv.locator('[data-testid="tensor-error"]').count(), 0);
  await filter.fill('');
}

test('a GPTQ act-order checkpoint lists its logical weights, not its packed tensors', async () => {
  await assertLogicalTable(GPTQ, 'gptq-act-order.safetensors', /^· GPTQ; gptq/);
});

test('selecting a GPTQ weight shows its components, the exact stats of its dequantized values and its group scales', async () => {
  await assertWeightDetail(GPTQ, 'model.layers.0.self_attn.q_proj.weight');
  await shot(s.page, 'hfquant-gptq-detail');
});

test("the group inspector shows a GPTQ group's columns (act-order: not contiguous) with codes and the values of expected.f32", async () => {
  const e = expected(GPTQ).weights.find((w: { name: string }) => w.name === 'model.layers.0.self_attn.q_proj.weight');
  const want = expectedValues(GPTQ, e);
  const wv = webview(s.page);
  const check = async (row: number) => {
    const cells = wv.locator('[data-testid="group-values"] .group-value');
    await wv.locator(`[data-testid="group-inspector"] vscode-textfield[data-testid="group-row"][value="${row}"]`).waitFor();
    const shownCells = await cells.evaluateAll((xs) =>
      xs.map((x) => [Number(x.getAttribute('data-col')), x.getAttribute('title')!] as const),
    );
    assert.equal(shownCells.length, e.group_size, 'one entry per column of the group');
    for (const [col, title] of shownCells) {
      const value = Number(/→ (\S+)$/.exec(title)![1]);
      assert.equal(value, want[row * e.shape[1] + col], `row ${row} column ${col}`);
    }
    const cols = shownCells.map(([c]) => c);
    assert.ok(
      cols.some((c, i) => i > 0 && c !== cols[i - 1] + 1),
      `act-order groups are not contiguous: ${cols.slice(0, 8)}`,
    );
    assert.ok((await wv.locator('[data-testid="group-sources"] tr[data-role="qweight"]').count()) > 0);
    assert.equal(await wv.locator('[data-testid="group-sources"] tr[data-role="scales"]').count(), 1);
  };
  await check(0);
  const row = wv.locator('vscode-textfield[data-testid="group-row"] input');
  await row.fill('7');
  await row.press('Enter');
  await check(7);
  await shot(s.page, 'hfquant-group-inspector');
});

test('an MLX checkpoint lists its logical weights (the 6-bit lm_head override included)', async () => {
  await assertLogicalTable(MLX, 'model.safetensors', /^· MLX affine; mlx/);
});

test('selecting an MLX weight shows its exact stats and its group scales and biases', async () => {
  await assertWeightDetail(MLX, 'lm_head.weight');
  const wv = webview(s.page);
  await wv.locator('[data-testid="scale-series"] [data-series="dmin"]', { hasText: 'biases' }).waitFor();
  await shot(s.page, 'hfquant-mlx-detail');
});

test("hovering a logical weight's name in a script shows its scheme and the stats of its dequantized values in each checkpoint", async () => {
  await quickOpen(s.page, 'notes.py');
  const token = s.page.locator('.part.editor .monaco-editor .view-line span', { hasText: 'down_proj' }).first();
  await token.waitFor();
  await token.hover();
  const hover = s.page.locator('.monaco-hover:not(.hidden)', { hasText: HOVERED });
  await hover.waitFor();
  for (const v of [GPTQ, MLX]) {
    const e = expected(v).weights.find((w: { name: string }) => w.name === HOVERED);
    await s.page.locator('.monaco-hover:not(.hidden)', { hasText: `std ${Number(e.stats.std.toPrecision(5))}` }).waitFor();
    assert.ok((await hover.innerText()).includes(`[${e.shape.join(' × ')}]`), `${v}: logical shape in the hover`);
  }
  await shot(s.page, 'hfquant-hover');
  await s.page.keyboard.press('Escape');
});
