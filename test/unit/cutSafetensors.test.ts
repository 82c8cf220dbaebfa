// A safetensors download that stopped (issue 14): the editor opens what is there. Cut copies of corpus files: a
// single file, one shard of a sharded model, and a GPTQ checkpoint. Expected tensors, offsets and values come from
// the corpus's expected.json / .values.f32 files and, for the checkpoint, from its header read here with JSON.parse
// (the format: an 8-byte little-endian length, then the JSON header; offsets relative to the data after it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCutModel, openModel } from '../../src/core/formats/openModel.ts';
import { quantizedViewOf } from '../../src/core/hfquant/open.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import type { TensorInfo } from '../../src/core/model.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { corpusPath, firstBitMismatch, readF32, readJson } from '../helpers/corpus.ts';

interface ExpectedTensor {
  name: string;
  absolute_offset: number;
  nbytes: number;
  values_f32: { file: string; offset_bytes: number; count: number };
}
interface ExpectedFile {
  file_size: number;
  header_length: number;
  data_start: number;
  metadata: Record<string, string>;
  tensors: ExpectedTensor[];
}

const dir = mkdtempSync(join(tmpdir(), 'quantlens-cut-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The first `bytes` bytes of `from`, written as `dir/name` (in a folder of its own, with `also` copied beside it). */
function cutCopy(from: string, bytes: number, name: string, folder: string, also: string[] = []): string {
  const out = join(dir, folder);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, name), readFileSync(from).subarray(0, bytes));
  for (const f of also) copyFileSync(f, join(out, f.split('/').pop()!));
  return join(out, name);
}

const isOneLine = (e: unknown) => e instanceof QuantLensError && !/\n/.test(e.message);

const single = readJson<ExpectedFile>('safetensors', 'dtypes.expected.json');
const singlePath = corpusPath('safetensors', 'dtypes.safetensors');
/** The tensors in data order, as the corpus lists their offsets. */
const byOffset = [...single.tensors].sort((a, b) => a.absolute_offset - b.absolute_offset);

test('a safetensors file cut in its data: the whole header, the tensors whose data is there, and how much is missing', async () => {
  assert.equal(readFileSync(singlePath).length, single.file_size);
  const third = byOffset[2];
  const size = third.absolute_offset + Math.floor(third.nbytes / 2);
  const path = cutCopy(singlePath, size, 'dtypes.safetensors', 'single');
  await assert.rejects(openModel(path), QuantLensError);
  const m = await openCutModel(path);
  assert.ok(m?.truncation);
  try {
    const fits = (t: ExpectedTensor) => t.absolute_offset + t.nbytes <= size;
    assert.deepEqual(
      m.tensors.map((t) => t.name).sort(),
      single.tensors
        .filter(fits)
        .map((t) => t.name)
        .sort(),
    );
    assert.equal(m.tensors.length, 2);
    assert.deepEqual(
      m.truncation.missing.map((t) => t.name).sort(),
      single.tensors
        .filter((t) => !fits(t))
        .map((t) => t.name)
        .sort(),
    );
    assert.deepEqual(
      m.metadata.map((e) => [e.key, e.value]),
      Object.entries(single.metadata),
    );
    assert.equal(m.truncation.fileBytes, size);
    assert.equal(m.truncation.neededBytes, single.file_size);
    assert.equal(m.truncation.atLeast, false);
    assert.equal(m.truncation.file, undefined);
    assert.equal(m.dataOffset, single.data_start);
    const bytesShort = third.absolute_offset + third.nbytes - size;
    assert.equal(
      m.truncation.reason,
      `tensor "${third.name}" (${third.nbytes} bytes at data offset ${third.absolute_offset - single.data_start}) is cut short: the file ends at byte ${size}, ${bytesShort} bytes before its end`,
    );
    // a tensor that is there reads as the corpus's values
    for (const e of byOffset.slice(0, 2)) {
      const tensor: TensorInfo = m.tensors.find((x) => x.name === e.name)!;
      const want = readF32(corpusPath('safetensors', e.values_f32.file), e.values_f32.offset_bytes, e.values_f32.count);
      assert.equal(firstBitMismatch(readTensorValues(m, tensor), want), null, e.name);
    }
  } finally {
    await m.close();
  }
});

