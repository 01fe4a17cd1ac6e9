// Debug mode: overflow canaries, use-after-free poisoning with a quarantine,
// junk-filled new blocks and allocation sites. See heap.ts for an overview.
//
// `new Heap({ debug: true })` (or the package's "development" export
// condition) installs these functions as the heap object's own alloc, free,
// calloc, realloc, sizeOf and bytes at construction, so a heap without debug
// mode runs the plain methods with no test for it anywhere.
//
// Every block this mode allocates carries a canary and a trailer and is
// marked G_LIVE_DEBUG in the allocation bitmap (debug-trailer.ts draws
// them). That marking is in the image, so any Heap on it, and any later
// load, tells debug blocks from plain ones: blocks allocated without debug
// mode (an image saved in production, opened under the "development"
// condition) are freed and checked here as plain blocks, whole usable size
// and no canary. Only the quarantine's order and the captured stacks are
// JS-side.
//
// Patterns (as jemalloc's junk filling): a new block's user bytes are 0xa5
// (JUNK_ALLOC), so a read of memory nobody wrote is recognisable; a freed
// block's bytes are 0x5a (POISON). free() puts the block in a FIFO
// quarantine of at most `quarantineBytes`; when a block leaves it, just
// before it can be reused, every poisoned byte is verified: a changed byte
// is a write after free, reported with the block and when it was freed.
// The bound is not a reservation: an allocation the heap cannot serve
// releases the oldest blocks and tries again (allocReleasing), so a
// quarantine larger than the heap only holds what the program leaves free.
// A block whose granule or trailer no longer says "quarantined" when it
// leaves was released by another Heap on the memory (one opened without
// debug mode releases every quarantined block; one opened with it adopts
// them, see adopt), and is left alone. heap.stats() finds the quarantined
// blocks in the image and counts them as freed, apart from the live ones
// (stats.ts).

import { DoubleFreeError, HeapCorruptionError, hex, OffheapRangeError } from "../errors.js";
import { checkNumber } from "../common/options.js";
import {
  CANARY, type DebugOptions, debugSettings, formatStack, JUNK_ALLOC, type LeakSite, LeakGroups, POISON, Quarantine,
} from "../common/debug-kit.js";
import type { Allocator } from "./allocator.js";
import type { Core } from "./core.js";
import { checkSize } from "./validate.js";
import type { Profiler } from "./profile.js";
import * as layout from "./layout.js";
const { G_LIVE, G_LIVE_DEBUG, HDR_QUARANTINED } = layout;
import { walkBlocks } from "./blocks.js";
import { granuleState, setGranule } from "./granules.js";
import { moveBlock } from "./resize.js";
import {
  checkedSize, DEBUG_OVERHEAD, overflowError, poisonDamage, releaseQuarantined, TRAILER_DAMAGED, TRAILER_FREED, TRAILER_LIVE,
  trailerSize, trailerState, uncountOverhead, useAfterFree, writeTrailer,
} from "./debug-trailer.js";

/**
 * Debug mode for every heap made without a `debug` option: set by the
 * package's "development" export condition (src/development.ts).
 */
export const debugDefaults: { debug: boolean | DebugOptions } = { debug: false };

/** The plain heap operations debug mode is built on (the prototype's methods, bound to the heap: rawHeap). */
interface RawHeap {
  /** The heap's image (views and geometry, current after every call below). */
  readonly core: Core;
  alloc(sizeBytes: number): number;
  /** Frees a G_LIVE block through the plain free. */
  free(addr: number): void;
  /** Usable size of the live block at addr (its granule is G_LIVE or G_LIVE_DEBUG); throws as free (`freeing`) or sizeOf would. */
  liveUsable(addr: number, api: string, freeing: boolean): number;
  /** Usable size of the block at addr, which the caller knows is live. */
  usable(addr: number): number;
  /** Throws TypeError/RangeError unless sizeBytes is a valid request size. */
  checkSize(api: string, sizeBytes: unknown): void;
  /** A Uint8Array over [addr, addr + n) of the current buffer. */
  view(addr: number, n: number): Uint8Array;
  /** The heap profiler, if on: samples record the size the user asked for, and leave at the user's free. */
  readonly profiler: Pick<Profiler, "resized" | "unsample"> | null;
  /** Takes and releases the heap lock (slots.ts): a debug alloc or free is one step for other threads. */
  lock(): void;
  unlock(): void;
}

/** The block calls debug mode replaces on a heap object. */
interface DebuggedHeap {
  alloc(sizeBytes: number): number;
  calloc(sizeBytes: number): number;
  realloc(addr: number, sizeBytes: number): number;
  free(addr: number): void;
  sizeOf(addr: number): number;
  bytes(addr: number, length?: number): Uint8Array;
}

/**
 * Builds debug mode over the plain calls of `heap` (an Allocator: the
 * prototype's methods) and installs its calls as own properties of `heap`,
 * shadowing the plain methods. Returns its queries (check, leaks). Throws
 * RangeError for bad options.
 */
