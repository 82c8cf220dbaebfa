/**
 * The codebook quantizers of ggml's I-quants IQ1_S and IQ1_M, byte-identical to ggml_quantize_chunk in strict
 * binary32, and the grid tables of the IQ2 and IQ3 searches that run in WebAssembly (IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ3_XXS, IQ3_S: src/core/wasm/assembly/quantizeGrid.ts). Groups of 8 (IQ1) weight magnitudes are snapped to the
 * grid, or to the best of the grid's nearest neighbours of a point off the grid; signs are stored apart.
 */
import type { Quantizer } from '../quantizer.ts';
import { f32ToF16Bits } from '../encode.ts';
import { IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID } from './grids.ts';
import { GgmlType } from '../../types.ts';
import { fr, nearestInt } from '../scalars.ts';

const QK_K = 256;

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
   * (uint16 indices, list[start[u] .. start[u + 1])).
   */
  searchTables(levelCount: number): GridSearchTables {
    const words = 1 << (this.dims * this.bits);
    const mask = (1 << this.bits) - 1;
    const map = Int16Array.from(this.map);
    const start = new Int32Array(words + 1);
    const lists: Int32Array[] = [];
    let total = 0;
    for (let u = 0; u < words; u++) {
      start[u] = total;
      let reachable = this.map[u] < 0;
      for (let k = 0; k < this.dims && reachable; k++) reachable = ((u >> (this.bits * k)) & mask) < levelCount;
      if (!reachable) continue;
      const list = this.neighboursOf(u);
      lists.push(list);
      total += list.length;
    }
    start[words] = total;
    const list = new Uint16Array(total);
    let at = 0;
    for (const l of lists) {
      list.set(l, at);
      at += l.length;
    }
    return { pos: this.pos, map, start, list };
  }
}

/** A grid's tables for the WebAssembly searches (Grid.searchTables). */
export interface GridSearchTables {
  pos: Int8Array;
  map: Int16Array;
  start: Int32Array;
  list: Uint16Array;
}

const searchTables = new Map<GgmlType, GridSearchTables>();
let iq1sGrid: Grid | undefined;

/**
 * The tables of the grid a WebAssembly I-quant search of this type reads (ggml's iq2xs_init_impl: IQ2_XXS and
 * IQ2_XS keep every point at the 2 smallest distances of a word off the grid, IQ2_S at the smallest;
 * iq3xs_init_impl: IQ3_XXS at the 2 smallest, IQ3_S at the 3 smallest; IQ1_S at the 3 smallest), or undefined for a type without one. Built
 * once per type.
 */
