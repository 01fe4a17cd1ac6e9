// Central lists: the spans of each size class (Go's mcentral), and the cache
// lists that serve the fast paths (the local cache: TCMalloc's thread cache,
// Go's mcache). See heap.ts for an overview.
//
// Each thread's slot (slots.ts) has one cache list per class c: a stack of
// free objects' addresses in an array of the metadata, with its count, bound
// and counters in the slot's cache line (h.cacheW + 8c; slot 0's lines are in
// the header at HDR_CACHE; see layout.ts). A Heap only ever changes its own
// slot's lists; the functions here work on `h.cacheW`'s. free() pushes onto it and alloc()
// pops from it, so a block freed and allocated again never touches its span,
// and the block alloc() hands out is the one freed last, still in the CPU
// cache. Spans only see objects in batches:
//   refill  the cache is empty: take objects from the free lists of partial
//           spans (an empty span, a new span) until a span's worth is in it;
//   flush   the cache is full: return its newest objects (the top of the
//           stack, still in the CPU cache) to their spans until half remain.
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
// Empty spans stay with their class until a page request finds no free
// run: then they are released before the heap grows. Cached objects stay in
// their cache until the heap cannot grow: then this thread's caches are
// flushed and the spans that emptied released (acquirePages says why in
// that order), or until trim() does the same.
//
// Damage. A write after free lands in a free object; the only link kept
// there is a span's free list (the cache lists are arrays in the metadata,
// out of a program's reach unless it writes through a wild address). So
// refill checks every object it takes from a span's list: an object start
// of that span, in state G_FREE, and no more of them than the span's free
// count (S1, S3); a damaged link stops it with HeapCorruptionError and
// alloc never hands out metadata, a free page, the inside of an object,
// a live block or another class's object (test/corruption.test.ts, and the
// fuzz target heap-links). The rest of the image is checked as the slow
// paths read it: an object taken from a cache list must be a free object of
// a span of its class (cachedSpan, S2); a span taken from a list must be a
// span of the class in the state the list promises (S4, and lists.ts
// checks the links of every list operation); the counts that bound a flush
// must fit the array (S2). No list is walked further than the objects or
// pages that exist, and damage throws HeapCorruptionError naming the
// invariant instead of looping or writing into live blocks.
// Why arrays and not links through the free objects (as before image
// version 5): nothing else kept alloc's cost near the release's while
// checking what a write after free can reach. Links checked on every pop
// (granule state and the page's class) cost 10-19% on pair64, batch and
// churn; the arrays cost 0-7% (README, Performance; bench/ab.mjs).

