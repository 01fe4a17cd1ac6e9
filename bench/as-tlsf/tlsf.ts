// AssemblyScript TLSF, exported as a bare address allocator for bench/ (compiled by bench/lib/as-tlsf.mjs).

/** Allocates `size` bytes with AssemblyScript's TLSF (rt/tlsf.ts); traps when memory cannot grow. */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Returns a block obtained from `alloc` to TLSF. */
export function free(ptr: usize): void {
  heap.free(ptr);
}
