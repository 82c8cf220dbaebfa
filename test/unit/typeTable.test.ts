/**
 * The type table (src/core/types.ts GGML_TYPES) against ggml's own, as ggml printed it at the corpus commit
 * (test/fixtures/corpus/ggml-types.json, a verbatim copy of ../shared/corpus/ggml-types.json; see
 * test/fixtures/PROVENANCE.md): every id, name, block size and bytes per block, removed ids absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GGML_TYPES } from '../../src/core/types.ts';
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import { readJson } from '../helpers/corpus.ts';

interface GgmlTypeRow {
  id: number;
  name: string;
  blck_size: number;
  type_size: number;
  has_to_float: boolean;
}

const ggml = readJson<GgmlTypeRow[]>('ggml-types.json');
// ggml marks a removed id with block size 0
const live = ggml.filter((t) => t.blck_size > 0);
const removed = ggml.filter((t) => t.blck_size === 0);

test('ggml-types.json is the whole table: ids 0..N-1, each once', () => {
  assert.deepEqual(ggml.map((t) => t.id), ggml.map((_, i) => i));
  assert.deepEqual(removed.map((t) => t.id), [4, 5, 31, 32, 33, 36, 37, 38]);
});

for (const t of live) {
  test(`type ${t.id} is ${t.name}: ${t.blck_size} weights in ${t.type_size} bytes`, () => {
    const ours = GGML_TYPES.get(t.id);
    assert.ok(ours, `GGML_TYPES has id ${t.id}`);
    assert.equal(ours.ggmlId, t.id);
    assert.equal(ours.ggmlName, t.name);
    assert.equal(ours.name, t.name.toUpperCase());
    assert.equal(ours.blockSize, t.blck_size);
    assert.equal(ours.bytesPerBlock, t.type_size);
    assert.equal(ours.bitsPerWeight, (8 * t.type_size) / t.blck_size);
  });
}

test('removed ids are not in the table, and the table has no id ggml lacks', () => {
  for (const t of removed) assert.equal(GGML_TYPES.has(t.id), false, `id ${t.id} (${t.name}) is absent`);
  assert.deepEqual([...GGML_TYPES.keys()].sort((a, b) => a - b), live.map((t) => t.id));
});

test('every type ggml can turn into floats has a decoder (F32 too, which needs no to_float)', () => {
  for (const t of live) {
    if (t.has_to_float || t.name === 'f32') assert.ok(codecForGgmlId(t.id), `a decoder for ${t.name}`);
  }
});
