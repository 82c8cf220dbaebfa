// Issue 14 in a real VS Code, what the editor shows before and instead of a whole model: its loading state while the
// header is read (held open by the test-only hold of src/extension/testHold.ts, released by the test: no race with a
// timer), and safetensors downloads that stopped (a single file, one shard of a sharded model, a GPTQ checkpoint)
// opening with what is there, the size banner and the missing tensors. Expected figures come from the corpus's
// expected.json files and from each file's own header read here with JSON.parse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, quickOpen, webview, shot, endEachTest, CORPUS, ROOT, type Session } from './harness.ts';

const GPTQ = join(ROOT, 'test', 'fixtures', 'safetensors-quant', 'gptq-v1-4bit-sym-g128');
const SHARDED = join(CORPUS, 'safetensors', 'sharded');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const grouped = (n: number) => n.toLocaleString('en-US');
const share = (have: number, need: number) => Math.floor((1000 * have) / need) / 10;
const b64 = (path: string, bytes?: number) => 'bytes:' + readFileSync(path).subarray(0, bytes).toString('base64');

interface ExpectedTensor {
  name: string;
  absolute_offset: number;
  nbytes: number;
}

/** A safetensors header read with JSON.parse: each tensor's absolute data span. */
function spans(path: string): Map<string, [number, number]> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const json = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  return new Map(
    Object.entries(json)
      .filter(([k]) => k !== '__metadata__')
      .map(([k, v]) => [k, [8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]]]),
  );
}

// a single file cut halfway through its third tensor (in data order)
const single = readJson(join(CORPUS, 'safetensors', 'dtypes.expected.json')) as {
  file_size: number;
  data_start: number;
  tensors: ExpectedTensor[];
};
const third = [...single.tensors].sort((a, b) => a.absolute_offset - b.absolute_offset)[2];
const singleCut = third.absolute_offset + Math.floor(third.nbytes / 2);
// the second shard of a sharded model cut 10 bytes into its second tensor
const sharded = readJson(join(SHARDED, 'sharded.expected.json')) as {
  shards: { file: string; file_size: number; tensors: ExpectedTensor[] }[];
};
const second = sharded.shards[1];
const secondTensor = [...second.tensors].sort((a, b) => a.absolute_offset - b.absolute_offset)[1];
const shardCut = secondTensor.absolute_offset + 10;
// a GPTQ checkpoint cut inside model.layers.1.mlp.up_proj.scales: the scales stored after it are not there
const gptqSpans = spans(join(GPTQ, 'model.safetensors'));
const gptqCut = gptqSpans.get('model.layers.1.mlp.up_proj.scales')![0] + 100;

// a split GGUF whose second shard is cut halfway through its 4th tensor (ggml's gguf-split wrote the shards)
const splitShards = [1, 2].map((i) => `llama-mix-Q4_K_M-0000${i}-of-00002`);
const splitExpected = splitShards.map(
  (name) => readJson(join(CORPUS, 'gguf', `${name}.expected.json`)) as { file_size: number; tensors: ExpectedTensor[] },
);
const splitFourth = splitExpected[1].tensors[3];
const splitCut = splitFourth.absolute_offset + Math.floor(splitFourth.nbytes / 2);

const hold = mkdtempSync(join(tmpdir(), 'quantlens-hold-'));
let s: Session;

before(async () => {
  // the extension host inherits this: a model named in that folder is held open until its file there is deleted
  process.env.QUANTLENS_TEST_HOLD_DIR = hold;
  s = await start({
    'held.gguf': join(CORPUS, 'gguf', 'llama-tiny-Q4_K.gguf'),
    'cut/dtypes.safetensors': b64(join(CORPUS, 'safetensors', 'dtypes.safetensors'), singleCut),
    'shards/model.safetensors.index.json': join(SHARDED, 'model.safetensors.index.json'),
    [`shards/${sharded.shards[0].file}`]: join(SHARDED, sharded.shards[0].file),
    [`shards/${second.file}`]: b64(join(SHARDED, second.file), shardCut),
    'gptq/config.json': join(GPTQ, 'config.json'),
    'gptq/quantize_config.json': join(GPTQ, 'quantize_config.json'),
    'gptq/model.safetensors': b64(join(GPTQ, 'model.safetensors'), gptqCut),
    [`split/${splitShards[0]}.gguf`]: join(CORPUS, 'gguf', `${splitShards[0]}.gguf`),
    [`split/${splitShards[1]}.gguf`]: b64(join(CORPUS, 'gguf', `${splitShards[1]}.gguf`), splitCut),
  });
});
after(() => rmSync(hold, { recursive: true, force: true }));

