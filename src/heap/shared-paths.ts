// The fast paths of shared mode (slots.ts): while other threads use the
// heap, Allocator.installFastPaths makes these a Heap's own `alloc` and
// `free`. They take the same steps as the plain ones on the prototype
// (allocator.ts), except where a granule of the allocation bitmap changes:
// other threads change other granules of the same word. Each leaves every
// case but its fast one to the Allocator's allocSlow and freeRest.

import type { Allocator } from "./allocator.js";
import * as classof from "./class-of.js";
const { CLASS_OF_GRANULE } = classof;
import * as sizeclasses from "./size-classes.js";
const { MAX_SMALL_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { ALIGN_MASK, BITMAP_W, CC_LIMIT, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, CC_TOP, D_CLASS, DESC_SHIFT, G_FREE, G_LIVE,
  GRANULE_SHIFT_MASK, GRANULE_WORD_SHIFT, PAGE_SHIFT } = layout;

/**
 * alloc's fast path in shared mode (slots.ts), installed as a
 * Heap's `alloc` while other threads use the heap: the same steps as alloc,
 * but other threads change other granules of the same bitmap word, so
 * the granule changes with a compareExchange (casWord: about 8 ns more
 * than alloc) where another object may start in the same bitmap byte
 * (classes of 8-24 bytes), else with a store of that byte alone.
 * Everything else it touches is this thread's own slot.
 */
export function allocShared(this: Allocator, sizeBytes: number): number {
  if ((sizeBytes >>> 0) === sizeBytes && sizeBytes <= MAX_SMALL_SIZE) {
    const cw = this.cacheW + (CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]! << CC_SHIFT);
    const u32 = this.u32;
    const top = u32[cw + CC_TOP]!;
    const addr = u32[top]!;
    const requested = (u32[cw + CC_REQUESTED]! + sizeBytes) | 0;
    if (addr >>> 2 < u32.length && requested <= (u32[cw + CC_SAMPLE_AT]! | 0)) {
      const bitW = BITMAP_W + (addr >>> GRANULE_WORD_SHIFT);
      const shift = (addr >>> 2) & GRANULE_SHIFT_MASK;
      if (sizeBytes > 24) {
        // A bitmap byte covers 32 bytes, where no other object of a class
        // of 32 bytes and up starts: no other thread writes this byte (a
        // free of a neighbour exchanges the word, and fails and tries
        // again if this store lands first), so a plain store does.
        const bi = (bitW << 2) + (shift >>> 3);
        const u8 = this.u8;
        const byte = u8[bi]!;
        if (((byte >>> (shift & 7)) & 3) === G_FREE) {
          u8[bi] = byte ^ (3 << (shift & 7));
          u32[cw + CC_TOP] = top - 1;
          u32[cw + CC_REQUESTED] = requested;
          return addr;
        }
        return this.allocSlow(sizeBytes);
      }
      // The object is on this thread's list, so only a misuse elsewhere
      // (a free of it, refused without a write) reads its granule: a
      // failed exchange means a neighbour changed, and it tries again.
      for (let word = u32[bitW]!; ((word >>> shift) & 3) === G_FREE; word = u32[bitW]!) {
        if (this.casWord(bitW << 2, word, word ^ (3 << shift)) >>> 0 === word) {
          u32[cw + CC_TOP] = top - 1;
          u32[cw + CC_REQUESTED] = requested;
          return addr;
        }
      }
    }
  }
  return this.allocSlow(sizeBytes);
}

/**
 * free's fast path in shared mode (slots.ts): as free, but the
 * granule goes from G_LIVE to G_FREE with a compareExchange, the one
 * step where two threads freeing one block meet: exactly one exchange
 * succeeds, and the other free finds the block free and throws
 * DoubleFreeError from freeRest. The class and the push bound are read
 * before the exchange: a free that must make room on its list (or that
 * releaseThread's trap stops: slots.ts) takes the heap lock first and
 * changes the granule under it (freeRest).
 */
export function freeShared(this: Allocator, addr: number): void {
  const u32 = this.u32;
  if ((addr >>> 0) === addr && (addr & ALIGN_MASK) === 0 && addr >>> 2 < u32.length) {
    const bitW = BITMAP_W + (addr >>> GRANULE_WORD_SHIFT);
    const shift = (addr >>> 2) & GRANULE_SHIFT_MASK;
    let word = u32[bitW]!;
    const cls = u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
    if (((word >>> shift) & 3) === G_LIVE && cls !== 0 && cls <= N_CLASSES) {
      const cw = this.cacheW + (cls << CC_SHIFT);
      const pushes = (u32[cw + CC_PUSHES]! + 1) | 0;
      // A failed exchange means a neighbour changed, or another thread
      // freed this block first: then the loop ends, and freeRest names it.
      while (pushes <= (u32[cw + CC_LIMIT]! | 0) && ((word >>> shift) & 3) === G_LIVE) {
        const seen = this.casWord(bitW << 2, word, word ^ (3 << shift)) >>> 0;
        if (seen === word) {
          const top = u32[cw + CC_TOP]! + 1;
          u32[top] = addr;
          u32[cw + CC_TOP] = top;
          u32[cw + CC_PUSHES] = pushes;
          return;
        }
        word = seen;
      }
    }
  }
  this.freeRest(addr);
}
