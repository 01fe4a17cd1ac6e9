// The page heap: runs of whole pages (Go's mheap). See heap.ts for an overview.
//
// A free run of n pages at page s is described by desc[s] (KIND_FREE,
// NPAGES = n, linked into bin binOf(n)) and by D_OWNER of its first and
// last pages, so that a span being freed finds its neighbours in O(1):
// the run after it starts at its end, the run before it ends at s - 1.
// Runs shorter than N_BINS pages sit in exact-size bins whose non-empty
// set is a 128-bit mask in the header, so the best-fit bin is found with
// Math.clz32 in O(1). Longer runs share bin 0, searched for the best fit
// (fewest pages, then lowest address); there are few of them.

import * as layout from "./layout.js";
const { binOf, D_KIND, D_NEXT, D_NPAGES, D_OWNER, DESC_SHIFT, HDR_BIN_NONEMPTY, HDR_END_PAGE, HDR_FREE_BIN,
  HDR_FREE_PAGES, KIND_FREE, N_BINS } = layout;
import type { Core } from "./core.js";
import { linkFront, unlink } from "./lists.js";

/** Links the free run [s, s+n) into its bin and marks its boundary pages. */
export function insertRun(h: Core, s: number, n: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const bin = binOf(n);
  u32[dw + D_OWNER] = s;
  u32[dw + D_KIND] = KIND_FREE;
  u32[dw + D_NPAGES] = n;
  linkFront(h, HDR_FREE_BIN + bin, s);
  u32[HDR_BIN_NONEMPTY + (bin >>> 5)] = u32[HDR_BIN_NONEMPTY + (bin >>> 5)]! | 1 << (bin & 31);
  u32[h.descW + ((s + n - 1) << DESC_SHIFT) + D_OWNER] = s;
  u32[HDR_FREE_PAGES] = u32[HDR_FREE_PAGES]! + n;
}

/** Unlinks the free run starting at page s from its bin. */
export function removeRun(h: Core, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const n = u32[dw + D_NPAGES]!;
  const bin = binOf(n);
  unlink(h, HDR_FREE_BIN + bin, s);
  if (u32[HDR_FREE_BIN + bin] === 0) u32[HDR_BIN_NONEMPTY + (bin >>> 5)] = u32[HDR_BIN_NONEMPTY + (bin >>> 5)]! & ~(1 << (bin & 31));
  u32[dw + D_KIND] = 0;
  u32[HDR_FREE_PAGES] = u32[HDR_FREE_PAGES]! - n;
}

/**
 * Finds the best-fit free run of at least n pages, takes n pages from its
 * start and returns the start page, or 0 if no run fits. The remainder
 * stays free. Cost: O(1) for runs under N_BINS pages, plus a walk of the
 * long-run list when no exact bin fits.
 */
export function takeRun(h: Core, n: number): number {
  const u32 = h.u32;
  let s = 0;
  if (n < N_BINS) {
    // Lowest non-empty bin >= n: mask off bins below n in the first word.
    for (let w = n >>> 5, mask = -1 << (n & 31); w < N_BINS >>> 5; w++, mask = -1) {
      const bits = u32[HDR_BIN_NONEMPTY + w]! & mask;
      if (bits !== 0) {
        s = u32[HDR_FREE_BIN + (w << 5) + 31 - Math.clz32(bits & -bits)]!;
        break;
      }
    }
  }
  if (s === 0) s = bestLongRun(h, n);
  if (s === 0) return 0;
  const have = u32[h.descW + (s << DESC_SHIFT) + D_NPAGES]!;
  removeRun(h, s);
  if (have > n) insertRun(h, s + n, have - n);
  return s;
}

function bestLongRun(h: Core, n: number): number {
  const u32 = h.u32;
  let best = 0;
  let bestPages = 0;
  for (let s = u32[HDR_FREE_BIN]!; s !== 0; s = u32[h.descW + (s << DESC_SHIFT) + D_NEXT]!) {
    const pages = u32[h.descW + (s << DESC_SHIFT) + D_NPAGES]!;
    if (pages >= n && (best === 0 || pages < bestPages || (pages === bestPages && s < best))) {
      best = s;
      bestPages = pages;
    }
  }
  return best;
}

/** Returns pages [s, s+n) to the free pool, coalescing with free neighbours on both sides. */
export function freeRun(h: Core, s: number, n: number): void {
  const u32 = h.u32;
  // s may be absorbed by a run before it: leave no stale span kind behind,
  // so a lookup through an old D_OWNER never mistakes these pages for a span.
  u32[h.descW + (s << DESC_SHIFT) + D_KIND] = 0;
  const after = s + n;
  if (after < h.endPage && u32[h.descW + (after << DESC_SHIFT) + D_KIND] === KIND_FREE) {
    n += u32[h.descW + (after << DESC_SHIFT) + D_NPAGES]!;
    removeRun(h, after);
  }
  if (s > h.firstDataPage) {
    const before = u32[h.descW + ((s - 1) << DESC_SHIFT) + D_OWNER]!;
    const bw = h.descW + (before << DESC_SHIFT);
    if (u32[bw + D_KIND] === KIND_FREE && before + u32[bw + D_NPAGES]! === s) {
      removeRun(h, before);
      n += s - before;
      s = before;
    }
  }
  insertRun(h, s, n);
}

/**
 * Grows the committed range so that a run of n pages is free at its end,
 * adding the growth policy's step. Returns false (changing nothing) when
 * the backing memory cannot reach even the bare need.
 */
export function growFor(h: Core, n: number): boolean {
  const u32 = h.u32;
  const end = h.endPage;
  // A free run touching the end is extended rather than left behind.
  const lastOwner = u32[h.descW + ((end - 1) << DESC_SHIFT) + D_OWNER]!;
  const lw = h.descW + (lastOwner << DESC_SHIFT);
  const tailFree = end > h.firstDataPage && u32[lw + D_KIND] === KIND_FREE && lastOwner + u32[lw + D_NPAGES]! === end
    ? end - lastOwner : 0;
  const need = n - tailFree;
  const room = h.totalPages - end;
  if (need > room) return false;
  const step = Math.min(room, need + h.growStepPages());
  if (!extend(h, step) && !extend(h, need)) return false;
  return true;
}

/** Commits `nPages` more pages at the end and frees them into the pool. */
export function extend(h: Core, nPages: number): boolean {
  const end = h.endPage;
  if (!h.commit(end + nPages)) return false;
  h.endPage = end + nPages;
  h.u32[HDR_END_PAGE] = end + nPages;
  freeRun(h, end, nPages);
  return true;
}

/** Removes the free run that ends at the committed end, if any; returns the pages removed. */
export function cutTail(h: Core): number {
  const u32 = h.u32;
  const end = h.endPage;
  if (end <= h.firstDataPage) return 0;
  const s = u32[h.descW + ((end - 1) << DESC_SHIFT) + D_OWNER]!;
  const sw = h.descW + (s << DESC_SHIFT);
  if (u32[sw + D_KIND] !== KIND_FREE || s + u32[sw + D_NPAGES]! !== end) return 0;
  removeRun(h, s);
  h.endPage = s;
  u32[HDR_END_PAGE] = s;
  return end - s;
}
