// AssemblyScript (part of dist/quantizers.wasm): the grid searches of ggml's I-quants. IQ2_XXS (32-weight
// sub-blocks, quantize_row_iq2_xxs_impl), IQ2_XS and IQ2_S (16-weight sub-blocks, quantize_row_iq2_xs_impl /
// quantize_row_iq2_s_impl): groups of 8 magnitudes scaled to odd levels 2l + 1 (l in 0..2). IQ3_XXS and IQ3_S
// (quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl): groups of 4 magnitudes, l in 0..7. Each group is snapped
// to the grid, or to the best of the grid's nearest neighbours of a word off the grid. The grid tables come from
// src/core/quant/iquants/gridTables.ts (Grid.searchTables) through setGrid before each call. IQ1_S and IQ1_M
// (quantize_row_iq1_s_impl / quantize_row_iq1_m_impl): groups of 8 ternary levels on a 2048-point grid.
import { f32ToF16 } from './common/half';
import { makeQp, nearestInt, nearestInt4 } from './quantize';
import * as T from './generated/layout';

const QK_K = 256;
const GROUP_MAX_EPS: f32 = 1e-15;
const K_MAX_Q = 3;
const FLT_MAX: f32 = 3.4028234663852886e38;
/** 2·kMaxQ − 1, the top odd level */
const TOP: f32 = 5;

/** Coordinates 2l + 1 (int8, 8 per point), grid index by word of levels (int16, -1 off the grid), neighbours. */
let gridPos: usize = 0;
let gridMap: usize = 0;
/** For a word u off the grid, its neighbours are the uint16 indices nbrList[nbrStart[u] .. nbrStart[u + 1]). */
let nbrStart: usize = 0;
let nbrList: usize = 0;
/** The neighbours' coordinates 2l + 1 as float32, four neighbours at a time: coordinate i of neighbour 4g + lane at
 * nbrCoords + 16·(dims·g + i) + 4·lane (the lists are padded to multiples of 4 by repeating their last neighbour). */
let nbrCoords: usize = 0;

/** The tables of the grid the next quantize call searches (Grid.searchTables in iquants/gridTables.ts). */
export function setGrid(pos: usize, map: usize, start: usize, list: usize, coords: usize): void {
  nbrCoords = coords;
  gridPos = pos;
  gridMap = map;
  nbrStart = start;
  nbrList = list;
}

/**
 * Set where ggml asserts (NaN or infinite weights): a word off the grid with no neighbour within FLT_MAX, or (IQ2_XS,
 * IQ2_S) a sub-block scale that is not >= 0.
 */
let aborted = false;
let stoppedAt = -1;

/** The block (from the last call's first) where the last call stopped, as ggml aborts there, or -1. */
export function failedBlock(): i32 {
  return stoppedAt;
}

const WEIGHT: usize = memory.data(32 * 4, 16);
const WAUX: usize = memory.data(32 * 4, 16);
const XVAL: usize = memory.data(32 * 4, 16);
const LBEST: usize = memory.data(32 * 4, 16);
const LAUX: usize = memory.data(32 * 4, 16);
const QP: usize = memory.data(32, 16);
const SCALES: usize = memory.data(16 * 4, 16);
const SIGNS: usize = memory.data(4 * 4, 16);
const ONGRID: usize = memory.data(2 * 4, 16);
const ONGRIDAUX: usize = memory.data(2 * 4, 16);

@inline function ldf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
@inline function stf(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}
@inline function ldi(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}
@inline function sti(p: usize, i: i32, v: i32): void {
  store<i32>(p + (<usize>i << 2), v);
}
@inline function gridIndex(u: i32): i32 {
  return <i32>load<i16>(gridMap + (<usize>u << 1));
}
/** Level i of grid point gi, of `dims` coordinates (8 for IQ2, 4 for IQ3). */
@inline function gridLevel(gi: i32, i: i32, dims: i32 = 8): i32 {
  return (<i32>load<i8>(gridPos + <usize>(gi * dims) + <usize>i) - 1) >> 1;
}
/** MAX(0, MIN(top, nearest_int(0.5·(id·x − 1)))) */
@inline function level(id: f32, x: f32, top: i32 = K_MAX_Q - 1): i32 {
  const l = nearestInt(<f32>0.5 * (id * x - <f32>1));
  return l < 0 ? 0 : l > top ? top : l;
}

/** The group's magnitudes and weights, each splatted to four lanes (bestNeighbour: XVAL and WAUX, 32 at most). */
const XSPLAT: usize = memory.data(32 * 16, 16);
const WSPLAT: usize = memory.data(32 * 16, 16);

/** Splats the sub-block's n magnitudes (XVAL) and weights (WAUX) for bestNeighbour, once for all its searches. */
function splatSubBlock(n: i32): void {
  for (let i = 0; i < n; i++) {
    v128.store(XSPLAT + (<usize>i << 4), f32x4.splat(ldf(XVAL, i)));
    v128.store(WSPLAT + (<usize>i << 4), f32x4.splat(ldf(WAUX, i)));
  }
}

/**
 * ggml's pick from the lanes' least distances `best` and their list positions `at`: the first neighbour of the least
 * distance, that is of the lanes' bests the least (when below FLT_MAX: a lane has a neighbour exactly then), and of
 * the lanes at that distance the first position; -1 for none.
 */
function firstOfLeast(best: v128, at: v128): i32 {
  let m = f32x4.pmin(best, i32x4.shuffle(best, best, 2, 3, 0, 1));
  m = f32x4.pmin(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  if (!(f32x4.extract_lane(m, 0) < FLT_MAX)) return -1;
  let first = v128.bitselect(at, i32x4.splat(i32.MAX_VALUE), f32x4.eq(best, m));
  first = i32x4.min_s(first, i32x4.shuffle(first, first, 2, 3, 0, 1));
  first = i32x4.min_s(first, i32x4.shuffle(first, first, 1, 0, 3, 2));
  return <i32>load<u16>(nbrList + (<usize>i32x4.extract_lane(first, 0) << 1));
}

/**
 * iq2_find_best_neighbour: of u's neighbours, the least Σ w·(scale·q − x)² over the 8 values at o, the first of
 * equal ones; writes its levels to L. Four neighbours at a time, one per lane: each lane sums its terms in ggml's
 * order, so every distance is ggml's. None below FLT_MAX (NaN or infinite weights): ggml asserts, so the call stops
 * (aborted).
 */
@inline function bestNeighbour(u: i32, o: i32, scale: f32, L: usize): i32 {
  const from = ldi(nbrStart, u);
  const to = ldi(nbrStart, u + 1);
  const xs = XSPLAT + (<usize>o << 4);
  const ws = WSPLAT + (<usize>o << 4);
  const sv = f32x4.splat(scale);
  // each lane's least distance so far (ggml's start FLT_MAX: a distance that overflows to +Inf is never taken) and
  // the list position of its first neighbour at that distance (-1: none); a lane takes a distance only when strictly
  // below its best, as ggml's scan does
  let best = f32x4.splat(FLT_MAX);
  let at = i32x4.splat(-1);
  for (let n = from; n < to; n += 4) {
    const c = nbrCoords + (<usize>n << 5);
    let d2 = f32x4.splat(0);
    for (let i = 0; i < 8; i++) {
      const diff = f32x4.sub(f32x4.mul(sv, v128.load(c + (<usize>i << 4))), v128.load(xs + (<usize>i << 4)));
      d2 = f32x4.add(d2, f32x4.mul(f32x4.mul(v128.load(ws + (<usize>i << 4)), diff), diff));
    }
    const below = f32x4.lt(d2, best);
    best = v128.bitselect(d2, best, below);
    at = v128.bitselect(i32x4.add(i32x4.splat(n), i32x4(0, 1, 2, 3)), at, below);
  }
  const index = firstOfLeast(best, at);
  if (index < 0) aborted = true;
  else for (let i = 0; i < 8; i++) sti(L, o + i, gridLevel(index, i));
  return index;
}

/**
 * iq3_find_best_neighbour: bestNeighbour for the 4 values at o of a grid of 4 coordinates, their magnitudes and
 * weights held in registers across the scan. Each distance starts from its first term: ggml adds that to 0, which
 * changes only a -0 to +0, equal in every comparison (and the distances are only compared).
 */
@inline function bestNeighbour4(u: i32, o: i32, scale: f32, L: usize): i32 {
  const from = ldi(nbrStart, u);
  const to = ldi(nbrStart, u + 1);
  const xs = XSPLAT + (<usize>o << 4);
  const ws = WSPLAT + (<usize>o << 4);
  const x0 = v128.load(xs);
  const x1 = v128.load(xs + 16);
  const x2 = v128.load(xs + 32);
  const x3 = v128.load(xs + 48);
  const w0 = v128.load(ws);
  const w1 = v128.load(ws + 16);
  const w2 = v128.load(ws + 32);
  const w3 = v128.load(ws + 48);
  const sv = f32x4.splat(scale);
  // the lanes as in bestNeighbour; pos: the list positions of this step's four neighbours
  let best = f32x4.splat(FLT_MAX);
  let at = i32x4.splat(-1);
  let pos = i32x4.add(i32x4.splat(from), i32x4(0, 1, 2, 3));
  for (let n = from; n < to; n += 4) {
    const c = nbrCoords + (<usize>n << 4);
    const e0 = f32x4.sub(f32x4.mul(sv, v128.load(c)), x0);
    const e1 = f32x4.sub(f32x4.mul(sv, v128.load(c + 16)), x1);
    const e2 = f32x4.sub(f32x4.mul(sv, v128.load(c + 32)), x2);
    const e3 = f32x4.sub(f32x4.mul(sv, v128.load(c + 48)), x3);
    let d2 = f32x4.add(f32x4.mul(f32x4.mul(w0, e0), e0), f32x4.mul(f32x4.mul(w1, e1), e1));
    d2 = f32x4.add(d2, f32x4.mul(f32x4.mul(w2, e2), e2));
    d2 = f32x4.add(d2, f32x4.mul(f32x4.mul(w3, e3), e3));
    const below = f32x4.lt(d2, best);
    best = v128.bitselect(d2, best, below);
    at = v128.bitselect(pos, at, below);
    pos = i32x4.add(pos, i32x4.splat(4));
  }
  const index = firstOfLeast(best, at);
  if (index < 0) aborted = true;
  else {
    // the levels (2l + 1 - 1) / 2 of its coordinates
    const q = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(gridPos + (<usize>index << 2))));
    v128.store(L + (<usize>o << 2), i32x4.shr_s(i32x4.sub(q, i32x4.splat(1)), 1));
  }
  return index;
}