import * as sizeclasses from "./size-classes.js";
const { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { ALIGN_MASK, BITMAP_W, CC_ARRAY, CC_BASE, CC_LIMIT, CC_MAX, CC_TOP, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, D_CLASS,
  D_FREE, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, G_FREE, G_LIVE, HDR_CLASS_USED, HDR_EMPTY, HDR_F64_CLASS_ALLOCS,
  HDR_F64_CLASS_FREES, HDR_F64_CLASS_REQUESTED, HDR_F64_LARGE_ALLOCS, HDR_FREE_PAGES,
  HDR_END_PAGE, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, HDR_N_EMPTY_SPANS, HDR_PARTIAL, KIND_LARGE, KIND_SMALL,
  BITMAP_WORDS_PER_PAGE, GRANULE_WORD_SHIFT, PAGE_SHIFT, PAGE_SIZE, SAMPLE_NEVER, WORD_LIVE_BITS } = layout;
import { hex } from "../errors.js";
import type { Core } from "./core.js";
import { damaged, linkFront, popFront, unlink } from "./lists.js";
import { extend, freeRun, growFor, takeRun } from "./page-heap.js";
import { clearGranules, granuleState, liveGranules, markFreeObjects, setGranule } from "./granules.js";
import { popcount } from "../common/bits.js";
import { moveLiveBound, notePeakLive } from "./live-bytes.js";

/** Offset bits of an address in its line: the 128 bytes whose granules one allocation-bitmap word holds. */
const LINE_MASK = (1 << GRANULE_WORD_SHIFT) - 1;

/** Growth policy read by acquirePages: grow ahead once used pages exceed this share of committed pages. */
export interface GrowAhead {
  growAt: number;
}

/**
 * Takes n pages: a free run if one fits, else after releasing the empty
 * spans (a walk of one list per class), else after growing the heap, else
 * after flushing this thread's caches and releasing the spans that
 * emptied. Returns the start page, or 0 if the heap cannot grow enough
 * (then nothing is lost: flushed objects and released spans are free
 * memory in another place). The flush comes last, as TCMalloc and Go do
 * it: it costs a step per cached object (milliseconds for full caches), a
 * program that is still growing refills the caches right after it, and
 * growth is a memory.grow. Flushing first made the first 100,000
 * operations of real programs' traces 1.4-3.3x slower (bench:traces).
 */
export function acquirePages(h: Core & GrowAhead, n: number): number {
  let s = takeRun(h, n);
  if (s === 0 && h.u32[HDR_N_EMPTY_SPANS] !== 0) {
    releaseEmptySpans(h);
    s = takeRun(h, n);
  }
  if (s === 0 && growFor(h, n)) s = takeRun(h, n);
  if (s === 0) {
    flushCaches(h);
    releaseEmptySpans(h);
    s = takeRun(h, n);
  }
  if (s !== 0 && h.growAt < 1) {
    const committed = h.endPage - h.firstDataPage;
    if (committed - h.u32[HDR_FREE_PAGES]! > h.growAt * committed) {
      const step = Math.min(h.totalPages - h.endPage, h.growStepPages());
      if (step > 0) extend(h, step);
    }
  }
  return s;
}

/**
 * Makes pages [s, s+n) one span of `kind`, of class cls (0 but for a small
 * span), with `used` in D_USED and no free list.
 */
export function describeSpan(h: Core, s: number, n: number, kind: number, cls: number, used: number): void {
  claimPages(h, s, n, cls);
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_NPAGES] = n;
  u32[dw + D_KIND] = kind; // the kind last: a start page with a kind is whole (repair.ts)
  u32[dw + D_USED] = used;
  u32[dw + D_FREE] = 0;
}

/** Sets owner and class of pages [s, s+n): class 0 for large blocks. */
function claimPages(h: Core, s: number, n: number, cls: number): void {
  const u32 = h.u32;
  for (let dw = h.descW + (s << DESC_SHIFT), end = dw + (n << DESC_SHIFT); dw < end; dw += 1 << DESC_SHIFT) {
    u32[dw + D_OWNER] = s;
    u32[dw + D_CLASS] = cls;
  }
}

/**
 * Makes pages [s, s+n) a small span of class cls, every object G_FREE, and
 * puts up to `room` of them in the cache list's array from word `slot` on,
 * the lowest address last (on top); returns how many. Those objects are
 * not touched: a new span's memory is written first by the program. The
 * rest, if any, go on the span's own free list, and the span on its
 * class's partial list.
 */
function initSpan(h: Core, s: number, cls: number, slot: number, room: number): number {
  const u32 = h.u32;
  const objects = CLASS_OBJECTS[cls]!;
  const take = Math.min(objects, room);
  describeSpan(h, s, CLASS_PAGES[cls]!, KIND_SMALL, cls, take);
  const size = CLASS_SIZE[cls]!;
  const base = s * PAGE_SIZE;
  for (let i = 0, a = base + (take - 1) * size; i < take; i++, a -= size) u32[slot + i] = a;
  if (take < objects) {
    const first = base + take * size;
    const last = base + (objects - 1) * size;
    for (let a = first; a < last; a += size) u32[a >>> 2] = a + size;
    u32[last >>> 2] = 0;
    u32[h.descW + (s << DESC_SHIFT) + D_FREE] = first;
    linkFront(h, HDR_PARTIAL + cls, s);
  }
  markFreeObjects(u32, base, size, objects);
  return take;
}

/**
 * Refills class cls's empty cache list with a span's worth of objects
 * (fewer if only partial spans remain) and returns the one on top, still
 * on the list; 0 if the heap is out of memory.
 */
