// Binary layout of the heap image. See heap.ts for an overview.
//
// Every byte of allocator state lives in the backing memory, at the offsets
// below, so that a second Heap attached to the same memory, or a copy of it,
// is the same heap. The image is laid out as:
//
//   0          8 KiB                     descOff           cacheOff          firstDataPage*8K     endPage*8K  maxSize
//   +----------+-------------------------+-----------------+-----------------+--------------------+- - - - - -+
//   | header   | allocation bitmap       | page descriptors| cache lists:    | pages: spans of    | (reserved,|
//   | (page 0) | 2 bits per 8-byte       | 32 B per page   | an array of free| size classes, large| not yet   |
//   |          | granule of the range    | of the range    | objects a class | blocks, free runs  | committed)|
//   +----------+-------------------------+-----------------+-----------------+--------------------+- - - - - -+
//
// The metadata is sized for `maxSize` when the heap is made and never
// moves, so its offsets are fixed for the heap's life (a worker holding an
// old, shorter view of a growing shared memory can still reach all
// metadata). Its parts for uncommitted pages, and the bitmap and descriptors
// of the metadata pages themselves, are never written (check() only reads
// that the latter are zero), and on every backing memory offheap uses they
// are untouched zero pages that the OS does not back with RAM: stats.ts
// counts neither. Metadata costs 288 B per 8 KiB page (3.5%):
// 256 B of bitmap (2 bits per 8 B) and a 32 B descriptor; the cache lists
// take 4 B an object, at most 0.6% of the range (cacheCapacity), touched
// only as far as the lists fill (stats.ts counts those 4 KiB pages).
//
// Allocation bitmap: the state of every 8-byte granule of the range, 2 bits
// each, 16 granules per u32 word. The granule at address a is in word
// BITMAP_W + (a >>> 7), at bit shift (a >>> 2) & 30:
//
//   bits  state         meaning
//   00    G_NONE        no block starts here: inside a block or object, a
//                       span's tail, a free run, metadata
//   01    G_LIVE        a live block starts here
//   10    G_FREE        a free object of a small span starts here (on its
//                       span's free list or its class's cache list)
//   11    G_LIVE_DEBUG  a live block with a debug trailer starts here, or a
//                       debug block freed into a quarantine (debug.ts: the
//                       trailer tells which)
//
// Bit 0 is "live": the plain free() takes a block whose state is exactly
// G_LIVE (a G_LIVE_DEBUG block goes through its slow path, which reads the
// trailer). alloc() hands out an object from a cache list only if its state
// is exactly G_FREE, so an object is never handed out twice; refill takes
// an object from a span's free list only if it is aligned, inside the span
// and G_FREE, so a damaged link (a write after free) never makes it hand
// out metadata, a free page, the inside of an object, a live block or
// another span's object (central.ts: refill).
//
// Header words (u32 index; f64 index where noted):
//
//   +0  HDR_MAGIC "OFHP"      +1  HDR_VERSION         +2  HDR_PAGE_SHIFT
//   +3  HDR_N_CLASSES         +4  HDR_CLASS_HASH      +5  HDR_TOTAL_PAGES
//       HDR_N_CLASSES: the classes this image has cache arrays for, the
//       first of this build's table (CLASS_HASH hashes them): N_CLASSES
//       when it was made, 71 in images of versions 6 to 8 (their table
//       ended at 32 KiB). A class past it has an inert line in every slot
//       (CC_MAX 0, its array the word of the unused class 0's line, which
//       stays 0) and is served as whole pages (allocator.ts: allocLocked).
//   +6  HDR_FIRST_DATA_PAGE   +7  HDR_END_PAGE        +8  HDR_DESC_OFF
//   +9  HDR_N_EMPTY_SPANS     +10 HDR_LARGE_BLOCKS    +11 HDR_LARGE_PAGES
//   +12..+15 HDR_BIN_NONEMPTY (bit b set <=> free-run bin b is non-empty)
//   +20 HDR_FREE_PAGES (pages in free runs)
//   +21 HDR_ROOTS      address of the root directory block (roots.ts), 0 = none
//   +22 HDR_PEAK_END_PAGE  highest HDR_END_PAGE so far (set by the page
//                          heap's extend: the peak committed size, exact)
//   +23 HDR_CACHE_OBJECTS  most objects a cache list holds in this image
//                          (cacheCapacity's cap, part of its geometry):
//                          CACHE_MAX_OBJECTS when it was made, 4096
//                          (OLD_CACHE_MAX_OBJECTS) in images of versions 6
//                          and 7
//   f64 +8 HDR_F64_LARGE_ALLOCS (large blocks allocated so far)
//   f64 +9 HDR_F64_REQUESTED (bytes requested by large blocks and realloc)
//   f64 +12 HDR_F64_PEAK_LIVE  highest live bytes seen at a sampling point
//                          (live-bytes.ts: notePeakLive; a lower bound of the
//                          true peak, see stats.ts)
//   +26..+28 HDR_CLASS_USED  bit c set <=> class c's cache was ever refilled
//                          (so classes with a clear bit have zero counts)
//   +29 HDR_QUARANTINED  debug blocks freed into a quarantine and not yet
//                          released (debug.ts); never below the true count,
//                          so 0 means there are none
//   +30 HDR_LOCK     the heap lock (lock.ts): 0 when free, else
//                          (holder's slot + 1) << 1, | 1 while a thread waits
//   +31 HDR_SHARED   1 while more than one thread (slot) uses the heap:
//                          every thread then runs the shared-mode paths
//   +32 + 4k HDR_SLOTS  slot k of the slot table (slots.ts), one per thread
//                          attached (a thread attached through memory
//                          objects not known to be one may hold more),
//                          MAX_SLOTS of them:
//            +0 SL_THREAD  the thread's id + 1 (worker_threads.threadId);
//                          0 = the slot is free
//            +1 SL_BUSY    1 while the thread runs a slow path without taking
//                          the lock (it uses the heap alone: slots.ts)
//            +2 SL_CACHE   word index of the slot's cache lines: HDR_CACHE
//                          for slot 0 (its arrays are the cache region),
//                          else the first word of the slot's cache block,
//                          a large block holding its lines and then its
//                          arrays (cacheBlockBytes)
//            +3 SL_FLAGS   SLF_SHARED: the thread switched to shared mode;
//                          SLF_READY: its cache lines are set up (a slot
//                          is claimed, with a compareExchange on SL_THREAD,
//                          before its thread takes the heap lock);
//                          bits 8-31: the id the thread gave the memory
//                          object its Heaps are attached through
//                          (thread-heaps.ts); 0: none recorded
//   +256 + 8c HDR_CACHE  slot 0's cache list of class c (the local cache), 32 bytes
//            (another slot's lines are the same, at SL_CACHE + 8c):
//            +0 CC_TOP     word index of the slot of the object on top of
//                          the list (a stack: alloc pops, free pushes)
//            +1 CC_BASE    objects on the list at the last fold: the pops
//                          since are CC_BASE + CC_PUSHES - (CC_TOP - CC_ARRAY),
//                          so alloc() counts nothing (until version 7 it
//                          counted them here, CC_POPS: image.ts upgrades)
//            +2 CC_PUSHES  objects free() put on it since the last fold
//            +3 CC_ARRAY   word index of the list's array in the cache
//                          region: a sentinel 0, then the addresses of the
//                          objects on the list, oldest first, so it holds
//                          CC_TOP - CC_ARRAY objects. Popping an empty list
//                          reads the sentinel, which the fast path refuses.
//            +4 CC_MAX     objects the array holds (cacheCapacity); 0 for
//                          a class past HDR_N_CLASSES (inert)
//            +5 CC_LIMIT   CC_MAX - CC_BASE: free()
//                          takes its slow path when CC_PUSHES passes it, so
//                          the list never overflows its array and no count
//                          wraps between folds (pops <= CC_MAX too)
//            +6 CC_REQUESTED bytes requested by the pops since the last fold
//            +7 CC_SAMPLE_AT the heap profiler's threshold (profile.ts): a pop
//                          is served on the fast path while CC_REQUESTED
//                          stays <= it; the slow path samples the one that
//                          would pass it. 2^31 - 1 = never (no profiler);
//                          a fold subtracts CC_REQUESTED from it.
//            The slow paths fold the counts into HDR_F64_CLASS_*.
//            Cache lists are arrays in the metadata, not links through the
//            free objects, so a write after free cannot redirect alloc():
//            the only links stored in free objects are the spans' free lists
//            (D_FREE), which refill validates object by object (central.ts).
//   f64 +720 + c HDR_F64_CLASS_ALLOCS, +800 + c HDR_F64_CLASS_FREES,
//       +880 + c HDR_F64_CLASS_REQUESTED: class c's blocks allocated and
//            freed and bytes requested, as of the last fold
//   +896 + c  HDR_PARTIAL     first span of class c with some free objects
//   +1024 + c HDR_EMPTY       first span of class c with no live objects
//   +1152 + b HDR_FREE_BIN    first free run of bin b (page heap)
//   f64 +640 HDR_F64_LIVE_BOUND  an upper bound of the live bytes, less what
//            alloc() took from the cache lists since the last sample of the
//            peak: that sample's exact sum, raised by every refill (the
//            objects it put on a list) and large allocation or growth, and
//            lowered by a large block's free (live-bytes.ts: notePeakLive
//            sums the counts only when it is above the peak)
//
// Page descriptor (8 u32 words at descOff + 32 * page):
//
//   +0 D_OWNER   start page of the span or free run holding this page
//   +1 D_CLASS   size class of the small span holding this page (set on
//                every page, so free() needs one load); 0 for anything else
//   +2 D_KIND    KIND_FREE, KIND_SMALL, KIND_LARGE or KIND_CACHE (a slot's
//                cache block: its lines and arrays, no block) (valid at a start page)
//   +3 D_NPAGES  pages in the span or run (at a start page)
//   +4 D_FREE    small span: head of its free list (0 = empty)
//   +5 D_USED    small span: objects not on its free list (see central.ts);
//                large block: the requested size in bytes
//   +6 D_NEXT    next span/run in its list (start page, 0 = end)
//   +7 D_PREV    previous span/run in its list (start page, 0 = none)
//
// Invariants (checked by check.ts; IDs appear in HeapCorruptionError):
//
//   H1  header: magic, version, page shift, class table and geometry match.
//   P1  spans and free runs tile [firstDataPage, endPage) exactly.
//   P2  every page of a small or large span has D_OWNER == its start;
//       a free run's first and last page have D_OWNER == its start.
//   P3  no two free runs are adjacent (coalescing is complete).
//   P4  each free run is linked once, in bin binOf(nPages); bins are
//       well-formed doubly linked lists; HDR_BIN_NONEMPTY matches.
//   S1  a small span's free list stays inside the span, on object starts,
//       without repeats, and its objects are G_FREE.
//   S2  class c's cache list holds objects of spans of class c, on object
//       starts, without repeats, all G_FREE; CC_ARRAY and CC_MAX are the
//       geometry's, the sentinel is 0, n = CC_TOP - CC_ARRAY is in [0,
//       CC_MAX], CC_LIMIT == CC_MAX - CC_BASE, and the pops since the
//       last fold, CC_BASE + CC_PUSHES - n, are >= 0.
//   S3  used == objects - |free list|; live objects of a span ==
//       used - (its objects on the cache list) == its live granules; every
//       G_FREE object is on exactly one list.
//   S4  partial list of c == spans of c with 0 < used < objects; empty
//       list of c == spans of c with used == 0; full spans are in no
//       list; HDR_N_EMPTY_SPANS == number of empty spans.
//   L1  a large block has exactly one granule not G_NONE: its first, live.
//   T1  the slot table: slot 0's lines are HDR_CACHE; every other slot in
//       use names a cache block (a KIND_CACHE span of cacheBlockBytes) whose
//       lines start its first page, and every cache block is named by one;
//       the cache lists of every slot in use hold S2.
//   B1  granules of free runs and metadata are G_NONE.
//   S5  in a small span, every object start is live (G_LIVE, G_LIVE_DEBUG)
//       or G_FREE, and every other granule is G_NONE.
//   C1  HDR_LARGE_BLOCKS and HDR_LARGE_PAGES match the large blocks;
//       blocks allocated minus blocks freed == live blocks.
//   N1  the root directory is 0 or a live block that holds its entries
//       (roots.ts).

