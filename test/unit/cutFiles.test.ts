// A GGUF download that stopped (issue 14): the editor opens what is there. Cut copies of a corpus file, with the
// expected header, tensors and sizes taken from its expected.json (and the tensor-info layout of the GGUF spec).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCutModel, openModel } from '../../src/core/formats/openModel.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { corpusPath, readJson, readF32 } from '../helpers/corpus.ts';

interface Expected {
  file_size: number;
  n_kv: number;
  n_tensors: number;
  tensor_info_end: number;
  data_offset: number;
  kv: { key: string }[];
  tensors: { name: string; n_dims: number; absolute_offset: number; nbytes: number; dequant: { offset_bytes: number; count: number } }[];
}

const NAME = 'llama-mix-Q4_K_M';
const expected = readJson<Expected>('gguf', `${NAME}.expected.json`);
const whole = readFileSync(corpusPath('gguf', `${NAME}.gguf`));
const dir = mkdtempSync(join(tmpdir(), 'quantlens-cut-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cutCopy(bytes: number): string {
  const path = join(dir, `${NAME}-${bytes}.gguf`);
  writeFileSync(path, whole.subarray(0, bytes));
  return path;
}

/** Where each tensor info starts, by the spec's layout (u64 name length, name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset). */
function infoStarts(): number[] {
  const sizes = expected.tensors.map((t) => 8 + Buffer.byteLength(t.name) + 4 + 8 * t.n_dims + 4 + 8);
  const starts: number[] = [];
  let at = expected.tensor_info_end - sizes.reduce((a, b) => a + b, 0);
  for (const s of sizes) {
    starts.push(at);
    at += s;
  }
  return starts;
}

test('cut in the data section: the header, the tensors whose data is there, and how much is missing', async () => {
  assert.equal(whole.length, expected.file_size);
  // halfway through the 10th tensor's data
  const tenth = expected.tensors[9];
  const size = tenth.absolute_offset + Math.floor(tenth.nbytes / 2);
  const path = cutCopy(size);
  await assert.rejects(openModel(path), (e: unknown) => e instanceof QuantLensError && e.code === 'truncated');
  const m = await openCutModel(path);
  assert.ok(m?.truncation);
  try {
    const present = expected.tensors.filter((t) => t.absolute_offset + t.nbytes <= size).map((t) => t.name);
    assert.equal(present.length, 9);
    assert.deepEqual(
      m.tensors.map((t) => t.name),
      present,
    );
    assert.deepEqual(
      m.truncation.missing.map((t) => t.name),
      expected.tensors.slice(9).map((t) => t.name),
    );
    assert.deepEqual(
      m.metadata.map((e) => e.key),
      expected.kv.map((k) => k.key),
    );
    assert.equal(m.truncation.fileBytes, size);
    assert.equal(m.truncation.neededBytes, expected.file_size);
    assert.equal(m.truncation.atLeast, false);
    assert.equal(m.truncation.unreadInfos, 0);
    assert.match(m.truncation.reason, new RegExp(`tensor ${tenth.name.replace(/\./g, '\\.')} .* is cut short`));
    // a tensor that is there reads as ggml dequantizes it
    const t = m.tensors[2];
    const e = expected.tensors[2];
    assert.deepEqual(readTensorValues(m, t), readF32(corpusPath('gguf', `${NAME}.dequant.f32`), e.dequant.offset_bytes, e.dequant.count));
  } finally {
    await m.close();
  }
});

test('cut at a tensor boundary or in the padding before one: still a cut file, never "offset past the end"', async () => {
  for (const size of [expected.tensors[5].absolute_offset, expected.tensors[5].absolute_offset - 1, expected.data_offset]) {
    const m = await openCutModel(cutCopy(size));
    assert.ok(m?.truncation, `cut at ${size}`);
    assert.deepEqual(
      m.tensors.map((t) => t.name),
      expected.tensors.filter((t) => t.absolute_offset + t.nbytes <= size).map((t) => t.name),
    );
    assert.equal(m.truncation.neededBytes, expected.file_size);
    await m.close();
  }
});

test('cut in the tensor infos: the keys, the infos read, no data, and a lower bound on the size', async () => {
  const starts = infoStarts();
  // inside the 4th tensor info
  const size = starts[3] + 5;
  const m = await openCutModel(cutCopy(size));
  assert.ok(m?.truncation);
  try {
    assert.deepEqual(
      m.metadata.map((e) => e.key),
      expected.kv.map((k) => k.key),
    );
    assert.deepEqual(m.tensors, []);
    assert.deepEqual(
      m.truncation.missing.map((t) => t.name),
      expected.tensors.slice(0, 3).map((t) => t.name),
    );
    assert.equal(m.truncation.unreadInfos, expected.n_tensors - 3);
    assert.equal(m.truncation.atLeast, true);
    assert.ok(m.truncation.neededBytes > size && m.truncation.neededBytes <= expected.file_size, String(m.truncation.neededBytes));
    assert.match(m.truncation.reason, /^file ends inside|declares/);
  } finally {
    await m.close();
  }
});

test('a whole file, or one broken otherwise, is not a cut file: openCutModel leaves it to openModel', async () => {
  assert.equal(await openCutModel(corpusPath('gguf', `${NAME}.gguf`)), undefined);
  // a file cut inside its fixed header has nothing to show
  assert.equal(await openCutModel(cutCopy(10)).catch((e: unknown) => (e as QuantLensError).code), 'truncated');
  // the malformed corpus's bad magic stays its own error
  await assert.rejects(
    openCutModel(corpusPath('malformed', 'gguf-bad-magic.gguf')),
    (e: unknown) => (e as QuantLensError).code === 'bad-magic',
  );
});

test("the malformed corpus's cut files open as far as they go; its other broken files keep their own errors", async () => {
  const verdicts = readJson<{ file: string; reason: string }[] | { files: { file: string; reason: string }[] }>(
    'malformed',
    'malformed.json',
  );
  const list = Array.isArray(verdicts) ? verdicts : verdicts.files;
  const reason = (file: string) => list.find((v) => v.file === file)!.reason;
  const data = await openCutModel(corpusPath('malformed', 'gguf-truncated-data.gguf'));
  assert.equal(data?.truncation?.reason, reason('gguf-truncated-data.gguf'));
  // "the file ends 12 bytes before its end"
  assert.equal(data.truncation.neededBytes - data.truncation.fileBytes, 12);
  assert.deepEqual(
    data.truncation.missing.map((t) => t.name),
    ['b.weight'],
  );
  await data.close();
  for (const file of ['gguf-truncated-kv.gguf', 'gguf-truncated-tensor-info.gguf']) {
    const m = await openCutModel(corpusPath('malformed', file));
    assert.ok(m?.truncation?.atLeast, file);
    // the corpus names the section the file ends in; the reader names the field
    assert.match(reason(file), /^file ends inside the (key\/value|tensor info) section$/);
    assert.match(
      m.truncation.reason,
      file.includes('kv') ? /^file ends inside general\.name length/ : /^file ends inside tensor b\.weight info/,
    );
    await m.close();
  }
  for (const file of ['gguf-truncated-header.gguf', 'gguf-empty-file.gguf', 'gguf-tensor-count-2pow63.gguf', 'gguf-offset-past-eof.gguf'])
    await assert.rejects(openCutModel(corpusPath('malformed', file)), QuantLensError, file);
});

test('a split GGUF whose second shard is cut: the whole first shard, the second as far as it goes, by either shard', async () => {
  const SPLIT = 'llama-mix-Q4_K_M';
  const shards = [1, 2].map((i) => `${SPLIT}-0000${i}-of-00002`);
  const exp = shards.map((s) => readJson<Expected>('gguf', `${s}.expected.json`));
  const splitDir = mkdtempSync(join(dir, 'split-'));
  writeFileSync(join(splitDir, `${shards[0]}.gguf`), readFileSync(corpusPath('gguf', `${shards[0]}.gguf`)));
  // halfway through the 4th tensor's data of shard 2
  const fourth = exp[1].tensors[3];
  const size = fourth.absolute_offset + Math.floor(fourth.nbytes / 2);
  writeFileSync(join(splitDir, `${shards[1]}.gguf`), readFileSync(corpusPath('gguf', `${shards[1]}.gguf`)).subarray(0, size));
  for (const opened of shards) {
    const path = join(splitDir, `${opened}.gguf`);
    await assert.rejects(openModel(path), (e: unknown) => e instanceof QuantLensError && e.code === 'truncated');
    const m = await openCutModel(path);
    assert.ok(m?.truncation, opened);
    try {
      assert.equal(m.truncation.file, `${shards[1]}.gguf`);
      assert.equal(m.truncation.fileBytes, size);
      assert.equal(m.truncation.neededBytes, exp[1].file_size);
      assert.equal(m.truncation.atLeast, false);
      assert.deepEqual(
        m.tensors.map((t) => t.name),
        [...exp[0].tensors.map((t) => t.name), ...exp[1].tensors.slice(0, 3).map((t) => t.name)],
      );
      assert.deepEqual(
        m.truncation.missing.map((t) => t.name),
        exp[1].tensors.slice(3).map((t) => t.name),
      );
      // shard 1's keys are the model's
      assert.deepEqual(
        m.metadata.map((e) => e.key),
        exp[0].kv.map((k) => k.key),
      );
      // a tensor of the cut shard that is there reads as ggml dequantizes it (in the unsplit file of the same model)
      const t = m.tensors.find((x) => x.name === exp[1].tensors[1].name)!;
      const e = expected.tensors.find((x) => x.name === t.name)!;
      assert.deepEqual(readTensorValues(m, t), readF32(corpusPath('gguf', `${NAME}.dequant.f32`), e.dequant.offset_bytes, e.dequant.count));
    } finally {
      await m.close();
    }
  }
  // both shards whole: not a cut model
  writeFileSync(join(splitDir, `${shards[1]}.gguf`), readFileSync(corpusPath('gguf', `${shards[1]}.gguf`)));
  assert.equal(await openCutModel(join(splitDir, `${shards[0]}.gguf`)), undefined);
});
