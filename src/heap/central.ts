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
//
// Damage. Every link and count these paths follow is read from the image,
// which a stray write (a write after free lands on a free object's link)
// can change. So each is checked before it is followed or written through:
// an object taken from a cache list must be a free object of a span of its
// class (cachedSpan, S2); a span taken from a list must be a span of the
// class in the state the list promises (S4, and lists.ts checks the links
// of every list operation); a span's free list must stay on object starts
// of the span in state G_FREE and be exactly objects - used long (S1, S3);
// the counts that bound a flush must fit the committed pages (S2). No list
// is walked further than the objects or pages that exist, and damage
// throws HeapCorruptionError naming the invariant instead of looping or
// writing into live blocks (test/corruption.test.ts).
// The alloc fast path checks as much as cachedSpan, in two tests: the
// granule of the head is exactly G_FREE (so it is a free object's start:
// never metadata, a free page, the inside of an object or a live block;
// layout.ts) and its page's descriptor names the list's class. So whatever
// a write after free stores in a link, alloc returns a free object of the
// right class or reaches the slow path, where cachedSpan names the damage.
// What it costs: heap.ts.

import * as sizeclasses from "./size-classes.js";
const { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { CC_BASE, CC_HEAD, CC_LIMIT, CC_MAX, CC_POPS, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, D_CLASS,
  D_FREE, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, G_FREE, G_LIVE, HDR_CACHE, HDR_CLASS_USED, HDR_EMPTY, HDR_F64_CLASS_ALLOCS,
  HDR_F64_CLASS_FREES, HDR_F64_CLASS_REQUESTED, HDR_F64_LARGE_ALLOCS, HDR_F64_PEAK_LIVE, HDR_FREE_PAGES,
  HDR_END_PAGE, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, HDR_N_EMPTY_SPANS, HDR_PARTIAL, KIND_LARGE, KIND_SMALL,
  PAGE_SHIFT, PAGE_SIZE, SAMPLE_NEVER } = layout;
import { hex } from "../errors.js";
import type { Core } from "./core.js";
import { damaged, linkFront, popFront, unlink } from "./lists.js";
import { extend, freeRun, growFor, takeRun } from "./page-heap.js";
import { clearGranules, granuleState, liveGranules, markFreeObjects, setGranule } from "./granules.js";

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
    u32[HDR_CACHE + (cls << CC_SHIFT) + CC_SAMPLE_AT] = SAMPLE_NEVER;
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
 * objects and released spans are free memory in another place). With
 * `growFirst` (a profiler sample, one page now and then) it grows before
 * flushing: a flush of every cache costs the program far more than a page.
 */
export function acquirePages(h: Core & GrowAhead, n: number, growFirst = false): number {
  let s = takeRun(h, n);
  if (s === 0 && growFirst && growFor(h, n)) s = takeRun(h, n);
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

/** Makes pages [s, s+n) a small span of class cls with every object on its free list, each G_FREE. */
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
  markFreeObjects(u32, base, size, CLASS_OBJECTS[cls]!);
}

/**
 * Refills class cls's empty cache list with at least one span's worth of
 * objects (fewer if only partial spans remain) and returns its first
 * object, still on the list; 0 if the heap is out of memory.
 */
