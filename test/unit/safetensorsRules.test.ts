/**
 * The safetensors rules of the reference reader (huggingface/safetensors, safetensors/src/tensor.rs:
 * `SafeTensors::read_metadata`, `Metadata::validate`), the strict JSON they are parsed with, the shard
 * index, the writer's output, and the memory an open costs. Files are built byte by byte here; expected
 * offsets are found in the bytes with indexOf, never taken from the reader.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModel, openModelFromSource } from '../../src/core/formats/openModel.ts';
import { buildSafetensorsFile, buildSafetensorsHeader } from '../../src/core/formats/safetensorsWriter.ts';
import { parseJson } from '../../src/core/formats/strictJson.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';

const REPO = join(import.meta.dirname, '..', '..');
/** Every file this suite writes, removed at the end. */
const SCRATCH = mkdtempSync(join(tmpdir(), 'ql-st-rules-'));
after(() => rmSync(SCRATCH, { recursive: true, force: true }));

/** 8-byte length, the header text as given, `dataBytes` bytes of data. */
function stFile(header: string, dataBytes: number): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  return stFileBytes(h, dataBytes);
}

function stFileBytes(h: Uint8Array, dataBytes: number): Uint8Array {
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

/** Absolute file offset of the `n`-th (0-based) occurrence of `needle` in the header text. */
function at(header: string, needle: string, n = 0): number {
  const bytes = Buffer.from(header, 'utf8');
  let i = -1;
  for (let k = 0; k <= n; k++) i = bytes.indexOf(needle, i + 1);
  assert.ok(i >= 0, `${needle} is in the header`);
  return 8 + i;
}

async function open(bytes: Uint8Array) {
  return openModelFromSource(new MemoryByteSource(bytes, 'test.safetensors'));
}

/** Opening must fail with a one-line QuantLensError at `offset` whose message matches `pattern`. */
async function refused(bytes: Uint8Array, offset: number, pattern: RegExp): Promise<void> {
  await assert.rejects(open(bytes), (e: unknown) => {
    assert.ok(e instanceof QuantLensError, `typed error, got ${(e as Error)?.stack}`);
    assert.ok(!/[\n\r]/.test(e.message), `one line: ${e.message}`);
    assert.ok(e.message.length < 300, `short: ${e.message}`);
    assert.match(e.message, pattern);
    assert.equal(e.byteOffset, offset, `byte offset of: ${e.message}`);
    return true;
  });
}

const T = (name: string, dtype: string, shape: number[], begin: number, end: number) =>
  `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

test('accepts what the reference accepts: padding, out-of-order entries, zero-size tensors, extra fields, null metadata', async () => {
  // The reference's own test: JSON whitespace before and after the object.
  assert.equal((await open(stFileBytes(Uint8Array.from([0x09, 0x0a, 0x7b, 0x7d, 0x0d, 0x20]), 0))).tensors.length, 0);
  const header = `{"__metadata__":null,${T('b', 'F16', [2], 4, 8)},${T('a', 'U8', [4], 0, 4)},${T('z', 'F32', [0, 3], 8, 8)},"c":{"data_offsets":[8,9],"extra":{"x":[1.5,1e3,true]},"shape":[],"dtype":"BOOL"}}   `;
  const m = await open(stFile(header, 9));
  assert.deepEqual(
    m.tensors.map((t) => [t.name, t.offset, t.nbytes]),
    [
      ['b', 4, 4],
      ['a', 0, 4],
      ['z', 8, 0],
      ['c', 8, 1],
    ],
  );
  assert.equal(m.metadata.length, 0);
});

test('tensors named like object properties are tensors', async () => {
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];
  const header = `{"__metadata__":{"__proto__":"p","constructor":"c"},${names.map((n, i) => T(n, 'U8', [1], i, i + 1)).join(',')}}`;
  const m = await open(stFile(header, names.length));
  assert.deepEqual(
    m.tensors.map((t) => t.name),
    names,
  );
  assert.deepEqual(
    m.metadata.map((e) => [e.key, e.value]),
    [
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ],
  );
});

test('the header is one JSON object within the file and the 100 MB limit', async () => {
  for (const h of ['[]', '"x"', '1', 'null']) await refused(stFile(h, 0), 8, /JSON object/);
  const len = (n: bigint, size: number) => {
    const b = new Uint8Array(size);
    new DataView(b.buffer).setBigUint64(0, n, true);
    b[8] = 0x7b;
    return b;
  };
  await refused(len(0n, 16), 0, /header length is 0/);
  await refused(len(100n, 50), 0, /larger than the file/);
  await refused(len(2n ** 64n - 1n, 50), 0, /larger than the file/);
  await refused(len(100_000_001n, 100_000_009), 0, /exceeds the 100000000-byte limit/);
});

test('__metadata__ maps strings to strings', async () => {
  let h = '{"__metadata__":{"a":"x","b":1}}';
  await refused(stFile(h, 0), at(h, '1}'), /__metadata__ value "b" .* is a number, not a string/);
  h = '{"__metadata__":["x"]}';
  await refused(stFile(h, 0), at(h, '['), /__metadata__ .* is an array/);
  h = '{"__metadata__":{"a":{"nested":"x"}}}';
  await refused(stFile(h, 0), at(h, '{"nested'), /is an object, not a string/);
});

test('duplicate keys are refused where the second one starts', async () => {
  let h = `{${T('w', 'U8', [1], 0, 1)},${T('w', 'U8', [1], 1, 2)}}`;
  await refused(stFile(h, 2), at(h, '"w"', 1), /duplicate key "w"/);
  h = '{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  await refused(stFile(h, 1), at(h, '"dtype"', 1), /duplicate key "dtype"/);
  h = `{"__metadata__":{},"__metadata__":{}}`;
  await refused(stFile(h, 0), at(h, '"__metadata__"', 1), /duplicate key "__metadata__"/);
});

test('every field is type-checked and the refusal names the tensor and the field', async () => {
  const cases: [string, string, RegExp][] = [
    ['{"t":{"dtype":{"toString":1},"shape":[1],"data_offsets":[0,1]}}', '{"toString', /tensor "t" .*dtype is an object, not a string/],
    ['{"t":{"shape":[1],"data_offsets":[0,1]}}', '{"shape', /tensor "t" .*dtype is missing/],
    ['{"t":{"dtype":"F12","shape":[1],"data_offsets":[0,1]}}', '"F12"', /dtype "F12" is not a safetensors dtype/],
    ['{"t":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', '"C64"', /does not read/],
    ['{"t":{"dtype":"U8","shape":"1","data_offsets":[0,1]}}', '"1"', /shape "1" is not a list/],
    ['{"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', '[-1]', /shape \[-1\] is not a list/],
    ['{"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', '[1.5]', /not a list of non-negative integers/],
    ['{"t":{"dtype":"U8","shape":[9007199254740992],"data_offsets":[0,1]}}', '[9007', /not a list of non-negative integers/],
    ['{"t":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}', '[4294967296', /more than 2\^53 elements/],
    ['{"t":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', '[0]', /data_offsets \[0\] are not \[begin, end\]/],
    ['{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}', '[0,1,2]', /are not \[begin, end\]/],
    ['{"t":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}', '1.0', /shape holds a number written with a fraction or exponent/],
    [
      '{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1e0],"x":2.5}}',
      '1e0',
      /data_offsets holds a number written with a fraction or exponent/,
    ],
    ['{"t":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', '[-1,0]', /are not \[begin, end\]/],
    ['{"t":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}', '[1,0]', /end before they begin/],
    ['{"t":{"dtype":"U8","shape":[1]}}', '{"dtype', /data_offsets null are not/],
    ['{"t":[1]}', '[1]', /tensor "t" .*entry is an array, not an object/],
    ['{"t":"x"}', '"x"', /entry is a string, not an object/],
  ];
  for (const [h, field, pattern] of cases) await refused(stFile(h, 8), at(h, field), pattern);
});

test('data_offsets are contiguous from 0, sized by dtype x shape, and end at the end of the file', async () => {
  let h = `{${T('a', 'U8', [4], 4, 8)}}`;
  await refused(stFile(h, 8), at(h, '[4,8]'), /tensor "a" .*leave a gap of 4 bytes after the start of the data/);
  h = `{${T('a', 'U8', [4], 0, 4)},${T('b', 'U8', [4], 6, 10)}}`;
  await refused(stFile(h, 10), at(h, '[6,10]'), /tensor "b" .*gap of 2 bytes after tensor "a"/);
  h = `{${T('a', 'U8', [4], 0, 4)},${T('b', 'U8', [4], 2, 6)}}`;
  await refused(stFile(h, 6), at(h, '[2,6]'), /tensor "b" .*overlap tensor "a" \[0, 4\]/);
  h = `{${T('a', 'U8', [4], 0, 4)},${T('b', 'U8', [4], 0, 4)}}`;
  await refused(stFile(h, 4), at(h, '[0,4]', 1), /tensor "b" .*overlap tensor "a"/);
  h = `{${T('a', 'F32', [4, 4], 0, 60)}}`;
  await refused(stFile(h, 60), at(h, '[0,60]'), /F32 \[4,4\] needs 64 bytes but data_offsets \[0, 60\] span 60/);
  h = `{${T('a', 'U8', [4], 0, 4)}}`;
  await refused(stFile(h, 3), at(h, '[0,4]'), /run past the end of the 3-byte data section/);
  // Trailing bytes (a polyglot file): the reference's MetadataIncompleteBuffer.
  await refused(stFile(h, 5), 8 + Buffer.byteLength(h) + 4, /1 trailing bytes/);
  await refused(stFile('{}', 1), 8 + 2, /1 trailing bytes/);
});

test('the JSON is strict and every syntax error names its byte', async () => {
  // Values sit in an unknown field of a valid entry (the reference ignores such fields, but parses them).
  const entry = (x: string) => `{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${x}`;
  const cases: [string, string, RegExp][] = [
    [entry('1}, }'), ' }', /expected a string key, found '}'/],
    [entry('{"a" 1}}}'), ' 1', /expected ':' after a key, found '1'/],
    [entry("{'a':1}}}"), "'a'", /expected a string key, found '''/],
    [entry('01}}'), '1}}', /expected ',' or '}' in an object, found '1'/],
    [entry('1.}}'), '}}', /digit after the decimal point/],
    [entry('-}}'), '}}', /expected a digit/],
    [entry('1e400}}'), '1e400', /number out of range/],
    [entry('tru}}'), 'tru', /expected true/],
    [entry('"\\x"}}'), '\\x', /invalid escape/],
    [entry('"\\ud800"}}'), '\\ud800', /lone surrogate/],
    [entry('"\\udc00\\ud800"}}'), '\\udc00', /lone surrogate/],
    [entry('"\\u12g4"}}'), 'g4', /4 hex digits/],
    [entry('"\t"}}'), '\t', /control character 0x09/],
    [entry('"abc'), '"abc', /unterminated string/],
    [entry('NaN}}'), 'NaN', /expected a JSON value, found 'N'/],
    [entry('[1 2]}}'), ' 2]', /expected ',' or ']' in an array/],
    [entry('1}} x'), ' x', /after the JSON value/],
  ];
  for (const [h, needle, pattern] of cases) await refused(stFile(h, 1), at(h, needle) + (needle.startsWith(' ') ? 1 : 0), pattern);
  const cut = entry('1}');
  await refused(stFile(cut, 1), 8 + Buffer.byteLength(cut), /expected ',' or '}' in an object, found the end of the input/);
  // Invalid UTF-8 (a lone continuation byte, an overlong '/', an encoded surrogate) inside a key.
  for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
    const h = Uint8Array.from([...Buffer.from('{"a'), ...bad, ...Buffer.from('":1}')]);
    await refused(stFileBytes(h, 0), 8 + 3, /invalid UTF-8/);
  }
  // Nesting is bounded (an unknown field may hold any JSON, but not 10,000 levels of it).
  const deep = `{"t":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":${'['.repeat(10000)}${']'.repeat(10000)}}}`;
  await refused(stFile(deep, 1), at(deep, '[', 129), /nested deeper than 128 levels/);
  // Well-formed escapes decode: a surrogate pair, \u0000, and a key that is only escapes.
  const v = parseJson({ bytes: Buffer.from('{"\\ud83d\\ude00\\u0000\\n\\/":"é"}'), what: 'test' }) as Record<string, unknown>;
  assert.deepEqual(Object.entries(v), [['\u{1F600}\u0000\n/', 'é']]);
  assert.equal(Object.getPrototypeOf(v), null);
});

test('the writer refuses what the reader would refuse', () => {
  const ok = { name: 'a', dtype: 'F32', shape: [2], data: new Uint8Array(8) };
  const cases: [object[], RegExp][] = [
    [[ok, ok], /tensor "a" appears twice/],
    [[{ ...ok, name: '__metadata__' }], /may not be named __metadata__/],
    [[{ ...ok, dtype: 'F12' }], /dtype "F12" is not a safetensors dtype/],
    [[{ ...ok, shape: [-2] }], /not a list of non-negative integers/],
    [[{ ...ok, shape: [3] }], /needs 12 bytes, not 8/],
    [[{ ...ok, name: 'x\ud800' }], /lone surrogate/],
  ];
  for (const [tensors, pattern] of cases) {
    assert.throws(
      () => buildSafetensorsFile(tensors as never),
      (e: unknown) => e instanceof QuantLensError && pattern.test(e.message),
    );
  }
  assert.throws(() => buildSafetensorsFile([ok], { k: 1 as unknown as string }), /metadata value of "k" is not a string/);
  assert.throws(() => buildSafetensorsHeader([{ name: 'b', dtype: 'U8', shape: [2 ** 40, 2 ** 40, 0], nbytes: 0 }]), /more than 2\^53/);
});

test('what the writer writes re-opens with the same names, shapes, dtypes, data and metadata', async () => {
  const names = ['__proto__', 'constructor', 'toString', 'a "quoted" name', 'line\nbreak', 'ü→名', '0', '10', '2', '', 'z'.repeat(300)];
  const dtypes = ['F32', 'F16', 'BF16', 'U8', 'I64', 'BOOL', 'F8_E4M3', 'F64', 'I16', 'U32', 'F8_E5M2'];
  const tensors = names.map((name, i) => {
    const dtype = dtypes[i % dtypes.length];
    const shape = i % 4 === 0 ? [] : i % 4 === 1 ? [0, 3] : [i, 2];
    const width = { F32: 4, F16: 2, BF16: 2, U8: 1, I64: 8, BOOL: 1, F8_E4M3: 1, F64: 8, I16: 2, U32: 4, F8_E5M2: 1 }[dtype]!;
    const data = Uint8Array.from({ length: shape.reduce((a, d) => a * d, 1) * width }, (_, k) => (k * 7 + i) & 0xff);
    return { name, dtype, shape, data };
  });
  const metadata = { format: 'pt', __proto__x: 'y', 'ké\ty': 'vä\u0001l' };
  const bytes = buildSafetensorsFile(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, 'data starts 8-aligned');
  const m = await open(bytes);
  assert.deepEqual(
    m.tensors.map((t) => [t.name, t.dtype, t.shape, t.nbytes]),
    tensors.map((t) => [t.name, t.dtype, t.shape, t.data.length]),
  );
  for (const [i, t] of m.tensors.entries())
    assert.deepEqual(bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nbytes), tensors[i].data, t.name);
  assert.deepEqual(
    m.metadata.map((e) => [e.key, e.value]),
    Object.entries(metadata),
  );
});