export function installDebug(heap: Allocator & DebuggedHeap, options: DebugOptions): DebugHeap {
  const raw = rawHeap(heap);
  const d = createDebugHeap(raw, options);
  heap.alloc = d.alloc;
  heap.calloc = d.calloc;
  heap.realloc = d.realloc;
  heap.free = d.free;
  heap.sizeOf = d.sizeOf;
  heap.bytes = (addr: number, length?: number): Uint8Array => {
    const n = d.sizeOf(addr);
    const want = length ?? n;
    checkNumber("Heap.bytes", "length", want); // as the plain bytes(): OffheapTypeError for a length that is no number
    if (!Number.isSafeInteger(want) || want < 0 || want > n) {
      throw new OffheapRangeError(`Heap.bytes: length ${String(want)} is not an integer in [0, ${n}] (the block's requested size)`);
    }
    return raw.view(addr, want);
  };
  return d;
}

// The plain calls of `heap`: its mode's fast paths, the checks its own calls
// make, its views and its lock, as debug mode uses them.
function rawHeap(heap: Allocator): RawHeap {
  return {
    core: heap,
    alloc: (n) => heap.coreAlloc(n),
    free: (addr) => heap.coreFree(addr),
    liveUsable: (addr, api, freeing) => {
      heap.liveSpan(addr, api, freeing);
      return heap.usable(addr);
    },
    usable: (addr) => heap.usable(addr),
    checkSize: (api, n) => checkSize(api, n, heap.totalPages),
    view: (addr, n) => new Uint8Array(heap.backing.buffer, addr, n),
    get profiler() { return heap.profiler; },
    lock: () => heap.lockHeap(),
    unlock: () => heap.unlockHeap(),
  };
}

/** The functions debug mode installs on a heap, and its own queries. */
export interface DebugHeap {
  alloc(sizeBytes: number): number;
  calloc(sizeBytes: number): number;
  realloc(addr: number, sizeBytes: number): number;
  free(addr: number): void;
  sizeOf(addr: number): number;
  /** What this mode knows of the block at addr (where it was allocated or freed), for error messages. */
  note(addr: number): string;
  /** Takes quarantined blocks found in the image (made by another Heap) into this mode's quarantine. */
  adopt(addrs: number[]): void;
  /** Releases every block of this mode's quarantine (when its Heap detaches). */
  releaseQuarantine(): void;
  /** Releases the oldest blocks past quarantineBytes, which adopt may exceed (Heap.releaseThread); under the heap lock. */
  trimQuarantine(api: string): void;
  leaks(): LeakSite[];
}

