/** compressed-tensors integer formats (spec §6.2-6.3): pack-quantized int2/4/8 and unpacked int-quantized. */
import { affineKernel, contiguousGroups, isNonMonotone } from './affine.ts';
import { bad, expectShape, int, need, num, readGidx, shapeText } from './checks.ts';
import { asU32, floatValues, integerValues, rowSlabs } from './components.ts';
import { ctWeightArgs } from './ctConfig.ts';
import { outputDtypeOf } from './numeric.ts';
import { plan, type FormatRow } from './table.ts';

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
    if (sc.shape.length !== 2 || sc.shape[0] !== N)
      throw bad(ctx, `weight_scale ${shapeText(sc.shape)} does not have one row per output (${N})`, sc);
    const G = sc.shape[1];
    const strategy = String(args?.strategy ?? (G === 1 ? 'channel' : 'group'));
    const gs = G === 1 ? null : (num(args?.group_size) ?? Math.ceil(K / G));
    if (gs !== null && !ctx.c.weight_g_idx && Math.ceil(K / gs) !== G)
      throw bad(ctx, `weight_scale has ${G} groups, expected ${Math.ceil(K / gs)} for ${K} inputs at group size ${gs}`, sc);
    const zp = ctx.c.weight_zero_point;
    const per = 32 / bits;
    if (zp) expectShape(ctx, zp, [Math.ceil(N / per), G], 'weight_zero_point packed along the outputs');
    else if (args?.symmetric === false) throw bad(ctx, 'asymmetric scheme without weight_zero_point');
    const scheme = (actOrder: boolean) =>
      `compressed-tensors ${int(bits)} ${zp ? 'asym' : 'sym'} ${gs ? `g${gs}` : strategy === 'channel' ? 'per-channel' : strategy}${ctx.c.weight_g_idx ? (actOrder ? ' act-order' : ' g_idx') : ''}`;
    return plan(
      { shape: [N, K], bits, groupSize: gs, scheme: scheme(!!args?.actorder), dtype: outputDtypeOf(sc.dtype), diagnostics: [] },
      () => {
        const gidx = ctx.c.weight_g_idx ? readGidx(ctx, ctx.c.weight_g_idx, K, G) : contiguousGroups(K, gs);
        const offset = 1 << (bits - 1);
        const s = floatValues(sc, ctx.reader.whole(sc));
        const zeros = new Float64Array(N * G).fill(offset);
        if (zp) {
          const z = asU32(ctx.reader.whole(zp));
          for (let n = 0; n < N; n++)
            for (let g = 0; g < G; g++) zeros[n * G + g] = (z[Math.floor(n / per) * G + g] >>> ((n % per) * bits)) & ((1 << bits) - 1);
        }
        const rowBytes = words * 4;
        const mask = (1 << bits) - 1;
        const slab = rowSlabs(ctx.reader, wp, rowBytes);
        const actOrder = isNonMonotone(gidx);
        return affineKernel({
          shape: [N, K],
          bits,
          groupSize: gs,
          scheme: scheme(actOrder),
          dtype: outputDtypeOf(sc.dtype),
          diagnostics: actOrder ? ['act-order: weight_g_idx is non-monotone'] : [],
          groups: G,
          gidx,
          scales: Float64Array.from({ length: N * G }, (_, i) => s[i]),
          zeros,
          packedCodes: { words: (r0, r1) => asU32(slab(r0, r1)), wordsPerRow: words, bits },
          fillCodes(r0, r1, codes) {
            const R = r1 - r0;
            const w = asU32(slab(r0, r1));
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
    );
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
    if (!perTensor && (sc.shape.length !== 2 || sc.shape[0] !== N))
      throw bad(ctx, `weight_scale ${shapeText(sc.shape)} does not have one row per output (${N})`, sc);
    const G = perTensor ? 1 : sc.shape[1];
    const gs = G === 1 ? null : Math.ceil(K / G);
    const zp = ctx.c.weight_zero_point;
    if (zp && zp.nElements !== sc.nElements)
      throw bad(ctx, `weight_zero_point ${shapeText(zp.shape)} does not match weight_scale ${shapeText(sc.shape)}`, zp);
    const scheme = `compressed-tensors int8 ${zp ? 'asym' : 'sym'} ${gs ? `g${gs}` : perTensor ? 'per-tensor' : 'per-channel'}`;
    const dtype = sc.dtype === 'F32' ? ctx.modelDtype : outputDtypeOf(sc.dtype);
    return plan({ shape: [N, K], bits: 8, groupSize: gs, scheme, dtype, diagnostics: [] }, () => {
      const s = floatValues(sc, ctx.reader.whole(sc));
      const scales = new Float64Array(N * G);
      for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) scales[n * G + g] = perTensor ? s[0] : s[n * G + g];
      const zeros = new Float64Array(N * G).fill(128);
      if (zp) {
        const z = integerValues(zp, ctx.reader.whole(zp));
        for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) zeros[n * G + g] = 128 + (perTensor ? z[0] : z[n * G + g]);
      }
      const slab = rowSlabs(ctx.reader, w, K);
      const e = sc.nbytes / sc.nElements;
      return affineKernel({
        shape: [N, K],
        bits: 8,
        groupSize: gs,
        scheme,
        dtype,
        diagnostics: [],
        groups: G,
        gidx: contiguousGroups(K, gs),
        scales,
        zeros,
        fillCodes(r0, r1, codes) {
          const b = slab(r0, r1);
          for (let i = 0; i < b.length; i++) codes[i] = b[i] ^ 0x80; // int8 -> stored + 128
        },
        codeSpans: (n, k) => [ctx.reader.span('weight', w, n * K + k, 1)],
        paramSpans: (n, g) => [ctx.reader.span('weight_scale', sc, (perTensor ? 0 : n * G + g) * e, e)],
      });
    });
  },
};
