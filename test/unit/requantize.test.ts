/** Requantization writes a new, verified GGUF whose rewritten tensors are byte-identical to ggml's quantizers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/core/formats/openModel.ts';
import { outputIdentity, parseRuleLine, parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { WorkerPool } from '../../src/node/workerPool.ts';
import { bundledWorker } from '../helpers/bundles.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const type of ['F16', 'BF16', 'Q8_0']) {
  test(`F32 -> ${type}: every matrix byte-identical to ggml's ${type} file`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
    const out = join(dir, `tiny-${type}.gguf`);
    const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
    try {
      const plan = planRequantize(m, [parseTensorTypeRule(`.=${type.toLowerCase()}`)]);
      assert.equal(plan.changes.length, 3, 'the three matrices change; norms stay F32');
      assert.ok(plan.skipped.every((s) => /one-dimensional/.test(s.reason)));
      const result = await writeRequantized(m, plan, out);
      assert.equal(statSync(out).size, result.bytes);
      assert.deepEqual(readdirSync(dir), [`tiny-${type}.gguf`], 'no temporary file left behind');
    } finally {
      await m.close();
    }
    const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
    const written = await openModel(out);
    try {
      const bytes = readFileSync(out);
      for (const t of exp.tensors) {
        const got = written.tensors.find((x) => x.name === t.name)!;
        assert.equal(got.type.ggmlName, t.type_name, t.name);
        assert.equal(sha(bytes.subarray(got.absoluteOffset, got.absoluteOffset + got.nbytes)), t.data_sha256, `${t.name} bytes`);
      }
      assert.equal(written.metadata.length, m.metadata.length);
    } finally {
      await written.close();
    }
  });
}

test('a large tensor is quantized chunk by chunk, with progress in between, to the same bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('.=q4_K')]);
    const whole = await writeRequantized(m, plan, join(dir, 'whole.gguf'));
    const progress: number[] = [];
    const total = m.tensors.reduce((a, t) => a + t.nElements, 0);
    const chunked = await writeRequantized(m, plan, join(dir, 'chunked.gguf'), {
      chunkElements: 256 * 16,
      onProgress: (done) => progress.push(done),
    });
    assert.equal(sha(readFileSync(join(dir, 'chunked.gguf'))), sha(readFileSync(join(dir, 'whole.gguf'))));
    // the same error, but for the last bits of float64 sums taken chunk by chunk
    for (const [i, e] of chunked.errors.entries()) {
      for (const [k, v] of Object.entries(e.metrics)) {
        const w = (whole.errors[i].metrics as unknown as Record<string, number>)[k];
        assert.ok(Math.abs(v - w) <= 1e-12 * Math.abs(w), `${e.tensor} ${k}: ${v} vs ${w}`);
      }
    }
    // blk.0.ffn_down.weight alone (131072 weights, rows of 512) reports 16 times
    assert.ok(progress.length >= 16 + 16 + 2 + m.tensors.length - 3, `${progress.length} progress reports`);
    assert.ok(
      progress.every((d, i) => i === 0 || d >= progress[i - 1]),
      'progress never goes back',
    );
    assert.equal(progress.at(-1), total);
  } finally {
    await m.close();
  }
});

test('chunks quantized on helper threads (the bundled worker) give the same file as one thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const pool = new WorkerPool(bundledWorker(), 2);
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('.=q5_K'), parseTensorTypeRule('attn_q=q8_0')]);
    const serial = await writeRequantized(m, plan, join(dir, 'serial.gguf'), { chunkElements: 256 * 24 });
    const parallel = await writeRequantized(m, plan, join(dir, 'parallel.gguf'), {
      chunkElements: 256 * 24,
      quantize: pool.chunkQuantizer(),
      inFlight: 3,
    });
    assert.equal(sha(readFileSync(join(dir, 'parallel.gguf'))), sha(readFileSync(join(dir, 'serial.gguf'))));
    assert.deepEqual(parallel.errors, serial.errors);
  } finally {
    await pool.dispose();
    await m.close();
  }
});

test('last matching rule wins; rules can keep a tensor at its type', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const plan = planRequantize(m, [
      parseTensorTypeRule('weight=q8_0'),
      parseTensorTypeRule('attn_q=f16'),
      parseTensorTypeRule('token_embd=f32'),
    ]);
    const to = Object.fromEntries(plan.changes.map((c) => [c.tensor.name, c.to.name]));
    assert.deepEqual(to, { 'blk.0.attn_q.weight': 'F16', 'blk.0.ffn_down.weight': 'Q8_0' });
    assert.equal(
      plan.newBytes - plan.oldBytes,
      plan.changes.reduce((a, c) => a + c.newBytes - c.oldBytes, 0),
    );
  } finally {
    await m.close();
  }
  assert.throws(() => parseTensorTypeRule('attn_q=q9_9'), QuantLensError);
  assert.throws(() => parseTensorTypeRule('noequals'), QuantLensError);
});

test('cancelling leaves no file at the destination; the source is never overwritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const src = join(dir, 'src.gguf');
  copyFileSync(corpusPath('gguf', 'llama-tiny-F32.gguf'), src);
  const m = await openModel(src);
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('.=q8_0')]);
    let calls = 0;
    await assert.rejects(
      writeRequantized(m, plan, join(dir, 'out.gguf'), { isCancelled: () => ++calls > 2 }),
      (e: unknown) => e instanceof QuantLensError && e.code === 'cancelled',
    );
    assert.deepEqual(readdirSync(dir), ['src.gguf']);
    const before = sha(readFileSync(src));
    await assert.rejects(writeRequantized(m, plan, src), (e: unknown) => e instanceof QuantLensError && /source/.test(e.message));
    assert.equal(sha(readFileSync(src)), before);
    assert.deepEqual(readdirSync(dir), ['src.gguf']);
  } finally {
    await m.close();
  }
});

test('split model requantizes into one file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M-00001-of-00002.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('attn_norm=q8_0')]);
    assert.equal(plan.changes.length, 0);
    await writeRequantized(m, plan, join(dir, 'joined.gguf'));
    const j = await openModel(join(dir, 'joined.gguf'));
    assert.equal(j.files.length, 1);
    assert.equal(j.tensors.length, m.tensors.length);
    assert.ok(!j.metadata.some((e) => e.key.startsWith('split.')));
    await j.close();
  } finally {
    await m.close();
  }
});

test('keep-split: a split copied shard for shard is byte-identical to the shards llama-gguf-split wrote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M-00001-of-00002.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('attn_norm=q8_0')]);
    assert.equal(plan.changes.length, 0);
    const result = await writeRequantized(m, plan, join(dir, 'copy.gguf'), { keepSplit: true });
    assert.deepEqual(readdirSync(dir).sort(), ['copy-00001-of-00002.gguf', 'copy-00002-of-00002.gguf'], 'no temporary file left');
    assert.deepEqual(result.paths, [join(dir, 'copy-00001-of-00002.gguf'), join(dir, 'copy-00002-of-00002.gguf')]);
    assert.equal(result.path, result.paths[0]);
    for (const n of [1, 2]) {
      const written = readFileSync(join(dir, `copy-0000${n}-of-00002.gguf`));
      const reference = readFileSync(corpusPath('gguf', `llama-mix-Q4_K_M-0000${n}-of-00002.gguf`));
      assert.equal(written.length, reference.length, `shard ${n} size`);
      assert.ok(written.equals(reference), `shard ${n} bytes`);
    }
    assert.equal(result.bytes, statSync(result.paths[0]).size + statSync(result.paths[1]).size);
  } finally {
    await m.close();
  }
});

test('keep-split: each tensor stays in its shard, and the shards hold what one merged output holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const split = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M-00001-of-00002.gguf'));
  const whole = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  const rules = [parseTensorTypeRule('ffn_down=q8_0'), parseTensorTypeRule('attn_q=q4_0')];
  try {
    // the given name may carry a shard suffix of its own: it is replaced
    const out = await writeRequantized(split, planRequantize(split, rules), join(dir, 'mix-00001-of-00009.gguf'), { keepSplit: true });
    assert.deepEqual(
      out.paths.map((p) => p.slice(dir.length + 1)),
      ['mix-00001-of-00002.gguf', 'mix-00002-of-00002.gguf'],
    );
    const merged = await writeRequantized(whole, planRequantize(whole, rules), join(dir, 'merged.gguf'));
    const a = await openModel(out.paths[0]);
    const b = await openModel(merged.path);
    try {
      assert.equal(a.files.length, 2);
      for (const [k, path] of out.paths.entries()) {
        // copied to a name without the shard suffix, a shard opens alone
        const alone = join(dir, `alone-${k + 1}.gguf`);
        copyFileSync(path, alone);
        const shard = await openModel(alone);
        try {
          // alone, a shard is read as one file: its tensors are the source shard's, its split keys say where it sits
          const sourceNames = split.tensors.filter((t) => t.fileIndex === k).map((t) => t.name);
          assert.deepEqual(
            shard.tensors.map((t) => t.name),
            sourceNames,
            `shard ${k + 1} tensors`,
          );
          const key = (name: string) => shard.metadata.find((e) => e.key === name)?.value;
          assert.deepEqual([key('split.no'), key('split.count'), key('split.tensors.count')], [k, 2, split.tensors.length]);
          if (k > 0) assert.equal(shard.metadata.length, 3, 'a later shard holds only the split.* keys');
        } finally {
          await shard.close();
        }
      }
      assert.deepEqual(
        a.metadata.filter((e) => !e.key.startsWith('split.')).map((e) => [e.key, e.value]),
        b.metadata.map((e) => [e.key, e.value]),
      );
      const bytesOf = (m: typeof a, name: string) => {
        const t = m.tensors.find((x) => x.name === name)!;
        return sha(readFileSync(m.files[t.fileIndex].path).subarray(t.absoluteOffset, t.absoluteOffset + t.nbytes));
      };
      assert.equal(a.tensors.length, b.tensors.length);
      for (const t of b.tensors) {
        assert.equal(a.tensors.find((x) => x.name === t.name)?.type.name, t.type.name, t.name);
        assert.equal(bytesOf(a, t.name), bytesOf(b, t.name), `${t.name} bytes`);
      }
      assert.equal(a.tensors.find((t) => t.name === 'blk.1.ffn_down.weight')?.type.name, 'Q8_0');
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await split.close();
    await whole.close();
  }
});

test('keep-split: a cancel in the last shard leaves no shard at all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M-00001-of-00002.gguf'));
  try {
    const plan = planRequantize(m, [parseTensorTypeRule('^output\\.weight$=q8_0')]);
    assert.deepEqual(
      plan.changes.map((c) => c.tensor.fileIndex),
      [1],
      'output.weight sits in shard 2',
    );
    let reachedOutput = false;
    await assert.rejects(
      writeRequantized(m, plan, join(dir, 'out.gguf'), {
        keepSplit: true,
        onProgress: (_d, _t, name) => {
          if (name === 'output_norm.weight') reachedOutput = true;
        },
        isCancelled: () => reachedOutput,
      }),
      (e: unknown) => e instanceof QuantLensError && e.code === 'cancelled',
    );
    assert.deepEqual(readdirSync(dir), [], 'neither shard (nor a temporary file) is left');
  } finally {
    await m.close();
  }
});

test('one line of rules as the editor takes it: REGEX=TYPE and bare REGEX (the chosen type), unmatched rules reported', async () => {
  const rules = parseRuleLine('attn_v=Q6_K ffn_down nothing_here=q4_0', 'Q8_0');
  assert.deepEqual(
    rules.map((r) => [r.text, r.type.name]),
    [
      ['attn_v=Q6_K', 'Q6_K'],
      ['ffn_down=Q8_0', 'Q8_0'],
      ['nothing_here=q4_0', 'Q4_0'],
    ],
  );
  assert.throws(
    () => parseRuleLine('attn_v=Q9_X', 'Q8_0'),
    (e: unknown) => e instanceof Error && /^rule attn_v=Q9_X: unknown ggml type/.test(e.message),
  );
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  try {
    const plan = planRequantize(m, rules);
    assert.deepEqual(plan.unmatched, ['nothing_here=q4_0']);
    const byTensor = new Map(plan.changes.map((c) => [c.tensor.name, c.to.name]));
    const exp = readJson('gguf/llama-mix-Q4_K_M.expected.json');
    // the corpus's attn_v tensors are already Q6_K: only ffn_down changes
    for (const t of exp.tensors as { name: string; type_name: string; ne: number[] }[]) {
      const want = /attn_v/.test(t.name) ? 'Q6_K' : /ffn_down/.test(t.name) ? 'Q8_0' : undefined;
      if (!want || want === t.type_name.toUpperCase() || t.ne.length < 2) assert.equal(byTensor.get(t.name), undefined, t.name);
      else assert.equal(byTensor.get(t.name), want, t.name);
    }
    assert.deepEqual([...new Set(byTensor.values())], ['Q8_0']);
    const k = planRequantize(m, parseRuleLine('attn_k=Q6_K ffn_down', 'Q8_0'));
    assert.deepEqual([...new Set(k.changes.map((c) => `${c.tensor.name.replace(/^blk\.\d+\./, '')}=${c.to.name}`))].sort(), [
      'attn_k.weight=Q6_K',
      'ffn_down.weight=Q8_0',
    ]);
  } finally {
    await m.close();
  }
});

test('the output says what it now is: general.file_type and general.name follow the new type mix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-requant-'));
  const out = join(dir, 'tiny-q8.gguf');
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    await writeRequantized(m, planRequantize(m, [parseTensorTypeRule('.=q8_0')]), out);
  } finally {
    await m.close();
  }
  const w = await openModel(out);
  try {
    const kv = (k: string) => w.metadata.find((e) => e.key === k)?.value;
    // llama.cpp's LLAMA_FTYPE_MOSTLY_Q8_0 is 7; the corpus names its file "... F32"
    assert.equal(kv('general.file_type'), 7);
    assert.equal(kv('general.name'), 'Quant Lens Tiny Llama Q8_0');
  } finally {
    await w.close();
  }
  // a Q4_K_M model with its attn_k tensors raised to Q6_K is still mostly Q4_K: Q4_K_M (15), name unchanged
  const mix = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  try {
    assert.deepEqual(outputIdentity(mix, planRequantize(mix, [parseTensorTypeRule('attn_k=q6_K')])), {
      fileType: undefined,
      name: undefined,
    });
  } finally {
    await mix.close();
  }
});
