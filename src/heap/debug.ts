// Debug mode: overflow canaries, use-after-free poisoning with a quarantine,
// junk-filled new blocks and allocation sites. See heap.ts for an overview.
//
// `new Heap({ debug: true })` (or the package's "development" export
// condition) installs these functions as the heap object's own alloc, free,
// calloc, realloc, sizeOf and bytes at construction, so a heap without debug
// mode runs the plain methods with no test for it anywhere.
//
// A debug block of `n` requested bytes is a heap block of usable size U >=
// n + 16 (at least 8 canary bytes whatever the slack):
//
//   0            n                        U-8            U-4          U
//   +------------+------------------------+--------------+------------+
//   | user bytes | canary 0xcb ... 0xcb    | n ^ SIZE_KEY | n ^ STATE  |
//   +------------+------------------------+--------------+------------+
//
// STATE is LIVE_KEY while the block is allocated and FREED_KEY while it
// waits in the quarantine. The trailer lives in the image, so the marking
// survives save/load and is visible to every Heap on the memory; only the
// quarantine's order and the captured stacks are JS-side.
//
// Patterns (as jemalloc's junk filling): a new block's user bytes are 0xa5
// (JUNK_ALLOC), so a read of memory nobody wrote is recognisable; a freed
// block's bytes are 0x5a (POISON). free() puts the block in a FIFO
// quarantine of at most `quarantineBytes`; when a block leaves it, just
// before it can be reused, every poisoned byte is verified: a changed byte
// is a write after free, reported with the block and when it was freed.

import { DoubleFreeError, HeapCorruptionError, hex, OffheapRangeError } from "../errors.js";
import {
  CANARY, type DebugOptions, debugSettings, formatStack, JUNK_ALLOC, type LeakSite, LeakGroups, POISON, Quarantine,
} from "../common/debug-kit.js";
import type { Core } from "./core.js";
import type { Profiler } from "./profile.js";
import { BITMAP_W, D_CLASS, D_KIND, D_NPAGES, DESC_SHIFT, KIND_LARGE, KIND_SMALL, PAGE_SIZE } from "./layout.js";
import { CLASS_OBJECTS, CLASS_SIZE } from "./size-classes.js";

/**
 * Debug mode for every heap made without a `debug` option: set by the
 * package's "development" export condition (src/development.ts).
 */
export const debugDefaults: { debug: boolean | DebugOptions } = { debug: false };

/** Bytes a debug block needs beyond the request: at least 8 canary bytes and the 8-byte trailer. */
export const DEBUG_OVERHEAD = 16;
const SIZE_KEY = 0x5f3759df;
const LIVE_KEY = 0x1b873593;
const FREED_KEY = 0x7f4a7c15;

