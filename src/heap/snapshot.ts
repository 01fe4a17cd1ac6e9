// Heap snapshots: every span of a heap's image as plain data, for the heap
// map (debug/heap-map.ts) and for tools. See heap.ts for an overview.
//
// A snapshot is read from the image alone, the way check.ts reads it: the
// page descriptors give the spans in page order, the allocation bitmap gives
// each small span's live objects, and invariant S3 (layout.ts) gives the
// rest without walking any list:
//
//   objects = live + |span free list| + |its objects on the cache list|
//   |span free list| = objects - D_USED,  so  cached = D_USED - live
//
// Cost: O(spans + committed bytes / 256) (one popcount per bitmap word of
// the small spans), plus heap.stats(). It allocates one object per span.

import { HeapCorruptionError } from "../errors.js";
import { checkHeap } from "../common/options.js";
import type { Heap } from "./heap.js";
import type { Core } from "./core.js";
import { D_USED, DESC_SHIFT, KIND_CACHE, KIND_LARGE, KIND_SMALL, PAGE_SIZE } from "./layout.js";
import { CLASS_OBJECTS, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import type { HeapStats } from "./stats.js";
import { walkSpans } from "./page-heap.js";
import { liveGranules } from "./granules.js";

/** The `format` tag of a HeapSnapshot. */
export const SNAPSHOT_FORMAT = "offheap-heap-snapshot";
/** Version of the HeapSnapshot shape; grows when a field changes meaning. */
export const SNAPSHOT_VERSION = 1;

/** A span of a size class: `pages` pages cut into `objects` objects of `objectSize` bytes. */
export interface SmallSpanSnapshot {
  kind: "small";
  /** First page; the span's address is `startPage * pageSize`. */
  startPage: number;
  pages: number;
  /** Size class, 1-based. */
  classIndex: number;
  /** Bytes per object. */
  objectSize: number;
  /** Objects the span holds (free and live). */
  objects: number;
  /** Objects in live blocks (allocation bits set). */
  liveObjects: number;
  /** Free objects on the span's own free list. */
  freeListObjects: number;
  /** Free objects of this span on its class's cache list (the local cache). */
  cachedObjects: number;
}

/** One large block: a request over 64 KiB (over 32 KiB in an image made by a version before 9) rounded up to whole pages. */
export interface LargeSpanSnapshot {
  kind: "large";
  startPage: number;
  pages: number;
  /** Bytes requested by the alloc or realloc that made the block (D_USED). */
  requestedBytes: number;
}

/** A run of free pages in the page heap's pool. */
export interface FreeRunSnapshot {
  kind: "free";
  startPage: number;
  pages: number;
}

/** The cache block of a thread attached to a shared heap (its local cache lists; no block lives in it). */
export interface CacheBlockSnapshot {
  kind: "cache";
  startPage: number;
  pages: number;
}

/** A span or free run; `kind` tells which. */
export type SpanSnapshot = SmallSpanSnapshot | LargeSpanSnapshot | FreeRunSnapshot | CacheBlockSnapshot;

/** One size class that owns at least one span. */
export interface ClassSnapshot {
  classIndex: number;
  objectSize: number;
  spans: number;
  pages: number;
  /** Objects in the class's spans. */
  objects: number;
  liveObjects: number;
  /** Free objects, on span free lists and on the cache list. */
  freeObjects: number;
  /** The part of freeObjects on the class's cache list. */
  cachedObjects: number;
  /** liveObjects and freeObjects times objectSize. */
  liveBytes: number;
  freeBytes: number;
}

/**
 * A heap's layout at one moment: plain numbers, strings and arrays, so
 * `JSON.stringify` keeps all of it. Pages are counted from address 0; the
 * pages before `firstDataPage` hold metadata (header, bitmap, descriptors)
 * and `spans` tile `[firstDataPage, endPage)` in page order.
 */
export interface HeapSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** Bytes per page (8 KiB). */
  pageSize: number;
  firstDataPage: number;
  /** Committed end (exclusive). */
  endPage: number;
  /** Pages of the heap's address range (maxSize); pages from endPage on are reserved, not committed. */
  reservedPages: number;
  spans: SpanSnapshot[];
  /** One row per size class with spans, in class order. */
  classes: ClassSnapshot[];
  /** `heap.stats()` at the same moment. */
  stats: HeapStats;
}

