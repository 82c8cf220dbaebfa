// Issue 14 in a real VS Code, finding things: the Metadata tab's search (Ctrl+F from the editor), ids in words,
// the tensor filter matching types, collapsible groups from the keyboard, the token lookup's spelling, caps and
// bad ids. Expected values come from the corpus files (their expected.json, their own vocabulary bytes).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, quickOpen, webview, shot, setTheme, webviewThemed, endEachTest, CORPUS, type Session } from './harness.ts';

let s: Session;
const MIX = 'llama-mix-Q4_K_M.gguf';

interface Expected {
  kv: { key: string; value?: unknown; length?: number; payload_offset?: number }[];
  /** ggml's own type names: `q6_K`, `f32` (the editor writes them upper-case, `Q6_K`) */
  tensors: { name: string; type_name: string }[];
}
const expected = JSON.parse(readFileSync(join(CORPUS, 'gguf', 'llama-mix-Q4_K_M.expected.json'), 'utf8')) as Expected;

/** The file's vocabulary read from its bytes (u64 length, UTF-8), at the payload offset expected.json gives. */
function vocabulary(): string[] {
  const entry = expected.kv.find((k) => k.key === 'tokenizer.ggml.tokens')!;
  const bytes = readFileSync(join(CORPUS, 'gguf', MIX));
  const out: string[] = [];
  let at = entry.payload_offset!;
  for (let i = 0; i < entry.length!; i++) {
    const n = Number(bytes.readBigUInt64LE(at));
    out.push(bytes.subarray(at + 8, at + 8 + n).toString('utf8'));
    at += 8 + n;
  }
  return out;
}

before(async () => {
  s = await start({ [MIX]: join(CORPUS, 'gguf', MIX) });
});

endEachTest('uxfind', () => s);

test('Ctrl+F in the editor opens the Metadata search, which filters keys and string values and says how many match', async () => {
  await quickOpen(s.page, MIX);
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: MIX }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="tab-summary"]').click();
  await s.page.keyboard.press('Control+F');
  const search = wv.locator('vscode-textfield[data-testid="metadata-search"]');
  // the Metadata tab is shown and its search has the keyboard focus: what is typed next lands there
  await wv.locator('[data-testid="metadata-table"]').waitFor({ state: 'visible' });
  await s.page.keyboard.type('head_count');
  const heads = expected.kv.filter((k) => k.key.includes('head_count')).map((k) => k.key);
  const total = expected.kv.length;
  const count = wv.locator('[data-testid="metadata-search-count"]');
  await wv.locator('[data-testid="metadata-search-count"]', { hasText: `${heads.length} of ${total} keys match` }).waitFor();
  assert.equal(await count.getAttribute('aria-live'), 'polite');
  assert.ok(await search.evaluate((e) => e.matches(':focus')));
  assert.deepEqual(await wv.locator('[data-testid="metadata-table"] tbody tr:visible .meta-key').allInnerTexts(), heads);
  await shot(s.page, 'uxfind-metadata-search');
  // a string value matches too: the license is a value, not a key
  const license = expected.kv.find((k) => k.key === 'general.license')!.value as string;
  await search.locator('input').fill(license);
  await wv.locator('[data-testid="metadata-search-count"]', { hasText: `1 of ${total} keys match` }).waitFor();
  assert.deepEqual(await wv.locator('[data-testid="metadata-table"] tbody tr:visible .meta-key').allInnerTexts(), ['general.license']);
  await search.locator('input').press('Escape');
  await wv.locator('[data-testid="metadata-search-count"]', { hasText: /^$/ }).waitFor();
  assert.equal(await wv.locator('[data-testid="metadata-table"] tbody tr:visible').count(), total);
});

test('general.file_type and the special token ids are said in words in the Metadata tab', async () => {
  const wv = webview(s.page);
  const value = (key: string) => wv.locator(`[data-testid="metadata-table"] tr[data-key="${key}"] .meta-value`).innerText();
  const fileType = expected.kv.find((k) => k.key === 'general.file_type')!.value;
  assert.equal(fileType, 15);
  // the README of the corpus: general.file_type = 15 (MOSTLY_Q4_K_M); the Summary names it Q4_K_M
  assert.equal(await value('general.file_type'), '15 (Q4_K_M)');
  const tokens = vocabulary();
  for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id']) {
    const id = expected.kv.find((k) => k.key === key)!.value as number;
    assert.equal(await value(key), `${id} (${JSON.stringify(tokens[id])})`, key);
  }
});