export function refill(h: Core & GrowAhead, cls: number): number {
  foldCounts(h, cls); // the list is empty: its counts must add up to 0 again
  h.u32[HDR_CLASS_USED + (cls >>> 5)] = h.u32[HDR_CLASS_USED + (cls >>> 5)]! | (1 << (cls & 31));
  const want = CLASS_OBJECTS[cls]!;
  const size = CLASS_SIZE[cls]!;
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
    // The span and its free list come from the image: it must be a span of
    // this class with free objects (S4), and its list exactly objects - used
    // long, on object starts of the span in state G_FREE (S1, S3), so
    // a cycle or a link out of the span stops the walk instead of running
    // forever or writing elsewhere. (Kept here, not in a helper, so that
    // refill stays too large for V8 to inline into a caller's hot loop, where
    // it would compete with alloc and free for the inlining budget.)
    const u32 = h.u32; // growth may have replaced the views
    const dw = h.descW + (s << DESC_SHIFT);
    const used = u32[dw + D_USED]!;
    if (u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls || u32[dw + D_OWNER] !== s ||
      u32[dw + D_NPAGES] !== CLASS_PAGES[cls] || used >= want) {
      damaged("S4", `class ${cls}'s span lists link page ${s}, which is not a span of that class with free objects`);
    }
    const base = s * PAGE_SIZE;
    const free = want - used;
    let tail = 0;
    let n = 0;
    for (let a = u32[dw + D_FREE]!; a !== 0; a = u32[a >>> 2]!) {
      if (++n > free) damaged("S1", `the free list of the span at page ${s} (class ${cls}) is longer than its ${free} free objects (a cycle?)`);
      if (a < base || a - base >= want * size || (a - base) % size !== 0 || granuleState(u32, a) !== G_FREE) {
        damaged("S1", `the free list of the span at page ${s} (class ${cls}, ${size} B) links ${hex(a)}, not a free object of the span`);
      }
      tail = a;
    }
    if (n !== free) damaged("S3", `span at page ${s}: used ${used} of ${want} objects, but ${n} on its free list`);
    u32[tail >>> 2] = head;
    head = u32[dw + D_FREE]!;
    got += free;
    u32[dw + D_USED] = want;
    u32[dw + D_FREE] = 0;
  }
  h.u32[HDR_CACHE + (cls << CC_SHIFT) + CC_HEAD] = head;
  setLength(h.u32, cls, got);
  notePeakLive(h);
  return head;
}

/**
 * Checks `a`, read from class cls's cache list, and returns its span's
 * start page: it must be a free object of a small span of class cls (inside
 * the committed pages, on an object start, in state G_FREE). Throws
 * HeapCorruptionError (S2) otherwise. The free path and refill trust the
 * list; every slow path that follows it checks each object here first.
 */
export function cachedSpan(h: Core, a: number, cls: number): number {
  const u32 = h.u32;
  const what = `class ${cls}'s cache list`;
  if (!(a >= h.firstDataPage * PAGE_SIZE && a < h.endPage * PAGE_SIZE)) damaged("S2", `${what} links to ${hex(a)}, outside the heap's pages`);
  const page = a >>> PAGE_SHIFT;
  const s = u32[h.descW + (page << DESC_SHIFT) + D_OWNER]!;
  const dw = h.descW + (s << DESC_SHIFT);
  const size = CLASS_SIZE[cls]!;
  const off = a - s * PAGE_SIZE;
  if (s < h.firstDataPage || s > page || u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls ||
    off >= CLASS_OBJECTS[cls]! * size || off % size !== 0) {
    damaged("S2", `${what} links to ${hex(a)}, which is not an object of a span of class ${cls}`);
  }
  if (granuleState(u32, a) !== G_FREE) damaged("S2", `${what} holds ${hex(a)}, which is not a free object (granule state ${granuleState(u32, a)})`);
  return s;
}

/**
 * Returns free object `addr` (already G_FREE) of the span at page
 * s to it, moving the span between lists as its state changes.
 */
function returnObject(h: Core, addr: number, cls: number, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const head = u32[dw + D_FREE]!;
  const used = u32[dw + D_USED]! - 1;
  if (!(used >= 0 && used < CLASS_OBJECTS[cls]!)) damaged("S3", `span at page ${s}: used ${used + 1}, while ${hex(addr)} is returned to it`);
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
  const requested = u32[cw + CC_REQUESTED]!;
  f64[HDR_F64_CLASS_REQUESTED + cls] = f64[HDR_F64_CLASS_REQUESTED + cls]! + requested;
  // The fast path keeps CC_REQUESTED <= CC_SAMPLE_AT, so this stays >= 0.
  if (u32[cw + CC_SAMPLE_AT] !== SAMPLE_NEVER) u32[cw + CC_SAMPLE_AT] = Math.max(0, u32[cw + CC_SAMPLE_AT]! - requested);
  u32[cw + CC_POPS] = 0;
  u32[cw + CC_PUSHES] = 0;
  u32[cw + CC_REQUESTED] = 0;
  setLength(u32, cls, n);
  return n;
}

