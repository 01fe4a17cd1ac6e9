// Doubly linked lists of spans and free runs, threaded through the page
// descriptors' D_NEXT/D_PREV words, with their head in a header word.
// See heap.ts for an overview.
//
// Every link is read from the image, so each operation checks the links it
// follows before it writes through them (as glibc's unlink does): a page
// inside the committed pages, whose neighbours point back at it. A damaged
// list throws HeapCorruptionError (P4 for a bin of the page heap, S4 for a
// class's span list) instead of writing into some other page's descriptor.

import { HeapCorruptionError } from "../errors.js";
import * as layout from "./layout.js";
const { D_NEXT, D_PREV, DESC_SHIFT, HDR_FREE_BIN } = layout;
import type { Core } from "./core.js";

/**
 * Throws HeapCorruptionError for damaged metadata that a slow path found
 * while following links of the image; `id` is the invariant (layout.ts).
 */
export function damaged(id: string, what: string): never {
  throw new HeapCorruptionError(id, `Heap: damaged metadata: ${what}`);
}

// Fails unless page s (read from the list at header word headW) is a committed data page.
function checkPage(h: Core, headW: number, s: number): void {
  if (!(s >= h.firstDataPage && s < h.endPage)) {
    damaged(headW >= HDR_FREE_BIN ? "P4" : "S4", `the list at header word ${headW} links page ${s}, outside the committed pages [${h.firstDataPage}, ${h.endPage})`);
  }
}

function brokenLink(headW: number, s: number, which: string): never {
  return damaged(headW >= HDR_FREE_BIN ? "P4" : "S4", `the list at header word ${headW}: the ${which} link of page ${s} does not point back at it`);
}

/** Pushes the span or run starting at page s onto the front of the list whose head is header word `headW`. */
export function linkFront(h: Core, headW: number, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const head = u32[headW]!;
  if (head !== 0) {
    checkPage(h, headW, head);
    if (u32[h.descW + (head << DESC_SHIFT) + D_PREV] !== 0) brokenLink(headW, head, "back");
  }
  u32[dw + D_NEXT] = head;
  u32[dw + D_PREV] = 0;
  if (head !== 0) u32[h.descW + (head << DESC_SHIFT) + D_PREV] = s;
  u32[headW] = s;
}

/** Removes page s's span or run from the list whose head is header word `headW`. */
export function unlink(h: Core, headW: number, s: number): void {
  const u32 = h.u32;
  checkPage(h, headW, s);
  const dw = h.descW + (s << DESC_SHIFT);
  const next = u32[dw + D_NEXT]!;
  const prev = u32[dw + D_PREV]!;
  if (prev === 0) {
    if (u32[headW] !== s) brokenLink(headW, s, "back");
  } else {
    checkPage(h, headW, prev);
    if (u32[h.descW + (prev << DESC_SHIFT) + D_NEXT] !== s) brokenLink(headW, s, "back");
  }
  if (next !== 0) {
    checkPage(h, headW, next);
    if (u32[h.descW + (next << DESC_SHIFT) + D_PREV] !== s) brokenLink(headW, s, "forward");
  }
  if (prev !== 0) u32[h.descW + (prev << DESC_SHIFT) + D_NEXT] = next;
  else u32[headW] = next;
  if (next !== 0) u32[h.descW + (next << DESC_SHIFT) + D_PREV] = prev;
  u32[dw + D_NEXT] = 0;
  u32[dw + D_PREV] = 0;
}

/** Removes and returns the first span of a list, or 0 if it is empty. */
export function popFront(h: Core, headW: number): number {
  const s = h.u32[headW]!;
  if (s !== 0) {
    checkPage(h, headW, s);
    if (h.u32[h.descW + (s << DESC_SHIFT) + D_PREV] !== 0) brokenLink(headW, s, "back");
    unlink(h, headW, s);
  }
  return s;
}
