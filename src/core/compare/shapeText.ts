/**
 * Shapes as Compare shows them. A pairing's shapes are value-source shapes: outermost first, the row length last
 * (row-major, as safetensors and PyTorch write them; a GGUF tensor's ggml ne order reversed), so a GGUF tensor and
 * its Hugging Face counterpart read the same. Every message says that order, since the tensor table shows a GGUF
 * file's shapes in its own ne order (row length first).
 */

/** `[4096 × 11008]`: outermost first. */
export function outermostFirst(shape: readonly number[]): string {
  return `[${shape.join(' × ')}]`;
}

/** What the order is, for a message's header. */
export const SHAPE_ORDER = 'outermost first, row length last';

/** One mismatch: `blk.0.attn_q.weight: [256 × 256] here, [512 × 256] in the reference`. */
export function shapeMismatchText(m: { name: string; shape: readonly number[]; referenceShape: readonly number[] }): string {
  return `${m.name}: ${outermostFirst(m.shape)} here, ${outermostFirst(m.referenceShape)} in the reference`;
}