/**
 * Brings `h`'s views and committed end up to date with the image. free()
 * reaches its slow part (a flush, freeLarge) without Heap's sync, and
 * another Heap on the same memory may have grown it since this one made its
 * views: a flush through the old, shorter views would read the links of
 * objects past their end as undefined. commit() only replaces the views then
 * (the pages are committed already). A damaged end is left for the next
 * sync to report.
 */
function catchUp(h: Core): void {
  const end = h.u32[HDR_END_PAGE]!;
  if (end !== h.endPage && end >= h.firstDataPage && end <= h.totalPages && h.commit(end)) h.endPage = end;
}

/** The free path's slow part: folds the counts, and flushes half the list if it passed its bound. */
export function cacheOverflow(h: Core, cls: number): void {
  const max = h.u32[HDR_CACHE + (cls << CC_SHIFT) + CC_MAX]!;
  if (foldCounts(h, cls) > max) flushCache(h, cls, max >>> 1);
  notePeakLive(h);
}

/**
 * Bytes in live blocks, exact, from the counts alone: each class's blocks
 * allocated minus freed (folded totals plus the pops and pushes since its
 * last fold) times its size, plus the large blocks' pages. Only classes in
 * HDR_CLASS_USED can have counts. Cost: about 2 ns per class ever used (all
 * 71: 150 ns, which is why notePeakLive avoids it when it can).
 */
export function countedLiveBytes(h: Core): number {
  const u32 = h.u32;
  const f64 = h.f64;
  let bytes = u32[HDR_LARGE_PAGES]! * PAGE_SIZE;
  for (let w = 0; w <= N_CLASSES >>> 5; w++) {
    for (let bits = u32[HDR_CLASS_USED + w]!; bits !== 0; bits &= bits - 1) {
      const cls = (w << 5) + 31 - Math.clz32(bits & -bits);
      const cw = HDR_CACHE + (cls << CC_SHIFT);
      const live = f64[HDR_F64_CLASS_ALLOCS + cls]! - f64[HDR_F64_CLASS_FREES + cls]! + u32[cw + CC_POPS]! - u32[cw + CC_PUSHES]!;
      bytes += live * CLASS_SIZE[cls]!;
    }
  }
  return bytes;
}

/**
 * Samples the live bytes into the peak (HDR_F64_PEAK_LIVE). Called by the
 * slow paths only (a refill, a cache overflow, a large allocation) and by
 * Heap.stats(), so the peak is a lower bound of the true one: stats.ts
 * says by how much it can miss. Live blocks lie in pages in use, so while
 * those are not above the peak the sum is skipped: O(1) then (a steady
 * large-block workload), else countedLiveBytes.
 */
export function notePeakLive(h: Core): void {
  const u32 = h.u32;
  const peak = h.f64[HDR_F64_PEAK_LIVE]!;
  if ((u32[HDR_END_PAGE]! - h.firstDataPage - u32[HDR_FREE_PAGES]!) * PAGE_SIZE <= peak) return;
  const live = countedLiveBytes(h);
  if (live > peak) h.f64[HDR_F64_PEAK_LIVE] = live;
}