/** Shards written by the writer beside an index written here. */
function shardedModel(weightMap: string | Record<string, unknown>): string {
  const dir = mkdtempSync(join(SCRATCH, 'ql-st-index-'));
  writeFileSync(
    join(dir, 'one.safetensors'),
    buildSafetensorsFile([{ name: 'constructor', dtype: 'U8', shape: [2], data: Uint8Array.of(1, 2) }]),
  );
  writeFileSync(
    join(dir, 'two.safetensors'),
    buildSafetensorsFile([{ name: 'toString', dtype: 'U8', shape: [1], data: Uint8Array.of(3) }]),
  );
  mkdirSync(join(dir, 'adir'));
  const index = typeof weightMap === 'string' ? weightMap : JSON.stringify({ metadata: { total_size: 3 }, weight_map: weightMap });
  writeFileSync(join(dir, 'model.safetensors.index.json'), index);
  return join(dir, 'model.safetensors.index.json');
}

test('a shard index with tensors named like object properties opens', async () => {
  const m = await openModel(shardedModel({ constructor: 'one.safetensors', toString: 'two.safetensors' }));
  try {
    assert.deepEqual(
      m.tensors.map((t) => [t.name, t.fileIndex, t.nbytes]),
      [
        ['constructor', 0, 2],
        ['toString', 1, 1],
      ],
    );
    assert.deepEqual(
      m.metadata.map((e) => [e.key, e.value]),
      [['index.total_size', '3']],
    );
  } finally {
    await m.close();
  }
});

