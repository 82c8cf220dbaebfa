// AssemblyScript entry of dist/quantizers.wasm (scripts/build-wasm.mjs): ggml's quantizers, with the shared
// allocator. Their TypeScript side is src/core/quant/wasmQuantizers.ts.
export * from './common/memory';
import { quantizeIQ4, quantizeQ2K, quantizeQ3K, quantizeQ45K, quantizeQ6K } from './quantize';
import { quantizeSimple } from './quantizeSimple';
import { quantizeIQ1M, quantizeIQ1S, quantizeIQ2Sub16, quantizeIQ2XXS, quantizeIQ3 } from './quantizeGrid';
export { failedBlock, setGrid } from './quantizeGrid';
import * as T from './generated/layout';

/**
 * ggml_quantize_chunk(type, x, y, 0, nb · weights per block / nPerRow, nPerRow, qw) for a type whose table row says
 * wasmQuantize: nb blocks from the float32 weights at x to y, the importance matrix at qw (0 for none).
 */
export function quantize(type: i32, x: usize, nb: i32, nPerRow: i32, qw: usize, y: usize): void {
  if (quantizeSimple(type, x, nb, nPerRow, qw, y)) return;
  switch (type) {
    case T.TYPE_Q2_K: quantizeQ2K(x, nb, nPerRow, qw, y); break;
    case T.TYPE_Q3_K: quantizeQ3K(x, nb, nPerRow, qw, y); break;
    case T.TYPE_Q4_K: quantizeQ45K(4, x, nb, nPerRow, qw, y); break;
    case T.TYPE_Q5_K: quantizeQ45K(5, x, nb, nPerRow, qw, y); break;
    case T.TYPE_Q6_K: quantizeQ6K(x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ2_XXS: quantizeIQ2XXS(x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ2_XS: quantizeIQ2Sub16(true, x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ2_S: quantizeIQ2Sub16(false, x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ3_XXS: quantizeIQ3(true, x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ3_S: quantizeIQ3(false, x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ1_S: quantizeIQ1S(x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ1_M: quantizeIQ1M(x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ4_NL: quantizeIQ4(32, x, nb, nPerRow, qw, y); break;
    case T.TYPE_IQ4_XS: quantizeIQ4(256, x, nb, nPerRow, qw, y); break;
    default: unreachable();
  }
}
