/** AWQ (spec §3): GEMM (interleaved nibbles, K-major) and GEMV (natural order, output-major, padded zeros). */
import { affineKernel, contiguousGroups } from './affine.ts';
import { bad, expectShape, need, num } from './checks.ts';
import { asU32, columnSlabs, floatValues, rowSlabs } from './components.ts';
import { outputDtypeOf } from './numeric.ts';
import type { CodeSource, StoredOrder } from './codeTables.ts';
import { plan, type BuildContext, type FormatRow, type Plan } from './table.ts';

/** AWQ's nibble order: output column 8c + ORDER[i] sits in nibble i of word c; column n is nibble REVERSE[n % 8]. */
const AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7];

function awqBits(ctx: BuildContext): number {
  const b = num(ctx.detection.qc.bits) ?? 4;
  if (b !== 4) throw bad(ctx, `AWQ bits ${b}: only 4-bit AWQ exists`);
  return b;
}

/** How one AWQ layout stores its codes, scales and zeros (element indices into qzeros words / scales). */
interface AwqLayout {
  version: 'GEMM' | 'GEMV';
  N: number;
  K: number;
  groups: number;
  groupSize: number;
  /** Index of (n, g) in scales; the word of qzeros and the nibble shift its zero sits at. */
  scaleIndex(n: number, g: number): number;
  zeroWord(n: number, g: number): number;
  zeroShift(n: number, g: number): number;
  fillCodes(r0: number, r1: number, codes: Uint8Array): void;
  /** The packed words the WebAssembly unpackers read instead. */
  packedCodes: CodeSource;
  storedOrder?: StoredOrder;
  codeWord(n: number, k: number): number;
}