test('a shard index that names no plain shard file, or is malformed, gives a one-line error', async () => {
  const cases: [string | Record<string, unknown>, RegExp][] = [
    [{ constructor: '.' }, /maps tensor "constructor" to "\.", not a file name/],
    [{ constructor: '..' }, /to "\.\.", not a file name/],
    [{ constructor: '' }, /to "", not a file name/],
    [{ constructor: 'sub/one.safetensors' }, /not a file name beside the index/],
    [{ constructor: '..\\one.safetensors' }, /not a file name beside the index/],
    [{ constructor: '/etc/passwd' }, /not a file name beside the index/],
    [{ constructor: 'adir' }, /adir is a directory, not a regular file/],
    [{ constructor: 'gone.safetensors' }, /missing gone\.safetensors/],
    [{ constructor: 7 }, /a number, not a file name/],
    [{}, /weight_map is empty/],
    [
      { constructor: 'one.safetensors', toString: 'one.safetensors' },
      /maps tensor "toString" to "one\.safetensors", which has no such tensor/,
    ],
    [{ constructor: 'two.safetensors', toString: 'two.safetensors' }, /tensor "constructor" is in|no such tensor/],
    ['{"weight_map":{"constructor":"one.safetensors","constructor":"one.safetensors"}}', /duplicate key "constructor"/],
    ['{"weight_map":[]}', /weight_map is an array/],
    ['{"metadata":{}}', /weight_map is missing/],
    ['[]', /is an array, not a JSON object/],
    ['{"weight_map":{"constructor":"one.safetensors"}', /not valid JSON/],
  ];
  for (const [weightMap, pattern] of cases) {
    await assert.rejects(openModel(shardedModel(weightMap)), (e: unknown) => {
      assert.ok(e instanceof QuantLensError, `typed error for ${JSON.stringify(weightMap)}, got ${(e as Error)?.stack}`);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, pattern);
      return true;
    });
  }
});

