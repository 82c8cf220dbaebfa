/**
 * Exact statistics without dequantizing every weight, where a type allows it: F16 and BF16 tensors count their
 * 65536 bit patterns in one pass, and every statistic and the histogram follow from the count table (no second
 * read). Results equal the generic decode-then-accumulate path (counts, min, max and histogram exactly; sums to
 * the last bits of float64 rounding). The patterns are counted in WebAssembly where it loads (about 3x the
 * JavaScript loop). Counting codes per sub-block of the quantized types was measured slower than decoding in plain
 * JS (repeated increments of one counter serialise); in WebAssembly it pays for the 4-bit types, whose kernels
 * (Q4_K, IQ4_XS) live in src/core/wasm/assembly/stats.ts and run through wasmStats.ts's fusedScan.
 */
import type { QuantCodec } from '../quant/codec.ts';
import { bf16ToNumber, F16_TO_F32 } from '../quant/scalars.ts';
import type { CountingScanner } from './countingScanner.ts';
import { wasmKernel, type KernelExports } from '../wasm/kernels.ts';
import { GgmlType } from '../types.ts';

/**
 * F16 and BF16: one table of 65536 counts per tensor. The value of every pattern is tabulated on the first scan,
 * not when the module loads (a process or worker thread that scans no such tensor never pays for it).
 */
function halfTableScanner(toFloat: (bits: number) => number): () => CountingScanner {
  let tabulated: Float64Array | undefined;
  const patternValues = (): Float64Array => {
    if (!tabulated) {
      tabulated = new Float64Array(65536);
      for (let b = 0; b < 65536; b++) tabulated[b] = toFloat(b);
    }
    return tabulated;
  };
  return () => {
    const values = patternValues();
    const counts = new Float64Array(65536);
    return {
      secondPassFromMemory: true,
      first(raw, n) {
        const k = wasmKernel();
        if (k) return countHalvesWasm(k, raw, n, counts);
        const u16 = new Uint16Array(raw.buffer, raw.byteOffset, n);
        for (let i = 0; i < n; i++) counts[u16[i]]++;
      },
      second() {},
      secondFromMemory(acc) {
        for (let b = 0; b < 65536; b++) if (counts[b]) acc.addSecondPassRepeated(values[b], counts[b]);
      },
      // pass 1 statistics are added once the whole tensor has been counted
      finishFirst(acc) {
        for (let b = 0; b < 65536; b++) if (counts[b]) acc.addFirstPassRepeated(values[b], counts[b]);
      },
      tallies: () => counts.slice(),
      addTallies(tallies) {
        for (let b = 0; b < 65536; b++) counts[b] += tallies[b];
      },
    };
  };
}

/** Counts the n 16-bit patterns of raw into counts in WebAssembly (two int32 tables, added in after the chunk). */
function countHalvesWasm(k: KernelExports, raw: Uint8Array, n: number, counts: Float64Array): void {
  k.reset();
  const table = k.alloc(2 * 65536 * 4);
  const src = k.alloc(2 * n);
  new Uint8Array(k.memory.buffer, src, 2 * n).set(raw.subarray(0, 2 * n));
  const t = new Int32Array(k.memory.buffer, table, 2 * 65536);
  t.fill(0);
  k.countHalves(src, n, table);
  for (let b = 0; b < 65536; b++) counts[b] += t[b] + t[65536 + b];
}

/** A fresh scanner for a ggml type id, or undefined where the generic path is used. */
export function countingScanner(ggmlId: number | undefined, _codec: QuantCodec): CountingScanner | undefined {
  switch (ggmlId) {
    case GgmlType.F16:
      return F16_SCANNER();
    case GgmlType.BF16:
      return BF16_SCANNER();
  }
  return undefined;
}

const F16_SCANNER = halfTableScanner((b) => F16_TO_F32[b]);
const BF16_SCANNER = halfTableScanner(bf16ToNumber);
