/**
 * Nothing a write does may lose or corrupt data: destinations that are (or resolve to) an input are refused, a
 * symbolic link is never replaced, tensors of unknown types are copied whole and every output tensor is verified,
 * short reads and sources that change under a job are errors, and imatrix entries are checked before writing.
 * Expected bytes come from the files the test writes itself, never from the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGgufFile, buildGgufHeader, type WriterTensor } from '../../src/core/formats/ggufWriter.ts';
import { buildSafetensorsFile } from '../../src/core/formats/safetensorsWriter.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { readImatrix } from '../../src/core/requant/imatrix.ts';
import { requireQuantizer } from '../../src/core/quant/quantizers.ts';
import { typeByName } from '../../src/core/types.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { rng } from '../helpers/rng.ts';
import { bundledCli } from '../helpers/bundles.ts';

const CLI = bundledCli();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const shaOf = (path: string) => sha(readFileSync(path));
const tempDir = () => mkdtempSync(join(tmpdir(), 'ql-writes-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1 or 2 and exactly one error line, the last one (after any "skipped" notes), saying why. */
function assertRefused(r: { code: number | null; stderr: string }, why: RegExp): void {
  assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(
    lines.filter((l) => l.startsWith('error:')),
    [lines[lines.length - 1]],
    r.stderr,
  );
  assert.match(lines[lines.length - 1], why);
}

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function randomF32(seed: number, n: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

type TensorSpec = WriterTensor & { data: Uint8Array };

function ggufOf(tensors: TensorSpec[]): Uint8Array {
  return buildGgufFile([{ key: 'general.architecture', type: 'STRING', value: 'test' }], tensors);
}

/** The legacy llama.cpp imatrix format: count, then per entry name, call count, value count and float32 values. */
function legacyImatrix(entries: { name: string; calls: number; values: number[] }[]): Uint8Array {
  const parts: Buffer[] = [];
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
  parts.push(i32(entries.length));
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    parts.push(i32(name.length), name, i32(e.calls), i32(e.values.length), Buffer.from(Float32Array.from(e.values).buffer));
  }
  return Buffer.concat(parts);
}

// ---- 1. destinations that are inputs, and symbolic links ----

test('dequant, requantize, quantize, simulate and sample refuse a destination that is, or resolves to, an input', () => {
  const dir = tempDir();
  const model = join(dir, 'model.gguf');
  copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), model);
  const before = shaOf(model);
  linkSync(model, join(dir, 'hard.gguf'));
  symlinkSync(model, join(dir, 'soft.gguf'));
  mkdirSync(join(dir, 'sub'));
  const aliases = [model, join(dir, 'hard.gguf'), join(dir, 'soft.gguf'), join(dir, 'sub', '..', 'model.gguf')];
  let refusals = 0;
  for (const dest of aliases) {
    assertRefused(cli('dequant', model, 'blk.0.attn_q.weight', '-o', dest), /refusing to write .*(source file|symbolic link)/);
    assertRefused(
      cli('requantize', model, dest, '--tensor-type', '.=q8_0', '--threads', '1'),
      /refusing to write .*(source file|symbolic link)/,
    );
    refusals += 2;
  }
  assert.equal(shaOf(model), before, 'the model is byte-identical');
  assert.ok(lstatSync(join(dir, 'soft.gguf')).isSymbolicLink(), 'the link is still a link');

  // quantize: the .f32 input and the imatrix
  const input = join(dir, 'in.f32');
  writeFileSync(input, f32Bytes(randomF32(1, 64)));
  const im = join(dir, 'im.f32');
  writeFileSync(im, f32Bytes(Float32Array.from({ length: 32 }, () => 1)));
  const inputsBefore = [shaOf(input), shaOf(im)];
  assertRefused(cli('quantize', '--type', 'q4_0', '--row-length', '32', input, '-o', input), /refusing to write .*source file/);
  assertRefused(
    cli('quantize', '--type', 'q4_0', '--row-length', '32', '--imatrix', im, input, '-o', im),
    /refusing to write .*source file/,
  );
  refusals += 2;
  assert.deepEqual([shaOf(input), shaOf(im)], inputsBefore);

  // requantize onto its imatrix
  const dat = join(dir, 'im.dat');
  writeFileSync(dat, legacyImatrix([{ name: 'blk.0.attn_q.weight', calls: 1, values: Array(256).fill(1) }]));
  const datBefore = shaOf(dat);
  assertRefused(
    cli('requantize', model, dat, '--tensor-type', '.=q8_0', '--imatrix', dat, '--threads', '1'),
    /refusing to write .*source file/,
  );
  refusals++;
  assert.equal(shaOf(dat), datBefore);

  // simulate onto its safetensors input through a hard link
  const st = join(dir, 'model.safetensors');
  writeFileSync(st, buildSafetensorsFile([{ name: 'w', dtype: 'F32', shape: [4, 32], data: f32Bytes(randomF32(2, 128)) }]));
  linkSync(st, join(dir, 'st-hard.safetensors'));
  const stBefore = shaOf(st);
  assertRefused(
    cli('simulate', st, join(dir, 'st-hard.safetensors'), '--tensor-type', 'w=q8_0', '--threads', '1'),
    /refusing to write .*source file/,
  );
  assertRefused(cli('simulate', st, st, '--tensor-type', 'w=q8_0', '--threads', '1'), /refusing to write .*source file/);
  refusals += 2;
  assert.equal(shaOf(st), stBefore);

  // a split model: every shard is an input
  const shards = join(dir, 'split');
  mkdirSync(shards);
  for (const n of ['00001', '00002'])
    copyFileSync(corpusPath('gguf', `llama-mix-Q4_K_M-${n}-of-00002.gguf`), join(shards, `m-${n}-of-00002.gguf`));
  const shard2 = join(shards, 'm-00002-of-00002.gguf');
  const shard2Before = shaOf(shard2);
  assertRefused(
    cli('requantize', join(shards, 'm-00001-of-00002.gguf'), shard2, '--tensor-type', 'nothing=q8_0', '--threads', '1'),
    /refusing to write .*source file/,
  );
  refusals++;
  assert.equal(shaOf(shard2), shard2Before);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
    'no temporary file',
  );
  assert.ok(refusals >= 14);
});