export function refill(h: Core & GrowAhead, cls: number): number {
  foldCounts(h, cls); // the list is empty: its counts must add up to 0 again
  h.u32[HDR_CLASS_USED + (cls >>> 5)] = h.u32[HDR_CLASS_USED + (cls >>> 5)]! | (1 << (cls & 31));
  const objects = CLASS_OBJECTS[cls]!;
  const size = CLASS_SIZE[cls]!;
  const cw = h.cacheW + (cls << CC_SHIFT);
  const slot0 = h.u32[cw + CC_ARRAY]! + 1;
  const max = h.u32[cw + CC_MAX]!;
  const want = Math.min(objects, max);
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
      got = initSpan(h, s, cls, slot0, max);
      break;
    }
    // The span and its free list come from the image, and the list's links
    // live in free objects, where a write after free lands: the span must be
    // of this class with free objects (S4), and every object taken inside
    // the span, aligned and G_FREE (so an object start: layout.ts), no more
    // of them than its free count (S1, S3), so a damaged link stops the walk
    // instead of handing out anything else. (Kept here, not in a helper, so
    // that refill stays too large for V8 to inline into a caller's hot loop,
    // where it would compete with alloc and free for the inlining budget.)
    const u32 = h.u32; // growth may have replaced the views
    const dw = h.descW + (s << DESC_SHIFT);
    const used = u32[dw + D_USED]!;
    if (u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls || u32[dw + D_OWNER] !== s ||
      u32[dw + D_NPAGES] !== CLASS_PAGES[cls] || used >= objects) {
      damaged("S4", `class ${cls}'s span lists link page ${s}, which is not a span of that class with free objects`);
    }
    const base = s * PAGE_SIZE;
    // Whole free lists, as far as the array holds them: a span left partial goes back to its list.
    const take = Math.min(objects - used, max - got);
    const left = objects - used - take; // free objects the span keeps
    let a = u32[dw + D_FREE]!;
    for (let k = 0; k < take; k++) {
      if (a === 0) damaged("S3", `span at page ${s}: used ${used} of ${objects} objects, but its free list ends after ${k}`);
      if (a < base || a - base >= objects * size || (a & ALIGN_MASK) !== 0 || granuleState(u32, a) !== G_FREE) {
        damaged("S1", `the free list of the span at page ${s} (class ${cls}, ${size} B) links ${hex(a)}, not a free object of the span`);
      }
      u32[slot0 + got + k] = a;
      a = u32[a >>> 2]!;
    }
    // All of a span's free objects taken: its list must end there (a longer
    // one loops back: a damaged link). A span left partial goes back to its
    // list; its remaining links are checked when they are taken, and an
    // object a damaged link made appear twice is refused when it is popped
    // the second time (it is no longer G_FREE).
    if (left === 0 && a !== 0) damaged("S1", `the free list of the span at page ${s} (class ${cls}) is longer than its ${take} free objects (a cycle?)`);
    u32[dw + D_FREE] = left > 0 ? a : 0;
    u32[dw + D_USED] = used + take;
    if (left > 0) linkFront(h, HDR_PARTIAL + cls, s);
    got += take;
  }
  setList(h.u32, cw, got);
  moveLiveBound(h, got * size);
  return h.u32[slot0 + got - 1]!;
}

/**
 * Checks `a`, read from class cls's cache list, and returns its span's
 * start page: it must be a free object of a small span of class cls (inside
 * the committed pages, on an object start, in state G_FREE). Throws
 * HeapCorruptionError (S2) otherwise. The fast paths check only its
 * granule; the slow paths that take objects off a list check each here.
 */
export function cachedSpan(h: Core, a: number, cls: number): number {
  const u32 = h.u32;
  if (!(a >= h.firstDataPage * PAGE_SIZE && a < h.endPage * PAGE_SIZE)) damaged("S2", `class ${cls}'s cache list holds ${hex(a)}, outside the heap's pages`);
  const page = a >>> PAGE_SHIFT;
  const s = u32[h.descW + (page << DESC_SHIFT) + D_OWNER]!;
  const dw = h.descW + (s << DESC_SHIFT);
  const size = CLASS_SIZE[cls]!;
  const off = a - s * PAGE_SIZE;
  if (s < h.firstDataPage || s > page || u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls ||
    off >= CLASS_OBJECTS[cls]! * size || off % size !== 0) {
    damaged("S2", `class ${cls}'s cache list holds ${hex(a)}, which is not an object of a span of class ${cls}`);
  }
  if (granuleState(u32, a) !== G_FREE) damaged("S2", `class ${cls}'s cache list holds ${hex(a)}, which is not a free object (granule state ${granuleState(u32, a)})`);
  return s;
}

/**
 * Puts `k` free objects (already G_FREE) of the span at page s (class cls),
 * linked from `first` to `last`, at the front of the span's free list, and
 * moves the span between lists as its state changes. Throws
 * HeapCorruptionError (S3), having changed no descriptor, if the span does
 * not have that many objects in use.
 */
