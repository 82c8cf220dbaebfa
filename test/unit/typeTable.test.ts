/**
 * The type table (src/core/types.ts GGML_TYPES) against ggml's own, as ggml printed it at the corpus commit
 * (test/fixtures/corpus/ggml-types.json, a verbatim copy of ../shared/corpus/ggml-types.json; see
 * test/fixtures/PROVENANCE.md): every id, name, block size and bytes per block, removed ids absent; the fields of
 * every block tile it; the capabilities agree with ggml and with the registries; the generated AssemblyScript layout
 * is current.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GGML_TYPES, GgmlType, SAFETENSORS_DTYPES, requiresImatrix, writableTypes } from '../../src/core/types.ts';
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import { quantizerFor, writableTypeIds } from '../../src/core/quant/quantizers.ts';
import { readJson } from '../helpers/corpus.ts';
import { LAYOUT_FILE, renderLayout } from '../../scripts/wasmLayout.ts';

interface GgmlTypeRow {
  id: number;
  name: string;
  blck_size: number;
  type_size: number;
  has_to_float: boolean;
  requires_imatrix: boolean;
}

const ggml = readJson<GgmlTypeRow[]>('ggml-types.json');
// ggml marks a removed id with block size 0
const live = ggml.filter((t) => t.blck_size > 0);
const removed = ggml.filter((t) => t.blck_size === 0);

test('ggml-types.json is the whole table: ids 0..N-1, each once', () => {
  assert.deepEqual(
    ggml.map((t) => t.id),
    ggml.map((_, i) => i),
  );
  assert.deepEqual(
    removed.map((t) => t.id),
    [4, 5, 31, 32, 33, 36, 37, 38],
  );
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
  assert.deepEqual(
    [...GGML_TYPES.keys()].sort((a, b) => a - b),
    live.map((t) => t.id),
  );
});

test('every type ggml can turn into floats has a decoder (F32 too, which needs no to_float)', () => {
  for (const t of live) {
    if (t.has_to_float || t.name === 'f32') assert.ok(codecForGgmlId(t.id), `a decoder for ${t.name}`);
  }
});

test('every row names its ggml type: GgmlType.X is the id of the row named X', () => {
  for (const [id, t] of GGML_TYPES) assert.equal(GgmlType[t.name as keyof typeof GgmlType], id, t.name);
  assert.deepEqual(
    Object.values(GgmlType)
      .filter((v) => typeof v === 'number')
      .sort((a, b) => a - b),
    [...GGML_TYPES.keys()].sort((a, b) => a - b),
  );
});

const allRows = [...GGML_TYPES.values(), ...SAFETENSORS_DTYPES.values()];

for (const t of allRows) {
  test(`${t.name}: its fields tile its ${t.bytesPerBlock}-byte block exactly (no gap, no overlap)`, () => {
    assert.ok(t.fields.length > 0, 'declares its fields');
    let at = 0;
    for (const f of t.fields) {
      assert.equal(f.offset, at, `${f.name} starts where the previous field ends`);
      assert.ok(f.count > 0 && f.size > 0, `${f.name} is not empty`);
      assert.equal(t.at[f.name], f.offset, `${f.name} is found by name`);
      at += f.size;
    }
    assert.equal(at, t.bytesPerBlock, 'the fields add up to the block');
    assert.equal(new Set(t.fields.map((f) => f.name)).size, t.fields.length, 'field names are unique');
  });
}

test('the block inspector shows each field where the table declares it', () => {
  for (const t of GGML_TYPES.values()) {
    const codec = codecForGgmlId(t.ggmlId!);
    if (!codec?.decodeBlock) continue;
    const record = codec.decodeBlock(new Uint8Array(t.bytesPerBlock), 0);
    for (const f of record.fields) {
      assert.ok(f.offset >= 0 && f.offset + f.size <= t.bytesPerBlock, `${t.name}.${f.name} lies in the block`);
      const declared = t.fields.find((d) => d.name === f.name);
      if (declared) assert.deepEqual([f.offset, f.size], [declared.offset, declared.size], `${t.name}.${f.name}`);
    }
  }
});

test("capabilities: requiresImatrix is ggml's, and a quantizer exists exactly where the table says", () => {
  for (const t of live) {
    const ours = GGML_TYPES.get(t.id)!;
    assert.equal(requiresImatrix(ours), t.requires_imatrix, `${t.name} requires_imatrix`);
    assert.equal(!!quantizerFor(ours), ours.caps.quantizer, `${t.name} quantizer`);
    if (ours.caps.quantizer)
      assert.equal(!!quantizerFor(ours)!.requiresImatrix, t.requires_imatrix, `${t.name}: the quantizer says so too`);
    if (ours.caps.wasmQuantize || ours.caps.wasmFusedScan)
      assert.ok(ours.caps.quantizer || ours.caps.wasmDecode, `${t.name}: a kernel needs a quantizer or a decoder`);
  }
  assert.deepEqual(
    writableTypes().map((t) => t.ggmlId),
    writableTypeIds(),
  );
});

test('the AssemblyScript layout constants are generated from this table and not stale', () => {
  const committed = readFileSync(join(import.meta.dirname, '..', '..', LAYOUT_FILE), 'utf8');
  assert.equal(committed, renderLayout(), `${LAYOUT_FILE} is stale: run node scripts/build-wasm.mjs`);
});
