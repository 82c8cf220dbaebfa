// Measure Output Sensitivity… and Suggest Mix for Size… in a real VS Code, on a tiny llama model one of whose tensor
// kinds was deliberately made sensitive to quantization (test/helpers/writeDamagedLlamaMain.ts): the quant map is
// coloured by sensitivity and the table gains a KLD column, both ranking the damaged kind first, with the figures
// the CLI measures; the suggested mix for a budget is the CLI's, and "Requantize and evaluate the result" writes a
// file within the budget and shows its measured output error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  start,
  runCommand,
  quickOpen,
  webview,
  webviewFocused,
  shot,
  endEachTest,
  setTheme,
  waitForQuickInputValue,
  ROOT,
  type Session,
} from './harness.ts';

const skip = ['node-llama-cpp', '@node-llama-cpp/linux-x64'].every((p) => existsSync(join(ROOT, 'node_modules', p)))
  ? false
  : 'skipped: the llama.cpp runtime is not installed (node-llama-cpp, @node-llama-cpp/linux-x64)';
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
const cliJson = (...args: string[]) => {
  const r = cli(...args, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};

let s: Session;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ql-e2e-sens-'));
  const w = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'writeDamagedLlamaMain.ts'), join(dir, 'd.gguf')],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  assert.equal(w.status, 0, w.stderr);
  s = await start({ 'tiny-damaged.gguf': join(dir, 'd.gguf') });
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

endEachTest('sensitivity', () => s);

const quickInput = () => s.page.locator('.quick-input-widget .quick-input-box input');
const quickRow = (text: string) => s.page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
async function answer(title: string, value: string): Promise<void> {
  await s.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ timeout: 30_000 });
  await quickInput().fill(value);
  await s.page.keyboard.press('Enter');
}
const wv = () => webview(s.page);

/** Each map cell's KLD, read from its accessible name. */
async function mapKld(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const cell of await wv().locator('.map-cell[data-tensor]').all()) {
    const label = (await cell.getAttribute('aria-label')) ?? '';
    const m = /KLD ([\d.e+-]+) with its kind/.exec(label);
    if (m) out.set((await cell.getAttribute('data-tensor'))!, Number(m[1]));
  }
  return out;
}

test('Measure Output Sensitivity… by kind at Q4_0: the map and the KLD column rank the damaged kind first', { skip }, async () => {
  await quickOpen(s.page, 'tiny-damaged.gguf');
  await wv().locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Measure Output Sensitivity…');
  await s.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Measure output sensitivity' }).waitFor();
  await quickInput().fill('Q4_0');
  await quickRow('Q4_0').click();
  await quickRow('By kind').click();
  await quickRow('Bundled sample text').click();
  await wv().locator('.seg-btn[data-colour="sensitivity"][aria-pressed="true"]').waitFor({ timeout: 600_000 });
  const kld = await mapKld();
  // every matrix in the blocks measured (7 kinds × 2 blocks)
  assert.equal(kld.size, 14);
  // the CLI measures the same groups on the same text, context and chunks
  const j = cliJson(
    'sensitivity',
    join(s.workspace, 'tiny-damaged.gguf'),
    '--type',
    'Q4_0',
    '--by',
    'kind',
    '--ctx',
    '128',
    '--chunks',
    '2',
  );
  assert.equal(j.groups[0].group, 'ffn_gate.weight', JSON.stringify(j.groups));
  for (const g of j.groups as { group: string; kld: number }[]) {
    for (const b of [0, 1]) {
      const name = `blk.${b}.${g.group}`;
      if (kld.has(name)) assert.equal(kld.get(name)!.toPrecision(4), g.kld.toPrecision(4), name);
    }
  }
  const sorted = [...kld].sort((a, b) => b[1] - a[1]);
  assert.match(sorted[0][0], /^blk\.\d\.ffn_gate\.weight$/);
  const others = sorted.filter(([n]) => !n.endsWith('ffn_gate.weight'));
  assert.ok(sorted[0][1] > 2 * others[0][1], JSON.stringify(sorted));
  // the legend says what the colours mean; cells carry the value as text, not by colour alone
  assert.match(await wv().locator('[data-testid="sensitivity-legend"]').innerText(), /KLD with one kind at Q4_0/);
  assert.equal(
    await wv().locator('.map-cell[data-tensor="blk.1.ffn_gate.weight"]').innerText(),
    kld.get('blk.1.ffn_gate.weight')!.toPrecision(2),
  );
  await shot(s.page, 'sensitivity-map-dark');
  for (const [theme, name] of [
    ['Default Light Modern', 'light'],
    ['Default High Contrast', 'high-contrast'],
  ]) {
    await setTheme(s.page, theme);
    await shot(s.page, `sensitivity-map-${name}`);
  }
  await setTheme(s.page, 'Default Dark Modern');
  // the table's KLD column, sorted highest first: the damaged kind on top
  await wv().locator('[data-testid="tab-tensors"], vscode-tab-header', { hasText: 'Tensors' }).first().click();
  const header = wv().locator('.table-header [data-sort="sensitivity"]');
  await header.click();
  await header.click();
  assert.equal(await header.getAttribute('aria-sort'), 'descending');
  const first = wv().locator('.table-rows .row[data-tensor]').first();
  assert.match((await first.getAttribute('data-tensor')) ?? '', /^blk\.\d\.ffn_gate\.weight$/);
  assert.equal(await first.locator('.col-sensitivity').innerText(), sorted[0][1].toPrecision(2));
  await shot(s.page, 'sensitivity-table');

  // closed and opened again in the same window, the editor shows the same measurement
  await runCommand(s.page, 'View: Close All Editors');
  await wv().locator('body[data-ready="true"]').waitFor({ state: 'detached', timeout: 60_000 });
  await quickOpen(s.page, 'tiny-damaged.gguf');
  await wv().locator('.seg-btn[data-colour="sensitivity"][aria-pressed="true"]').waitFor({ timeout: 60_000 });
  assert.deepEqual(await mapKld(), kld);
});

