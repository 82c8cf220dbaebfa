/**
 * The |w| heatmap: max |w| over a grid of at most width × height cells covering a tensor's rows × columns
 * (GGUF rows are ne[0] long; safetensors rows are the last dimension), in one streaming pass. Any value source
 * maps the same way (a logical weight: its dequantized [out, in] values, `heatmapOf`).
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk, type Values } from './tensorValues.ts';
import { QuantLensError } from '../errors.ts';
import { rowLengthOf, type ValueSource } from './valueSource.ts';

export interface Heatmap {
  tensor: string;
  width: number;
  height: number;
  /** max |w| per cell, row-major, height x width. */
  cells: number[];
  max: number;
  /** The tensor's rows and row length: cell (x, y) covers rows [⌈y·rows/height⌉, ⌈(y+1)·rows/height⌉), columns likewise. */
  rows: number;
  columns: number;
}

type HeatmapOptions = { onProgress?: (done: number, total: number) => void; isCancelled?: () => boolean; chunkElements?: number };

export function computeHeatmap(model: Model, tensor: TensorInfo, width: number, height: number, options: HeatmapOptions = {}): Heatmap {
  return paint(tensor.name, rowLengthOf(model, tensor), tensor.nElements, width, height, options, (onChunk) =>
    forEachChunk(model, tensor, onChunk, { isCancelled: options.isCancelled, chunkElements: options.chunkElements }),
  );
}

/** The heatmap of a value source, read in chunks of whole rows. */
export function heatmapOf(source: ValueSource, width: number, height: number, options: HeatmapOptions = {}): Heatmap {
  const step = Math.max(1, Math.floor((options.chunkElements ?? 1 << 20) / source.rowLength));
  return paint(source.name, source.rowLength, source.nElements, width, height, options, (onChunk) => {
    for (let r = 0; r < source.rows; r += step) {
      if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while mapping ${source.name}`);
      onChunk(source.readRows(r, Math.min(step, source.rows - r)), r * source.rowLength);
    }
  });
}

/** max |w| per cell over the chunks `each` hands over (values and the index of their first element). */
function paint(
  name: string,
  rowLength: number,
  nElements: number,
  width: number,
  height: number,
  options: HeatmapOptions,
  each: (onChunk: (values: Values, first: number) => void) => void,
): Heatmap {
  const cols = Math.max(1, rowLength);
  const rows = Math.max(1, nElements / cols);
  const w = Math.max(1, Math.min(width, cols));
  const h = Math.max(1, Math.min(height, rows));
  const cells = new Float64Array(w * h);
  // column c falls in cell column floor(c·w / cols): cell column x covers columns [firstCol[x], firstCol[x + 1])
  const firstCol = Int32Array.from({ length: w + 1 }, (_, x) => Math.ceil((x * cols) / w));
  each((values, first) => {
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
    options.onProgress?.(first + n, nElements);
  });
  let max = 0;
  for (const v of cells) if (Number.isFinite(v) && v > max) max = v;
  return { tensor: name, width: w, height: h, cells: Array.from(cells), max, rows, columns: cols };
}