function returnRun(h: Core, cls: number, s: number, first: number, last: number, k: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const head = u32[dw + D_FREE]!;
  const used = u32[dw + D_USED]! - k;
  if (!(used >= 0 && used < CLASS_OBJECTS[cls]!)) damaged("S3", `span at page ${s}: used ${used + k}, while ${k} of its objects are returned to it`);
  u32[last >>> 2] = head;
  u32[dw + D_FREE] = first;
  u32[dw + D_USED] = used;
  if (used === 0) {
    if (head !== 0) unlink(h, HDR_PARTIAL + cls, s);
    linkFront(h, HDR_EMPTY + cls, s);
    u32[HDR_N_EMPTY_SPANS] = u32[HDR_N_EMPTY_SPANS]! + 1;
  } else if (head === 0) {
    linkFront(h, HDR_PARTIAL + cls, s);
  }
}

/**
 * Puts the objects of the span at page s (class cls) that start at the
 * granules of the 128-byte line at address `line` named by `starts` (bit
 * 2k: the granule at line + 8k) at the front of the span's free list, in
 * address order, and moves the span between lists as its state changes.
 * Throws HeapCorruptionError (S3), having changed nothing, if the span does
 * not have that many objects in use.
 */
function returnObjects(h: Core, cls: number, s: number, line: number, starts: number): void {
  const u32 = h.u32;
  const n = popcount(starts);
  const used = u32[h.descW + (s << DESC_SHIFT) + D_USED]! - n;
  if (!(used >= 0 && used < CLASS_OBJECTS[cls]!)) damaged("S3", `span at page ${s}: used ${used + n}, while ${n} objects of line ${hex(line)} are returned to it`);
  // Each object links the next; returnRun links the last to the old head.
  let first = 0;
  let prev = 0;
  for (let bits = starts; bits !== 0; bits &= bits - 1) {
    const a = line + ((31 - Math.clz32(bits & -bits)) << 2);
    if (prev !== 0) u32[prev >>> 2] = a;
    else first = a;
    prev = a;
  }
  returnRun(h, cls, s, first, prev, n);
}

/**
 * Frees the blocks that start at the granules of the 128-byte line at
 * address `line` that `starts` names (bit 2k: the granule at line + 8k, the
 * allocation bitmap's geometry), straight onto their span's free list: a
 * sweeper's bulk free (collections/gc-sweep.ts). Its blocks die many to a
 * span, in address order, and are not allocated again soon, so a cache list
 * would only hold them until a flush sent them here one at a time (about
 * 25 ns a block in all). The line's blocks come back in address order, so
 * the span hands them out in that order again. Counts them as frees of
 * their class (HDR_F64_CLASS_FREES), as a fold of the cache's pushes would.
 * Returns false, having changed nothing, unless every one is a G_LIVE
 * block of one small span: the caller frees those with free(), which knows
 * large blocks and debug mode's, and names misuse. Throws
 * HeapCorruptionError (S2, S3) for damaged span metadata, before any write.
 * The caller holds the heap lock. Cost: O(1) plus a store per block.
 */
export function returnLine(h: Core, line: number, starts: number): boolean {
  const u32 = h.u32;
  const bitW = BITMAP_W + (line >>> GRANULE_WORD_SHIFT);
  const states = (starts | (starts << 1)) >>> 0;
  // G_LIVE is 01: each named granule's two bits are exactly its start bit.
  if (starts === 0 || (line & LINE_MASK) !== 0 || line >>> 2 >= u32.length || line < h.firstDataPage * PAGE_SIZE ||
    (u32[bitW]! & states) !== starts) return false;
  const page = line >>> PAGE_SHIFT;
  const cls = u32[h.descW + (page << DESC_SHIFT) + D_CLASS]!;
  if (cls === 0 || cls > N_CLASSES) return false;
  // A G_LIVE granule of a page with a class is an object start of its span (S1, S2): what free's fast path trusts too.
  const s = u32[h.descW + (page << DESC_SHIFT) + D_OWNER]!;
  const dw = h.descW + (s << DESC_SHIFT);
  if (s < h.firstDataPage || s > page || u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls) {
    damaged("S2", `freeing the blocks of line ${hex(line)}: its page ${page} names class ${cls} and span ${s}, which is not a span of that class`);
  }
  returnObjects(h, cls, s, line, starts);
  u32[bitW] = (u32[bitW]! ^ states) >>> 0; // G_LIVE -> G_FREE
  h.f64[HDR_F64_CLASS_FREES + cls] = h.f64[HDR_F64_CLASS_FREES + cls]! + popcount(starts);
  return true;
}

