// Debug trailers: how debug mode's blocks are marked in the image, so that
// every Heap on it, with debug mode or without, and every later load of it,
// knows which blocks carry a canary and which wait in a quarantine. The mode
// itself (canaries, poisoning, the quarantine's order, stacks) is debug.ts.
// See heap.ts for an overview.
//
// A block debug mode allocates for a request of n bytes is a heap block of
// usable size U >= n + 16 whose granule state is G_LIVE_DEBUG (layout.ts):
//
//   0            n                        U-8            U-4          U
//   +------------+------------------------+--------------+------------+
//   | user bytes | canary 0xcb ... 0xcb    | n ^ SIZE_KEY | n ^ STATE  |
//   +------------+------------------------+--------------+------------+
//
// STATE is LIVE_KEY while the block is allocated and FREED_KEY + k while it
// waits in the quarantine of a Heap of slot k (slots.ts), its bytes before
// the trailer all POISON. The slot says whose quarantine it is: a Heap that
// opens the image takes over only the blocks of slots no thread uses (or of
// its own slot, if no other Heap of its thread shares it), so attaching
// leaves the quarantines of running debug Heaps alone. (Earlier releases
// wrote FREED_KEY for every slot: their blocks read as slot 0's.) Blocks
// allocated without debug mode are G_LIVE and have no trailer; a debug
// mode frees them as plain blocks, and a Heap without debug mode turns a
// G_LIVE_DEBUG block it frees or reallocates back into a plain one.
//
// Invariants (checked by checkDebugBlocks, run by every heap's check()):
//
//   D1  every G_LIVE_DEBUG block has a trailer naming LIVE_KEY or FREED_KEY
//       with n <= U - 16, and a live one has its canary bytes intact.
//   D2  a quarantined block's bytes before its trailer are all POISON.
//   Q1  HDR_QUARANTINED == the number of quarantined blocks.

import { DoubleFreeError, HeapCorruptionError, hex, InvalidAddressError } from "../errors.js";
import { CANARY, POISON } from "../common/debug-kit.js";
import * as layout from "./layout.js";
const { CC_REQUESTED, CC_SHIFT, D_CLASS, D_NPAGES, D_USED, DESC_SHIFT, G_LIVE, G_LIVE_DEBUG, HDR_F64_REQUESTED, HDR_QUARANTINED, MAX_SLOTS, PAGE_SHIFT, PAGE_SIZE } = layout;
import { N_CLASSES } from "./size-classes.js";
import type { Core } from "./core.js";
import { walkBlocks } from "./blocks.js";
import { granuleState, setGranule } from "./granules.js";

/** Bytes a debug block needs beyond the request: at least 8 canary bytes and the 8-byte trailer. */
export const DEBUG_OVERHEAD = 16;
const SIZE_KEY = 0x5f3759df;
const LIVE_KEY = 0x1b873593;
const FREED_KEY = 0x7f4a7c15;

/** What a trailer says: damaged, live, or freed into a quarantine. */
export const TRAILER_DAMAGED = 0;
export const TRAILER_LIVE = 1;
export const TRAILER_FREED = 2;

/** The size the trailer of the block [addr, addr + usable) records, or -1 if the trailer is damaged. */
export function trailerSize(u32: Uint32Array, addr: number, usable: number): number {
  const n = (u32[((addr + usable) >>> 2) - 2]! ^ SIZE_KEY) >>> 0;
  return n <= usable - DEBUG_OVERHEAD ? n : -1;
}

/** TRAILER_LIVE, TRAILER_FREED or TRAILER_DAMAGED for the block [addr, addr + usable). */
export function trailerState(u32: Uint32Array, addr: number, usable: number): number {
  const n = trailerSize(u32, addr, usable);
  if (n < 0) return TRAILER_DAMAGED;
  const key = (u32[((addr + usable) >>> 2) - 1]! ^ n) >>> 0;
  return key === LIVE_KEY ? TRAILER_LIVE : (key - FREED_KEY) >>> 0 < MAX_SLOTS ? TRAILER_FREED : TRAILER_DAMAGED;
}

/** The slot whose quarantine holds the block [addr, addr + usable) (its trailer says TRAILER_FREED). */
export function quarantineSlot(u32: Uint32Array, addr: number, usable: number): number {
  return ((u32[((addr + usable) >>> 2) - 1]! ^ trailerSize(u32, addr, usable)) >>> 0) - FREED_KEY;
}

/** Writes the trailer of the block [addr, addr + usable): n requested bytes, live, or freed into the quarantine of slot `slot` (>= 0). */
export function writeTrailer(u32: Uint32Array, addr: number, usable: number, n: number, slot = -1): void {
  const w = (addr + usable) >>> 2;
  u32[w - 2] = (n ^ SIZE_KEY) >>> 0;
  u32[w - 1] = (n ^ (slot < 0 ? LIVE_KEY : FREED_KEY + slot)) >>> 0;
}

