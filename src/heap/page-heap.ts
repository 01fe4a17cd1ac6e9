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
//
// Descriptors and links are read from the image, so every run this file
// takes from a bin or a neighbour is checked first (runPages) and every
// range it frees must lie in the committed pages: damage throws
// HeapCorruptionError instead of writing into another page's descriptor.

import * as layout from "./layout.js";
const { binOf, D_CLASS, D_KIND, D_NEXT, D_NPAGES, D_OWNER, DESC_SHIFT, HDR_BIN_NONEMPTY, HDR_END_PAGE, HDR_FREE_BIN,
  HDR_FREE_PAGES, HDR_LARGE_PAGES, HDR_PEAK_END_PAGE, KIND_CACHE, KIND_FREE, KIND_LARGE, KIND_SMALL, N_BINS, PAGE_SIZE } = layout;
import { CLASS_PAGES, N_CLASSES } from "./size-classes.js";
import type { Core } from "./core.js";
import { damaged, linkFront, unlink } from "./lists.js";
import { moveLiveBound, notePeakLive } from "./live-bytes.js";

/**
 * Called by walkSpans for each span or free run: its start page, pages,
 * kind (KIND_FREE, KIND_SMALL, KIND_LARGE) and, for a small span, its class
 * (0 otherwise).
 */
export type SpanVisitor = (startPage: number, nPages: number, kind: number, cls: number) => void;

/**
 * The one walk over the image's spans: visits every span and free run of
 * the committed pages in page order, reading only their start pages'
 * descriptors. Damage that would make the walk stray is one policy for every
 * caller (stats, check, snapshot, debug mode, live-block lists): a start page
 * whose kind is none of the three, or whose page count is 0 or runs past
 * the committed end, throws HeapCorruptionError P1; a small span whose class
 * is outside the table or whose page count is not its class's throws S1.
 * Cost: O(spans).
 */
export function walkSpans(h: Core, visit: SpanVisitor): void {
  const u32 = h.u32;
  const end = h.endPage;
  for (let p = h.firstDataPage; p < end; ) {
    const dw = h.descW + (p << DESC_SHIFT);
    const kind = u32[dw + D_KIND]!;
    const n = u32[dw + D_NPAGES]!;
    if (kind !== KIND_FREE && kind !== KIND_SMALL && kind !== KIND_LARGE && kind !== KIND_CACHE) damaged("P1", `page ${p} should start a span or free run but its kind is ${kind}`);
    if (!(n >= 1 && p + n <= end)) damaged("P1", `span at page ${p} has ${n} pages; the committed end is page ${end}`);
    let cls = 0;
    if (kind === KIND_SMALL) {
      cls = u32[dw + D_CLASS]!;
      if (!(cls >= 1 && cls <= N_CLASSES) || CLASS_PAGES[cls] !== n) damaged("S1", `span at page ${p}: class ${cls} with ${n} pages`);
    }
    visit(p, n, kind, cls);
    p += n;
  }
}

/**
 * Pages of the free run starting at page s, after checking its descriptor:
 * a committed page of kind KIND_FREE (P4: bins and neighbours only reach
 * free runs) whose run ends inside the committed pages (P1), with both
 * boundary pages owned by s (P2). Throws HeapCorruptionError otherwise.
 */
function runPages(h: Core, s: number): number {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  if (!(s >= h.firstDataPage && s < h.endPage) || u32[dw + D_KIND] !== KIND_FREE) {
    damaged("P4", `page ${s} is linked as a free run but is not one`);
  }
  const n = u32[dw + D_NPAGES]!;
  if (!(n >= 1 && s + n <= h.endPage)) damaged("P1", `free run at page ${s} has ${n} pages; the committed end is page ${h.endPage}`);
  if (u32[dw + D_OWNER] !== s || u32[h.descW + ((s + n - 1) << DESC_SHIFT) + D_OWNER] !== s) {
    damaged("P2", `free run at page ${s}: a boundary page's owner is not ${s}`);
  }
  return n;
}

// Fails unless pages [s, s+n) are committed data pages.
function checkRange(h: Core, s: number, n: number): void {
  if (!(s >= h.firstDataPage && n >= 1 && s + n <= h.endPage)) {
    damaged("P1", `pages [${s}, ${s + n}) are not inside the committed pages [${h.firstDataPage}, ${h.endPage})`);
  }
}

