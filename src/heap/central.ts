// Central lists: the spans of each size class (Go's mcentral), and the
// allocation lists that serve the fast path (the local cache, Go's mcache).
// See heap.ts for an overview.
//
// Each class c has at most one current span. Taking a span as current moves
// its whole free list to the allocation list HDR_ALLOC_HEAD[c], which the
// fast path pops; frees push onto the span's own free list (mimalloc's
// sharded free lists). So the fast path never touches a span descriptor
// when it allocates, and counters are kept only on this slow path, as Go's
// mcache does: taking k objects adds k to HDR_F64_ALLOCS at once and sets
// the span's D_USED to `objects` (all handed out). For every span:
//
//   used == objects - |span free list|                        (S3)
//   live objects == used - |allocation list if current|       (S3)
//
// A non-current span is in exactly one state (S4):
//   full     free list empty           in no list
//   partial  0 < used < objects        in HDR_PARTIAL[c]
//   empty    used == 0                 in HDR_EMPTY[c]
// Empty spans stay with their class until a page request finds no free run
// (they are released before the heap grows) or trim() runs, so a workload
// that frees everything and allocates again reuses them with no page-heap
// work.

import { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import {
  BITMAP_W, D_CLASS, D_FREE, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, HDR_ALLOC_HEAD, HDR_CUR_SPAN,
  HDR_EMPTY, HDR_F64_ALLOCS, HDR_FREE_PAGES, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES, HDR_N_EMPTY_SPANS, HDR_PARTIAL,
  KIND_LARGE, KIND_SMALL, PAGE_SIZE,
} from "./layout.js";
import type { Core } from "./core.js";
import { linkFront, popFront, unlink } from "./lists.js";
import { extend, freeRun, growFor, takeRun } from "./page-heap.js";

/** Growth policy read by acquirePages: grow ahead once used pages exceed this share of committed pages. */
export interface GrowAhead {
  growAt: number;
}

/**
 * Takes n pages: a free run if one fits, else after releasing the empty
 * spans of every class, else after growing the heap. Returns the start
 * page, or 0 if the heap cannot grow enough (nothing changed then but the
 * release of empty spans, which loses nothing).
 */
export function acquirePages(h: Core & GrowAhead, n: number): number {
  let s = takeRun(h, n);
  if (s === 0 && h.u32[HDR_N_EMPTY_SPANS] !== 0) {
    releaseEmptySpans(h);
    s = takeRun(h, n);
  }
  if (s === 0 && growFor(h, n)) s = takeRun(h, n);
  if (s !== 0 && h.growAt < 1) {
    const committed = h.endPage - h.firstDataPage;
    if (committed - h.u32[HDR_FREE_PAGES]! > h.growAt * committed) {
      const room = h.totalPages - h.endPage;
      const step = Math.min(room, h.growStepPages());
      if (step > 0) extend(h, step);
    }
  }
  return s;
}

/** Makes pages [s, s+n) a small span of class cls with every object on its free list. */
function initSpan(h: Core, s: number, cls: number): void {
  const u32 = h.u32;
  const n = CLASS_PAGES[cls]!;
  for (let p = s; p < s + n; p++) u32[h.descW + (p << DESC_SHIFT) + D_OWNER] = s;
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_CLASS] = cls;
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
 * Refills class cls's allocation list (the fast path found it empty) and
 * returns its first object, still on the list; 0 if the heap is out of
 * memory. Order: frees that reached the current span since it was taken,
 * then a partial span, then an empty one, then a new span.
 */
export function refill(h: Core & GrowAhead, cls: number): number {
  let u32 = h.u32;
  let s = u32[HDR_CUR_SPAN + cls]!;
  if (s !== 0 && u32[h.descW + (s << DESC_SHIFT) + D_FREE] === 0) {
    s = 0; // current span is full: it leaves every list until a free comes back
    u32[HDR_CUR_SPAN + cls] = 0;
  }
  if (s === 0) {
    s = popFront(h, HDR_PARTIAL + cls);
    if (s === 0) {
      s = popFront(h, HDR_EMPTY + cls);
      if (s !== 0) u32[HDR_N_EMPTY_SPANS] = u32[HDR_N_EMPTY_SPANS]! - 1;
    }
    if (s === 0) {
      s = acquirePages(h, CLASS_PAGES[cls]!);
      if (s === 0) return 0;
      initSpan(h, s, cls);
      u32 = h.u32; // growth replaced the views
    }
    u32[HDR_CUR_SPAN + cls] = s;
  }
  const dw = h.descW + (s << DESC_SHIFT);
  const objects = CLASS_OBJECTS[cls]!;
  const head = u32[dw + D_FREE]!;
  h.f64[HDR_F64_ALLOCS] = h.f64[HDR_F64_ALLOCS]! + objects - u32[dw + D_USED]!;
  u32[dw + D_USED] = objects;
  u32[dw + D_FREE] = 0;
  u32[HDR_ALLOC_HEAD + cls] = head;
  return head;
}

/**
 * Moves a non-current span between the partial and empty lists after a
 * free; the fast path calls it only when the span's free list was empty
 * before (it was full) or its used count reached 0.
 */
export function spanFreed(h: Core, s: number, cls: number, wasFull: boolean, used: number): void {
  const u32 = h.u32;
  if (u32[HDR_CUR_SPAN + cls] === s) return;
  if (used === 0) {
    if (!wasFull) unlink(h, HDR_PARTIAL + cls, s);
    linkFront(h, HDR_EMPTY + cls, s);
    u32[HDR_N_EMPTY_SPANS] = u32[HDR_N_EMPTY_SPANS]! + 1;
  } else if (wasFull) {
    linkFront(h, HDR_PARTIAL + cls, s);
  }
}

/** Gives every empty span back to the page heap. */
export function releaseEmptySpans(h: Core): void {
  const u32 = h.u32;
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    for (let s = popFront(h, HDR_EMPTY + cls); s !== 0; s = popFront(h, HDR_EMPTY + cls)) {
      u32[h.descW + (s << DESC_SHIFT) + D_CLASS] = 0;
      freeRun(h, s, CLASS_PAGES[cls]!);
    }
  }
  u32[HDR_N_EMPTY_SPANS] = 0;
}

