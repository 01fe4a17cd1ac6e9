// The collector's sweep (step 3 of collector.ts's overview) and the
// release of one garbage block's tags and owned strings.

import type { Heap } from "../heap/heap.js";
import * as L from "./gc-layout.js";
import type { GcSpace } from "./gc-space.js";

const { CHUNK_SHIFT, DIR_F64_FREED_BLOCKS, DIR_F64_FREED_BYTES, EVEN_BITS, G_WORD_SHIFT } = L;

/**
 * Sweeps granule-bitmap words [from, to) of `space` (step 3 of
 * collector.ts's overview): frees each START without MARK (its owned
 * strings, its tags, the block), clears MARK on the rest, and counts what
 * it freed in the directory. O(to - from + freed blocks).
 */
// A word's garbage lies in one 128-byte line of one page, so (small
// blocks of one span, or one large block) it goes back in one
// heap.freeLine, not a heap.free each: most of what a sweep cost was those
// frees, and the flushes of the cache list they filled. freeLine runs
// under the heap lock, taken once in a call, at its first garbage.
export function sweepWords(heap: Heap, space: GcSpace, from: number, to: number): void {
  const gB = space.gB;
  let blocks = 0;
  let bytes = 0;
  let locked = false;
  try {
    for (let i = from; i < to; i++) {
      // Word i of the granule bitmap covers the line at i << G_WORD_SHIFT, in chunk i >>> (CHUNK_SHIFT - G_WORD_SHIFT).
      const gw = gB[i >>> (CHUNK_SHIFT - G_WORD_SHIFT)]! + i;
      const x = heap.u32[gw]!;
      if (x === 0) continue;
      const starts = x & EVEN_BITS;
      const dead = starts & ~((x >>> 1) & EVEN_BITS);
      if (dead === 0) {
        heap.u32[gw] = starts;
        continue;
      }
      heap.u32[gw] = (starts & ~dead) >>> 0;
      if (!locked) {
        heap.lockHeap();
        locked = true;
      }
      const line = (i << G_WORD_SHIFT) >>> 0;
      // One size for the line's blocks: a page holds one class, or starts one large block.
      const size = heap.usable(line + ((31 - Math.clz32(dead & -dead)) << 2));
      for (let d = dead; d !== 0; d &= d - 1) {
        dropTags(heap, space, line + ((31 - Math.clz32(d & -d)) << 2), size);
        blocks++;
        bytes += size;
      }
      if (!heap.freeLine(line, dead)) {
        for (let d = dead; d !== 0; d &= d - 1) heap.free(line + ((31 - Math.clz32(d & -d)) << 2));
      }
    }
  } finally {
    if (locked) heap.unlockHeap();
  }
  if (blocks === 0) return;
  space.addLive(-blocks, -bytes);
  space.addF64(DIR_F64_FREED_BLOCKS, blocks);
  space.addF64(DIR_F64_FREED_BYTES, bytes);
}

// Clears the word tags of the garbage block [addr, addr + bytes) and frees
// the strings its W_OWNED words hold.
export function dropTags(heap: Heap, space: GcSpace, addr: number, bytes: number): void {
  const wB = space.wB;
  for (let p = addr >>> 2, end = (addr + bytes) >>> 2; p < end; p = (p | 15) + 1) {
    const mask = L.rangeMask(p & 15, Math.min(16, end - (p & ~15)));
    const ww = wB[p >>> (CHUNK_SHIFT - 2)]! + (p >>> 4);
    const x = heap.u32[ww]!;
    if ((x & mask) === 0) continue;
    heap.u32[ww] = (x & ~mask) >>> 0;
    let owned = (x >>> 1) & EVEN_BITS & mask;
    while (owned !== 0) {
      const bit = 31 - Math.clz32(owned & -owned);
      owned &= owned - 1;
      const s = heap.u32[(p & ~15) + (bit >>> 1)]!;
      if (s !== 0) heap.free(s);
    }
  }
}
