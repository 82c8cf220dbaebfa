/** HQQ's HQQLinear state dict as saved to safetensors through transformers (spec §8.1). */
import { QuantLensError } from '../errors.ts';
import { asU32, floatValues, integerValues } from './components.ts';
import { outputDtypeOf, rounderFor } from './numeric.ts';
import { plan, type FormatRow } from './table.ts';
import { countHqqInWasm, type HqqNibbles } from './codeTables.ts';
import { bad, need, prod, range, shapeText } from './checks.ts';

const HQQ_META = [
  'nbits',
  'group_size',
  'shape',
  'axis',
  'packing',
  'unpack_view_dtype',
  'view_as_float',
  'quant_scale',
  'quant_zero',
  'compute_dtype',
  'offload_meta',
  'encoded_state_dict',
  'stores_quant_config',
  'channel_wise',
  'optimize',
  'round_zero',
];

/** HQQ packings (hqq/core/bitpack.py): parts per packed row, bits, and whether the container is I32. */
const HQQ_PACKING: Record<string, { parts: number; bits: number; i32?: boolean }> = {
  '8bit_u8': { parts: 1, bits: 8 },
  '4bit_u8': { parts: 2, bits: 4 },
  '2bit_u8': { parts: 4, bits: 2 },
  '1bit_u8': { parts: 8, bits: 1 },
  '3bit_32': { parts: 10, bits: 3, i32: true },
};

