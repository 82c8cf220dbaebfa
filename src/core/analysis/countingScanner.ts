/** The contract between the statistics scan (tensorStats.ts) and the scanners that count values (codeCounting.ts). */

/** What a counting scanner adds its counts to (tensorStats.ts's StatsAccumulator). */
export interface RepeatedValueSink {
  /** Add `count` copies of the value x to pass 1. */
  addFirstPassRepeated(x: number, count: number): void;
  /** Add `count` copies of the value x to pass 2 (the histogram). */
  addSecondPassRepeated(x: number, count: number): void;
}

export interface CountingScanner {
  /** True when pass 2 needs nothing from the raw data (the scanner kept what it needs from pass 1). */
  readonly secondPassFromMemory?: boolean;
  first(raw: Uint8Array, nBlocks: number, acc: RepeatedValueSink): void;
  second(raw: Uint8Array, nBlocks: number, acc: RepeatedValueSink): void;
  /** For scanners with secondPassFromMemory: pass 2 from what pass 1 kept. */
  secondFromMemory?(acc: RepeatedValueSink): void;
  /** Pass 1 statistics added once the whole tensor has been counted. */
  finishFirst?(acc: RepeatedValueSink): void;
  /**
   * For scanners with secondPassFromMemory: what pass 1 counted, as one table (a share of a split scan hands it
   * over instead of reading its rows again for pass 2), and adding another share's table.
   */
  tallies?(): Float64Array;
  addTallies?(tallies: Float64Array): void;
}
