/**
 * Mutation fuzzing of safetensors headers and of the safetensors writer: seeded, bounded (a fixed minimum
 * of cases, then more until a time budget; the budget changes how many run, never what passes), counting.
 * Whatever the bytes: only QuantLensErrors escape, every refusal is one short line naming a byte offset,
 * an accepted file satisfies the format's rules as checked here independently, and the strict JSON parser
 * agrees with JSON.parse except where serde_json, the reference's parser, is stricter too (duplicate keys,
 * lone surrogates, nesting, numbers out of range).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { buildSafetensorsFile } from '../../src/core/formats/safetensorsWriter.ts';
import { parseJson } from '../../src/core/formats/strictJson.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { rng } from '../helpers/rng.ts';

/** Bytes per element of each dtype, from the safetensors format (Dtype::bitsize / 8). */
const WIDTH: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
};

const MIN_CASES = 3000;
const MAX_CASES = 200_000;
const BUDGET_MS = 6000;

const NUMBERS = [
  '-1',
  '0',
  '-0',
  '1',
  '2',
  '8',
  '01',
  '1.5',
  '1.0',
  '1e3',
  '1e400',
  '-',
  '4294967296',
  '9007199254740991',
  '9007199254740993',
  '18446744073709551616',
  '100000000',
];
const VALUES = [
  '""',
  '"__metadata__"',
  '"constructor"',
  '"__proto__"',
  '"toString"',
  '"\\ud800"',
  '"\\u0000"',
  '"F12"',
  '"C64"',
  '"U8"',
  '"F32"',
  '{"toString":1}',
  'null',
  'true',
  '[]',
  '{}',
  '[1,2]',
  '[0,0]',
  '"\u202e\u0007"',
  `"${'x'.repeat(500)}"`,
];
const BYTES = [
  0x00, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x80, 0xff, 0xc0, 0xed, 0xf4, 0x20, 0x0a, 0x1b, 0x2d, 0x30, 0x65, 0x2e,
];

function frame(header: Uint8Array, data: Uint8Array, lengthField = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, lengthField)), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

function split(file: Uint8Array): { header: Uint8Array; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { header: file.slice(8, 8 + n), data: file.slice(8 + n) };
}

/** Spans [start, end) of the JSON tokens of one kind in `text` (numbers, or strings with their quotes). */
function tokens(text: string, kind: 'number' | 'string'): [number, number][] {
  const re = kind === 'number' ? /-?\d+(\.\d+)?([eE][+-]?\d+)?/g : /"(?:[^"\\]|\\.)*"/g;
  return [...text.matchAll(re)].map((m) => [m.index!, m.index! + m[0].length]);
}