test('-o onto an existing symbolic link is refused with where it points; the link and its target are untouched', () => {
  const dir = tempDir();
  const target = join(dir, 'precious.bin');
  writeFileSync(target, 'do not replace me');
  const link = join(dir, 'out.f32');
  symlinkSync(target, link);
  const model = corpusPath('gguf', 'llama-tiny-F32.gguf');
  const r = cli('dequant', model, 'blk.0.attn_q.weight', '-o', link);
  assertRefused(r, new RegExp(`symbolic link to ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const s = cli('sample', link);
  assertRefused(s, /symbolic link/);
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), target);
  assert.equal(readFileSync(target, 'utf8'), 'do not replace me');
});

test('the editor path (writeRequantized) refuses a hard link to its source even when called directly', async () => {
  const dir = tempDir();
  const src = join(dir, 'src.gguf');
  copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), src);
  linkSync(src, join(dir, 'alias.gguf'));
  const before = shaOf(src);
  const m = await openModel(src);
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('.=q8_0')]);
    await assert.rejects(
      writeRequantized(m, plan, join(dir, 'alias.gguf')),
      (e: unknown) => e instanceof QuantLensError && /source file/.test(e.message),
    );
  } finally {
    await m.close();
  }
  assert.equal(shaOf(src), before);
});

// ---- 2. tensors of unknown or removed types ----

/** a (F32) | u (type 99, 100 bytes) | b (F32) | r (removed type 31, 77 bytes, unpadded at the end of the file). */
function unknownTypesModel(): { file: Uint8Array; bytes: Record<string, Uint8Array> } {
  const r = rng(7);
  const rand = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  const a = f32Bytes(randomF32(3, 32 * 4));
  const b = f32Bytes(randomF32(4, 32 * 4));
  const u = rand(100);
  const rem = rand(77);
  const tensors: TensorSpec[] = [
    { name: 'a.weight', shape: [32, 4], ggmlTypeId: 0, nbytes: a.length, data: a },
    { name: 'u.weight', shape: [32, 2], ggmlTypeId: 99, nbytes: u.length, data: u },
    { name: 'b.weight', shape: [32, 4], ggmlTypeId: 0, nbytes: b.length, data: b },
    { name: 'r.weight', shape: [16, 2], ggmlTypeId: 31, nbytes: rem.length, data: rem },
  ];
  const full = ggufOf(tensors);
  const layout = buildGgufHeader([{ key: 'general.architecture', type: 'STRING', value: 'test' }], tensors);
  const end = layout.dataOffset + layout.offsets[3] + rem.length;
  return { file: full.subarray(0, end), bytes: { 'a.weight': a, 'u.weight': u, 'b.weight': b, 'r.weight': rem } };
}

test('requantize copies tensors of unknown (99) and removed (31) types byte for byte, with their layout padding', () => {
  const dir = tempDir();
  const src = join(dir, 'unknown.gguf');
  const { file, bytes } = unknownTypesModel();
  writeFileSync(src, file);
  const out = join(dir, 'out.gguf');
  const r = cli('requantize', src, out, '--tensor-type', 'a=q8_0', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const written = readFileSync(out);
  // read the output's tensor table with the test's own minimal parser
  const infos = parseTensorTable(written);
  assert.deepEqual(
    infos.map((t) => [t.name, t.type]),
    [
      ['a.weight', 8],
      ['u.weight', 99],
      ['b.weight', 0],
      ['r.weight', 31],
    ],
  );
  for (const t of infos.slice(1)) {
    const want = bytes[t.name];
    assert.equal(sha(written.subarray(t.absolute, t.absolute + want.length)), sha(want), `${t.name} copied byte for byte`);
    assert.equal(t.absolute % 32, 0, `${t.name} aligned`);
  }
  assert.ok(written.length >= infos[3].absolute + 77);
  assert.equal(shaOf(src), sha(file), 'source untouched');
});

test('requantize refuses, in one line, a tensor of unknown type whose size the layout cannot tell', () => {
  const dir = tempDir();
  const src = join(dir, 'ambiguous.gguf');
  const a = f32Bytes(randomF32(5, 64));
  // u declares no bytes of its own, so b starts where u does: u's size cannot be known
  writeFileSync(
    src,
    ggufOf([
      { name: 'u.weight', shape: [32, 2], ggmlTypeId: 99, nbytes: 0, data: new Uint8Array(0) },
      { name: 'b.weight', shape: [32, 2], ggmlTypeId: 0, nbytes: a.length, data: a },
    ]),
  );
  const out = join(dir, 'out.gguf');
  assertRefused(cli('requantize', src, out, '--tensor-type', 'b=q8_0', '--threads', '1'), /u\.weight .*size cannot be told/);
  assert.deepEqual(readdirSync(dir), ['ambiguous.gguf']);
});

/** name, ggml type and absolute data offset of each tensor of a GGUF v3 file (alignment 32, scalar metadata). */
function parseTensorTable(b: Buffer): { name: string; type: number; absolute: number }[] {
  let at = 8;
  const u64 = () => {
    const v = Number(b.readBigUInt64LE(at));
    at += 8;
    return v;
  };
  const u32 = () => {
    const v = b.readUInt32LE(at);
    at += 4;
    return v;
  };
  const str = () => {
    const n = u64();
    const s = b.toString('utf8', at, at + n);
    at += n;
    return s;
  };
  const nTensors = u64();
  const nKv = u64();
  for (let i = 0; i < nKv; i++) {
    str();
    assert.equal(u32(), 8, 'the test parser reads string metadata only');
    str();
  }
  const raw = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const dims = u32();
    for (let d = 0; d < dims; d++) u64();
    const type = u32();
    raw.push({ name, type, offset: u64() });
  }
  const dataStart = Math.ceil(at / 32) * 32;
  return raw.map((t) => ({ name: t.name, type: t.type, absolute: dataStart + t.offset }));
}

// ---- 3. short reads and sources that change under a job ----

test('a source truncated after it was opened: a one-line error naming file, tensor and byte; nothing written', async () => {
  for (const rule of ['nothing=q8_0', '.=q8_0']) {
    const dir = tempDir();
    const src = join(dir, 'src.gguf');
    copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), src);
    const m = await openModel(src);
    try {
      const last = m.tensors.reduce((x, t) => (t.absoluteOffset > x.absoluteOffset ? t : x));
      const plan = planRequantize(m, [parseTensorTypeRule(rule)]);
      truncateSync(src, last.absoluteOffset + 16);
      await assert.rejects(writeRequantized(m, plan, join(dir, 'out.gguf')), (e: unknown) => {
        assert.ok(e instanceof QuantLensError);
        assert.match(e.message, new RegExp(`src\\.gguf.*${last.name.replace(/\./g, '\\.')}.*byte \\d+`));
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
      assert.deepEqual(readdirSync(dir), ['src.gguf'], `${rule}: no output and no temporary file`);
    } finally {
      await m.close();
    }
  }
});

test('a source rewritten in place, or replaced, while a job runs: the job aborts and the destination is untouched', async () => {
  for (const how of ['rewritten', 'replaced'] as const) {
    const dir = tempDir();
    const src = join(dir, 'src.gguf');
    copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), src);
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'the previous output');
    const m = await openModel(src);
    try {
      const t = m.tensors[m.tensors.length - 1];
      const plan = planRequantize(m, [parseTensorTypeRule('nothing=q8_0')]);
      let changed = false;
      // change the source after the job has started reading (first progress report)
      const change = () => {
        if (changed) return;
        changed = true;
        if (how === 'rewritten') {
          const fd = openSync(src, 'r+');
          writeSync(fd, new Uint8Array(16).fill(0x55), 0, 16, t.absoluteOffset);
          closeSync(fd);
        } else {
          const other = join(dir, 'other.gguf');
          copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), other);
          renameSync(other, src);
        }
      };
      await assert.rejects(
        writeRequantized(m, plan, out, { onProgress: change }),
        (e: unknown) => e instanceof QuantLensError && new RegExp(`src\\.gguf (was modified|was replaced)`).test(e.message),
      );
      assert.equal(readFileSync(out, 'utf8'), 'the previous output', `${how}: destination untouched`);
      assert.deepEqual(readdirSync(dir).sort(), ['out.gguf', 'src.gguf'], `${how}: no temporary file`);
    } finally {
      await m.close();
    }
  }
});

// ---- 4. importance matrices ----

test('requantize refuses imatrix entries of the wrong length or holding NaN, Inf or negative values, before writing', async () => {
  const dir = tempDir();
  const src = join(dir, 'src.gguf');
  copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), src);
  const name = 'blk.0.attn_q.weight';
  const m = await openModel(src);
  const rowLength = m.tensors.find((t) => t.name === name)!.shape[0];
  await m.close();
  const good = Array.from({ length: rowLength }, (_, i) => 1 + i / 64);
  const cases: { values: number[]; why: RegExp }[] = [
    { values: good.slice(0, 32), why: new RegExp(`imatrix entry blk\\.0\\.attn_q\\.weight has 32 values; tensor .* needs ${rowLength}`) },
    { values: good.map((v, i) => (i === 5 ? NaN : v)), why: /imatrix entry blk\.0\.attn_q\.weight value 5 is NaN/ },
    { values: good.map((v, i) => (i === 9 ? Infinity : v)), why: /value 9 is Infinity/ },
    { values: good.map((v, i) => (i === 11 ? -Infinity : v)), why: /value 11 is -Infinity/ },
    { values: good.map((v, i) => (i === 3 ? -0.5 : v)), why: /value 3 is -0.5/ },
  ];
  for (const [i, c] of cases.entries()) {
    const dat = join(dir, `im${i}.dat`);
    writeFileSync(dat, legacyImatrix([{ name, calls: 1, values: c.values }]));
    const out = join(dir, `out${i}.gguf`);
    assertRefused(cli('requantize', src, out, '--tensor-type', 'attn_q=q4_0', '--imatrix', dat, '--threads', '1'), c.why);
    assert.equal(existsSync(out), false, `case ${i}: nothing written`);
    // the editor's path: the same core call
    const model = await openModel(src);
    try {
      const plan = planRequantize(model, [parseTensorTypeRule('attn_q=q4_0')]);
      await assert.rejects(
        writeRequantized(model, plan, out, { imatrix: await readImatrix(dat) }),
        (e: unknown) => e instanceof QuantLensError && c.why.test(e.message),
      );
    } finally {
      await model.close();
    }
    assert.equal(existsSync(out), false);
  }
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('.tmp')),
    [],
  );
});

test('3-D expert tensors take ne0 x n_expert imatrix values, each expert quantized with its own slice', async () => {
  const dir = tempDir();
  const [ne0, ne1, nExpert] = [32, 4, 2];
  const values = randomF32(11, ne0 * ne1 * nExpert);
  const src = join(dir, 'moe.gguf');
  writeFileSync(
    src,
    ggufOf([
      { name: 'blk.0.ffn_up_exps.weight', shape: [ne0, ne1, nExpert], ggmlTypeId: 0, nbytes: values.byteLength, data: f32Bytes(values) },
    ]),
  );
  const perExpert = Array.from({ length: ne0 * nExpert }, (_, i) => (i < ne0 ? 1 + (i % 7) : 50 * (1 + (i % 3))));
  const dat = join(dir, 'moe.dat');
  writeFileSync(dat, legacyImatrix([{ name: 'blk.0.ffn_up_exps.weight', calls: 1, values: perExpert }]));
  const out = join(dir, 'out.gguf');
  const r = cli('requantize', src, out, '--tensor-type', 'exps=q4_0', '--imatrix', dat, '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  // expected: each expert's rows quantized on their own with that expert's importance
  const q = requireQuantizer(typeByName('Q4_0')!);
  const rowsPerExpert = ne0 * ne1;
  const expected = Buffer.concat(
    Array.from({ length: nExpert }, (_, e) =>
      Buffer.from(
        q.quantize(
          values.subarray(e * rowsPerExpert, (e + 1) * rowsPerExpert),
          ne1,
          ne0,
          Float32Array.from(perExpert.slice(e * ne0, (e + 1) * ne0)),
        ),
      ),
    ),
  );
  const written = readFileSync(out);
  const [t] = parseTensorTable(written);
  assert.equal(sha(written.subarray(t.absolute, t.absolute + expected.length)), sha(expected));
  // one value per column is not what llama.cpp takes for an expert tensor
  writeFileSync(dat, legacyImatrix([{ name: 'blk.0.ffn_up_exps.weight', calls: 1, values: perExpert.slice(0, ne0) }]));
  assertRefused(
    cli('requantize', src, join(dir, 'out2.gguf'), '--tensor-type', 'exps=q4_0', '--imatrix', dat, '--threads', '1'),
    /has 32 values; .* needs 32 x 2 = 64/,
  );
});

test('quantize refuses a NaN in its imatrix', () => {
  const dir = tempDir();
  const input = join(dir, 'in.f32');
  writeFileSync(input, f32Bytes(randomF32(12, 64)));
  const im = join(dir, 'im.f32');
  writeFileSync(im, f32Bytes(Float32Array.from({ length: 32 }, (_, i) => (i === 4 ? NaN : 1))));
  assertRefused(
    cli('quantize', '--type', 'q4_0', '--row-length', '32', '--imatrix', im, input, '-o', join(dir, 'out.bin')),
    /value 4 is NaN/,
  );
  assert.equal(existsSync(join(dir, 'out.bin')), false);
});

test('a rewritten tensor that comes out all zeros is refused, not written with exit 0', async () => {
  const dir = tempDir();
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('attn_q=q8_0')]);
    // a broken quantizer: all-zero Q8_0 blocks (34 bytes per 32 weights)
    const zeros = async (_to: unknown, values: Float32Array) => new Uint8Array((values.length / 32) * 34);
    await assert.rejects(
      writeRequantized(m, plan, join(dir, 'out.gguf'), { quantize: zeros }),
      (e: unknown) => e instanceof QuantLensError && /gave only zeros/.test(e.message),
    );
  } finally {
    await m.close();
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('a GGUF imatrix (in_sum2 / counts) gives each expert its sums over its own count, 1s where it saw no input', () => {
  const dir = tempDir();
  const [ne0, ne1, nExpert] = [32, 4, 2];
  const name = 'blk.0.ffn_down_exps.weight';
  const values = randomF32(21, ne0 * ne1 * nExpert);
  const src = join(dir, 'moe.gguf');
  writeFileSync(src, ggufOf([{ name, shape: [ne0, ne1, nExpert], ggmlTypeId: 0, nbytes: values.byteLength, data: f32Bytes(values) }]));
  const sums = Float32Array.from({ length: ne0 * nExpert }, (_, i) => 4 * (1 + (i % 5)));
  const counts = Float32Array.from([4, 0]);
  const im = join(dir, 'imatrix.gguf');
  const imatrixFile = (s: Float32Array) =>
    ggufOf([
      { name: `${name}.in_sum2`, shape: [ne0, nExpert], ggmlTypeId: 0, nbytes: s.byteLength, data: f32Bytes(s) },
      { name: `${name}.counts`, shape: [1, nExpert], ggmlTypeId: 0, nbytes: counts.byteLength, data: f32Bytes(counts) },
    ]);
  writeFileSync(im, imatrixFile(sums));
  const out = join(dir, 'out.gguf');
  const r = cli('requantize', src, out, '--tensor-type', 'exps=q4_0', '--imatrix', im, '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const q = requireQuantizer(typeByName('Q4_0')!);
  const importance = [Float32Array.from({ length: ne0 }, (_, i) => 1 + (i % 5)), new Float32Array(ne0).fill(1)];
  const rows = ne0 * ne1;
  const expected = Buffer.concat(
    importance.map((imp, e) => Buffer.from(q.quantize(values.subarray(e * rows, (e + 1) * rows), ne1, ne0, imp))),
  );
  const written = readFileSync(out);
  const [t] = parseTensorTable(written);
  assert.equal(sha(written.subarray(t.absolute, t.absolute + expected.length)), sha(expected));
  writeFileSync(im, imatrixFile(sums.map((v, i) => (i === 5 ? NaN : v))));
  assertRefused(
    cli('requantize', src, join(dir, 'out2.gguf'), '--tensor-type', 'exps=q4_0', '--imatrix', im, '--threads', '1'),
    /imatrix entry blk\.0\.ffn_down_exps\.weight value 5 is NaN/,
  );
  assert.equal(existsSync(join(dir, 'out2.gguf')), false);
});
