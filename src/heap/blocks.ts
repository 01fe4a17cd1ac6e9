// Live blocks of the image, found from the spans (page-heap.ts walkSpans)
// and the allocation bitmap. See heap.ts for an overview.

import * as layout from "./layout.js";
const { KIND_LARGE, KIND_SMALL, PAGE_SIZE } = layout;
import { CLASS_OBJECTS, CLASS_SIZE } from "./size-classes.js";
import type { Core } from "./core.js";
import { granuleState } from "./granules.js";
import { walkSpans } from "./page-heap.js";

/** Called by walkBlocks for each live block: its address, granule state (G_LIVE or G_LIVE_DEBUG) and usable bytes. */
export type BlockVisitor = (addr: number, state: number, usableBytes: number) => void;

/**
 * Visits every live block (blocks freed into a debug quarantine included:
 * they keep G_LIVE_DEBUG) in address order. Damage to the spans throws as
 * walkSpans does. Cost: O(spans + objects of small spans).
 */
export function walkBlocks(h: Core, visit: BlockVisitor): void {
  walkSpans(h, (p, n, kind, cls) => {
    const u32 = h.u32;
    const base = p * PAGE_SIZE;
    if (kind === KIND_LARGE) {
      const state = granuleState(u32, base);
      if ((state & layout.G_LIVE_BIT) !== 0) visit(base, state, n * PAGE_SIZE);
    } else if (kind === KIND_SMALL) {
      const size = CLASS_SIZE[cls]!;
      for (let i = 0, a = base, end = CLASS_OBJECTS[cls]!; i < end; i++, a += size) {
        const state = granuleState(u32, a);
        if ((state & layout.G_LIVE_BIT) !== 0) visit(a, state, size);
      }
    }
  });
}
