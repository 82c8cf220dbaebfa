/**
 * Integer-code formats (spec §2, §3, §6.2): GPTQ v1/v2, AWQ GEMM/GEMV, compressed-tensors pack-quantized.
 * Each row reads its scales and zeros whole (they are small), checks every shape against the others and the
 * config, and streams the packed codes by row slab.
 */
import { QuantLensError } from '../errors.ts';
import type { TensorInfo } from '../model.ts';
import { affineKernel, contiguousGroups, isNonMonotone } from './affine.ts';
import { asU32, floatValues, integerValues } from './components.ts';
import { outputDtypeOf, streamField } from './numeric.ts';
import type { BuildContext, FormatRow } from './table.ts';
import { ctWeightArgs } from './ctConfig.ts';

export function bad(ctx: BuildContext, reason: string, t?: TensorInfo): QuantLensError {
  return new QuantLensError('bad-tensor', `${ctx.name}: ${reason}`, t?.absoluteOffset, t ? ctx.reader.model.files[t.fileIndex].path : undefined);
}

export function need(ctx: BuildContext, role: string): TensorInfo {
  const t = ctx.c[role];
  if (!t) throw bad(ctx, `missing component ${role} (expected ${ctx.module}.${role})`);
  return t;
}

export const shapeText = (s: number[]) => `[${s.join(', ')}]`;

function expectShape(ctx: BuildContext, t: TensorInfo, want: number[], why: string): void {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) throw bad(ctx, `${t.name} has shape ${shapeText(t.shape)}, expected ${shapeText(want)} (${why})`, t);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const VALID_BITS = new Set([2, 3, 4, 8]);

/** g_idx as groups, refusing entries outside [0, groups). */
function readGidx(ctx: BuildContext, t: TensorInfo, cols: number, groups: number): Int32Array {
  expectShape(ctx, t, [cols], 'one group index per input column');
  const v = integerValues(t, ctx.reader.whole(t));
  const out = new Int32Array(cols);
  for (let k = 0; k < cols; k++) {
    if (!(v[k] >= 0 && v[k] < groups)) throw bad(ctx, `${t.name}[${k}] = ${v[k]} is out of range: there are ${groups} groups`, t);
    out[k] = v[k];
  }
  return out;
}

const int = (b: number) => `int${b}`;

/**
 * GPTQModel's `dynamic` (GPTQM quantization/config.py): module-name regexes, `+:` (or none) overriding bits /
 * group_size / sym / desc_act for the modules they match (re.match, so anchored at the start), `-:` skipping them.
 */