// Modules that use these constants on hot paths destructure them from the
// namespace (`import * as layout ...; const { PAGE_SHIFT } = layout;`)
// instead of importing the bindings: V8 does not constant-fold an imported
// binding (a module cell behind a TDZ check) but does fold a module's own
// const. Measured on pair64: 6.4 ns/op with imports, 3.9 with local consts.

import { CLASS_SIZE, N_CLASSES } from "./size-classes.js";

export const PAGE_SHIFT = 13;
export const PAGE_SIZE = 1 << PAGE_SHIFT; // 8 KiB
export const PAGE_MASK = PAGE_SIZE - 1;

/** Alignment of every block; also the bitmap's granule. */
export const ALIGN_SHIFT = 3;
export const ALIGN = 1 << ALIGN_SHIFT;
export const ALIGN_MASK = ALIGN - 1;

export const MAGIC = 0x5048464f; // "OFHP" little-endian
export const VERSION = 9;
/** The oldest image version this build opens: images of versions 6 to 8 are upgraded in place when opened (image.ts upgradeImage). */
export const OLDEST_VERSION = 6;

export const HEADER_BYTES = PAGE_SIZE;
export const BITMAP_OFF = HEADER_BYTES;
export const BITMAP_W = BITMAP_OFF >>> 2;
/** Bits of granule state per 8-byte granule. */
export const GRANULE_BITS = 2;
/** Bitmap bytes per page: two bits per 8-byte granule. */
export const BITMAP_BYTES_PER_PAGE = (PAGE_SIZE >>> ALIGN_SHIFT) * GRANULE_BITS / 8;
/** Bitmap u32 words per page. */
export const BITMAP_WORDS_PER_PAGE = BITMAP_BYTES_PER_PAGE >>> 2;
/** The granule at address a is in bitmap word BITMAP_W + (a >>> GRANULE_WORD_SHIFT). */
export const GRANULE_WORD_SHIFT = 7;
/** ...at bit shift (a >>> 2) & GRANULE_SHIFT_MASK. */
export const GRANULE_SHIFT_MASK = 30;

