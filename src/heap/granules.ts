// The allocation bitmap's accessors for the slow paths: every read and
// write of a granule's state outside the two fast paths (allocator.ts alloc and
// free, which inline the same arithmetic) goes through these. layout.ts
// draws the bitmap and lists the states. See heap.ts for an overview.

import * as layout from "./layout.js";
import { popcount } from "../common/bits.js";
const { BITMAP_W, BITMAP_WORDS_PER_PAGE, GRANULE_SHIFT_MASK, GRANULE_WORD_SHIFT, HDR_SHARED, WORD_LIVE_BITS } = layout;

/** State of the granule at address `a` (G_NONE, G_LIVE, G_FREE or G_LIVE_DEBUG). */
export function granuleState(u32: Uint32Array, a: number): number {
  return (u32[BITMAP_W + (a >>> GRANULE_WORD_SHIFT)]! >>> ((a >>> 2) & GRANULE_SHIFT_MASK)) & 3;
}

/**
 * Sets the state of the granule at address `a`. The slow paths alone call
 * it, under the heap lock. On a heap other threads use (HDR_SHARED) they
 * change other granules of the same word, so it is a compareExchange; else
 * a plain store: a thread that attaches sets HDR_SHARED and then waits for
 * this thread's slow path to end before it changes anything (slots.ts), so
 * a 0 read here means nobody else writes the bitmap until it ends. (The
 * exchange cost a large block's alloc and free 8% of their time.)
 */
export function setGranule(u32: Uint32Array, a: number, state: number): void {
  const w = BITMAP_W + (a >>> GRANULE_WORD_SHIFT);
  const shift = (a >>> 2) & GRANULE_SHIFT_MASK;
  if (u32[HDR_SHARED] === 0) {
    u32[w] = ((u32[w]! & ~(3 << shift)) | (state << shift)) >>> 0;
    return;
  }
  for (let old = u32[w]!; ; ) {
    const seen = Atomics.compareExchange(u32, w, old, ((old & ~(3 << shift)) | (state << shift)) >>> 0);
    if (seen === old) return;
    old = seen;
  }
}

/** True if a live block (G_LIVE or G_LIVE_DEBUG) starts at `a`. */
export function isLive(u32: Uint32Array, a: number): boolean {
  return (granuleState(u32, a) & layout.G_LIVE_BIT) !== 0;
}

/** Live granules (G_LIVE or G_LIVE_DEBUG) in pages [p, p+n). Cost: n * 64 word reads. */
export function liveGranules(u32: Uint32Array, p: number, n: number): number {
  let count = 0;
  for (let w = BITMAP_W + p * BITMAP_WORDS_PER_PAGE, end = w + n * BITMAP_WORDS_PER_PAGE; w < end; w++) {
    const x = u32[w]!;
    if (x !== 0) count += popcount(x & WORD_LIVE_BITS);
  }
  return count;
}

/** Granules that are not G_NONE in pages [p, p+n). */
export function usedGranules(u32: Uint32Array, p: number, n: number): number {
  let count = 0;
  for (let w = BITMAP_W + p * BITMAP_WORDS_PER_PAGE, end = w + n * BITMAP_WORDS_PER_PAGE; w < end; w++) {
    const x = u32[w]!;
    if (x !== 0) count += popcount((x | (x >>> 1)) & WORD_LIVE_BITS);
  }
  return count;
}

/** Sets every granule of pages [p, p+n) to G_NONE. */
export function clearGranules(u32: Uint32Array, p: number, n: number): void {
  const w = BITMAP_W + p * BITMAP_WORDS_PER_PAGE;
  u32.fill(0, w, w + n * BITMAP_WORDS_PER_PAGE);
}

/** Marks `objects` objects of `size` bytes from address `base` G_FREE (their granules were G_NONE). */
export function markFreeObjects(u32: Uint32Array, base: number, size: number, objects: number): void {
  for (let i = 0, a = base; i < objects; i++, a += size) {
    const w = BITMAP_W + (a >>> GRANULE_WORD_SHIFT);
    u32[w] = u32[w]! | (layout.G_FREE << ((a >>> 2) & GRANULE_SHIFT_MASK));
  }
}