/** Builds debug mode over `raw`. Throws RangeError for bad options. */
function createDebugHeap(raw: RawHeap, options: DebugOptions): DebugHeap {
  const h = raw.core;
  const { sampleEvery, quarantineLimit } = debugSettings("Heap", options);
  const sites = new Map<number, Error>(); // debug block -> where it was allocated
  const freedBy = new Map<number, { seq: number; stack: Error | null }>(); // quarantined block -> its free
  const quarantine = new Quarantine<number>(); // addresses of freed blocks
  let allocCount = 0;
  let freeSeq = 0;

  const siteOf = (addr: number): string => {
    const e = sites.get(addr);
    return e === undefined ? "" : `\nallocated at:\n${formatStack(e)}`;
  };
  const freedOf = (addr: number): string => {
    const f = freedBy.get(addr);
    if (f === undefined) return "";
    return ` (freed by debug free #${f.seq}${f.stack === null ? "" : `, at:\n${formatStack(f.stack)}`})`;
  };
  const note = (addr: number): string => freedOf(addr) + siteOf(addr);

  // True if the block at addr still waits in a quarantine (no other Heap released it).
  const quarantined = (addr: number): boolean =>
    granuleState(h.u32, addr) === G_LIVE_DEBUG && trailerState(h.u32, addr, raw.usable(addr)) === TRAILER_FREED;

  // Releases quarantined blocks, oldest first, while the quarantine holds more than `limit` bytes.
  const evict = (limit: number, api = "Heap.free"): void => {
    quarantine.evict(limit, (addr, usable) => {
      if (!quarantined(addr)) return;
      const at = poisonDamage(h.u8, addr, usable);
      if (at >= 0) throw useAfterFree(api, addr, `${trailerSize(h.u32, addr, usable)} bytes`, `byte ${at} changed`, note(addr));
    }, (addr) => {
      if (quarantined(addr)) releaseQuarantined(h, addr, raw.free);
      freedBy.delete(addr);
      sites.delete(addr);
    });
  };

  // The requested size of the live block at addr after checking its
  // canary: a plain block's whole usable size. Throws as sizeOf would, or
  // DoubleFreeError for a quarantined block when `freeing`.
  const liveRequested = (api: string, addr: number, freeing: boolean): number => {
    const usable = raw.liveUsable(addr, api, freeing);
    if (granuleState(h.u32, addr) === G_LIVE) return usable;
    const trailer = trailerState(h.u32, addr, usable);
    if (trailer === TRAILER_FREED) {
      const what = `${hex(addr)} is not allocated: it was freed already and waits in the debug quarantine${freedOf(addr)}`;
      throw freeing ? new DoubleFreeError(`${api}: ${what} (double free)${siteOf(addr)}`) : new HeapCorruptionError("D2", `${api}: ${what} (use after free)`);
    }
    if (trailer === TRAILER_DAMAGED) {
      throw overflowError(api, addr, `: its debug trailer (bytes ${usable - 8}..${usable - 1}) is damaged, so the requested size is lost${siteOf(addr)}`);
    }
    return checkedSize(h, api, addr, usable, siteOf(addr));
  };

  // A debug alloc and free read and write a block's trailer and granule in
  // several steps: under the heap lock, no other thread's call sees them
  // halfway (two racing frees of one block: the second finds it quarantined).
  const alloc = (sizeBytes: number): number => {
    raw.lock();
    try {
      return allocLocked(sizeBytes);
    } finally {
      raw.unlock();
    }
  };
  const free = (addr: number): void => {
    raw.lock();
    try {
      freeLocked(addr);
    } finally {
      raw.unlock();
    }
  };

  const calls = { alloc, free }; // realloc's, made once

  // The plain alloc of n bytes; the quarantine is released as far as it
  // must be for n bytes to fit (Quarantine.takeReleasing), its blocks
  // verified as they leave, so this can throw a use-after-free instead.
  const allocReleasing = (n: number): number => quarantine.takeReleasing(n, () => raw.alloc(n), evict);

  const allocLocked = (sizeBytes: number): number => {
    raw.checkSize("Heap.alloc", sizeBytes);
    const addr = allocReleasing(sizeBytes + DEBUG_OVERHEAD);
    uncountOverhead(h, addr);
    raw.profiler?.resized(addr, sizeBytes);
    const usable = raw.usable(addr);
    const u8 = h.u8;
    u8.fill(JUNK_ALLOC, addr, addr + sizeBytes);
    u8.fill(CANARY, addr + sizeBytes, addr + usable - 8);
    writeTrailer(h.u32, addr, usable, sizeBytes);
    setGranule(h.u32, addr, G_LIVE_DEBUG);
    if (sampleEvery !== 0 && ++allocCount % sampleEvery === 0) sites.set(addr, new Error("allocation site"));
    else sites.delete(addr);
    return addr;
  };

  const freeLocked = (addr: number): void => {
    if (addr === 0) return;
    const n = liveRequested("Heap.free", addr, true);
    raw.profiler?.unsample(addr);
    if (granuleState(h.u32, addr) === G_LIVE) {
      raw.free(addr); // a block allocated without debug mode: no canary, no trailer
      return;
    }
    const usable = raw.usable(addr);
    h.u8.fill(POISON, addr, addr + usable - 8);
    writeTrailer(h.u32, addr, usable, n, h.slot);
    h.u32[HDR_QUARANTINED] = h.u32[HDR_QUARANTINED]! + 1;
    freedBy.set(addr, { seq: ++freeSeq, stack: sampleEvery !== 0 ? new Error("free site") : null });
    quarantine.push(addr, usable);
    evict(quarantineLimit);
  };

  return {
    alloc,
    free,
    note,
    calloc(sizeBytes: number): number {
      raw.checkSize("Heap.calloc", sizeBytes);
      const addr = alloc(sizeBytes);
      h.u8.fill(0, addr, addr + sizeBytes);
      return addr;
    },
    // Always moves the block, as AddressSanitizer does, so a stale pointer to
    // the old block is caught by the quarantine.
    realloc(addr: number, sizeBytes: number): number {
      raw.checkSize("Heap.realloc", sizeBytes);
      if (addr === 0) return alloc(sizeBytes);
      const n = liveRequested("Heap.realloc", addr, true);
      return moveBlock(h, addr, Math.min(n, sizeBytes), sizeBytes, calls);
    },
    sizeOf(addr: number): number {
      return liveRequested("Heap.sizeOf", addr, false);
    },
    adopt(addrs: number[]): void {
      for (const addr of addrs) {
        const usable = raw.usable(addr);
        writeTrailer(h.u32, addr, usable, trailerSize(h.u32, addr, usable), h.slot); // this Heap's quarantine now
        quarantine.push(addr, usable);
      }
    },
    releaseQuarantine(): void {
      evict(0);
    },
    trimQuarantine(api: string): void {
      evict(quarantineLimit, api);
    },
    leaks(): LeakSite[] {
      const groups = new LeakGroups();
      walkBlocks(h, (addr, state, usable) => {
        if (state === G_LIVE) groups.add(addr, usable, undefined);
        else if (trailerState(h.u32, addr, usable) === TRAILER_LIVE) groups.add(addr, trailerSize(h.u32, addr, usable), sites.get(addr));
      });
      return groups.sites();
    },
  };
}