/** Offset of the first changed canary byte of a live debug block of n requested bytes, or -1. */
export function canaryDamage(u8: Uint8Array, addr: number, usable: number, n: number): number {
  for (let i = addr + n, end = addr + usable - 8; i < end; i++) if (u8[i] !== CANARY) return i - addr;
  return -1;
}

/** Offset of the first changed byte of a quarantined block, or -1. */
export function poisonDamage(u8: Uint8Array, addr: number, usable: number): number {
  for (let i = addr, end = addr + usable - 8; i < end; i++) if (u8[i] !== POISON) return i - addr;
  return -1;
}

/**
 * The requested size of the live debug block [addr, addr + usable) after
 * checking its canary; throws HeapCorruptionError D1 naming the changed
 * byte, with `note` (what the caller knows of the block) after it.
 */
export function checkedSize(h: Core, api: string, addr: number, usable: number, note: string): number {
  const n = trailerSize(h.u32, addr, usable);
  const at = canaryDamage(h.u8, addr, usable, n);
  if (at >= 0) throw overflowError(api, addr, ` (${n} bytes requested, byte ${at} changed)${note}`);
  return n;
}

/** HeapCorruptionError D1 for a write past the end of the live debug block at addr (`detail` says what changed). */
export function overflowError(api: string, addr: number, detail: string): HeapCorruptionError {
  return new HeapCorruptionError("D1", `${api}: write past the end of block ${hex(addr)}${detail}`);
}

/**
 * Checks D1, D2 and Q1 over every G_LIVE_DEBUG block; throws
 * HeapCorruptionError naming the first one broken. `note(addr)` appends
 * what the caller knows of the block (debug mode's stacks) to a message.
 * Cost: O(live blocks), plus the bytes of debug blocks.
 */
export function checkDebugBlocks(h: Core, api: string, note: (addr: number) => string): void {
  let quarantined = 0;
  walkBlocks(h, (addr, state, usable) => {
    if (state !== G_LIVE_DEBUG) return;
    const { u8, u32 } = h;
    const trailer = trailerState(u32, addr, usable);
    if (trailer === TRAILER_LIVE) {
      checkedSize(h, api, addr, usable, note(addr));
      return;
    }
    const at = poisonDamage(u8, addr, usable);
    const size = trailer === TRAILER_FREED ? `${trailerSize(u32, addr, usable)} bytes` : "size unknown";
    if (at >= 0) throw useAfterFree(api, addr, size, `byte ${at} changed`, note(addr));
    if (trailer === TRAILER_DAMAGED) {
      throw new HeapCorruptionError("D1", `${api}: the debug trailer (bytes ${usable - 8}..${usable - 1}) of block ${hex(addr)} is damaged: a write past its end, or after it was freed${note(addr)}`);
    }
    quarantined++;
  });
  if (h.u32[HDR_QUARANTINED] !== quarantined) {
    throw new HeapCorruptionError("Q1", `${api}: the header counts ${h.u32[HDR_QUARANTINED]} quarantined debug blocks, the image holds ${quarantined}`);
  }
}

/**
 * What a plain call (free, realloc, sizeOf, bytes, readString of a Heap,
 * or of a debug heap on a block it did not allocate) must know of the live
 * block at addr of `usable` bytes, and the bytes of it the program may
 * use, which it returns: all `usable` of a plain block. If debug mode
 * allocated it, one waiting in a quarantine is not allocated
 * (DoubleFreeError when `freeing`, else InvalidAddressError), one whose
 * trailer is damaged was written past its end (HeapCorruptionError D1), and
 * a live one has the size it was asked for: its canary and trailer follow,
 * and the free that writes over them would find them damaged.
 */
export function plainAccessSize(h: Core, addr: number, usable: number, api: string, freeing: boolean): number {
  if (granuleState(h.u32, addr) !== G_LIVE_DEBUG) return usable;
  const trailer = trailerState(h.u32, addr, usable);
  if (trailer === TRAILER_FREED) {
    const what = `${hex(addr)} is not allocated: debug mode freed it and it waits in a quarantine`;
    throw freeing ? new DoubleFreeError(`${api}: ${what} (double free)`) : new InvalidAddressError(`${api}: ${what}`);
  }
  if (trailer === TRAILER_DAMAGED) throw overflowError(api, addr, ": the debug trailer of this block, allocated in debug mode, is damaged");
  return trailerSize(h.u32, addr, usable);
}

/** HeapCorruptionError D2: the quarantined block at addr was written after it was freed. */
export function useAfterFree(api: string, addr: number, size: string, what: string, note: string): HeapCorruptionError {
  return new HeapCorruptionError("D2", `${api}: use after free: block ${hex(addr)} (${size}) was written after it was freed${note}: ${what}`);
}

