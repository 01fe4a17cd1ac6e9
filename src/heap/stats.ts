// Heap statistics, computed from the image. See heap.ts for an overview.
//
// The fast paths keep integer counts in the cache list's own words (pops,
// pushes and requested bytes since the last fold; see layout.ts); the rest is
// derived here from span descriptors, as Go derives MemStats from mcache
// and mcentral state.

import { CLASS_OBJECTS, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import {
  D_CLASS, D_KIND, D_NPAGES, D_USED, DESC_SHIFT, CC_POPS, CC_PUSHES, CC_REQUESTED, CC_SHIFT, HDR_CACHE, HDR_F64_CLASS_ALLOCS, HDR_F64_CLASS_FREES,
  HDR_F64_CLASS_REQUESTED, HDR_F64_LARGE_ALLOCS, HDR_F64_REQUESTED, HDR_FREE_PAGES,
  HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, KIND_SMALL, META_BYTES_PER_PAGE, PAGE_SIZE,
} from "./layout.js";
import type { Core } from "./core.js";
import { cacheLength } from "./central.js";

/** One size class's row in HeapStats. */
export interface ClassStats {
  /** Class index, 1-based. */
  classIndex: number;
  /** Bytes per object. */
  size: number;
  /** Spans owned by the class (current, partial, full and empty). */
  spans: number;
  /** Objects in live blocks. */
  liveObjects: number;
  /** Objects free in the class's spans, including those on its cache list. */
  freeObjects: number;
}

/** What `heap.stats()` returns; every field is a plain number, so the object is JSON-serializable. */
export interface HeapStats {
  /** Bytes of backing memory the heap uses: metadata for the committed pages plus the committed pages. */
  committedBytes: number;
  /** Address range reserved for the heap (maxSize). */
  reservedBytes: number;
  /** Bytes of header, bitmap and page descriptors covering the committed range. */
  metadataBytes: number;
  /** Bytes in live blocks, each rounded up to its class size or whole pages. */
  liveBytes: number;
  /** Bytes requested by every alloc, calloc and realloc call so far (cumulative). */
  requestedBytes: number;
  /** Live blocks. */
  liveBlocks: number;
  /** Blocks allocated so far (cumulative). */
  allocs: number;
  /** Blocks freed so far (cumulative). */
  frees: number;
  /** Bytes in free page runs (the page heap's pool). */
  freePageBytes: number;
  /** Bytes of free objects in spans of size classes (cached ones included). */
  freeObjectBytes: number;
  /** Live large blocks (over 32 KiB) and their bytes in whole pages. */
  largeBlocks: number;
  largeBytes: number;
  /** One row per size class that owns at least one span. */
  classes: ClassStats[];
}

/** Computes HeapStats by walking the spans. Cost: O(spans). */
export function heapStats(h: Core): HeapStats {
  const u32 = h.u32;
  const spans = new Float64Array(N_CLASSES + 1);
  const used = new Float64Array(N_CLASSES + 1);
  for (let p = h.firstDataPage; p < h.endPage; ) {
    const dw = h.descW + (p << DESC_SHIFT);
    if (u32[dw + D_KIND] === KIND_SMALL) {
      const cls = u32[dw + D_CLASS]!;
      spans[cls] = spans[cls]! + 1;
      used[cls] = used[cls]! + u32[dw + D_USED]!;
    }
    p += u32[dw + D_NPAGES]!;
  }
  const classes: ClassStats[] = [];
  let liveBytes = 0;
  let liveBlocks = 0;
  let freeObjectBytes = 0;
  const largeBlocks = u32[HDR_LARGE_BLOCKS]!;
  let allocs = h.f64[HDR_F64_LARGE_ALLOCS]!;
  let frees = allocs - largeBlocks;
  let requestedBytes = h.f64[HDR_F64_REQUESTED]!;
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    const cw = HDR_CACHE + (cls << CC_SHIFT);
    allocs += h.f64[HDR_F64_CLASS_ALLOCS + cls]! + u32[cw + CC_POPS]!;
    frees += h.f64[HDR_F64_CLASS_FREES + cls]! + u32[cw + CC_PUSHES]!;
    requestedBytes += h.f64[HDR_F64_CLASS_REQUESTED + cls]! + u32[cw + CC_REQUESTED]!;
    if (spans[cls] === 0) continue;
    const live = used[cls]! - cacheLength(u32, cls);
    const free = spans[cls]! * CLASS_OBJECTS[cls]! - live;
    liveBlocks += live;
    liveBytes += live * CLASS_SIZE[cls]!;
    freeObjectBytes += free * CLASS_SIZE[cls]!;
    classes.push({ classIndex: cls, size: CLASS_SIZE[cls]!, spans: spans[cls]!, liveObjects: live, freeObjects: free });
  }
  const largeBytes = u32[HDR_LARGE_PAGES]! * PAGE_SIZE;
  liveBlocks += largeBlocks;
  liveBytes += largeBytes;
  // Metadata for pages past the committed end is reserved but never touched.
  const metadataBytes = h.firstDataPage * PAGE_SIZE - (h.totalPages - h.endPage) * META_BYTES_PER_PAGE;
  return {
    committedBytes: metadataBytes + (h.endPage - h.firstDataPage) * PAGE_SIZE,
    reservedBytes: h.totalPages * PAGE_SIZE,
    metadataBytes,
    liveBytes,
    requestedBytes,
    liveBlocks,
    allocs,
    frees,
    freePageBytes: u32[HDR_FREE_PAGES]! * PAGE_SIZE,
    freeObjectBytes,
    largeBlocks,
    largeBytes,
    classes,
  };
}