/**
 * Frees every object of the one-page small span at page `page` and gives
 * the page to the page heap, if `starts[k]` names exactly the G_LIVE
 * object starts of its k-th 128-byte line (returnLine's geometry) and
 * their count is the span's D_USED, so that none of its objects is cached
 * (S3: used counts the cached ones too): a sweeper's free of a span whose
 * blocks all died. returnLine would link each object into the span's free
 * list, a write to every line of a page nothing will read before the span
 * is released; here no object is touched. Returns the objects freed, or 0
 * having changed nothing. Counts them as frees of their class, as
 * returnLine. The caller holds the heap lock. O(lines of a page).
 */
export function returnSpan(h: Core, page: number, starts: Uint32Array): number {
  const u32 = h.u32;
  if (!(page >= h.firstDataPage && page < h.endPage)) return 0;
  const dw = h.descW + (page << DESC_SHIFT);
  const cls = u32[dw + D_CLASS]!;
  if (cls === 0 || cls > N_CLASSES || CLASS_PAGES[cls] !== 1 || u32[dw + D_OWNER] !== page || u32[dw + D_KIND] !== KIND_SMALL) return 0;
  let n = 0;
  for (let k = 0, w = BITMAP_W + page * BITMAP_WORDS_PER_PAGE; k < BITMAP_WORDS_PER_PAGE; k++, w++) {
    const x = u32[w]!;
    const s = starts[k]!;
    if (s !== (x & ~(x >>> 1) & WORD_LIVE_BITS) >>> 0) return 0; // G_LIVE is 01
    n += popcount(s);
  }
  const used = u32[dw + D_USED]!;
  if (n === 0 || n !== used) return 0; // none: an empty span is on its class's empty list
  if (used < CLASS_OBJECTS[cls]!) unlink(h, HDR_PARTIAL + cls, page); // a partial span: its free objects are on its list
  h.f64[HDR_F64_CLASS_FREES + cls] = h.f64[HDR_F64_CLASS_FREES + cls]! + n;
  claimPages(h, page, 1, 0);
  clearGranules(u32, page, 1);
  freeRun(h, page, 1);
  return n;
}

/** Objects on the cache list whose line starts at word cw. */
export function cacheLength(u32: Uint32Array, cw: number): number {
  return u32[cw + CC_TOP]! - u32[cw + CC_ARRAY]!;
}

// Makes the list at line cw the n objects in its array's slots 1..n, its base, and sets the push bound (its counts are folded).
export function setList(u32: Uint32Array, cw: number, n: number): void {
  u32[cw + CC_TOP] = u32[cw + CC_ARRAY]! + n;
  u32[cw + CC_BASE] = n;
  u32[cw + CC_LIMIT] = u32[cw + CC_MAX]! - n;
}

/**
 * Folds class cls's pop and push counts into its totals and resets the
 * push bound; returns the list's length. Every slow path that changes the
 * list calls it first. Throws HeapCorruptionError (S2) if the count is
 * past the array, or more pushes than its length show.
 */