/** The plan of either layout: W[n][k] = round((q − z) · s) in the scales dtype, zeros stored as is (no −1). */
function awqPlan(ctx: BuildContext, L: AwqLayout): Plan {
  const [qw, qz, sc] = [need(ctx, 'qweight'), need(ctx, 'qzeros'), need(ctx, 'scales')];
  const { N, groups: G } = L;
  const listing = {
    shape: [N, L.K],
    bits: awqBits(ctx),
    groupSize: L.groupSize,
    scheme: `AWQ ${L.version} int4 asym g${L.groupSize}`,
    dtype: outputDtypeOf(sc.dtype),
    diagnostics: [],
  };
  return plan(listing, () => {
    const s = floatValues(sc, ctx.reader.whole(sc));
    const zw = asU32(ctx.reader.whole(qz));
    const scales = new Float64Array(N * G);
    const zeros = new Float64Array(N * G);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        scales[n * G + g] = s[L.scaleIndex(n, g)];
        zeros[n * G + g] = (zw[L.zeroWord(n, g)] >>> L.zeroShift(n, g)) & 15;
      }
    }
    const e = sc.nbytes / sc.nElements;
    return affineKernel({
      ...listing,
      groups: G,
      gidx: contiguousGroups(L.K, L.groupSize),
      scales,
      zeros,
      fillCodes: L.fillCodes,
      packedCodes: L.packedCodes,
      storedOrder: L.storedOrder,
      codeSpans: (n, k) => [ctx.reader.span('qweight', qw, L.codeWord(n, k) * 4, 4)],
      paramSpans: (n, g) => [
        ctx.reader.span('scales', sc, L.scaleIndex(n, g) * e, e),
        ctx.reader.span('qzeros', qz, L.zeroWord(n, g) * 4, 4),
      ],
    });
  });
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
    const [qw, qz, sc] = [need(ctx, 'qweight'), need(ctx, 'qzeros'), need(ctx, 'scales')];
    const [K, W] = qw.shape;
    const N = W * 8;
    expectShape(ctx, sc, [sc.shape[0], N], 'scales [groups, out]');
    const G = sc.shape[0];
    expectShape(ctx, qz, [G, W], 'qzeros [groups, out/8]');
    const gs = num(ctx.detection.qc.group_size) ?? Math.ceil(K / G);
    if (Math.ceil(K / gs) !== G)
      throw bad(ctx, `scales has ${G} groups, expected ${Math.ceil(K / gs)} for ${K} inputs at group size ${gs}`, sc);
    const slab = columnSlabs(ctx.reader, qw, K, W * 4);
    const qwRows = rowSlabs(ctx.reader, qw, W * 4);
    return awqPlan(ctx, {
      version: 'GEMM',
      N,
      K,
      groups: G,
      groupSize: gs,
      scaleIndex: (n, g) => g * N + n,
      zeroWord: (n, g) => g * W + (n >> 3),
      zeroShift: (n) => 4 * AWQ_REVERSE_ORDER[n & 7],
      codeWord: (n, k) => k * W + (n >> 3),
      packedCodes: {
        interleaved(r0, r1) {
          const c0 = r0 >> 3;
          const Wd = ((r1 + 7) >> 3) - c0;
          return { words: asU32(slab(c0 * 4, (c0 + Wd) * 4)), c0, Wd };
        },
        shifts: AWQ_REVERSE_ORDER.reduce((packed, field, j) => packed | (field << (4 * j)), 0),
      },
      storedOrder: {
        kind: 'awq',
        inputs: K,
        W,
        // nibble j holds row 8c + m where AWQ_REVERSE_ORDER[m] = j
        order: AWQ_REVERSE_ORDER.reduce((packed, j, m) => packed | (m << (4 * j)), 0),
        band: (k0, k1) => asU32(qwRows(k0, k1)),
      },
      fillCodes(r0, r1, codes) {
        const c0 = r0 >> 3;
        const Wd = ((r1 + 7) >> 3) - c0;
        const w = asU32(slab(c0 * 4, (c0 + Wd) * 4));
        for (let n = r0; n < r1; n++) {
          const o = (n - r0) * K;
          const col = (n >> 3) - c0;
          const sh = 4 * AWQ_REVERSE_ORDER[n & 7];
          for (let k = 0; k < K; k++) codes[o + k] = (w[k * Wd + col] >>> sh) & 15;
        }
      },
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
    return (
      !!c.qweight &&
      !!c.scales &&
      !!c.qzeros &&
      c.qweight.dtype === 'I32' &&
      c.scales.shape[0] === c.qweight.shape[0] &&
      c.qzeros.shape[0] === c.qweight.shape[0]
    );
  },
  build(ctx) {
    const [qw, qz, sc] = [need(ctx, 'qweight'), need(ctx, 'qzeros'), need(ctx, 'scales')];
    const N = qw.shape[0];
    const K = qw.shape[1] * 8;
    const zw = qz.shape[1];
    expectShape(ctx, qz, [N, zw], 'qzeros [out, zeros width]');
    expectShape(ctx, sc, [N, zw * 8], 'scales [out, 8 · zeros width]');
    const gs = num(ctx.detection.qc.group_size) ?? 128;
    const G = Math.ceil(K / gs);
    if (G > zw * 8) throw bad(ctx, `${K} inputs at group size ${gs} need ${G} groups, but scales holds ${zw * 8}`, sc);
    const rowWords = qw.shape[1];
    const slab = rowSlabs(ctx.reader, qw, rowWords * 4);
    return awqPlan(ctx, {
      version: 'GEMV',
      N,
      K,
      groups: G,
      groupSize: gs,
      scaleIndex: (n, g) => n * zw * 8 + g,
      zeroWord: (n, g) => n * zw + (g >> 3),
      zeroShift: (_n, g) => 4 * (g & 7),
      codeWord: (n, k) => n * rowWords + (k >> 3),
      packedCodes: { words: (r0, r1) => asU32(slab(r0, r1)), wordsPerRow: rowWords, bits: 4 },
      fillCodes(r0, r1, codes) {
        const w = asU32(slab(r0, r1));
        for (let i = 0, n = (r1 - r0) * K; i < n; i++) codes[i] = (w[i >>> 3] >>> ((i & 7) << 2)) & 15;
      },
    });
  },
};