/** HQQ (§8.1): W_q cut into row blocks, per-group scale (a multiplier) and float zero; W = round(round(q − z) · s). */
export const HQQ: FormatRow = {
  id: 'hqq',
  family: 'hqq',
  label: 'HQQ',
  components: [
    { role: 'W_q', suffix: '.W_q' },
    { role: 'scale', suffix: '.scale' },
    { role: 'zero', suffix: '.zero' },
    ...HQQ_META.map((m) => ({ role: m, suffix: '.' + m, optional: !['nbits', 'shape'].includes(m) })),
  ],
  accepts: (_c, d) => !d.family || d.family === 'hqq',
  build(ctx) {
    const wq = need(ctx, 'W_q');
    const sc = need(ctx, 'scale');
    const zt = need(ctx, 'zero');
    const intOf = (role: string, dflt?: number) => {
      const t = ctx.c[role];
      if (!t) {
        if (dflt === undefined) throw bad(ctx, `missing component ${role}`);
        return dflt;
      }
      return integerValues(t, ctx.reader.whole(t))[0];
    };
    const strOf = (role: string) => (ctx.c[role] ? String.fromCharCode(...ctx.reader.whole(ctx.c[role]!)) : undefined);
    const shape = integerValues(need(ctx, 'shape'), ctx.reader.whole(need(ctx, 'shape')));
    const nbits = intOf('nbits');
    const gs = intOf('group_size', 64);
    const axis = intOf('axis', 1);
    const packing = strOf('packing') ?? `${nbits}bit_u8`;
    const pk = HQQ_PACKING[packing];
    if (!pk) throw new QuantLensError('not-decodable', `${ctx.name}: HQQ packing ${JSON.stringify(packing)} is not known`);
    if (pk.bits !== nbits) throw bad(ctx, `packing ${packing} contradicts nbits ${nbits}`);
    if (ctx.c.quant_scale && ctx.reader.whole(ctx.c.quant_scale)[0])
      throw new QuantLensError('not-decodable', `${ctx.name}: quantized HQQ scales are not decoded here`);
    if (ctx.c.quant_zero && ctx.reader.whole(ctx.c.quant_zero)[0])
      throw new QuantLensError('not-decodable', `${ctx.name}: quantized HQQ zeros are not decoded here`);
    const n = prod(shape);
    if (n % gs) throw bad(ctx, `shape ${shapeText(shape)} is not a whole number of groups of ${gs}`);
    const M = n / gs;
    const viewRows = axis === 1 ? M : gs;
    const viewCols = axis === 1 ? gs : M;
    const h = Math.ceil(viewRows / pk.parts);
    const containerBytes = pk.i32 ? 4 : 1;
    if (wq.nbytes !== h * viewCols * containerBytes)
      throw bad(
        ctx,
        `W_q holds ${wq.nbytes} bytes, expected ${h * viewCols * containerBytes} for shape ${shapeText(shape)} packed as ${packing} along axis ${axis}`,
        wq,
      );
    if (sc.nElements !== M || zt.nElements !== M)
      throw bad(ctx, `scale/zero hold ${sc.nElements}/${zt.nElements} entries, expected one per group (${M})`, sc);
    const listing = {
      shape,
      bits: nbits,
      groupSize: gs,
      scheme: `HQQ ${nbits}-bit g${gs} axis ${axis}`,
      dtype: outputDtypeOf(strOf('compute_dtype'), outputDtypeOf(sc.dtype)),
      diagnostics: [],
    };
    return plan(listing, () => {
      const s = floatValues(sc, ctx.reader.whole(sc));
      const z = floatValues(zt, ctx.reader.whole(zt));
      const round = rounderFor(listing.dtype);
      const rows = shape[0];
      const cols = n / rows;
      const mask = (1 << pk.bits) - 1;
      const rowStride = viewCols * containerBytes;
      /** Code of view element (i, j) from packed bytes/words given for packed rows starting at `first`. */
      const codeFrom = (buf: Uint8Array, words: Uint32Array | null, first: number, i: number, j: number) => {
        const p = Math.floor(i / h);
        const pr = (i % h) - first;
        const shift = (pk.parts - 1 - p) * pk.bits;
        return ((words ? words[pr * viewCols + j] : buf[pr * viewCols + j]) >>> shift) & mask;
      };
      const lut = new Float32Array(mask + 1);
      // 4-bit groups along axis 1 are counted in WebAssembly (one group per view row)
      const nibbles: HqqNibbles | undefined =
        axis === 1 && packing === '4bit_u8'
          ? {
              groups: M,
              groupSize: gs,
              h,
              dtype: listing.dtype,
              scales: s,
              zeros: z,
              packedRows: (j0, j1) => ctx.reader.range(wq, j0 * rowStride, (j1 - j0) * rowStride),
            }
          : undefined;
      const viewOf = (f: number) => (axis === 1 ? [Math.floor(f / gs), f % gs] : [Math.floor(f / M), f % M]);
      return {
        ...listing,
        rows,
        cols,
        groupsPerRow: axis === 1 ? Math.ceil(cols / gs) : cols,
        groupColumns(r, g) {
          if (axis === 1) return range(g * gs, Math.min(cols, (g + 1) * gs));
          return [g];
        },
        scale: (r, g) => s[axis === 1 ? (r * cols) / gs + g : (r * cols + g) % M],
        zero: (r, g) => z[axis === 1 ? (r * cols) / gs + g : (r * cols + g) % M],
        zeroKind: 'zero-point',
        code(r, k) {
          const [i, j] = viewOf(r * cols + k);
          const b = ctx.reader.range(wq, (i % h) * rowStride + j * containerBytes, containerBytes);
          return codeFrom(b, pk.i32 ? asU32(b) : null, i % h, i, 0);
        },
        codeSpans(r, k) {
          const [i, j] = viewOf(r * cols + k);
          return [ctx.reader.span('W_q', wq, (i % h) * rowStride + j * containerBytes, containerBytes)];
        },
        paramSpans(r, g) {
          const idx = axis === 1 ? (r * cols) / gs + g : (r * cols + g) % M;
          const e = sc.nbytes / sc.nElements;
          return [ctx.reader.span('scale', sc, idx * e, e), ctx.reader.span('zero', zt, idx * e, e)];
        },
        // no row-range counter: the whole weight or nothing
        countPatterns: () => false,
        countAllPatterns: (counts, onValues, checkCancelled) => !!nibbles && countHqqInWasm(nibbles, counts, onValues, checkCancelled),
        decodeRows(r0, r1, out) {
          const f0 = r0 * cols;
          const f1 = r1 * cols;
          // The view rows of [f0, f1) are contiguous; each part holds a contiguous run of them in its packed rows.
          const i0 = Math.floor(f0 / viewCols);
          const i1 = Math.floor((f1 - 1) / viewCols) + 1;
          for (let p = Math.floor(i0 / h); p * h < i1; p++) {
            const a = Math.max(i0, p * h);
            const b = Math.min(i1, (p + 1) * h);
            const buf = ctx.reader.range(wq, (a - p * h) * rowStride, (b - a) * rowStride);
            const words = pk.i32 ? asU32(buf) : null;
            const shift = (pk.parts - 1 - p) * pk.bits;
            for (let i = a; i < b; i++) {
              const lo = Math.max(f0, i * viewCols);
              const hi = Math.min(f1, (i + 1) * viewCols);
              const o = (i - a) * viewCols - i * viewCols;
              if (axis === 1) {
                // one group per view row: every (code - zero) * scale of the group at once
                const zi = z[i];
                const si = s[i];
                for (let q = 0; q <= mask; q++) lut[q] = round(round(q - zi) * si);
                for (let f = lo; f < hi; f++) out[f - f0] = lut[((words ? words[o + f] : buf[o + f]) >>> shift) & mask];
              } else {
                for (let f = lo; f < hi; f++) {
                  const g = f - i * viewCols;
                  out[f - f0] = round(round((((words ? words[o + f] : buf[o + f]) >>> shift) & mask) - z[g]) * s[g]);
                }
              }
            }
          }
        },
      };
    });
  },
};