// Granule states (see the table above).
export const G_NONE = 0;
export const G_LIVE = 1;
export const G_FREE = 2;
export const G_LIVE_DEBUG = 3;
/** Bit 0 of a granule's state: a live block starts there. */
export const G_LIVE_BIT = 1;
/** Mask of the live bits of a bitmap word (bit 0 of each granule). */
export const WORD_LIVE_BITS = 0x55555555;

export const HDR_MAGIC = 0;
export const HDR_VERSION = 1;
export const HDR_PAGE_SHIFT = 2;
export const HDR_N_CLASSES = 3;
export const HDR_CLASS_HASH = 4;
export const HDR_TOTAL_PAGES = 5;
export const HDR_FIRST_DATA_PAGE = 6;
export const HDR_END_PAGE = 7;
export const HDR_DESC_OFF = 8;
export const HDR_N_EMPTY_SPANS = 9;
export const HDR_LARGE_BLOCKS = 10;
export const HDR_LARGE_PAGES = 11;
export const HDR_BIN_NONEMPTY = 12;
export const HDR_FREE_PAGES = 20;
export const HDR_ROOTS = 21;
export const HDR_PEAK_END_PAGE = 22;
export const HDR_CACHE_OBJECTS = 23;
export const HDR_F64_LARGE_ALLOCS = 8;
export const HDR_F64_REQUESTED = 9;
export const HDR_F64_PEAK_LIVE = 12; // words 24..25
export const HDR_CLASS_USED = 26; // words 26..28: one bit per class index 0..95
export const HDR_CLASS_USED_WORDS = 3;
export const HDR_QUARANTINED = 29;
/** The heap lock (lock.ts): 0 free, else (holder's slot + 1) << 1 | 1 if a thread waits. */
export const HDR_LOCK = 30;
/** 1 while threads of more than one slot use the heap (shared mode, slots.ts), else 0. */
export const HDR_SHARED = 31;
/** The slot table (slots.ts): SLOT_WORDS words per slot from this word on. */
export const HDR_SLOTS = 32;
export const SLOT_SHIFT = 2;
export const SLOT_WORDS = 1 << SLOT_SHIFT;
/** Slots: threads that can be attached at once. */
export const MAX_SLOTS = 56;
/** Slot words: the thread's id + 1 (0: the slot is free). */
export const SL_THREAD = 0;
/** ...1 while the slot's thread runs a slow path without the lock (one thread alone: slots.ts). */
export const SL_BUSY = 1;
/** ...word index of the slot's cache lines (HDR_CACHE for slot 0; else the start of its cache block). */
export const SL_CACHE = 2;
/** ...flags: SLF_SHARED once the thread runs the shared-mode paths, SLF_READY once its caches are set up; from bit SLF_KEY_SHIFT the id of the memory object its Heaps are on (thread-heaps.ts). */
export const SL_FLAGS = 3;
export const SLF_SHARED = 1;
export const SLF_READY = 2;
export const SLF_KEY_SHIFT = 8;

