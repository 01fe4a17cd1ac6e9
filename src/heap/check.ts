// Validators of the heap image: check every invariant listed in layout.ts
// and throw HeapCorruptionError naming the first one broken. See heap.ts for
// an overview. Tests run it after every step.
//
// The descriptors are checked first (P1, P2, P3, a small span's class), so
// a damaged descriptor is reported as such rather than as a list that
// seems to stray from its span; then the cache lists (S2), the spans'
// contents (S1, S3, L1, B1), the lists (P4, S4) and the counters. Every
// walk is bounded: tiling by the committed pages, lists by the bitmap of
// objects seen (a repeat fails) or by the number of pages.

import { HeapCorruptionError, hex } from "../errors.js";
import { CLASS_OBJECTS, CLASS_SIZE, N_CLASSES } from "./size-classes.js";
import {
  binOf, D_CLASS, D_FREE, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, CC_ARRAY, CC_LIMIT, CC_MAX, CC_TOP, CC_BASE, CC_PUSHES, CC_SHIFT, popsSinceFold, G_FREE, G_LIVE_BIT, G_NONE, HDR_CACHE,
  HDR_BIN_NONEMPTY, HDR_EMPTY, HDR_FREE_BIN, HDR_FREE_PAGES, HDR_LARGE_BLOCKS, HDR_LARGE_PAGES,
  HDR_N_EMPTY_SPANS, HDR_PARTIAL, HDR_SLOTS, KIND_CACHE, KIND_FREE, KIND_SMALL, MAX_SLOTS, N_BINS, PAGE_SIZE, D_NEXT, D_PREV, SL_CACHE, slotWord, cacheBlockBytes,
} from "./layout.js";
import type { Core } from "./core.js";
import { granuleState, usedGranules } from "./granules.js";
import { walkSpans } from "./page-heap.js";
import { heapStats } from "./stats.js";
import { slotCacheLines, slotReady, TRAP_LIMIT } from "./slots.js";
import { isInertLine } from "./cache-lines.js";

// What the tiling walk found at each start page, compared with the lists.
const ST_FREE = 1;
const ST_PARTIAL = 2;
const ST_EMPTY = 3;
const ST_FULL = 4;
const ST_LARGE = 5;
const ST_SMALL = 6; // a small span, before checkSmallSpan finds its state

function fail(id: string, msg: string): never {
  throw new HeapCorruptionError(id, `Heap.check: ${msg}`);
}

/** Checks every invariant of the image; throws HeapCorruptionError on the first one broken. */
export function checkHeap(h: Core): void {
  const u32 = h.u32;
  const state = new Uint8Array(h.endPage);
  checkTiling(h, state);
  // Objects seen on a list so far, 1 bit per 8-byte granule; and per span,
  // how many of its objects are on a cache list.
  const seen = new Uint32Array(Math.ceil(h.endPage * PAGE_SIZE / 256));
  const cachedIn = new Float64Array(h.endPage);
  const blocks = checkSlots(h);
  for (const lines of slotCacheLines(u32)) for (let cls = 1; cls <= N_CLASSES; cls++) checkCache(h, lines, cls, seen, cachedIn);
  if (usedGranules(u32, 0, h.firstDataPage) !== 0) fail("B1", "a granule of a metadata page is not G_NONE");
  let freePages = 0;
  let largeBlocks = 0;
  let largePages = 0;
  let nEmpty = 0;
  walkSpans(h, (p, n, kind) => {
    if (kind === KIND_FREE) {
      if (usedGranules(u32, p, n) !== 0) fail("B1", `free run at page ${p} has a granule that is not G_NONE`);
      freePages += n;
    } else if (kind === KIND_SMALL) {
      state[p] = checkSmallSpan(h, p, n, seen, cachedIn[p]!);
      if (state[p] === ST_EMPTY) nEmpty++;
    } else if (kind === KIND_CACHE) {
      if (!blocks.delete(p) || n !== Math.ceil(cacheBlockBytes(h.totalPages, h.cacheObjects, h.imageClasses) / PAGE_SIZE)) fail("T1", `the cache block at page ${p} (${n} pages) belongs to no slot`);
      if (usedGranules(u32, p, n) !== 0) fail("B1", `the cache block at page ${p} has a granule that is not G_NONE`);
    } else {
      checkLarge(h, p, n);
      largeBlocks++;
      largePages += n;
    }
  });
  for (const p of blocks) fail("T1", `a slot names a cache block at page ${p}, which is not one`);
  checkBins(h, state);
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    checkList(h, state, HDR_PARTIAL + cls, ST_PARTIAL, cls, "partial");
    checkList(h, state, HDR_EMPTY + cls, ST_EMPTY, cls, "empty");
  }
  for (let p = h.firstDataPage; p < h.endPage; p++) {
    if (state[p] === ST_PARTIAL || state[p] === ST_EMPTY) fail("S4", `span at page ${p} is missing from its class's ${state[p] === ST_EMPTY ? "empty" : "partial"} list`);
  }
  if (u32[HDR_N_EMPTY_SPANS] !== nEmpty) fail("S4", `header counts ${u32[HDR_N_EMPTY_SPANS]} empty spans, found ${nEmpty}`);
  if (u32[HDR_FREE_PAGES] !== freePages) fail("P4", `header counts ${u32[HDR_FREE_PAGES]} free pages, found ${freePages}`);
  if (u32[HDR_LARGE_BLOCKS] !== largeBlocks || u32[HDR_LARGE_PAGES] !== largePages) {
    fail("C1", `header counts ${u32[HDR_LARGE_BLOCKS]} large blocks in ${u32[HDR_LARGE_PAGES]} pages, found ${largeBlocks} in ${largePages}`);
  }
  const stats = heapStats(h);
  if (stats.allocs - stats.frees !== stats.liveBlocks) {
    fail("C1", `${stats.allocs} blocks allocated and ${stats.frees} freed, but ${stats.liveBlocks} live`);
  }
}

