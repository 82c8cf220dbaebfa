/**
 * Mutation fuzzing of the readers and decoders: seeded, bounded. Whatever the bytes, only QuantLensErrors
 * escape, and nothing allocates more than the input could justify (the readers check every length first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { computeTensorStats } from '../../src/core/analysis/tensorStats.ts';
import { QuantLensError } from '../../src/core/errors.ts';
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
      case 0: b[at()] ^= 1 << pick(8); break; // bit flip
      case 1: b[at()] = pick(256); break; // random byte
      case 2: { // an interesting 32-bit value at a 4-aligned offset (counts, lengths, types)
        const o = at() & ~3;
        const v = INTERESTING[pick(INTERESTING.length)];
        new DataView(b.buffer).setUint32(Math.min(o, b.length - 4), v >>> 0, true);
        break;
      }
      case 3: { // a huge 64-bit value
        const o = Math.min(at() & ~7, b.length - 8);
        new DataView(b.buffer).setBigUint64(o, BigInt(Math.floor(r() * 2 ** 53)) << BigInt(pick(12)), true);
        break;
      }
      case 4: b = b.slice(0, pick(b.length)); break; // truncate
      case 5: { // duplicate a slice
        const o = at();
        const len = pick(32);
        const ins = b.slice(o, o + len);
        const next = new Uint8Array(b.length + ins.length);
        next.set(b.subarray(0, o)); next.set(ins, o); next.set(b.subarray(o), o + ins.length);
        b = next;
        break;
      }
    }
  }
  return b;
}

async function fuzz(file: string, headerEnd: number, iterations: number, seed: number): Promise<{ opened: number; rejected: number }> {
  const base = new Uint8Array(readFileSync(file));
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
      rejected++;
    }
  }
  return { opened, rejected };
}

test('fuzz: GGUF base file', async () => {
  const r = await fuzz(corpusPath('malformed', 'gguf-valid-base.gguf'), 512, 10000, 1);
  assert.ok(r.rejected > 100 && r.opened > 100, JSON.stringify(r));
});

test('fuzz: GGUF model with a tokenizer (long arrays, K-quant data)', async () => {
  const r = await fuzz(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'), 46880, 1500, 2);
  assert.ok(r.rejected > 10, JSON.stringify(r));
});

test('fuzz: safetensors base file', async () => {
  const r = await fuzz(corpusPath('malformed', 'st-valid-base.safetensors'), 160, 10000, 3);
  assert.ok(r.rejected > 100, JSON.stringify(r));
});
