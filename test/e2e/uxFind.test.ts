// Issue 14 in a real VS Code, finding things: the Metadata tab's search (Ctrl+F from the editor), ids in words,
// the tensor filter matching types, collapsible groups from the keyboard, the token lookup's spelling, caps and
// bad ids. Expected values come from the corpus files (their expected.json, their own vocabulary bytes).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  start,
  quickOpen,
  runCommand,
  webview,
  shot,
  setTheme,
  webviewThemed,
  endEachTest,
  takeConsoleErrors,
  textContrast,
  CORPUS,
  type Session,
} from './harness.ts';

let s: Session;
const MIX = 'llama-mix-Q4_K_M.gguf';

interface Expected {
  file_size: number;
  tensor_info_end: number;
  kv: { key: string; value?: unknown; length?: number; payload_offset?: number }[];
  /** ggml's own type names: `q6_K`, `f32` (the editor writes them upper-case, `Q6_K`) */
  tensors: { name: string; type_name: string; absolute_offset: number; nbytes: number; stats: { max: number } }[];
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

// a download that stopped halfway through the 10th tensor's data, and one that stopped inside the tensor infos
const whole = readFileSync(join(CORPUS, 'gguf', MIX));
const cutInData = expected.tensors[9].absolute_offset + Math.floor(expected.tensors[9].nbytes / 2);
const cutInInfos = expected.tensor_info_end - 20;

before(async () => {
  s = await start({
    [MIX]: join(CORPUS, 'gguf', MIX),
    'cut-in-data.gguf': 'bytes:' + whole.subarray(0, cutInData).toString('base64'),
    'cut-in-infos.gguf': 'bytes:' + whole.subarray(0, cutInInfos).toString('base64'),
    'gguf-version-4.gguf': join(CORPUS, 'malformed', 'gguf-version-4.gguf'),
  });
});

endEachTest('uxfind', () => s);

/**
 * Wait until a text field of the webview holds the keyboard focus (in its shadow root, where Playwright's `:focus`
 * selector does not look): what is typed next lands in it.
 */
async function focused(testId: string): Promise<void> {
  const outer = await (await s.page.locator('iframe.webview.ready >> visible=true').elementHandle())!.contentFrame();
  const inner = await (await outer!.locator('iframe#active-frame').elementHandle())!.contentFrame();
  await inner!.waitForFunction(
    (id) => document.querySelector(`vscode-textfield[data-testid="${id}"]`)?.matches(':focus-within') === true,
    testId,
  );
}

test('Ctrl+F in the editor opens the Metadata search, which filters keys and string values and says how many match', async () => {
  await quickOpen(s.page, MIX);
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: MIX }).waitFor({ timeout: 60_000 });
  await wv.locator('[data-testid="tab-summary"]').click();
  await s.page.keyboard.press('Control+F');
  const search = wv.locator('vscode-textfield[data-testid="metadata-search"]');
  // the Metadata tab is shown and its search has the keyboard focus: what is typed next lands there
  await wv.locator('[data-testid="metadata-table"]').waitFor({ state: 'visible' });
  await focused('metadata-search');
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
  // Escape clears the search: every key is back, and the count says nothing
  await wv.locator('[data-testid="metadata-table"] tr[data-key="general.architecture"]').waitFor();
  assert.equal(await count.innerText(), '');
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
  // on the Tensors tab, Ctrl+F goes to the tensor filter
  await s.page.keyboard.press('Control+F');
  await focused('tensor-filter');
  await s.page.keyboard.type('Q6_K');
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

test('a GGUF cut in its data section opens with its header, the tensors whose data is there, and how much is missing', async () => {
  await quickOpen(s.page, 'cut-in-data.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'cut-in-data.gguf' }).waitFor({ timeout: 60_000 });
  const share = Math.floor((1000 * cutInData) / expected.file_size) / 10;
  assert.equal(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    `file is ${cutInData.toLocaleString('en-US')} bytes, needs ${expected.file_size.toLocaleString('en-US')} (${share}% present)`,
  );
  assert.match(await wv.locator('[data-testid="truncation-reason"]').innerText(), /tensor blk\.0\.ffn_down\.weight .* is cut short/);
  await wv.locator('[data-testid="tab-tensors"]').click();
  const present = expected.tensors.filter((t) => t.absolute_offset + t.nbytes <= cutInData).map((t) => t.name);
  assert.deepEqual(await wv.locator('.row[data-tensor]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tensor'))), present);
  await wv.locator('[data-testid="truncation-missing"] summary').click();
  for (const t of expected.tensors.filter((x) => !present.includes(x.name)))
    assert.match(await wv.locator(`[data-testid="truncation-missing"] li[data-tensor="${t.name}"]`).innerText(), /data not present$/);
  // a tensor that is there has its statistics computed as usual
  await wv.locator('.row[data-tensor="blk.0.attn_q.weight"]').click();
  await wv.locator('[data-testid="detail-name"]', { hasText: 'blk.0.attn_q.weight' }).waitFor();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
  const attnQ = expected.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
  assert.equal(Number(await wv.locator('[data-testid="stat-max"]').getAttribute('data-value')), attnQ.stats.max);
  await shot(s.page, 'uxfind-cut-in-data');
});

test('a GGUF cut in its tensor infos opens with its keys and says it needs at least so many bytes', async () => {
  await quickOpen(s.page, 'cut-in-infos.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'cut-in-infos.gguf' }).waitFor({ timeout: 60_000 });
  assert.match(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    new RegExp(`^file is ${cutInInfos.toLocaleString('en-US')} bytes, needs at least [\\d,]+ \\(at most [\\d.]+% present\\)$`),
  );
  assert.equal(await wv.locator('[data-testid="tab-metadata"]').innerText(), `Metadata (${expected.kv.length})`);
  await shot(s.page, 'uxfind-cut-in-infos');
});

test("Show as Text on a file that does not open says why in the editor's words, not with an internal URI", async () => {
  await quickOpen(s.page, 'gguf-version-4.gguf');
  const wv = webview(s.page);
  await wv.locator('[data-testid="open-error"]').waitFor({ timeout: 60_000 });
  await runCommand(s.page, 'Quant Lens: Show as Text');
  const toast = s.page.locator('.notifications-toasts .notification-list-item', { hasText: 'cannot be shown as text' }).first();
  await toast.waitFor({ timeout: 60_000 });
  const text = await toast.innerText();
  assert.match(text, /gguf-version-4\.gguf cannot be shown as text: GGUF version 4 is newer than supported/);
  assert.doesNotMatch(text, /quantlens-dump|file:\/\//);
  await shot(s.page, 'uxfind-show-as-text-error');
  takeConsoleErrors(s, /cannot be shown as text|GGUF version 4/);
  await s.page.keyboard.press('Escape');
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
    // the cut file's banner reads in this theme too
    await quickOpen(s.page, 'cut-in-data.gguf');
    const size = wv.locator('[data-testid="truncation-size"]');
    await size.waitFor();
    for (const line of [size, wv.locator('[data-testid="truncation-reason"]')]) {
      const c = await textContrast(line);
      assert.ok(c.ratio >= 4.5, `${theme}: cut-file banner text ${c.ratio.toFixed(2)} (${c.color} on ${c.background})`);
    }
    await shot(s.page, `uxfind-cut-in-data-${tag}`);
  });
}
