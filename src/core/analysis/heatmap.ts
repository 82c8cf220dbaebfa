/**
 * The |w| heatmap: max |w| over a grid of at most width × height cells covering a tensor's rows × columns
 * (GGUF rows are ne[0] long; safetensors rows are the last dimension), in one streaming pass.
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk } from './tensorValues.ts';

export interface Heatmap {
  tensor: string;
  width: number;
  height: number;
  /** max |w| per cell, row-major, height x width. */
  cells: number[];
  max: number;
}

export function computeHeatmap(
  model: Model,
  tensor: TensorInfo,
  width: number,
  height: number,
  options: { onProgress?: (done: number, total: number) => void; isCancelled?: () => boolean; chunkElements?: number } = {},
): Heatmap {
  const cols = Math.max(1, model.format === 'gguf' ? tensor.shape[0] : (tensor.shape[tensor.shape.length - 1] ?? 1));
  const rows = Math.max(1, tensor.nElements / cols);
  const w = Math.max(1, Math.min(width, cols));
  const h = Math.max(1, Math.min(height, rows));
  const cells = new Float64Array(w * h);
  // column c falls in cell column floor(c·w / cols): cell column x covers columns [firstCol[x], firstCol[x + 1])
  const firstCol = Int32Array.from({ length: w + 1 }, (_, x) => Math.ceil((x * cols) / w));
  forEachChunk(
    model,
    tensor,
    (values, first) => {
      const n = values.length;
      let i = 0;
      while (i < n) {
        // the rest of one row, cell by cell: a running max per cell, written back once
        const r = Math.floor((first + i) / cols);
        const c = first + i - r * cols;
        const rowEnd = i + Math.min(n - i, cols - c);
        const base = Math.floor((r * h) / rows) * w;
        for (let x = Math.floor((c * w) / cols); i < rowEnd; x++) {
          const cellEnd = Math.min(rowEnd, i + firstCol[x + 1] - Math.max(c, firstCol[x]));
          let m = cells[base + x];
          for (; i < cellEnd; i++) {
            const a = Math.abs(values[i]);
            if (a > m) m = a;
          }
          cells[base + x] = m;
        }
      }
      options.onProgress?.(first + n, tensor.nElements);
    },
    { isCancelled: options.isCancelled, chunkElements: options.chunkElements },
  );
  let max = 0;
  for (const v of cells) if (Number.isFinite(v) && v > max) max = v;
  return { tensor: tensor.name, width: w, height: h, cells: Array.from(cells), max };
}