test('a directory or a FIFO is refused before it is opened', async () => {
  const dir = mkdtempSync(join(SCRATCH, 'ql-st-notfile-'));
  await assert.rejects(openModel(dir), (e: unknown) => e instanceof QuantLensError && /is a directory, not a regular file/.test(e.message));
  const fifo = join(dir, 'pipe.safetensors');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    await assert.rejects(
      openModel(fifo),
      (e: unknown) => e instanceof QuantLensError && /is a named pipe \(FIFO\), not a regular file/.test(e.message),
    );
  }
});

test('the CLI exits 2 with one line where it used to report an internal error', () => {
  const dir = mkdtempSync(join(SCRATCH, 'ql-st-cli-'));
  const file = join(dir, 'bad.safetensors');
  writeFileSync(file, stFile('{"w":{"dtype":{"toString":1},"shape":[1],"data_offsets":[0,1]}}', 1));
  const index = shardedModel({ constructor: '..' });
  for (const input of [file, index, dir]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'cli.ts'), 'info', input], {
      encoding: 'utf8',
      cwd: REPO,
    });
    assert.equal(r.status, 2, `${input}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

/**
 * Open a generated file of `entries` tensors in a child process and report its memory, after gc, as a
 * multiple of the header's size: retained = heapUsed + external + arrayBuffers with the model held, minus
 * the same before the open; peak = the rise of the process's maximum resident set during the open.
 */
function measureOpen(entries: number): { headerBytes: number; retained: number; peak: number } {
  const dir = mkdtempSync(join(SCRATCH, 'ql-st-mem-'));
  const parts: string[] = [];
  let offset = 0;
  for (let i = 0; i < entries; i++) {
    const shape = [1 + (i % 3), 2 + (i % 5)];
    const nbytes = shape[0] * shape[1] * 2;
    parts.push(T(`model.layers.${i}.self_attn.q_proj.weight`, 'F16', shape, offset, offset + nbytes));
    offset += nbytes;
  }
  const header = Buffer.from(`{${parts.join(',')}}`);
  const file = join(dir, 'many.safetensors');
  writeFileSync(file, stFileBytes(header, offset));
  const child = `
    const { openModel } = require(${JSON.stringify(join(REPO, 'src', 'core', 'formats', 'openModel.ts'))});
    const mem = () => { const m = process.memoryUsage(); return m.heapUsed + m.external + m.arrayBuffers; };
    gc(); gc();
    const base = mem();
    const rss0 = process.resourceUsage().maxRSS;
    openModel(${JSON.stringify(file)}).then((model) => {
    const rss1 = process.resourceUsage().maxRSS;
    gc(); gc();
    const retained = mem() - base;
    if (model.tensors.length !== ${entries}) throw new Error('tensor count');
    console.log(JSON.stringify({ retained, peak: (rss1 - rss0) * 1024 }));
    });
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', child], { encoding: 'utf8', cwd: REPO });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { headerBytes: header.length, retained: got.retained / header.length, peak: got.peak / header.length };
}