/** Returns objects from the head of class cls's cache list to their spans until `keep` remain. */
export function flushCache(h: Core, cls: number, keep: number): void {
  catchUp(h);
  const n = foldCounts(h, cls);
  const u32 = h.u32;
  const cw = HDR_CACHE + (cls << CC_SHIFT);
  // The counts bound the walk, so they must fit the pages: no list is
  // longer than the objects of its class that the committed pages hold.
  if (!(n >= 0 && n <= (h.endPage - h.firstDataPage) * PAGE_SIZE / CLASS_SIZE[cls]!)) {
    damaged("S2", `class ${cls}'s cache list counts ${n} objects, more than the committed pages hold`);
  }
  let a = u32[cw + CC_HEAD]!;
  for (let k = n; k > keep; k--) {
    if (a === 0) damaged("S2", `class ${cls}'s cache list ends after ${n - k} objects, but its counts say ${n}`);
    const s = cachedSpan(h, a, cls);
    const next = u32[a >>> 2]!;
    returnObject(h, a, cls, s);
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

/**
 * Gives every empty span back to the page heap. Each span is checked first
 * (S4: a span of the class with used == 0; S3: no allocation bit in its
 * pages), so damage never hands live blocks to the page pool, and a span
 * already released fails the check, which bounds the loop.
 */
export function releaseEmptySpans(h: Core): void {
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    for (let s = popFront(h, HDR_EMPTY + cls); s !== 0; s = popFront(h, HDR_EMPTY + cls)) {
      checkEmptySpan(h, s, cls);
      claimPages(h, s, CLASS_PAGES[cls]!, 0);
      clearGranules(h.u32, s, CLASS_PAGES[cls]!);
      freeRun(h, s, CLASS_PAGES[cls]!);
    }
  }
  h.u32[HDR_N_EMPTY_SPANS] = 0;
}

// Fails unless span s, popped from class cls's empty list, is an empty span of that class with no live granule.
function checkEmptySpan(h: Core, s: number, cls: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const pages = CLASS_PAGES[cls]!;
  if (u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls || u32[dw + D_OWNER] !== s ||
    u32[dw + D_NPAGES] !== pages || u32[dw + D_USED] !== 0) {
    damaged("S4", `class ${cls}'s empty list links page ${s}, which is not an empty span of that class`);
  }
  if (liveGranules(u32, s, pages) !== 0) damaged("S3", `the empty span at page ${s} (class ${cls}) has live blocks`);
}

/** Allocates a block of `sizeBytes` (> MAX_SMALL_SIZE, or a profiler sample) as its own page run; returns its address or 0. growFirst: see acquirePages. */
export function allocLarge(h: Core & GrowAhead, sizeBytes: number, growFirst = false): number {
  const n = Math.ceil(sizeBytes / PAGE_SIZE);
  const s = acquirePages(h, n, growFirst);
  if (s === 0) return 0;
  claimPages(h, s, n, 0);
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_KIND] = KIND_LARGE;
  u32[dw + D_NPAGES] = n;
  u32[dw + D_USED] = sizeBytes;
  u32[dw + D_FREE] = 0;
  const addr = s * PAGE_SIZE;
  setGranule(u32, addr, G_LIVE);
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! + 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + n;
  h.f64[HDR_F64_LARGE_ALLOCS] = h.f64[HDR_F64_LARGE_ALLOCS]! + 1;
  notePeakLive(h);
  return addr;
}

/**
 * Frees the large block at `addr`, whose granule the free path found live
 * and whose page's descriptor named class `cls` (0 for a large block).
 * Damage that sent the free path here (a class outside the table, a live
 * granule that starts no large block, a page count past the committed end)
 * throws HeapCorruptionError and changes nothing.
 */
export function freeLarge(h: Core, addr: number, cls: number): void {
  catchUp(h);
  const u32 = h.u32;
  const s = addr >>> PAGE_SHIFT;
  const dw = h.descW + (s << DESC_SHIFT);
  const n = u32[dw + D_NPAGES]!;
  if (cls !== 0 || addr !== s * PAGE_SIZE || u32[dw + D_KIND] !== KIND_LARGE || u32[dw + D_OWNER] !== s || !(n >= 1 && s + n <= h.endPage)) {
    if (cls !== 0) damaged("P2", `freeing ${hex(addr)}: the descriptor of its page ${s} names class ${cls}, not a size class`);
    if (addr !== s * PAGE_SIZE || u32[dw + D_KIND] !== KIND_LARGE || u32[dw + D_OWNER] !== s) {
      damaged("L1", `freeing ${hex(addr)}: its granule is live, but its page belongs to no size class and it does not start a large block`);
    }
    damaged("P1", `freeing ${hex(addr)}: the large block at page ${s} has ${n} pages; the committed end is page ${h.endPage}`);
  }
  setGranule(u32, addr, layout.G_NONE);
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! - 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! - n;
  freeRun(h, s, n);
}
