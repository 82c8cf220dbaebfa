/**
 * bitsandbytes 4-bit and LLM.int8 (spec §4), MLX affine (§7), HQQ (§8.1), and the formats that are only detected
 * and labelled (EXL2, EXL3, compressed-tensors marlin-24, AWQ GEMV_FAST).
 */
import { QuantLensError } from '../errors.ts';
import type { TensorInfo } from '../model.ts';
import { asU32, floatValues, integerValues } from './components.ts';
import { outputDtypeOf, rounderFor, streamField } from './numeric.ts';
import type { BuildContext, Description, FormatRow, Kernel } from './table.ts';
import { bad, need, shapeText } from './intFormats.ts';

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

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
    if (!Array.isArray(shape) || shape.length < 1 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(ctx, `quant state shape ${JSON.stringify(state.shape)} is not a shape`, st);
    const n = prod(shape);
    const bs = Number(state.blocksize ?? 64);
    if (w.nbytes !== Math.ceil(n / 2)) throw bad(ctx, `weight holds ${w.nbytes} bytes, but shape ${shapeText(shape)} needs ${Math.ceil(n / 2)} (two 4-bit codes per byte)`, w);
    const nblocks = Math.ceil(n / bs);
    if (am.nElements !== nblocks) throw bad(ctx, `absmax has ${am.nElements} entries, expected ${nblocks} blocks of ${bs}`, am);
    if (qm.nElements !== 16) throw bad(ctx, `quant_map has ${qm.nElements} entries, not 16`, qm);
    const map = Float32Array.from(floatValues(qm, ctx.reader.whole(qm)));
    const absmax = new Float64Array(nblocks);
    const nested = am.dtype === 'U8';
    if (nested) {
      const na = need(ctx, 'nested_absmax');
      const nq = need(ctx, 'nested_quant_map');
      const nbs = Number(state.nested_blocksize ?? 256);
      const off = Number(state.nested_offset ?? 0);
      if (na.nElements !== Math.ceil(nblocks / nbs)) throw bad(ctx, `nested_absmax has ${na.nElements} entries, expected ${Math.ceil(nblocks / nbs)}`, na);
      if (nq.nElements !== 256) throw bad(ctx, `nested_quant_map has ${nq.nElements} entries, not 256`, nq);
      const nav = floatValues(na, ctx.reader.whole(na));
      const nqv = floatValues(nq, ctx.reader.whole(nq));
      const codes = ctx.reader.whole(am);
      for (let b = 0; b < nblocks; b++) absmax[b] = Math.fround(Math.fround(nqv[codes[b]] * nav[Math.floor(b / nbs)]) + off);
    } else absmax.set(floatValues(am, ctx.reader.whole(am)));
    const rows = shape[0];
    const cols = n / Math.max(1, rows);
    const dtype = outputDtypeOf(state.dtype, ctx.modelDtype);
    const round = rounderFor(dtype);
    const type = String(state.quant_type ?? (st.name.endsWith('nf4') ? 'nf4' : 'fp4'));
    const groupsPerRow = Math.ceil(cols / bs) + (cols % bs ? 1 : 0);
    const firstBlock = (r: number) => Math.floor((r * cols) / bs);
    let slab = new Uint8Array(0);
    const codeAt = (b: Uint8Array, i: number) => (i & 1 ? b[i >> 1] & 15 : b[i >> 1] >> 4);
    return {
      shape, rows, cols, bits: 4, groupSize: bs,
      scheme: `bitsandbytes ${type.toUpperCase()} blocksize ${bs}${nested ? ' double-quant' : ''}`,
      dtype, diagnostics: [], groupsPerRow,
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
      decodeRows(r0, r1, out) {
        const e0 = r0 * cols;
        const e1 = r1 * cols;
        const b0 = e0 >> 1;
        const len = ((e1 + 1) >> 1) - b0;
        if (slab.length < len) slab = new Uint8Array(len);
        const b = ctx.reader.range(w, b0, len, slab);
        const base = b0 * 2;
        for (let i = e0; i < e1; i++) out[i - e0] = round(Math.fround(map[codeAt(b, i - base)] * absmax[Math.floor(i / bs)]));
      },
    };
  },
};

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
      if (f !== 0) throw new QuantLensError('not-decodable', `${ctx.name}: weight_format ${f} (${['row', 'col32', 'col_turing', 'col_ampere'][f] ?? 'unknown'}) is a legacy tiled layout bitsandbytes no longer reads`);
    }
    const s = floatValues(scb, ctx.reader.whole(scb));
    const C = Math.fround(1 / 127); // 7.874015718698502e-3, 0x3c010204
    let slab = new Uint8Array(0);
    return {
      shape: [N, K], rows: N, cols: K, bits: 8, groupSize: null, scheme: 'LLM.int8 row-wise absmax', dtype: 'float32', diagnostics: [], groupsPerRow: 1,
      groupColumns: () => range(0, K),
      scale: (r) => s[r] * C,
      code: (r, k) => (ctx.reader.range(w, r * K + k, 1)[0] << 24) >> 24,
      codeSpans: (r, k) => [ctx.reader.span('weight', w, r * K + k, 1)],
      paramSpans: (r) => [ctx.reader.span('SCB', scb, r * 4, 4)],
      decodeRows(r0, r1, out) {
        const len = (r1 - r0) * K;
        if (slab.length < len) slab = new Uint8Array(len);
        const b = ctx.reader.range(w, r0 * K, len, slab);
        const a = new Int8Array(b.buffer, b.byteOffset, len);
        for (let r = r0, o = 0; r < r1; r++, o += K) {
          const sc = s[r];
          for (let k = 0; k < K; k++) out[o + k] = Math.fround(Math.fround(a[o + k] * sc) * C);
        }
      },
    };
  },
};

