// Central lists: the spans of each size class (Go's mcentral), and the cache
// lists that serve the fast paths (the local cache: TCMalloc's thread cache,
// Go's mcache). See heap.ts for an overview.
//
// Each class c has one cache list in the header (HDR_CACHE + 8c: head,
// pop and push counts, base and bound; see layout.ts). free() pushes onto it and alloc() pops from it, so a
// block freed and allocated again never touches its span, and the block
// alloc() hands out is the one freed last, still in the CPU cache. Spans
// only see objects in batches:
//   refill  the cache is empty: take whole free lists of partial spans (an
//           empty span, a new span) until a span's worth of objects is in it;
//   flush   the cache passed CC_MAX objects: return the objects at its head
//           to their spans until half remain.
// For every span:
//
//   used == objects - |span free list|                          (S3)
//   live objects == used - (its objects on the cache list)      (S3)
//
// and it is in exactly one state (S4):
//   full     used == objects (no free objects)   in no list
//   partial  0 < used < objects                   in HDR_PARTIAL[c]
//   empty    used == 0                            in HDR_EMPTY[c]
//
// Empty spans stay with their class, and cached objects in their cache,
// until a page request finds no free run: then every cache is flushed and
// every empty span released before the heap grows (so caching never makes
// the heap bigger), or until trim() does the same.

import * as sizeclasses from "./size-classes.js";
const { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { BITMAP_W, CC_BASE, CC_HEAD, CC_LIMIT, CC_MAX, CC_POPS, CC_PUSHES, CC_REQUESTED, CC_SHIFT, D_CLASS,
  D_FREE, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, HDR_CACHE, HDR_EMPTY, HDR_F64_CLASS_ALLOCS,
  HDR_F64_CLASS_FREES, HDR_F64_CLASS_REQUESTED, HDR_F64_LARGE_ALLOCS, HDR_FREE_PAGES, HDR_LARGE_BLOCKS,
  HDR_LARGE_PAGES, HDR_N_EMPTY_SPANS, HDR_PARTIAL, KIND_LARGE, KIND_SMALL, PAGE_SHIFT, PAGE_SIZE } = layout;
import type { Core } from "./core.js";
import { linkFront, popFront, unlink } from "./lists.js";
import { extend, freeRun, growFor, takeRun } from "./page-heap.js";

/**
 * Bytes a class's cache list may hold before free() flushes half of it.
 * 2 MiB lets a burst of frees of that size go back to the cache without a
 * flush (batch: 10,000 mixed blocks freed at once, 17.1-17.7 ns/op against
 * 18.6-19.2 with 1 MiB). Caches are flushed before the heap grows, so this
 * bounds how long freed memory stays with its class, never how big the heap
 * gets.
 */
export const CACHE_MAX_BYTES = 2 << 20;

/** Sets the bound of every class's cache list (CC_MAX): CACHE_MAX_BYTES of objects, and at least two spans' worth. */
export function initCaches(u32: Uint32Array): void {
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    u32[HDR_CACHE + (cls << CC_SHIFT) + CC_MAX] = Math.max(2 * CLASS_OBJECTS[cls]!, Math.floor(CACHE_MAX_BYTES / CLASS_SIZE[cls]!));
    setLength(u32, cls, 0);
  }
}

/** Growth policy read by acquirePages: grow ahead once used pages exceed this share of committed pages. */
export interface GrowAhead {
  growAt: number;
}

/**
 * Takes n pages: a free run if one fits, else after flushing the caches and
 * releasing empty spans, else after growing the heap. Returns the start
 * page, or 0 if the heap cannot grow enough (then nothing is lost: flushed
 * objects and released spans are free memory in another place).
 */
export function acquirePages(h: Core & GrowAhead, n: number): number {
  let s = takeRun(h, n);
  if (s === 0) {
    flushCaches(h);
    releaseEmptySpans(h);
    s = takeRun(h, n);
  }
  if (s === 0 && growFor(h, n)) s = takeRun(h, n);
  if (s !== 0 && h.growAt < 1) {
    const committed = h.endPage - h.firstDataPage;
    if (committed - h.u32[HDR_FREE_PAGES]! > h.growAt * committed) {
      const step = Math.min(h.totalPages - h.endPage, h.growStepPages());
      if (step > 0) extend(h, step);
    }
  }
  return s;
}

