/** Every malformed corpus file gets its one-line typed error (or opens, as the corpus verdict says). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel } from '../../src/core/formats/openModel.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { requireCodec } from '../../src/core/quant/index.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';

const entries: any[] = Object.values(readJson('malformed/malformed.json'))
  .flat()
  .filter((e: any) => e && e.file);

for (const e of entries) {
  test(`${e.file}: ${e.verdict}`, async () => {
    const path = corpusPath('malformed', e.file);
    if (e.verdict === 'reject') {
      await assert.rejects(openModel(path), (err: unknown) => {
        assert.ok(err instanceof QuantLensError, `typed error, got ${err}`);
        assert.ok(!err.message.includes('\n'), 'one line');
        assert.ok(err.message.length < 200, 'short');
        if (e.format === 'gguf') assert.ok(err.byteOffset !== undefined, `says where: ${err.message}`);
        // The message names the tensor / key the corpus reason names.
        const named =
          /(?:tensors? |^)([a-z]+\.(?:weight|name|ggml\.tokens))\b/.exec(e.reason)?.[1] ??
          /general\.name|tokenizer\.ggml\.tokens/.exec(e.reason)?.[0];
        if (named) assert.ok(err.message.includes(named), `"${err.message}" names ${named}`);
        return true;
      });
    } else {
      const m = await openModel(path);
      try {
        assert.ok(m.tensors.length > 0);
        if (e.verdict === 'open-flagged') {
          const flagged = m.tensors.find((t) => t.name === 'b.weight')!;
          assert.equal(flagged.type.name, 'unknown type 99');
          assert.throws(
            () => requireCodec(flagged.type),
            (err: unknown) => err instanceof QuantLensError && /unknown type 99/.test(err.message),
          );
        }
      } finally {
        await m.close();
      }
    }
  });
}
