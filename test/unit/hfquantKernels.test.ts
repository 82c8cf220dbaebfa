/**
 * The WebAssembly code-table kernels of quantized checkpoints against the JavaScript reference decoders (which
 * hfquant.test.ts checks against the reference libraries' values), on [4096, 4096] weights in each library's
 * layout (bench/hfquantCheckpoints.ts): big enough that rows are decoded in several pieces and GPTQ and AWQ are
 * counted in several bands of their stored order.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBenchCheckpoints } from '../../bench/hfquantCheckpoints.ts';
import { openQuantizedModel } from '../../src/core/hfquant/open.ts';
import { logicalWeightStats } from '../../src/core/hfquant/stats.ts';
import { setWasmEnabled } from '../../src/core/wasm/kernels.ts';

const DIR = mkdtempSync(join(tmpdir(), 'ql-hfkernels-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

for (const c of writeBenchCheckpoints(DIR)) {
  test(`${c.id}: the kernels' values and stats equal the JavaScript reference's`, async () => {
    const q = await openQuantizedModel(c.folder);
    try {
      const w = q.weights[0];
      assert.equal(w.error, undefined, w.error?.message);
      assert.equal(w.load(), undefined);
      assert.ok(w.countPatterns(), 'the kernels count this weight');
      const rows = [0, 1, 777, 2048, 4095];
      const fast = rows.map((r) => w.decodeRows(r, r + 1));
      const fastStats = logicalWeightStats(w, { bins: 97 });
      const fastRange = w.decodeRows(1000, 1300);
      setWasmEnabled(false);
      try {
        const slow = rows.map((r) => w.decodeRows(r, r + 1));
        for (let i = 0; i < rows.length; i++)
          assert.deepEqual(new Uint32Array(fast[i].buffer), new Uint32Array(slow[i].buffer), `row ${rows[i]}`);
        assert.deepEqual(new Uint32Array(fastRange.buffer), new Uint32Array(w.decodeRows(1000, 1300).buffer), 'rows 1000-1300');
        assert.equal(w.countPatterns(), null, 'the reference path decodes');
        assert.deepEqual(fastStats, logicalWeightStats(w, { bins: 97 }));
      } finally {
        setWasmEnabled(true);
      }
    } finally {
      await q.close();
    }
  });
}
