// Every view on the logical weights of quantized Hugging Face checkpoints (issue 9) in a real VS Code: AWQ,
// bitsandbytes NF4 and FP8-block model folders show their logical table, group scales, group inspector and |w|
// heatmap; Compare With… the original bf16 checkpoint ranks the logical weights by error (the corpus's vs_original),
// colours the quant map by error and shows a weight's values against the reference. Screenshots in three themes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  start,
  quickOpen,
  webview,
  shot,
  endEachTest,
  runCommand,
  setTheme,
  webviewThemed,
  webviewFocused,
  waitForQuickInputValue,
  exactly,
  ROOT,
  type Session,
} from './harness.ts';

const QUANT = join(ROOT, 'test', 'fixtures', 'safetensors-quant');
const AWQ = 'awq-gemm-4bit-g128';
const NF4 = 'bnb-nf4-dq-bf16';
const FP8 = 'fp8-block128-deepseek';
const expected = (variant: string) => JSON.parse(readFileSync(join(QUANT, variant, 'expected.json'), 'utf8'));
/** What the webview shows for a number (webview/dom.ts fmt). */
const shown = (x: number, digits = 5) =>
  x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential(digits - 1) : Number(x.toPrecision(digits)).toString();
const WEIGHT = 'model.layers.0.self_attn.q_proj.weight';

let s: Session;

before(async () => {
  const files: Record<string, string> = {
    'awq/config.json': join(QUANT, AWQ, 'config.json'),
    'awq/awq-gemm.safetensors': join(QUANT, AWQ, 'model.safetensors'),
    'original/model.safetensors': join(QUANT, 'original', 'model.safetensors'),
    'original/config.json': join(QUANT, 'original', 'config.json'),
  };
  for (const [folder, v] of [
    ['nf4', NF4],
    ['fp8', FP8],
  ])
    for (const f of [
      'config.json',
      'model.safetensors.index.json',
      ...expected(v).weights.flatMap((w: { components: { file: string }[] }) => w.components.map((c) => c.file)),
    ])
      files[`${folder}/${f}`] = join(QUANT, v, f);
  s = await start(files);
});

endEachTest('hfquant-views', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');

/** Open a checkpoint and select one of its logical weights: group scales, group inspector and |w| heatmap appear. */
async function openWeight(variant: string, fileName: string, format: RegExp): Promise<void> {
  const exp = expected(variant);
  await quickOpen(s.page, fileName);
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: fileName }).waitFor({ timeout: 60_000 });
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  assert.match(await wv.locator('[data-testid="quantization"]').innerText(), format);
  const total = exp.weights.length + exp.unquantized_tensors.length;
  assert.equal(await wv.locator('[data-testid="table-status"]').innerText(), `${total} of ${total} tensors`);
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill(`/^${WEIGHT.replace(/\./g, '\\.')}$/`);
  await wv.locator(`.row[data-tensor="${WEIGHT}"]`).click();
  await wv.locator('[data-testid="detail-name"]', { hasText: WEIGHT }).waitFor();
  const e = exp.weights.find((w: { name: string }) => w.name === WEIGHT);
  await wv.locator('[data-testid="scales-note"]', { hasText: / rows × \d+ groups/ }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="group-values"] .group-value').first().waitFor();
  // the |w| heatmap of the dequantized values: its brightest cell is the weight's absmax
  await wv.locator('[data-testid="heatmap-scale"]', { hasText: `yellow ${shown(e.stats.absmax)} ` }).waitFor({ timeout: 60_000 });
  assert.equal(await wv.locator('[data-testid="stat-absmax"]').getAttribute('data-value'), String(e.stats.absmax));
  await filter.fill('');
}

/** A row of the quick input's list whose label is exactly `label`. */
const listed = (label: string) =>
  s.page.locator('.quick-input-list .monaco-list-row', { has: s.page.locator('.label-name', { hasText: exactly(label) }) }).first();

/** Compare With… the original checkpoint, typed into VS Code's simple file dialog. */
async function compareWithOriginal(listedFirst: string): Promise<void> {
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Compare With…');
  await s.page.locator('.quick-input-widget', { hasText: 'with' }).waitFor();
  // the dialog starts in the model's folder: once it lists it, the typed path is not overwritten
  await listed(listedFirst).waitFor();
  const target = join(s.workspace, 'original', 'model.safetensors');
  await quickInput().fill(target);
  await waitForQuickInputValue(s.page, '/original/model.safetensors');
  // it lists the typed folder before it takes the path: accept once the original is listed and the path still typed
  await listed('model.safetensors').waitFor();
  await waitForQuickInputValue(s.page, '/original/model.safetensors');
  await s.page.locator('.quick-input-widget .monaco-button', { hasText: /^OK$/ }).click();
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  await webview(s.page)
    .locator('[data-testid="errors"] .errors-head', { hasText: /^Against model\.safetensors · / })
    .waitFor({ timeout: 120_000 });
}

