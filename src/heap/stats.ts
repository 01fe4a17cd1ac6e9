// Heap statistics, computed from the image. See heap.ts for an overview.
//
// The fast paths keep integer counts in the cache list's own words (pops,
// pushes and requested bytes since the last fold; see layout.ts); the rest is
// derived here from span descriptors, as Go derives MemStats from mcache
// and mcentral state.
//
// Where the committed bytes go (every term exact, and they add up):
//
//   committedBytes = metadataBytes              header, cache lists, bitmap and descriptors
//                                               of the committed data pages (and other
//                                               threads' cache blocks, slots.ts)
//                  + liveBytes                  live blocks (class size or whole pages)
//                  + quarantinedBytes           blocks debug mode freed that wait in a
//                                               quarantine (debug.ts): freed for the
//                                               program, not yet free for the heap
//                  + freeObjectBytes            free objects in class spans
//                                               (cachedBytes of them on cache lists)
//                  + spanTailBytes              the tail of class spans no object fits
//                  + freePageBytes              free runs of the page heap
//
// TCMalloc's GetStats says "in use by application", "central cache
// freelist" + "thread cache freelists", "page heap freelist" and "malloc
// metadata" for these; jemalloc's "allocated", "active" - "allocated",
// "metadata" and "mapped" (committed here) come closest.
//
// Debug mode. The allocator sees a quarantined block as live (it is
// allocated until debug mode releases it), so the counts and spans below
// include it; heapStats takes the quarantined blocks the image marks
// (debug-trailer.ts: quarantineCounts) out of the live fields and counts
// them as frees, so a debug heap's stats describe the program's blocks as
// a plain heap's do. Its alloc takes the canary and trailer back out of
// the requested counts (uncountOverhead), and a live large debug block's
// request is its trailer's (largeRequested). The peak of the live bytes
// is sampled from the counts on the allocator's slow paths, where
// quarantined blocks are live: in debug mode it is a lower bound of the
// peak of live plus quarantined bytes.
//
// Peaks. peakCommittedBytes is the committed end at its peak (it only
// grows in the page heap's extend(), which records it) with the metadata
// as written by now: the cache lists' arrays only fill further, so it is
// never below the true peak. Live bytes change on the fast paths, which
// only count; the peak of them (peakLiveBytes) is sampled, by an exact sum
// of the counts (live-bytes.ts: countedLiveBytes), before every change
// that can lower them past what the cache lists hide: at every cache
// overflow and every flush of the lists (trim, a thread's exit, page
// pressure), before a large block is freed or shrunk in place, before a
// sweeper's bulk frees (freeLine), and at every Heap.stats() call. A sample
// sums the counts only when the live bytes can be above the peak
// (live-bytes.ts: notePeakLive; its bound leaves out only objects taken from
// the cache lists, the same slack as below). Between
// two samples a class's live objects can then fall only by frees that
// stayed on a cache list, and a list holds at most CC_MAX objects. So
// peakLiveBytes is a lower bound of the true peak, below it by at most what
// the cache lists of the classes in use can hold, and exact when the peak
// is made of large blocks and of small ones that refills put on the lists
// since the last sum, none of them freed before the next sample. Rising
// live bytes need no sample, so refills, frequent while a program starts
// and its code is not optimized yet, take none (they did: it cost a sixth
// of the first 100,000 operations of the python-lines trace). The true
// peak is at most peakCommittedBytes - metadataBytes.

import { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import {
  CC_PUSHES, CC_REQUESTED, CC_SHIFT, D_USED, DESC_SHIFT, popsSinceFold,
  HDR_F64_CLASS_ALLOCS, HDR_F64_CLASS_FREES, HDR_F64_CLASS_REQUESTED, HDR_F64_LARGE_ALLOCS, HDR_F64_PEAK_LIVE,
  HDR_F64_REQUESTED, HDR_FREE_PAGES, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, HDR_PEAK_END_PAGE, KIND_CACHE, KIND_LARGE, KIND_SMALL,
  META_BYTES_PER_PAGE, PAGE_SIZE, cacheCapacity, geometry,
} from "./layout.js";
import type { Core } from "./core.js";
import { cacheLength } from "./central.js";
import { slotCacheLines } from "./slots.js";
import { walkSpans } from "./page-heap.js";
import { largeRequested, quarantineCounts } from "./debug-trailer.js";

/** One size class's row in HeapStats (jemalloc's "bins" rows). */
export interface ClassStats {
  /** Class index, 1-based. */
  classIndex: number;
  /** Bytes per object. */
  size: number;
  /** Spans owned by the class (current, partial, full and empty). */
  spans: number;
  /** Pages of those spans. */
  pages: number;
  /** Objects per span. */
  objectsPerSpan: number;
  /** Objects in live blocks. */
  liveObjects: number;
  /** liveObjects × size. */
  liveBytes: number;
  /** Objects that debug mode freed and holds in a quarantine: neither live nor free (0 without debug mode). */
  quarantinedObjects: number;
  /** Objects free in the class's spans, including those on its cache list: spans × objectsPerSpan - liveObjects - quarantinedObjects. */
  freeObjects: number;
  /** freeObjects × size. */
  freeBytes: number;
  /** Free objects on the class's cache list (part of freeObjects). */
  cachedObjects: number;
  /** Blocks of this class allocated so far (cumulative). */
  allocs: number;
  /** Blocks of this class freed so far (cumulative; quarantinedObjects included). */
  frees: number;
  /** Bytes requested by those allocations (cumulative; a realloc that keeps its block counts only in HeapStats.requestedBytes). */
  requestedBytes: number;
}

/**
 * What `heap.stats()` returns; every field is a plain number (or the array
 * of rows), so the object is JSON-serializable. The byte fields from
 * metadataBytes to freePageBytes add up to committedBytes. Blocks that
 * debug mode freed into a quarantine count as freed (frees), not as live:
 * quarantinedBlocks and quarantinedBytes report them.
 */
export interface HeapStats {
  /** Bytes of backing memory the heap uses: metadata for the committed pages plus the committed pages. */
  committedBytes: number;
  /** Address range reserved for the heap (maxSize). */
  reservedBytes: number;
  /**
   * Bytes of metadata the heap writes: the header, the cache lists (their
   * arrays as far as they were ever filled, in 4 KiB pages), and the bitmap
   * and page descriptors of the committed data pages (288 B a page).
   */
  metadataBytes: number;
  /** Bytes in live blocks, each rounded up to its class size or whole pages. */
  liveBytes: number;
  /** Bytes of the blocks that wait in a debug quarantine, each rounded as liveBytes (0 without debug mode). */
  quarantinedBytes: number;
  /** Bytes requested by every alloc, calloc and realloc call so far (cumulative; in debug mode without its canaries and trailers). */
  requestedBytes: number;
  /** Live blocks. */
  liveBlocks: number;
  /** Blocks that debug mode freed and holds in a quarantine before they can be reused (0 without debug mode). */
  quarantinedBlocks: number;
  /** Blocks allocated so far (cumulative). */
  allocs: number;
  /** Blocks freed so far (cumulative; quarantinedBlocks included): allocs - frees == liveBlocks. */
  frees: number;
  /** Bytes in free page runs (the page heap's pool). */
  freePageBytes: number;
  /** Bytes of free objects in spans of size classes (cached ones included). */
  freeObjectBytes: number;
  /** Bytes of the free objects on the classes' cache lists (part of freeObjectBytes). */
  cachedBytes: number;
  /** Bytes at the end of class spans too short for one more object. */
  spanTailBytes: number;
  /** Live large blocks (over 64 KiB, and the heap profiler's samples, which get pages of their own). */
  largeBlocks: number;
  /** Bytes of the live large blocks, in whole pages (part of liveBytes). */
  largeBytes: number;
  /** Bytes requested for the live large blocks (exact; largeBytes minus this is their rounding, and in debug mode their canaries and trailers). */
  largeRequestedBytes: number;
  /** Large blocks allocated so far (cumulative; part of allocs). */
  largeAllocs: number;
  /**
   * Share of the committed pages not in live blocks: 1 - liveBytes /
   * (committedBytes - metadataBytes), in [0, 1] (0 with no committed pages).
   * Free objects, span tails and free pages all count.
   */
  fragmentation: number;
  /**
   * Share of liveBytes beyond what was requested, in [0, 1] (0 with no live
   * blocks). Exact for large blocks; for small ones the heap keeps no
   * per-block request, so each class's live objects count at the class's
   * average request so far (requestedBytes / allocs of its row).
   */
  internalFragmentation: number;
  /**
   * Highest committedBytes so far: the committed pages at their peak, and
   * the metadata as written by now (the cache lists' arrays only fill
   * further, so it is never below the true peak, and above it only by the
   * array pages first written since). trim() lowers committedBytes, never this.
   */
  peakCommittedBytes: number;
  /**
   * Highest liveBytes seen at a sample: a cache overflow or flush, a large
   * block's free or shrink, a sweep, or a stats() call. A lower bound of the
   * true peak, below it by at most what the cache lists can hold (frees that
   * stayed on a list before the next sample). In debug mode the samples on
   * the slow paths count the quarantined bytes as live.
   */
  peakLiveBytes: number;
  /** One row per size class that owns at least one span. */
  classes: ClassStats[];
}

/**
 * Computes HeapStats from the image without changing it (check() uses it
 * too; Heap.stats() samples the live peak first). Throws HeapCorruptionError
 * if the spans are damaged (page-heap.ts walkSpans). Cost: O(spans + classes),
 * plus O(live blocks) while blocks wait in a debug quarantine.
 */
export function heapStats(h: Core): HeapStats {
  const u32 = h.u32;
  const f64 = h.f64;
  const quarantine = quarantineCounts(h);
  const spans = new Float64Array(N_CLASSES + 1);
  const used = new Float64Array(N_CLASSES + 1);
  let largeRequestedBytes = 0;
  let cachePages = 0;
  const slots = slotCacheLines(u32);
  walkSpans(h, (p, n, kind, cls) => {
    const dw = h.descW + (p << DESC_SHIFT);
    if (kind === KIND_SMALL) {
      spans[cls] = spans[cls]! + 1;
      used[cls] = used[cls]! + u32[dw + D_USED]!;
    } else if (kind === KIND_LARGE) {
      largeRequestedBytes += largeRequested(h, p, n);
    } else if (kind === KIND_CACHE) {
      cachePages += n;
    }
  });
  const classes: ClassStats[] = [];
  let liveBytes = 0;
  let liveBlocks = 0;
  let quarantinedBytes = 0;
  let freeObjectBytes = 0;
  let cachedBytes = 0;
  let spanTailBytes = 0;
  let liveRequestedEstimate = 0;
  const largeBlocks = u32[HDR_LARGE_BLOCKS]! - quarantine.perClass[0]!;
  const largeAllocs = f64[HDR_F64_LARGE_ALLOCS]!;
  let allocs = largeAllocs;
  let frees = largeAllocs - largeBlocks;
  let requestedBytes = f64[HDR_F64_REQUESTED]!;
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    let classAllocs = f64[HDR_F64_CLASS_ALLOCS + cls]!;
    const quarantined = quarantine.perClass[cls]!;
    let classFrees = f64[HDR_F64_CLASS_FREES + cls]! + quarantined;
    let classRequested = f64[HDR_F64_CLASS_REQUESTED + cls]!;
    let cached = 0;
    for (const lines of slots) {
      const cw = lines + (cls << CC_SHIFT);
      const n = cacheLength(u32, cw);
      classAllocs += popsSinceFold(u32, cw);
      classFrees += u32[cw + CC_PUSHES]!;
      classRequested += u32[cw + CC_REQUESTED]!;
      cached += n;
    }
    allocs += classAllocs;
    frees += classFrees;
    requestedBytes += classRequested;
    const nSpans = spans[cls]!;
    if (nSpans === 0) continue;
    const size = CLASS_SIZE[cls]!;
    const perSpan = CLASS_OBJECTS[cls]!;
    const live = used[cls]! - cached - quarantined;
    const free = nSpans * perSpan - live - quarantined;
    liveBlocks += live;
    liveBytes += live * size;
    quarantinedBytes += quarantined * size;
    freeObjectBytes += free * size;
    cachedBytes += cached * size;
    spanTailBytes += nSpans * (CLASS_PAGES[cls]! * PAGE_SIZE - perSpan * size);
    if (classAllocs > 0) liveRequestedEstimate += live * (classRequested / classAllocs);
    classes.push({
      classIndex: cls, size, spans: nSpans, pages: nSpans * CLASS_PAGES[cls]!, objectsPerSpan: perSpan,
      liveObjects: live, liveBytes: live * size, quarantinedObjects: quarantined, freeObjects: free, freeBytes: free * size, cachedObjects: cached,
      allocs: classAllocs, frees: classFrees, requestedBytes: classRequested,
    });
  }
  const largeBytes = (u32[HDR_LARGE_PAGES]! - quarantine.largePages) * PAGE_SIZE;
  quarantinedBytes += quarantine.largePages * PAGE_SIZE;
  liveBlocks += largeBlocks;
  liveBytes += largeBytes;
  liveRequestedEstimate += largeRequestedBytes;
  // Other threads' cache blocks (slots.ts) are metadata in data pages.
  const unwritten = unwrittenCacheBytes(h);
  const metadataBytes = metadataFor(h, h.endPage) - unwritten + cachePages * PAGE_SIZE;
  const dataBytes = (h.endPage - h.firstDataPage - cachePages) * PAGE_SIZE;
  return {
    committedBytes: metadataBytes + dataBytes,
    reservedBytes: h.totalPages * PAGE_SIZE,
    metadataBytes,
    liveBytes,
    quarantinedBytes,
    requestedBytes,
    liveBlocks,
    quarantinedBlocks: quarantine.perClass.reduce((a, b) => a + b, 0),
    allocs,
    frees,
    freePageBytes: u32[HDR_FREE_PAGES]! * PAGE_SIZE,
    freeObjectBytes,
    cachedBytes,
    spanTailBytes,
    largeBlocks,
    largeBytes,
    largeRequestedBytes,
    largeAllocs,
    fragmentation: dataBytes > 0 ? 1 - liveBytes / dataBytes : 0,
    internalFragmentation: liveBytes > 0 ? Math.max(0, 1 - liveRequestedEstimate / liveBytes) : 0,
    peakCommittedBytes: committedFor(h, u32[HDR_PEAK_END_PAGE]!) - unwritten,
    peakLiveBytes: Math.max(f64[HDR_F64_PEAK_LIVE]!, liveBytes),
    classes,
  };
}