function gptqModuleConfig(ctx: BuildContext): Record<string, any> {
  const qc = ctx.detection.qc;
  const dyn = qc.dynamic;
  if (!dyn || typeof dyn !== 'object') return qc;
  for (const [key, override] of Object.entries(dyn as Record<string, any>)) {
    const negative = key.startsWith('-:');
    const pattern = key.replace(/^[+-]:/, '');
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${pattern})`);
    } catch {
      continue;
    }
    if (!re.test(ctx.module)) continue;
    if (negative) throw bad(ctx, `GPTQ dynamic rule ${JSON.stringify(key)} says ${ctx.module} is not quantized, but it has qweight`);
    return override && typeof override === 'object' ? { ...qc, ...override } : qc;
  }
  return qc;
}

/** GPTQ (§2): qweight [K·b/32, N] packed along K, qzeros [G, ceil(N·b/32)] along N, scales [G, N], g_idx [K]. */
export const GPTQ: FormatRow = {
  id: 'gptq',
  family: 'gptq',
  label: 'GPTQ',
  components: [
    { role: 'qweight', suffix: '.qweight', dtypes: ['I32'] },
    { role: 'qzeros', suffix: '.qzeros', dtypes: ['I32'] },
    { role: 'scales', suffix: '.scales', dtypes: ['F16', 'BF16', 'F32'] },
    { role: 'g_idx', suffix: '.g_idx', optional: true, dtypes: ['I32', 'I64'] },
  ],
  accepts(c, d) {
    if (d.family === 'gptq') return true;
    if (d.family) return false;
    // fingerprint: qweight [K·b/32, N] and scales [G, N] share N
    return !!c.qweight && !!c.scales && c.qweight.shape[1] === c.scales.shape[1] && (!!c.g_idx || c.qweight.shape[1] !== c.scales.shape[1] / 8);
  },
  build(ctx) {
    const qc = gptqModuleConfig(ctx);
    const qw = need(ctx, 'qweight');
    const qz = need(ctx, 'qzeros');
    const sc = need(ctx, 'scales');
    const format = String(qc.checkpoint_format ?? qc.format ?? 'gptq').toLowerCase();
    if (format !== 'gptq' && format !== 'gptq_v2') throw new QuantLensError('not-decodable', `${ctx.name}: GPTQ checkpoint_format ${JSON.stringify(format)} (repacked for a kernel) is not decodable here`);
    const v1 = format === 'gptq';
    if (qc.pack_dtype !== undefined && qc.pack_dtype !== 'int32' && qc.pack_dtype !== 'torch.int32') throw new QuantLensError('not-decodable', `${ctx.name}: GPTQ pack_dtype ${JSON.stringify(qc.pack_dtype)} (words other than int32) is not decoded here`);
    if (qw.shape.length !== 2 || sc.shape.length !== 2 || qz.shape.length !== 2) throw bad(ctx, `qweight, qzeros and scales must be 2-D (got ${shapeText(qw.shape)}, ${shapeText(qz.shape)}, ${shapeText(sc.shape)})`, qw);
    const N = qw.shape[1];
    if (sc.shape[1] !== N) throw bad(ctx, `scales ${shapeText(sc.shape)} and qweight ${shapeText(qw.shape)} disagree on the output size`, sc);
    let bits = num(qc.bits);
    if (bits === undefined) bits = ctx.c.g_idx ? (32 * qw.shape[0]) / ctx.c.g_idx.shape[0] : (32 * qz.shape[1]) / N;
    if (!VALID_BITS.has(bits)) throw bad(ctx, `GPTQ bits ${bits} is not 2, 3, 4 or 8`, qw);
    const K = (qw.shape[0] * 32) / bits;
    if (!Number.isInteger(K)) throw bad(ctx, `qweight has ${qw.shape[0]} packed rows, not a whole number of ${bits}-bit columns`, qw);
    if (ctx.c.g_idx && ctx.c.g_idx.shape[0] !== K) throw bad(ctx, `config bits ${bits} give ${K} input columns from qweight ${shapeText(qw.shape)}, but g_idx has ${ctx.c.g_idx.shape[0]}`, ctx.c.g_idx);
    const zWords = Math.ceil((N * bits) / 32);
    if (qz.shape[1] !== zWords) throw bad(ctx, `qzeros ${shapeText(qz.shape)} holds ${(qz.shape[1] * 32) / bits} ${bits}-bit zeros per group, expected ${N} (${zWords} words): config bits ${bits} contradict the packed shapes`, qz);
    const G = sc.shape[0];
    let gs = num(qc.group_size);
    if (gs === undefined || gs <= 0) gs = G === 1 ? -1 : Math.ceil(K / G);
    const wantG = gs > 0 ? Math.ceil(K / gs) : 1;
    if (!ctx.c.g_idx && G !== wantG) throw bad(ctx, `scales has ${G} groups, expected ${wantG} for ${K} inputs at group size ${gs}`, sc);
    if (qz.shape[0] !== G) throw bad(ctx, `qzeros has ${qz.shape[0]} groups but scales has ${G}`, qz);
    const gidx = ctx.c.g_idx ? readGidx(ctx, ctx.c.g_idx, K, G) : contiguousGroups(K, gs);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const zw = asU32(ctx.reader.whole(qz));
    const maxq = (1 << bits) - 1;
    const scales = new Float64Array(N * G);
    const zeros = new Float64Array(N * G);
    let symmetric = true;
    for (let g = 0; g < G; g++) {
      for (let n = 0; n < N; n++) {
        const stored = streamField(zw, n, bits, g * zWords);
        const z = stored + (v1 ? 1 : 0); // AutoGPTQ adds 1 per field without wrapping
        if (z !== 1 << (bits - 1)) symmetric = false;
        scales[n * G + g] = s[g * N + n];
        zeros[n * G + g] = z;
      }
    }
    const sym = typeof qc.sym === 'boolean' ? qc.sym : symmetric;
    const actOrder = isNonMonotone(gidx);
    const diagnostics: string[] = [];
    if (v1) {
      const o = v1Overflow(zw, G, N, bits, zWords);
      if (o.origins.length) {
        const at = o.origins.slice(0, 4).map(([g, n]) => `(g ${g}, n ${n})`).join(', ') + (o.origins.length > 4 ? ', ...' : '');
        diagnostics.push(`v1 zero-point overflow: ${o.origins.length} z=0 field(s) stored as -1 at ${at} (read ${maxq}, decoded z = ${maxq + 1})${o.collateral ? `, which set ${o.collateral} higher field(s) of the same words to ${maxq} too` : ''}: lossy checkpoint`);
      }
    }
    if (actOrder) diagnostics.push('act-order: g_idx is non-monotone (desc_act)');
    if (!ctx.detection.family) diagnostics.push('no config: GPTQ v1 zero points (stored z - 1) assumed');
    const rowBytes = N * 4;
    const P = qw.shape[0];
    let slab = new Uint8Array(0);
    return affineKernel({
      shape: [N, K],
      bits,
      groupSize: gs > 0 ? gs : null,
      scheme: `GPTQ${v1 ? '' : ' v2'} ${int(bits)} ${sym ? 'sym' : 'asym'} ${gs > 0 ? `g${gs}` : 'per-channel'}${actOrder ? ' act-order' : ''}`,
      dtype: outputDtypeOf(sc.dtype),
      diagnostics,
      groups: G,
      gidx,
      scales,
      zeros,
      fillCodes(r0, r1, codes) {
        const R = r1 - r0;
        if (slab.length < P * R * 4) slab = new Uint8Array(P * R * 4);
        const w = asU32(ctx.reader.columns(qw, P, rowBytes, r0 * 4, r1 * 4, slab));
        const mask = maxq;
        if (32 % bits === 0) {
          // whole fields per word: blocks of 16 rows keep the slab reads contiguous and the code writes few streams
          const per = 32 / bits;
          for (let j0 = 0; j0 < R; j0 += 16) {
            const j1 = Math.min(R, j0 + 16);
            for (let p = 0; p < P; p++) {
              for (let j = j0; j < j1; j++) {
                let word = w[p * R + j];
                const o = j * K + p * per;
                for (let i = 0; i < per; i++) {
                  codes[o + i] = word & mask;
                  word >>>= bits;
                }
              }
            }
          }
          return;
        }
        for (let j = 0; j < R; j++) {
          const o = j * K;
          for (let k = 0, bit = 0; k < K; k++, bit += bits) {
            const p = bit >>> 5;
            const sh = bit & 31;
            let v = w[p * R + j] >>> sh;
            if (sh + bits > 32) v |= w[(p + 1) * R + j] << (32 - sh);
            codes[o + k] = v & mask;
          }
        }
      },
      codeSpans(n, k) {
        const bit = k * bits;
        const p = bit >>> 5;
        const spans = [ctx.reader.span('qweight', qw, (p * N + n) * 4, 4)];
        if ((bit & 31) + bits > 32) spans.push(ctx.reader.span('qweight', qw, ((p + 1) * N + n) * 4, 4));
        return spans;
      },
      paramSpans(n, g) {
        const zb = n * bits;
        const zSpans = [ctx.reader.span('qzeros', qz, (g * zWords + (zb >>> 5)) * 4, 4)];
        if ((zb & 31) + bits > 32) zSpans.push(ctx.reader.span('qzeros', qz, (g * zWords + (zb >>> 5) + 1) * 4, 4));
        return [ctx.reader.span('scales', sc, (g * N + n) * (sc.nbytes / sc.nElements), sc.nbytes / sc.nElements), ...zSpans];
      },
    });
  },
};

/**
 * Stored v1 zero fields equal to maxq: AutoGPTQ packs z = 0 as -1 and ORs 0xFFFFFFFF in, so every higher field of
 * that word reads maxq as well. In each word the run of maxq fields reaching its top field is one z=0 (its lowest
 * field) plus collateral; any other maxq field is a z=0 of its own. (3-bit fields straddle words: each counts.)
 */
function v1Overflow(zw: Uint32Array, G: number, N: number, bits: number, zWords: number): { origins: [number, number][]; collateral: number } {
  const maxq = (1 << bits) - 1;
  const origins: [number, number][] = [];
  let collateral = 0;
  const per = 32 % bits === 0 ? 32 / bits : 0;
  for (let g = 0; g < G; g++) {
    for (let n = 0; n < N; n++) {
      if (streamField(zw, n, bits, g * zWords) !== maxq) continue;
      if (per && n % per !== 0 && streamField(zw, n - 1, bits, g * zWords) === maxq) {
        let top = true;
        for (let m = n; m < Math.min(N, (Math.floor(n / per) + 1) * per); m++) if (streamField(zw, m, bits, g * zWords) !== maxq) top = false;
        if (top) {
          collateral++;
          continue;
        }
      }
      origins.push([g, n]);
    }
  }
  return { origins, collateral };
}

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

/**
 * compressed-tensors pack-quantized (§6.2): weight_packed I32 [N, ceil(K·b/32)] along K, weight_shape [N, K],
 * weight_scale [N, G], weight_zero_point I32 [ceil(N·b/32), G] along N (asymmetric), weight_g_idx [K]; codes and
 * zero points stored as v + 2^(b−1).
 */
export const CT_PACKED: FormatRow = {
  id: 'ct-pack-quantized',
  family: 'compressed-tensors',
  label: 'compressed-tensors pack-quantized',
  components: [
    { role: 'weight_shape', suffix: '.weight_shape', dtypes: ['I64', 'I32'] },
    { role: 'weight_packed', suffix: '.weight_packed', dtypes: ['I32'] },
    { role: 'weight_scale', suffix: '.weight_scale', dtypes: ['BF16', 'F16', 'F32'] },
    { role: 'weight_zero_point', suffix: '.weight_zero_point', optional: true, dtypes: ['I32'] },
    { role: 'weight_g_idx', suffix: '.weight_g_idx', optional: true, dtypes: ['I32', 'I64'] },
  ],
  accepts: (c, d) => (d.family === 'compressed-tensors' || !d.family) && c.weight_packed?.dtype === 'I32',
  build(ctx) {
    const wp = need(ctx, 'weight_packed');
    const ws = need(ctx, 'weight_shape');
    const sc = need(ctx, 'weight_scale');
    const shape = integerValues(ws, ctx.reader.whole(ws));
    if (shape.length !== 2) throw bad(ctx, `weight_shape holds ${shapeText(shape)}, not [out, in]`, ws);
    const [N, K] = shape;
    const args = ctWeightArgs(ctx);
    const bits = num(args?.num_bits) ?? Math.round((32 * wp.shape[1]) / K);
    if (bits !== 4 && bits !== 8 && bits !== 2) throw bad(ctx, `num_bits ${bits} is not 2, 4 or 8`, wp);
    const words = Math.ceil((K * bits) / 32);
    expectShape(ctx, wp, [N, words], `weight_shape ${shapeText(shape)} at ${bits} bits`);
    if (sc.shape.length !== 2 || sc.shape[0] !== N) throw bad(ctx, `weight_scale ${shapeText(sc.shape)} does not have one row per output (${N})`, sc);
    const G = sc.shape[1];
    const strategy = String(args?.strategy ?? (G === 1 ? 'channel' : 'group'));
    const gs = G === 1 ? null : num(args?.group_size) ?? Math.ceil(K / G);
    if (gs !== null && !ctx.c.weight_g_idx && Math.ceil(K / gs) !== G) throw bad(ctx, `weight_scale has ${G} groups, expected ${Math.ceil(K / gs)} for ${K} inputs at group size ${gs}`, sc);
    const gidx = ctx.c.weight_g_idx ? readGidx(ctx, ctx.c.weight_g_idx, K, G) : contiguousGroups(K, gs);
    const offset = 1 << (bits - 1);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const zeros = new Float64Array(N * G).fill(offset);
    const zp = ctx.c.weight_zero_point;
    const per = 32 / bits;
    if (zp) {
      expectShape(ctx, zp, [Math.ceil(N / per), G], 'weight_zero_point packed along the outputs');
      const z = asU32(ctx.reader.whole(zp));
      for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) zeros[n * G + g] = (z[Math.floor(n / per) * G + g] >>> ((n % per) * bits)) & ((1 << bits) - 1);
    } else if (args?.symmetric === false) throw bad(ctx, 'asymmetric scheme without weight_zero_point');
    const rowBytes = words * 4;
    const mask = (1 << bits) - 1;
    let slab = new Uint8Array(0);
    const actOrder = isNonMonotone(gidx);
    return affineKernel({
      shape: [N, K],
      bits,
      groupSize: gs,
      scheme: `compressed-tensors ${int(bits)} ${zp ? 'asym' : 'sym'} ${gs ? `g${gs}` : strategy === 'channel' ? 'per-channel' : strategy}${ctx.c.weight_g_idx ? (actOrder ? ' act-order' : ' g_idx') : ''}`,
      dtype: outputDtypeOf(sc.dtype),
      diagnostics: actOrder ? ['act-order: weight_g_idx is non-monotone'] : [],
      groups: G,
      gidx,
      scales: Float64Array.from({ length: N * G }, (_, i) => s[i]),
      zeros,
      fillCodes(r0, r1, codes) {
        const R = r1 - r0;
        if (slab.length < R * rowBytes) slab = new Uint8Array(R * rowBytes);
        const w = asU32(ctx.reader.range(wp, r0 * rowBytes, R * rowBytes, slab));
        for (let j = 0; j < R; j++) {
          const base = j * words;
          const o = j * K;
          if (bits === 4 || bits === 8 || bits === 2) {
            for (let k = 0; k < K; k++) codes[o + k] = (w[base + Math.floor(k / per)] >>> ((k % per) * bits)) & mask;
          }
        }
      },
      codeSpans: (n, k) => [ctx.reader.span('weight_packed', wp, n * rowBytes + Math.floor(k / per) * 4, 4)],
      paramSpans(n, g) {
        const e = sc.nbytes / sc.nElements;
        const spans = [ctx.reader.span('weight_scale', sc, (n * G + g) * e, e)];
        if (zp) spans.push(ctx.reader.span('weight_zero_point', zp, (Math.floor(n / per) * G + g) * 4, 4));
        return spans;
      },
    });
  },
};

/**
 * compressed-tensors int-quantized (§6.3, the W8A8 INT8 presets): weight I8 [N, K] unpacked, weight_scale [N, G]
 * ([N, 1] per channel, [1] per tensor), weight_zero_point [N, G] when asymmetric; W = round((q − zp) · s).
 */
export const CT_INT: FormatRow = {
  id: 'ct-int-quantized',
  family: 'compressed-tensors',
  label: 'compressed-tensors int-quantized',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['I8'] },
    { role: 'weight_scale', suffix: '.weight_scale', key: true, dtypes: ['BF16', 'F16', 'F32'] },
    { role: 'weight_zero_point', suffix: '.weight_zero_point', optional: true, dtypes: ['I8', 'I32'] },
    { role: 'input_scale', suffix: '.input_scale', optional: true },
    { role: 'input_zero_point', suffix: '.input_zero_point', optional: true },
  ],
  accepts: (_c, d) => !d.family || d.family === 'compressed-tensors',
  build(ctx) {
    const w = need(ctx, 'weight');
    const sc = need(ctx, 'weight_scale');
    if (w.shape.length !== 2) throw bad(ctx, `weight ${shapeText(w.shape)} is not 2-D`, w);
    const [N, K] = w.shape;
    const perTensor = sc.nElements === 1;
    if (!perTensor && (sc.shape.length !== 2 || sc.shape[0] !== N)) throw bad(ctx, `weight_scale ${shapeText(sc.shape)} does not have one row per output (${N})`, sc);
    const G = perTensor ? 1 : sc.shape[1];
    const gs = G === 1 ? null : Math.ceil(K / G);
    const s = floatValues(sc, ctx.reader.whole(sc));
    const scales = new Float64Array(N * G);
    for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) scales[n * G + g] = perTensor ? s[0] : s[n * G + g];
    const zeros = new Float64Array(N * G).fill(128);
    const zp = ctx.c.weight_zero_point;
    if (zp) {
      if (zp.nElements !== sc.nElements) throw bad(ctx, `weight_zero_point ${shapeText(zp.shape)} does not match weight_scale ${shapeText(sc.shape)}`, zp);
      const z = integerValues(zp, ctx.reader.whole(zp));
      for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) zeros[n * G + g] = 128 + (perTensor ? z[0] : z[n * G + g]);
    }
    let slab = new Uint8Array(0);
    const e = sc.nbytes / sc.nElements;
    return affineKernel({
      shape: [N, K],
      bits: 8,
      groupSize: gs,
      scheme: `compressed-tensors int8 ${zp ? 'asym' : 'sym'} ${gs ? `g${gs}` : perTensor ? 'per-tensor' : 'per-channel'}`,
      dtype: sc.dtype === 'F32' ? ctx.modelDtype : outputDtypeOf(sc.dtype),
      diagnostics: [],
      groups: G,
      gidx: contiguousGroups(K, gs),
      scales,
      zeros,
      fillCodes(r0, r1, codes) {
        const len = (r1 - r0) * K;
        if (slab.length < len) slab = new Uint8Array(len);
        const b = ctx.reader.range(w, r0 * K, len, slab);
        for (let i = 0; i < len; i++) codes[i] = b[i] ^ 0x80; // int8 -> stored + 128
      },
      codeSpans: (n, k) => [ctx.reader.span('weight', w, n * K + k, 1)],
      paramSpans: (n, g) => [ctx.reader.span('weight_scale', sc, (perTensor ? 0 : n * G + g) * e, e)],
    });
  },
};