/** A mutated file and the header text it was framed around (its length field may lie about it). */
function mutate(base: { header: Uint8Array; data: Uint8Array }, r: () => number): { file: Uint8Array; header: Uint8Array } {
  const pick = (n: number) => Math.floor(r() * n);
  let h: Uint8Array = base.header;
  let data = base.data;
  const splice = (from: number, to: number, ins: Uint8Array) => {
    const out = new Uint8Array(h.length - (to - from) + ins.length);
    out.set(h.subarray(0, from));
    out.set(ins, from);
    out.set(h.subarray(to), from + ins.length);
    h = out;
  };
  for (let k = 1 + pick(3); k > 0; k--) {
    const text = Buffer.from(h).toString('latin1');
    switch (pick(8)) {
      case 0: {
        // replace a number
        const t = tokens(text, 'number');
        if (t.length) splice(...t[pick(t.length)], Buffer.from(NUMBERS[pick(NUMBERS.length)]));
        break;
      }
      case 1: {
        // replace a string (a key, a dtype, a metadata value) with another value
        const t = tokens(text, 'string');
        if (t.length) splice(...t[pick(t.length)], Buffer.from(VALUES[pick(VALUES.length)]));
        break;
      }
      case 2: {
        // duplicate a member (or any slice): duplicate keys, overlapping offsets
        const from = pick(h.length);
        const to = Math.min(h.length, from + 1 + pick(120));
        const at = pick(h.length + 1);
        splice(at, at, h.slice(from, to));
        break;
      }
      case 3: {
        // delete a slice
        const from = pick(h.length);
        splice(from, Math.min(h.length, from + 1 + pick(16)), new Uint8Array(0));
        break;
      }
      case 4: {
        // insert or overwrite a structural, invalid-UTF-8 or control byte
        const at = pick(h.length + 1);
        splice(at, r() < 0.5 ? at : Math.min(h.length, at + 1), Uint8Array.of(BYTES[pick(BYTES.length)]));
        break;
      }
      case 5: // bit flip
        if (h.length) {
          h = h.slice();
          h[pick(h.length)] ^= 1 << pick(8);
        }
        break;
      case 6: {
        // data one byte short or long, or gone
        const longer = new Uint8Array(data.length + 1);
        longer.set(data);
        data = [data.subarray(0, Math.max(0, data.length - 1)), longer, new Uint8Array(0)][pick(3)];
        break;
      }
      case 7: {
        // nest: wrap a value in arrays
        const t = tokens(text, 'number');
        if (t.length) {
          const [a, b] = t[pick(t.length)];
          const depth = [1, 2, 127, 200][pick(4)];
          splice(a, b, Buffer.from('['.repeat(depth) + text.slice(a, b) + ']'.repeat(depth)));
        }
        break;
      }
    }
  }
  // Mostly a consistent length field; sometimes a lying one.
  const lie = r() < 0.1 ? [0, -1, 1, 7, h.length + data.length + 1, 2 ** 40][pick(6)] : 0;
  return { file: frame(h, data, h.length + lie), header: h };
}

/** The format's rules on an accepted file, checked here without the reader. */
function checkAccepted(file: Uint8Array, m: Awaited<ReturnType<typeof openModelFromSource>>): void {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const dataSize = file.length - 8 - n;
  assert.equal(new Set(m.tensors.map((t) => t.name)).size, m.tensors.length, 'names are unique');
  const spans = m.tensors.map((t) => {
    assert.ok(t.dtype! in WIDTH, `dtype ${t.dtype}`);
    assert.ok(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0));
    assert.equal(t.nbytes, t.shape.reduce((a, d) => a * d, 1) * WIDTH[t.dtype!], `${t.name} size`);
    assert.equal(t.absoluteOffset, 8 + n + t.offset);
    return [t.offset, t.offset + t.nbytes];
  });
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [s, e] of spans) {
    assert.equal(s, end, 'contiguous from 0');
    end = e;
  }
  assert.equal(end, dataSize, 'the tensors end at the end of the file');
  for (const e of m.metadata) assert.equal(typeof e.value, 'string');
}