/** The MLX per-layer entry of `quantization` (mlx-lm utils.py:375-389): an override object, false, or the defaults. */
function mlxParams(ctx: BuildContext): { bits: number; groupSize: number; mode: string } {
  const q = ctx.detection.qc;
  const o = q[ctx.module];
  if (o === false) throw bad(ctx, `config quantization says ${ctx.module} is not quantized, but it has scales and biases`);
  const src = o && typeof o === 'object' ? o : q;
  const bits = Number(src.bits ?? q.bits);
  const groupSize = Number(src.group_size ?? q.group_size);
  if (!Number.isFinite(bits) || !Number.isFinite(groupSize)) throw bad(ctx, 'MLX bits and group size are not in config.json quantization (they cannot be inferred from shapes alone)');
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
    if (mode !== 'affine') throw new QuantLensError('not-decodable', `${ctx.name}: MLX mode ${JSON.stringify(mode)} is not decoded here (affine only)`);
    if (![2, 3, 4, 5, 6, 8].includes(bits)) throw bad(ctx, `MLX bits ${bits} is not 2, 3, 4, 5, 6 or 8`, w);
    const lead = w.shape.slice(0, -1);
    const words = w.shape[w.shape.length - 1];
    const K = (words * 32) / bits;
    if (!Number.isInteger(K)) throw bad(ctx, `weight ${shapeText(w.shape)} is not a whole number of ${bits}-bit values per row`, w);
    const G = K / gs;
    const want = [...lead, G];
    for (const t of [sc, bi]) if (!Number.isInteger(G) || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) throw bad(ctx, `${t.name} ${shapeText(t.shape)} does not match ${bits}-bit group-${gs} weight ${shapeText(w.shape)} (expected ${shapeText(want)}): config bits/group size contradict the packed shapes`, t);
    const rows = prod(lead);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const b = floatValues(bi, ctx.reader.whole(bi));
    const dtype = outputDtypeOf(sc.dtype);
    const round = rounderFor(dtype);
    let negative = 0;
    for (let i = 0; i < s.length; i++) if (s[i] < 0) negative++;
    const rowBytes = words * 4;
    let slab = new Uint8Array(0);
    const e = sc.nbytes / sc.nElements;
    return {
      shape: [...lead, K], rows, cols: K, bits, groupSize: gs,
      scheme: `MLX affine ${bits}-bit g${gs}`,
      dtype,
      diagnostics: negative ? [`${negative} of ${s.length} group scales are negative (MLX picks scale < 0 when |max| >= |min|)`] : [],
      zeroKind: 'bias',
      groupsPerRow: G,
      groupColumns: (_r, g) => range(g * gs, (g + 1) * gs),
      scale: (r, g) => s[r * G + g],
      zero: (r, g) => b[r * G + g],
      code: (r, k) => streamField(asU32(ctx.reader.range(w, r * rowBytes, rowBytes)), k, bits),
      codeSpans: (r, k) => [ctx.reader.span('weight', w, r * rowBytes + ((k * bits) >>> 5) * 4, (((k * bits) & 31) + bits > 32 ? 8 : 4))],
      paramSpans: (r, g) => [ctx.reader.span('scales', sc, (r * G + g) * e, e), ctx.reader.span('biases', bi, (r * G + g) * e, e)],
      decodeRows(r0, r1, out) {
        const R = r1 - r0;
        if (slab.length < R * rowBytes) slab = new Uint8Array(R * rowBytes);
        const u = asU32(ctx.reader.range(w, r0 * rowBytes, R * rowBytes, slab));
        for (let j = 0; j < R; j++) {
          const o = j * K;
          const base = (r0 + j) * G;
          for (let k = 0; k < K; k++) {
            const g = base + Math.floor(k / gs);
            out[o + k] = round(round(streamField(u, k, bits, j * words) * s[g]) + b[g]);
          }
        }
      },
    };
  },
};