/** The Errors tab ranks the logical weights by the corpus's vs_original error, worst first. */
async function assertRanked(variant: string, scheme: RegExp): Promise<void> {
  const exp = expected(variant);
  const wv = webview(s.page);
  const rows = wv.locator('[data-testid="ranked-errors"] tbody tr');
  await rows.first().waitFor({ timeout: 120_000 });
  const order = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.tensor!));
  for (const e of exp.weights) assert.ok(order.includes(e.name), `${e.name} ranked by its logical name`);
  assert.ok(!order.some((n) => /\.(qweight|qzeros|absmax|weight_scale_inv|quant_map)$/.test(n)), 'no packed component is ranked');
  const worst = [...exp.weights].sort((a, b) => b.vs_original.rel_rmse - a.vs_original.rel_rmse)[0];
  assert.equal(order[0], worst.name, 'worst first');
  const first = rows.first().locator('td');
  assert.match(await first.nth(2).innerText(), scheme);
  assert.equal(await first.nth(3).innerText(), 'BF16');
  assert.equal(await first.nth(4).innerText(), shown(worst.vs_original.rel_rmse, 4));
  assert.equal(await first.nth(7).innerText(), shown(worst.vs_original.max_abs_err, 4));
}

test('AWQ: the logical weight detail, then Compare With… the original ranks the logical weights and colours the map by error', async () => {
  await openWeight(AWQ, 'awq-gemm.safetensors', /^· AWQ/);
  await shot(s.page, 'hfquant-views-awq-detail');
  await compareWithOriginal('awq-gemm.safetensors');
  await assertRanked(AWQ, /^AWQ/);
  await shot(s.page, 'hfquant-views-awq-errors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="tab-map"]').click();
  await wv.locator('[data-testid="map-colour"] button.active[data-colour="error"]').waitFor();
  const e = expected(AWQ).weights.find((w: { name: string }) => w.name === WEIGHT);
  const cell = wv.locator(`.map-cell[data-tensor="${WEIGHT}"]`);
  assert.equal(await cell.innerText(), shown(e.vs_original.rel_rmse, 2), 'the q_proj cell of block 0 shows its error');
  assert.equal(await wv.locator('.map-kind', { hasText: /^q_proj$/ }).count(), 1);
  await shot(s.page, 'hfquant-views-awq-map');
  // a map cell opens the logical weight, now with its values against the reference
  await cell.click();
  await wv
    .locator('[data-testid="against-metrics"]', { hasText: `rel. RMSE ${shown(e.vs_original.rel_rmse, 4)} ` })
    .waitFor({ timeout: 60_000 });
  await wv.locator('canvas[data-testid="error-heatmap"]').waitFor();
  await shot(s.page, 'hfquant-views-awq-against');
});

test('what-if on a logical weight: its dequantized values re-quantized, labelled as such, next to its |w| heatmap', async () => {
  const wv = webview(s.page);
  await wv.locator('[data-testid="tab-tensors"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: WEIGHT }).waitFor();
  await wv.locator('vscode-button[data-testid="what-if"]').click();
  const rows = wv.locator('[data-testid="what-if-table"] tr[data-candidate]');
  await rows.first().waitFor({ timeout: 120_000 });
  // AWQ dequantizes to float16: re-quantizing into F16 loses nothing
  assert.equal(await wv.locator('[data-testid="what-if-table"] tr[data-candidate="F16"] td').nth(3).innerText(), '0');
  await wv.locator('[data-testid="what-if-table"]', { hasText: 'Re-quantization error of the dequantized values' }).waitFor();
  await wv.locator('canvas[data-testid="heatmap"]').scrollIntoViewIfNeeded();
  await shot(s.page, 'hfquant-views-awq-what-if');
});

test('bitsandbytes NF4 (sharded): group scales, group inspector and heatmap, then its errors against the original', async () => {
  await openWeight(NF4, 'model-00001-of-00002.safetensors', /^· bitsandbytes/i);
  await compareWithOriginal('model-00002-of-00002.safetensors');
  await assertRanked(NF4, /NF4/);
  await shot(s.page, 'hfquant-views-nf4-errors');
});

test('FP8 128x128 blocks (3 shards): group scales, group inspector and heatmap, then its errors against the original', async () => {
  await openWeight(FP8, 'model-00001-of-00003.safetensors', /^· FP8/);
  await compareWithOriginal('model-00003-of-00003.safetensors');
  await assertRanked(FP8, /^FP8/);
});

for (const [theme, tag] of [
  ['Default Light Modern', 'light'],
  ['Default High Contrast', 'hc'],
] as const) {
  test(`${theme}: a logical weight against the original and the map coloured by error`, async () => {
    await setTheme(s.page, theme);
    await quickOpen(s.page, 'awq-gemm.safetensors');
    await webviewThemed(s.page, theme);
    const wv = webview(s.page);
    await wv.locator('[data-testid="tab-errors"]').click();
    await wv.locator(`[data-testid="ranked-errors"] tr[data-tensor="${WEIGHT}"]`).click();
    await wv.locator('[data-testid="against-metrics"]').waitFor({ timeout: 60_000 });
    await shot(s.page, `hfquant-views-against-${tag}`);
    await wv.locator('[data-testid="tab-map"]').click();
    await wv.locator(`.map-cell[data-tensor="${WEIGHT}"]`).waitFor();
    await shot(s.page, `hfquant-views-map-${tag}`);
  });
}