/** The strict parser against JSON.parse on the same bytes. */
function checkParserAgainstJsonParse(header: Uint8Array): void {
  let reference: unknown;
  let referenceOk = true;
  try {
    reference = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch {
    referenceOk = false;
  }
  try {
    const ours = parseJson({ bytes: header, what: 'header' });
    assert.ok(referenceOk, 'JSON.parse accepts what the strict parser accepts');
    assert.equal(JSON.stringify(ours), JSON.stringify(reference));
  } catch (e) {
    if (!(e instanceof QuantLensError)) throw e;
    assert.ok(e.byteOffset !== undefined && e.byteOffset >= 0 && e.byteOffset <= header.length, e.message);
    if (referenceOk)
      assert.match(
        e.message,
        /duplicate key|lone surrogate|nested deeper|number out of range/,
        'stricter than JSON.parse only where serde_json is',
      );
  }
}

async function fuzz(bases: Uint8Array[], seed: number) {
  const r = rng(seed);
  const parts = bases.map(split);
  const counts = { tried: 0, opened: 0, rejected: 0 };
  const started = Date.now();
  while (counts.tried < MIN_CASES || (counts.tried < MAX_CASES && Date.now() - started < BUDGET_MS)) {
    const i = counts.tried++;
    const { file: bytes, header } = mutate(parts[i % parts.length], r);
    checkParserAgainstJsonParse(header);
    try {
      const m = await openModelFromSource(new MemoryByteSource(bytes, `mutant-${i}`));
      checkAccepted(bytes, m);
      counts.opened++;
    } catch (e) {
      if (!(e instanceof QuantLensError)) assert.fail(`seed ${seed} case ${i}: untyped error escaped: ${(e as Error)?.stack}`);
      assert.ok(e.byteOffset !== undefined, `seed ${seed} case ${i}: no byte offset in: ${e.message}`);
      assert.ok(e.message.length <= 400, `seed ${seed} case ${i}: ${e.message.length}-character message`);
      assert.ok(
        !/[\u0000-\u001f\u007f-\u009f\u202e]/.test(e.message),
        `seed ${seed} case ${i}: raw control character in: ${JSON.stringify(e.message)}`,
      );
      counts.rejected++;
    }
  }
  return counts;
}

function generatedBase(): Uint8Array {
  const u8 = (n: number) => Uint8Array.from({ length: n }, (_, k) => k);
  return buildSafetensorsFile(
    [
      { name: 'model.embed.weight', dtype: 'F16', shape: [2, 3], data: u8(12) },
      { name: 'constructor', dtype: 'U8', shape: [4], data: u8(4) },
      { name: 'empty', dtype: 'F32', shape: [0, 5], data: u8(0) },
      { name: 'scalar', dtype: 'I32', shape: [], data: u8(4) },
      { name: 'naïve.名', dtype: 'BF16', shape: [1, 2], data: u8(4) },
    ],
    { format: 'pt', note: 'ü' },
  );
}

test('fuzz: safetensors header mutants', async (t) => {
  const bases = [
    generatedBase(),
    readFileSync(corpusPath('malformed', 'st-valid-base.safetensors')),
    readFileSync(corpusPath('safetensors', 'dtypes.safetensors')),
  ].map((b) => new Uint8Array(b));
  const c = await fuzz(bases, 11);
  t.diagnostic(`safetensors header mutants tried: ${c.tried} (opened ${c.opened}, rejected ${c.rejected})`);
  assert.ok(c.rejected > MIN_CASES / 2 && c.opened > 50, JSON.stringify(c));
});

test('fuzz: the writer either refuses its input or writes a file that opens as written', async (t) => {
  const r = rng(12);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const names = ['a', 'a', '__metadata__', '__proto__', 'constructor', '', 'x\ud800', 'é', 'line\nbreak', '"', '0', '12'];
  const dtypes = [...Object.keys(WIDTH), 'F12', 'C64', 'f32'];
  let written = 0;
  let refusedCount = 0;
  for (let i = 0; i < 2000; i++) {
    const tensors = Array.from({ length: 1 + Math.floor(r() * 4) }, () => {
      const dtype = pick(dtypes);
      const shape = Array.from({ length: Math.floor(r() * 3) }, () => pick([0, 1, 2, 3, -1, 1.5]));
      const elements = shape.reduce((a, d) => a * d, 1);
      const size = Number.isSafeInteger(elements) && elements >= 0 ? elements * (WIDTH[dtype] ?? 1) + pick([0, 0, 0, 1]) : 0;
      return { name: pick(names) + (r() < 0.5 ? String(Math.floor(r() * 1e6)) : ''), dtype, shape, data: new Uint8Array(size) };
    });
    let file: Uint8Array;
    try {
      file = buildSafetensorsFile(tensors, r() < 0.3 ? { [pick(names)]: pick(['v', 'ü', '\ud800']) } : undefined);
    } catch (e) {
      assert.ok(e instanceof QuantLensError, `case ${i}: ${(e as Error)?.stack}`);
      refusedCount++;
      continue;
    }
    const m = await openModelFromSource(new MemoryByteSource(file, `written-${i}`));
    checkAccepted(file, m);
    assert.deepEqual(
      m.tensors.map((x) => [x.name, x.dtype, x.shape, x.nbytes]),
      tensors.map((x) => [x.name, x.dtype, x.shape, x.data.length]),
    );
    written++;
  }
  t.diagnostic(`writer cases: ${written} written and re-opened, ${refusedCount} refused`);
  assert.ok(written > 200 && refusedCount > 200, `${written} written, ${refusedCount} refused`);
});
