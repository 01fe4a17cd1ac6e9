// Doubly linked lists of spans and free runs, threaded through the page
// descriptors' D_NEXT/D_PREV words, with their head in a header word.
// See heap.ts for an overview.

import * as layout from "./layout.js";
const { D_NEXT, D_PREV, DESC_SHIFT } = layout;
import type { Core } from "./core.js";

/** Pushes the span or run starting at page s onto the front of the list whose head is header word `headW`. */
export function linkFront(h: Core, headW: number, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const head = u32[headW]!;
  u32[dw + D_NEXT] = head;
  u32[dw + D_PREV] = 0;
  if (head !== 0) u32[h.descW + (head << DESC_SHIFT) + D_PREV] = s;
  u32[headW] = s;
}

/** Removes page s's span or run from the list whose head is header word `headW`. */
export function unlink(h: Core, headW: number, s: number): void {
  const u32 = h.u32;
  const dw = h.descW + (s << DESC_SHIFT);
  const next = u32[dw + D_NEXT]!;
  const prev = u32[dw + D_PREV]!;
  if (prev !== 0) u32[h.descW + (prev << DESC_SHIFT) + D_NEXT] = next;
  else u32[headW] = next;
  if (next !== 0) u32[h.descW + (next << DESC_SHIFT) + D_PREV] = prev;
  u32[dw + D_NEXT] = 0;
  u32[dw + D_PREV] = 0;
}

/** Removes and returns the first span of a list, or 0 if it is empty. */
export function popFront(h: Core, headW: number): number {
  const s = h.u32[headW]!;
  if (s !== 0) unlink(h, headW, s);
  return s;
}