const HQQ_META = ['nbits', 'group_size', 'shape', 'axis', 'packing', 'unpack_view_dtype', 'view_as_float', 'quant_scale', 'quant_zero', 'compute_dtype', 'offload_meta', 'encoded_state_dict', 'stores_quant_config', 'channel_wise', 'optimize', 'round_zero'];

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
    if (ctx.c.quant_scale && ctx.reader.whole(ctx.c.quant_scale)[0]) throw new QuantLensError('not-decodable', `${ctx.name}: quantized HQQ scales are not decoded here`);
    if (ctx.c.quant_zero && ctx.reader.whole(ctx.c.quant_zero)[0]) throw new QuantLensError('not-decodable', `${ctx.name}: quantized HQQ zeros are not decoded here`);
    const n = prod(shape);
    if (n % gs) throw bad(ctx, `shape ${shapeText(shape)} is not a whole number of groups of ${gs}`);
    const M = n / gs;
    const viewRows = axis === 1 ? M : gs;
    const viewCols = axis === 1 ? gs : M;
    const h = Math.ceil(viewRows / pk.parts);
    const containerBytes = pk.i32 ? 4 : 1;
    if (wq.nbytes !== h * viewCols * containerBytes) throw bad(ctx, `W_q holds ${wq.nbytes} bytes, expected ${h * viewCols * containerBytes} for shape ${shapeText(shape)} packed as ${packing} along axis ${axis}`, wq);
    if (sc.nElements !== M || zt.nElements !== M) throw bad(ctx, `scale/zero hold ${sc.nElements}/${zt.nElements} entries, expected one per group (${M})`, sc);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const z = floatValues(zt, ctx.reader.whole(zt));
    const dtype = outputDtypeOf(strOf('compute_dtype'), outputDtypeOf(sc.dtype));
    const round = rounderFor(dtype);
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
    const viewOf = (f: number) => (axis === 1 ? [Math.floor(f / gs), f % gs] : [Math.floor(f / M), f % M]);
    return {
      shape, rows, cols, bits: nbits, groupSize: gs,
      scheme: `HQQ ${nbits}-bit g${gs} axis ${axis}`,
      dtype, diagnostics: [],
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
      decodeRows(r0, r1, out) {
        const f0 = r0 * cols;
        const f1 = r1 * cols;
        // axis 1: the view rows of [f0, f1) are contiguous, so each part's packed rows are too; axis 0 needs all of W_q.
        let first = 0;
        let last = h;
        if (axis === 1) {
          const i0 = Math.floor(f0 / gs);
          const i1 = Math.ceil(f1 / gs);
          if (i1 - i0 < h) {
            const a = i0 % h;
            const bEnd = (i1 - 1) % h;
            if (a <= bEnd && Math.floor(i0 / h) === Math.floor((i1 - 1) / h)) [first, last] = [a, bEnd + 1];
          }
        }
        const buf = last - first === h ? ctx.reader.whole(wq) : ctx.reader.range(wq, first * rowStride, (last - first) * rowStride);
        const words = pk.i32 ? asU32(buf) : null;
        for (let f = f0; f < f1; f++) {
          const [i, j] = axis === 1 ? [Math.floor(f / gs), f % gs] : [Math.floor(f / M), f % M];
          const g = axis === 1 ? i : j;
          out[f - f0] = round(round(codeFrom(buf, words, first, i, j) - z[g]) * s[g]);
        }
      },
    };
  },
};

