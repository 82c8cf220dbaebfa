/** GPTQ (spec §2): v1 (`gptq`, zeros stored minus one) and v2 (`gptq_v2`), 2/3/4/8-bit, act-order g_idx, GPTQModel `dynamic`. */
import { QuantLensError } from '../errors.ts';
import { affineKernel, contiguousGroups, isNonMonotone } from './affine.ts';
import { bad, int, need, num, readGidx, shapeText, VALID_BITS } from './checks.ts';
import { asU32, columnSlabs, floatValues } from './components.ts';
import { outputDtypeOf, streamField } from './numeric.ts';
import { plan, type BuildContext, type FormatRow } from './table.ts';

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

const NO_CONFIG = 'no config: GPTQ v1 zero points (stored z - 1) assumed';

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
    // fingerprint: g_idx is GPTQ's own; else qweight [K·b/32, N] and scales [G, N] share N. Without scales the
    // tensors are still a quantized weight (flagged: missing scales), so GPTQ, the most common, takes them.
    if (c.g_idx || !c.scales) return true;
    return c.qweight!.shape[1] === c.scales.shape[1];
  },
  build(ctx) {
    const qc = gptqModuleConfig(ctx);
    const qw = need(ctx, 'qweight');
    const qz = need(ctx, 'qzeros');
    const sc = need(ctx, 'scales');
    const format = String(qc.checkpoint_format ?? qc.format ?? 'gptq').toLowerCase();
    if (format !== 'gptq' && format !== 'gptq_v2')
      throw new QuantLensError(
        'not-decodable',
        `${ctx.name}: GPTQ checkpoint_format ${JSON.stringify(format)} (repacked for a kernel) is not decodable here`,
      );
    const v1 = format === 'gptq';
    if (qc.pack_dtype !== undefined && qc.pack_dtype !== 'int32' && qc.pack_dtype !== 'torch.int32')
      throw new QuantLensError(
        'not-decodable',
        `${ctx.name}: GPTQ pack_dtype ${JSON.stringify(qc.pack_dtype)} (words other than int32) is not decoded here`,
      );
    if (qw.shape.length !== 2 || sc.shape.length !== 2 || qz.shape.length !== 2)
      throw bad(
        ctx,
        `qweight, qzeros and scales must be 2-D (got ${shapeText(qw.shape)}, ${shapeText(qz.shape)}, ${shapeText(sc.shape)})`,
        qw,
      );
    const N = qw.shape[1];
    if (sc.shape[1] !== N)
      throw bad(ctx, `scales ${shapeText(sc.shape)} and qweight ${shapeText(qw.shape)} disagree on the output size`, sc);
    let bits = num(qc.bits);
    if (bits === undefined) bits = ctx.c.g_idx ? (32 * qw.shape[0]) / ctx.c.g_idx.shape[0] : (32 * qz.shape[1]) / N;
    if (!VALID_BITS.has(bits)) throw bad(ctx, `GPTQ bits ${bits} is not 2, 3, 4 or 8`, qw);
    const K = (qw.shape[0] * 32) / bits;
    if (!Number.isInteger(K)) throw bad(ctx, `qweight has ${qw.shape[0]} packed rows, not a whole number of ${bits}-bit columns`, qw);
    if (ctx.c.g_idx && ctx.c.g_idx.shape[0] !== K)
      throw bad(
        ctx,
        `config bits ${bits} give ${K} input columns from qweight ${shapeText(qw.shape)}, but g_idx has ${ctx.c.g_idx.shape[0]}`,
        ctx.c.g_idx,
      );
    const zWords = Math.ceil((N * bits) / 32);
    if (qz.shape[1] !== zWords)
      throw bad(
        ctx,
        `qzeros ${shapeText(qz.shape)} holds ${(qz.shape[1] * 32) / bits} ${bits}-bit zeros per group, expected ${N} (${zWords} words): config bits ${bits} contradict the packed shapes`,
        qz,
      );
    const G = sc.shape[0];
    let gs = num(qc.group_size);
    if (gs === undefined || gs <= 0) gs = G === 1 ? -1 : Math.ceil(K / G);
    const wantG = gs > 0 ? Math.ceil(K / gs) : 1;
    if (!ctx.c.g_idx && G !== wantG) throw bad(ctx, `scales has ${G} groups, expected ${wantG} for ${K} inputs at group size ${gs}`, sc);
    if (qz.shape[0] !== G) throw bad(ctx, `qzeros has ${qz.shape[0]} groups but scales has ${G}`, qz);
    return plan(
      {
        shape: [N, K],
        bits,
        groupSize: gs > 0 ? gs : null,
        scheme: `GPTQ${v1 ? '' : ' v2'} ${int(bits)}${typeof qc.sym === 'boolean' ? (qc.sym ? ' sym' : ' asym') : ''} ${gs > 0 ? `g${gs}` : 'per-channel'}${qc.desc_act === true ? ' act-order' : ''}`,
        dtype: outputDtypeOf(sc.dtype),
        diagnostics: ctx.detection.family ? [] : [NO_CONFIG],
      },
      () => {
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
            const at =
              o.origins
                .slice(0, 4)
                .map(([g, n]) => `(g ${g}, n ${n})`)
                .join(', ') + (o.origins.length > 4 ? ', ...' : '');
            diagnostics.push(
              `v1 zero-point overflow: ${o.origins.length} z=0 field(s) stored as -1 at ${at} (read ${maxq}, decoded z = ${maxq + 1})${o.collateral ? `, which set ${o.collateral} higher field(s) of the same words to ${maxq} too` : ''}: lossy checkpoint`,
            );
          }
        }
        if (actOrder) diagnostics.push('act-order: g_idx is non-monotone (desc_act)');
        if (!ctx.detection.family) diagnostics.push(NO_CONFIG);
        const rowBytes = N * 4;
        const P = qw.shape[0];
        const slab = columnSlabs(ctx.reader, qw, P, rowBytes);
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
          storedOrder: {
            kind: 'gptq',
            packedRows: P,
            bits,
            band: (p0: number, p1: number) => asU32(ctx.reader.range(qw, p0 * rowBytes, (p1 - p0) * rowBytes)),
          },
          ...(32 % bits === 0
            ? { packedCodes: { columnWords: (r0: number, r1: number) => asU32(slab(r0 * 4, r1 * 4)), packedRows: P, bits } }
            : {}),
          fillCodes(r0, r1, codes) {
            const R = r1 - r0;
            const w = asU32(slab(r0 * 4, r1 * 4));
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
    );
  },
};

/**
 * Stored v1 zero fields equal to maxq: AutoGPTQ packs z = 0 as -1 and ORs 0xFFFFFFFF in, so every higher field of
 * that word reads maxq as well. In each word the run of maxq fields reaching its top field is one z=0 (its lowest
 * field) plus collateral; any other maxq field is a z=0 of its own. (3-bit fields straddle words: each counts.)
 */
function v1Overflow(
  zw: Uint32Array,
  G: number,
  N: number,
  bits: number,
  zWords: number,
): { origins: [number, number][]; collateral: number } {
  const maxq = (1 << bits) - 1;
  const origins: [number, number][] = [];
  let collateral = 0;
  const per = 32 % bits === 0 ? 32 / bits : 0;
  for (let g = 0; g < G; g++) {
    for (let n = 0; n < N; n++) {
      if (streamField(zw, n, bits, g * zWords) !== maxq) continue;
      if (per && n % per !== 0 && streamField(zw, n - 1, bits, g * zWords) === maxq) {
        let top = true;
        for (let m = n; m < Math.min(N, (Math.floor(n / per) + 1) * per); m++)
          if (streamField(zw, m, bits, g * zWords) !== maxq) top = false;
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
