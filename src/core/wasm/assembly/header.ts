// AssemblyScript entry of dist/header.wasm (scripts/build-wasm.mjs): the GGUF header reader's walk over long string
// arrays (token lists, merges), with the shared allocator. Its TypeScript side is walkStrings in
// src/core/formats/gguf.ts. A module of its own, so that opening a header compiles a few hundred bytes of
// WebAssembly, not the kernels; in WebAssembly, because a fresh process walks a 128k-token vocabulary and 280k
// merges before JavaScript's loop would be optimized.
export * from './common/memory';

let walkEnd: usize = 0;

/**
 * Skips up to `count` GGUF strings (a u64 length, then that many bytes) from `start`, stopping before the first one
 * that does not end by `end` or is longer than `maxLength` bytes (any of its length's high four bytes set is).
 * Returns how many it skipped; walkedTo() is the address just after them.
 */
export function skipStrings(start: usize, end: usize, count: i32, maxLength: u32): i32 {
  let p = start;
  let n = 0;
  while (n < count && p + 8 <= end) {
    const length = load<u32>(p);
    if (length > maxLength || load<u32>(p, 4) != 0 || p + 8 + <usize>length > end) break;
    p += 8 + <usize>length;
    n++;
  }
  walkEnd = p;
  return n;
}

/** Where the last skipStrings stopped. */
export function walkedTo(): usize {
  return walkEnd;
}
