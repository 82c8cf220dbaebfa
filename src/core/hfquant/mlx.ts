/** MLX affine quantization as mlx-lm saves it (spec §7): per-layer bits and group size from config.json `quantization`. */
import { QuantLensError } from '../errors.ts';
import { asU32, floatValues, rowSlabs } from './components.ts';
import { outputDtypeOf, rounderFor, streamField } from './numeric.ts';
import { plan, type BuildContext, type FormatRow } from './table.ts';
import { countCodeRowsInWasm, decodeCodeRowsInWasm, type CodeRows } from './codeTables.ts';
import { contiguousGroups } from './affine.ts';
import { bad, need, prod, range, shapeText } from './checks.ts';

/** The MLX per-layer entry of `quantization` (mlx-lm utils.py:375-389): an override object, false, or the defaults. */
function mlxParams(ctx: BuildContext): { bits: number; groupSize: number; mode: string } {
  const q = ctx.detection.qc;
  const o = q[ctx.module];
  if (o === false) throw bad(ctx, `config quantization says ${ctx.module} is not quantized, but it has scales and biases`);
  const src = o && typeof o === 'object' ? o : q;
  const bits = Number(src.bits ?? q.bits);
  const groupSize = Number(src.group_size ?? q.group_size);
  if (!Number.isFinite(bits) || !Number.isFinite(groupSize))
    throw bad(ctx, 'MLX bits and group size are not in config.json quantization (they cannot be inferred from shapes alone)');
  return { bits, groupSize, mode: String(src.mode ?? q.mode ?? 'affine') };
}

/** MLX affine (§7): weight U32 [..., K·b/32] LSB-first stream per row, scales/biases [..., K/gs]; w = round(round(q·s) + b). */
export const MLX_AFFINE: FormatRow = {
  id: 'mlx-affine',
  family: 'mlx',
  label: 'MLX affine',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['U32'] },
    { role: 'scales', suffix: '.scales', key: true, dtypes: ['BF16', 'F16', 'F32'] },
    { role: 'biases', suffix: '.biases', dtypes: ['BF16', 'F16', 'F32'] },
  ],
  accepts: (_c, d) => !d.family || d.family === 'mlx',
  build(ctx) {
    const w = need(ctx, 'weight');
    const sc = need(ctx, 'scales');
    const bi = need(ctx, 'biases');
    const { bits, groupSize: gs, mode } = mlxParams(ctx);
    if (mode !== 'affine')
      throw new QuantLensError('not-decodable', `${ctx.name}: MLX mode ${JSON.stringify(mode)} is not decoded here (affine only)`);
    if (![2, 3, 4, 5, 6, 8].includes(bits)) throw bad(ctx, `MLX bits ${bits} is not 2, 3, 4, 5, 6 or 8`, w);
    const lead = w.shape.slice(0, -1);
    const words = w.shape[w.shape.length - 1];
    const K = (words * 32) / bits;
    if (!Number.isInteger(K)) throw bad(ctx, `weight ${shapeText(w.shape)} is not a whole number of ${bits}-bit values per row`, w);
    const G = K / gs;
    const want = [...lead, G];
    for (const t of [sc, bi])
      if (!Number.isInteger(G) || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
        throw bad(
          ctx,
          `${t.name} ${shapeText(t.shape)} does not match ${bits}-bit group-${gs} weight ${shapeText(w.shape)} (expected ${shapeText(want)}): config bits/group size contradict the packed shapes`,
          t,
        );
    const rows = prod(lead);
    const listing = {
      shape: [...lead, K],
      bits,
      groupSize: gs,
      scheme: `MLX affine ${bits}-bit g${gs}`,
      dtype: outputDtypeOf(sc.dtype),
      diagnostics: [],
    };
    return plan(listing, () => {
      const s = floatValues(sc, ctx.reader.whole(sc));
      const b = floatValues(bi, ctx.reader.whole(bi));
      const round = rounderFor(listing.dtype);
      let negative = 0;
      for (let i = 0; i < s.length; i++) if (s[i] < 0) negative++;
      const rowBytes = words * 4;
      const slab = rowSlabs(ctx.reader, w, rowBytes);
      const levels = 1 << bits;
      const lut = new Float32Array(levels);
      const e = sc.nbytes / sc.nElements;
      const inWasm: CodeRows = {
        cols: K,
        groups: G,
        levels,
        formula: 'mlx-bias',
        dtype: listing.dtype,
        group: contiguousGroups(K, gs),
        scales: s,
        zeros: b,
      };
      const packed = { words: (r0: number, r1: number) => asU32(slab(r0, r1)), wordsPerRow: words, bits };
      return {
        ...listing,
        rows,
        cols: K,
        diagnostics: negative ? [`${negative} of ${s.length} group scales are negative (MLX picks scale < 0 when |max| >= |min|)`] : [],
        zeroKind: 'bias',
        groupsPerRow: G,
        groupColumns: (_r, g) => range(g * gs, (g + 1) * gs),
        scale: (r, g) => s[r * G + g],
        zero: (r, g) => b[r * G + g],
        code: (r, k) => streamField(asU32(ctx.reader.range(w, r * rowBytes, rowBytes)), k, bits),
        codeSpans: (r, k) => [ctx.reader.span('weight', w, r * rowBytes + ((k * bits) >>> 5) * 4, ((k * bits) & 31) + bits > 32 ? 8 : 4)],
        paramSpans: (r, g) => [ctx.reader.span('scales', sc, (r * G + g) * e, e), ctx.reader.span('biases', bi, (r * G + g) * e, e)],
        countPatterns: (r0, r1, counts) => countCodeRowsInWasm(inWasm, packed, r0, r1, counts),
        decodeRows(r0, r1, out) {
          if (decodeCodeRowsInWasm(inWasm, packed, r0, r1, out)) return;
          const R = r1 - r0;
          const u = asU32(slab(r0, r1));
          for (let j = 0; j < R; j++) {
            const o = j * K;
            const base = (r0 + j) * G;
            for (let g = 0; g < G; g++) {
              const sg = s[base + g];
              const bg = b[base + g];
              for (let q = 0; q < levels; q++) lut[q] = round(round(q * sg) + bg); // two roundings, as MLX's CPU path
              for (let k = g * gs; k < (g + 1) * gs; k++) out[o + k] = lut[streamField(u, k, bits, j * words)];
            }
          }
        },
      };
    });
  },
};
