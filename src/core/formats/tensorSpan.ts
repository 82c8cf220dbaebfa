/**
 * How many bytes each tensor occupies in its file. For the types Quant Lens knows, that is the type's size; for an
 * unknown or removed ggml type (the reader gives it nbytes 0) it comes from the layout instead: from the tensor's
 * start to the next tensor's start in the same file (in offset order), or to the end of the file. Undefined when the
 * layout does not tell (another tensor starts at the same byte), so a writer can refuse instead of guessing.
 */
import type { Model } from '../model.ts';
import { isUnknownType } from '../types.ts';

export function storedSpans(model: Model): (number | undefined)[] {
  const starts = new Map<number, number[]>();
  for (const t of model.tensors) {
    const list = starts.get(t.fileIndex) ?? [];
    list.push(t.absoluteOffset);
    starts.set(t.fileIndex, list);
  }
  for (const list of starts.values()) list.sort((a, b) => a - b);
  return model.tensors.map((t) => {
    if (!isUnknownType(t.type)) return t.nbytes;
    const list = starts.get(t.fileIndex)!;
    const next = list.find((s) => s > t.absoluteOffset) ?? model.files[t.fileIndex].size;
    const sharesStart = list.filter((s) => s === t.absoluteOffset).length > 1;
    const span = next - t.absoluteOffset;
    return sharesStart || (span === 0 && t.nElements > 0) ? undefined : span;
  });
}
