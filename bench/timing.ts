/** Timing helpers of the bench: best of N, alternating rounds against the peer, ranges. */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

export function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

export function bestOf<T>(n: number, f: () => T): { ms: number; result: T } {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

export async function bestOfAsync<T>(n: number, f: () => Promise<T>): Promise<{ ms: number; result: T }> {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = await f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

/** Wall time of a whole process, output discarded. */
export function processMs(cmd: string, args: string[]): number {
  return timed(() => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] }));
}

/** Plain page-cached read of [offset, offset + nbytes) in 4 MB chunks, best of 3, ms: the speed floor for any scan. */
export function readMs(path: string, offset: number, nbytes: number): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    return bestOf(3, () => {
      let sum = 0;
      for (let at = 0; at < nbytes; at += buf.length) sum += readSync(fd, buf, 0, Math.min(buf.length, nbytes - at), offset + at);
      return sum;
    }).ms;
  } finally {
    closeSync(fd);
  }
}

/**
 * `rounds` alternating runs, ours then the peer's, each returning its time in ms (the loaded machine's noise
 * falls on both sides alike).
 */
export function alternate(rounds: number, ours: () => number, peer: () => number): { ours: number[]; peer: number[] } {
  const r = { ours: [] as number[], peer: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    r.ours.push(ours());
    r.peer.push(peer());
  }
  return r;
}

export interface Versus {
  /** Work per ms of the fastest run, each side. */
  ours: number;
  peer: number;
  /** Best against best (how many times the peer's speed), and the range over the rounds' pairs. */
  ratio: number;
  ratioLo: number;
  ratioHi: number;
}

/** Speed ratio (>1: ours faster) of alternating runs of the same work. */
export function versus(ms: { ours: number[]; peer: number[] }): Versus {
  const pairs = ms.ours.map((o, i) => ms.peer[i] / o);
  const ours = Math.min(...ms.ours);
  const peer = Math.min(...ms.peer);
  return { ours, peer, ratio: peer / ours, ratioLo: Math.min(...pairs), ratioHi: Math.max(...pairs) };
}

/** Significant digits for a ratio or a speed. */
export function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** "1.23x (1.10-1.31)": best against best, then the range over the rounds. */
export function ratioText(v: Versus): string {
  return `${fmt(v.ratio)}x (${fmt(v.ratioLo)}-${fmt(v.ratioHi)})`;
}

/** Range of rates (work / ms) over runs, "lo-hi". */
export function rateRange(work: number, ms: number[], scale = 1e3): string {
  const rates = ms.map((m) => work / m / scale);
  return `${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))}`;
}
