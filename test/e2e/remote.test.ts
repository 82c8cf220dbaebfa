// Opening a model by URL in real VS Code: the palette command, a model served over HTTP on loopback (a real server
// in its own process, counting what it sends), the table from the header, a tensor's exact stats from its own bytes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, runCommand, quickOpen, webview, webviewFocused, shot, endEachTest, CORPUS, type Session } from './harness.ts';
import { startServer, type TestServer } from '../helpers/httpServer.ts';

const MIX = 'llama-mix-Q4_K_M';
const GPTQ = join(CORPUS, '..', 'safetensors-quant', 'gptq-v1-4bit-asym-actorder-g128');
const expected = JSON.parse(readFileSync(join(CORPUS, 'gguf', `${MIX}.expected.json`), 'utf8'));
const ffnDown = expected.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_down.weight');
let s: Session;
let server: TestServer;
const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');

before(async () => {
  server = await startServer({
    [`${MIX}.gguf`]: join(CORPUS, 'gguf', `${MIX}.gguf`),
    'llama-tiny-F32.gguf': join(CORPUS, 'gguf', 'llama-tiny-F32.gguf'),
    ...Object.fromEntries(['config.json', 'quantize_config.json', 'model.safetensors'].map((f) => [`gptq/${f}`, join(GPTQ, f)])),
  });
  s = await start({ 'llama-tiny-Q4_K.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf') });
});

endEachTest(
  'remote',
  () => s,
  () => server?.close(),
);

test("Open Model from URL: the table from the header, then one tensor's exact stats, fetching only those bytes", async () => {
  await server.reset();
  await runCommand(s.page, 'Quant Lens: Open Model from URL…');
  await s.page.locator('.quick-input-widget', { hasText: 'open a model from a URL' }).waitFor();
  await quickInput().fill(`${server.url}/f/${MIX}.gguf`);
  await quickInput().press('Enter');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: `${MIX}.gguf` }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="table-status"]', { hasText: `${expected.n_tensors} of ${expected.n_tensors} tensors` }).waitFor();
  await webviewFocused(s.page);
  const afterHeader = (await server.stats()).bytesSent;
  assert.ok(
    afterHeader <= expected.data_offset + (64 << 10),
    `opening fetched ${afterHeader} bytes for a ${expected.data_offset}-byte header: ${JSON.stringify((await server.stats()).requests.map((r) => `${r.path} ${r.range}`))}`,
  );

  await wv.locator(`.row[data-tensor="${ffnDown.name}"]`).click();
  const stat = async (k: string) => Number(await wv.locator(`[data-testid="stat-${k}"]`).getAttribute('data-value'));
  await wv.locator('[data-testid="stat-std"][data-value]').waitFor({ timeout: 60_000 });
  assert.equal(await stat('min'), ffnDown.stats.min);
  assert.equal(await stat('max'), ffnDown.stats.max);
  assert.equal(await stat('zero_count'), ffnDown.stats.zero_count);
  assert.ok(Math.abs((await stat('std')) - ffnDown.stats.std) <= 1e-9 * ffnDown.stats.std);
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor();
  await shot(s.page, 'remote-tensor');
  // the header, then this tensor (its stats, scales, heatmap and first block all read the same bytes) and a
  // read-ahead step at most per reader: far less than the file
  const total = (await server.stats()).bytesSent;
  assert.ok(
    total <= afterHeader + ffnDown.nbytes + 3 * (64 << 10),
    `viewing one tensor of ${ffnDown.nbytes} bytes fetched ${total - afterHeader} more bytes`,
  );
  assert.ok(total < expected.file_size, `${total} bytes of a ${expected.file_size}-byte file`);
});

test('a URL that is not there: the editor says so in one line', async () => {
  await runCommand(s.page, 'Quant Lens: Open Model from URL…');
  await s.page.locator('.quick-input-widget', { hasText: 'open a model from a URL' }).waitFor();
  await quickInput().fill(`${server.url}/f/missing.gguf`);
  await quickInput().press('Enter');
  const wv = webview(s.page);
  await wv.locator('[data-testid="open-error-reason"]', { hasText: 'HTTP 404: no such file' }).waitFor({ timeout: 60_000 });
  // not "Not a valid GGUF file": nothing was read
  assert.match(await wv.locator('[data-testid="open-error-headline"]').innerText(), /This file cannot be opened/);
});

test('Compare With Model at URL: a local quantization against its remote F32 source, ranked by ggml-measured error', async () => {
  await quickOpen(s.page, 'llama-tiny-Q4_K.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama-tiny-Q4_K.gguf' }).waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Compare With Model at URL…');
  await s.page.locator('.quick-input-widget', { hasText: 'with the model at a URL' }).waitFor();
  await quickInput().fill(`${server.url}/f/llama-tiny-F32.gguf`);
  await quickInput().press('Enter');
  const rows = wv.locator('[data-testid="ranked-errors"] tbody tr');
  await rows.first().waitFor({ timeout: 60_000 });
  const q4k = JSON.parse(readFileSync(join(CORPUS, 'gguf', 'llama-tiny-Q4_K.expected.json'), 'utf8'));
  assert.equal(await rows.count(), q4k.n_tensors);
  const worst = Number(await rows.first().locator('td').nth(4).innerText());
  const maxRel = Math.max(
    ...q4k.tensors.map((t: { stats: { error_vs_source: { rel_rmse: number } } }) => t.stats.error_vs_source.rel_rmse),
  );
  assert.ok(Math.abs(worst - maxRel) / maxRel < 1e-3, `worst rel. RMSE ${worst} vs ggml's ${maxRel}`);
  await shot(s.page, 'remote-compare');
});

test('a GPTQ checkpoint by URL opens as its logical weights, their values decoded as the reference does', async () => {
  const want = JSON.parse(readFileSync(join(GPTQ, 'expected.json'), 'utf8'));
  const weight = want.weights[0];
  await runCommand(s.page, 'Quant Lens: Open Model from URL…');
  await s.page.locator('.quick-input-widget', { hasText: 'open a model from a URL' }).waitFor();
  await quickInput().fill(`${server.url}/f/gptq/model.safetensors`);
  await quickInput().press('Enter');
  const wv = webview(s.page);
  await wv.locator('[data-testid="quantization"]', { hasText: 'GPTQ' }).waitFor({ timeout: 60_000 });
  const total = want.weights.length + want.unquantized_tensors.length;
  await wv.locator('[data-testid="table-status"]', { hasText: `${total} of ${total} tensors` }).waitFor();
  await wv.locator(`.row[data-tensor="${weight.name}"]`).click();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
  const stat = async (k: string) => Number(await wv.locator(`[data-testid="stat-${k}"]`).getAttribute('data-value'));
  for (const k of ['count', 'min', 'max', 'zero_count']) assert.equal(await stat(k), weight.stats[k], `${weight.name} ${k}`);
  await shot(s.page, 'remote-gptq');
});