export function gridSearchTables(type: GgmlType): GridSearchTables | undefined {
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

const FLT_MAX = fr(3.4028234663852886e38);
const X_P = [fr(-0.875), fr(0.125), fr(1.125)];
const X_M = [fr(-1.125), fr(-0.125), fr(0.875)];

/**
 * iq1_find_best_neighbour2: the neighbour of an off-grid group whose ternary values, shifted by ±1/8 (xg) and
 * scaled, are closest to the weights; writes its levels. (ggml's fallback for the impossible case of no finite
 * distance is not reproduced: the first neighbour is taken.)
 */
function iq1BestNeighbour(
  grid: Grid,
  u: number,
  x: Float32Array,
  xo: number,
  w: Float32Array,
  wo: number,
  scale: number,
  xg: number[],
  L: Int32Array,
  lo: number,
): number {
  let best = FLT_MAX;
  let index = -1;
  const nb = grid.neighboursOf(u);
  for (const j of nb) {
    let d2 = 0;
    for (let i = 0; i < 8; i++) {
      const q = xg[(grid.pos[8 * j + i] - 1) >> 1];
      const diff = fr(fr(scale * q) - x[xo + i]);
      d2 = fr(d2 + fr(fr(w[wo + i] * diff) * diff));
    }
    if (d2 < best) {
      best = d2;
      index = j;
    }
  }
  if (index < 0) index = nb[0];
  for (let i = 0; i < 8; i++) L[lo + i] = (grid.pos[8 * index + i] - 1) >> 1;
  return index;
}

const IQ1M_EPS = fr(1e-7);
const IQ1M_FUDGE = fr(1.1125);
/** qh bits of the delta sign of a 16-weight sub-block's two groups of 8, by shift kind (k < 2: first +; k even: second +) */
const IQ1M_MASKS = [0x00, 0x80, 0x08, 0x88];

/**
 * quantize_row_iq1_m_impl: like IQ1_S, but per 16 weights, with a separate ±1/8 shift for each group of 8 (four
 * shift kinds searched with every split), weights x² without an importance matrix, and a super-scale refit by
 * least squares over the whole block once the 3-bit sub-block scales are chosen.
 */
function iq1m(x: Float32Array, nPerRow: number, imatrix: Float32Array | undefined): Uint8Array {
  const grid = (iq1sGrid ??= new Grid(IQ1S_GRID, [-1, 0, 1], 3));
  const nbl = x.length / QK_K;
  const out = new Uint8Array(nbl * 56);
  const bs = 16;
  const nb = QK_K / bs;
  const scales = new Float32Array(nb);
  const shifts = new Int32Array(nb);
  const weight = new Float32Array(QK_K);
  const index = new Int32Array(2 * nb);
  const L = new Int32Array(bs);
  // per sorted position j and group g (0, 1, 2): w·x±[g]·x and w·x±[g]², for the shifts + (p) and − (m)
  const tp = new Float32Array(3 * bs);
  const tm = new Float32Array(3 * bs);
  const qp = new Float32Array(3 * bs);
  const qm = new Float32Array(3 * bs);
  const low = new Uint8Array(bs);
  // running sums: sumqx[0..3], sumq2[0..3]
  const a = new Float32Array(8);
  const b = new Float32Array(8);
  const add = (s: Float32Array, j: number, g: number) => {
    const k = 3 * j + g;
    const p = tp[k];
    const m = tm[k];
    const p2 = qp[k];
    const m2 = qm[k];
    s[0] = s[0] + p;
    s[3] = s[3] + m;
    s[4] = s[4] + p2;
    s[7] = s[7] + m2;
    if (low[j]) {
      s[1] = s[1] + p;
      s[2] = s[2] + m;
      s[5] = s[5] + p2;
      s[6] = s[6] + m2;
    } else {
      s[1] = s[1] + m;
      s[2] = s[2] + p;
      s[5] = s[5] + m2;
      s[6] = s[6] + p2;
    }
  };
  const c = new Float32Array(8);
  for (let ibl = 0; ibl < nbl; ibl++) {
    const xo = ibl * QK_K;
    const qo = xo % nPerRow;
    const o = ibl * 56;
    let maxScale = 0;
    let sumx2 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 = fr(sumx2 + fr(x[xo + i] * x[xo + i]));
    const sigma2 = fr(fr(2 * sumx2) / QK_K);
    for (let i = 0; i < QK_K; i++) {
      const v = x[xo + i];
      weight[i] = imatrix ? fr(imatrix[qo + i] * fr(Math.sqrt(fr(sigma2 + fr(v * v))))) : fr(v * v);
    }
    index.fill(0);
    for (let ib = 0; ib < nb; ib++) {
      const xb = xo + bs * ib;
      const wo = bs * ib;
      scales[ib] = 0;
      shifts[ib] = 0;
      let max = Math.abs(x[xb]);
      for (let i = 1; i < bs; i++) max = Math.max(max, Math.abs(x[xb + i]));
      if (max < IQ1M_EPS) continue;
      // sort by value (a stable sort, as glibc's merge-sort qsort is for these small arrays)
      const idx = Array.from({ length: bs }, (_, j) => j).sort((p, q) => x[xb + p] - x[xb + q]);
      for (let j = 0; j < bs; j++) {
        const i = idx[j];
        const w = weight[wo + i];
        const v = x[xb + i];
        low[j] = i < bs / 2 ? 1 : 0;
        for (let g = 0; g < 3; g++) {
          const wp = fr(w * X_P[g]);
          const wm = fr(w * X_M[g]);
          tp[3 * j + g] = fr(wp * v);
          tm[3 * j + g] = fr(wm * v);
          qp[3 * j + g] = fr(wp * X_P[g]);
          qm[3 * j + g] = fr(wm * X_M[g]);
        }
      }
      // ggml sums each split afresh in sorted order; the sums over the first i1 and then i2 positions are
      // carried from split to split, which adds the same terms in the same order
      let bestScore = -FLT_MAX;
      let scale = max;
      let besti1 = -1;
      let besti2 = -1;
      let bestK = -1;
      a.fill(0);
      for (let i1 = 0; i1 <= bs; i1++) {
        if (i1 > 0) add(a, i1 - 1, 0);
        b.set(a);
        for (let i2 = i1; i2 <= bs; i2++) {
          if (i2 > i1) add(b, i2 - 1, 1);
          let s0 = b[0],
            s1 = b[1],
            s2 = b[2],
            s3 = b[3],
            s4 = b[4],
            s5 = b[5],
            s6 = b[6],
            s7 = b[7];
          for (let j = i2; j < bs; j++) {
            const k = 3 * j + 2;
            const p = tp[k];
            const m = tm[k];
            const p2 = qp[k];
            const m2 = qm[k];
            s0 = fr(s0 + p);
            s3 = fr(s3 + m);
            s4 = fr(s4 + p2);
            s7 = fr(s7 + m2);
            if (low[j]) {
              s1 = fr(s1 + p);
              s2 = fr(s2 + m);
              s5 = fr(s5 + p2);
              s6 = fr(s6 + m2);
            } else {
              s1 = fr(s1 + m);
              s2 = fr(s2 + p);
              s5 = fr(s5 + m2);
              s6 = fr(s6 + p2);
            }
          }
          c[0] = s0;
          c[1] = s1;
          c[2] = s2;
          c[3] = s3;
          c[4] = s4;
          c[5] = s5;
          c[6] = s6;
          c[7] = s7;
          for (let k = 0; k < 4; k++) {
            const sumqx = c[k];
            const sumq2 = c[4 + k];
            if (sumq2 > 0 && fr(sumqx * sumqx) > fr(bestScore * sumq2)) {
              scale = fr(sumqx / sumq2);
              bestScore = fr(scale * sumqx);
              besti1 = i1;
              besti2 = i2;
              bestK = k;
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || bestK < 0) continue;
      for (let j = 0; j < besti1; j++) L[idx[j]] = 0;
      for (let j = besti1; j < besti2; j++) L[idx[j]] = 1;
      for (let j = besti2; j < bs; j++) L[idx[j]] = 2;
      if (scale < 0) {
        for (let j = 0; j < bs; j++) L[j] = 2 - L[j];
        scale = -scale;
        bestK = 3 - bestK;
      }
      const xs = [bestK < 2 ? X_P : X_M, bestK % 2 === 0 ? X_P : X_M];
      let allOnGrid = true;
      for (let k = 0; k < 2; k++) {
        let u = 0;
        for (let j = 0; j < 8; j++) u |= L[8 * k + j] << (2 * j);
        let gi = grid.index(u);
        if (gi < 0) {
          allOnGrid = false;
          gi = iq1BestNeighbour(grid, u, x, xb + 8 * k, weight, wo + 8 * k, scale, xs[k], L, 8 * k);
        }
        index[2 * ib + k] = gi;
      }
      if (!allOnGrid) {
        let sumqx = 0;
        let sumq2 = 0;
        for (let k = 0; k < 2; k++) {
          const xx = xs[k];
          for (let j = 0; j < 8; j++) {
            const w = weight[wo + 8 * k + j];
            const q = xx[(grid.pos[8 * index[2 * ib + k] + j] - 1) >> 1];
            sumqx = fr(sumqx + fr(fr(w * q) * x[xb + 8 * k + j]));
            sumq2 = fr(sumq2 + fr(fr(w * q) * q));
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = fr(sumqx / sumq2);
      }
      out[o + 2 * ib] = index[2 * ib] & 255;
      out[o + 2 * ib + 1] = index[2 * ib + 1] & 255;
      out[o + 32 + ib] = (index[2 * ib] >> 8) | ((index[2 * ib + 1] >> 8) << 4);
      scales[ib] = scale;
      shifts[ib] = bestK;
      maxScale = Math.max(maxScale, scale);
    }
    if (!maxScale) continue;
    // 3-bit sub-block scales at d = max/15, then d refit to them over the whole block (sub-blocks without a
    // fit count too, as grid point 0 with the + shift)
    let d = fr(maxScale / 15);
    const id = fr(1 / d);
    const sc = [0, 0, 0, 0];
    let sumqx = 0;
    let sumq2 = 0;
    for (let ib = 0; ib < nb; ib++) {
      const l = Math.max(0, Math.min(7, nearestInt(fr(0.5 * fr(fr(id * scales[ib]) - 1)))));
      sc[ib >> 2] |= l << (3 * (ib & 3));
      out[o + 32 + ib] |= IQ1M_MASKS[shifts[ib]];
      const xs = [shifts[ib] < 2 ? X_P : X_M, shifts[ib] % 2 === 0 ? X_P : X_M];
      for (let k = 0; k < 2; k++) {
        const xx = xs[k];
        const g = 8 * index[2 * ib + k];
        for (let j = 0; j < 8; j++) {
          const i = bs * ib + 8 * k + j;
          const w = weight[i];
          const q = fr(xx[(grid.pos[g + j] - 1) >> 1] * (2 * l + 1));
          sumqx = fr(sumqx + fr(fr(w * q) * x[xo + i]));
          sumq2 = fr(sumq2 + fr(fr(w * q) * q));
        }
      }
    }
    if (sumq2 > 0) d = fr(sumqx / sumq2);
    const hd = f32ToF16Bits(fr(d * IQ1M_FUDGE));
    sc[0] |= (hd & 0x000f) << 12;
    sc[1] |= (hd & 0x00f0) << 8;
    sc[2] |= (hd & 0x0f00) << 4;
    sc[3] |= hd & 0xf000;
    for (let k = 0; k < 4; k++) {
      out[o + 48 + 2 * k] = sc[k] & 0xff;
      out[o + 49 + 2 * k] = sc[k] >> 8;
    }
  }
  return out;
}

export const gridQuantizers: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.IQ1_M]: { imatrix: 'used', quantize: (x, _rows, nPerRow, imatrix) => iq1m(x, nPerRow, imatrix) },
};