/** The first word of slot k's entry in the slot table. */
export function slotWord(k: number): number {
  return HDR_SLOTS + (k << SLOT_SHIFT);
}

/** The first slot of thread `threadId` in the slot table `words`, -1 if it has none. */
export function slotOf(words: Uint32Array | Int32Array, threadId: number): number {
  for (let k = 0; k < MAX_SLOTS; k++) if (Atomics.load(words, slotWord(k) + SL_THREAD) === threadId + 1) return k;
  return -1;
}
export const HDR_CACHE = 256;
export const CC_SHIFT = 3; // 8 words per class
export const CC_TOP = 0;
export const CC_BASE = 1;
export const CC_PUSHES = 2;
export const CC_ARRAY = 3;
export const CC_MAX = 4;
export const CC_LIMIT = 5;
export const CC_REQUESTED = 6;
export const CC_SAMPLE_AT = 7;

/**
 * Objects alloc() took from the cache list whose line starts at word cw
 * since its last fold, derived from the line (alloc counts nothing):
 * CC_BASE + CC_PUSHES - (CC_TOP - CC_ARRAY). Negative only if the line is
 * damaged (S2).
 */
export function popsSinceFold(u32: Uint32Array, cw: number): number {
  return u32[cw + CC_BASE]! + u32[cw + CC_PUSHES]! - (u32[cw + CC_TOP]! - u32[cw + CC_ARRAY]!);
}
/** CC_SAMPLE_AT of a class that is never sampled. */
export const SAMPLE_NEVER = 0x7fffffff;
export const HDR_PARTIAL = 896;
export const HDR_EMPTY = 1024;
export const HDR_FREE_BIN = 1152;
/** An upper bound of the live bytes since the last peak sample (live-bytes.ts); words 1280..1281, after the free bins. */
export const HDR_F64_LIVE_BOUND = 640;
export const HDR_F64_CLASS_ALLOCS = 720; // words 1440..1583
export const HDR_F64_CLASS_FREES = 800; // words 1600..1743
export const HDR_F64_CLASS_REQUESTED = 880; // words 1760..1903

