// Live bytes from the counts alone, and the sampled peak of them. See
// stats.ts for what the peak promises. The fast paths only count (pops and
// pushes in each slot's cache lines); these sums are for the slow paths and
// Heap.stats().

import { CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import {
  CC_ARRAY, CC_BASE, CC_SHIFT, CC_TOP, HDR_CLASS_USED, HDR_END_PAGE, HDR_F64_CLASS_ALLOCS, HDR_F64_CLASS_FREES, HDR_F64_LIVE_BOUND, HDR_F64_PEAK_LIVE, HDR_FREE_PAGES,
  HDR_LARGE_PAGES, MAX_SLOTS, PAGE_SIZE, SL_CACHE, SL_FLAGS, SL_THREAD, SLF_READY, slotWord,
} from "./layout.js";
import type { Core } from "./core.js";

/**
 * Bytes in live blocks, exact, from the counts alone: each class's blocks
 * allocated minus freed (folded totals plus the pops and pushes since its
 * last fold, in every attached slot) times its size, plus the large blocks'
 * pages. Other threads' counts are read as they are, so while they run the
 * sum is a moment's estimate. Only classes in
 * HDR_CLASS_USED can have counts. Cost: a few ns per class ever used and
 * attached slot once V8 has optimized it (one slot, 60 classes: 0.5-0.8
 * us), 20-35 us a call before (5-10 us with the 30-40 classes a program
 * starts with), which is why notePeakLive avoids it when it can; plus a
 * look at each of the slots.
 */
export function countedLiveBytes(h: Core): number {
  const u32 = h.u32;
  const f64 = h.f64;
  let bytes = u32[HDR_LARGE_PAGES]! * PAGE_SIZE;
  for (let w = 0; w <= N_CLASSES >>> 5; w++) {
    for (let bits = u32[HDR_CLASS_USED + w]!; bits !== 0; bits &= bits - 1) {
      const cls = (w << 5) + 31 - Math.clz32(bits & -bits);
      bytes += (f64[HDR_F64_CLASS_ALLOCS + cls]! - f64[HDR_F64_CLASS_FREES + cls]!) * CLASS_SIZE[cls]!;
    }
  }
  // The counts since each list's last fold, in every attached slot (one, mostly).
  for (let k = 0; k < MAX_SLOTS; k++) {
    const sw = slotWord(k);
    if (u32[sw + SL_THREAD] === 0 || (u32[sw + SL_FLAGS]! & SLF_READY) === 0) continue;
    const lines = u32[sw + SL_CACHE]!;
    for (let w = 0; w <= N_CLASSES >>> 5; w++) {
      for (let bits = u32[HDR_CLASS_USED + w]!; bits !== 0; bits &= bits - 1) {
        const cls = (w << 5) + 31 - Math.clz32(bits & -bits);
        const cw = lines + (cls << CC_SHIFT);
        bytes += (u32[cw + CC_BASE]! - (u32[cw + CC_TOP]! - u32[cw + CC_ARRAY]!)) * CLASS_SIZE[cls]!; // pops - pushes
      }
    }
  }
  return bytes;
}

/**
 * Samples the live bytes into the peak (HDR_F64_PEAK_LIVE). Called by the
 * slow paths that let the live bytes fall past what the cache lists can
 * hide (a cache overflow or flush, a large block's free or shrink, a sweep;
 * Heap.stats() samples with its own exact count, raisePeakLive), so the peak
 * is a lower bound of the true one: stats.ts says by how much it can miss.
 * The counts are summed (countedLiveBytes) only when the live bytes may be
 * above the peak: when both the pages in use and the live-bytes bound
 * (HDR_F64_LIVE_BOUND) are. The bound is the
 * last sum plus what refills put on the cache lists and large blocks added
 * since, so the live bytes are at most the bound plus the bytes alloc()
 * took from objects that were on the lists at that sum: within what stats.ts
 * lets the peak miss. A program that frees large blocks often (git's trace,
 * bench:traces) summed at every free, 20-40 us each before V8 optimized the
 * sum: a fifth of its run.
 */
export function notePeakLive(h: Core): void {
  const u32 = h.u32;
  const f64 = h.f64;
  const peak = f64[HDR_F64_PEAK_LIVE]!;
  if ((u32[HDR_END_PAGE]! - h.firstDataPage - u32[HDR_FREE_PAGES]!) * PAGE_SIZE <= peak || f64[HDR_F64_LIVE_BOUND]! <= peak) return;
  const live = countedLiveBytes(h);
  raisePeakLive(h, live);
  f64[HDR_F64_LIVE_BOUND] = live;
}

/**
 * Heap.stats(): `live`, the exact live bytes it counted from the spans,
 * raises the peak (and the bound, exact then) when above it. It must, not
 * call notePeakLive, whose bound may skip the sum while the live bytes are
 * above the peak (a later stats() would then report a lower peak than this
 * one did). Below the peak it writes nothing: reading the statistics leaves
 * the image as it was (heapSnapshot), and the bound stays a bound.
 */
export function raisePeakLive(h: Core, live: number): void {
  const f64 = h.f64;
  if (live > f64[HDR_F64_PEAK_LIVE]!) {
    f64[HDR_F64_PEAK_LIVE] = live;
    f64[HDR_F64_LIVE_BOUND] = live;
  }
}

/**
 * Moves the live-bytes bound (HDR_F64_LIVE_BOUND) by `bytes`: up by what a
 * refill puts on a cache list and what a large block takes, down by what a
 * large block's free or shrink gives back, after its sample (notePeakLive).
 */
export function moveLiveBound(h: Core, bytes: number): void {
  h.f64[HDR_F64_LIVE_BOUND] = h.f64[HDR_F64_LIVE_BOUND]! + bytes;
}
