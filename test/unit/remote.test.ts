/**
 * Models opened by URL, from a real HTTP server on loopback (test/helpers/httpServerMain.ts, its own process):
 * the same tensors and exact statistics as ggml's corpus records, only the bytes a view needs fetched (counted by
 * the server), and a one-line error for every way a server can fail: ignored ranges, 401, 404, 5xx, a changed
 * file, a lying Content-Range, a refused connection. Tokens go only to their host, never across a redirect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/core/formats/openModel.ts';
import { computeTensorStats } from '../../src/core/analysis/tensorStats.ts';
import { HttpByteSource } from '../../src/core/io/httpByteSource.ts';
import { hubUrl, sibling } from '../../src/core/io/location.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';
import { startServer, type TestServer } from '../helpers/httpServer.ts';
import { bundledCli, bundledWorker } from '../helpers/bundles.ts';
import { WorkerPool } from '../../src/node/workerPool.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MIX = 'llama-mix-Q4_K_M';
const GPTQ = join(ROOT, 'test', 'fixtures', 'safetensors-quant', 'gptq-v1-4bit-asym-actorder-g128');
const mixExpected = readJson(`gguf/${MIX}.expected.json`);
let server: TestServer;
let scratch: string;
let bigTensors = 0;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ql-remote-'));
  const made = execFileSync('python3', [join(ROOT, 'scripts', 'make-big-header.py'), join(scratch, 'big.gguf')], { encoding: 'utf8' });
  bigTensors = Number(/^(\d+) tensors;/m.exec(made)![1]);
  const shards = [1, 2].map((i) => `${MIX}-0000${i}-of-00002.gguf`);
  writeFileSync(
    join(scratch, 'gone.safetensors.index.json'),
    JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'gone-00001-of-00001.safetensors' } }),
  );
  server = await startServer({
    [`${MIX}.gguf`]: corpusPath('gguf', `${MIX}.gguf`),
    [shards[0]]: corpusPath('gguf', shards[0]),
    [shards[1]]: corpusPath('gguf', shards[1]),
    'model.safetensors.index.json': corpusPath('safetensors', 'sharded', 'model.safetensors.index.json'),
    'model-00001-of-00002.safetensors': corpusPath('safetensors', 'sharded', 'model-00001-of-00002.safetensors'),
    'model-00002-of-00002.safetensors': corpusPath('safetensors', 'sharded', 'model-00002-of-00002.safetensors'),
    'dtypes.safetensors': corpusPath('safetensors', 'dtypes.safetensors'),
    // a split model whose second shard is not on the server, and an index naming a shard that is not there
    'lone-00001-of-00002.gguf': corpusPath('gguf', shards[0]),
    'gone.safetensors.index.json': join(scratch, 'gone.safetensors.index.json'),
    'big.gguf': join(scratch, 'big.gguf'),
    // a quantized Hugging Face checkpoint: its config files beside the weights
    ...Object.fromEntries(['config.json', 'quantize_config.json', 'model.safetensors'].map((f) => [`gptq/${f}`, join(GPTQ, f)])),
  });
});

after(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const at = (path: string) => `${server.url}/${path}`;
const fast = { retryDelayMs: () => 0 };

async function rejection(p: Promise<unknown>): Promise<QuantLensError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof QuantLensError, `a typed error, not ${(e as Error).stack}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return e;
  }
  return assert.fail('expected a rejection');
}

test('a GGUF by URL: the tensor table ggml wrote, from the header bytes only', async () => {
  await server.reset();
  const m = await openModel(at(`f/${MIX}.gguf`));
  try {
    assert.equal(m.tensors.length, mixExpected.n_tensors);
    assert.equal(m.metadata.length, mixExpected.n_kv);
    for (const [i, want] of (mixExpected.tensors as any[]).entries()) {
      const t = m.tensors[i];
      assert.equal(t.name, want.name);
      assert.equal(t.ggmlTypeId, want.type_id, want.name);
      assert.equal(t.absoluteOffset, want.absolute_offset, want.name);
      assert.equal(t.nbytes, want.nbytes, want.name);
    }
  } finally {
    await m.close();
  }
  const { bytesSent } = await server.stats();
  // The header ends at data_offset; read-ahead may take up to its first 64 KiB step past what the parser asked for.
  assert.ok(bytesSent <= mixExpected.data_offset + (64 << 10), `fetched ${bytesSent} bytes for a ${mixExpected.data_offset}-byte header`);
});

test('exact stats of one tensor by URL (synchronous reads on a helper thread) fetch that tensor and little more', async (t) => {
  const m = await openModel(at(`f/${MIX}.gguf`));
  try {
    const want = (mixExpected.tensors as any[]).reduce((a, b) => (b.nbytes > a.nbytes ? b : a));
    const tensor = m.tensors.find((t) => t.name === want.name)!;
    await server.reset();
    const stats = computeTensorStats(m, tensor, { bins: want.stats.histogram.bins });
    for (const k of ['count', 'zero_count', 'nan_count', 'min', 'max', 'absmax'] as const)
      assert.equal(stats[k], want.stats[k], `${want.name} ${k}`);
    assert.deepEqual(stats.histogram?.counts, want.stats.histogram.counts);
    assert.ok(Math.abs(stats.mean - want.stats.mean) <= 1e-9 * Math.abs(want.stats.mean), `mean ${stats.mean} vs ${want.stats.mean}`);
    assert.ok(Math.abs(stats.std - want.stats.std) <= 1e-9 * want.stats.std, `std ${stats.std} vs ${want.stats.std}`);
    const { bytesSent, requests } = await server.stats();
    t.diagnostic(`stats of ${want.name} (${want.nbytes} bytes) by URL: ${bytesSent} bytes in ${requests.length} requests`);
    assert.ok(bytesSent >= want.nbytes, `the tensor's ${want.nbytes} bytes were fetched (${bytesSent})`);
    assert.ok(bytesSent <= want.nbytes + (64 << 10), `a ${want.nbytes}-byte tensor cost ${bytesSent} bytes`);
    // The scan reads both passes; the second is served from the cache.
    assert.ok(requests.length <= Math.ceil(want.nbytes / (64 << 10)) + 2, `${requests.length} requests`);
  } finally {
    await m.close();
  }
});

test('a scan over a slow link cancels at its first progress report, without fetching the rest of the tensor', async () => {
  const m = await openModel(at('slow=100/f/big.gguf'));
  try {
    const tensor = m.tensors.reduce((a, b) => (b.nbytes > a.nbytes ? b : a));
    const want = { nbytes: tensor.nbytes };
    await server.reset();
    let cancelled = false;
    const e = (() => {
      try {
        computeTensorStats(m, tensor, { chunkElements: 1 << 16, onProgress: () => (cancelled = true), isCancelled: () => cancelled });
      } catch (err) {
        return err as QuantLensError;
      }
      return undefined;
    })();
    assert.equal(e?.code, 'cancelled', `the scan stopped: ${e?.message}`);
    const { bytesSent } = await server.stats();
    assert.ok(bytesSent < 4 << 20, `a cancelled scan fetched ${bytesSent} of the tensor's ${want.nbytes} bytes`);
  } finally {
    await m.close();
  }
});

test('a split GGUF by the URL of its first shard, and a sharded safetensors model by its index URL', async () => {
  await server.reset();
  const split = await openModel(at(`f/${MIX}-00001-of-00002.gguf`));
  // each shard is asked for once: opening it is the check that it is there
  const perShard = (await server.stats()).requests.map((r) => r.path);
  assert.deepEqual(
    perShard,
    [1, 2].map((i) => `/f/${MIX}-0000${i}-of-00002.gguf`),
  );
  try {
    const names = [1, 2].flatMap((i) => (readJson(`gguf/${MIX}-0000${i}-of-00002.expected.json`).tensors as any[]).map((t) => t.name));
    assert.deepEqual(
      split.tensors.map((t) => t.name),
      names,
    );
    assert.equal(split.files.length, 2);
  } finally {
    await split.close();
  }
  const want = readJson('safetensors/sharded/sharded.expected.json');
  const viaIndex = await openModel(at('f/model.safetensors.index.json'));
  const viaShard = await openModel(at('f/model-00002-of-00002.safetensors'));
  try {
    const expectedNames = (want.shards as any[]).flatMap((s) => s.tensors.map((t: any) => t.name)).sort();
    assert.deepEqual(viaIndex.tensors.map((t) => t.name).sort(), expectedNames);
    assert.deepEqual(viaShard.tensors.map((t) => t.name).sort(), expectedNames, 'a shard URL finds the index beside it');
  } finally {
    await viaIndex.close();
    await viaShard.close();
  }
  const lone = await rejection(openModel(at('f/lone-00001-of-00002.gguf')));
  assert.match(lone.message, /^split model is missing shard 2 of 2: lone-00002-of-00002\.gguf$/);
  const gone = await rejection(openModel(at('f/gone.safetensors.index.json')));
  assert.match(gone.message, /^sharded model is missing gone-00001-of-00001\.safetensors \(listed in gone\.safetensors\.index\.json\)$/);
});

test('the 5 GB 8B-shaped model opens by URL fetching under 10 MB', async (t) => {
  await server.reset();
  const m = await openModel(at('f/big.gguf'));
  try {
    assert.equal(m.tensors.length, bigTensors);
  } finally {
    await m.close();
  }
  const { bytesSent, requests } = await server.stats();
  t.diagnostic(`5 GB model by URL: ${bytesSent} bytes in ${requests.length} requests for ${bigTensors} tensors`);
  assert.ok(bytesSent < 10e6, `fetched ${bytesSent} bytes`);
  assert.ok(requests.length < 40, `${requests.length} requests`);
});

test('a token goes to its own host only: not without auth, not across a redirect to another host', async () => {
  const host = `127.0.0.1:${server.port}`;
  const e = await rejection(openModel(at(`auth/f/${MIX}.gguf`)));
  assert.match(e.message, /HTTP 401: the server wants a token/);
  assert.ok(!e.message.includes('hf_test_token'));
  const wrongHost = await rejection(openModel(at(`auth/f/${MIX}.gguf`), { auth: { host: 'huggingface.co', token: 'hf_test_token' } }));
  assert.match(wrongHost.message, /HTTP 401/);
  process.env.HF_TOKEN = 'hf_test_token'; // the CLI's token is for the Hub, and this server is not the Hub
  try {
    await server.reset();
    assert.match((await rejection(openModel(at(`auth/f/${MIX}.gguf`)))).message, /HTTP 401/);
    assert.ok(
      (await server.stats()).requests.every((r) => r.authorization === undefined),
      'HF_TOKEN is sent to huggingface.co only',
    );
  } finally {
    delete process.env.HF_TOKEN;
  }
  await server.reset();
  const m = await openModel(at(`auth/redirect=localhost:${server.port}/f/${MIX}.gguf`), { auth: { host, token: 'hf_test_token' } });
  await m.close();
  const { requests } = await server.stats();
  const first = requests.filter((r) => r.host === host);
  const cdn = requests.filter((r) => r.host === `localhost:${server.port}`);
  assert.ok(first.length > 0 && first.every((r) => r.authorization === 'Bearer hf_test_token'), 'the token reaches its host');
  assert.ok(cdn.length > 0 && cdn.every((r) => r.authorization === undefined), 'the redirected host never sees it');
});

test('a server that ignores ranges: a small file is read whole, a large one refused in one line', async () => {
  const whole = await HttpByteSource.open(at('noranges/f/dtypes.safetensors'));
  assert.equal(whole.size, readJson('manifest.json').files.find((f: any) => f.path === 'safetensors/dtypes.safetensors').size);
  const m = await openModel(at('noranges/f/dtypes.safetensors'));
  assert.equal(m.tensors.length, readJson('safetensors/dtypes.expected.json').tensors.length);
  await m.close();
  const e = await rejection(HttpByteSource.open(at('noranges/f/dtypes.safetensors'), { maxWholeFile: 1000 }));
  assert.match(e.message, /ignores range requests and would send all \d+ bytes/);
});

test('404, 503 retried then given up, a refused connection, a lying Content-Range, a file changed on the server', async () => {
  assert.match((await rejection(openModel(at('f/nope.gguf')))).message, /HTTP 404: no such file/);
  const flaky = await HttpByteSource.open(at(`fail=2/f/${MIX}.gguf`), fast);
  assert.equal(flaky.size, mixExpected.file_size, 'two 503s are retried');
  assert.match((await rejection(HttpByteSource.open(at(`fail=9/f/${MIX}.gguf`), fast))).message, /HTTP 503/);
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  assert.match(
    (await rejection(HttpByteSource.open(`http://127.0.0.1:${closedPort}/f/x.gguf`, fast))).message,
    /network error \(ECONNREFUSED\)/,
  );
  const shifted = await rejection(HttpByteSource.open(at(`lie=5/f/${MIX}.gguf`), fast));
  assert.match(shifted.message, /the server sent another range \(bytes 5-65540\/778304\)/);
  const source = await HttpByteSource.open(at(`f/${MIX}.gguf`), fast);
  await server.changeFiles();
  const changed = await rejection(source.read(500_000, new Uint8Array(16)));
  assert.match(changed.message, /changed on the server while it was being read/);
  assert.throws(() => source.readSync(600_000, new Uint8Array(16)), /changed on the server/);
});

test('Hub references become download URLs; siblings stay on the same server and revision', () => {
  assert.equal(
    hubUrl('Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf'),
    'https://huggingface.co/Qwen/Qwen3-8B-GGUF/resolve/main/Qwen3-8B-Q4_K_M.gguf',
  );
  assert.equal(hubUrl('hf://org/repo@v1.0/sub/model.safetensors'), 'https://huggingface.co/org/repo/resolve/v1.0/sub/model.safetensors');
  assert.equal(hubUrl('https://huggingface.co/org/repo/blob/main/m.gguf'), 'https://huggingface.co/org/repo/resolve/main/m.gguf');
  assert.equal(hubUrl('https://example.com/a/b/c.gguf'), undefined);
  assert.equal(
    sibling('https://huggingface.co/o/r/resolve/abc/m-00001-of-00002.gguf?download=true', 'm-00002-of-00002.gguf'),
    'https://huggingface.co/o/r/resolve/abc/m-00002-of-00002.gguf',
  );
});

/** The CLI as a user runs it (asynchronously: the server's counters are read over HTTP meanwhile). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundledCli(), ...args], { env: { ...process.env, HF_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test("the CLI takes URLs: stats of every tensor on two threads give ggml's statistics; a 404 is exit 2 with one line", async () => {
  const r = await cli(['stats', at(`f/${MIX}.gguf`), '--threads', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.tensors.length, mixExpected.n_tensors);
  for (const want of mixExpected.tensors as any[]) {
    const t = got.tensors.find((x: any) => x.name === want.name);
    for (const k of ['count', 'zero_count', 'min', 'max']) assert.equal(t.stats[k], want.stats[k], `${want.name} ${k}`);
    assert.deepEqual(t.stats.histogram.counts, want.stats.histogram.counts, want.name);
  }
  const missing = await cli(['info', at('f/missing.gguf')]);
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.match(missing.stderr, /HTTP 404/);
});

test('a quantized Hugging Face checkpoint by URL: its config files fetched beside it, its logical weights decoded as the reference does', async () => {
  const want = JSON.parse(readFileSync(join(GPTQ, 'expected.json'), 'utf8'));
  const r = await cli(['stats', at('f/gptq/model.safetensors'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  for (const w of want.weights as any[]) {
    const t = got.tensors.find((x: any) => x.name === w.name);
    assert.ok(t, `${w.name} listed by its logical name`);
    for (const k of ['count', 'zero_count', 'min', 'max', 'absmax']) assert.equal(t.stats[k], w.stats[k], `${w.name} ${k}`);
    assert.deepEqual(t.stats.histogram.counts, w.stats.histogram, `${w.name} histogram`);
  }
  const missing = (await server.stats()).requests.filter(
    (q) => q.path.endsWith('quant_config.json') || q.path.endsWith('hf_quant_config.json'),
  );
  assert.ok(missing.length > 0, 'the config files that are not there were asked for (404) and skipped');
});

test('a worker job on a remote model reports its progress in bytes fetched too', async () => {
  const pool = new WorkerPool(bundledWorker(), 1);
  try {
    const want = (mixExpected.tensors as any[]).reduce((a, b) => (b.nbytes > a.nbytes ? b : a));
    const fetched: number[] = [];
    const r = await pool.run({ kind: 'stats', path: at(`f/${MIX}.gguf`), tensor: want.name, bins: 64 }, (_done, _total, f) => {
      if (f !== undefined) fetched.push(f);
    }).promise;
    assert.equal(r.stats.count, want.stats.count);
    assert.ok(fetched.length > 0, 'progress carries the bytes fetched');
    assert.ok(fetched.at(-1)! >= want.nbytes, `${fetched.at(-1)} bytes fetched for a ${want.nbytes}-byte tensor`);
  } finally {
    await pool.dispose();
  }
});
