// Repair after a thread stopped (worker.terminate()) inside a slow path
// while it held the heap lock: its change may be half made. See slots.ts
// (releaseThreadSlot) and heap.ts for an overview.
//
// What the repair trusts: the page descriptors' tiling (start page, kind,
// pages, class: P1, P2, checked by the span walker), the allocation bitmap
// (every granule changes in one step, so it is never half written), and
// the cache lists of the threads that are alive. What it rebuilds from
// them: the dead thread's cache (emptied: its objects are free objects of
// their spans again, and its cache block freed), every small span's free list and used count, the
// partial and empty lists, the free runs (coalesced and binned again, their
// granules cleared), the large-block counts, and each class's count of
// frees (so that allocations minus frees is the live blocks, C1: a half
// made fold of the dead thread's counts is the only thing lost). A change
// of the tiling cut short is mended first (see the loop that does it); a new
// span cut before its objects were marked gets them marked free. Other
// damage to the tiling is not repaired: the walk or the check that follows
// reports it. test/repair.test.ts cuts slow paths after every store and
// checks the result.

import * as layout from "./layout.js";
const { CC_ARRAY, CC_BASE, CC_LIMIT, CC_MAX, CC_PUSHES, CC_REQUESTED, CC_SHIFT, CC_TOP, D_CLASS, D_FREE, D_KIND, D_NPAGES, D_USED, DESC_SHIFT,
  G_FREE, G_LIVE_BIT, G_NONE, HDR_BIN_NONEMPTY, HDR_EMPTY, HDR_F64_CLASS_ALLOCS, HDR_F64_CLASS_FREES, HDR_FREE_BIN,
  HDR_FREE_PAGES, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, HDR_N_EMPTY_SPANS, HDR_PARTIAL, KIND_CACHE, KIND_FREE, KIND_LARGE, KIND_SMALL,
  N_BINS, PAGE_SIZE } = layout;
