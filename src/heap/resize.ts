// The block calls that change a live block's size or bytes: calloc's
// zeroing and realloc's work under the heap lock (heap.ts calls both).

import type { Allocator } from "./allocator.js";
import type { Core } from "./core.js";
import { imageClassOf } from "./class-of.js";
import { D_CLASS, D_USED, G_LIVE, G_LIVE_DEBUG, HDR_F64_REQUESTED, PAGE_SHIFT, PAGE_SIZE } from "./layout.js";
import { resizeLarge } from "./page-heap.js";
import { granuleState, setGranule } from "./granules.js";
import type { Profiler } from "./profile.js";

/** Zeroes the whole usable block at `addr` (calloc). */
export function zeroBlock(h: Allocator, addr: number): void {
  const end = addr + h.usable(addr);
  // A small block is zeroed by word stores: the call of TypedArray#fill costs more than they do (calloc(20): 55-60 ns with fill, 19-20 with stores).
  if (end - addr <= 64) for (let w = addr >>> 2, u32 = h.u32; w < end >>> 2; w++) u32[w] = 0;
  else h.u8.fill(0, addr, end);
}

/**
 * Under the heap lock: realloc of the live block at `addr` (page
 * descriptor word `dw`, `oldSize` bytes the program may use) to
 * `sizeBytes`. In place when its size class still fits or a large block's
 * span can grow or shrink where it is (page-heap.ts resizeLarge); else a
 * new block gets the old contents and the old one is freed.
 */
export function resizeBlock(h: Allocator, addr: number, sizeBytes: number, dw: number, oldSize: number, profiler: Profiler | null): number {
  const u32 = h.u32;
  const cls = u32[dw + D_CLASS]!;
  let inPlace = false;
  const want = imageClassOf(h.imageClasses, sizeBytes); // 0: this image serves the size as pages
  if (cls !== 0) {
    inPlace = want === cls;
  } else if (want === 0) {
    if (resizeLarge(h, addr >>> PAGE_SHIFT, Math.ceil(sizeBytes / PAGE_SIZE))) {
      h.u32[dw + D_USED] = sizeBytes;
      profiler?.resized(addr, sizeBytes);
      inPlace = true;
    }
  }
  if (inPlace) {
    // A block debug mode allocated loses its trailer's meaning: it is a plain block now.
    if (granuleState(h.u32, addr) === G_LIVE_DEBUG) setGranule(h.u32, addr, G_LIVE);
    h.f64[HDR_F64_REQUESTED] = h.f64[HDR_F64_REQUESTED]! + sizeBytes;
    return addr;
  }
  return moveBlock(h, addr, Math.min(oldSize, sizeBytes), sizeBytes, h);
}

/**
 * realloc's move: a new block of `sizeBytes` from `calls.alloc` gets the
 * first `copyBytes` of the block at `addr`, which `calls.free` then frees
 * (an object's methods, not closures: realloc makes no JS garbage). The fast
 * paths take no lock, so another thread's free of the block may win the
 * race against this realloc after it checked the block: then the free
 * here throws (DoubleFreeError), and the new block is freed before the
 * error goes on, so a realloc that loses loses nothing.
 */
export function moveBlock(h: Core, addr: number, copyBytes: number, sizeBytes: number, calls: BlockCalls): number {
  const moved = calls.alloc(sizeBytes);
  h.u8.copyWithin(moved, addr, addr + copyBytes);
  try {
    calls.free(addr);
  } catch (e) {
    calls.free(moved);
    throw e;
  }
  return moved;
}

/** The block calls moveBlock uses. */
export interface BlockCalls {
  alloc(sizeBytes: number): number;
  free(addr: number): void;
}