/** Levels of the 8 magnitudes at o scaled by id into L; their word. */
@inline function levels8(id: f32, o: i32, L: usize): i32 {
  let u = 0;
  for (let i = 0; i < 8; i++) {
    const l = level(id, ldf(XVAL, o + i));
    sti(L, o + i, l);
    u |= l << (2 * i);
  }
  return u;
}

/** Signs of the 8 weights at x (an even count of minus signs: the least important weight flipped), magnitudes to XVAL + o. */
function evenSigns(x: usize, o: i32): i32 {
  let nflip = 0;
  let s = 0;
  for (let i = 0; i < 8; i++) {
    const v = ldf(x, i);
    if (v >= 0) stf(XVAL, o + i, v);
    else {
      stf(XVAL, o + i, -v);
      nflip++;
      s |= 1 << i;
    }
  }
  if (nflip & 1) {
    let imin = 0;
    let min: f32 = ldf(WEIGHT, o) * ldf(x, 0) * ldf(x, 0);
    for (let i = 1; i < 8; i++) {
      const v = ldf(x, i);
      const ax: f32 = ldf(WEIGHT, o + i) * v * v;
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    stf(XVAL, o + imin, -ldf(XVAL, o + imin));
    s ^= 1 << imin;
  }
  return s & 127;
}

/**
 * All 8 signs of the weights at x (bit i set where x_i >= 0 fails, NaN too), magnitudes to XVAL + o as ggml takes
 * them: x where x >= 0, else -x (the sign flipped, of a NaN too).
 */
function allSigns(x: usize, o: i32): i32 {
  const zero = f32x4.splat(0);
  const a = v128.load(x);
  const b = v128.load(x + 16);
  const ga = f32x4.ge(a, zero);
  const gb = f32x4.ge(b, zero);
  const m = XVAL + (<usize>o << 2);
  v128.store(m, v128.bitselect(a, f32x4.neg(a), ga));
  v128.store(m + 16, v128.bitselect(b, f32x4.neg(b), gb));
  return (i32x4.bitmask(ga) | (i32x4.bitmask(gb) << 4)) ^ 0xff;
}

/** Σ w·x·q and Σ w·q² of the n codes q = 2l + 1 at L; Σ w·q² in sumq2Of. */
let sumq2Of: f32 = 0;
@inline function sumqx(n: i32, L: usize): f32 {
  let sqx: f32 = 0;
  let sq2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const w = ldf(WEIGHT, i);
    const q = <f32>((ldi(L, i) << 1) | 1);
    sqx += w * ldf(XVAL, i) * q;
    sq2 += w * q * q;
  }
  sumq2Of = sq2;
  return sqx;
}

/** quantize_row_iq2_xxs_impl for nb super-blocks at x0 (rows of nPerRow, importance matrix qw0) to y0. */
export function quantizeIQ2XXS(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  aborted = false;
  stoppedAt = -1;
  for (let ibl = 0; ibl < nb; ibl++) {
    const xs = x0 + (<usize>ibl << 10);
    const qw = qw0 + ((<usize>(ibl * QK_K) % <usize>nPerRow) << 2);
    const y = y0 + <usize>ibl * T.IQ2_XXS_BYTES;
    memory.fill(y, 0, T.IQ2_XXS_BYTES);
    let maxScale: f32 = 0;
    let sumx2: f32 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 += ldf(xs, i) * ldf(xs, i);
    const sigma2: f32 = sumx2 / <f32>QK_K;
    for (let ib = 0; ib < 8; ib++) {
      const xb = xs + (<usize>ib << 7);
      for (let i = 0; i < 32; i++) stf(WEIGHT, i, ldf(qw, 32 * ib + i) * sqrt<f32>(sigma2 + ldf(xb, i) * ldf(xb, i)));
      for (let i = 0; i < 32; i++) stf(WAUX, i, sqrt<f32>(ldf(WEIGHT, i)));
      for (let k = 0; k < 4; k++) sti(SIGNS, k, evenSigns(xb + (<usize>k << 5), 8 * k));
      splatSubBlock(32);
      let vmax = ldf(XVAL, 0);
      for (let i = 1; i < 32; i++) vmax = vmax > ldf(XVAL, i) ? vmax : ldf(XVAL, i);
      if (vmax < GROUP_MAX_EPS) {
        stf(SCALES, ib, 0);
        memory.fill(LBEST, 0, 32 * 4);
        continue;
      }
      let scale = makeQp(32, K_MAX_Q + 1, XVAL, QP, WEIGHT);
      const effMax: f32 = scale * <f32>K_MAX_Q;
      if (effMax <= 0) {
        stf(SCALES, ib, 0);
        memory.fill(LBEST, 0, 32 * 4);
        continue;
      }
      let best: f32 = 0;
      for (let is = -6; is <= 6; is++) {
        const id: f32 = (TOP + <f32>is * <f32>0.1) / effMax;
        const thisScale: f32 = <f32>1 / id;
        for (let k = 0; k < 4; k++) {
          const u = levels8(id, 8 * k, LAUX);
          if (gridIndex(u) < 0) bestNeighbour(u, 8 * k, thisScale, LAUX);
        }
        const sqx = sumqx(32, LAUX);
        const sq2 = sumq2Of;
        if (sq2 > 0 && sqx * sqx > best * sq2) {
          scale = sqx / sq2;
          best = scale * sqx;
          memory.copy(LBEST, LAUX, 32 * 4);
        }
      }
      if (scale > 0) {
        const id: f32 = <f32>1 / scale;
        for (let k = 0; k < 4; k++) {
          let u = 0;
          for (let i = 0; i < 8; i++) u |= level(id, ldf(XVAL, 8 * k + i)) << (2 * i);
          let gi = gridIndex(u);
          if (gi < 0) gi = bestNeighbour(u, 8 * k, scale, LBEST);
          for (let i = 0; i < 8; i++) sti(LBEST, 8 * k + i, gridLevel(gi, i));
        }
        const sqx = sumqx(32, LBEST);
        if (sumq2Of > 0) scale = sqx / sumq2Of;
      }
      if (scale < 0) {
        scale = -scale;
        for (let k = 0; k < 4; k++) sti(SIGNS, k, ~ldi(SIGNS, k) & 127);
      }
      for (let k = 0; k < 4; k++) {
        let u = 0;
        for (let i = 0; i < 8; i++) u |= ldi(LBEST, 8 * k + i) << (2 * i);
        const gi = gridIndex(u);
        const q = y + 2 + (<usize>ib << 3);
        store<u32>(q, load<u32>(q) | (<u32>gi << (8 * k)));
        store<u32>(q + 4, load<u32>(q + 4) | (<u32>ldi(SIGNS, k) << (7 * k)));
      }
      stf(SCALES, ib, scale);
      maxScale = max(maxScale, scale);
      if (aborted) {
        stoppedAt = ibl;
        return;
      }
    }
    if (maxScale == 0) continue; // d = 0 and all-zero codes
    const d: f32 = maxScale / 31;
    store<u16>(y, <u16>f32ToF16(d));
    const id: f32 = <f32>1 / d;
    for (let ib = 0; ib < 8; ib++) {
      const l = min(15, max(0, nearestInt(<f32>0.5 * (id * ldf(SCALES, ib) - 1))));
      const q = y + 6 + (<usize>ib << 3);
      store<u32>(q, load<u32>(q) | (<u32>l << 28));
    }
  }
}

