// Messages that reach the editor name no CLI flag and no internal URI (issue 14); the CLI still names its option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuantLensError, cliLine, oneLine } from '../../src/core/errors.ts';
import { quantizerFor } from '../../src/core/quant/quantizers.ts';
import { typeByName } from '../../src/core/types.ts';
import { shapeMismatchText, SHAPE_ORDER } from '../../src/core/compare/shapeText.ts';
import { planChunks } from '../../src/core/eval/scoring.ts';

for (const name of ['IQ2_XXS', 'IQ2_XS', 'IQ1_S']) {
  test(`${name} without an importance matrix: the editor's words, and the CLI's option`, () => {
    const q = quantizerFor(typeByName(name)!)!;
    let caught: unknown;
    try {
      q.quantize(new Float32Array(256), 1, 256);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof QuantLensError);
    assert.equal(oneLine(caught), `${name} needs an importance matrix`);
    assert.equal(cliLine(caught), `${name} needs an importance matrix (--imatrix)`);
  });
}

test('a shape mismatch says its order: outermost first, as the reference and the model read alike', () => {
  assert.equal(SHAPE_ORDER, 'outermost first, row length last');
  assert.equal(
    shapeMismatchText({ name: 'blk.0.attn_q.weight', shape: [256, 4096], referenceShape: [512, 4096] }),
    'blk.0.attn_q.weight: [256 × 4096] here, [512 × 4096] in the reference',
  );
});

test('evaluation settings that do not fit: said without the CLI flags, which the CLI adds', () => {
  const caught = (f: () => unknown): QuantLensError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof QuantLensError);
      return e;
    }
    assert.fail('no error');
  };
  const short = caught(() => planChunks(255, 128));
  assert.doesNotMatch(oneLine(short), /--/);
  assert.match(oneLine(short), /a context of 128 needs at least 256 .*: give a longer text or a smaller context$/);
  assert.match(cliLine(short), /smaller context \(--ctx\)$/);
  const tiny = caught(() => planChunks(1000, 2));
  assert.equal(oneLine(tiny), 'a context of 2 tokens: it must be a whole number of at least 4');
  assert.equal(cliLine(tiny), 'a context of 2 tokens: it must be a whole number of at least 4 (--ctx)');
  assert.equal(cliLine(caught(() => planChunks(1000, 8, 0))), '0 chunks: expected a positive integer (--chunks)');
});