test('cut at a tensor boundary, or right after the header: still a cut file', async () => {
  for (const size of [byOffset[4].absolute_offset, single.data_start]) {
    const m = await openCutModel(cutCopy(singlePath, size, 'dtypes.safetensors', `boundary-${size}`));
    assert.ok(m?.truncation, `cut at ${size}`);
    assert.deepEqual(
      m.tensors.map((t) => t.name).sort(),
      single.tensors
        .filter((t) => t.absolute_offset + t.nbytes <= size)
        .map((t) => t.name)
        .sort(),
    );
    assert.equal(m.truncation.neededBytes, single.file_size);
    await m.close();
  }
});

test('cut inside the header: a one-line error naming the byte offset, as openModel says it', async () => {
  for (const size of [single.data_start - 1, 8 + Math.floor(single.header_length / 2), 9]) {
    const path = cutCopy(singlePath, size, 'dtypes.safetensors', `header-${size}`);
    const err = await openCutModel(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isOneLine(err), String(err));
    assert.equal((err as QuantLensError).code, 'truncated');
    assert.equal(
      (err as QuantLensError).message,
      `header length ${single.header_length} at byte 0 is larger than the file (${size} bytes)`,
    );
    await assert.rejects(openModel(path), (e: unknown) => (e as QuantLensError).message === (err as QuantLensError).message);
  }
  const short = await openCutModel(cutCopy(singlePath, 5, 'dtypes.safetensors', 'header-5')).catch((e: unknown) => e);
  assert.ok(isOneLine(short) && (short as QuantLensError).code === 'truncated', String(short));
});

test('a whole file, or one broken otherwise, is not a cut file: openCutModel leaves it to openModel', async () => {
  assert.equal(await openCutModel(singlePath), undefined);
  for (const file of ['st-offsets-overlap.safetensors', 'st-offsets-size-mismatch.safetensors', 'st-unknown-dtype.safetensors']) {
    const path = corpusPath('malformed', file);
    const strict = (await openModel(path).then(
      () => undefined,
      (e: unknown) => e,
    )) as QuantLensError;
    await assert.rejects(openCutModel(path), (e: unknown) => e instanceof QuantLensError && e.message === strict.message, file);
  }
  // [0, 128] with 64 bytes of data: what a download cut after 64 data bytes looks like (the CLI still refuses it)
  const m = await openCutModel(corpusPath('malformed', 'st-offsets-out-of-range.safetensors'));
  assert.ok(m?.truncation);
  assert.deepEqual(m.tensors, []);
  assert.deepEqual(
    m.truncation.missing.map((t) => [t.name, t.nbytes]),
    [['w', 128]],
  );
  assert.equal(m.truncation.neededBytes - m.truncation.fileBytes, 128 - 64);
  await m.close();
});

const sharded = readJson<{ shards: (ExpectedFile & { file: string })[] }>('safetensors', 'sharded', 'sharded.expected.json');
const shardDir = corpusPath('safetensors', 'sharded');

