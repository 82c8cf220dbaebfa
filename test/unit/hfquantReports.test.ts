/**
 * The quant map, Export Stats (report) and Show as Text (dump) of quantized Hugging Face checkpoints (issue 9)
 * list logical weights, checked against the corpus (test/fixtures/safetensors-quant/*\/expected.json): names,
 * logical shapes, effective bits per weight from the components' dtypes and shapes, stats and error vs original/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runJob, type JobContext } from '../../src/worker/jobs.ts';
import { openModelAndWeights } from '../../src/core/hfquant/open.ts';
import { buildWebviewModel } from '../../src/extension/webviewModel.ts';
import { dumpOutline } from '../../src/core/report/textDump.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');
const ORIGINAL = join(CORPUS, 'original', 'model.safetensors');
const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };
const DTYPE_BYTES: Record<string, number> = { I32: 4, F16: 2, BF16: 2, F32: 4, U8: 1, I8: 1, F8_E4M3: 1, F8_E8M0: 1 };

function expected(v: string) {
  return JSON.parse(readFileSync(join(CORPUS, v, 'expected.json'), 'utf8'));
}

/** Bits per weight of an expected.json weight: every component's stored bytes over its logical count. */
function expectedBpw(e: { components: { dtype: string; shape: number[] }[]; stats: { count: number } }): number {
  const bytes = e.components.reduce((a, c) => a + DTYPE_BYTES[c.dtype] * c.shape.reduce((x, y) => x * y, 1), 0);
  return (8 * bytes) / e.stats.count;
}

function relClose(a: number, b: number, tol = 1e-9): boolean {
  return a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

test('the quant map of a quantized checkpoint: blocks × kinds of logical weights, their scheme and effective bpw', async () => {
  const v = 'awq-gemm-4bit-g128';
  const opened = await openModelAndWeights(join(CORPUS, v));
  try {
    const { quantMap } = await buildWebviewModel(opened.model, opened.view);
    assert.deepEqual(quantMap.blocks, [0, 1]);
    for (const k of ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'input_layernorm'])
      assert.ok(quantMap.kinds.includes(k), `kind ${k} in ${quantMap.kinds}`);
    assert.ok(!quantMap.cells.some((c) => /\.(qweight|qzeros|scales)$/.test(c.tensor)), 'no packed component is a cell');
    for (const e of expected(v).weights) {
      const m = /^model\.layers\.(\d+)\.\w+\.(\w+)\.weight$/.exec(e.name)!;
      const cell = quantMap.cells.find((c) => c.block === Number(m[1]) && c.kind === m[2]);
      assert.ok(cell, e.name);
      assert.equal(cell.tensor, e.name);
      assert.match(cell.type, /^AWQ/);
      assert.ok(relClose(cell.bitsPerWeight, expectedBpw(e)), `${e.name}: ${cell.bitsPerWeight} bpw vs ${expectedBpw(e)}`);
    }
    assert.deepEqual(quantMap.outside.map((o) => o.tensor).sort(), ['lm_head.weight', 'model.embed_tokens.weight', 'model.norm.weight']);
  } finally {
    await opened.model.close();
  }
});

test('Export Stats (JSON, CSV, Markdown) lists logical weights with their dequantized stats and error against the original', async () => {
  const v = 'bnb-nf4-dq-bf16';
  const exp = expected(v);
  const path = join(CORPUS, v);
  const json = JSON.parse((await runJob({ kind: 'report', path, reference: ORIGINAL, format: 'json' }, quiet)).text);
  assert.match(json.quantization, /bitsandbytes/i);
  const byName = new Map(json.tensors.map((t: { name: string }) => [t.name, t]));
  assert.equal(json.tensors.length, exp.weights.length + exp.unquantized_tensors.length, 'logical weights and plain tensors');
  for (const e of exp.weights) {
    const r = byName.get(e.name) as any;
    assert.ok(r, e.name);
    assert.deepEqual(r.shape, e.shape);
    assert.match(r.type, /NF4/);
    assert.ok(relClose(r.bits_per_weight, expectedBpw(e)), `${e.name} bpw`);
    assert.deepEqual(
      r.components.map((c: { name: string }) => c.name).sort(),
      e.components.map((c: { tensor: string }) => c.tensor).sort(),
    );
    assert.equal(r.stats.min, e.stats.min);
    assert.equal(r.stats.max, e.stats.max);
    assert.equal(r.stats.zero_count, e.stats.zero_count);
    assert.ok(relClose(r.stats.std, e.stats.std), `${e.name} std`);
    assert.ok(relClose(r.error.rel_rmse, e.vs_original.rel_rmse), `${e.name} rel_rmse`);
    assert.equal(r.error.max_abs, e.vs_original.max_abs_err);
  }
  const csv = (await runJob({ kind: 'report', path, reference: ORIGINAL, format: 'csv' }, quiet)).text.trim().split('\n');
  assert.match(csv[0], /,format,components,diagnostics$/);
  const q = csv.find((l) => l.startsWith('model.layers.0.self_attn.q_proj.weight,'))!;
  assert.ok(q.includes(',256x256,'), q);
  assert.ok(q.includes(String(exp.weights.find((w: { name: string }) => w.name.endsWith('0.self_attn.q_proj.weight')).stats.min)));
  const md = (await runJob({ kind: 'report', path, reference: ORIGINAL, format: 'md' }, quiet)).text;
  assert.match(md, /\| quantization \| /);
  assert.match(md, /\| `model\.layers\.0\.self_attn\.q_proj\.weight` \| [^|]*NF4[^|]* \| 256×256 \|/);
  assert.ok(!md.includes('.weight.absmax` |'), 'components are not report rows');
  await runJob({ kind: 'close', path }, quiet);
});