/** quantize_row_iq2_xs_impl (IQ2_XS, importance matrix required) and quantize_row_iq2_s_impl (IQ2_S, qw0 may be 0). */
export function quantizeIQ2Sub16(xsKind: bool, x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  aborted = false;
  stoppedAt = -1;
  const bytes: usize = xsKind ? T.IQ2_XS_BYTES : T.IQ2_S_BYTES;
  const eps: f32 = xsKind ? GROUP_MAX_EPS : <f32>1e-8;
  for (let ibl = 0; ibl < nb; ibl++) {
    const xs = x0 + (<usize>ibl << 10);
    const qw = qw0 + ((<usize>(ibl * QK_K) % <usize>nPerRow) << 2);
    const y = y0 + <usize>ibl * bytes;
    memory.fill(y, 0, bytes);
    let maxScale: f32 = 0;
    let sumx2: f32 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 += ldf(xs, i) * ldf(xs, i);
    const sigma2: f32 = xsKind ? sumx2 / <f32>QK_K : (<f32>2 * sumx2) / <f32>QK_K;
    for (let ib = 0; ib < 16; ib++) {
      const xb = xs + (<usize>ib << 6);
      for (let i = 0; i < 16; i++) {
        const v = ldf(xb, i);
        stf(WEIGHT, i, qw0 ? ldf(qw, 16 * ib + i) * sqrt<f32>(sigma2 + v * v) : <f32>0.25 * sigma2 + v * v);
      }
      for (let i = 0; i < 16; i++) stf(WAUX, i, sqrt<f32>(ldf(WEIGHT, i)));
      for (let k = 0; k < 2; k++) sti(SIGNS, k, xsKind ? evenSigns(xb + (<usize>k << 5), 8 * k) : allSigns(xb + (<usize>k << 5), 8 * k));
      splatSubBlock(16);
      let vmax = ldf(XVAL, 0);
      for (let i = 1; i < 16; i++) vmax = vmax > ldf(XVAL, i) ? vmax : ldf(XVAL, i);
      memory.fill(LBEST, 0, 16 * 4);
      if (vmax < eps) {
        stf(SCALES, ib, 0);
        continue;
      }
      let best: f32 = 0;
      let scale: f32 = vmax / TOP;
      sti(ONGRID, 0, 1);
      sti(ONGRID, 1, 1);
      for (let is = -9; is <= 9; is++) {
        const id: f32 = (TOP + <f32>is * <f32>0.1) / vmax;
        const thisScale: f32 = <f32>1 / id;
        for (let k = 0; k < 2; k++) {
          const u = levels8(id, 8 * k, LAUX);
          sti(ONGRIDAUX, k, 1);
          if (gridIndex(u) < 0) {
            sti(ONGRIDAUX, k, 0);
            bestNeighbour(u, 8 * k, thisScale, LAUX);
          }
        }
        const sqx = sumqx(16, LAUX);
        const sq2 = sumq2Of;
        if (sq2 > 0 && sqx * sqx > best * sq2) {
          scale = sqx / sq2;
          best = scale * sqx;
          memory.copy(LBEST, LAUX, 16 * 4);
          sti(ONGRID, 0, ldi(ONGRIDAUX, 0));
          sti(ONGRID, 1, ldi(ONGRIDAUX, 1));
        }
      }
      if ((!ldi(ONGRID, 0) || !ldi(ONGRID, 1)) && scale > 0) {
        const id: f32 = <f32>1 / scale;
        for (let k = 0; k < 2; k++) {
          if (ldi(ONGRID, k)) continue;
          const u = levels8(id, 8 * k, LBEST);
          if (gridIndex(u) < 0) bestNeighbour(u, 8 * k, scale, LBEST);
        }
        const sqx = sumqx(16, LBEST);
        if (sumq2Of > 0) scale = sqx / sumq2Of;
      }
      if (scale < 0) {
        scale = -scale;
        for (let k = 0; k < 2; k++) sti(SIGNS, k, ~ldi(SIGNS, k) & (xsKind ? 127 : 255));
      }
      if (!(scale >= 0)) aborted = true;
      for (let k = 0; k < 2; k++) {
        let u = 0;
        for (let i = 0; i < 8; i++) u |= ldi(LBEST, 8 * k + i) << (2 * i);
        const gi = gridIndex(u);
        const i8 = 2 * ib + k;
        if (xsKind) {
          store<u16>(y + 2 + (<usize>i8 << 1), <u16>(gi | (ldi(SIGNS, k) << 9)));
        } else {
          store<u8>(y + 2 + <usize>i8, <u8>gi);
          const qh = y + 66 + <usize>(i8 >> 2);
          store<u8>(qh, load<u8>(qh) | <u8>((gi >> 8) << (2 * (i8 & 3))));
          store<u8>(y + 34 + <usize>i8, <u8>ldi(SIGNS, k));
        }
      }
      stf(SCALES, ib, scale);
      maxScale = max(maxScale, scale);
      if (aborted) {
        stoppedAt = ibl;
        return;
      }
    }
    if (maxScale == 0) {
      if (!xsKind) continue;
      memory.fill(y + 2, 0, 64);
      continue;
    }
    const d: f32 = maxScale / 31;
    store<u16>(y, <u16>f32ToF16(xsKind ? d : d * <f32>0.9875));
    const id: f32 = <f32>1 / d;
    const so = y + (xsKind ? 66 : 74);
    for (let ib = 0; ib < 16; ib++) {
      const l = min(15, max(0, nearestInt(<f32>0.5 * (id * ldf(SCALES, ib) - 1))));
      const p = so + <usize>(ib >> 1);
      store<u8>(p, ib & 1 ? load<u8>(p) | <u8>(l << 4) : <u8>l);
    }
  }
}

const IQ3_EPS: f32 = 1e-8;
const IQ3_MAX_Q = 8;

