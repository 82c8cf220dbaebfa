// AssemblyScript: the bump allocator of the modules (dist/kernels.wasm, dist/quantizers.wasm and dist/header.wasm).

let heapTop: usize = __heap_base;

/** A buffer of `bytes` in linear memory (bump allocation; `reset` frees everything). Traps when memory cannot grow. */
export function alloc(bytes: i32): usize {
  const ptr = (heapTop + 15) & ~(<usize>15);
  const end = ptr + <usize>bytes;
  const pages = <i32>((end + 0xffff) >> 16) - memory.size();
  if (pages > 0 && memory.grow(pages) < 0) unreachable();
  heapTop = end;
  return ptr;
}

export function reset(): void {
  heapTop = __heap_base;
}
