/**
 * ggml's GGUF loader rules (ggml src/gguf.cpp, gguf_init_from_reader), each on a file written byte by byte here:
 * the reader refuses it with a typed one-line error naming the byte offset (computed here from the layout) and
 * the key or tensor, or opens it when ggml would. Then the writer: its output re-opens, and input the reader
 * would refuse is refused before anything is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { readArrayPage, STRING_INDEX_STRIDE } from '../../src/core/formats/gguf.ts';
import { buildGgufFile, buildGgufHeader, type WriterEntry, type WriterTensor } from '../../src/core/formats/ggufWriter.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import type { ArrayValue } from '../../src/core/model.ts';

// GGUF value type ids and ggml type ids (GGUF spec, ggml.h).
const T = { UINT8: 0, UINT32: 4, STRING: 8, ARRAY: 9, UINT64: 10 } as const;
const F32 = 0;
const Q4_0 = 2; // 32 elements per block, 18 bytes

/** Writes a GGUF file field by field and remembers where named fields start. */
class Gguf {
  private bytes: number[] = [];
  readonly at = new Map<string, number>();
  get length(): number {
    return this.bytes.length;
  }
  mark(label: string): this {
    this.at.set(label, this.bytes.length);
    return this;
  }
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.bytes.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: bigint | number): this {
    const x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0n; i < 8n; i++) this.bytes.push(Number((x >> (8n * i)) & 0xffn));
    return this;
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).raw(b);
  }
  header(tensors: number, keys: number): this {
    return this.raw(new TextEncoder().encode('GGUF')).u32(3).u64(tensors).u64(keys);
  }
  kv(key: string, type: number, value: (g: this) => void): this {
    this.mark(`key ${key}`).str(key).mark(`type ${key}`).u32(type);
    value(this);
    return this;
  }
  tensor(name: string, ne: (bigint | number)[], type: number, offset: bigint | number): this {
    this.mark(`tensor ${name}`).str(name).u32(ne.length);
    ne.forEach((d, i) => this.mark(`ne${i} ${name}`).u64(d));
    return this.mark(`ggml type ${name}`).u32(type).mark(`offset ${name}`).u64(offset);
  }
  pad(alignment = 32): this {
    while (this.bytes.length % alignment) this.bytes.push(0);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.bytes.push(0);
    return this;
  }
  file(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const open = (g: Gguf) => openModelFromSource(new MemoryByteSource(g.file(), 'rules.gguf'));

async function refused(g: Gguf, code: string, message: RegExp, byteOffset: number | undefined): Promise<void> {
  await assert.rejects(open(g), (e: unknown) => {
    assert.ok(e instanceof QuantLensError, `typed error, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'));
    assert.equal(e.byteOffset, byteOffset, e.message);
    return true;
  });
}

test('duplicate key: refused at the second one', async () => {
  const g = new Gguf().header(0, 2).kv('general.name', T.UINT8, (x) => x.u8(1));
  const second = g.length;
  g.kv('general.name', T.UINT8, (x) => x.u8(2));
  await refused(g, 'invalid-value', /duplicate key general\.name/, second);
});

test('empty key: refused', async () => {
  const g = new Gguf()
    .header(0, 2)
    .kv('a', T.UINT8, (x) => x.u8(1))
    .kv('', T.UINT8, (x) => x.u8(1));
  await refused(g, 'invalid-value', /key #1 is empty/, g.at.get('key ')!);
});

test('keys: ggml has no 64-byte limit for keys (a 200-byte key opens); the GGUF spec limit of 65535 holds', async () => {
  const long = 'general.' + 'k'.repeat(192);
  const m = await open(new Gguf().header(0, 1).kv(long, T.UINT8, (x) => x.u8(7)));
  assert.equal(m.metadata[0].key, long);
  const g = new Gguf().header(0, 1).kv('x'.repeat(65536), T.UINT8, (x) => x.u8(7));
  await refused(g, 'limit-exceeded', /65535/, 24);
});

test('tensor names: 63 bytes open, 64 bytes are refused (GGML_MAX_NAME 64 with the terminator)', async () => {
  const ok = 'n'.repeat(63);
  const m = await open(new Gguf().header(1, 0).tensor(ok, [8], F32, 0).pad().zeros(32));
  assert.equal(m.tensors[0].name, ok);
  const bad = 'n'.repeat(64);
  const g = new Gguf().header(1, 0).tensor(bad, [8], F32, 0).pad().zeros(32);
  await refused(g, 'bad-tensor', /tensor #0 name n+… is 64 bytes .*at most 63/, g.at.get(`tensor ${bad}`)!);
});

test('arrays of arrays: refused at the inner element type', async () => {
  const g = new Gguf().header(0, 1).kv('x.nested', T.ARRAY, (x) => x.mark('inner').u32(T.ARRAY).u64(1).u32(T.UINT8).u64(1).u8(5));
  await refused(g, 'invalid-value', /x\.nested is an array of arrays/, g.at.get('inner')!);
});

test('general.alignment of type UINT64 is refused as such (not as "not a power of two")', async () => {
  const g = new Gguf().header(0, 1).kv('general.alignment', T.UINT64, (x) => x.u64(32));
  await refused(g, 'invalid-value', /^general\.alignment has type UINT64, must be UINT32/, g.at.get('type general.alignment')!);
});

test('general.alignment 0 and 48 are refused; 64 is used for the layout', async () => {
  for (const a of [0, 48]) {
    const g = new Gguf().header(0, 1).kv('general.alignment', T.UINT32, (x) => x.u32(a));
    await refused(
      g,
      'invalid-value',
      new RegExp(`general\\.alignment is ${a}, must be a power of two`),
      g.at.get('type general.alignment')!,
    );
  }
  // Two F32 tensors of 8 elements (32 bytes): with alignment 64 the second starts at 64.
  const g = new Gguf()
    .header(2, 1)
    .kv('general.alignment', T.UINT32, (x) => x.u32(64))
    .tensor('a', [8], F32, 0)
    .tensor('b', [8], F32, 64);
  const infoEnd = g.length;
  g.pad(64).zeros(96);
  const m = await open(g);
  assert.equal(m.alignment, 64);
  assert.equal(m.dataOffset, Math.ceil(infoEnd / 64) * 64);
  assert.deepEqual(
    m.tensors.map((t) => t.absoluteOffset),
    [m.dataOffset, m.dataOffset + 64],
  );
});

test('duplicate tensor names are refused, also when they differ only after a NUL (ggml compares C strings)', async () => {
  const g = new Gguf().header(2, 0).tensor('a.weight', [8], F32, 0).tensor('a.weight', [8], F32, 32).pad().zeros(64);
  await refused(g, 'bad-tensor', /two tensors are named a\.weight \(#0 and #1\)/, g.at.get('tensor a.weight')!); // the second mark
  const h = new Gguf().header(2, 0).tensor('w\0one', [8], F32, 0).tensor('w\0two', [8], F32, 32).pad().zeros(64);
  await refused(h, 'bad-tensor', /two tensors are named w \(#0 and #1\)/, h.at.get('tensor w\0two')!);
});

test('data offsets: each tensor exactly where the previous one ends, padded to the alignment', async () => {
  // a: 8 F32 = 32 bytes at 0; b: 4 F32 = 16 bytes, expected at 32; c expected at 64.
  const layout = (offB: number, offC: number) =>
    new Gguf().header(3, 0).tensor('a', [8], F32, 0).tensor('b', [4], F32, offB).tensor('c', [8], F32, offC).pad().zeros(128);
  const m = await open(layout(32, 64));
  assert.deepEqual(
    m.tensors.map((t) => t.offset),
    [0, 32, 64],
  );
  const cases: [number, number, string, RegExp][] = [
    [40, 64, 'b', /tensor b data offset 40 is not a multiple of the alignment \(32\): ggml expects 32/],
    [0, 64, 'b', /tensor b data offset 0 overlaps tensor a: ggml expects 32/],
    [64, 96, 'b', /tensor b data offset 64 leaves a gap after tensor a: ggml expects 32/],
    [32, 32, 'c', /tensor c data offset 32 overlaps tensor b: ggml expects 64/], // out of order / overlapping
    [32, 2 ** 40, 'c', /tensor c data offset 1099511627776 leaves a gap after tensor b: ggml expects 64/],
  ];
  for (const [offB, offC, name, message] of cases) {
    const g = layout(offB, offC);
    await refused(g, 'bad-tensor', message, g.at.get(`offset ${name}`)!);
  }
  // The first tensor must start at 0.
  const first = new Gguf().header(1, 0).tensor('a', [8], F32, 32).pad().zeros(64);
  await refused(
    first,
    'bad-tensor',
    /tensor a data offset 32 leaves a gap after the start of the data section: ggml expects 0/,
    first.at.get('offset a')!,
  );
});

test('data section: a tensor past the end of the file, and a file ending before its data section', async () => {
  const g = new Gguf().header(1, 0).tensor('a', [8], F32, 0).pad().zeros(16);
  const dataOffset = g.length - 16;
  await refused(g, 'truncated', /tensor a \(32 bytes at data offset 0\) is cut short/, dataOffset);
  // Zero-element tensors but no padding after the tensor infos: ggml cannot seek to the data section.
  const h = new Gguf().header(1, 0).tensor('empty', [0], F32, 0);
  const end = h.length;
  assert.ok(end % 32 !== 0);
  await refused(h, 'truncated', /before its data section/, end);
});

test('dims: negative ne (>= 2^63 as int64) is refused at that dim; a zero dim is fine', async () => {
  for (const ne of [2n ** 63n, 2n ** 64n - 1n]) {
    const g = new Gguf().header(1, 0).tensor('a', [8, ne], F32, 0).pad().zeros(32);
    await refused(g, 'bad-tensor', new RegExp(`tensor a dimension 1 is ${BigInt.asIntN(64, ne)} \\(negative\\)`), g.at.get('ne1 a')!);
  }
  const m = await open(new Gguf().header(1, 0).tensor('z', [8, 0], F32, 0).pad());
  assert.equal(m.tensors[0].nElements, 0);
});

test('element count: reaching INT64_MAX is refused as ggml does; beyond 2^53 is refused as beyond any file', async () => {
  const g = new Gguf()
    .header(1, 0)
    .tensor('a', [2n ** 32n, 2n ** 32n], F32, 0)
    .pad();
  await refused(g, 'bad-tensor', /tensor a shape 4294967296 x 4294967296: element count overflows int64/, g.at.get('ne0 a')!);
  const h = new Gguf()
    .header(1, 0)
    .tensor('b', [2n ** 31n, 2n ** 31n], F32, 0)
    .pad();
  await refused(h, 'limit-exceeded', /tensor b shape 2147483648 x 2147483648: 4611686018427387904 elements/, h.at.get('ne0 b')!);
});

test('row length must be a multiple of the block size', async () => {
  const g = new Gguf().header(1, 0).tensor('q', [16, 2], Q4_0, 0).pad().zeros(64);
  await refused(g, 'bad-tensor', /tensor q row length 16 is not a multiple of the Q4_0 block size 32/, g.at.get('ggml type q')!);
});

test('unknown ggml type: listed (ggml refuses it); the tensor after it must start aligned, at or after it', async () => {
  const layout = (offB: number) => new Gguf().header(2, 0).tensor('u', [8], 99, 0).tensor('b', [8], F32, offB).pad().zeros(160);
  const m = await open(layout(96));
  assert.equal(m.tensors[0].type.name, 'unknown type 99');
  assert.equal(m.tensors[1].offset, 96);
  const g = layout(100);
  await refused(g, 'bad-tensor', /tensor b data offset 100 is not a multiple of the alignment \(32\)/, g.at.get('offset b')!);
  const h = new Gguf().header(2, 0).tensor('a', [8], F32, 0).tensor('u', [8], 99, 64).pad().zeros(128);
  await refused(h, 'bad-tensor', /tensor u data offset 64 leaves a gap after tensor a: ggml expects 32/, h.at.get('offset u')!);
  const k = new Gguf().header(3, 0).tensor('a', [8], F32, 0).tensor('u', [8], 99, 64).tensor('b', [8], F32, 32).pad().zeros(128);
  await refused(k, 'bad-tensor', /leaves a gap after tensor a/, k.at.get('offset u')!);
  const n = new Gguf().header(3, 0).tensor('a', [8], F32, 0).tensor('u', [8], 99, 32).tensor('b', [8], F32, 0).pad().zeros(128);
  await refused(
    n,
    'bad-tensor',
    /tensor b data offset 0 lies before the start of tensor u \(32\), whose size is unknown/,
    n.at.get('offset b')!,
  );
});

test("strings and arrays over ggml's 2^30 limits are refused before anything is read", async () => {
  const g = new Gguf().header(0, 1).kv('general.name', T.STRING, (x) => x.mark('len').u64(2 ** 30 + 1));
  await refused(g, 'limit-exceeded', /general\.name declares a 1073741825-byte string .*2\^30/, g.at.get('len')!);
  const h = new Gguf().header(0, 1).kv('x.big', T.ARRAY, (x) =>
    x
      .u32(T.UINT8)
      .mark('len')
      .u64(2 ** 30 + 1),
  );
  await refused(h, 'limit-exceeded', /x\.big declares 1073741825 elements .*2\^30/, h.at.get('len')!);
});

test('in a long string array, a string over the limit or past the end of the file is refused at its length field', async () => {
  // element 100: past the elements decoded up front, in the part of the array that is walked, not decoded
  const array = (bad: (g: Gguf) => void) => {
    const g = new Gguf().header(0, 1).kv('tokenizer.ggml.tokens', T.ARRAY, (x) => {
      x.u32(T.STRING).u64(200);
      for (let i = 0; i < 100; i++) x.str(`t${i}`);
      bad(x.mark('bad'));
      for (let i = 101; i < 200; i++) x.str(`t${i}`);
    });
    return g;
  };
  const over = array((x) => x.u64(2 ** 30 + 1).raw(new Uint8Array(4)));
  await refused(
    over,
    'limit-exceeded',
    /tokenizer\.ggml\.tokens declares a 1073741825-byte string at byte \d+, more than ggml's limit of 2\^30/,
    over.at.get('bad')!,
  );
  // a length with a high byte set: 2^32 + 5 is not read as 5
  const high = array((x) => x.u64(2 ** 32 + 5).raw(new Uint8Array(5)));
  await refused(high, 'limit-exceeded', /declares a 4294967301-byte string/, high.at.get('bad')!);
  const past = new Gguf().header(0, 1).kv('tokenizer.ggml.merges', T.ARRAY, (x) => {
    x.u32(T.STRING).u64(100);
    for (let i = 0; i < 99; i++) x.str(`m ${i}`);
    x.mark('bad').u64(1000).raw(new TextEncoder().encode('short'));
  });
  await refused(
    past,
    'truncated',
    /tokenizer\.ggml\.merges declares a 1000-byte string at byte \d+, but only 5 bytes follow/,
    past.at.get('bad')!,
  );
});

test('long string arrays read back exactly, page by page, across the windows the reader reads the file in', async () => {
  // 150 k strings of 0 to 40 bytes (some multi-byte UTF-8), about 3.6 MB: the reader's windows (64 KB doubling to
  // 1 MB) end inside strings and inside length fields at many places
  const strings: string[] = [];
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 150_000; i++) {
    const n = next() % 41;
    let s = '';
    for (let k = 0; k < n; k++) s += next() % 17 === 0 ? 'Ġ' : String.fromCharCode(97 + (next() % 26));
    strings.push(s);
  }
  const g = new Gguf().header(0, 2);
  g.kv('tokenizer.ggml.tokens', T.ARRAY, (x) => {
    x.u32(T.STRING).u64(strings.length);
    for (const s of strings) x.str(s);
  });
  g.kv('general.name', T.STRING, (x) => x.str('after the array'));
  const m = await open(g);
  const arr = m.metadata[0].value as ArrayValue;
  assert.equal(arr.length, strings.length);
  assert.equal(arr.payloadBytes, g.at.get('key general.name')! - arr.payloadOffset);
  assert.equal(m.metadata[1].value, 'after the array');
  const source = new MemoryByteSource(g.file(), 'rules.gguf');
  for (const start of [0, 1, STRING_INDEX_STRIDE - 1, STRING_INDEX_STRIDE, 5 * STRING_INDEX_STRIDE + 17, 70_001, strings.length - 3]) {
    assert.deepEqual(await readArrayPage(source, arr, start, 50), strings.slice(start, start + 50), `page at ${start}`);
  }
  // every element, in pages of 4096
  for (let start = 0; start < strings.length; start += 4096)
    assert.deepEqual(await readArrayPage(source, arr, start, 4096), strings.slice(start, start + 4096), `page at ${start}`);
});

// ---- writer ----

const f32Tensor = (name: string, n: number): WriterTensor & { data: Uint8Array } => ({
  name,
  shape: [n],
  ggmlTypeId: F32,
  nbytes: 4 * n,
  data: new Uint8Array(4 * n).fill(1),
});

test('writer output re-opens with the layout ggml expects (alignments 32 and 64, an unknown type copied as stored)', async () => {
  for (const alignment of [32, 64]) {
    const entries: WriterEntry[] = [
      { key: 'general.architecture', type: 'STRING', value: 'llama' },
      { key: 'general.alignment', type: 'UINT32', value: alignment },
      { key: 'x.list', type: 'ARRAY', value: { elementType: 'UINT32', values: [1, 2, 3] } },
      { key: 'x.' + 'k'.repeat(100), type: 'UINT8', value: 1 },
    ];
    const q = { name: 'q', shape: [64, 2], ggmlTypeId: Q4_0, nbytes: 4 * 18, data: new Uint8Array(72) };
    const u = { name: 'u', shape: [5], ggmlTypeId: 99, nbytes: 13, data: new Uint8Array(13) };
    const tensors = [f32Tensor('a'.repeat(63), 3), q, u, f32Tensor('b\x1bname', 8)];
    const bytes = buildGgufFile(entries, tensors, alignment);
    const m = await openModelFromSource(new MemoryByteSource(bytes, 'written.gguf'));
    assert.equal(m.alignment, alignment);
    assert.deepEqual(
      m.metadata.map((e) => e.key),
      entries.map((e) => e.key),
    );
    assert.deepEqual((m.metadata[2].value as ArrayValue).values, [1, 2, 3]);
    // Expected offsets: each tensor's size rounded up to the alignment, summed.
    let offset = 0;
    const expected = tensors.map((t) => {
      const o = offset;
      offset += Math.ceil(t.nbytes / alignment) * alignment;
      return o;
    });
    assert.deepEqual(
      m.tensors.map((t) => t.offset),
      expected,
    );
    assert.deepEqual(
      m.tensors.map((t) => t.name),
      tensors.map((t) => t.name),
    );
    assert.equal(m.tensors[2].type.name, 'unknown type 99');
  }
});

test('writer refuses what the reader would refuse, before writing', () => {
  const ok: WriterEntry[] = [{ key: 'general.architecture', type: 'STRING', value: 'llama' }];
  const cases: [string, () => unknown, RegExp][] = [
    ['duplicate key', () => buildGgufHeader([...ok, ...ok], []), /duplicate key general\.architecture/],
    ['empty key', () => buildGgufHeader([{ key: '', type: 'UINT8', value: 1 }], []), /a key is empty/],
    [
      'array of arrays',
      () => buildGgufHeader([{ key: 'x', type: 'ARRAY', value: { elementType: 'ARRAY', values: [] } }], []),
      /x is an array of arrays/,
    ],
    [
      'alignment type',
      () => buildGgufHeader([{ key: 'general.alignment', type: 'UINT64', value: 32n }], []),
      /general\.alignment has type UINT64, must be UINT32/,
    ],
    [
      'alignment value',
      () => buildGgufHeader([{ key: 'general.alignment', type: 'UINT32', value: 48 }], [], 48),
      /alignment 48 is not a power of two/,
    ],
    [
      'alignment mismatch',
      () => buildGgufHeader([{ key: 'general.alignment', type: 'UINT32', value: 64 }], [], 32),
      /general\.alignment is 64 but the data is aligned to 32/,
    ],
    ['alignment without key', () => buildGgufHeader(ok, [], 64), /needs a general\.alignment key/],
    [
      'long tensor name',
      () => buildGgufHeader(ok, [{ name: 'n'.repeat(64), shape: [8], ggmlTypeId: F32, nbytes: 32 }]),
      /is 64 bytes; ggml allows at most 63/,
    ],
    ['duplicate tensor', () => buildGgufHeader(ok, [f32Tensor('t', 8), f32Tensor('t', 8)]), /two tensors are named t/],
    ['C-string duplicate', () => buildGgufHeader(ok, [f32Tensor('t\0a', 8), f32Tensor('t\0b', 8)]), /two tensors are named t/],
    ['no dims', () => buildGgufHeader(ok, [{ name: 't', shape: [], ggmlTypeId: F32, nbytes: 4 }]), /0 dims/],
    ['negative dim', () => buildGgufHeader(ok, [{ name: 't', shape: [8, -1], ggmlTypeId: F32, nbytes: 32 }]), /not a non-negative integer/],
    [
      'row length',
      () => buildGgufHeader(ok, [{ name: 'q', shape: [16], ggmlTypeId: Q4_0, nbytes: 9 }]),
      /row length 16 is not a multiple of the Q4_0 block size 32/,
    ],
    [
      'byte size',
      () => buildGgufHeader(ok, [{ name: 't', shape: [8], ggmlTypeId: F32, nbytes: 16 }]),
      /given 16 bytes, but 8 F32 takes 32/,
    ],
    ['data length', () => buildGgufFile(ok, [{ ...f32Tensor('t', 8), data: new Uint8Array(8) }]), /8 bytes of data but declares 32/],
  ];
  for (const [what, build, message] of cases) {
    assert.throws(build, (e: unknown) => e instanceof QuantLensError && message.test(e.message) && !e.message.includes('\n'), what);
  }
});

test("duplicate keys are still found among keys crafted to collide in the reader's hash table", async () => {
  // 300 keys whose 32-bit FNV-1a hashes share their low 10 bits (the table's first size), so they all probe one
  // cluster; the reader must still see every key and the one repeated at the end.
  const fnv1a = (s: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h >>> 0;
  };
  const colliding: string[] = [];
  for (let i = 0; colliding.length < 300; i++) if ((fnv1a(`c.${i}`) & 1023) === 7) colliding.push(`c.${i}`);
  const build = (keys: string[]) => {
    const g = new Gguf().header(0, keys.length);
    for (const k of keys) g.kv(k, T.UINT8, (x) => x.u8(1));
    return g;
  };
  const m = await open(build(colliding));
  assert.deepEqual(
    m.metadata.map((e) => e.key),
    colliding,
  );
  const g = build([...colliding, colliding[123]]);
  await refused(
    g,
    'invalid-value',
    new RegExp(`duplicate key ${colliding[123].replace('.', '\\.')} .*key #123`),
    g.at.get(`key ${colliding[123]}`)!,
  );
});
