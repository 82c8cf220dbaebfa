// A Llama-3-8B-shaped model (5.2 GB, sparse: 7.9 MB of header, 128k-token vocabulary, 280k merges, 291 tensors)
// in a real VS Code: it opens to its whole table from the header alone, and a long scan can be cancelled.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, quickOpen, show, webview, shot, endEachTest, ROOT, CORPUS, type Session } from './harness.ts';

let s: Session;
let bigTensors = 0;
const smallTensors = (file: string) => JSON.parse(readFileSync(join(CORPUS, 'gguf', file), 'utf8')).n_tensors as number;

before(async () => {
  s = await start({
    'small.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q8_0.gguf'),
    'small2.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
  });
  // the generator says how many tensors it wrote ("291 tensors; header …")
  const made = execFileSync('python3', [join(ROOT, 'scripts', 'make-big-header.py'), join(s.workspace, 'llama3-8b-Q4_K_M.gguf')], {
    encoding: 'utf8',
  });
  bigTensors = Number(/^(\d+) tensors;/m.exec(made)![1]);
});

endEachTest('large', () => s);

test('a 5 GB, 8B-parameter model opens to its summary and full table from the header', async () => {
  // a small model first, so that the time below is the big model's own, not the extension's activation
  await quickOpen(s.page, 'small.gguf');
  const wv = webview(s.page);
  const small = smallTensors('llama-tiny-Q8_0.expected.json');
  await wv.locator('[data-testid="table-status"]', { hasText: `${small} of ${small} tensors` }).waitFor({ timeout: 60_000 });
  const t0 = Date.now();
  await quickOpen(s.page, 'llama3-8b-Q4_K_M.gguf');
  await wv.locator('[data-testid="table-status"]', { hasText: `${bigTensors} of ${bigTensors} tensors` }).waitFor({ timeout: 60_000 });
  const bigMs = Date.now() - t0;
  const t1 = Date.now();
  await quickOpen(s.page, 'small2.gguf');
  await wv.locator('[data-testid="file-name"]', { hasText: 'small2.gguf' }).waitFor();
  const small2 = smallTensors('llama-tiny-Q4_K.expected.json');
  await wv.locator('[data-testid="table-status"]', { hasText: `${small2} of ${small2} tensors` }).waitFor({ timeout: 60_000 });
  console.log(`# table shown after Quick Open: 8B-shaped model ${bigMs} ms, a 5-tensor model ${Date.now() - t1} ms`);
  await show(s.page, 'llama3-8b-Q4_K_M.gguf');
  await wv.locator('[data-testid="file-name"]', { hasText: 'llama3-8b-Q4_K_M.gguf' }).waitFor();
  await wv.locator('[data-testid="tab-summary"]').click();
  assert.equal(await wv.locator('[data-testid="file-type"]').innerText(), 'Q4_K_M');
  assert.match(await wv.locator('[data-testid="parameters"]').innerText(), /^8\.03 ?B$/);
  await wv.locator('[data-testid="fits-total"]').waitFor();
});

test('the 128k-token vocabulary is looked up by id without decoding it all', async () => {
  const wv = webview(s.page);
  await wv.locator('[data-testid="tab-metadata"]').click();
  const query = wv.locator('vscode-textfield[data-testid="token-query"] input');
  await query.fill('128255');
  await query.press('Enter');
  await wv.locator('[data-testid="token-results"] .token').first().waitFor();
  await wv.locator('[data-testid="tab-tensors"]').click();
});

test('a scan of a 525 M-weight tensor shows progress, cancels to "Cancelled" with Compute again, and the editor stays usable', async () => {
  const wv = webview(s.page);
  await wv.locator('.row[data-tensor="token_embd.weight"]').click();
  await wv.locator('[data-testid="job"] vscode-progress-bar').waitFor({ timeout: 30_000 });
  const cancel = wv.locator('vscode-button[data-testid="cancel"]');
  const cancelled = wv.locator('[data-testid="job-cancelled"]');
  await cancel.click();
  await cancelled.waitFor({ timeout: 30_000 });
  assert.match(await cancelled.innerText(), /^Cancelled/);
  assert.equal(await wv.locator('[data-testid="job-error"]').count(), 0, 'a cancelled scan is not an error');
  await shot(s.page, 'large-cancelled');
  // no job runs: no Cancel; Compute again scans once more, and can be cancelled again
  await cancel.waitFor({ state: 'hidden' });
  await wv.locator('vscode-button[data-testid="compute-again"]').click();
  await wv.locator('[data-testid="job"] vscode-progress-bar').waitFor({ timeout: 30_000 });
  await cancel.click();
  await cancelled.waitFor({ timeout: 30_000 });
  await cancel.waitFor({ state: 'hidden' });
  await wv.locator('.row[data-tensor="blk.0.attn_norm.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_norm.weight' }).waitFor();
  await wv.locator('[data-testid="stat-count"]').waitFor({ timeout: 30_000 });
  assert.equal(Number(await wv.locator('[data-testid="stat-count"]').getAttribute('data-value')), 4096);
});

test('selecting another tensor mid-scan cancels the scan without an error on the new one', async () => {
  const wv = webview(s.page);
  // the editor's jobs also show as progress on the Explorer view: active while any of them runs
  const jobsRunning = s.page.locator('.part.sidebar .monaco-progress-container.active');
  await wv.locator('.row[data-tensor="token_embd.weight"]').click();
  await wv.locator('[data-testid="job"] vscode-progress-bar').waitFor({ timeout: 30_000 });
  await jobsRunning.waitFor();
  await wv.locator('.row[data-tensor="blk.0.ffn_norm.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.ffn_norm.weight' }).waitFor();
  await wv.locator('[data-testid="stat-count"]').waitFor({ timeout: 30_000 });
  await wv.locator('[data-testid="block-fields"]').waitFor({ timeout: 30_000 });
  // every job has settled, the cancelled scan too: its outcome has been posted to the webview
  await jobsRunning.waitFor({ state: 'hidden', timeout: 60_000 });
  // a request answered after that outcome (messages arrive in order): once its answer shows, so has the outcome
  const inspector = wv.locator('[data-testid="block-inspector"]');
  const [, blocks, offset] = /of (\d+) · file offset (\d+)/.exec(await inspector.innerText())!.map(Number);
  const index = wv.locator('vscode-textfield[data-testid="block-index"] input');
  await index.fill('1');
  await index.press('Enter');
  // 4096 F32 weights (16384 bytes) in `blocks` blocks: block 1 starts one block further
  await wv.locator('[data-testid="block-inspector"]', { hasText: new RegExp(`file offset ${offset + 16384 / blocks}(?!\\d)`) }).waitFor();
  assert.equal(await wv.locator('[data-testid="job-error"]').count(), 0, 'no error line for the tensor now shown');
  assert.equal(
    await wv.locator('[data-testid="job-cancelled"]').count(),
    0,
    'nor a cancelled line: the scan cancelled was another tensor’s',
  );
  assert.equal(await wv.locator('[data-testid="detail-name"]').innerText(), 'blk.0.ffn_norm.weight');
});