/** Free runs of 1..N_BINS-1 pages have an exact bin; bin 0 holds all longer runs. */
export const N_BINS = 128;

export const DESC_SHIFT = 3; // 8 words
export const DESC_WORDS = 1 << DESC_SHIFT;
export const DESC_BYTES = DESC_WORDS * 4;
export const D_OWNER = 0;
export const D_CLASS = 1;
export const D_KIND = 2;
export const D_NPAGES = 3;
export const D_FREE = 4;
export const D_USED = 5;
export const D_NEXT = 6;
export const D_PREV = 7;

export const KIND_FREE = 1;
export const KIND_SMALL = 2;
export const KIND_LARGE = 3;
/** A slot's cache block (slots.ts): metadata in data pages, no block starts in it. */
export const KIND_CACHE = 4;

/** Metadata bytes per page of address range: bitmap plus descriptor. */
export const META_BYTES_PER_PAGE = BITMAP_BYTES_PER_PAGE + DESC_BYTES;

/** Largest address range a heap may span: 4 GiB (addresses are u32). */
export const MAX_RANGE_BYTES = 2 ** 32;

/**
 * Objects class cls's cache list holds in a heap of `totalPages` pages
 * whose lists hold at most `maxObjects` (HDR_CACHE_OBJECTS): room for
 * CACHE_BYTES of them (so a burst of frees of that size goes back to the
 * list without a flush: batch, 10,000 mixed blocks freed at once, ran
 * 17.1-17.7 ns/op with 2 MiB against 18.6-19.2 with 1 MiB), between
 * CACHE_MIN_OBJECTS and maxObjects of them. Heaps under 1 GiB get 1/512 of
 * their range per class instead of 2 MiB, so that the arrays (4 bytes an
 * object) stay under 0.6% of any heap's range: about 6 KiB for a 1 MiB
 * heap, 1.5 MiB from 1 GiB on (touched only as far as the lists fill).
 */