/** Each trial's 32 levels (int32, trial t's at IQ3_LEVELS + 128·t; 31 trials at most, and one of padding). */
const IQ3_LEVELS: usize = memory.data(32 * 32 * 4, 16);
/** Each trial's groups on the grid (bit k: group k), and its sums Σ w·x·q and Σ w·q² (one trial a lane). */
const IQ3_ON_GRID: usize = memory.data(32 * 4, 16);
const IQ3_SUMQX: usize = memory.data(32 * 4, 16);
const IQ3_SUMQ2: usize = memory.data(32 * 4, 16);
/** The words of a trial's eight groups. */
const IQ3_WORDS: usize = memory.data(8 * 4, 16);
/** w·x of each magnitude (the first product of ggml's w·xval·q). */
const WX: usize = memory.data(32 * 4, 16);

/**
 * The levels MAX(0, MIN(7, nearest_int(0.5·(id·x − 1)))) of the 32 magnitudes (XVAL) into L, and the words of their
 * eight groups of four (level i of a group at bits 3i); returns the groups on the grid as a bitmask (bit k: group k),
 * after each group off the grid took the levels of its best neighbour (bestNeighbour at `scale`).
 */
function iq3Levels(id: f32, scale: f32, L: usize): i32 {
  const idv = f32x4.splat(id);
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const zero = i32x4.splat(0);
  const top = i32x4.splat(IQ3_MAX_Q - 1);
  // (pairs of i16 lanes: level 0 + 8·level 1, 64·level 2 + 512·level 3)
  const weights = i16x8(1, 8, 64, 512, 1, 8, 64, 512);
  let onGrid = 0;
  for (let k = 0; k < 8; k += 4) {
    const p = XVAL + (<usize>k << 4);
    const q = L + (<usize>k << 4);
    const l0 = i32x4.max_s(zero, i32x4.min_s(top, nearestInt4(f32x4.mul(half, f32x4.sub(f32x4.mul(idv, v128.load(p)), one)))));
    const l1 = i32x4.max_s(zero, i32x4.min_s(top, nearestInt4(f32x4.mul(half, f32x4.sub(f32x4.mul(idv, v128.load(p + 16)), one)))));
    const l2 = i32x4.max_s(zero, i32x4.min_s(top, nearestInt4(f32x4.mul(half, f32x4.sub(f32x4.mul(idv, v128.load(p + 32)), one)))));
    const l3 = i32x4.max_s(zero, i32x4.min_s(top, nearestInt4(f32x4.mul(half, f32x4.sub(f32x4.mul(idv, v128.load(p + 48)), one)))));
    v128.store(q, l0);
    v128.store(q + 16, l1);
    v128.store(q + 32, l2);
    v128.store(q + 48, l3);
    const a = i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(l0, l1), weights);
    const b = i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(l2, l3), weights);
    const words = i32x4.add(i32x4.shuffle(a, b, 0, 2, 4, 6), i32x4.shuffle(a, b, 1, 3, 5, 7));
    v128.store(IQ3_WORDS + (<usize>k << 2), words);
    onGrid |= (<i32>(gridIndex(i32x4.extract_lane(words, 0)) >= 0) << k) | (<i32>(gridIndex(i32x4.extract_lane(words, 1)) >= 0) << (k + 1));
    onGrid |= (<i32>(gridIndex(i32x4.extract_lane(words, 2)) >= 0) << (k + 2)) | (<i32>(gridIndex(i32x4.extract_lane(words, 3)) >= 0) << (k + 3));
  }
  // (each search changes only its own group's levels)
  for (let off = ~onGrid & 0xff; off != 0; off &= off - 1) {
    const k = <i32>ctz(off);
    bestNeighbour4(ldi(IQ3_WORDS, k), 4 * k, scale, L);
  }
  return onGrid;
}

/** The codes q = 2l + 1 of four levels, as float. */
@inline function codesOf(l: v128): v128 {
  return f32x4.convert_i32x4_s(v128.or(i32x4.shl(l, 1), i32x4.splat(1)));
}

/**
 * Σ w·x·q and Σ w·q² (q = 2l + 1) of each trial's levels (IQ3_LEVELS) into IQ3_SUMQX/SUMQ2, four trials a vector:
 * each lane does ggml's operations of its trial in ggml's order (sumqx += w·xval·q, sumq2 += w·q·q, i = 0..31), so
 * its sums are ggml's bit for bit. The levels of four trials are read four values at a time and transposed to the
 * four trials of each value.
 */