/** Links the free run [s, s+n) into its bin and marks its boundary pages. */
export function insertRun(h: Core, s: number, n: number): void {
  checkRange(h, s, n);
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const bin = binOf(n);
  u32[dw + D_OWNER] = s;
  u32[dw + D_NPAGES] = n;
  u32[dw + D_KIND] = KIND_FREE; // the kind last: a start page with a kind is whole (repair.ts)
  linkFront(h, HDR_FREE_BIN + bin, s);
  u32[HDR_BIN_NONEMPTY + (bin >>> 5)] = u32[HDR_BIN_NONEMPTY + (bin >>> 5)]! | 1 << (bin & 31);
  u32[h.descW + ((s + n - 1) << DESC_SHIFT) + D_OWNER] = s;
  u32[HDR_FREE_PAGES] = u32[HDR_FREE_PAGES]! + n;
}

/** Unlinks the free run starting at page s from its bin. */
export function removeRun(h: Core, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const n = runPages(h, s);
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
  let bin = 0;
  if (n < N_BINS) {
    // Lowest non-empty bin >= n: mask off bins below n in the first word.
    for (let w = n >>> 5, mask = -1 << (n & 31); w < N_BINS >>> 5; w++, mask = -1) {
      const bits = u32[HDR_BIN_NONEMPTY + w]! & mask;
      if (bits !== 0) {
        bin = (w << 5) + 31 - Math.clz32(bits & -bits);
        s = u32[HDR_FREE_BIN + bin]!;
        break;
      }
    }
  }
  if (s === 0) {
    bin = 0;
    s = bestLongRun(h, n);
  }
  if (s === 0) return 0;
  const have = runPages(h, s);
  if (have < n || binOf(have) !== bin) damaged("P4", `bin ${bin} holds the free run at page ${s} of ${have} pages (taking ${n})`);
  removeRun(h, s);
  if (have > n) insertRun(h, s + n, have - n);
  return s;
}

function bestLongRun(h: Core, n: number): number {
  const u32 = h.u32;
  let best = 0;
  let bestPages = 0;
  // Runs in bin 0 have N_BINS pages or more, so the committed pages bound the list's length.
  let left = (h.endPage - h.firstDataPage) / N_BINS;
  for (let s = u32[HDR_FREE_BIN]!; s !== 0; s = u32[h.descW + (s << DESC_SHIFT) + D_NEXT]!) {
    const pages = runPages(h, s);
    if (pages < N_BINS || --left < 0) damaged("P4", `bin 0 links the free run at page ${s} of ${pages} pages${pages < N_BINS ? "" : ", past the most runs that fit (a cycle?)"}`);
    if (pages >= n && (best === 0 || pages < bestPages || (pages === bestPages && s < best))) {
      best = s;
      bestPages = pages;
    }
  }
  return best;
}

/** Returns pages [s, s+n) to the free pool, coalescing with free neighbours on both sides. */
export function freeRun(h: Core, s: number, n: number): void {
  checkRange(h, s, n);
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

/**
 * Commits `nPages` more pages at the end and frees them into the pool. The
 * only place the committed end grows, so it keeps the peak (HDR_PEAK_END_PAGE).
 */
export function extend(h: Core, nPages: number): boolean {
  const end = h.endPage;
  if (!h.commit(end + nPages)) return false;
  h.endPage = end + nPages;
  h.u32[HDR_END_PAGE] = end + nPages;
  if (end + nPages > h.u32[HDR_PEAK_END_PAGE]!) h.u32[HDR_PEAK_END_PAGE] = end + nPages;
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

/**
 * Resizes the large block at page s to `want` pages in place: shrinking
 * frees its tail pages; growing takes pages from the free run right after
 * it, committing more pages first if the block ends at the committed end.
 * Returns false, changing nothing, if the pages after it are not free and
 * cannot be committed.
 */
export function resizeLarge(h: Core, s: number, want: number): boolean {
  let u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const n = u32[dw + D_NPAGES]!;
  const after = s + n;
  if (want < n) {
    notePeakLive(h); // shrinking lowers the live bytes: a sample first (stats.ts)
    u32[dw + D_NPAGES] = want;
    u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! - (n - want);
    moveLiveBound(h, -(n - want) * PAGE_SIZE);
    freeRun(h, s + want, n - want);
    return true;
  }
  const need = want - n;
  if (need === 0) return true;
  if (after === h.endPage && !growFor(h, need)) return false;
  u32 = h.u32; // growing may have replaced the views
  const aw = h.descW + (after << DESC_SHIFT);
  if (after >= h.endPage || u32[aw + D_KIND] !== KIND_FREE || u32[aw + D_NPAGES]! < need) return false;
  const have = u32[aw + D_NPAGES]!;
  removeRun(h, after);
  if (have > need) insertRun(h, after + need, have - need);
  for (let p = after; p < after + need; p++) u32[h.descW + (p << DESC_SHIFT) + D_OWNER] = s; // D_CLASS of free pages is 0
  u32[dw + D_NPAGES] = want;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + need;
  moveLiveBound(h, need * PAGE_SIZE);
  return true;
}