// Checks, beyond what the span walker checks (P1, a small span's class),
// that every page of a span names its start as owner and a small span's
// pages its class (P2), and that free runs are coalesced (P3); marks each
// start page in `state` as ST_FREE, ST_SMALL or ST_LARGE.
function checkTiling(h: Core, state: Uint8Array): void {
  const u32 = h.u32;
  let prevFree = false;
  walkSpans(h, (p, n, kind, cls) => {
    if (kind === KIND_FREE) {
      if (prevFree) fail("P3", `free run at page ${p} follows another free run (not coalesced)`);
      if (u32[h.descW + (p << DESC_SHIFT) + D_OWNER] !== p || u32[h.descW + ((p + n - 1) << DESC_SHIFT) + D_OWNER] !== p) {
        fail("P2", `free run at page ${p}: a boundary page's owner is not ${p}`);
      }
      state[p] = ST_FREE;
    } else {
      for (let q = p; q < p + n; q++) {
        const qw = h.descW + (q << DESC_SHIFT);
        if (u32[qw + D_OWNER] !== p) fail("P2", `page ${q} of the span at page ${p} names owner ${u32[qw + D_OWNER]}`);
        if (u32[qw + D_CLASS] !== cls) fail("P2", `page ${q} of the span at page ${p} names class ${u32[qw + D_CLASS]}, not ${cls}`);
      }
      state[p] = kind === KIND_SMALL ? ST_SMALL : ST_LARGE;
    }
    prevFree = kind === KIND_FREE;
  });
}

// Marks object `a` as seen on a list, failing invariant `id` if it was
// seen already or is live.
function markSeen(h: Core, seen: Uint32Array, a: number, id: string, what: string): void {
  const w = a >>> 8;
  const bit = 1 << ((a >>> 3) & 31);
  if ((seen[w]! & bit) !== 0) fail(id, `${what} reaches ${hex(a)}, which is already on a list`);
  const g = granuleState(h.u32, a);
  if (g !== G_FREE) fail(id, `${what} holds ${hex(a)}, whose granule is ${(g & G_LIVE_BIT) !== 0 ? "live" : "G_NONE"}, not G_FREE`);
  seen[w] = seen[w]! | bit;
}