test('token lookup: a leading space is the ▁ marker, capped results say so, a bad id clears the last result', async () => {
  const wv = webview(s.page);
  const tokens = vocabulary();
  const box = wv.locator('vscode-textfield[data-testid="token-query"] input');
  const results = wv.locator('[data-testid="token-results"]');
  await box.fill(' m');
  await box.press('Enter');
  const withMarker = tokens.filter((t) => t.includes('▁m')).length;
  await wv.locator('[data-testid="token-count"]', { hasText: '(searched as "▁m")' }).waitFor();
  assert.match(await wv.locator('[data-testid="token-count"]').innerText(), new RegExp(`^${withMarker} tokens containing`));
  const first = results.locator('.token').first();
  assert.equal(await first.getAttribute('data-token-id'), String(tokens.indexOf('▁m')));
  assert.equal(await first.locator('[data-testid="token-decoded"] code').innerText(), '" m"');
  await box.fill('a');
  await box.press('Enter');
  const withA = tokens.filter((t) => t.includes('a')).length;
  assert.ok(withA > 50);
  await wv
    .locator('[data-testid="token-count"]', { hasText: `first 50 of ${withA.toLocaleString('en-US')} tokens containing "a"` })
    .waitFor();
  assert.equal(await results.locator('.token').count(), 50);
  await box.fill('1999');
  await box.press('Enter');
  await results.locator('.token[data-token-id="1999"]').waitFor();
  assert.equal(await results.locator('[data-testid="token-text"]').innerText(), JSON.stringify(tokens[1999]));
  await box.fill(String(tokens.length));
  await box.press('Enter');
  await wv.locator('[data-testid="token-problem"]', { hasText: `no token has id ${tokens.length}: ids are 0 to 1,999` }).waitFor();
  assert.equal(await results.locator('.token').count(), 0, 'the previous result is gone');
  await shot(s.page, 'uxfind-token-lookup');
});

test('the tensor filter matches the type column, and block groups collapse from the keyboard', async () => {
  const wv = webview(s.page);
  await wv.locator('[data-testid="tab-tensors"]').click();
  const filter = wv.locator('vscode-textfield[data-testid="tensor-filter"] input');
  await filter.fill('Q6_K');
  const q6k = expected.tensors.filter((t) => t.type_name.toUpperCase() === 'Q6_K').map((t) => t.name);
  assert.ok(q6k.length >= 3 && !q6k.some((n) => n.includes('Q6_K')));
  await wv.locator('[data-testid="table-status"]', { hasText: `${q6k.length} of ${expected.tensors.length} tensors match` }).waitFor();
  assert.deepEqual(await wv.locator('.row[data-tensor]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tensor'))), q6k);
  // a word for the name and one for the type
  await filter.fill('blk.1 q4_k');
  const blk1q4k = expected.tensors.filter((t) => t.name.startsWith('blk.1.') && t.type_name.toUpperCase() === 'Q4_K').map((t) => t.name);
  await wv.locator('[data-testid="table-status"]', { hasText: `${blk1q4k.length} of ${expected.tensors.length} tensors match` }).waitFor();
  await filter.fill('');
  await wv.locator('vscode-checkbox[data-testid="group-by-block"]').click();
  const toggle = wv.locator('.row.group .group-toggle[data-group="blk.0"]');
  await toggle.waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const inBlk0 = expected.tensors.filter((t) => t.name.startsWith('blk.0.')).length;
  assert.equal(await wv.locator('.row[data-tensor^="blk.0."]').count(), inBlk0);
  await toggle.focus();
  await s.page.keyboard.press('Enter');
  await wv.locator('.row.group .group-toggle[data-group="blk.0"][aria-expanded="false"]').waitFor();
  assert.equal(await wv.locator('.row[data-tensor^="blk.0."]').count(), 0);
  // the focus stays on the toggle: Space expands the group again
  await s.page.keyboard.press('Space');
  await wv.locator('.row.group .group-toggle[data-group="blk.0"][aria-expanded="true"]').waitFor();
  assert.equal(await wv.locator('.row[data-tensor^="blk.0."]').count(), inBlk0);
  await s.page.keyboard.press('Enter');
  await wv.locator('.row.group .group-toggle[data-group="blk.0"][aria-expanded="false"]').waitFor();
  await shot(s.page, 'uxfind-groups-dark');
});

for (const [theme, tag] of [
  ['Default Light Modern', 'light'],
  ['Default High Contrast', 'high-contrast'],
] as const) {
  test(`${theme}: the collapsed group, the metadata search and the token lookup`, async () => {
    await setTheme(s.page, theme);
    await quickOpen(s.page, MIX);
    const wv = webview(s.page);
    await webviewThemed(s.page, theme);
    await wv.locator('.row.group .group-toggle[data-group="blk.0"]').waitFor();
    await shot(s.page, `uxfind-groups-${tag}`);
    await wv.locator('[data-testid="tab-metadata"]').click();
    await wv.locator('vscode-textfield[data-testid="metadata-search"] input').fill('token');
    await wv.locator('[data-testid="metadata-search-count"]', { hasText: 'keys match' }).waitFor();
    await wv.locator('vscode-textfield[data-testid="token-query"] input').fill(' m');
    await wv.locator('vscode-textfield[data-testid="token-query"] input').press('Enter');
    await wv.locator('[data-testid="token-count"]').waitFor();
    await shot(s.page, `uxfind-metadata-${tag}`);
    await wv.locator('vscode-textfield[data-testid="metadata-search"] input').fill('');
    await wv.locator('[data-testid="tab-tensors"]').click();
  });
}