endEachTest('ux-open', () => s);

test('while the header is read the editor shows its loading state, then fills', async () => {
  const tiny = readJson(join(CORPUS, 'gguf', 'llama-tiny-Q4_K.expected.json')) as { n_tensors: number };
  writeFileSync(join(hold, 'held.gguf'), '');
  await quickOpen(s.page, 'held.gguf');
  const wv = webview(s.page);
  const loading = wv.locator('[data-testid="loading"]');
  await loading.waitFor({ timeout: 60_000 });
  assert.equal(await loading.getAttribute('role'), 'status');
  assert.equal(await loading.getAttribute('aria-busy'), 'true');
  assert.equal((await loading.innerText()).trim(), 'Reading held.gguf: its summary, tensors and metadata…');
  assert.ok(await loading.locator('.loading-bar').isVisible(), 'the moving bar shows');
  assert.equal(await wv.locator('[data-testid="file-name"]').count(), 0, 'nothing of the model yet');
  await shot(s.page, 'ux-open-loading');
  assert.ok(await loading.isVisible(), 'held: still loading');
  // released: the header is read and the page replaces the loading state
  rmSync(join(hold, 'held.gguf'));
  await wv.locator('[data-testid="file-name"]', { hasText: 'held.gguf' }).waitFor({ timeout: 60_000 });
  assert.equal(await loading.count(), 0);
  assert.equal(await wv.locator('[data-testid="tab-tensors"]').innerText(), `Tensors (${tiny.n_tensors})`);
  await wv.locator('.row[data-tensor]').first().waitFor();
});

