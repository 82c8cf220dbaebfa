/**
 * make_qp_quants, the scale search of ggml's grid quantizers (IQ1_M's and the K-quants'), byte-identical to ggml in
 * strict binary32: every float operation is rounded with `fr` exactly where C rounds to float, in the C source's
 * order. The K-quants' and the legacy types' searches run in WebAssembly (src/core/wasm/assembly/quantize.ts).
 */
import { fr, nearestInt } from './scalars.ts';

export const GROUP_MAX_EPS = fr(1e-15);
export const TENTH = fr(0.1);

/**
 * make_qp_quants: values to codes 0..nmax with weights (K-quant sub-block scales and mins; IQ2 magnitudes). ggml
 * stores the codes in uint8, so a negative code wraps to 256 + code wherever the C reads it back: emulated here.
 */
export function makeQpQuants(n: number, nmax: number, x: Float32Array, L: Int32Array, qw: Float32Array): number {
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i]);
  if (max < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[i] = 0;
    return 0;
  }
  let iscale = fr(nmax / max);
  for (let i = 0; i < n; i++) L[i] = nearestInt(fr(iscale * x[i])) & 0xff;
  const scale = fr(1 / iscale);
  let bestMse = 0;
  for (let i = 0; i < n; i++) {
    const diff = fr(x[i] - fr(scale * L[i]));
    bestMse = fr(bestMse + fr(fr(qw[i] * diff) * diff));
  }
  for (let is = -4; is <= 4; is++) {
    if (is === 0) continue;
    const iscaleIs = fr(fr(fr(TENTH * is) + nmax) / max);
    const scaleIs = fr(1 / iscaleIs);
    let mse = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.min(nmax, nearestInt(fr(iscaleIs * x[i])));
      const diff = fr(x[i] - fr(scaleIs * l));
      mse = fr(mse + fr(fr(qw[i] * diff) * diff));
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.min(nmax, nearestInt(fr(iscale * x[i])));
    L[i] = l & 0xff;
    sumlx = fr(sumlx + fr(fr(qw[i] * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(qw[i] * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = qw[i];
      let slx = fr(sumlx - fr(fr(w * x[i]) * L[i]));
      let sl2 = fr(suml2 - fr(fr(w * L[i]) * L[i]));
      if (slx > 0 && sl2 > 0) {
        const newL = Math.min(nmax, nearestInt(fr(fr(x[i] * sl2) / slx)));
        if (newL !== L[i]) {
          slx = fr(slx + fr(fr(w * x[i]) * newL));
          sl2 = fr(sl2 + fr(fr(w * newL) * newL));
          if (fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[i] = newL & 0xff;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/** Pack 2-bit codes of a 256-block into 64 bytes, ggml's qs layout for Q2_K / Q3_K. */
