/**
 * Chunks of whole rows of every changed tensor, in file order, with up to `inFlight` of them being worked on ahead
 * of the one the writer waits for (across tensor boundaries, so that small tensors keep every helper thread busy
 * too). A chunk's source values are read when its work starts, so memory stays at `inFlight` chunks. A chunk never
 * spans two matrices of a 3-D tensor (`rowsPerMatrix`), so each expert's chunks can take that expert's imatrix.
 */
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { readTensorValues } from '../analysis/tensorValues.ts';

/** Rows [firstRow, firstRow + nRows) of one change's tensor. */
export interface Chunk<C> {
  change: C;
  firstRow: number;
  nRows: number;
  rowLength: number;
}

export class ChunkPipeline<C extends { tensor: TensorInfo }, T> {
  private readonly chunks: Chunk<C>[] = [];
  private readonly started: { chunk: Chunk<C>; values: Float32Array; result: Promise<T> }[] = [];
  private nextToStart = 0;

  constructor(
    private readonly model: Model,
    changes: C[],
    rowLengthOf: (change: C) => number,
    private readonly work: (chunk: Chunk<C>, values: Float32Array) => Promise<T>,
    private readonly inFlight: number,
    chunkElements: number,
    rowsPerMatrixOf?: (change: C) => number,
  ) {
    for (const change of changes) {
      const rowLength = rowLengthOf(change);
      const rows = change.tensor.nElements / rowLength;
      const matrixRows = Math.max(1, rowsPerMatrixOf?.(change) ?? rows);
      const step = Math.max(1, Math.floor(chunkElements / rowLength));
      for (let m = 0; m < rows; m += matrixRows) {
        const end = Math.min(rows, m + matrixRows);
        for (let r = m; r < end; r += step) this.chunks.push({ change, firstRow: r, nRows: Math.min(step, end - r), rowLength });
      }
    }
  }

  /** The next chunk in file order: its source values and what its work gave. */
  async next(): Promise<{ chunk: Chunk<C>; values: Float32Array; result: T }> {
    // let the event loop run between chunks, so that a signal or a cancel is seen during a long write
    await new Promise((resolve) => setImmediate(resolve));
    while (this.nextToStart < this.chunks.length && this.started.length < Math.max(1, this.inFlight))
      this.start(this.chunks[this.nextToStart++]);
    const oldest = this.started.shift();
    if (!oldest) throw new QuantLensError('io', 'no chunk left to write');
    return { chunk: oldest.chunk, values: oldest.values, result: await oldest.result };
  }

  private start(chunk: Chunk<C>): void {
    const values = readTensorValues(this.model, chunk.change.tensor, chunk.firstRow * chunk.rowLength, chunk.nRows * chunk.rowLength);
    const result = this.work(chunk, values);
    result.catch(() => undefined); // a chunk still in flight when another fails is not an unhandled rejection
    this.started.push({ chunk, values, result });
  }
}
