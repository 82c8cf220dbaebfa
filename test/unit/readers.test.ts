/** GGUF and safetensors headers read exactly as the corpus says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { openModel } from '../../src/core/formats/openModel.ts';
import { readArrayPage } from '../../src/core/formats/gguf.ts';
import type { ArrayValue, Model } from '../../src/core/model.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';

function expectedScalar(kv: any): unknown {
  if (kv.type === 'UINT64' || kv.type === 'INT64') return BigInt(kv.value);
  if (kv.value === 'NaN') return NaN;
  if (kv.value === 'Infinity') return Infinity;
  if (kv.value === '-Infinity') return -Infinity;
  return kv.value;
}

async function checkGguf(file: string): Promise<void> {
  const exp = readJson(`gguf/${file.replace(/\.gguf$/, '.expected.json')}`);
  const model: Model = await openModel(corpusPath('gguf', file));
  try {
    // A split model's expected.json describes one shard; check the shard's own tensors.
    const fileIndex = model.files.findIndex((f) => f.path.endsWith(exp.file));
    assert.ok(fileIndex >= 0);
    if (fileIndex === 0) {
      assert.equal(model.ggufVersion, exp.gguf_version);
      assert.equal(model.alignment, exp.alignment);
      assert.equal(model.dataOffset, exp.data_offset);
      assert.equal(model.headerEnd, exp.tensor_info_end);
      assert.equal(model.metadata.length, exp.n_kv);
      for (const [i, kv] of exp.kv.entries()) {
        const got = model.metadata[i];
        assert.equal(got.key, kv.key);
        assert.equal(got.type, kv.type, kv.key);
        if (kv.type === 'ARRAY') {
          const arr = got.value as ArrayValue;
          assert.equal(arr.elementType, kv.array_type, kv.key);
          assert.equal(arr.length, kv.length, kv.key);
          assert.equal(arr.payloadOffset, kv.payload_offset, kv.key);
          assert.equal(arr.payloadBytes, kv.payload_nbytes, kv.key);
          const want = kv.values ?? kv.head;
          if (want && kv.array_type !== 'ARRAY') {
            const page = await readArrayPage(model.files[0].source, arr, 0, want.length);
            const norm = (v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
            const isFloat = /^FLOAT/.test(kv.array_type);
            assert.deepEqual(
              page.map(norm),
              want.map((w: unknown) => (isFloat ? expectedScalar({ type: 'FLOAT', value: w }) : w)),
              kv.key,
            );
          }
        } else if (kv.type === 'FLOAT32' && kv.bits) {
          const bits = new Uint32Array(new Float32Array([got.value as number]).buffer)[0];
          assert.equal('0x' + bits.toString(16).padStart(8, '0'), kv.bits, kv.key);
        } else {
          assert.deepEqual(got.value, expectedScalar(kv), kv.key);
        }
      }
    }
    const mine = model.tensors.filter((t) => t.fileIndex === fileIndex);
    assert.equal(mine.length, exp.n_tensors);
    for (const [i, t] of exp.tensors.entries()) {
      const got = mine[i];
      assert.equal(got.name, t.name);
      assert.deepEqual(got.shape, t.ne, t.name);
      assert.equal(got.ggmlTypeId, t.type_id, t.name);
      assert.equal(got.type.ggmlName, t.type_name, t.name);
      assert.equal(got.offset, t.offset, t.name);
      assert.equal(got.absoluteOffset, t.absolute_offset, t.name);
      assert.equal(got.nbytes, t.nbytes, t.name);
      assert.equal(got.nElements, t.n_elements, t.name);
      assert.equal(got.type.bitsPerWeight, t.bits_per_weight, t.name);
    }
  } finally {
    await model.close();
  }
}

for (const f of readdirSync(corpusPath('gguf')).filter((f) => f.endsWith('.gguf'))) {
  test(`GGUF header: ${f}`, () => checkGguf(f));
}

test('split GGUF opens as one model from any shard', async () => {
  for (const shard of ['llama-mix-Q4_K_M-00001-of-00002.gguf', 'llama-mix-Q4_K_M-00002-of-00002.gguf']) {
    const m = await openModel(corpusPath('gguf', shard));
    const whole = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
    try {
      assert.equal(m.files.length, 2);
      assert.deepEqual(m.tensors.map((t) => t.name).sort(), whole.tensors.map((t) => t.name).sort());
      assert.ok(m.metadata.some((e) => e.key === 'general.architecture'));
    } finally {
      await m.close();
      await whole.close();
    }
  }
});

test('safetensors dtypes file reads as the corpus says', async () => {
  const exp = readJson('safetensors/dtypes.expected.json');
  const m = await openModel(corpusPath('safetensors', 'dtypes.safetensors'));
  try {
    assert.equal(m.format, 'safetensors');
    assert.equal(m.headerEnd, exp.header_length);
    assert.equal(m.dataOffset, exp.data_start);
    assert.deepEqual(Object.fromEntries(m.metadata.map((e) => [e.key, e.value])), exp.metadata);
    assert.equal(m.tensors.length, exp.tensors.length);
    for (const [i, t] of exp.tensors.entries()) {
      const got = m.tensors[i];
      assert.equal(got.name, t.name);
      assert.equal(got.dtype, t.dtype);
      assert.deepEqual(got.shape, t.shape);
      assert.equal(got.absoluteOffset, t.absolute_offset);
      assert.equal(got.nbytes, t.nbytes);
      assert.equal(got.nElements, t.n_elements);
    }
  } finally {
    await m.close();
  }
});

test('sharded safetensors opens through the index and from a shard', async () => {
  const exp = readJson('safetensors/sharded/sharded.expected.json');
  for (const p of ['model.safetensors.index.json', 'model-00002-of-00002.safetensors']) {
    const m = await openModel(corpusPath('safetensors', 'sharded', p));
    try {
      assert.equal(m.files.length, 2);
      assert.equal(m.tensors.length, exp.n_tensors);
      assert.equal(
        m.tensors.reduce((a, t) => a + t.nbytes, 0),
        exp.total_size,
      );
      for (const [si, shard] of exp.shards.entries()) {
        for (const t of shard.tensors) {
          const got = m.tensors.find((x) => x.name === t.name)!;
          assert.equal(got.fileIndex, si);
          assert.equal(got.absoluteOffset, t.absolute_offset);
        }
      }
    } finally {
      await m.close();
    }
  }
});
