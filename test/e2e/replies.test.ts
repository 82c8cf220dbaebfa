// Replies reach the view that asked: the webview routes each of the host's replies by its request's id.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { start, quickOpen, webview, shot, assertCleanConsole, type Session } from './harness.ts';

let s: Session;
let step = 0;

/** Tokens in the vocabulary: one more than a whole number of "Show values" pages of 100. */
const VOCABULARY = 201;

/** A GGUF with a vocabulary of VOCABULARY tokens ("tok0", "tok1", ...) and one F32 tensor, written here byte by byte. */
function vocabularyGguf(): Buffer {
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const str = (t: string) => Buffer.concat([u64(Buffer.byteLength(t)), Buffer.from(t)]);
  const GGUF_STRING = 8;
  const GGUF_ARRAY = 9;
  const tokens = Array.from({ length: VOCABULARY }, (_, i) => str(`tok${i}`));
  let header = Buffer.concat([
    Buffer.from('GGUF'), u32(3), u64(1), u64(2),
    str('general.architecture'), u32(GGUF_STRING), str('llama'),
    str('tokenizer.ggml.tokens'), u32(GGUF_ARRAY), u32(GGUF_STRING), u64(VOCABULARY), ...tokens,
    str('blk.0.attn_norm.weight'), u32(1), u64(32), u32(0), u64(0),
  ]);
  header = Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32)]);
  return Buffer.concat([header, Buffer.alloc(32 * 4)]);
}

before(async () => {
  s = await start({ 'models/vocabulary.gguf': 'bytes:' + vocabularyGguf().toString('base64') });
});

after(async () => {
  try {
    assertCleanConsole(s);
  } finally {
    await s?.close();
  }
});

afterEach(async () => {
  if (s) await shot(s.page, `replies-${String(++step).padStart(2, '0')}`);
});

test('the last page of one token of "Show values" lands in the metadata table, not in the token lookup', async () => {
  await quickOpen(s.page, 'vocabulary.gguf');
  const wv = webview(s.page);
  await wv.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
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
});
