/**
 * The CLI's eval, sensitivity and suggest on tiny llama models (llama.cpp in the evaluation child): a model with
 * one deliberately damaged tensor kind ranks that kind first, and a suggested mix, applied with requantize, fits
 * its size budget. Skipped, with the reason, when the runtime is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeTinyLlama, writeTinyLlama } from '../helpers/tinyLlama.ts';
import { bundledEvalDir } from '../helpers/bundles.ts';
import { runtimeStatus } from '../../src/node/evalClient.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { storedSpans } from '../../src/core/formats/tensorSpan.ts';
import { measureSensitivity } from '../../src/node/outputSensitivity.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { SAMPLE_TEXT } from '../../src/core/eval/sampleText.ts';
import { typeByName } from '../../src/core/types.ts';
import { QuantLensError } from '../../src/core/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const status = runtimeStatus(ROOT);
const skip = status === true ? false : `skipped: ${status}`;

let dir: string;
let cli: string;
const file = (name: string) => join(dir, name);

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ql-sens-'));
  const m = makeTinyLlama();
  // the damage: input column 5 of blk.1's FFN is switched off by its norm weight, so huge weights in that column
  // of blk.1.ffn_gate change nothing in the model, but any block quantization of those rows loses the others
  const E = m.shape.embedding;
  m.tensors.find((t) => t.name === 'blk.1.ffn_norm.weight')!.values[5] = 0;
  const gate = m.tensors.find((t) => t.name === 'blk.1.ffn_gate.weight')!.values;
  for (let r = 0; r < m.shape.ffn; r++) gate[r * E + 5] = 1000;
  writeFileSync(file('damaged.gguf'), writeTinyLlama(m));
  writeFileSync(file('plain.gguf'), writeTinyLlama(makeTinyLlama()));
  if (!skip) cli = join(bundledEvalDir(), 'cli.js');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('quantlens eval prints the KLD statistics, same top and perplexities', { skip }, () => {
  const q = run('requantize', file('plain.gguf'), file('q8.gguf'), '--tensor-type', '.*=Q8_0');
  assert.equal(q.code, 0, q.stderr);
  const r = run('eval', file('q8.gguf'), '--reference', file('plain.gguf'), '--ctx', '64', '--chunks', '2', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /text +bundled sample: the United States Declaration of Independence .*2 chunks of 64, 62 positions scored/);
  assert.match(r.stdout, /KLD +mean \d\.\d{6} +median \d\.\d{6} +p90 \d\.\d{6} +p99 \d\.\d{6} +max \d\.\d{6}/);
  assert.match(r.stdout, /same top +\d+\.\d{3} %/);
  assert.match(r.stdout, /perplexity \d+\.\d{4} \(reference \d+\.\d{4}, change -?\d+\.\d{3} %/);
  const j = JSON.parse(run('eval', file('q8.gguf'), '--reference', file('q8.gguf'), '--ctx', '64', '--chunks', '1', '--json').stdout);
  assert.equal(j.kld.max, 0);
  assert.equal(j.sameTop, 1);
  const bad = run('eval', file('q8.gguf'), '--ctx', '64');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: eval needs --reference REF/);
});

test('sensitivity ranks the damaged tensor kind first', { skip }, () => {
  const r = run(
    'sensitivity',
    file('damaged.gguf'),
    '--type',
    'Q4_0',
    '--by',
    'kind',
    '--ctx',
    '64',
    '--chunks',
    '1',
    '--threads',
    '1',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { groups: { group: string; kld: number }[] };
  assert.equal(j.groups.length, 9);
  assert.equal(j.groups[0].group, 'ffn_gate.weight', JSON.stringify(j.groups));
  assert.ok(j.groups[0].kld > 2 * j.groups[1].kld, JSON.stringify(j.groups));
});

test('a suggested mix, applied with requantize, meets its size budget', { skip }, async () => {
  const model = await openModel(file('damaged.gguf'));
  const matrices = model.tensors.filter((t) => t.shape.length >= 2);
  const fixed = storedSpans(model).reduce<number>((a, s, i) => a + (model.tensors[i].shape.length >= 2 ? 0 : (s ?? 0)), 0);
  const weights = model.tensors.reduce((a, t) => a + t.nElements, 0);
  await model.close();
  const at = (bytesPer32: number) => matrices.reduce((a, t) => a + (t.nElements / 32) * bytesPer32, 0);
  // 60 % of the way from every matrix at Q4_0 (18 bytes a block of 32) to every matrix at Q8_0 (34)
  const budget = fixed + at(18) + 0.6 * (at(34) - at(18));
  const bpw = ((8 * budget) / weights).toFixed(4);
  const r = run(
    'suggest',
    file('damaged.gguf'),
    '--target-bpw',
    bpw,
    '--types',
    'Q8_0,Q4_0',
    '--by',
    'block',
    '--ctx',
    '64',
    '--chunks',
    '1',
    '--threads',
    '1',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    budget: number;
    bytes: number;
    assignment: { group: string; pattern: string; type: string }[];
    tensorTypeLines: string[];
  };
  assert.ok(j.bytes <= j.budget, `${j.bytes} > ${j.budget}`);
  assert.equal(j.assignment.length, 4, JSON.stringify(j.assignment));
  assert.ok(j.assignment.some((g) => g.type === 'Q4_0') && j.assignment.some((g) => g.type === 'Q8_0'));
  // against every other assignment of the same measurements (sensitivity at each type): none that fits is better
  const measure = (type: string) =>
    new Map(
      (
        JSON.parse(
          run(
            'sensitivity',
            file('damaged.gguf'),
            '--type',
            type,
            '--by',
            'block',
            '--ctx',
            '64',
            '--chunks',
            '1',
            '--threads',
            '1',
            '--json',
          ).stdout,
        ).groups as { group: string; kld: number }[]
      ).map((g) => [g.group, g.kld]),
    );
  const k8 = measure('Q8_0');
  const k4 = measure('Q4_0');
  const groupBytes = new Map(
    ['token_embd.weight', 'blk.0', 'blk.1', 'output.weight'].map((g) => [
      g,
      matrices.filter((t) => (g.startsWith('blk.') ? t.name.startsWith(g + '.') : t.name === g)).reduce((a, t) => a + t.nElements / 32, 0),
    ]),
  );
  let best = Infinity;
  const names = [...groupBytes.keys()];
  for (let mask = 0; mask < 1 << names.length; mask++) {
    let bytes = fixed;
    let kld = 0;
    names.forEach((g, i) => {
      const low = (mask >> i) & 1;
      bytes += groupBytes.get(g)! * (low ? 18 : 34);
      kld += low ? k4.get(g)! : k8.get(g)!;
    });
    if (bytes <= j.budget) best = Math.min(best, kld);
  }
  const predicted = j.assignment.reduce((a, g) => a + (g.type === 'Q4_0' ? k4 : k8).get(g.group)!, 0);
  assert.ok(predicted <= best + 1e-12, `suggested mix: KLD ${predicted}; best that fits: ${best}`);
  assert.ok(j.tensorTypeLines.every((l) => /^--tensor-type "\^.+=(q8_0|q4_0)"$/.test(l)));
  const q = run(
    'requantize',
    file('damaged.gguf'),
    file('mix.gguf'),
    ...j.assignment.flatMap((g) => ['--tensor-type', `${g.pattern}=${g.type}`]),
  );
  assert.equal(q.code, 0, q.stderr);
  const mix = await openModel(file('mix.gguf'));
  const bytes = mix.tensors.reduce((a, t) => a + t.nbytes, 0);
  await mix.close();
  assert.ok(bytes <= Math.floor((Number(bpw) * weights) / 8), `written tensors ${bytes} bytes, budget ${j.budget}`);
});

test(
  "the editor's measurement: each group's rule goes to the given writer, and aborting stops it with a cancelled error",
  { skip },
  async () => {
    const script = join(bundledEvalDir(), 'evalChild.js');
    const q8 = typeByName('Q8_0')!;
    const rules: string[] = [];
    // the editor writes candidates with its worker pool; here the same requantizer, in this process
    const writeCandidate = async (rule: string, output: string) => {
      rules.push(rule);
      const model = await openModel(file('damaged.gguf'));
      try {
        await writeRequantized(model, planRequantize(model, [parseTensorTypeRule(rule)]), output);
      } finally {
        await model.close();
      }
    };
    const measured = await measureSensitivity(script, file('damaged.gguf'), 'block', [q8], {
      text: SAMPLE_TEXT,
      ctx: 64,
      chunks: 1,
      threads: 1,
      writeCandidate,
    });
    // llama.cpp's --tensor-type regular expressions: whole names outside the blocks, a block's prefix inside
    assert.deepEqual(rules, ['^token_embd\\.weight$=Q8_0', '^blk\\.0\\.=Q8_0', '^blk\\.1\\.=Q8_0', '^output\\.weight$=Q8_0']);
    assert.deepEqual(
      measured.map((m) => m.group.name),
      ['token_embd.weight', 'blk.0', 'blk.1', 'output.weight'],
    );
    // the damaged block (blk.1's ffn_gate) moves the outputs most
    const kld = measured.map((m) => m.kld.get('Q8_0')!);
    assert.equal(kld.indexOf(Math.max(...kld)), 2, JSON.stringify(kld));
    // aborted at the first progress report, while the first candidate is written: the evaluation never finishes
    const abort = new AbortController();
    await assert.rejects(
      measureSensitivity(script, file('damaged.gguf'), 'block', [q8], {
        text: SAMPLE_TEXT,
        ctx: 64,
        chunks: 1,
        threads: 1,
        writeCandidate,
        onProgress: () => abort.abort(),
        signal: abort.signal,
      }),
      (e: unknown) => e instanceof QuantLensError && e.code === 'cancelled',
    );
  },
);