test('Show as Text lists logical weights with scheme, components, notes and stats; its outline still reads it', async () => {
  const v = 'gptq-v1-4bit-asym-actorder-g128';
  const exp = expected(v);
  const path = join(CORPUS, v);
  const text = (await runJob({ kind: 'dump', path, withStats: true }, quiet)).text;
  const lines = text.split('\n');
  const e = exp.weights.find((w: { name: string }) => w.name === 'model.layers.0.self_attn.q_proj.weight');
  const at = lines.findIndex((l) => l.startsWith(`${e.name} gptq [256, 256] ${expectedBpw(e).toFixed(4)} bpw `));
  assert.ok(at > 0, 'the logical weight line');
  assert.match(lines[at + 1], /^ {4}scheme GPTQ int4 asym g128 act-order$/);
  for (const c of e.components)
    assert.ok(
      lines.some((l) => l.startsWith(`    component `) && l.includes(` ${c.tensor} ${c.dtype} [${c.shape.join(', ')}]`)),
      c.tensor,
    );
  assert.ok(
    lines.slice(at, at + 10).some((l) => /^ {4}note act-order/.test(l)),
    'the act-order diagnostic',
  );
  const stats = lines.slice(at).find((l) => l.startsWith('    stats '))!;
  assert.ok(stats.includes(`zeros=${e.stats.zero_count}`), stats);
  const tensors = dumpOutline(lines).find((s) => s.name === 'tensors')!;
  const names = tensors.children.flatMap((g) => g.children.map((t) => t.name));
  assert.equal(names.length, exp.weights.length + exp.unquantized_tensors.length);
  assert.ok(names.includes(e.name));
  assert.ok(!names.some((n) => n.endsWith('.qweight')));
  await runJob({ kind: 'close', path }, quiet);
});

test('info runs the data-level checks: v1 zero-point overflow where the corpus observed it, act-order on every weight', () => {
  const v = 'gptq-v1-4bit-asym-actorder-g128';
  const exp = expected(v);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli', 'cli.ts'), 'info', join(CORPUS, v)],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  // the modules whose overflow the corpus's generator observed, and the (g, n) of each z = 0 field
  const overflowed = new Map<string, string>(
    exp.observed_quirks
      .filter((q: string) => /v1 zero-point overflow/.test(q))
      .map((q: string) => {
        const [, module, g, n] = /^(\S+): .*z=0 at \(g,n\)=\[\[(\d+), (\d+)\]\]/.exec(q)!;
        return [`${module}.weight`, `(g ${g}, n ${n})`];
      }),
  );
  assert.ok(overflowed.size > 0);
  for (const e of exp.weights) {
    const at = lines.findIndex((l) => l.startsWith(`  ${e.name} `));
    const end = lines.findIndex((l, i) => i > at && /^ {2}\S/.test(l));
    const notes = lines.slice(at + 1, end).filter((l) => l.startsWith('    note: '));
    assert.ok(
      notes.some((n) => /act-order: g_idx is non-monotone/.test(n)),
      `${e.name}: act-order noted`,
    );
    const overflow = notes.find((n) => /v1 zero-point overflow/.test(n));
    if (overflowed.has(e.name)) assert.ok(overflow?.includes(`at ${overflowed.get(e.name)}`), `${e.name}: ${overflow}`);
    else assert.equal(overflow, undefined, `${e.name} has no overflow`);
  }
});
