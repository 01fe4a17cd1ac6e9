// Debug mode of the ScalableAllocator: the heap's debug mode (heap/debug.ts)
// for buffers, which live inside regions and so get no heap canary of their
// own. `new ScalableAllocator(heap, { debug: true })`, or any allocator over
// a debug heap (the "development" export condition makes every heap one).
//
// It installs malloc and freeRange as own properties of the allocator at
// construction (free and freeRest call freeRange), so an allocator without
// it runs the plain methods with no test for it.
//
// A buffer of n bytes takes n rounded up to 8, plus 8, from its region:
//
//   addr          addr + n                        addr + total
//   +-------------+-------------------------------+
//   | user bytes  | canary 0xcb ... (>= 8 bytes)  |
//   +-------------+-------------------------------+
//
// New bytes are 0xa5; freed bytes are 0x5a and wait in a FIFO quarantine
// (same options and patterns as the heap's debug mode) before the region
// may hand them out again; they are verified when they leave it and by
// check(). Any sub-view may be freed on its own, so the allocator keeps each
// buffer's live pieces (disjoint, sorted by address) and its canary as a
// piece: a free must lie inside one live piece, else it is a double free
// (freed bytes) or runs into the canary (InvalidAddressError). Every free
// in a buffer verifies its canary; when its last piece goes, the canary's
// bytes go to the quarantine too. All of this is JS-side: buffers are not
// part of the heap image.

import { DoubleFreeError, HeapCorruptionError, InvalidAddressError, hex } from "../errors.js";
import { CANARY, type DebugOptions, debugSettings, formatStack, JUNK_ALLOC, type LeakSite, LeakGroups, POISON, Quarantine } from "../common/debug-kit.js";

/** What debug mode needs of its allocator (closures over its private parts). */
export interface RawScalable {
  /** The heap's bytes (current view). */
  readonly u8: Uint8Array;
  /** Takes `size` bytes from a region (adding one if needed); returns their address. Changes no totals. */
  take(size: number): number;
  /** Gives [address, address + size) back to its region. Changes no totals. */
  release(address: number, size: number): void;
  /** True if [address, address + size) lies inside one region. */
  inRegion(address: number, size: number): boolean;
  /** A view of [address, address + size) over the current buffer. */
  view(address: number, size: number): Uint8Array;
  /** Adds to totalMalloc / totalFree. */
  count(mallocBytes: number, freeBytes: number): void;
}

/** Debug mode's own calls on the allocator and its queries. */
export interface ScalableDebug {
  malloc(sizeBytes: number): Uint8Array;
  freeRange(address: number, sizeBytes: number, api?: string): void;
  /** Region bytes debug mode holds beyond what the totals count: canaries of live buffers and the quarantine. */
  readonly heldBytes: number;
  /** Verifies every live buffer's canary and every quarantined range's poison. */
  check(): void;
  /** Releases the whole quarantine to the regions, verifying it. */
  flush(): void;
  /** Verifies, then forgets every buffer and the quarantine (the regions are reset by the caller). */
  reset(): void;
  leaks(): LeakSite[];
}

interface Buffer {
  readonly addr: number;
  readonly n: number; // bytes requested
  readonly total: number; // bytes taken from the region
  live: number; // bytes not freed yet
  readonly site: Error | undefined;
}

/** A freed range in the quarantine, and the free that made it. */
interface Freed {
  readonly addr: number;
  readonly size: number;
  readonly seq: number;
  readonly stack: Error | null;
}

/** A live piece [start, end) of a buffer, or (canary) its canary. */
interface Piece {
  end: number;
  readonly buf: Buffer;
  readonly canary: boolean;
}

