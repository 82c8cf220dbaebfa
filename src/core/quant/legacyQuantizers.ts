/**
 * Reference quantizers of ggml's legacy types (quantize_row_q4_0_ref ... q5_1_ref), byte-identical in strict
 * binary32: every float operation is rounded with Math.fround as C rounds it, and C's float -> int casts
 * truncate toward zero.
 */
import type { Quantizer } from './quantizers.ts';
import { f32ToF16Bits } from './encode.ts';
import { QuantLensError } from '../errors.ts';

const fr = Math.fround;
const QK = 32;

function putF16(out: Uint8Array, at: number, x: number): void {
  const h = f32ToF16Bits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
}

/** The value of largest magnitude (first one wins on ties), as ggml's symmetric legacy quantizers pick it. */
function signedAbsMax(x: Float32Array, from: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j];
    const a = Math.abs(v);
    if (amax < a) {
      amax = a;
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, from: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function q4_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const d = fr(signedAbsMax(x, from) / -8);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 18, d);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(x[from + j] * id);
      const x1 = fr(x[from + QK / 2 + j] * id);
      const xi0 = Math.min(15, Math.trunc(fr(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(fr(x1 + 8.5)));
      out[i * 18 + 2 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

function q4_1(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 20);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const [min, max] = minMax(x, from);
    const d = fr(fr(max - min) / 15);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 20, d);
    putF16(out, i * 20 + 2, min);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(fr(x[from + j] - min) * id);
      const x1 = fr(fr(x[from + QK / 2 + j] - min) * id);
      const xi0 = Math.min(15, Math.trunc(fr(x0 + 0.5)));
      const xi1 = Math.min(15, Math.trunc(fr(x1 + 0.5)));
      out[i * 20 + 4 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

function putQh(out: Uint8Array, at: number, qh: number): void {
  out[at] = qh & 0xff;
  out[at + 1] = (qh >>> 8) & 0xff;
  out[at + 2] = (qh >>> 16) & 0xff;
  out[at + 3] = (qh >>> 24) & 0xff;
}

function q5_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 22);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const d = fr(signedAbsMax(x, from) / -16);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 22, d);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(x[from + j] * id);
      const x1 = fr(x[from + QK / 2 + j] * id);
      const xi0 = Math.min(31, Math.trunc(fr(x0 + 16.5)));
      const xi1 = Math.min(31, Math.trunc(fr(x1 + 16.5)));
      out[i * 22 + 6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >>> 4) << j;
      qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
    }
    putQh(out, i * 22 + 2, qh);
  }
  return out;
}

function q5_1(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 24);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const [min, max] = minMax(x, from);
    const d = fr(fr(max - min) / 31);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 24, d);
    putF16(out, i * 24 + 2, min);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(fr(x[from + j] - min) * id);
      const x1 = fr(fr(x[from + QK / 2 + j] - min) * id);
      const xi0 = Math.trunc(fr(x0 + 0.5)) & 0xff;
      const xi1 = Math.trunc(fr(x1 + 0.5)) & 0xff;
      out[i * 24 + 8 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >>> 4) << j;
      qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
    }
    putQh(out, i * 24 + 4, qh);
  }
  return out;
}

/** Without an importance matrix ggml_quantize_chunk uses the _ref quantizers for these types. */
export const legacyQuantizers: Record<number, Quantizer> = {
  2: { imatrix: 'unsupported', quantize: (x, _r, _n, imatrix) => (imatrix ? unsupportedImatrix('Q4_0') : q4_0(x)) },
  3: { imatrix: 'unsupported', quantize: (x, _r, _n, imatrix) => (imatrix ? unsupportedImatrix('Q4_1') : q4_1(x)) },
  6: { imatrix: 'unsupported', quantize: (x, _r, _n, imatrix) => (imatrix ? unsupportedImatrix('Q5_0') : q5_0(x)) },
  7: { imatrix: 'unsupported', quantize: (x, _r, _n, imatrix) => (imatrix ? unsupportedImatrix('Q5_1') : q5_1(x)) },
};

function unsupportedImatrix(type: string): never {
  throw new QuantLensError('not-decodable', `${type} with an importance matrix is not implemented yet`);
}