// The metadata pages hold a bitmap and descriptors for every page of the
// range, but only the parts for data pages up to the committed end are ever
// written: those for pages past the end, and for the metadata pages
// themselves (which hold no block), are reserved and never touched, so the OS
// backs them with no RAM (layout.ts). They are not counted.
function metadataFor(h: Core, endPage: number): number {
  const untouched = h.totalPages - endPage + h.firstDataPage;
  return h.firstDataPage * PAGE_SIZE - untouched * META_BYTES_PER_PAGE;
}

/** Bytes of the OS's pages: the unit in which it backs memory that was written with RAM. */
const OS_PAGE = 4096;

// Slot 0's cache lists (in the metadata pages, layout.ts) fill their arrays
// from the bottom, and a slot once written holds an address (never 0) from
// then on: each array's written part is the run of non-zero slots after its
// sentinel. The sentinel itself, a 0, is never stored in memory the heap made
// (formatImage leaves it to the zero page). The rest of the cache region, up
// to the first data page, was never written, and its 4 KiB pages that hold
// no written word have no RAM either: on a heap with a 2 GiB range, about
// 1.5 MiB until the lists fill. A page written since the peak counts then
// too, so the peak is never understated. (Memory the caller passed in was
// zero-filled whole by the constructor; this counts what the heap writes in
// memory it makes, as the rest of metadataFor does.)
function unwrittenCacheBytes(h: Core): number {
  const u32 = h.u32;
  const { cacheOff } = geometry(h.totalPages, h.cacheObjects, h.imageClasses);
  const first = Math.ceil(cacheOff / OS_PAGE); // the first OS page wholly in the region
  const end = (h.firstDataPage * PAGE_SIZE) / OS_PAGE;
  let written = 0;
  let next = first; // OS pages below it are counted already
  let w = cacheOff / 4; // the sentinel of class 1's array; its slots follow
  for (let cls = 1; cls <= h.imageClasses; cls++) {
    const slots = cacheCapacity(cls, h.totalPages, h.cacheObjects);
    let top = 0;
    while (top < slots && u32[w + top + 1] !== 0) top++;
    const lo = Math.max(next, Math.floor(((w + 1) * 4) / OS_PAGE));
    const hi = Math.floor(((w + top) * 4) / OS_PAGE);
    if (top > 0 && hi >= lo) {
      written += hi - lo + 1;
      next = hi + 1;
    }
    w += 1 + slots;
  }
  return (end - first - written) * OS_PAGE;
}

function committedFor(h: Core, endPage: number): number {
  return metadataFor(h, endPage) + (endPage - h.firstDataPage) * PAGE_SIZE;
}