test('opening 200,000 entries costs a small multiple of the header', (t) => {
  const m = measureOpen(200_000);
  t.diagnostic(`header ${m.headerBytes} bytes: retained ${m.retained.toFixed(2)}x, peak resident ${m.peak.toFixed(2)}x`);
  assert.ok(m.retained <= 4, `retained ${m.retained.toFixed(2)}x the header`);
  assert.ok(m.peak <= 8, `peak ${m.peak.toFixed(2)}x the header`);
});

test('the sub-byte and FNUZ dtypes of the reference open and decode (F4, F6_E2M3, F6_E3M2, F8_E4M3FNUZ, F8_E5M2FNUZ)', async () => {
  // Expected values written from the formats' definitions (OCP MX v1.0 element types; FNUZ: bias 2^(e-1), no
  // infinities, 0x80 the only NaN), not from the decoders.
  const f4 = Uint8Array.from([0x21, 0xf7, 0x8a, 0x00]); // codes low nibble first: 1,2 | 7,15 | 10,8 | 0,0
  const f4Want = [0.5, 1, 6, -6, -1, -0, 0, 0];
  // F6_E2M3: four 6-bit codes in one 24-bit little-endian word, first code lowest
  const e2m3Codes = [0b000001, 0b011111, 0b101000, 0b001000]; // 1/8, 7.5, -1, 1
  const e2m3Want = [0.125, 7.5, -1, 1];
  const e3m2Codes = [0b000001, 0b011111, 0b110000, 0b001100]; // 1/16, 28, -2^(4-3)=-2, 1
  const e3m2Want = [0.0625, 28, -2, 1];
  const pack6 = (c: number[]) => {
    const w = c[0] | (c[1] << 6) | (c[2] << 12) | (c[3] << 18);
    return Uint8Array.from([w & 255, (w >> 8) & 255, (w >> 16) & 255]);
  };
  // E4M3FNUZ: 0x01 = 2^-10 (subnormal), 0x7f = 1.875 · 2^7 = 240, 0x80 = NaN, 0x40 = 2^(8-8) = 1
  // E5M2FNUZ: 0x01 = 2^-17, 0x7f = 1.75 · 2^15 = 57344, 0x80 = NaN, 0xc0 = -2^(16-16) = -1
  const fnuz4 = Uint8Array.from([0x01, 0x7f, 0x80, 0x40]);
  const fnuz5 = Uint8Array.from([0x01, 0x7f, 0x80, 0xc0]);
  const bytes = buildSafetensorsFile([
    { name: 'f4', dtype: 'F4', shape: [2, 4], data: f4 },
    { name: 'e2m3', dtype: 'F6_E2M3', shape: [4], data: pack6(e2m3Codes) },
    { name: 'e3m2', dtype: 'F6_E3M2', shape: [4], data: pack6(e3m2Codes) },
    { name: 'fnuz4', dtype: 'F8_E4M3FNUZ', shape: [4], data: fnuz4 },
    { name: 'fnuz5', dtype: 'F8_E5M2FNUZ', shape: [4], data: fnuz5 },
  ]);
  const model = await open(bytes);
  try {
    const values = (name: string) =>
      Array.from(
        readTensorValues(
          model,
          model.tensors.find((t) => t.name === name)!,
          0,
          undefined,
        ),
      );
    assert.deepEqual(values('f4'), f4Want);
    assert.ok(Object.is(values('f4')[5], -0), 'F4 code 8 is -0');
    assert.deepEqual(values('e2m3'), e2m3Want);
    assert.deepEqual(values('e3m2'), e3m2Want);
    assert.deepEqual(values('fnuz4'), [2 ** -10, 240, NaN, 1]);
    assert.deepEqual(values('fnuz5'), [2 ** -17, 57344, NaN, -1]);
    assert.equal(model.tensors.find((t) => t.name === 'f4')!.nbytes, 4);
    assert.equal(model.tensors.find((t) => t.name === 'e2m3')!.nbytes, 3);
  } finally {
    await model.close();
  }
  // the reference's MisalignedSlice: bits that do not end on a byte boundary
  let h = `{${T('a', 'F4', [3], 0, 2)}}`;
  await refused(stFile(h, 2), at(h, '[3]'), /tensor "a" .*3 F4 elements of 4 bits, which do not end on a byte boundary/);
  h = `{${T('a', 'F6_E3M2', [2, 3], 0, 5)}}`;
  await refused(stFile(h, 5), at(h, '[2,3]'), /6 F6_E3M2 elements of 6 bits, which do not end on a byte boundary/);
  h = `{${T('a', 'F6_E2M3', [8], 0, 5)}}`;
  await refused(stFile(h, 5), at(h, '[0,5]'), /F6_E2M3 \[8\] needs 6 bytes but data_offsets \[0, 5\] span 5/);
  assert.throws(
    () => buildSafetensorsFile([{ name: 'x', dtype: 'F4', shape: [1], data: new Uint8Array(1) }]),
    /do not end on a byte boundary/,
  );
});