/** Sets owner and class of pages [s, s+n): class 0 for large blocks. */
function claimPages(h: Core, s: number, n: number, cls: number): void {
  const u32 = h.u32;
  for (let dw = h.descW + (s << DESC_SHIFT), end = dw + (n << DESC_SHIFT); dw < end; dw += 1 << DESC_SHIFT) {
    u32[dw + D_OWNER] = s;
    u32[dw + D_CLASS] = cls;
  }
}

/** Makes pages [s, s+n) a small span of class cls with every object on its free list. */
function initSpan(h: Core, s: number, cls: number): void {
  const u32 = h.u32;
  const n = CLASS_PAGES[cls]!;
  claimPages(h, s, n, cls);
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_KIND] = KIND_SMALL;
  u32[dw + D_NPAGES] = n;
  u32[dw + D_USED] = 0;
  const size = CLASS_SIZE[cls]!;
  const base = s * PAGE_SIZE;
  const last = base + (CLASS_OBJECTS[cls]! - 1) * size;
  for (let a = base; a < last; a += size) u32[a >>> 2] = a + size;
  u32[last >>> 2] = 0;
  u32[dw + D_FREE] = base;
}

/**
 * Refills class cls's empty cache list with at least one span's worth of
 * objects (fewer if only partial spans remain) and returns its first
 * object, still on the list; 0 if the heap is out of memory.
 */
export function refill(h: Core & GrowAhead, cls: number): number {
  foldCounts(h, cls); // the list is empty: its counts must add up to 0 again
  const want = CLASS_OBJECTS[cls]!;
  let head = 0;
  let got = 0;
  while (got < want) {
    let s = popFront(h, HDR_PARTIAL + cls);
    if (s === 0) {
      s = popFront(h, HDR_EMPTY + cls);
      if (s !== 0) h.u32[HDR_N_EMPTY_SPANS] = h.u32[HDR_N_EMPTY_SPANS]! - 1;
    }
    if (s === 0) {
      if (got > 0) break;
      s = acquirePages(h, CLASS_PAGES[cls]!);
      if (s === 0) return 0;
      initSpan(h, s, cls);
    }
    const u32 = h.u32; // growth may have replaced the views
    const dw = h.descW + (s << DESC_SHIFT);
    const first = u32[dw + D_FREE]!;
    let tail = first;
    while (u32[tail >>> 2] !== 0) tail = u32[tail >>> 2]!;
    u32[tail >>> 2] = head;
    head = first;
    got += want - u32[dw + D_USED]!;
    u32[dw + D_USED] = want;
    u32[dw + D_FREE] = 0;
  }
  h.u32[HDR_CACHE + (cls << CC_SHIFT) + CC_HEAD] = head;
  setLength(h.u32, cls, got);
  return head;
}

/** Returns free object `addr` (bitmap bit already clear) to its span, moving the span between lists as its state changes. */
function returnObject(h: Core, addr: number, cls: number): void {
  const u32 = h.u32;
  const s = u32[h.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_OWNER]!;
  const dw = h.descW + (s << DESC_SHIFT);
  const head = u32[dw + D_FREE]!;
  const used = u32[dw + D_USED]! - 1;
  u32[addr >>> 2] = head;
  u32[dw + D_FREE] = addr;
  u32[dw + D_USED] = used;
  if (used === 0) {
    if (head !== 0) unlink(h, HDR_PARTIAL + cls, s);
    linkFront(h, HDR_EMPTY + cls, s);
    u32[HDR_N_EMPTY_SPANS] = u32[HDR_N_EMPTY_SPANS]! + 1;
  } else if (head === 0) {
    linkFront(h, HDR_PARTIAL + cls, s);
  }
}

/** Objects on class cls's cache list. */
export function cacheLength(u32: Uint32Array, cls: number): number {
  const cw = HDR_CACHE + (cls << CC_SHIFT);
  return u32[cw + CC_BASE]! + u32[cw + CC_PUSHES]! - u32[cw + CC_POPS]!;
}

// Sets the length of class cls's cache list after a fold (counts are 0).
function setLength(u32: Uint32Array, cls: number, n: number): void {
  const cw = HDR_CACHE + (cls << CC_SHIFT);
  u32[cw + CC_BASE] = n;
  u32[cw + CC_LIMIT] = Math.max(0, u32[cw + CC_MAX]! - n);
}