test('a safetensors file cut in its data opens with its header, the tensors whose data is there, and how much is missing', async () => {
  await quickOpen(s.page, 'dtypes.safetensors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="file-name"]', { hasText: 'dtypes.safetensors' }).waitFor({ timeout: 60_000 });
  assert.equal(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    `file is ${grouped(singleCut)} bytes, needs ${grouped(single.file_size)} (${share(singleCut, single.file_size)}% present)`,
  );
  assert.equal(
    await wv.locator('[data-testid="truncation-reason"]').innerText(),
    `tensor "${third.name}" (${third.nbytes} bytes at data offset ${third.absolute_offset - single.data_start}) is cut short: the file ends at byte ${singleCut}, ${third.absolute_offset + third.nbytes - singleCut} bytes before its end`,
  );
  const present = single.tensors.filter((t) => t.absolute_offset + t.nbytes <= singleCut);
  const missing = single.tensors.filter((t) => t.absolute_offset + t.nbytes > singleCut);
  assert.equal(await wv.locator('[data-testid="tab-tensors"]').innerText(), `Tensors (${present.length})`);
  assert.deepEqual(
    (await wv.locator('.row[data-tensor]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tensor))).sort(),
    present.map((t) => t.name).sort(),
  );
  await wv.locator('[data-testid="truncation-missing"] summary').click();
  assert.equal(
    await wv.locator('[data-testid="truncation-missing"] summary').innerText(),
    `data not present for ${missing.length} tensors`,
  );
  for (const t of missing)
    assert.match(
      await wv.locator(`[data-testid="truncation-missing"] li[data-tensor="${t.name}"]`).innerText(),
      new RegExp(`, ${grouped(t.nbytes)} bytes: data not present$`),
    );
  await shot(s.page, 'ux-open-cut-safetensors');
  // a tensor that is there reads: its histogram is drawn
  await wv.locator(`.row[data-tensor="${present[0].name}"]`).click();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
});

test('a sharded model with a shard cut short: the banner names the shard, the whole shard’s tensors are all there', async () => {
  await quickOpen(s.page, sharded.shards[0].file);
  const wv = webview(s.page);
  await wv.locator('[data-testid="truncation-size"]').waitFor({ timeout: 60_000 });
  assert.equal(
    (await wv.locator('[data-testid="truncation"] h2').innerText()).trim(),
    'A shard of this model is cut short: the editor shows what could be read',
  );
  assert.equal(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    `${second.file} is ${grouped(shardCut)} bytes, needs ${grouped(second.file_size)} (${share(shardCut, second.file_size)}% present)`,
  );
  assert.match(
    await wv.locator('[data-testid="truncation-reason"]').innerText(),
    new RegExp(`^tensor "${secondTensor.name.replace(/\./g, '\\.')}"`),
  );
  const present = [...sharded.shards[0].tensors, ...second.tensors.filter((t) => t.absolute_offset + t.nbytes <= shardCut)];
  assert.equal(await wv.locator('[data-testid="tab-tensors"]').innerText(), `Tensors (${present.length})`);
  await shot(s.page, 'ux-open-cut-shard');
});

test('a split GGUF with its second shard cut short: the banner names that shard, the tensors there are listed', async () => {
  await quickOpen(s.page, `${splitShards[0]}.gguf`);
  const wv = webview(s.page);
  await wv.locator('[data-testid="truncation-size"]').waitFor({ timeout: 60_000 });
  assert.equal(
    (await wv.locator('[data-testid="truncation"] h2').innerText()).trim(),
    'A shard of this model is cut short: the editor shows what could be read',
  );
  const need = splitExpected[1].file_size;
  assert.equal(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    `${splitShards[1]}.gguf is ${grouped(splitCut)} bytes, needs ${grouped(need)} (${share(splitCut, need)}% present)`,
  );
  assert.match(
    await wv.locator('[data-testid="truncation-reason"]').innerText(),
    new RegExp(`^tensor ${splitFourth.name.replace(/\./g, '\\.')} .*is cut short`),
  );
  const present = splitExpected[0].tensors.length + 3;
  assert.equal(await wv.locator('[data-testid="tab-tensors"]').innerText(), `Tensors (${present})`);
  await shot(s.page, 'ux-open-cut-split-gguf');
});

test('a GPTQ checkpoint cut short: a weight whose component is cut is flagged, the others open', async () => {
  await quickOpen(s.page, 'model.safetensors');
  const wv = webview(s.page);
  await wv.locator('[data-testid="truncation-size"]').waitFor({ timeout: 60_000 });
  const fileSize = readFileSync(join(GPTQ, 'model.safetensors')).length;
  assert.equal(
    await wv.locator('[data-testid="truncation-size"]').innerText(),
    `file is ${grouped(gptqCut)} bytes, needs ${grouped(fileSize)} (${share(gptqCut, fileSize)}% present)`,
  );
  const exp = readJson(join(GPTQ, 'expected.json')) as { weights: { name: string; components: { tensor: string }[] }[] };
  const cutWeights = exp.weights.filter((w) => w.components.some((c) => gptqSpans.get(c.tensor)![1] > gptqCut)).map((w) => w.name);
  assert.ok(cutWeights.length > 0 && cutWeights.length < exp.weights.length);
  await wv.locator('[data-testid="tab-tensors"]').click();
  const undecodable = await wv
    .locator('.row.undecodable[data-tensor]')
    .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tensor));
  assert.deepEqual(undecodable.sort(), [...cutWeights].sort());
  const flagged = 'model.layers.1.self_attn.q_proj.weight';
  assert.ok(cutWeights.includes(flagged));
  await wv.locator(`.row[data-tensor="${flagged}"]`).click();
  assert.equal(
    (await wv.locator('[data-testid="tensor-error"]').innerText()).trim(),
    `${flagged}: component scales model.layers.1.self_attn.q_proj.scales is cut short (its data is not in the file); everything else in the file is usable.`,
  );
  await shot(s.page, 'ux-open-cut-gptq');
  // a weight whose components are all there decodes
  await wv.locator('.row[data-tensor="model.layers.0.self_attn.q_proj.weight"]').click();
  await wv.locator('canvas[data-testid="histogram"][data-drawn="true"]').waitFor({ timeout: 60_000 });
});