// Checks the slot table (T1): slot 0's lines are the header's; returns
// the start pages of the cache blocks the other slots in use name.
function checkSlots(h: Core): Set<number> {
  const u32 = h.u32;
  const pages = new Set<number>();
  if (u32[HDR_SLOTS + SL_CACHE] !== HDR_CACHE) fail("T1", `slot 0's cache lines are at word ${u32[HDR_SLOTS + SL_CACHE]}, not ${HDR_CACHE}`);
  for (let k = 1; k < MAX_SLOTS; k++) {
    const sw = slotWord(k);
    if (!slotReady(u32, k)) continue;
    const w = u32[sw + SL_CACHE]!;
    const p = (w << 2) / PAGE_SIZE;
    if (!Number.isInteger(p) || p < h.firstDataPage || p >= h.endPage || pages.has(p)) fail("T1", `slot ${k} names its cache lines at word ${w}, not the start of a cache block of its own`);
    pages.add(p);
  }
  return pages;
}

// Checks class cls's cache list of the slot whose lines start at word `lines` (S2) and counts its objects per span.
function checkCache(h: Core, lines: number, cls: number, seen: Uint32Array, cachedIn: Float64Array): void {
  const u32 = h.u32;
  const size = CLASS_SIZE[cls]!;
  const what = `class ${cls}'s cache list${lines === HDR_CACHE ? "" : ` of the slot at word ${lines}`}`;
  const cw = lines + (cls << CC_SHIFT);
  const array = u32[cw + CC_ARRAY]!;
  const n = u32[cw + CC_TOP]! - array;
  const max = u32[cw + CC_MAX]!;
  if (!(n >= 0 && n <= max)) fail("S2", `${what} counts ${n} objects in an array of ${max}`);
  if (cls > h.imageClasses && !isInertLine(u32, lines, cls)) fail("S2", `${what}: the image has ${h.imageClasses} classes, but this one's list is not inert`);
  if (u32[array] !== 0) fail("S2", `${what}: the sentinel before its array is ${u32[array]}, not 0`);
  // A slot whose thread has not switched to the shared paths yet may carry the trap (slots.ts).
  if (u32[cw + CC_LIMIT] !== max - u32[cw + CC_BASE]! && u32[cw + CC_LIMIT] !== TRAP_LIMIT) {
    fail("S2", `${what}: its push bound ${u32[cw + CC_LIMIT]} does not match its length at the last fold, ${u32[cw + CC_BASE]}`);
  }
  if (popsSinceFold(u32, cw) < 0) fail("S2", `${what} holds ${n} objects, more than its ${u32[cw + CC_BASE]} at the last fold and ${u32[cw + CC_PUSHES]} pushes since`);
  for (let i = 1; i <= n; i++) {
    const a = u32[array + i]!;
    const page = Math.floor(a / PAGE_SIZE);
    if (a % 8 !== 0 || page < h.firstDataPage || page >= h.endPage) fail("S2", `${what} holds ${hex(a)}, outside the heap's pages`);
    const s = u32[h.descW + (page << DESC_SHIFT) + D_OWNER]!;
    const dw = h.descW + (s << DESC_SHIFT);
    if (u32[dw + D_KIND] !== KIND_SMALL || u32[dw + D_CLASS] !== cls || s > page || page >= s + u32[dw + D_NPAGES]!) {
      fail("S2", `${what} holds ${hex(a)}, which is not in a span of class ${cls}`);
    }
    if ((a - s * PAGE_SIZE) % size !== 0 || a - s * PAGE_SIZE >= CLASS_OBJECTS[cls]! * size) fail("S2", `${what} holds ${hex(a)}, not an object start`);
    markSeen(h, seen, a, "S2", what);
    cachedIn[s] = cachedIn[s]! + 1;
  }
}

