/** Decoding with the JavaScript codecs alone (the WebAssembly kernels switched off for the call), for tests. */
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import { setWasmEnabled } from '../../src/core/wasm/kernels.ts';
import { ggmlType } from '../../src/core/types.ts';

export function decodeJs(id: number, raw: Uint8Array, nBlocks: number): Float32Array {
  const out = new Float32Array(nBlocks * ggmlType(id)!.blockSize);
  setWasmEnabled(false);
  try {
    codecForGgmlId(id)!.dequantize(raw, out, nBlocks);
  } finally {
    setWasmEnabled(true);
  }
  return out;
}