test("Suggest Mix for Size…: the CLI's mix for a 6 bpw budget; requantize with it and evaluate the result", { skip }, async () => {
  const model = join(s.workspace, 'tiny-damaged.gguf');
  const info = cliJson('info', model);
  const budget = Math.floor((6 * info.summary.parameterCount) / 8);
  await webviewFocused(s.page);
  await runCommand(s.page, 'Quant Lens: Suggest Mix for Size…');
  await answer('candidate types', 'Q8_0, Q4_0');
  await answer('Size budget', '6');
  // Q4_0 was measured already; Q8_0 is measured now
  const title = s.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Suggested mix' });
  await title.waitFor({ timeout: 600_000 });
  await shot(s.page, 'sensitivity-suggested-mix');
  // the CLI's suggestion for the same model, types, grouping, text, context and chunks
  const mix = cliJson('suggest', model, '--target-bpw', '6', '--types', 'Q8_0,Q4_0', '--by', 'kind', '--ctx', '128', '--chunks', '2');
  assert.ok(mix.bytes <= budget && mix.budget === budget, JSON.stringify(mix));
  assert.match(await title.innerText(), new RegExp(`; budget .*\\), predicted KLD ${mix.predictedKld.toPrecision(4)}$`));
  await quickRow('Requantize and evaluate the result').click();
  // the requantize flow with the mix's rules filled in
  await s.page.locator('.quick-input-widget', { hasText: 'Tensors to change' }).waitFor();
  assert.equal(
    await quickInput().inputValue(),
    (mix.assignment as { pattern: string; type: string }[]).map((g) => `${g.pattern}=${g.type}`).join(' '),
  );
  await s.page.keyboard.press('Enter');
  await quickRow('Write, then evaluate on outputs').waitFor({ timeout: 60_000 });
  // offered first, as asked
  assert.match(await s.page.locator('.quick-input-list .monaco-list-row').first().innerText(), /Write, then evaluate on outputs/);
  await quickRow('Write, then evaluate on outputs').click();
  const written = join(s.workspace, 'tiny-damaged-mix.gguf');
  await waitForQuickInputValue(s.page, '/tiny-damaged-mix.gguf');
  await s.page.keyboard.press('Enter');
  await s.page.locator('.tab', { hasText: 'Output evaluation: tiny-damaged-mix.gguf' }).waitFor({ timeout: 120_000 });
  await wv().locator('body[data-state="done"]').waitFor({ timeout: 180_000 });
  const after = cliJson('info', written);
  assert.ok(after.summary.tensorBytes <= budget, `${after.summary.tensorBytes} bytes within the budget of ${budget}`);
  // a real mix: both candidate types in the file (the norms stay F32)
  assert.deepEqual((after.summary.byType as { type: string }[]).map((t) => t.type).sort(), ['F32', 'Q4_0', 'Q8_0']);
  const e = cliJson('eval', written, '--reference', model, '--ctx', '128', '--chunks', '4');
  assert.equal(await wv().locator('[data-stat="kld-mean"]').innerText(), e.kld.mean.toFixed(6));
  await shot(s.page, 'sensitivity-mix-evaluated');
});