function checkSmallSpan(h: Core, p: number, n: number, seen: Uint32Array, cached: number): number {
  const u32 = h.u32;
  const dw = h.descW + (p << DESC_SHIFT);
  const cls = u32[dw + D_CLASS]!; // checked by checkTiling
  const objects = CLASS_OBJECTS[cls]!;
  const size = CLASS_SIZE[cls]!;
  const base = p * PAGE_SIZE;
  const what = `free list of the span at page ${p} (class ${cls}, ${size} B)`;
  let f = 0;
  for (let a = u32[dw + D_FREE]!; a !== 0; a = u32[a >>> 2]!) {
    if (a < base || (a - base) % size !== 0 || a - base >= objects * size) fail("S1", `${what} links to ${hex(a)}, not an object of the span`);
    markSeen(h, seen, a, "S1", what);
    f++;
  }
  const used = u32[dw + D_USED]!;
  if (used !== objects - f) fail("S3", `span at page ${p}: used ${used}, but ${objects} objects with ${f} on its free list`);
  let live = 0;
  for (let a = base, end = base + objects * size; a < end; a += size) {
    const g = granuleState(u32, a);
    if ((g & G_LIVE_BIT) !== 0) live++;
    else if (g === G_NONE) fail("S5", `object ${hex(a)} of the span at page ${p} is neither live nor free (granule G_NONE)`);
    else if (((seen[a >>> 8]! >>> ((a >>> 3) & 31)) & 1) === 0) fail("S3", `free object ${hex(a)} is on no list (lost)`);
  }
  if (live !== used - cached) fail("S3", `span at page ${p}: ${live} live objects, but used ${used} minus ${cached} cached`);
  if (usedGranules(u32, p, n) !== objects) fail("S5", `span at page ${p}: a granule off the object starts is not G_NONE`);
  return used === 0 ? ST_EMPTY : f === 0 ? ST_FULL : ST_PARTIAL;
}

function checkLarge(h: Core, p: number, n: number): void {
  const size = h.u32[h.descW + (p << DESC_SHIFT) + D_USED]!;
  if (size === 0 || Math.ceil(size / PAGE_SIZE) !== n) fail("L1", `large block at page ${p}: ${size} bytes in ${n} pages`);
  if ((granuleState(h.u32, p * PAGE_SIZE) & G_LIVE_BIT) === 0 || usedGranules(h.u32, p, n) !== 1) {
    fail("L1", `large block at page ${p} must have exactly one granule not G_NONE, live, at its start`);
  }
}

function checkBins(h: Core, state: Uint8Array): void {
  const u32 = h.u32;
  let runs = 0;
  for (let bin = 0; bin < N_BINS; bin++) {
    const nonEmpty = ((u32[HDR_BIN_NONEMPTY + (bin >>> 5)]! >>> (bin & 31)) & 1) === 1;
    if (nonEmpty !== (u32[HDR_FREE_BIN + bin] !== 0)) fail("P4", `bin ${bin}: non-empty mask says ${nonEmpty}`);
    runs += walkList(h, HDR_FREE_BIN + bin, (s) => {
      const n = u32[h.descW + (s << DESC_SHIFT) + D_NPAGES]!;
      if (state[s] !== ST_FREE || binOf(n) !== bin) fail("P4", `bin ${bin} links page ${s}, not a free run of that bin`);
    }, "P4");
  }
  let found = 0;
  for (let p = h.firstDataPage; p < h.endPage; p++) if (state[p] === ST_FREE) found++;
  if (runs !== found) fail("P4", `bins link ${runs} free runs, the pages hold ${found}`);
}

function checkList(h: Core, state: Uint8Array, headW: number, want: number, cls: number, name: string): void {
  walkList(h, headW, (s) => {
    if (state[s] !== want || h.u32[h.descW + (s << DESC_SHIFT) + D_CLASS] !== cls) {
      fail("S4", `class ${cls}'s ${name} list links page ${s}, which is not a ${name} span of that class`);
    }
    state[s] = 0; // seen: a second visit (or a later "missing" check) now fails
  }, "S4");
}

// Walks a descriptor list checking its back links; returns its length.
function walkList(h: Core, headW: number, visit: (s: number) => void, id: string): number {
  const u32 = h.u32;
  let prev = 0;
  let k = 0;
  for (let s = u32[headW]!; s !== 0; s = u32[h.descW + (s << DESC_SHIFT) + D_NEXT]!) {
    if (s < h.firstDataPage || s >= h.endPage) fail(id, `list at header word ${headW} links page ${s}, outside the committed pages`);
    if (u32[h.descW + (s << DESC_SHIFT) + D_PREV] !== prev) fail(id, `list at header word ${headW}: page ${s} has a wrong back link`);
    visit(s);
    prev = s;
    if (++k > h.endPage) fail(id, `list at header word ${headW} has a cycle`);
  }
  return k;
}