/**
 * Takes a snapshot of `heap`: every span and free run in page order with
 * its objects and live counts, per-class totals, and `heap.stats()`. The
 * heap is not changed. Throws HeapCorruptionError (invariant H1, P1, S1 or
 * S3) if the header's committed end, the descriptors' tiling of the pages or
 * a span's counts are impossible, and OffheapTypeError if `heap` is not a Heap, so damage never makes it loop; run
 * `heap.check()` first for a full validation. Blocks waiting in a debug
 * quarantine count as live objects of their spans (their granules stay
 * G_LIVE_DEBUG); `stats` counts them apart (quarantinedBlocks).
 * Cost: O(spans + committed bytes / 256); one object per span.
 *
 * @example
 * const snap = heapSnapshot(heap);
 * const large = snap.spans.filter((s) => s.kind === "large");
 * await writeFile("heap.json", JSON.stringify(snap));
 */
export function heapSnapshot(heap: Heap): HeapSnapshot {
  checkHeap("heapSnapshot", heap);
  const stats = heap.stats(); // brings the heap's views and committed end up to date, and walks the spans once
  const h: Core = heap;
  const spans: SpanSnapshot[] = [];
  const rows: (ClassSnapshot | undefined)[] = new Array<ClassSnapshot | undefined>(N_CLASSES + 1);
  walkSpans(h, (p, pages, kind, cls) => {
    if (kind === KIND_SMALL) {
      const span = smallSpan(h, p, pages, cls);
      spans.push(span);
      addToRow(rows, span);
    } else if (kind === KIND_LARGE) {
      spans.push({ kind: "large", startPage: p, pages, requestedBytes: h.u32[h.descW + (p << DESC_SHIFT) + D_USED]! });
    } else if (kind === KIND_CACHE) {
      spans.push({ kind: "cache", startPage: p, pages });
    } else {
      spans.push({ kind: "free", startPage: p, pages });
    }
  });
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    pageSize: PAGE_SIZE,
    firstDataPage: h.firstDataPage,
    endPage: h.endPage,
    reservedPages: h.totalPages,
    spans,
    classes: rows.filter((r): r is ClassSnapshot => r !== undefined),
    stats,
  };
}

function smallSpan(h: Core, p: number, pages: number, cls: number): SmallSpanSnapshot {
  const live = liveGranules(h.u32, p, pages);
  const used = h.u32[h.descW + (p << DESC_SHIFT) + D_USED]!;
  const objects = CLASS_OBJECTS[cls]!;
  if (used > objects || live > used) {
    throw new HeapCorruptionError("S3", `heapSnapshot: span at page ${p}: ${live} live objects and ${used} used of ${objects}`);
  }
  return {
    kind: "small", startPage: p, pages, classIndex: cls, objectSize: CLASS_SIZE[cls]!, objects,
    liveObjects: live, freeListObjects: objects - used, cachedObjects: used - live,
  };
}

function addToRow(rows: (ClassSnapshot | undefined)[], s: SmallSpanSnapshot): void {
  const row = rows[s.classIndex] ??= {
    classIndex: s.classIndex, objectSize: s.objectSize, spans: 0, pages: 0, objects: 0,
    liveObjects: 0, freeObjects: 0, cachedObjects: 0, liveBytes: 0, freeBytes: 0,
  };
  const free = s.freeListObjects + s.cachedObjects;
  row.spans++;
  row.pages += s.pages;
  row.objects += s.objects;
  row.liveObjects += s.liveObjects;
  row.freeObjects += free;
  row.cachedObjects += s.cachedObjects;
  row.liveBytes += s.liveObjects * s.objectSize;
  row.freeBytes += free * s.objectSize;
}