function iq3TrialSums(trials: i32): void {
  for (let t = 0; t < trials; t += 4) {
    const r = IQ3_LEVELS + (<usize>t << 7);
    let sqx = f32x4.splat(0);
    let sq2 = f32x4.splat(0);
    for (let i = 0; i < 32; i += 4) {
      const o = <usize>i << 2;
      const a = v128.load(r + o);
      const b = v128.load(r + 128 + o);
      const c = v128.load(r + 256 + o);
      const d = v128.load(r + 384 + o);
      const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
      const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
      const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
      const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
      const q0 = codesOf(i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
      const q1 = codesOf(i32x4.shuffle(ab01, cd01, 2, 3, 6, 7));
      const q2 = codesOf(i32x4.shuffle(ab23, cd23, 0, 1, 4, 5));
      const q3 = codesOf(i32x4.shuffle(ab23, cd23, 2, 3, 6, 7));
      sqx = f32x4.add(sqx, f32x4.mul(v128.load32_splat(WX + o), q0));
      sq2 = f32x4.add(sq2, f32x4.mul(f32x4.mul(v128.load32_splat(WEIGHT + o), q0), q0));
      sqx = f32x4.add(sqx, f32x4.mul(v128.load32_splat(WX + o + 4), q1));
      sq2 = f32x4.add(sq2, f32x4.mul(f32x4.mul(v128.load32_splat(WEIGHT + o + 4), q1), q1));
      sqx = f32x4.add(sqx, f32x4.mul(v128.load32_splat(WX + o + 8), q2));
      sq2 = f32x4.add(sq2, f32x4.mul(f32x4.mul(v128.load32_splat(WEIGHT + o + 8), q2), q2));
      sqx = f32x4.add(sqx, f32x4.mul(v128.load32_splat(WX + o + 12), q3));
      sq2 = f32x4.add(sq2, f32x4.mul(f32x4.mul(v128.load32_splat(WEIGHT + o + 12), q3), q3));
    }
    v128.store(IQ3_SUMQX + (<usize>t << 2), sqx);
    v128.store(IQ3_SUMQ2 + (<usize>t << 2), sq2);
  }
}

/**
 * quantize_row_iq3_xxs_impl(256, …) (xxs) and quantize_row_iq3_s_impl for nb super-blocks at x0 (rows of nPerRow,
 * importance matrix qw0, 0 for none: weights x²) to y0: 32-weight sub-blocks, 8 groups of 4 on a grid of 3-bit
 * levels (256 points for IQ3_XXS, 512 for IQ3_S whose ninth index bit goes to qh). IQ3_XXS keeps an even number of
 * minus signs and packs 4-bit scales with the signs, and refits only the groups off the grid; IQ3_S stores every
 * sign, refits every group and packs scales by pairs.
 */
export function quantizeIQ3(xxs: bool, x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  aborted = false;
  stoppedAt = -1;
  const bytes: usize = xxs ? T.IQ3_XXS_BYTES : T.IQ3_S_BYTES;
  const top: f32 = 15; // 2·kMaxQ − 1, the top odd level
  const range = xxs ? 15 : 9;
  for (let ibl = 0; ibl < nb; ibl++) {
    const xs = x0 + (<usize>ibl << 10);
    const qw = qw0 + ((<usize>(ibl * QK_K) % <usize>nPerRow) << 2);
    const y = y0 + <usize>ibl * bytes;
    memory.fill(y, 0, bytes);
    let maxScale: f32 = 0;
    let sumx2: f32 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 += ldf(xs, i) * ldf(xs, i);
    const sigma2: f32 = (<f32>2 * sumx2) / <f32>QK_K;
    // IQ3_S writes the grid indices and signs of the sub-blocks it searches one after the other: ggml's qs and signs
    // pointers move on only past a searched sub-block, so one of all-zero weights shifts the later ones down (qh and
    // the scales stay at each sub-block's own place)
    let searched = 0;
    for (let ib = 0; ib < 8; ib++) {
      const xb = xs + (<usize>ib << 7);
      const qb = qw + (<usize>ib << 7);
      for (let i = 0; i < 32; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(xb + o);
        const w = qw0 ? f32x4.mul(v128.load(qb + o), f32x4.sqrt(f32x4.add(f32x4.splat(sigma2), f32x4.mul(v, v)))) : f32x4.mul(v, v);
        v128.store(WEIGHT + o, w);
        v128.store(WAUX + o, f32x4.sqrt(w));
      }
      for (let k = 0; k < 4; k++) sti(SIGNS, k, xxs ? evenSigns(xb + (<usize>k << 5), 8 * k) : allSigns(xb + (<usize>k << 5), 8 * k));
      splatSubBlock(32);
      let vmax = ldf(XVAL, 0);
      for (let i = 1; i < 32; i++) vmax = vmax > ldf(XVAL, i) ? vmax : ldf(XVAL, i);
      memory.fill(LBEST, 0, 32 * 4);
      if (xxs ? vmax < IQ3_EPS : vmax == 0) {
        stf(SCALES, ib, 0);
        continue;
      }
      for (let i = 0; i < 32; i += 4) {
        const o = <usize>i << 2;
        v128.store(WX + o, f32x4.mul(v128.load(WEIGHT + o), v128.load(XVAL + o)));
      }
      let best: f32 = 0;
      let scale: f32 = vmax / top;
      let onGrid = xxs ? 0xff : 0;
      // ggml's trials is = -range..range (trial t = is + range): each one's levels and groups on the grid (none
      // depends on another), their sums four trials a vector, then ggml's test in its order
      const trials = 2 * range + 1;
      for (let t = 0; t < trials; t++) {
        const id: f32 = (top + <f32>(t - range) * <f32>0.2) / vmax;
        sti(IQ3_ON_GRID, t, iq3Levels(id, <f32>1 / id, IQ3_LEVELS + (<usize>t << 7)));
      }
      iq3TrialSums(trials);
      let taken = -1;
      for (let t = 0; t < trials; t++) {
        const sqx = ldf(IQ3_SUMQX, t);
        const sq2 = ldf(IQ3_SUMQ2, t);
        if (sq2 > 0 && sqx * sqx > best * sq2) {
          scale = sqx / sq2;
          best = scale * sqx;
          taken = t;
        }
      }
      if (taken >= 0) {
        memory.copy(LBEST, IQ3_LEVELS + (<usize>taken << 7), 32 * 4);
        onGrid = ldi(IQ3_ON_GRID, taken);
      }
      if (onGrid != 0xff && scale > 0) {
        const id: f32 = <f32>1 / scale;
        for (let k = 0; k < 8; k++) {
          if (xxs && (onGrid >> k) & 1) continue;
          let u = 0;
          for (let i = 0; i < 4; i++) u |= level(id, ldf(XVAL, 4 * k + i), IQ3_MAX_Q - 1) << (3 * i);
          let gi = gridIndex(u);
          if (gi < 0) gi = bestNeighbour4(u, 4 * k, scale, LBEST);
          if (gi >= 0) for (let i = 0; i < 4; i++) sti(LBEST, 4 * k + i, gridLevel(gi, i, 4));
        }
        const sqx = sumqx(32, LBEST);
        if (sumq2Of > 0) scale = sqx / sumq2Of;
      }
      if (scale < 0) {
        scale = -scale;
        for (let k = 0; k < 4; k++) sti(SIGNS, k, ~ldi(SIGNS, k) & (xxs ? 127 : 255));
      }
      if (!(scale >= 0)) aborted = true; // GGML_ASSERT(scale >= 0)
      for (let k = 0; k < 8; k++) {
        let u = 0;
        for (let i = 0; i < 4; i++) u |= ldi(LBEST, 4 * k + i) << (3 * i);
        const gi = gridIndex(u);
        store<u8>(y + 2 + <usize>(8 * (xxs ? ib : searched) + k), <u8>gi);
        if (!xxs) {
          const qh = y + 66 + <usize>ib;
          store<u8>(qh, load<u8>(qh) | <u8>((gi >> 8) << k));
        }
      }
      if (xxs) {
        const signs = <u32>ldi(SIGNS, 0) | (<u32>ldi(SIGNS, 1) << 7) | (<u32>ldi(SIGNS, 2) << 14) | (<u32>ldi(SIGNS, 3) << 21);
        store<u32>(y + 66 + (<usize>ib << 2), signs);
      } else {
        for (let k = 0; k < 4; k++) store<u8>(y + 74 + <usize>(4 * searched + k), <u8>ldi(SIGNS, k));
      }
      searched++;
      stf(SCALES, ib, scale);
      maxScale = maxScale > scale ? maxScale : scale;
      if (aborted) {
        stoppedAt = ibl;
        return;
      }
    }
    if (maxScale == 0) {
      if (xxs) memory.fill(y + 2, 0, 96);
      continue;
    }
    const d: f32 = maxScale / 31;
    store<u16>(y, <u16>f32ToF16(d * (xxs ? <f32>1.0125 : <f32>1.033)));
    const id: f32 = <f32>1 / d;
    for (let ib = 0; ib < 8; ib++) {
      const l = min(15, max(0, nearestInt(<f32>0.5 * (id * ldf(SCALES, ib) - 1))));
      if (xxs) {
        const p = y + 66 + (<usize>ib << 2);
        store<u32>(p, load<u32>(p) | (<u32>l << 28));
      } else {
        const p = y + 106 + <usize>(ib >> 1);
        store<u8>(p, ib & 1 ? load<u8>(p) | <u8>(l << 4) : <u8>l);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ IQ1_S

const IQ1S_EPS: f32 = 1e-12;
/** The ternary values shifted by +1/8 (X_P) and by -1/8 (X_M), by level 0..2. */
const X_P: usize = memory.data<f32>([-0.875, 0.125, 1.125], 16);
const X_M: usize = memory.data<f32>([-1.125, -0.125, 0.875], 16);
/** Sorted order of a sub-block's weights (indices), and merge sort scratch. */
const IDX: usize = memory.data(32 * 4, 16);
const IDX_TMP: usize = memory.data(32 * 4, 16);
/** Running sums over the sorted weights of w·x and w (33 each). */
// prefix sums of the sorted weights (33, and three of padding for the four-wide loads)
const SUMX: usize = memory.data(36 * 4, 16);
const SUMW: usize = memory.data(36 * 4, 16);
const SHIFTS: usize = memory.data(16 * 4, 16);
const GRID_AT: usize = memory.data(4 * 4, 16);

/**
 * The indices lo..lo+n of IDX sorted by the weight values at x, as glibc's qsort sorts these small arrays (its
 * merge sort: halves of n/2 and n − n/2, the left element taken unless it compares greater), with ggml's
 * comparison of the values (a NaN compares equal to everything).
 */
function mergeSort(x: usize, lo: i32, n: i32): void {
  if (n <= 1) return;
  const n1 = n >> 1;
  const n2 = n - n1;
  mergeSort(x, lo, n1);
  mergeSort(x, lo + n1, n2);
  let a = lo;
  let b = lo + n1;
  const aEnd = lo + n1;
  const bEnd = lo + n;
  let t = 0;
  while (a < aEnd && b < bEnd) {
    const ia = ldi(IDX, a);
    const ib = ldi(IDX, b);
    if (ldf(x, ia) > ldf(x, ib)) {
      sti(IDX_TMP, t++, ib);
      b++;
    } else {
      sti(IDX_TMP, t++, ia);
      a++;
    }
  }
  while (a < aEnd) sti(IDX_TMP, t++, ldi(IDX, a++));
  for (let i = 0; i < t; i++) sti(IDX, lo + i, ldi(IDX_TMP, i));
}

/**
 * IDX[0..n) = the indices 0..n of the n weights at x (n a multiple of 4) in glibc's qsort order (mergeSort). Without a
 * NaN that is the stable order by value, so index i goes to its rank: the count of j < i with x[j] <= x[i] and of
 * j > i with x[j] < x[i], counted four i at a time without a branch. With a NaN, mergeSort itself.
 */
function sortIndices(x: usize, n: i32): void {
  let nan = i32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  if (v128.any_true(nan)) {
    for (let j = 0; j < n; j++) sti(IDX, j, j);
    mergeSort(x, 0, n);
    return;
  }
  for (let i = 0; i < n; i += 4) {
    const xi = v128.load(x + (<usize>i << 2));
    const lanes = i32x4(i, i + 1, i + 2, i + 3);
    let rank = i32x4.splat(0);
    for (let j = 0; j < n; j++) {
      const xj = v128.load32_splat(x + (<usize>j << 2));
      const before = i32x4.lt_s(i32x4.splat(j), lanes);
      // true lanes are -1: subtracting counts them
      rank = i32x4.sub(rank, v128.bitselect(f32x4.le(xj, xi), f32x4.lt(xj, xi), before));
    }
    sti(IDX, i32x4.extract_lane(rank, 0), i);
    sti(IDX, i32x4.extract_lane(rank, 1), i + 1);
    sti(IDX, i32x4.extract_lane(rank, 2), i + 2);
    sti(IDX, i32x4.extract_lane(rank, 3), i + 3);
  }
}

/**
 * iq1_find_best_neighbour2: of u's neighbours, the least Σ w·(scale·q − x)² over the 8 weights at x (importances at
 * w), q the shifted ternary value of each level (X_P[l] = l − 0.875, X_M[l] = l − 1.125, both exact from the
 * coordinate 2l + 1); writes its levels to L at o. Four neighbours at a time, each lane summing in ggml's order, as
 * bestNeighbour. None below FLT_MAX: ggml asserts.
 */
function iq1Neighbour(u: i32, x: usize, w: usize, scale: f32, xg: usize, L: usize, o: i32): i32 {
  const from = ldi(nbrStart, u);
  const to = ldi(nbrStart, u + 1);
  for (let i = 0; i < 8; i++) {
    v128.store(XSPLAT + (<usize>i << 4), f32x4.splat(ldf(x, i)));
    v128.store(WSPLAT + (<usize>i << 4), f32x4.splat(ldf(w, i)));
  }
  const sv = f32x4.splat(scale);
  const shift = f32x4.splat(xg == X_P ? <f32>0.875 : <f32>1.125);
  const one = f32x4.splat(1);
  const half = f32x4.splat(0.5);
  // as bestNeighbour's lanes
  let best = f32x4.splat(FLT_MAX);
  let at = i32x4.splat(-1);
  for (let n = from; n < to; n += 4) {
    const c = nbrCoords + (<usize>n << 5);
    let d2 = f32x4.splat(0);
    for (let i = 0; i < 8; i++) {
      const q = f32x4.sub(f32x4.mul(f32x4.sub(v128.load(c + (<usize>i << 4)), one), half), shift);
      const diff = f32x4.sub(f32x4.mul(sv, q), v128.load(XSPLAT + (<usize>i << 4)));
      d2 = f32x4.add(d2, f32x4.mul(f32x4.mul(v128.load(WSPLAT + (<usize>i << 4)), diff), diff));
    }
    const below = f32x4.lt(d2, best);
    best = v128.bitselect(d2, best, below);
    at = v128.bitselect(i32x4.add(i32x4.splat(n), i32x4(0, 1, 2, 3)), at, below);
  }
  const index = firstOfLeast(best, at);
  if (index < 0) aborted = true;
  else for (let i = 0; i < 8; i++) sti(L, o + i, gridLevel(index, i));
  return index;
}

/** Whether ggml's test passes against bestScore for one shift's levels q0..q2 of the splits (i1, i2..i2+3). */
@inline function iq1sShiftPasses(xg: usize, a: v128, b: v128, c: v128, wa: v128, wb: v128, wc: v128, bestScore: f32): v128 {
  const q0 = f32x4.splat(ldf(xg, 0));
  const q1 = f32x4.splat(ldf(xg, 1));
  const q2 = f32x4.splat(ldf(xg, 2));
  const sumqx = f32x4.add(f32x4.add(f32x4.mul(a, q0), f32x4.mul(b, q1)), f32x4.mul(c, q2));
  const sumq2 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(wa, q0), q0), f32x4.mul(f32x4.mul(wb, q1), q1)), f32x4.mul(f32x4.mul(wc, q2), q2));
  return v128.and(f32x4.gt(sumq2, f32x4.splat(0)), f32x4.gt(f32x4.mul(sumqx, sumqx), f32x4.mul(f32x4.splat(bestScore), sumq2)));
}

/**
 * Whether any of the splits (i1, i2..i2+3 up to 32, either shift) passes ggml's test `sumq2 > 0 && sumqx² >
 * bestScore·sumq2`, each lane with ggml's operations in its order (so its sums are ggml's).
 */
@inline function iq1sSplitsPass(a: f32, wa: f32, i1: i32, i2: i32, sxn: f32, swn: f32, bestScore: f32): bool {
  const sx2 = v128.load(SUMX + (<usize>i2 << 2));
  const sw2 = v128.load(SUMW + (<usize>i2 << 2));
  const b = f32x4.sub(sx2, f32x4.splat(ldf(SUMX, i1)));
  const c = f32x4.sub(f32x4.splat(sxn), sx2);
  const wb = f32x4.sub(sw2, f32x4.splat(ldf(SUMW, i1)));
  const wc = f32x4.sub(f32x4.splat(swn), sw2);
  const av = f32x4.splat(a);
  const wav = f32x4.splat(wa);
  const pass = v128.or(iq1sShiftPasses(X_P, av, b, c, wav, wb, wc, bestScore), iq1sShiftPasses(X_M, av, b, c, wav, wb, wc, bestScore));
  // lanes past i2 = 32 are padding
  return (i32x4.bitmask(pass) & ((1 << min(4, 33 - i2)) - 1)) != 0;
}

/**
 * quantize_row_iq1_s_impl for nb super-blocks at x0 (rows of nPerRow, importance matrix qw0, required) to y0: per
 * 32 weights, the exact best split of the sorted weights into the three ternary values (shifted by ±1/8) and its
 * scale, snapped to the 2048-point grid; 3-bit scales and the shift sign in qh.
 */
export function quantizeIQ1S(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  aborted = false;
  stoppedAt = -1;
  for (let ibl = 0; ibl < nb; ibl++) {
    const xs = x0 + (<usize>ibl << 10);
    const qw = qw0 + ((<usize>(ibl * QK_K) % <usize>nPerRow) << 2);
    const y = y0 + <usize>ibl * T.IQ1_S_BYTES;
    memory.fill(y, 0, T.IQ1_S_BYTES);
    let maxScale: f32 = 0;
    let sumx2: f32 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 += ldf(xs, i) * ldf(xs, i);
    const sigma2: f32 = (<f32>2 * sumx2) / <f32>QK_K;
    for (let ib = 0; ib < 8; ib++) {
      const xb = xs + (<usize>ib << 7);
      for (let i = 0; i < 32; i++) {
        const v = ldf(xb, i);
        stf(WEIGHT, i, ldf(qw, 32 * ib + i) * sqrt<f32>(sigma2 + v * v));
      }
      let vmax = abs<f32>(ldf(xb, 0));
      for (let i = 1; i < 32; i++) {
        const a = abs<f32>(ldf(xb, i));
        vmax = vmax > a ? vmax : a;
      }
      if (vmax < IQ1S_EPS) {
        stf(SCALES, ib, 0);
        sti(SHIFTS, ib, 1);
        continue;
      }
      sortIndices(xb, 32);
      stf(SUMX, 0, 0);
      stf(SUMW, 0, 0);
      for (let j = 0; j < 32; j++) {
        const i = ldi(IDX, j);
        stf(SUMX, j + 1, ldf(SUMX, j) + ldf(WEIGHT, i) * ldf(xb, i));
        stf(SUMW, j + 1, ldf(SUMW, j) + ldf(WEIGHT, i));
      }
      let bestScore: f32 = -FLT_MAX;
      let scale: f32 = vmax;
      let besti1 = -1;
      let besti2 = -1;
      let bestShift = 0;
      const sx0 = ldf(SUMX, 0);
      const sw0 = ldf(SUMW, 0);
      const sxn = ldf(SUMX, 32);
      const swn = ldf(SUMW, 32);
      // the splits (i1, i2, shift) in ggml's order, four i2 a vector: a vector none of whose eight splits passes the
      // test against the best score so far changes nothing, as in ggml; one that does is run one split at a time
      for (let i1 = 0; i1 <= 32; i1++) {
        const a: f32 = ldf(SUMX, i1) - sx0;
        const wa: f32 = ldf(SUMW, i1) - sw0;
        for (let i2 = i1; i2 <= 32; i2 += 4) {
          if (!iq1sSplitsPass(a, wa, i1, i2, sxn, swn, bestScore)) continue;
          for (let j = i2; j <= min(i2 + 3, 32); j++) {
            const b: f32 = ldf(SUMX, j) - ldf(SUMX, i1);
            const c: f32 = sxn - ldf(SUMX, j);
            const wb: f32 = ldf(SUMW, j) - ldf(SUMW, i1);
            const wc: f32 = swn - ldf(SUMW, j);
            for (let s = 0; s < 2; s++) {
              const xg = s == 0 ? X_P : X_M;
              const q0 = ldf(xg, 0);
              const q1 = ldf(xg, 1);
              const q2 = ldf(xg, 2);
              const sumqx: f32 = a * q0 + b * q1 + c * q2;
              const sumq2: f32 = wa * q0 * q0 + wb * q1 * q1 + wc * q2 * q2;
              if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2) {
                scale = sumqx / sumq2;
                bestScore = scale * sumqx;
                besti1 = i1;
                besti2 = j;
                bestShift = s == 0 ? 1 : -1;
              }
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || bestShift == 0) {
        stf(SCALES, ib, 0);
        sti(SHIFTS, ib, 1);
        continue;
      }
      for (let j = 0; j < 32; j++) sti(LBEST, ldi(IDX, j), j < besti1 ? 0 : j < besti2 ? 1 : 2);
      if (scale < 0) {
        for (let j = 0; j < 32; j++) sti(LBEST, j, 2 - ldi(LBEST, j));
        scale = -scale;
        bestShift = -bestShift;
      }
      const xg = bestShift == 1 ? X_P : X_M;
      let allOnGrid = true;
      for (let k = 0; k < 4; k++) {
        let u = 0;
        for (let j = 0; j < 8; j++) u |= ldi(LBEST, 8 * k + j) << (2 * j);
        let gi = gridIndex(u);
        if (gi < 0) {
          allOnGrid = false;
          gi = iq1Neighbour(u, xb + (<usize>k << 5), WEIGHT + (<usize>k << 5), scale, xg, LBEST, 8 * k);
        }
        sti(GRID_AT, k, gi);
      }
      if (aborted) {
        stoppedAt = ibl;
        return;
      }
      if (!allOnGrid) {
        let sumqx: f32 = 0;
        let sumq2: f32 = 0;
        for (let k = 0; k < 4; k++) {
          for (let j = 0; j < 8; j++) {
            const w = ldf(WEIGHT, 8 * k + j);
            const q = ldf(xg, gridLevel(ldi(GRID_AT, k), j));
            sumqx += w * q * ldf(xb, 8 * k + j);
            sumq2 += w * q * q;
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
      }
      let h = 0;
      for (let k = 0; k < 4; k++) {
        const gi = ldi(GRID_AT, k);
        store<u8>(y + 2 + <usize>(4 * ib + k), <u8>gi);
        h |= (gi >> 8) << (3 * k);
      }
      store<u16>(y + 34 + (<usize>ib << 1), <u16>h);
      stf(SCALES, ib, scale);
      sti(SHIFTS, ib, bestShift);
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (maxScale == 0) continue;
    const d: f32 = maxScale / 15;
    store<u16>(y, <u16>f32ToF16(d * <f32>1.125));
    const id: f32 = <f32>1 / d;
    for (let ib = 0; ib < 8; ib++) {
      let l = min(7, max(0, nearestInt(<f32>0.5 * (id * ldf(SCALES, ib) - 1))));
      if (ldi(SHIFTS, ib) == -1) l |= 8;
      const p = y + 35 + (<usize>ib << 1);
      store<u8>(p, load<u8>(p) | <u8>(l << 4));
    }
  }
}

// ------------------------------------------------------------------------------------------------ IQ1_M

const IQ1M_EPS: f32 = 1e-7;
/** qh bits of the delta sign of a 16-weight sub-block's two groups of 8, by shift kind (k < 2: first +; k even: second +) */
const IQ1M_MASKS: usize = memory.data<u8>([0x00, 0x80, 0x08, 0x88]);
const WEIGHT256: usize = memory.data(256 * 4, 16);
/** Per sorted position j and level g: w·x±[g]·x (TP, TM) and w·x±[g]² (QPP, QM), for the shifts + and −. */
const TP: usize = memory.data(48 * 4, 16);
const TM: usize = memory.data(48 * 4, 16);
const QPP: usize = memory.data(48 * 4, 16);
const QM: usize = memory.data(48 * 4, 16);
/** 1 where the sorted position j holds a weight of the first group of 8 */
const LOW: usize = memory.data(16 * 4, 16);
/** Running sums Σqx of the four shift kinds, then Σq² of them. */
const SUM_A: usize = memory.data(8 * 4, 16);
const SUM_B: usize = memory.data(8 * 4, 16);
const GRID16: usize = memory.data(32 * 4, 16);

/** Adds sorted position j at level g to the eight sums at s (the first group's shift + for kinds 0, 1, the second's for 0, 2). */
@inline function addTo(s: usize, j: i32, g: i32): void {
  const k = 3 * j + g;
  const p = ldf(TP, k);
  const m = ldf(TM, k);
  const p2 = ldf(QPP, k);
  const m2 = ldf(QM, k);
  stf(s, 0, ldf(s, 0) + p);
  stf(s, 3, ldf(s, 3) + m);
  stf(s, 4, ldf(s, 4) + p2);
  stf(s, 7, ldf(s, 7) + m2);
  if (ldi(LOW, j)) {
    stf(s, 1, ldf(s, 1) + p);
    stf(s, 2, ldf(s, 2) + m);
    stf(s, 5, ldf(s, 5) + p2);
    stf(s, 6, ldf(s, 6) + m2);
  } else {
    stf(s, 1, ldf(s, 1) + m);
    stf(s, 2, ldf(s, 2) + p);
    stf(s, 5, ldf(s, 5) + m2);
    stf(s, 6, ldf(s, 6) + p2);
  }
}

/** The shifted ternary values of group k (0, 1) of a sub-block of shift kind kind. */
@inline function iq1mShift(kind: i32, k: i32): usize {
  return k == 0 ? (kind < 2 ? X_P : X_M) : kind % 2 == 0 ? X_P : X_M;
}

/**
 * quantize_row_iq1_m_impl for nb super-blocks at x0 (rows of nPerRow, importance matrix qw0, 0 for none: weights x²)
 * to y0: like IQ1_S, but per 16 weights, with a separate ±1/8 shift for each group of 8 (four shift kinds searched
 * with every split), and a super-scale refit by least squares over the whole block once the 3-bit sub-block scales
 * are chosen. ggml sums each split afresh in sorted order; the sums over the first i1 and then i2 positions are
 * carried from split to split here, which adds the same terms in the same order.
 */
export function quantizeIQ1M(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  aborted = false;
  stoppedAt = -1;
  for (let ibl = 0; ibl < nb; ibl++) {
    const xs = x0 + (<usize>ibl << 10);
    const qw = qw0 + ((<usize>(ibl * QK_K) % <usize>nPerRow) << 2);
    const y = y0 + <usize>ibl * T.IQ1_M_BYTES;
    memory.fill(y, 0, T.IQ1_M_BYTES);
    let maxScale: f32 = 0;
    let sumx2: f32 = 0;
    for (let i = 0; i < QK_K; i++) sumx2 += ldf(xs, i) * ldf(xs, i);
    const sigma2: f32 = (<f32>2 * sumx2) / <f32>QK_K;
    for (let i = 0; i < QK_K; i++) {
      const v = ldf(xs, i);
      stf(WEIGHT256, i, qw0 ? ldf(qw, i) * sqrt<f32>(sigma2 + v * v) : v * v);
    }
    memory.fill(GRID16, 0, 32 * 4);
    for (let ib = 0; ib < 16; ib++) {
      const xb = xs + (<usize>ib << 6);
      const w = WEIGHT256 + (<usize>ib << 6);
      stf(SCALES, ib, 0);
      sti(SHIFTS, ib, 0);
      let vmax = abs<f32>(ldf(xb, 0));
      for (let i = 1; i < 16; i++) {
        const a = abs<f32>(ldf(xb, i));
        vmax = vmax > a ? vmax : a;
      }
      if (vmax < IQ1M_EPS) continue;
      sortIndices(xb, 16);
      for (let j = 0; j < 16; j++) {
        const i = ldi(IDX, j);
        const wi = ldf(w, i);
        const v = ldf(xb, i);
        sti(LOW, j, i < 8 ? 1 : 0);
        for (let g = 0; g < 3; g++) {
          const wp: f32 = wi * ldf(X_P, g);
          const wm: f32 = wi * ldf(X_M, g);
          stf(TP, 3 * j + g, wp * v);
          stf(TM, 3 * j + g, wm * v);
          stf(QPP, 3 * j + g, wp * ldf(X_P, g));
          stf(QM, 3 * j + g, wm * ldf(X_M, g));
        }
      }
      let bestScore: f32 = -FLT_MAX;
      let scale: f32 = vmax;
      let besti1 = -1;
      let besti2 = -1;
      let bestK = -1;
      memory.fill(SUM_A, 0, 8 * 4);
      for (let i1 = 0; i1 <= 16; i1++) {
        if (i1 > 0) addTo(SUM_A, i1 - 1, 0);
        memory.copy(SUM_B, SUM_A, 8 * 4);
        for (let i2 = i1; i2 <= 16; i2++) {
          if (i2 > i1) addTo(SUM_B, i2 - 1, 1);
          let s0 = ldf(SUM_B, 0);
          let s1 = ldf(SUM_B, 1);
          let s2 = ldf(SUM_B, 2);
          let s3 = ldf(SUM_B, 3);
          let s4 = ldf(SUM_B, 4);
          let s5 = ldf(SUM_B, 5);
          let s6 = ldf(SUM_B, 6);
          let s7 = ldf(SUM_B, 7);
          for (let j = i2; j < 16; j++) {
            const k = 3 * j + 2;
            const p = ldf(TP, k);
            const m = ldf(TM, k);
            const p2 = ldf(QPP, k);
            const m2 = ldf(QM, k);
            s0 += p;
            s3 += m;
            s4 += p2;
            s7 += m2;
            if (ldi(LOW, j)) {
              s1 += p;
              s2 += m;
              s5 += p2;
              s6 += m2;
            } else {
              s1 += m;
              s2 += p;
              s5 += m2;
              s6 += p2;
            }
          }
          for (let k = 0; k < 4; k++) {
            const sumqx = k == 0 ? s0 : k == 1 ? s1 : k == 2 ? s2 : s3;
            const sumq2 = k == 0 ? s4 : k == 1 ? s5 : k == 2 ? s6 : s7;
            if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2) {
              scale = sumqx / sumq2;
              bestScore = scale * sumqx;
              besti1 = i1;
              besti2 = i2;
              bestK = k;
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || bestK < 0) continue;
      for (let j = 0; j < 16; j++) sti(LBEST, ldi(IDX, j), j < besti1 ? 0 : j < besti2 ? 1 : 2);
      if (scale < 0) {
        for (let j = 0; j < 16; j++) sti(LBEST, j, 2 - ldi(LBEST, j));
        scale = -scale;
        bestK = 3 - bestK;
      }
      let allOnGrid = true;
      for (let k = 0; k < 2; k++) {
        let u = 0;
        for (let j = 0; j < 8; j++) u |= ldi(LBEST, 8 * k + j) << (2 * j);
        let gi = gridIndex(u);
        if (gi < 0) {
          allOnGrid = false;
          gi = iq1Neighbour(u, xb + (<usize>k << 5), w + (<usize>k << 5), scale, iq1mShift(bestK, k), LBEST, 8 * k);
        }
        sti(GRID16, 2 * ib + k, gi);
      }
      if (aborted) {
        stoppedAt = ibl;
        return;
      }
      if (!allOnGrid) {
        let sumqx: f32 = 0;
        let sumq2: f32 = 0;
        for (let k = 0; k < 2; k++) {
          const xg = iq1mShift(bestK, k);
          for (let j = 0; j < 8; j++) {
            const wj = ldf(w, 8 * k + j);
            const q = ldf(xg, gridLevel(ldi(GRID16, 2 * ib + k), j));
            sumqx += wj * q * ldf(xb, 8 * k + j);
            sumq2 += wj * q * q;
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
      }
      const g0 = ldi(GRID16, 2 * ib);
      const g1 = ldi(GRID16, 2 * ib + 1);
      store<u8>(y + (<usize>ib << 1), <u8>g0);
      store<u8>(y + (<usize>ib << 1) + 1, <u8>g1);
      store<u8>(y + 32 + <usize>ib, <u8>((g0 >> 8) | ((g1 >> 8) << 4)));
      stf(SCALES, ib, scale);
      sti(SHIFTS, ib, bestK);
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (maxScale == 0) continue;
    // 3-bit sub-block scales at d = max/15, then d refit to them over the whole block (sub-blocks without a fit
    // count too, as grid point 0 with the + shift)
    let d: f32 = maxScale / 15;
    const id: f32 = <f32>1 / d;
    let sc0: u32 = 0;
    let sc1: u32 = 0;
    let sc2: u32 = 0;
    let sc3: u32 = 0;
    let sumqx: f32 = 0;
    let sumq2: f32 = 0;
    for (let ib = 0; ib < 16; ib++) {
      const l = min(7, max(0, nearestInt(<f32>0.5 * (id * ldf(SCALES, ib) - 1))));
      const bits = <u32>l << (3 * (ib & 3));
      const q4 = ib >> 2;
      if (q4 == 0) sc0 |= bits;
      else if (q4 == 1) sc1 |= bits;
      else if (q4 == 2) sc2 |= bits;
      else sc3 |= bits;
      const kind = ldi(SHIFTS, ib);
      const qh = y + 32 + <usize>ib;
      store<u8>(qh, load<u8>(qh) | load<u8>(IQ1M_MASKS + <usize>kind));
      for (let k = 0; k < 2; k++) {
        const xg = iq1mShift(kind, k);
        const g = ldi(GRID16, 2 * ib + k);
        for (let j = 0; j < 8; j++) {
          const i = 16 * ib + 8 * k + j;
          const wi = ldf(WEIGHT256, i);
          const q: f32 = ldf(xg, gridLevel(g, j)) * <f32>(l * 2 + 1);
          sumqx += wi * q * ldf(xs, i);
          sumq2 += wi * q * q;
        }
      }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const hd = <u32>f32ToF16(d * <f32>1.1125);
    sc0 |= (hd & 0x000f) << 12;
    sc1 |= (hd & 0x00f0) << 8;
    sc2 |= (hd & 0x0f00) << 4;
    sc3 |= hd & 0xf000;
    store<u16>(y + 48, <u16>sc0);
    store<u16>(y + 50, <u16>sc1);
    store<u16>(y + 52, <u16>sc2);
    store<u16>(y + 54, <u16>sc3);
  }
}
