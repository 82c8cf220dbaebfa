/**
 * The editor's output-evaluation report (src/core/eval/evalReportHtml.ts) on a real evaluation of a tiny llama
 * model (Q4_0 against its F32 source, llama.cpp in the evaluation child): the figures, the plot's values, the
 * highest-KLD tokens marked in text order with their rank, everything from the vocabulary escaped, and nothing
 * that loads a resource or runs a script. Also the editor's budget and candidate-type answers (core/eval/sensitivity.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyLlama, writeTinyLlama } from '../helpers/tinyLlama.ts';
import { bundledEvalDir } from '../helpers/bundles.ts';
import { evaluateInChild, runtimeStatus } from '../../src/node/evalClient.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { SAMPLE_TEXT } from '../../src/core/eval/sampleText.ts';
import type { EvalSummary } from '../../src/core/eval/scoring.ts';
import { evalReportHtml, plotColumns } from '../../src/core/eval/evalReportHtml.ts';
import { evalJson } from '../../src/core/eval/evalReport.ts';
import { budgetBytes, parseBudget, parseCandidates } from '../../src/core/eval/sensitivity.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const status = runtimeStatus(ROOT);
const skip = status === true ? false : `skipped: ${status}`;

let dir: string;
let result: EvalSummary;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ql-report-'));
  writeFileSync(join(dir, 'f32.gguf'), writeTinyLlama(makeTinyLlama()));
  const model = await openModel(join(dir, 'f32.gguf'));
  try {
    await writeRequantized(model, planRequantize(model, [parseTensorTypeRule('.*=Q4_0')]), join(dir, 'q4.gguf'));
  } finally {
    await model.close();
  }
  if (skip) return;
  result = await evaluateInChild(join(bundledEvalDir(), 'evalChild.js'), {
    kind: 'evaluate',
    model: join(dir, 'q4.gguf'),
    reference: join(dir, 'f32.gguf'),
    text: SAMPLE_TEXT,
    ctx: 64,
    chunks: 3,
    threads: 1,
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));

const cell = (page: string, id: string) => new RegExp(`data-stat="${id}">([^<]*)<`).exec(page)?.[1];

test('the report shows every statistic of the run, and the plot table covers every scored position', { skip }, () => {
  const page = evalReportHtml(result, 'the sample');
  assert.equal(cell(page, 'kld-mean'), result.kld.mean.toFixed(6));
  assert.equal(cell(page, 'kld-median'), result.kld.median.toFixed(6));
  assert.equal(cell(page, 'kld-p99'), result.kld.p99.toFixed(6));
  assert.equal(cell(page, 'kld-max'), result.kld.max.toFixed(6));
  assert.equal(cell(page, 'same-top'), `${(100 * result.sameTop).toFixed(3)} %`);
  // the perplexity change from the two perplexities (not from lnPplRatio)
  const change = 100 * (result.perplexity / result.perplexityRef - 1);
  assert.equal(cell(page, 'ppl-change'), `${change >= 0 ? '+' : ''}${change.toFixed(3)} %`);
  assert.equal(result.scored, 3 * 31);
  // columns: consecutive, disjoint, all positions, each the max of its run
  for (const n of [7, 50, 400]) {
    const cols = plotColumns(result.positions.kld, n);
    assert.ok(cols.length <= n);
    assert.equal(cols[0].from, 0);
    assert.equal(cols.at(-1)!.to, result.scored - 1);
    cols.forEach((c, i) => {
      if (i) assert.equal(c.from, cols[i - 1].to + 1);
      assert.equal(c.max, Math.max(...result.positions.kld.slice(c.from, c.to + 1)));
    });
  }
  const values = [...page.matchAll(/<tr><td>[\d–]+<\/td><td>([\d.]+)<\/td><\/tr>/g)].map((m) => Number(m[1]));
  assert.equal(Math.max(...values).toFixed(6), result.kld.max.toFixed(6));
  // self-contained: no script, no resource, no inline event handler
  assert.doesNotMatch(page, /<script|src=|href="(?!#mark-)|\son\w+=/i);
});

test('the ten highest-KLD tokens are marked in text order with their rank, the others are not', { skip }, () => {
  const page = evalReportHtml(result, 'the sample');
  const ranked = result.positions.kld
    .map((k, i) => ({ k, index: result.positions.index[i], same: result.positions.sameTop[i] }))
    .sort((a, b) => b.k - a.k)
    .slice(0, 10);
  const marks = [...page.matchAll(/<mark id="mark-(\d+)" title="rank (\d+), KLD ([\d.]+)(, top tokens differ)?">/g)];
  assert.equal(marks.length, 10);
  const inTextOrder = [...ranked].sort((a, b) => a.index - b.index);
  marks.forEach((m, i) => {
    const want = inTextOrder[i];
    assert.equal(Number(m[2]), ranked.indexOf(want) + 1);
    assert.equal(m[3], want.k.toFixed(6));
    assert.equal(m[4] === undefined, want.same);
  });
  // the text between the marks is the evaluated text's pieces, in order
  const text = /<pre class="text" data-testid="eval-text">([\s\S]*)<\/pre>/.exec(page)![1];
  const plain = text
    .replace(/<sup[^>]*>\d+<\/sup>/g, '')
    .replace(/<[^>]+>\[<\/span>|<span class="visually-hidden">\]<\/span>/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));
  assert.equal(plain.replace(/\[|\]/g, ''), result.pieces.join('').replace(/\[|\]/g, ''));
});

test('text from the vocabulary and the file names are escaped', { skip }, () => {
  const worst = result.positions.index[result.positions.kld.indexOf(result.kld.max)];
  const pieces = [...result.pieces];
  pieces[worst] = '<img src=x onerror=alert(1)>';
  pieces[1] = '\u202e</pre><script>';
  const page = evalReportHtml({ ...result, pieces, model: '/m/<b>.gguf' }, 'a "text" & more');
  assert.doesNotMatch(page, /<img|<script|<\/pre><script|<b>/);
  assert.match(page, /&#60;img src=x onerror=alert\(1\)&#62;/);
  // a bidi override shown as its escape, never applied to the text after it
  assert.match(page, /\\u202e&#60;\/pre&#62;&#60;script&#62;/);
  assert.match(page, /a &#34;text&#34; &#38; more/);
});

test('the JSON export holds every figure but the token texts', { skip }, () => {
  const j = JSON.parse(evalJson(result, 'the sample'));
  assert.equal(j.kld.mean, result.kld.mean);
  assert.equal(j.positions.kld.length, result.scored);
  assert.equal(j.text, 'the sample');
  assert.equal(j.pieces, undefined);
});

test('budgets: bits per weight or a size; candidate types ordered by precision', async () => {
  assert.deepEqual(parseBudget('5.5'), { bitsPerWeight: 5.5 });
  assert.deepEqual(parseBudget(' 4 bpw '), { bitsPerWeight: 4 });
  assert.deepEqual(parseBudget('3.9 GB'), { bytes: 3.9e9 });
  assert.deepEqual(parseBudget('800mb'), { bytes: 8e8 });
  for (const bad of ['', 'five', '0', '-1', '3 TB']) assert.equal(typeof parseBudget(bad), 'string', bad);
  const types = parseCandidates('q4_0, Q8_0 Q5_0');
  assert.ok(Array.isArray(types));
  assert.deepEqual(
    types.map((t) => t.name),
    ['Q8_0', 'Q5_0', 'Q4_0'],
  );
  assert.match(parseCandidates('Q8_0') as string, /at least two/);
  assert.match(parseCandidates('Q8_0, IQ2_XXS') as string, /"IQ2_XXS" is not a type Quant Lens writes without an importance matrix/);
  assert.match(parseCandidates('Q8_0, F16') as string, /"F16"/);
  // the tiny model: 123200 weights; 6 bits per weight allow 92400 bytes
  const model = await openModel(join(dir, 'f32.gguf'));
  try {
    assert.equal(budgetBytes(model, { bitsPerWeight: 6 }), Math.floor((6 * 123200) / 8));
    assert.equal(budgetBytes(model, { bytes: 1e5 }), 1e5);
    assert.throws(() => budgetBytes(model, { bitsPerWeight: 0 }), /positive number/);
  } finally {
    await model.close();
  }
});