export function cacheCapacity(cls: number, totalPages: number, maxObjects: number): number {
  const bytes = Math.min(CACHE_BYTES, Math.floor(totalPages * PAGE_SIZE / 512));
  return Math.max(CACHE_MIN_OBJECTS, Math.min(maxObjects, Math.floor(bytes / CLASS_SIZE[cls]!)));
}
/** Bytes of objects a class's cache list holds at most (heaps of 1 GiB and more). */
export const CACHE_BYTES = 2 << 20;
/** Objects a cache list holds at least. */
export const CACHE_MIN_OBJECTS = 8;
/**
 * Objects a cache list of a new image holds at most. 4096 until version 8
 * (OLD_CACHE_MAX_OBJECTS): a program that frees more than that of one small
 * class at once sent half of them back to their spans and took them back
 * one span at a time (flushCache, refill), writing and reading a link in
 * each. With 16384, perl's trace (bench:traces) ran its first pass 19%
 * faster (80 -> 65 ns/op) and python-lines' 8%, at the same footprints.
 */
export const CACHE_MAX_OBJECTS = 16384;
/** CACHE_MAX_OBJECTS of images of versions 6 and 7, which keep their geometry. */
export const OLD_CACHE_MAX_OBJECTS = 4096;

/**
 * Geometry of a heap whose address range is `totalPages` pages, its lists
 * holding at most `maxObjects`, with cache arrays for classes 1..nClasses
 * (HDR_N_CLASSES): where the descriptors, the cache lists and the pages begin.
 */
export function geometry(totalPages: number, maxObjects: number, nClasses: number): { descOff: number; cacheOff: number; firstDataPage: number } {
  const descOff = BITMAP_OFF + totalPages * BITMAP_BYTES_PER_PAGE;
  const cacheOff = descOff + totalPages * DESC_BYTES;
  const firstDataPage = Math.ceil((cacheOff + cacheArrayWords(totalPages, maxObjects, nClasses) * 4) / PAGE_SIZE);
  return { descOff, cacheOff, firstDataPage };
}

/** Words of one slot's cache arrays: for each class up to nClasses a sentinel and cacheCapacity objects. */
export function cacheArrayWords(totalPages: number, maxObjects: number, nClasses: number): number {
  let words = 0;
  for (let cls = 1; cls <= nClasses; cls++) words += 1 + cacheCapacity(cls, totalPages, maxObjects);
  return words;
}