/**
 * Folds class cls's pop and push counts into its totals and makes the
 * list's length its base; returns the length. Every slow path that changes
 * the list calls it first.
 */
export function foldCounts(h: Core, cls: number): number {
  const u32 = h.u32;
  const f64 = h.f64;
  const cw = HDR_CACHE + (cls << CC_SHIFT);
  const n = cacheLength(u32, cls);
  f64[HDR_F64_CLASS_ALLOCS + cls] = f64[HDR_F64_CLASS_ALLOCS + cls]! + u32[cw + CC_POPS]!;
  f64[HDR_F64_CLASS_FREES + cls] = f64[HDR_F64_CLASS_FREES + cls]! + u32[cw + CC_PUSHES]!;
  f64[HDR_F64_CLASS_REQUESTED + cls] = f64[HDR_F64_CLASS_REQUESTED + cls]! + u32[cw + CC_REQUESTED]!;
  u32[cw + CC_POPS] = 0;
  u32[cw + CC_PUSHES] = 0;
  u32[cw + CC_REQUESTED] = 0;
  setLength(u32, cls, n);
  return n;
}

/** The free path's slow part: folds the counts, and flushes half the list if it passed its bound. */
export function cacheOverflow(h: Core, cls: number): void {
  const max = h.u32[HDR_CACHE + (cls << CC_SHIFT) + CC_MAX]!;
  if (foldCounts(h, cls) > max) flushCache(h, cls, max >>> 1);
}

/** Returns objects from the head of class cls's cache list to their spans until `keep` remain. */
export function flushCache(h: Core, cls: number, keep: number): void {
  const n = foldCounts(h, cls);
  const u32 = h.u32;
  const cw = HDR_CACHE + (cls << CC_SHIFT);
  let a = u32[cw + CC_HEAD]!;
  for (let k = n; k > keep; k--) {
    const next = u32[a >>> 2]!;
    returnObject(h, a, cls);
    a = next;
  }
  u32[cw + CC_HEAD] = a;
  setLength(u32, cls, Math.min(n, keep));
}

/**
 * Empties every cache list into the spans. After this the image holds no
 * cached objects: the state a worker's local cache must reach before it
 * exits, and what trim() and page pressure do first.
 */
export function flushCaches(h: Core): void {
  for (let cls = 1; cls <= N_CLASSES; cls++) flushCache(h, cls, 0);
}

/** Gives every empty span back to the page heap. */
export function releaseEmptySpans(h: Core): void {
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    for (let s = popFront(h, HDR_EMPTY + cls); s !== 0; s = popFront(h, HDR_EMPTY + cls)) {
      claimPages(h, s, CLASS_PAGES[cls]!, 0);
      freeRun(h, s, CLASS_PAGES[cls]!);
    }
  }
  h.u32[HDR_N_EMPTY_SPANS] = 0;
}

/** Allocates a large block of `sizeBytes` (> MAX_SMALL_SIZE) as its own page run; returns its address or 0. */
export function allocLarge(h: Core & GrowAhead, sizeBytes: number): number {
  const n = Math.ceil(sizeBytes / PAGE_SIZE);
  const s = acquirePages(h, n);
  if (s === 0) return 0;
  claimPages(h, s, n, 0);
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_KIND] = KIND_LARGE;
  u32[dw + D_NPAGES] = n;
  u32[dw + D_USED] = sizeBytes;
  u32[dw + D_FREE] = 0;
  const addr = s * PAGE_SIZE;
  const bitW = BITMAP_W + (addr >>> 8);
  u32[bitW] = u32[bitW]! | (1 << ((addr >>> 3) & 31));
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! + 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + n;
  h.f64[HDR_F64_LARGE_ALLOCS] = h.f64[HDR_F64_LARGE_ALLOCS]! + 1;
  return addr;
}

/** Frees the large block starting at page s (its bitmap bit already cleared by the caller). */
export function freeLarge(h: Core, s: number): void {
  const u32 = h.u32;
  const n = u32[h.descW + (s << DESC_SHIFT) + D_NPAGES]!;
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! - 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! - n;
  freeRun(h, s, n);
}