export function foldCounts(h: Core, cls: number): number {
  const u32 = h.u32;
  const f64 = h.f64;
  const cw = h.cacheW + (cls << CC_SHIFT);
  const n = cacheLength(u32, cw);
  if (!(n >= 0 && n <= u32[cw + CC_MAX]!)) damaged("S2", `class ${cls}'s cache list counts ${n} objects in an array of ${u32[cw + CC_MAX]}`);
  const pops = layout.popsSinceFold(u32, cw);
  if (pops < 0) damaged("S2", `class ${cls}'s cache list holds ${n} objects, more than its ${u32[cw + CC_BASE]} at the last fold and ${u32[cw + CC_PUSHES]} pushes since`);
  f64[HDR_F64_CLASS_ALLOCS + cls] = f64[HDR_F64_CLASS_ALLOCS + cls]! + pops;
  f64[HDR_F64_CLASS_FREES + cls] = f64[HDR_F64_CLASS_FREES + cls]! + u32[cw + CC_PUSHES]!;
  const requested = u32[cw + CC_REQUESTED]!;
  f64[HDR_F64_CLASS_REQUESTED + cls] = f64[HDR_F64_CLASS_REQUESTED + cls]! + requested;
  // The fast path keeps CC_REQUESTED <= CC_SAMPLE_AT, so this stays >= 0.
  if (u32[cw + CC_SAMPLE_AT] !== SAMPLE_NEVER) u32[cw + CC_SAMPLE_AT] = Math.max(0, u32[cw + CC_SAMPLE_AT]! - requested);
  u32[cw + CC_BASE] = n;
  u32[cw + CC_PUSHES] = 0;
  u32[cw + CC_REQUESTED] = 0;
  u32[cw + CC_LIMIT] = u32[cw + CC_MAX]! - n;
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

/**
 * The free path's slow part, when class cls's pushes passed their bound:
 * folds the counts and, if the list's array is full, flushes half of it.
 * After it the fast path can push again.
 */
export function cacheOverflow(h: Core, cls: number): void {
  const max = h.u32[h.cacheW + (cls << CC_SHIFT) + CC_MAX]!;
  if (foldCounts(h, cls) >= max) flushCache(h, cls, max >>> 1);
  notePeakLive(h);
}

/**
 * Returns the newest objects (the top of the stack) of class cls's cache
 * list to their spans until `keep` remain: the ones freed last, still in
 * the CPU cache when their links are written. Each object is checked
 * (cachedSpan, S2) before it leaves the list; a run of them in one span
 * goes back in one step (returnRun), which took python-index's flushes
 * (bench:traces, 1.97 million objects a pass) from 47 to about 10 ns an
 * object.
 */
export function flushCache(h: Core, cls: number, keep: number): void {
  catchUp(h);
  let n = foldCounts(h, cls);
  const cw = h.cacheW + (cls << CC_SHIFT);
  const array = h.u32[cw + CC_ARRAY]!;
  const size = CLASS_SIZE[cls]!;
  const spanBytes = CLASS_OBJECTS[cls]! * size;
  try {
    while (n > keep) {
      // The run of objects from the top down that lie in one span goes back
      // to it in one step: linked in list order, its descriptor written once.
      const u32 = h.u32;
      const first = u32[array + n]!;
      const s = cachedSpan(h, first, cls);
      const base = s * PAGE_SIZE;
      let k = 1;
      let prev = first;
      for (; n - k > keep; k++) {
        const a = u32[array + n - k]!;
        const off = a - base;
        if (!(off >= 0 && off < spanBytes && off % size === 0) || granuleState(u32, a) !== G_FREE) break;
        u32[prev >>> 2] = a;
        prev = a;
      }
      returnRun(h, cls, s, first, prev, k);
      n -= k;
    }
  } finally {
    setList(h.u32, cw, n); // the objects returned are off the list, also if a damaged slot stopped the walk
  }
}

/**
 * Empties every cache list into the spans. After this the image holds no
 * cached objects: the state a worker's local cache must reach before it
 * exits, and what trim() and page pressure do first.
 */
export function flushCaches(h: Core): void {
  notePeakLive(h); // emptying the lists lets later frees hide more from the next sample
  // The image's classes: the lines after them are inert (or, in another
  // slot's block of an older version being released, not there).
  for (let cls = 1; cls <= h.imageClasses; cls++) flushCache(h, cls, 0);
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

/** Allocates a block of `sizeBytes` (> MAX_SMALL_SIZE, or a profiler sample) as its own page run; returns its address or 0. */
export function allocLarge(h: Core & GrowAhead, sizeBytes: number): number {
  const n = Math.ceil(sizeBytes / PAGE_SIZE);
  const s = acquirePages(h, n);
  if (s === 0) return 0;
  describeSpan(h, s, n, KIND_LARGE, 0, sizeBytes);
  const u32 = h.u32;
  const addr = s * PAGE_SIZE;
  setGranule(u32, addr, G_LIVE);
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! + 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + n;
  h.f64[HDR_F64_LARGE_ALLOCS] = h.f64[HDR_F64_LARGE_ALLOCS]! + 1;
  moveLiveBound(h, n * PAGE_SIZE);
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
  notePeakLive(h);
  moveLiveBound(h, -n * PAGE_SIZE);
  setGranule(u32, addr, layout.G_NONE);
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! - 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! - n;
  freeRun(h, s, n);
}