/** Builds debug mode over `raw`. Throws RangeError for bad options. */
export function createScalableDebug(raw: RawScalable, options: DebugOptions, badSize: (api: string, n: unknown) => Error): ScalableDebug {
  const { sampleEvery, quarantineLimit } = debugSettings("ScalableAllocator", options);
  const starts: number[] = []; // piece starts, sorted
  const pieces = new Map<number, Piece>();
  const buffers = new Set<Buffer>();
  // Freed ranges with the free that made them.
  const quarantine = new Quarantine<Freed>();
  let canaryBytes = 0;
  let mallocs = 0;
  let frees = 0;

  const range = (a: number, n: number) => `[${hex(a)}, ${hex(a + n)})`;
  const siteOf = (b: Buffer): string => (b.site === undefined ? "" : `\nallocated at:\n${formatStack(b.site)}`);

  // Index in `starts` of the last piece starting at or before addr, or -1.
  const pieceIndex = (addr: number): number => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  };
  const addPiece = (start: number, end: number, buf: Buffer, canary: boolean): void => {
    if (start === end) return;
    starts.splice(pieceIndex(start) + 1, 0, start);
    pieces.set(start, { end, buf, canary });
  };
  const removePiece = (start: number): void => {
    starts.splice(pieceIndex(start), 1);
    pieces.delete(start);
  };

  const verifyCanary = (api: string, b: Buffer): void => {
    const u8 = raw.u8;
    for (let i = b.addr + b.n; i < b.addr + b.total; i++) {
      if (u8[i] !== CANARY) {
        throw new HeapCorruptionError("D1", `${api}: write past the end of buffer ${hex(b.addr)} (${b.n} bytes requested, byte ${i - b.addr} changed)${siteOf(b)}`);
      }
    }
  };
  const freedBy = (q: Freed) => ` (freed by debug free #${q.seq}${q.stack === null ? "" : `, at:\n${formatStack(q.stack)}`})`;
  const verifyPoison = (api: string, q: Freed): void => {
    const u8 = raw.u8;
    for (let i = q.addr; i < q.addr + q.size; i++) {
      if (u8[i] !== POISON) {
        throw new HeapCorruptionError("D2", `${api}: use after free: ${range(q.addr, q.size)} (${q.size} bytes) was written after it was freed${freedBy(q)}: byte ${i - q.addr} changed`);
      }
    }
  };

  const toQuarantine = (addr: number, size: number, stack: Error | null): void => {
    raw.u8.fill(POISON, addr, addr + size);
    quarantine.push({ addr, size, seq: frees, stack }, size);
  };
  // Releases quarantined ranges, oldest first, while the quarantine holds more than `limit` bytes.
  const evict = (api: string, limit: number): void => {
    quarantine.evict(limit, (q) => verifyPoison(api, q), (q) => raw.release(q.addr, q.size));
  };

  // Why [addr, addr + size) is not inside one live piece: the error to throw.
  const notLive = (api: string, addr: number, size: number, p: Piece | undefined): Error => {
    const what = range(addr, size);
    if (p !== undefined && p.canary) {
      return new InvalidAddressError(`${api}: ${what} reaches past the end of the ${p.buf.n}-byte buffer at ${hex(p.buf.addr)}${siteOf(p.buf)}`);
    }
    if (p !== undefined) {
      const b = p.buf;
      if (p.end === b.addr + b.n) return new InvalidAddressError(`${api}: ${what} reaches past the end of the ${b.n}-byte buffer at ${hex(b.addr)}${siteOf(b)}`);
      return new DoubleFreeError(`${api}: ${what} is free already, in part (a piece of the buffer at ${hex(b.addr)} was freed before)${siteOf(b)}`);
    }
    if (!raw.inRegion(addr, size)) return new InvalidAddressError(`${api}: ${what} is not inside one region of this allocator`);
    let last: Freed | null = null; // the latest free that overlaps
    for (const q of quarantine) if (addr < q.addr + q.size && q.addr < addr + size) last = q;
    if (last !== null) return new DoubleFreeError(`${api}: ${what} is free already: it waits in the debug quarantine${freedBy(last)}`);
    return new DoubleFreeError(`${api}: ${what} is free already, in part or whole`);
  };

  const verifyAll = (api: string): void => {
    for (const b of buffers) verifyCanary(api, b);
    for (const q of quarantine) verifyPoison(api, q);
  };

  return {
    malloc(sizeBytes: number): Uint8Array {
      if (sizeBytes >>> 0 !== sizeBytes) throw badSize("ScalableAllocator.malloc", sizeBytes);
      if (sizeBytes === 0) return raw.view(0, 0);
      const total = Math.ceil(sizeBytes / 8) * 8 + 8;
      const addr = quarantine.takeReleasing(total, () => raw.take(total), (limit) => evict("ScalableAllocator.malloc", limit));
      const site = sampleEvery !== 0 && ++mallocs % sampleEvery === 0 ? new Error("allocation site") : undefined;
      const b: Buffer = { addr, n: sizeBytes, total, live: sizeBytes, site };
      raw.u8.fill(JUNK_ALLOC, addr, addr + sizeBytes);
      raw.u8.fill(CANARY, addr + sizeBytes, addr + total);
      buffers.add(b);
      addPiece(addr, addr + sizeBytes, b, false);
      addPiece(addr + sizeBytes, addr + total, b, true);
      canaryBytes += total - sizeBytes;
      raw.count(sizeBytes, 0);
      return raw.view(addr, sizeBytes);
    },

    freeRange(address: number, sizeBytes: number, api = "ScalableAllocator.free"): void {
      const i = pieceIndex(address);
      const start = i < 0 ? -1 : starts[i]!;
      let p = i < 0 ? undefined : pieces.get(start);
      if (p !== undefined && address >= p.end) p = undefined;
      if (p === undefined || p.canary || address + sizeBytes > p.end) throw notLive(api, address, sizeBytes, p);
      const b = p.buf;
      verifyCanary(api, b);
      // Split the piece around the freed range.
      const end = p.end;
      if (start === address) removePiece(start);
      else p.end = address;
      addPiece(address + sizeBytes, end, b, false);
      b.live -= sizeBytes;
      frees++;
      const stack = sampleEvery !== 0 ? new Error("free site") : null;
      toQuarantine(address, sizeBytes, stack);
      if (b.live === 0) {
        removePiece(b.addr + b.n);
        buffers.delete(b);
        canaryBytes -= b.total - b.n;
        toQuarantine(b.addr + b.n, b.total - b.n, stack);
      }
      raw.count(0, sizeBytes);
      evict(api, quarantineLimit);
    },

    get heldBytes(): number {
      return canaryBytes + quarantine.bytes;
    },

    check(): void {
      verifyAll("ScalableAllocator.check");
    },

    flush(): void {
      evict("ScalableAllocator.trim", 0);
    },

    reset(): void {
      try {
        verifyAll("ScalableAllocator.recycle");
      } finally {
        starts.length = 0;
        pieces.clear();
        buffers.clear();
        quarantine.clear();
        canaryBytes = 0;
      }
    },

    leaks(): LeakSite[] {
      const groups = new LeakGroups();
      for (const b of buffers) groups.add(b.addr, b.live, b.site);
      return groups.sites();
    },
  };
}
