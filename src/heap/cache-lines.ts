// A slot's cache lines and where their arrays lie: slot 0's in the
// image's metadata (formatImage), another slot's in a cache block of pages
// of its own (slots.ts). The lists themselves are central.ts's. See
// layout.ts for the lines' words.

import * as layout from "./layout.js";
const { cacheCapacity, CC_ARRAY, CC_MAX, CC_SAMPLE_AT, CC_SHIFT, CC_TOP, D_KIND, D_NPAGES, D_OWNER, DESC_SHIFT,
  KIND_CACHE, CACHE_LINES_WORDS, cacheBlockBytes, PAGE_SIZE, SAMPLE_NEVER } = layout;
import { N_CLASSES } from "./size-classes.js";
import { hex } from "../errors.js";
import type { Core } from "./core.js";
import { damaged } from "./lists.js";
import { freeRun, growFor, takeRun } from "./page-heap.js";
import { describeSpan, releaseEmptySpans, setList } from "./central.js";

/**
 * Sets up every class's cache list of the slot whose lines start at word
 * `linesW`, empty: for classes 1..nClasses (the image's, HDR_N_CLASSES) its
 * array in the cache region (from word `cacheW`, as geometry() and
 * cacheCapacity() lay it out), its bound, and no profiler countdown; the
 * classes after them inert (initInertLines). `arraysZero` says the arrays
 * are zero already (a new image's metadata), so their sentinels need no
 * store: each lies in its own page, and the first store to a page costs a
 * page fault (71 of them: more than half of what making a heap cost, 0.6 ms).
 */
export function initCaches(u32: Uint32Array, linesW: number, cacheW: number, totalPages: number, maxObjects: number, nClasses: number, arraysZero: boolean): void {
  let w = cacheW;
  for (let cls = 1; cls <= nClasses; cls++) {
    const cw = linesW + (cls << CC_SHIFT);
    const slots = cacheCapacity(cls, totalPages, maxObjects);
    u32[cw + CC_ARRAY] = w;
    u32[cw + CC_MAX] = slots;
    u32[cw + CC_SAMPLE_AT] = SAMPLE_NEVER;
    if (!arraysZero) u32[w] = 0; // the sentinel
    setList(u32, cw, 0);
    w += 1 + slots;
  }
  initInertLines(u32, linesW, nClasses);
}

/**
 * Makes the lines of classes nClasses+1..N_CLASSES of the slot whose lines
 * start at word `linesW` inert: an empty list of no objects whose sentinel
 * is the first word of the unused class 0's line (0 forever), so the fast
 * paths never pop from it nor push to it (its bound is 0).
 */
export function initInertLines(u32: Uint32Array, linesW: number, nClasses: number): void {
  for (let cls = nClasses + 1; cls <= N_CLASSES; cls++) {
    const cw = linesW + (cls << CC_SHIFT);
    u32.fill(0, cw, cw + (1 << CC_SHIFT));
    u32[cw + CC_ARRAY] = linesW;
    u32[cw + CC_SAMPLE_AT] = SAMPLE_NEVER;
    setList(u32, cw, 0);
  }
}

/** True if class cls's line of the slot whose lines start at word `linesW` is inert (initInertLines): its array the class-0 word, no objects, room for none. */
export function isInertLine(u32: Uint32Array, linesW: number, cls: number): boolean {
  const cw = linesW + (cls << CC_SHIFT);
  return u32[cw + CC_ARRAY] === linesW && u32[cw + CC_TOP] === linesW && u32[cw + CC_MAX] === 0;
}

/**
 * Takes pages for a slot's cache block (slots.ts) and sets up its caches,
 * empty; returns the word index of its lines, or 0 if no pages fit. It does
 * not flush caches to make room (the caller has no slot yet, and other
 * threads' caches are theirs): a free run, else growth, else released
 * empty spans.
 */
export function allocCacheBlock(h: Core): number {
  const n = Math.ceil(cacheBlockBytes(h.totalPages, h.cacheObjects, h.imageClasses) / PAGE_SIZE);
  let s = takeRun(h, n);
  if (s === 0 && growFor(h, n)) s = takeRun(h, n);
  if (s === 0) {
    releaseEmptySpans(h);
    s = takeRun(h, n);
  }
  if (s === 0) return 0;
  describeSpan(h, s, n, KIND_CACHE, 0, 0);
  const u32 = h.u32;
  const linesW = (s * PAGE_SIZE) >>> 2;
  u32.fill(0, linesW, linesW + CACHE_LINES_WORDS);
  initCaches(u32, linesW, linesW + CACHE_LINES_WORDS, h.totalPages, h.cacheObjects, h.imageClasses, false); // pages used before may hold anything
  return linesW;
}

/** Returns the cache block whose lines start at word `linesW` to the page heap (its caches are empty). */
export function freeCacheBlock(h: Core, linesW: number): void {
  const s = (linesW << 2) / PAGE_SIZE;
  const dw = h.descW + (s << DESC_SHIFT);
  if (!Number.isInteger(s) || h.u32[dw + D_KIND] !== KIND_CACHE || h.u32[dw + D_OWNER] !== s) {
    damaged("T1", `a slot names its cache block at ${hex(linesW << 2)}, which is not one`);
  }
  freeRun(h, s, h.u32[dw + D_NPAGES]!);
}