/**
 * Addresses of the blocks waiting in the quarantines of the slots `ofSlot`
 * accepts, in address order; none without a walk when the header counts
 * none. Cost: O(live blocks) if any.
 */
export function quarantinedBlocks(h: Core, ofSlot: (slot: number) => boolean): number[] {
  const out: number[] = [];
  if (h.u32[HDR_QUARANTINED] === 0) return out;
  walkBlocks(h, (addr, state, usable) => {
    if (state === G_LIVE_DEBUG && trailerState(h.u32, addr, usable) === TRAILER_FREED && ofSlot(quarantineSlot(h.u32, addr, usable))) out.push(addr);
  });
  return out;
}

/**
 * The blocks waiting in quarantines, for heapStats (stats.ts), which counts
 * them apart from the live blocks: how many of each size class
 * (`perClass[0]`: large blocks) and the large ones' pages. Cost: none when
 * the header counts none, else O(live blocks).
 */
export function quarantineCounts(h: Core): { perClass: Float64Array; largePages: number } {
  const perClass = new Float64Array(N_CLASSES + 1);
  let largePages = 0;
  for (const addr of quarantinedBlocks(h, () => true)) {
    const dw = h.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT);
    const cls = h.u32[dw + D_CLASS]!; // 0 on every page of a large block
    perClass[cls] = perClass[cls]! + 1;
    if (cls === 0) largePages += h.u32[dw + D_NPAGES]!;
  }
  return { perClass, largePages };
}

/**
 * Bytes the program asked for of the large block of n pages at page p, for
 * heapStats: the request D_USED records, which for a live debug block
 * includes DEBUG_OVERHEAD (see uncountOverhead), so its trailer's size
 * instead; 0 for a block that waits in a quarantine (the program freed it).
 */
export function largeRequested(h: Core, p: number, n: number): number {
  const u32 = h.u32;
  const addr = p * PAGE_SIZE;
  if (granuleState(u32, addr) === G_LIVE_DEBUG) {
    const trailer = trailerState(u32, addr, n * PAGE_SIZE);
    if (trailer === TRAILER_FREED) return 0;
    if (trailer === TRAILER_LIVE) return trailerSize(u32, addr, n * PAGE_SIZE);
  }
  return u32[h.descW + (p << DESC_SHIFT) + D_USED]!;
}

/**
 * Takes DEBUG_OVERHEAD back out of the bytes-requested count that the
 * plain alloc of the debug block at addr raised (debug mode asked it for
 * the request plus canary and trailer), so that stats count what the
 * program asked for. Right after that alloc, under the heap lock: a small
 * block's pop counted its bytes in this Heap's cache line of its class
 * (CC_REQUESTED, which holds at least them until the next fold), a large
 * block's or a profiler sample's in HDR_F64_REQUESTED. A large block's
 * D_USED keeps them, as its page count must (invariant L1): largeRequested
 * reads a live debug block's request from its trailer.
 */
export function uncountOverhead(h: Core, addr: number): void {
  const cls = h.u32[h.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
  if (cls === 0) {
    h.f64[HDR_F64_REQUESTED] = h.f64[HDR_F64_REQUESTED]! - DEBUG_OVERHEAD;
  } else {
    const w = h.cacheW + (cls << CC_SHIFT) + CC_REQUESTED;
    h.u32[w] = h.u32[w]! - DEBUG_OVERHEAD;
  }
}

/** Takes the quarantined block at addr out of the quarantine and frees it with `free`, the plain free of a G_LIVE block. */
export function releaseQuarantined(h: Core, addr: number, free: (addr: number) => void): void {
  setGranule(h.u32, addr, G_LIVE);
  h.u32[HDR_QUARANTINED] = h.u32[HDR_QUARANTINED]! - 1;
  free(addr);
}

/**
 * What a Heap opening an image, or releasing a dead thread's slot, does
 * with the blocks waiting in the quarantines of slots `ofSlot` accepts (a
 * debug heap's image, saved or copied, or a thread that stopped without
 * detach()): with debug mode it takes them into its own quarantine
 * (`adopt`), without it releases them, so none stays allocated forever.
 * Damage found on the way is left for check() to name: a damaged image
 * must still open. Under the heap lock: other threads' debug Heaps change
 * their quarantines under it.
 */
export function openQuarantine(h: Core, ofSlot: (slot: number) => boolean, adopt: ((addrs: number[]) => void) | null, free: (addr: number) => void): void {
  try {
    const blocks = quarantinedBlocks(h, ofSlot);
    if (adopt !== null) adopt(blocks);
    else for (const addr of blocks) releaseQuarantined(h, addr, free);
  } catch (e) {
    if (!(e instanceof HeapCorruptionError)) throw e;
  }
}