/** Formats listed and labelled but not decoded: their only reference implementations are CUDA kernels. */
function labelOnly(id: string, family: FormatRow['family'], label: string, components: FormatRow['components'], reason: string, describe: (ctx: BuildContext) => Description, accepts?: FormatRow['accepts']): FormatRow {
  return { id, family, label, components, notDecodable: { reason, describe }, accepts };
}

export const EXL2: FormatRow = labelOnly('exl2', 'exl2', 'EXL2', [
  { role: 'q_weight', suffix: '.q_weight' }, { role: 'q_scale', suffix: '.q_scale' }, { role: 'q_scale_max', suffix: '.q_scale_max' },
  { role: 'q_groups', suffix: '.q_groups' }, { role: 'q_invperm', suffix: '.q_invperm', optional: true }, { role: 'q_perm', suffix: '.q_perm', optional: true },
], 'EXL2 is reconstructed only by its CUDA kernel (per-group bit widths, shuffled for the kernel)', (ctx) => ({
  shape: [ctx.c.q_weight!.shape[1], ctx.c.q_invperm?.shape[0] ?? NaN],
  bits: Number(ctx.detection.qc.bits ?? NaN),
  scheme: `EXL2 ${ctx.detection.qc.bits ?? '?'} bpw`,
}));

export const EXL3: FormatRow = labelOnly('exl3', 'exl3', 'EXL3', [
  { role: 'trellis', suffix: '.trellis' }, { role: 'suh', suffix: '.suh', optional: true }, { role: 'svh', suffix: '.svh', optional: true },
  { role: 'su', suffix: '.su', optional: true }, { role: 'sv', suffix: '.sv', optional: true }, { role: 'mcg', suffix: '.mcg', optional: true }, { role: 'mul1', suffix: '.mul1', optional: true },
], 'EXL3 (trellis codebook + Hadamard transform) is decoded only by its CUDA kernels', (ctx) => {
  const t = ctx.c.trellis!;
  return { shape: [t.shape[1] * 16, t.shape[0] * 16], bits: t.shape[2] / 16, scheme: `EXL3 ${t.shape[2] / 16} bpw` };
});

export const MARLIN_24: FormatRow = labelOnly('ct-marlin-24', 'compressed-tensors', 'compressed-tensors marlin-24', [
  { role: 'weight_packed', suffix: '.weight_packed' }, { role: 'scale_packed', suffix: '.scale_packed', key: true }, { role: 'meta', suffix: '.meta' },
], '2:4-sparse Marlin tiles: compressed-tensors itself has no decompressor', () => ({ shape: [], bits: 4, scheme: 'marlin-24 (2:4 sparse)' }));

export const AWQ_GEMV_FAST: FormatRow = labelOnly('awq-gemv-fast', 'awq', 'AWQ GEMV_FAST', [
  { role: 'qweight', suffix: '.qweight', dtypes: ['I16'] }, { role: 'scales', suffix: '.scales' }, { role: 'qzeros', suffix: ['.qzeros', '.scaled_zeros'] },
], 'AWQ GEMV_FAST (llm-awq TinyChat) has no CPU reference to check against', (ctx) => ({
  shape: [ctx.c.qweight!.shape[0] * 4, ctx.c.qweight!.shape[1]], bits: 4, scheme: 'AWQ GEMV_FAST int4',
}), (c) => c.qweight?.dtype === 'I16');
