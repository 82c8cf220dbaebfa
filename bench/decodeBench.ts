/**
 * node --import tsx bench/decodeBench.ts [--types Q4_K,Q8_0] [--mweights 32] [--runs 5]
 *
 * Decoding throughput: forEachChunk (read + dequantize, nothing else) and computeHeatmap (256 × 256 cells) over a
 * large tensor of each type, made by tiling the corpus tensor's bytes as bench.ts's scanBench does. Prints the
 * range (min–max) of M weights/s over the runs, with the WebAssembly kernels on and off.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../src/core/formats/openModel.ts';
import { buildGgufHeader } from '../src/core/formats/ggufWriter.ts';
import { typeByName } from '../src/core/types.ts';
import { forEachChunk } from '../src/core/analysis/tensorValues.ts';
import { computeHeatmap } from '../src/core/analysis/heatmap.ts';
import { setWasmEnabled } from '../src/core/wasm/kernels.ts';

const CORPUS = join(import.meta.dirname, '..', 'test', 'fixtures', 'corpus', 'gguf');
const args = process.argv.slice(2);
const arg = (name: string) => args.find((_, i) => args[i - 1] === name);
const types = (arg('--types') ?? 'Q4_K,Q6_K,Q8_0,Q5_K,IQ4_XS,IQ4_NL,Q4_0,Q4_1,Q5_0,Q5_1,Q3_K,Q2_K,F16,BF16').split(',');
const mweights = Number(arg('--mweights') ?? 32);
const runs = Number(arg('--runs') ?? 5);

function range(weights: number, f: () => void): string {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    rates.push(weights / (performance.now() - t0) / 1e3);
  }
  return `${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}`.padStart(11);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ql-decode-'));
  try {
    console.log(`M weights/s, min–max of ${runs} runs          forEachChunk: js / wasm       heatmap: js / wasm`);
    for (const name of types) {
      const ty = typeByName(name)!;
      const expected = JSON.parse(readFileSync(join(CORPUS, `llama-tiny-${name}.expected.json`), 'utf8'));
      const t = expected.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_down.weight');
      const src = readFileSync(join(CORPUS, expected.file)).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
      const tiles = Math.max(1, Math.round((mweights * 1e6) / t.n_elements));
      // rows of 4096 (a 7-8B model's width) where the weights divide evenly: the heatmap's cells are then 16 columns wide
      const n = t.n_elements * tiles;
      const shape = n % 4096 === 0 ? [4096, n / 4096] : [t.ne[0], t.ne[1] * tiles];
      const layout = buildGgufHeader(
        [{ key: 'general.architecture', type: 'STRING', value: 'bench' }],
        [{ name: 'w', shape, ggmlTypeId: ty.ggmlId!, nbytes: t.nbytes * tiles }],
      );
      const data = Buffer.allocUnsafe(layout.fileSize);
      data.set(layout.header);
      for (let i = 0; i < tiles; i++) data.set(src, layout.dataOffset + i * t.nbytes);
      const path = join(dir, `${name}.gguf`);
      writeFileSync(path, data);
      const model = await openModel(path);
      try {
        const tensor = model.tensors[0];
        const row: string[] = [];
        for (const what of ['chunks', 'heatmap']) {
          for (const wasm of [false, true]) {
            setWasmEnabled(wasm);
            row.push(range(n, () => (what === 'chunks' ? forEachChunk(model, tensor, () => {}) : computeHeatmap(model, tensor, 256, 256))));
          }
        }
        console.log(`${name.padEnd(7)} ${tensor.shape.join('×').padStart(10)}   ${row[0]} / ${row[1]}   ${row[2]} / ${row[3]}`);
      } finally {
        await model.close();
        rmSync(path);
      }
    }
  } finally {
    setWasmEnabled(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