import { CLASS_OBJECTS, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import type { Core } from "./core.js";
import { clearGranules, granuleState, setGranule } from "./granules.js";
import { linkFront } from "./lists.js";
import { insertRun, walkSpans } from "./page-heap.js";

/**
 * Rebuilds the state a thread stopped in a slow path may have left half
 * changed (see the top of this file). `deadLines` is the dead thread's
 * cache lines (-1 if its slot has none any more), `liveLines` those of every
 * other slot in use. Throws
 * HeapCorruptionError where the tiling itself is damaged.
 */
export function repairAfterDeath(h: Core, deadLines: number, liveLines: number[]): void {
  const u32 = h.u32;
  const f64 = h.f64;
  // The dead thread's caches: empty, and its counts since the last fold dropped (C1 is rebuilt below).
  for (let cls = 1; deadLines >= 0 && cls <= N_CLASSES; cls++) {
    const cw = deadLines + (cls << CC_SHIFT);
    u32[cw + CC_TOP] = u32[cw + CC_ARRAY]!;
    u32[cw + CC_LIMIT] = u32[cw + CC_MAX]!;
    u32[cw + CC_BASE] = 0;
    u32[cw + CC_PUSHES] = 0;
    u32[cw + CC_REQUESTED] = 0;
  }
  // Objects on the live threads' lists stay there.
  const cached = new Set<number>();
  const cachedPerClass = new Float64Array(N_CLASSES + 1);
  for (const lines of liveLines) {
    for (let cls = 1; cls <= N_CLASSES; cls++) {
      const cw = lines + (cls << CC_SHIFT);
      for (let w = u32[cw + CC_ARRAY]! + 1; w <= u32[cw + CC_TOP]!; w++) cached.add(u32[w]!);
      cachedPerClass[cls] = cachedPerClass[cls]! + u32[cw + CC_TOP]! - u32[cw + CC_ARRAY]!;
    }
  }
  for (let cls = 1; cls <= N_CLASSES; cls++) u32[HDR_PARTIAL + cls] = 0, u32[HDR_EMPTY + cls] = 0;
  for (let b = 0; b < N_BINS; b++) u32[HDR_FREE_BIN + b] = 0;
  for (let w = 0; w < N_BINS >>> 5; w++) u32[HDR_BIN_NONEMPTY + w] = 0;
  // The tiling, mended where a change of it was cut short. A start page's
  // kind is written after its page count and class, and cleared first
  // (removeRun, freeRun), so a page with a kind starts a whole span or run,
  // and a start page without one begins a free run that reaches the next
  // page with a kind (growth commits pages before it describes them, too).
  // A small span whose class is 0 was being released (releaseEmptySpans
  // clears its pages' classes before freeRun).
  for (let p = h.firstDataPage; p < h.endPage; ) {
    const dw = h.descW + (p << DESC_SHIFT);
    const kind = u32[dw + D_KIND]!;
    if (kind === 0) {
      let n = 1;
      while (p + n < h.endPage && u32[h.descW + ((p + n) << DESC_SHIFT) + D_KIND] === 0) n++;
      u32[dw + D_KIND] = KIND_FREE;
      u32[dw + D_NPAGES] = n;
    } else if (kind === KIND_SMALL && u32[dw + D_CLASS] === 0) {
      u32[dw + D_KIND] = KIND_FREE;
    }
    const n = u32[dw + D_NPAGES]!;
    if (!(n >= 1 && p + n <= h.endPage)) break; // the walk below reports it
    p += n;
  }
  const runs: number[] = [];
  const usedPerClass = new Float64Array(N_CLASSES + 1);
  let nEmpty = 0;
  let largeBlocks = 0;
  let largePages = 0;
  walkSpans(h, (p, n, kind, cls) => {
    const dw = h.descW + (p << DESC_SHIFT);
    if (kind === KIND_SMALL) {
      const size = CLASS_SIZE[cls]!;
      const objects = CLASS_OBJECTS[cls]!;
      let head = 0;
      let free = 0;
      for (let i = objects - 1, a = p * PAGE_SIZE + i * size; i >= 0; i--, a -= size) {
        const g = granuleState(u32, a);
        if (g === G_NONE) setGranule(u32, a, G_FREE); // a new span cut short before its objects were marked
        else if (g !== G_FREE || cached.has(a)) continue;
        u32[a >>> 2] = head;
        head = a;
        free++;
      }
      u32[dw + D_FREE] = head;
      u32[dw + D_USED] = objects - free;
      usedPerClass[cls] = usedPerClass[cls]! + objects - free;
      if (free === objects) {
        linkFront(h, HDR_EMPTY + cls, p);
        nEmpty++;
      } else if (free > 0) {
        linkFront(h, HDR_PARTIAL + cls, p);
      }
    } else if (kind === KIND_FREE) {
      runs.push(p, n);
    } else if (kind === KIND_CACHE) {
      const w = (p * PAGE_SIZE) >>> 2;
      if (w !== deadLines && !liveLines.includes(w)) runs.push(p, n); // no slot names it: the dead thread's, cut short
    } else if (kind === KIND_LARGE) {
      if ((granuleState(u32, p * PAGE_SIZE) & G_LIVE_BIT) !== 0) {
        // A resize in place cut between the page count and the size: the size becomes the pages'.
        if (Math.ceil(u32[dw + D_USED]! / PAGE_SIZE) !== n) u32[dw + D_USED] = n * PAGE_SIZE;
        largeBlocks++;
        largePages += n;
      } else {
        runs.push(p, n); // a free cut short after the granule
      }
    }
  });
  u32[HDR_N_EMPTY_SPANS] = nEmpty;
  u32[HDR_LARGE_BLOCKS] = largeBlocks;
  u32[HDR_LARGE_PAGES] = largePages;
  // Free runs: adjacent ones (a coalesce cut short) become one, binned afresh.
  u32[HDR_FREE_PAGES] = 0;
  for (let i = 0; i < runs.length; ) {
    const s = runs[i]!;
    let n = runs[i + 1]!;
    for (i += 2; i < runs.length && runs[i] === s + n; i += 2) n += runs[i + 1]!;
    for (let q = s; q < s + n; q++) {
      const qw = h.descW + (q << DESC_SHIFT);
      u32[qw + D_CLASS] = 0;
      u32[qw + D_KIND] = q === s ? KIND_FREE : 0;
      if (q !== s) u32[qw + D_NPAGES] = 0;
    }
    clearGranules(u32, s, n);
    insertRun(h, s, n);
  }
  // C1: each class's frees make allocations minus frees its live objects.
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    let pops = 0;
    for (const lines of liveLines) {
      const cw = lines + (cls << CC_SHIFT);
      pops += layout.popsSinceFold(u32, cw) - u32[cw + CC_PUSHES]!;
    }
    const live = usedPerClass[cls]! - cachedPerClass[cls]!;
    f64[HDR_F64_CLASS_FREES + cls] = f64[HDR_F64_CLASS_ALLOCS + cls]! + pops - live;
  }
  f64[layout.HDR_F64_LIVE_BOUND] = Infinity; // unknown after a repair: the next peak sample sums the counts (live-bytes.ts)
}
