/**
 * The grid tables of ggml's I-quant searches, which run in WebAssembly (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S,
 * IQ1_M: src/core/wasm/assembly/quantizeGrid.ts): each grid's points, the index of a point by its word of levels,
 * and the nearest grid points of every word off the grid that a search can meet.
 */
import { IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID } from './grids.ts';
import { GgmlType } from '../../types.ts';

/**
 * A grid of points (8 coordinates of 2-bit levels for IQ2, 4 of 3-bit levels for IQ3) with coordinates 2l + 1,
 * the index of each point by its word of levels, and lazily computed neighbour lists for words off the grid
 * (ggml's iq2xs_init_impl / iq3xs_init_impl).
 */
export class Grid {
  /** Coordinates 2l + 1 of every grid point, `dims` per point. */
  readonly pos: Int8Array;
  /** grid index by the word of levels, or -1 off the grid */
  private readonly map: Int32Array;
  private readonly neighbours = new Map<number, Int32Array>();

  constructor(
    dequantGrid: Uint8Array | Int8Array,
    levels: number[],
    private readonly nwant: number,
    readonly dims = 8,
    readonly bits = 2,
  ) {
    const size = dequantGrid.length / dims;
    this.map = new Int32Array(1 << (dims * bits)).fill(-1);
    this.pos = new Int8Array(size * dims);
    for (let j = 0; j < size; j++) {
      let u = 0;
      for (let k = 0; k < dims; k++) {
        const l = levels.indexOf(dequantGrid[dims * j + k]);
        this.pos[dims * j + k] = 2 * l + 1;
        u |= l << (bits * k);
      }
      this.map[u] = j;
    }
  }

  index(u: number): number {
    return this.map[u];
  }

  /** The grid points nearest to the off-grid point u: every point at the nwant smallest distances, by index. */
  neighboursOf(u: number): Int32Array {
    let list = this.neighbours.get(u);
    if (list) return list;
    const { dims, bits } = this;
    const mask = (1 << bits) - 1;
    const size = this.pos.length / dims;
    const d2 = new Int32Array(size);
    for (let j = 0; j < size; j++) {
      let d = 0;
      for (let k = 0; k < dims; k++) {
        const diff = this.pos[dims * j + k] - (2 * ((u >> (bits * k)) & mask) + 1);
        d += diff * diff;
      }
      d2[j] = d;
    }
    // every point at each of the nwant smallest distances, nearest first, by index within a distance
    const distances = [...new Set(d2)].sort((a, b) => a - b).slice(0, this.nwant);
    const out: number[] = [];
    for (const d of distances) for (let j = 0; j < size; j++) if (d2[j] === d) out.push(j);
    list = Int32Array.from(out);
    this.neighbours.set(u, list);
    return list;
  }

  /**
   * The tables of the WebAssembly search (assembly/quantizeGrid.ts): the coordinates 2l + 1 (int8), the grid index by
   * word (int16, -1 off the grid), and for each word of levels below `levelCount` that is off the grid its neighbours
   * (uint16 indices, list[start[u] .. start[u + 1])), padded to a multiple of 4 by repeating the last one (a repeat
   * never wins: the search takes a neighbour only when strictly nearer), with their coordinates as float32, four
   * neighbours at a time by coordinate (coords[4·dims·g + 4·i + lane]: coordinate i of neighbour 4g + lane).
   */
  searchTables(levelCount: number): GridSearchTables {
    const { dims, bits } = this;
    const words = 1 << (dims * bits);
    const mask = (1 << bits) - 1;
    const map = Int16Array.from(this.map);
    const start = new Int32Array(words + 1);
    const lists: Int32Array[] = [];
    let total = 0;
    for (let u = 0; u < words; u++) {
      start[u] = total;
      let reachable = this.map[u] < 0;
      for (let k = 0; k < dims && reachable; k++) reachable = ((u >> (bits * k)) & mask) < levelCount;
      if (!reachable) continue;
      const list = this.neighboursOf(u);
      lists.push(list);
      total += Math.ceil(list.length / 4) * 4;
    }
    start[words] = total;
    const list = new Uint16Array(total);
    const coords = new Float32Array(total * dims);
    let at = 0;
    for (const l of lists) {
      const padded = Math.ceil(l.length / 4) * 4;
      for (let n = 0; n < padded; n++) {
        const j = l[Math.min(n, l.length - 1)];
        list[at + n] = j;
        const g = (at + n) >> 2;
        for (let i = 0; i < dims; i++) coords[4 * dims * g + 4 * i + ((at + n) & 3)] = this.pos[dims * j + i];
      }
      at += padded;
    }
    return { pos: this.pos, map, start, list, coords };
  }
}

/** A grid's tables for the WebAssembly searches (Grid.searchTables). */
export interface GridSearchTables {
  pos: Int8Array;
  map: Int16Array;
  start: Int32Array;
  list: Uint16Array;
  coords: Float32Array;
}

const searchTables = new Map<GgmlType, GridSearchTables>();
let iq1sGrid: Grid | undefined;

/**
 * The tables of the grid a WebAssembly I-quant search of this type reads (ggml's iq2xs_init_impl: IQ2_XXS and
 * IQ2_XS keep every point at the 2 smallest distances of a word off the grid, IQ2_S at the smallest;
 * iq3xs_init_impl: IQ3_XXS at the 2 smallest, IQ3_S at the 3 smallest; IQ1_S and IQ1_M at the 3 smallest), or
 * undefined for a type without one. Built once per type.
 */
export function gridSearchTables(type: GgmlType): GridSearchTables | undefined {
  if (type === GgmlType.IQ1_M) return gridSearchTables(GgmlType.IQ1_S); // the same grid
  let t = searchTables.get(type);
  if (t) return t;
  const levels = [8, 25, 43];
  if (type === GgmlType.IQ2_XXS) t = new Grid(IQ2XXS_GRID, levels, 2).searchTables(3);
  else if (type === GgmlType.IQ2_XS) t = new Grid(IQ2XS_GRID, levels, 2).searchTables(3);
  else if (type === GgmlType.IQ2_S) t = new Grid(IQ2S_GRID, levels, 1).searchTables(3);
  else if (type === GgmlType.IQ3_XXS) t = new Grid(IQ3XXS_GRID, [4, 12, 20, 28, 36, 44, 52, 62], 2, 4, 3).searchTables(8);
  else if (type === GgmlType.IQ3_S) t = new Grid(IQ3S_GRID, [1, 3, 5, 7, 9, 11, 13, 15], 3, 4, 3).searchTables(8);
  else if (type === GgmlType.IQ1_S) t = (iq1sGrid ??= new Grid(IQ1S_GRID, [-1, 0, 1], 3)).searchTables(3);
  if (t) searchTables.set(type, t);
  return t;
}