test('a sharded model with a shard cut in its data: the other shards whole, that shard as far as it goes', async () => {
  const [first, second] = sharded.shards;
  const secondByOffset = [...second.tensors].sort((a, b) => a.absolute_offset - b.absolute_offset);
  const size = secondByOffset[1].absolute_offset + 10;
  const shard2 = cutCopy(join(shardDir, second.file), size, second.file, 'sharded', [
    join(shardDir, first.file),
    join(shardDir, 'model.safetensors.index.json'),
  ]);
  const index = join(dir, 'sharded', 'model.safetensors.index.json');
  const shard1 = join(dir, 'sharded', first.file);
  await assert.rejects(openModel(index), QuantLensError);
  // by its index, by the shard cut and by the whole shard: the same model
  for (const input of [index, shard2, shard1]) {
    const m = await openCutModel(input);
    assert.ok(m?.truncation, input);
    try {
      const fits = (t: ExpectedTensor) => t.absolute_offset + t.nbytes <= size;
      assert.deepEqual(
        m.tensors.map((t) => t.name).sort(),
        [...first.tensors.map((t) => t.name), ...second.tensors.filter(fits).map((t) => t.name)].sort(),
      );
      assert.deepEqual(
        m.truncation.missing.map((t) => t.name).sort(),
        second.tensors
          .filter((t) => !fits(t))
          .map((t) => t.name)
          .sort(),
      );
      assert.equal(m.truncation.file, second.file);
      assert.equal(m.truncation.fileBytes, size);
      assert.equal(m.truncation.neededBytes, second.file_size);
      assert.match(m.truncation.reason, new RegExp(`^tensor "${secondByOffset[1].name.replace(/\./g, '\\.')}" .* is cut short`));
      const e = secondByOffset[0];
      const t = m.tensors.find((x) => x.name === e.name)!;
      const want = readF32(join(shardDir, e.values_f32.file), e.values_f32.offset_bytes, e.values_f32.count);
      assert.equal(firstBitMismatch(readTensorValues(m, t), want), null, e.name);
    } finally {
      await m.close();
    }
  }
});

const GPTQ = corpusPath('..', 'safetensors-quant', 'gptq-v1-4bit-sym-g128');

test('a GPTQ checkpoint cut in its data: a weight whose component is cut is flagged, the others decode as the reference', async () => {
  const whole = readFileSync(join(GPTQ, 'model.safetensors'));
  const headerLength = Number(whole.readBigUInt64LE(0));
  const header = JSON.parse(whole.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const dataStart = 8 + headerLength;
  const end = (name: string) => dataStart + header[name].data_offsets[1];
  // inside model.layers.1.mlp.up_proj.scales: the scales stored after it are cut too
  const size = dataStart + header['model.layers.1.mlp.up_proj.scales'].data_offsets[0] + 100;
  const path = cutCopy(join(GPTQ, 'model.safetensors'), size, 'model.safetensors', 'gptq', [
    join(GPTQ, 'config.json'),
    join(GPTQ, 'quantize_config.json'),
  ]);
  const exp = JSON.parse(readFileSync(join(GPTQ, 'expected.json'), 'utf8')) as {
    weights: { name: string; f32_offset: number | null; f32_count: number | null; components: { tensor: string }[] }[];
    unquantized_tensors: { tensor: string }[];
  };
  const m = await openCutModel(path);
  assert.ok(m?.truncation);
  const q = await quantizedViewOf(m, path);
  assert.ok(q);
  try {
    const cutWeights = exp.weights.filter((w) => w.components.some((c) => end(c.tensor) > size)).map((w) => w.name);
    assert.equal(cutWeights.length, 5, cutWeights.join(', '));
    // every weight is listed; the cut ones flagged and not decoded
    assert.deepEqual(q.weights.map((w) => w.name).sort(), exp.weights.map((w) => w.name).sort());
    for (const w of q.weights) {
      if (cutWeights.includes(w.name)) {
        assert.equal(w.decodable, false, w.name);
        assert.match(w.error?.message ?? '', new RegExp(`^${w.name.replace(/\./g, '\\.')}: component \\w+ \\S+ is cut short`), w.name);
      } else assert.equal(w.error, undefined, `${w.name}: ${w.error?.message}`);
    }
    // the plain tensors that are there
    assert.deepEqual(
      q.plain.map((t) => t.name).sort(),
      exp.unquantized_tensors
        .map((u) => u.tensor)
        .filter((t) => end(t) <= size)
        .sort(),
    );
    const f32 = readFileSync(join(GPTQ, 'expected.f32'));
    const checked = exp.weights.filter((e) => e.f32_offset !== null && !cutWeights.includes(e.name));
    assert.ok(checked.length >= 2);
    for (const e of checked) {
      const want = new Float32Array(
        f32.buffer.slice(f32.byteOffset + 4 * e.f32_offset!, f32.byteOffset + 4 * (e.f32_offset! + e.f32_count!)),
      );
      assert.equal(firstBitMismatch(q.weight(e.name)!.decode(), want), null, e.name);
    }
  } finally {
    await q.close();
  }
});
