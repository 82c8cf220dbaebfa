/**
 * Mutation fuzzing of the readers and decoders: seeded, bounded. Whatever the bytes, only QuantLensErrors
 * escape, each on one line; every GGUF rejection names a byte offset. The GGUF mutants start from a corpus file
 * and from a file the project's writer produced (so the writer's output is fuzzed too). Memory is measured in
 * ggufLimits.test.ts. Each test logs how many mutants it tried, opened and rejected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { computeTensorStats } from '../../src/core/analysis/tensorStats.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { rng } from '../helpers/rng.ts';

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfffffffe, 0xffffffff, 2 ** 31, 13, 9, 8, 4, 5];

function mutate(base: Uint8Array, r: () => number, headerEnd: number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const at = () => pick(Math.min(base.length, headerEnd + 64));
  const kind = pick(6);
  let b = base.slice();
  const n = 1 + pick(4);
  for (let k = 0; k < n; k++) {
    switch (kind) {
      case 0:
        b[at()] ^= 1 << pick(8);
        break; // bit flip
      case 1:
        b[at()] = pick(256);
        break; // random byte
      case 2: {
        // an interesting 32-bit value at a 4-aligned offset (counts, lengths, types)
        const o = at() & ~3;
        const v = INTERESTING[pick(INTERESTING.length)];
        new DataView(b.buffer).setUint32(Math.min(o, b.length - 4), v >>> 0, true);
        break;
      }
      case 3: {
        // a huge 64-bit value
        const o = Math.min(at() & ~7, b.length - 8);
        new DataView(b.buffer).setBigUint64(o, BigInt(Math.floor(r() * 2 ** 53)) << BigInt(pick(12)), true);
        break;
      }
      case 4:
        b = b.slice(0, pick(b.length));
        break; // truncate
      case 5: {
        // duplicate a slice
        const o = at();
        const len = pick(32);
        const ins = b.slice(o, o + len);
        const next = new Uint8Array(b.length + ins.length);
        next.set(b.subarray(0, o));
        next.set(ins, o);
        next.set(b.subarray(o), o + ins.length);
        b = next;
        break;
      }
    }
  }
  return b;
}

async function fuzz(
  file: string | Uint8Array,
  headerEnd: number,
  iterations: number,
  seed: number,
): Promise<{ tried: number; opened: number; rejected: number }> {
  const base = typeof file === 'string' ? new Uint8Array(readFileSync(file)) : file;
  const isGguf = base[0] === 0x47 && base[1] === 0x47 && base[2] === 0x55 && base[3] === 0x46;
  const r = rng(seed);
  let opened = 0;
  let rejected = 0;
  for (let i = 0; i < iterations; i++) {
    const bytes = mutate(base, r, headerEnd);
    try {
      const m = await openModelFromSource(new MemoryByteSource(bytes, `mutant-${i}`));
      opened++;
      for (const t of m.tensors.slice(0, 3)) {
        try {
          computeTensorStats(m, t, { bins: 16 });
        } catch (e) {
          if (!(e instanceof QuantLensError)) throw e;
        }
      }
    } catch (e) {
      if (!(e instanceof QuantLensError)) {
        assert.fail(`seed ${seed} iteration ${i}: untyped error escaped: ${(e as Error).stack}`);
      }
      assert.ok(!e.message.includes('\n'));
      if (isGguf) assert.ok(e.byteOffset !== undefined, `seed ${seed} iteration ${i}: rejection names no byte offset: ${e.message}`);
      rejected++;
    }
  }
  return { tried: iterations, opened, rejected };
}

test('fuzz: GGUF base file', async () => {
  const r = await fuzz(corpusPath('malformed', 'gguf-valid-base.gguf'), 512, 10000, 1);
  console.log(`GGUF base file: ${JSON.stringify(r)}`);
  assert.ok(r.rejected > 100 && r.opened > 100, JSON.stringify(r));
});

test('fuzz: GGUF model with a tokenizer (long arrays, K-quant data)', async () => {
  const r = await fuzz(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'), 46880, 1500, 2);
  console.log(`GGUF tokenizer model: ${JSON.stringify(r)}`);
  assert.ok(r.rejected > 10, JSON.stringify(r));
});

test('fuzz: GGUF written by the project (alignment 64, arrays, an unknown type)', async () => {
  const bytes = buildGgufFile(
    [
      { key: 'general.architecture', type: 'STRING', value: 'llama' },
      { key: 'general.alignment', type: 'UINT32', value: 64 },
      {
        key: 'tokenizer.ggml.tokens',
        type: 'ARRAY',
        value: { elementType: 'STRING', values: Array.from({ length: 80 }, (_, i) => `t${i}`) },
      },
      { key: 'x.ids', type: 'ARRAY', value: { elementType: 'INT32', values: [1, -2, 3] } },
    ],
    [
      { name: 'a.weight', shape: [8, 2], ggmlTypeId: 0, nbytes: 64, data: new Uint8Array(64).fill(0x3f) },
      { name: 'u.weight', shape: [4], ggmlTypeId: 99, nbytes: 10, data: new Uint8Array(10) },
      { name: 'q.weight', shape: [32], ggmlTypeId: 8, nbytes: 34, data: new Uint8Array(34).fill(1) },
    ],
    64,
  );
  const r = await fuzz(bytes, bytes.length - 192, 3000, 4);
  console.log(`GGUF writer output: ${JSON.stringify(r)}`);
  assert.ok(r.rejected > 100 && r.opened > 100, JSON.stringify(r));
});

test('fuzz: safetensors base file', async () => {
  const r = await fuzz(corpusPath('malformed', 'st-valid-base.safetensors'), 160, 10000, 3);
  assert.ok(r.rejected > 100, JSON.stringify(r));
});
