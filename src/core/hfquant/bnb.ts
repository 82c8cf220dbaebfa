/** bitsandbytes 4-bit (NF4/FP4, with and without double quantization) and LLM.int8, as transformers saves them (spec §4). */
import { QuantLensError } from '../errors.ts';
import type { TensorInfo } from '../model.ts';
import { floatValues, integerValues, rowSlabs } from './components.ts';
import { outputDtypeOf, rounderFor } from './numeric.ts';
import {
  countByteRowsInWasm,
  countCodeRowsInWasm,
  decodeCodeRowsInWasm,
  type CodeRows,
  type CodeSource,
  type ValueCounts,
} from './codeTables.ts';
import { plan, type BuildContext, type FormatRow } from './table.ts';
import { bad, need, prod, range, shapeText } from './checks.ts';

/** The UTF-8 JSON of `weight.quant_state.bitsandbytes__nf4|fp4`. */
function bnbState(ctx: BuildContext, t: TensorInfo): Record<string, any> {
  try {
    return JSON.parse(new TextDecoder().decode(ctx.reader.whole(t)));
  } catch (e) {
    throw bad(ctx, `${t.name} is not the JSON quant state (${(e as Error).message})`, t);
  }
}

/** bitsandbytes NF4/FP4 (§4.1): flat codes high nibble first, blocks of `blocksize`, F32 or double-quantized U8 absmax. */
export const BNB_4BIT: FormatRow = {
  id: 'bnb-4bit',
  family: 'bitsandbytes',
  label: 'bitsandbytes 4-bit',
  components: [
    { role: 'weight', suffix: '.weight' },
    { role: 'absmax', suffix: '.weight.absmax', key: true, dtypes: ['F32', 'U8'] },
    { role: 'quant_map', suffix: '.weight.quant_map', dtypes: ['F32'] },
    { role: 'nested_absmax', suffix: '.weight.nested_absmax', optional: true, dtypes: ['F32'] },
    { role: 'nested_quant_map', suffix: '.weight.nested_quant_map', optional: true, dtypes: ['F32'] },
    { role: 'quant_state', suffix: ['.weight.quant_state.bitsandbytes__nf4', '.weight.quant_state.bitsandbytes__fp4'], dtypes: ['U8'] },
  ],
  accepts: (_c, d) => !d.family || d.family === 'bitsandbytes',
  build(ctx) {
    const w = need(ctx, 'weight');
    const am = need(ctx, 'absmax');
    const qm = need(ctx, 'quant_map');
    const st = need(ctx, 'quant_state');
    const state = bnbState(ctx, st);
    const shape = state.shape as number[];
    if (!Array.isArray(shape) || shape.length < 1 || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw bad(ctx, `quant state shape ${JSON.stringify(state.shape)} is not a shape`, st);
    const n = prod(shape);
    const bs = Number(state.blocksize ?? 64);
    if (w.nbytes !== Math.ceil(n / 2))
      throw bad(
        ctx,
        `weight holds ${w.nbytes} bytes, but shape ${shapeText(shape)} needs ${Math.ceil(n / 2)} (two 4-bit codes per byte)`,
        w,
      );
    const nblocks = Math.ceil(n / bs);
    if (am.nElements !== nblocks) throw bad(ctx, `absmax has ${am.nElements} entries, expected ${nblocks} blocks of ${bs}`, am);
    if (qm.nElements !== 16) throw bad(ctx, `quant_map has ${qm.nElements} entries, not 16`, qm);
    const nested = am.dtype === 'U8';
    const nbs = Number(state.nested_blocksize ?? 256);
    if (nested) {
      const na = need(ctx, 'nested_absmax');
      const nq = need(ctx, 'nested_quant_map');
      if (na.nElements !== Math.ceil(nblocks / nbs))
        throw bad(ctx, `nested_absmax has ${na.nElements} entries, expected ${Math.ceil(nblocks / nbs)}`, na);
      if (nq.nElements !== 256) throw bad(ctx, `nested_quant_map has ${nq.nElements} entries, not 256`, nq);
    }
    const rows = shape[0];
    const cols = n / Math.max(1, rows);
    const type = String(state.quant_type ?? (st.name.endsWith('nf4') ? 'nf4' : 'fp4'));
    const listing = {
      shape,
      bits: 4,
      groupSize: bs,
      scheme: `bitsandbytes ${type.toUpperCase()} blocksize ${bs}${nested ? ' double-quant' : ''}`,
      dtype: outputDtypeOf(state.dtype, ctx.modelDtype),
      diagnostics: [],
    };
    return plan(listing, () => {
      const map = Float32Array.from(floatValues(qm, ctx.reader.whole(qm)));
      const absmax = new Float64Array(nblocks);
      if (nested) {
        const na = need(ctx, 'nested_absmax');
        const nq = need(ctx, 'nested_quant_map');
        const off = Number(state.nested_offset ?? 0);
        const nav = floatValues(na, ctx.reader.whole(na));
        const nqv = floatValues(nq, ctx.reader.whole(nq));
        const codes = ctx.reader.whole(am);
        for (let b = 0; b < nblocks; b++) absmax[b] = Math.fround(Math.fround(nqv[codes[b]] * nav[Math.floor(b / nbs)]) + off);
      } else absmax.set(floatValues(am, ctx.reader.whole(am)));
      const round = rounderFor(listing.dtype);
      const groupsPerRow = Math.ceil(cols / bs) + (cols % bs ? 1 : 0);
      const firstBlock = (r: number) => Math.floor((r * cols) / bs);
      let slab = new Uint8Array(0);
      const lut = new Float32Array(16);
      const codeAt = (b: Uint8Array, i: number) => (i & 1 ? b[i >> 1] & 15 : b[i >> 1] >> 4);
      // blocks that tile the rows (cols a multiple of an even block size) are per-row groups of the code-table kernels
      const tiled = cols % bs === 0 && bs % 2 === 0;
      const inWasm: CodeRows = {
        cols,
        groups: cols / bs,
        levels: 16,
        formula: 'scaled-code',
        dtype: listing.dtype,
        group: Int32Array.from({ length: cols }, (_, k) => Math.floor(k / bs)),
        scales: absmax,
        codeValues: map,
      };
      const source: CodeSource = { bytes: (r0, r1) => ctx.reader.range(w, (r0 * cols) >> 1, ((r1 - r0) * cols) >> 1), highNibbles: true };
      return {
        ...listing,
        rows,
        cols,
        groupsPerRow,
        groupColumns(r, g) {
          const b = firstBlock(r) + g;
          return range(Math.max(0, b * bs - r * cols), Math.min(cols, (b + 1) * bs - r * cols));
        },
        scale: (r, g) => absmax[Math.min(nblocks - 1, firstBlock(r) + g)],
        code: (r, k) => {
          const i = r * cols + k;
          return codeAt(ctx.reader.range(w, i >> 1, 1), i & 1);
        },
        codeSpans: (r, k) => [ctx.reader.span('weight', w, (r * cols + k) >> 1, 1)],
        paramSpans(r, g) {
          const b = firstBlock(r) + g;
          const e = am.nbytes / am.nElements;
          return [ctx.reader.span('absmax', am, b * e, e)];
        },
        countPatterns: (r0, r1, counts) => tiled && countCodeRowsInWasm(inWasm, source, r0, r1, counts),
        decodeRows(r0, r1, out) {
          if (tiled && decodeCodeRowsInWasm(inWasm, source, r0, r1, out)) return;
          const e0 = r0 * cols;
          const e1 = r1 * cols;
          const b0 = e0 >> 1;
          const len = ((e1 + 1) >> 1) - b0;
          if (slab.length < len) slab = new Uint8Array(len);
          const b = ctx.reader.range(w, b0, len, slab);
          const base = b0 * 2;
          for (let blk = Math.floor(e0 / bs); blk * bs < e1; blk++) {
            const a = absmax[blk];
            for (let q = 0; q < 16; q++) lut[q] = round(Math.fround(map[q] * a));
            for (let i = Math.max(e0, blk * bs), end = Math.min(e1, (blk + 1) * bs); i < end; i++) out[i - e0] = lut[codeAt(b, i - base)];
          }
        },
      };
    });
  },
};

/** LLM.int8 rows whose codes are counted at a time (their byte histograms take 1 KB each). */
const COUNTED_ROWS = 1024;

/** bitsandbytes LLM.int8 (§4.2): weight I8 [N, K], SCB F32 [N]; W = f32(f32(A · SCB) · f32(1/127)). */
export const BNB_INT8: FormatRow = {
  id: 'bnb-int8',
  family: 'bitsandbytes',
  label: 'bitsandbytes LLM.int8',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['I8'] },
    { role: 'SCB', suffix: '.SCB', key: true, dtypes: ['F32'] },
    { role: 'weight_format', suffix: '.weight_format', optional: true },
  ],
  accepts: (_c, d) => !d.family || d.family === 'bitsandbytes',
  build(ctx) {
    const w = need(ctx, 'weight');
    const scb = need(ctx, 'SCB');
    if (w.shape.length !== 2) throw bad(ctx, `weight ${shapeText(w.shape)} is not 2-D`, w);
    const [N, K] = w.shape;
    if (scb.nElements !== N) throw bad(ctx, `SCB has ${scb.nElements} entries, expected one per output row (${N})`, scb);
    if (ctx.c.weight_format) {
      const f = integerValues(ctx.c.weight_format, ctx.reader.whole(ctx.c.weight_format))[0];
      if (f !== 0)
        throw new QuantLensError(
          'not-decodable',
          `${ctx.name}: weight_format ${f} (${['row', 'col32', 'col_turing', 'col_ampere'][f] ?? 'unknown'}) is a legacy tiled layout bitsandbytes no longer reads`,
        );
    }
    const listing = {
      shape: [N, K],
      bits: 8,
      groupSize: null,
      scheme: 'LLM.int8 row-wise absmax',
      dtype: 'float32' as const,
      diagnostics: [],
    };
    return plan(listing, () => {
      const s = floatValues(scb, ctx.reader.whole(scb));
      const C = Math.fround(1 / 127); // 7.874015718698502e-3, 0x3c010204
      const slab = rowSlabs(ctx.reader, w, K);
      // one group per row, the int8 codes as bytes: code b is the value (b << 24) >> 24
      const inWasm: CodeRows = {
        cols: K,
        groups: 1,
        levels: 256,
        formula: 'scaled-code',
        dtype: 'float32',
        group: new Int32Array(K),
        scales: s,
        codeValues: Float64Array.from({ length: 256 }, (_, b) => (b << 24) >> 24),
        codeFactor: C,
      };
      const source: CodeSource = { bytes: (r0, r1) => slab(r0, r1) };
      let counts: Int32Array | undefined;
      const rowValues = new Float64Array(256);
      /** Rows [r0, r1) (at most COUNTED_ROWS) counted by code: each row's distinct values with their counts, to out. */
      const countRows = (r0: number, r1: number, out: ValueCounts): boolean => {
        counts ??= new Int32Array(COUNTED_ROWS * 256);
        if (!countByteRowsInWasm(slab, K, r0, r1, counts)) return false;
        for (let r = r0; r < r1; r++) {
          const sc = s[r];
          const at = (r - r0) * 256;
          let zeroSigns = 0; // 1: +0 among the row's values, 2: −0
          for (let b = 0; b < 256; b++) {
            const x = Math.fround(Math.fround(((b << 24) >> 24) * sc) * C);
            rowValues[b] = x;
            if (x === 0 && counts[at + b]) zeroSigns |= Object.is(x, 0) ? 1 : 2;
          }
          if (zeroSigns === 3) {
            // +0 and −0 (a tiny or zero scale, or a negative one with code 0): which comes first is the row's order
            const codes = slab(r, r + 1);
            for (let k = 0; k < K; k++) out.push(rowValues[codes[k]], 1);
          } else {
            out.reserve(256);
            for (let b = 0; b < 256; b++) if (counts[at + b]) out.push(rowValues[b], counts[at + b]);
          }
        }
        return true;
      };
      return {
        ...listing,
        rows: N,
        cols: K,
        groupsPerRow: 1,
        groupColumns: () => range(0, K),
        scale: (r) => s[r] * C,
        code: (r, k) => (ctx.reader.range(w, r * K + k, 1)[0] << 24) >> 24,
        codeSpans: (r, k) => [ctx.reader.span('weight', w, r * K + k, 1)],
        paramSpans: (r) => [ctx.reader.span('SCB', scb, r * 4, 4)],
        // at most 256 values a row: count its codes, then add each code's value once with its count (rows shorter
        // than 256 codes are decoded instead)
        countValues(r0, r1, out) {
          if (K < 256) return false;
          for (let a = r0; a < r1; a += COUNTED_ROWS) if (!countRows(a, Math.min(r1, a + COUNTED_ROWS), out)) return false;
          return true;
        },
        decodeRows(r0, r1, out) {
          if (decodeCodeRowsInWasm(inWasm, source, r0, r1, out)) return;
          const b = slab(r0, r1);
          const a = new Int8Array(b.buffer, b.byteOffset, b.length);
          for (let r = r0, o = 0; r < r1; r++, o += K) {
            const sc = s[r];
            for (let k = 0; k < K; k++) out[o + k] = Math.fround(Math.fround(a[o + k] * sc) * C);
          }
        },
      };
    });
  },
};