/**
 * Returns every allocation list to its span, which stops being current
 * and joins the list its state calls for. After this the image holds no
 * cached objects: the state a worker's local cache must reach before it
 * exits, and what trim() does first.
 */
export function flushCaches(h: Core): void {
  const u32 = h.u32;
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    const s = u32[HDR_CUR_SPAN + cls]!;
    if (s === 0) continue;
    const dw = h.descW + (s << DESC_SHIFT);
    let k = 0;
    let tail = 0;
    for (let a = u32[HDR_ALLOC_HEAD + cls]!; a !== 0; a = u32[a >>> 2]!) {
      tail = a;
      k++;
    }
    if (tail !== 0) {
      u32[tail >>> 2] = u32[dw + D_FREE]!;
      u32[dw + D_FREE] = u32[HDR_ALLOC_HEAD + cls]!;
    }
    const used = u32[dw + D_USED]! - k;
    u32[dw + D_USED] = used;
    h.f64[HDR_F64_ALLOCS] = h.f64[HDR_F64_ALLOCS]! - k;
    u32[HDR_ALLOC_HEAD + cls] = 0;
    u32[HDR_CUR_SPAN + cls] = 0;
    if (used === 0) {
      linkFront(h, HDR_EMPTY + cls, s);
      u32[HDR_N_EMPTY_SPANS] = u32[HDR_N_EMPTY_SPANS]! + 1;
    } else if (u32[dw + D_FREE] !== 0) {
      linkFront(h, HDR_PARTIAL + cls, s);
    }
  }
}

/** Allocates a large block of `sizeBytes` (> MAX_SMALL_SIZE) as its own page run; returns its address or 0. */
export function allocLarge(h: Core & GrowAhead, sizeBytes: number): number {
  const n = Math.ceil(sizeBytes / PAGE_SIZE);
  const s = acquirePages(h, n);
  if (s === 0) return 0;
  const u32 = h.u32;
  for (let p = s; p < s + n; p++) u32[h.descW + (p << DESC_SHIFT) + D_OWNER] = s;
  const dw = h.descW + (s << DESC_SHIFT);
  u32[dw + D_CLASS] = 0;
  u32[dw + D_KIND] = KIND_LARGE;
  u32[dw + D_NPAGES] = n;
  u32[dw + D_USED] = sizeBytes;
  u32[dw + D_FREE] = 0;
  const addr = s * PAGE_SIZE;
  const bitW = BITMAP_W + (addr >>> 8);
  u32[bitW] = u32[bitW]! | (1 << ((addr >>> 3) & 31));
  u32[HDR_LARGE_BLOCKS] = u32[HDR_LARGE_BLOCKS]! + 1;
  u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + n;
  h.f64[HDR_F64_ALLOCS] = h.f64[HDR_F64_ALLOCS]! + 1;
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