/** The plain heap operations debug mode is built on (the prototype's methods, bound to the heap). */
export interface RawHeap {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  alloc(sizeBytes: number): number;
  free(addr: number): void;
  /** Usable size of the live block at addr; throws as free (`freeing`) or sizeOf would. */
  liveUsable(addr: number, api: string, freeing: boolean): number;
  /** Throws TypeError/RangeError unless sizeBytes is a valid request size. */
  checkSize(api: string, sizeBytes: unknown): void;
  /** Every live block's address, in address order. */
  liveBlocks(): number[];
  /** A Uint8Array over [addr, addr + n) of the current buffer. */
  view(addr: number, n: number): Uint8Array;
  /** The heap profiler, if on: samples record the size the user asked for, and leave at the user's free. */
  readonly profiler: Pick<Profiler, "resized" | "unsample"> | null;
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
 * Builds debug mode over `raw` and installs its calls as own properties of
 * `heap`, shadowing the plain methods. Returns its queries (check, leaks).
 * Throws RangeError for bad options.
 */
export function installDebug(heap: DebuggedHeap, raw: RawHeap, options: DebugOptions): DebugHeap {
  const d = createDebugHeap(raw, options);
  heap.alloc = d.alloc;
  heap.calloc = d.calloc;
  heap.realloc = d.realloc;
  heap.free = d.free;
  heap.sizeOf = d.sizeOf;
  heap.bytes = (addr: number, length?: number): Uint8Array => {
    const n = d.sizeOf(addr);
    const want = length ?? n;
    if (!Number.isSafeInteger(want) || want < 0 || want > n) {
      throw new OffheapRangeError(`Heap.bytes: length ${String(want)} is not an integer in [0, ${n}] (the block's requested size)`);
    }
    return raw.view(addr, want);
  };
  return d;
}

/** The functions debug mode installs on a heap, and its own queries. */
export interface DebugHeap {
  alloc(sizeBytes: number): number;
  calloc(sizeBytes: number): number;
  realloc(addr: number, sizeBytes: number): number;
  free(addr: number): void;
  sizeOf(addr: number): number;
  /** Verifies every live block's canary and every quarantined block's poison. */
  check(): void;
  leaks(): LeakSite[];
}

/** Builds debug mode over `raw`. Throws RangeError for bad options. */
function createDebugHeap(raw: RawHeap, options: DebugOptions): DebugHeap {
  const { sampleEvery, quarantineLimit } = debugSettings("Heap", options);
  const sites = new Map<number, Error>(); // live block -> where it was allocated
  const freedBy = new Map<number, { seq: number; stack: Error | null }>(); // quarantined block -> its free
  const quarantine = new Quarantine<number>(); // addresses of freed blocks
  let allocCount = 0;
  let freeSeq = 0;

  // Reads a block's trailer: its requested size, or -1 if the trailer is damaged.
  const requested = (addr: number, usable: number, state: number): number => {
    const w = (addr + usable) >>> 2;
    const n = (raw.u32[w - 2]! ^ SIZE_KEY) >>> 0;
    if (n > usable - DEBUG_OVERHEAD || raw.u32[w - 1] !== ((n ^ state) >>> 0)) return -1;
    return n;
  };
  const siteOf = (addr: number): string => {
    const e = sites.get(addr);
    return e === undefined ? "" : `\nallocated at:\n${formatStack(e)}`;
  };
  const freedOf = (addr: number): string => {
    const f = freedBy.get(addr);
    if (f === undefined) return "";
    return ` (freed by debug free #${f.seq}${f.stack === null ? "" : `, at:\n${formatStack(f.stack)}`})`;
  };

  // Throws unless the canary of the live block at addr is intact; returns its requested size.
  const verifyCanary = (api: string, addr: number, usable: number): number => {
    const n = requested(addr, usable, LIVE_KEY);
    if (n < 0) {
      throw new HeapCorruptionError("D1", `${api}: write past the end of block ${hex(addr)}: its debug trailer (bytes ${usable - 8}..${usable - 1}) is damaged, so the requested size is lost${siteOf(addr)}`);
    }
    const u8 = raw.u8;
    for (let i = addr + n; i < addr + usable - 8; i++) {
      if (u8[i] !== CANARY) {
        throw new HeapCorruptionError("D1", `${api}: write past the end of block ${hex(addr)} (${n} bytes requested, byte ${i - addr} changed)${siteOf(addr)}`);
      }
    }
    return n;
  };

  // Throws unless a quarantined block is still poisoned from its first byte to its trailer.
  const verifyPoison = (api: string, addr: number, usable: number): void => {
    const n = requested(addr, usable, FREED_KEY);
    const u8 = raw.u8;
    for (let i = addr; i < addr + usable - 8; i++) {
      if (u8[i] !== POISON) {
        throw new HeapCorruptionError("D2", `${api}: use after free: block ${hex(addr)} (${n < 0 ? "size unknown" : `${n} bytes`}) was written after it was freed${freedOf(addr)}: byte ${i - addr} changed${siteOf(addr)}`);
      }
    }
    if (n < 0) throw new HeapCorruptionError("D2", `${api}: use after free: the debug trailer of freed block ${hex(addr)} was overwritten${freedOf(addr)}`);
  };

  // Releases quarantined blocks, oldest first, while the quarantine holds more than `limit` bytes.
  const evict = (limit: number): void => {
    quarantine.evict(limit, (addr, usable) => verifyPoison("Heap.free", addr, usable), (addr) => {
      freedBy.delete(addr);
      sites.delete(addr);
      raw.free(addr);
    });
  };

  const alloc = (sizeBytes: number): number => {
    raw.checkSize("Heap.alloc", sizeBytes);
    const addr = raw.alloc(sizeBytes + DEBUG_OVERHEAD);
    raw.profiler?.resized(addr, sizeBytes);
    const usable = raw.liveUsable(addr, "Heap.alloc", false);
    const u8 = raw.u8;
    u8.fill(JUNK_ALLOC, addr, addr + sizeBytes);
    u8.fill(CANARY, addr + sizeBytes, addr + usable - 8);
    const w = (addr + usable) >>> 2;
    raw.u32[w - 2] = (sizeBytes ^ SIZE_KEY) >>> 0;
    raw.u32[w - 1] = (sizeBytes ^ LIVE_KEY) >>> 0;
    if (sampleEvery !== 0 && ++allocCount % sampleEvery === 0) sites.set(addr, new Error("allocation site"));
    return addr;
  };

  const free = (addr: number): void => {
    if (addr === 0) return;
    const usable = raw.liveUsable(addr, "Heap.free", true);
    if (freedBy.has(addr) || requested(addr, usable, FREED_KEY) >= 0) {
      throw new DoubleFreeError(`Heap.free: ${hex(addr)} is not allocated: it was freed already and waits in the debug quarantine${freedOf(addr)} (double free)${siteOf(addr)}`);
    }
    const n = verifyCanary("Heap.free", addr, usable);
    raw.u8.fill(POISON, addr, addr + usable - 8);
    raw.u32[((addr + usable) >>> 2) - 1] = (n ^ FREED_KEY) >>> 0;
    freedBy.set(addr, { seq: ++freeSeq, stack: sampleEvery !== 0 ? new Error("free site") : null });
    quarantine.push(addr, usable);
    raw.profiler?.unsample(addr);
    evict(quarantineLimit);
  };

  // The requested size of a live (not quarantined) block; throws as sizeOf, or DoubleFreeError for a quarantined block when freeing.
  const liveRequested = (api: string, addr: number, freeing: boolean): number => {
    const usable = raw.liveUsable(addr, api, freeing);
    if (freedBy.has(addr)) {
      const what = `${hex(addr)} is not allocated: it was freed${freedOf(addr)} and waits in the debug quarantine`;
      throw freeing ? new DoubleFreeError(`${api}: ${what} (double free)`) : new HeapCorruptionError("D2", `${api}: ${what} (use after free)`);
    }
    return verifyCanary(api, addr, usable);
  };

  return {
    alloc,
    free,
    calloc(sizeBytes: number): number {
      raw.checkSize("Heap.calloc", sizeBytes);
      const addr = alloc(sizeBytes);
      raw.u8.fill(0, addr, addr + sizeBytes);
      return addr;
    },
    // Always moves the block, as AddressSanitizer does, so a stale pointer to
    // the old block is caught by the quarantine.
    realloc(addr: number, sizeBytes: number): number {
      raw.checkSize("Heap.realloc", sizeBytes);
      if (addr === 0) return alloc(sizeBytes);
      const n = liveRequested("Heap.realloc", addr, true);
      const moved = alloc(sizeBytes);
      raw.u8.copyWithin(moved, addr, addr + Math.min(n, sizeBytes));
      free(addr);
      return moved;
    },
    sizeOf(addr: number): number {
      return liveRequested("Heap.sizeOf", addr, false);
    },
    check(): void {
      for (const addr of raw.liveBlocks()) {
        const usable = raw.liveUsable(addr, "Heap.check", false);
        if (freedBy.has(addr)) verifyPoison("Heap.check", addr, usable);
        else verifyCanary("Heap.check", addr, usable);
      }
    },
    leaks(): LeakSite[] {
      const groups = new LeakGroups();
      for (const addr of raw.liveBlocks()) {
        if (freedBy.has(addr)) continue;
        const usable = raw.liveUsable(addr, "Heap.leaks", false);
        groups.add(addr, Math.max(0, requested(addr, usable, LIVE_KEY)), sites.get(addr));
      }
      return groups.sites();
    },
  };
}

/** Addresses of every live block of the heap, in address order, from its spans and bitmap. O(committed pages + objects). */
export function liveBlocks(h: Core): number[] {
  const u32 = h.u32;
  const out: number[] = [];
  for (let p = h.firstDataPage; p < h.endPage; ) {
    const dw = h.descW + (p << DESC_SHIFT);
    const n = Math.max(1, u32[dw + D_NPAGES]!);
    const kind = u32[dw + D_KIND];
    const base = p * PAGE_SIZE;
    if (kind === KIND_LARGE) out.push(base);
    else if (kind === KIND_SMALL) {
      const cls = u32[dw + D_CLASS]!;
      const size = CLASS_SIZE[cls]!;
      for (let i = 0, a = base; i < CLASS_OBJECTS[cls]!; i++, a += size) {
        if ((u32[BITMAP_W + (a >>> 8)]! >>> ((a >>> 3) & 31)) & 1) out.push(a);
      }
    }
    p += n;
  }
  return out;
}