/** HDR_N_CLASSES of images of versions 6 to 8: their size-class table, the first 71 classes of this one. */
export const OLD_N_CLASSES = 71;

/** Words of a slot's cache lines (class 0's line is unused, as in the header). */
export const CACHE_LINES_WORDS = (N_CLASSES + 1) << CC_SHIFT;

/** Bytes of the cache block of a slot other than slot 0: its lines, then its arrays. */
export function cacheBlockBytes(totalPages: number, maxObjects: number, nClasses: number): number {
  return (CACHE_LINES_WORDS + cacheArrayWords(totalPages, maxObjects, nClasses)) * 4;
}

/** Bin of a free run of `nPages` pages. */
export function binOf(nPages: number): number {
  return nPages < N_BINS ? nPages : 0;
}

// The header's regions, in u32 words: [first word, words]. Per-class
// regions are indexed by class 1..N (index 0 unused), so each limits the
// number of classes; the size-class generator (scripts/gen-size-classes.mjs)
// and a test read MAX_CLASSES, and class-of.ts refuses a table past it at
// load. test/layout.test.ts checks that no two regions overlap.
const HEADER_WORDS = HEADER_BYTES >>> 2;

/** Every region of the header, in u32 words, for the overlap test; `perClass` regions bound MAX_CLASSES. */
export const HEADER_REGIONS: readonly { name: string; firstWord: number; words: number; perClass: number }[] = [
  { name: "fixed words", firstWord: 0, words: HDR_CLASS_USED, perClass: 0 },
  { name: "HDR_CLASS_USED", firstWord: HDR_CLASS_USED, words: HDR_CLASS_USED_WORDS, perClass: 1 / 32 },
  { name: "HDR_QUARANTINED", firstWord: HDR_QUARANTINED, words: 1, perClass: 0 },
  { name: "HDR_LOCK, HDR_SHARED", firstWord: HDR_LOCK, words: 2, perClass: 0 },
  { name: "HDR_SLOTS", firstWord: HDR_SLOTS, words: MAX_SLOTS * SLOT_WORDS, perClass: 0 },
  { name: "HDR_CACHE", firstWord: HDR_CACHE, words: HDR_PARTIAL - HDR_CACHE, perClass: 1 << CC_SHIFT },
  { name: "HDR_PARTIAL", firstWord: HDR_PARTIAL, words: HDR_EMPTY - HDR_PARTIAL, perClass: 1 },
  { name: "HDR_EMPTY", firstWord: HDR_EMPTY, words: HDR_FREE_BIN - HDR_EMPTY, perClass: 1 },
  { name: "HDR_FREE_BIN", firstWord: HDR_FREE_BIN, words: N_BINS, perClass: 0 },
  { name: "HDR_F64_LIVE_BOUND", firstWord: HDR_F64_LIVE_BOUND << 1, words: 2, perClass: 0 },
  { name: "HDR_F64_CLASS_ALLOCS", firstWord: HDR_F64_CLASS_ALLOCS << 1, words: (HDR_F64_CLASS_FREES - HDR_F64_CLASS_ALLOCS) << 1, perClass: 2 },
  { name: "HDR_F64_CLASS_FREES", firstWord: HDR_F64_CLASS_FREES << 1, words: (HDR_F64_CLASS_REQUESTED - HDR_F64_CLASS_FREES) << 1, perClass: 2 },
  { name: "HDR_F64_CLASS_REQUESTED", firstWord: HDR_F64_CLASS_REQUESTED << 1, words: HEADER_WORDS - (HDR_F64_CLASS_REQUESTED << 1), perClass: 2 },
];

/**
 * Most size classes the header holds: the smallest per-class region fits
 * classes 0..MAX_CLASSES (class 0 unused). 79 today, bound by the f64 class
 * counters (80 f64 words each) and the cache lines (640 words, 8 a class).
 */
export const MAX_CLASSES = Math.min(
  ...HEADER_REGIONS.filter((r) => r.perClass > 0).map((r) => Math.floor(r.words / r.perClass) - 1),
);
