/**
 * The integer-code kernel shared by GPTQ, AWQ and compressed-tensors pack-quantized: W[n][k] = round(s · (q − z))
 * with s, z per (row n, group gidx[k]), one rounding of an exact product to the scales dtype. Formats differ only
 * in how codes, scales and zeros are packed, which their rows supply as functions.
 */
import type { ByteSpan } from './components.ts';
import { rounderFor } from './numeric.ts';
import {
  countCodeRowsInWasm,
  countStoredOrderInWasm,
  decodeCodeRowsInWasm,
  type CodeRows,
  type CodeSource,
  type StoredOrder,
} from './codeTables.ts';
import type { Kernel, Listing } from './table.ts';

export interface AffineParts extends Listing {
  groups: number;
  /** Group of every input column (length cols). */
  gidx: Int32Array;
  /** scale and zero (in the stored codes' domain) of (row n, group g) at n·groups + g. */
  scales: Float64Array;
  zeros: Float64Array;
  /** Unsigned codes of rows [r0, r1) into codes[(r − r0)·cols + k]. */
  fillCodes(r0: number, r1: number, codes: Uint8Array): void;
  /** The packed words the WebAssembly unpackers read instead of fillCodes, when the layout is one they know. */
  packedCodes?: CodeSource;
  /** The packed words in their stored order, where that is not row order (GPTQ, AWQ GEMM): counted as stored. */
  storedOrder?: StoredOrder;
  codeSpans(r: number, k: number): ByteSpan[];
  paramSpans(r: number, g: number): ByteSpan[];
}

export function affineKernel(p: AffineParts): Kernel {
  const [rows, cols] = [p.shape[0], p.shape[1]];
  const { groups, gidx, scales, zeros, bits } = p;
  const levels = 1 << bits;
  const round = rounderFor(p.dtype);
  // A table of every (group, code) value per row pays off when it is smaller than the row.
  const useTable = groups * levels <= cols;
  const lut = new Float32Array(useTable ? groups * levels : 0);
  const lutBase = Int32Array.from(gidx, (g) => g * levels);
  let codes = new Uint8Array(0);
  let columns: number[][] | undefined;
  const oneCode = new Uint8Array(cols);
  const inWasm: CodeRows = { cols, groups, levels, formula: 'zero-point', dtype: p.dtype, group: gidx, scales, zeros };
  const source = p.packedCodes ?? { fill: p.fillCodes };
  return {
    shape: p.shape,
    rows,
    cols,
    bits,
    groupSize: p.groupSize,
    scheme: p.scheme,
    dtype: p.dtype,
    diagnostics: p.diagnostics,
    zeroKind: 'zero-point',
    groupsPerRow: groups,
    groupColumns(_r, g) {
      if (!columns) {
        columns = Array.from({ length: groups }, () => []);
        for (let k = 0; k < cols; k++) columns[gidx[k]].push(k);
      }
      return columns[g];
    },
    scale: (r, g) => scales[r * groups + g],
    zero: (r, g) => zeros[r * groups + g],
    code(r, k) {
      p.fillCodes(r, r + 1, oneCode);
      return oneCode[k];
    },
    codeSpans: p.codeSpans,
    paramSpans: p.paramSpans,
    countPatterns: (r0, r1, counts) => countCodeRowsInWasm(inWasm, source, r0, r1, counts),
    countAllPatterns: (counts, onValues, checkCancelled) =>
      !!p.storedOrder && countStoredOrderInWasm(inWasm, rows, p.storedOrder, counts, onValues, checkCancelled),
    decodeRows(r0, r1, out) {
      if (decodeCodeRowsInWasm(inWasm, source, r0, r1, out)) return;
      const n = (r1 - r0) * cols;
      if (codes.length < n) codes = new Uint8Array(n);
      p.fillCodes(r0, r1, codes);
      for (let r = r0, o = 0; r < r1; r++, o += cols) {
        const base = r * groups;
        if (useTable) {
          for (let g = 0; g < groups; g++) {
            const s = scales[base + g];
            const z = zeros[base + g];
            for (let q = 0; q < levels; q++) lut[g * levels + q] = round(s * (q - z));
          }
          for (let k = 0; k < cols; k++) out[o + k] = lut[lutBase[k] + codes[o + k]];
        } else {
          for (let k = 0; k < cols; k++) {
            const g = base + gidx[k];
            out[o + k] = round(scales[g] * (codes[o + k] - zeros[g]));
          }
        }
      }
    },
  };
}

/** Group of column k for a group size (−1 or ≥ cols: one group). */
export function contiguousGroups(cols: number, groupSize: number | null): Int32Array {
  const g = new Int32Array(cols);
  if (groupSize && groupSize > 0) for (let k = 0; k < cols; k++) g[k] = Math.floor(k / groupSize);
  return g;
}

/** Whether an act-order g_idx is out of order (desc_act without static groups). */
export function isNonMonotone(gidx: Int32Array): boolean {
  for (let k = 1; k < gidx.length; k++) if (gidx[k] < gidx[k - 1]) return true;
  return false;
}
