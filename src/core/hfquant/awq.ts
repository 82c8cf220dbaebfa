/** AWQ (spec §3): GEMM (interleaved nibbles, K-major) and GEMV (natural order, output-major, padded zeros). */
import { affineKernel, contiguousGroups } from './affine.ts';
import { bad, expectShape, need, num } from './checks.ts';
import { asU32, floatValues } from './components.ts';
import { outputDtypeOf, streamField } from './numeric.ts';
import type { BuildContext, FormatRow } from './table.ts';

/** AWQ's nibble order: output column 8c + ORDER[i] sits in nibble i of word c; column n is nibble REVERSE[n % 8]. */
const AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7];

function awqBits(ctx: BuildContext): number {
  const b = num(ctx.detection.qc.bits) ?? 4;
  if (b !== 4) throw bad(ctx, `AWQ bits ${b}: only 4-bit AWQ exists`);
  return b;
}

/** AWQ GEMM (§3.1): qweight [K, N/8] interleaved, qzeros [G, N/8] interleaved (stored as is), scales [G, N]. */
export const AWQ_GEMM: FormatRow = {
  id: 'awq-gemm',
  family: 'awq',
  label: 'AWQ GEMM',
  components: [
    { role: 'qweight', suffix: '.qweight', dtypes: ['I32'] },
    { role: 'qzeros', suffix: '.qzeros', dtypes: ['I32'] },
    { role: 'scales', suffix: '.scales', dtypes: ['F16', 'BF16', 'F32'] },
  ],
  accepts(c, d) {
    const v = String(d.qc.version ?? d.qc.format ?? 'gemm').toLowerCase();
    if (d.family === 'awq') return v === 'gemm';
    if (d.family) return false;
    return !!c.qweight && !!c.scales && c.qweight.shape[1] * 8 === c.scales.shape[1] && c.scales.shape[0] !== c.qweight.shape[0];
  },
  build(ctx) {
    const qw = need(ctx, 'qweight');
    const qz = need(ctx, 'qzeros');
    const sc = need(ctx, 'scales');
    const bits = awqBits(ctx);
    const [K, W] = qw.shape;
    const N = W * 8;
    expectShape(ctx, sc, [sc.shape[0], N], 'scales [groups, out]');
    const G = sc.shape[0];
    expectShape(ctx, qz, [G, W], 'qzeros [groups, out/8]');
    const gs = num(ctx.detection.qc.group_size) ?? Math.ceil(K / G);
    if (Math.ceil(K / gs) !== G) throw bad(ctx, `scales has ${G} groups, expected ${Math.ceil(K / gs)} for ${K} inputs at group size ${gs}`, sc);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const zw = asU32(ctx.reader.whole(qz));
    const scales = new Float64Array(N * G);
    const zeros = new Float64Array(N * G);
    for (let g = 0; g < G; g++) {
      for (let n = 0; n < N; n++) {
        scales[n * G + g] = s[g * N + n];
        zeros[n * G + g] = (zw[g * W + (n >> 3)] >>> (4 * AWQ_REVERSE_ORDER[n & 7])) & 15;
      }
    }
    let slab = new Uint8Array(0);
    return affineKernel({
      shape: [N, K],
      bits,
      groupSize: gs,
      scheme: `AWQ GEMM int4 asym g${gs}`,
      dtype: outputDtypeOf(sc.dtype),
      diagnostics: [],
      groups: G,
      gidx: contiguousGroups(K, gs),
      scales,
      zeros,
      fillCodes(r0, r1, codes) {
        const c0 = r0 >> 3;
        const c1 = (r1 + 7) >> 3;
        const Wd = c1 - c0;
        if (slab.length < K * Wd * 4) slab = new Uint8Array(K * Wd * 4);
        const w = asU32(ctx.reader.columns(qw, K, W * 4, c0 * 4, c1 * 4, slab));
        for (let n = r0; n < r1; n++) {
          const o = (n - r0) * K;
          const col = (n >> 3) - c0;
          const sh = 4 * AWQ_REVERSE_ORDER[n & 7];
          for (let k = 0; k < K; k++) codes[o + k] = (w[k * Wd + col] >>> sh) & 15;
        }
      },
      codeSpans: (n, k) => [ctx.reader.span('qweight', qw, (k * W + (n >> 3)) * 4, 4)],
      paramSpans: (n, g) => [ctx.reader.span('scales', sc, (g * N + n) * 2, 2), ctx.reader.span('qzeros', qz, (g * W + (n >> 3)) * 4, 4)],
    });
  },
};

/** AWQ GEMV (§3.2): qweight [N, K/8] natural order, qzeros [N, zw], scales [N, zw·8]; padding groups ignored. */
export const AWQ_GEMV: FormatRow = {
  id: 'awq-gemv',
  family: 'awq',
  label: 'AWQ GEMV',
  components: AWQ_GEMM.components,
  accepts(c, d) {
    const v = String(d.qc.version ?? d.qc.format ?? 'gemm').toLowerCase();
    if (d.family === 'awq') return v === 'gemv';
    if (d.family) return false;
    return !!c.qweight && !!c.scales && !!c.qzeros && c.qweight.dtype === 'I32' && c.scales.shape[0] === c.qweight.shape[0] && c.qzeros.shape[0] === c.qweight.shape[0];
  },
  build(ctx) {
    const qw = need(ctx, 'qweight');
    const qz = need(ctx, 'qzeros');
    const sc = need(ctx, 'scales');
    const bits = awqBits(ctx);
    const N = qw.shape[0];
    const K = qw.shape[1] * 8;
    const zw = qz.shape[1];
    expectShape(ctx, qz, [N, zw], 'qzeros [out, zeros width]');
    expectShape(ctx, sc, [N, zw * 8], 'scales [out, 8 · zeros width]');
    const gs = num(ctx.detection.qc.group_size) ?? 128;
    const G = Math.ceil(K / gs);
    if (G > zw * 8) throw bad(ctx, `${K} inputs at group size ${gs} need ${G} groups, but scales holds ${zw * 8}`, sc);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const zWords = asU32(ctx.reader.whole(qz));
    const scales = new Float64Array(N * G);
    const zeros = new Float64Array(N * G);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        scales[n * G + g] = s[n * zw * 8 + g];
        zeros[n * G + g] = streamField(zWords, g, 4, n * zw);
      }
    }
    const rowBytes = qw.shape[1] * 4;
    let slab = new Uint8Array(0);
    return affineKernel({
      shape: [N, K],
      bits,
      groupSize: gs,
      scheme: `AWQ GEMV int4 asym g${gs}`,
      dtype: outputDtypeOf(sc.dtype),
      diagnostics: [],
      groups: G,
      gidx: contiguousGroups(K, gs),
      scales,
      zeros,
      fillCodes(r0, r1, codes) {
        const R = r1 - r0;
        if (slab.length < R * rowBytes) slab = new Uint8Array(R * rowBytes);
        const w = asU32(ctx.reader.range(qw, r0 * rowBytes, R * rowBytes, slab));
        for (let i = 0, n = R * K; i < n; i++) codes[i] = (w[i >>> 3] >>> ((i & 7) << 2)) & 15;
      },
      codeSpans: (n, k) => [ctx.reader.span('qweight', qw, n * rowBytes + (k >> 3) * 4, 4)],
      paramSpans: (n, g) => [ctx.reader.span('scales', sc, (n * zw * 8 + g) * 2, 2), ctx.reader.span('qzeros', qz, (n * zw + (g >> 3)) * 4, 4)],
    });
  },
};

