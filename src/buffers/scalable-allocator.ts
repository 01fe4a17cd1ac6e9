// The scalable allocator: byte buffers (Uint8Array views) carved out of
// regions drawn from a Heap, GoMem's ScalableMemoryAllocator done right.
//
// A region is one heap block managed by a RangeAllocator, so any sub-range of
// a handed-out view can be freed on its own (free `buf.subarray(0, 256)` and
// keep the rest). Regions double in size as the allocator grows, up to
// `maxRegionSize`; a larger request becomes a region of its own. Where GoMem
// creates and destroys a region on every large malloc/free, this allocator
// keeps one empty region as a spare, so a steady stream of large buffers
// reuses it: MallocLarge is a range allocation, not a trip to the heap.
//
// malloc: try the region that served last, then every other region, newest
// first; if none fits, draw a new region from the heap. free: find the region
// holding the view's address by binary search over the regions (sorted by
// address) and give the range back to its RangeAllocator.
//
// Views and heap growth: a view stays valid while the heap grows on every
// backing whose growth does not detach buffers: the default shared
// WebAssembly.Memory, a SharedArrayBuffer, a resizable ArrayBuffer, a fixed
// ArrayBuffer. An unshared WebAssembly.Memory detaches its buffer when it
// grows, which would silently empty every view handed out, so the
// constructor refuses such a heap with a clear error.

import { DoubleFreeError, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError, OutOfMemoryError, hex } from "../errors.js";
import type { Heap } from "../heap/heap.js";
import { DEBUG_OPTION_RULES, type DebugOptions, type LeakSite } from "../common/debug-kit.js";
import { checkHeap, checkNumber, checkOptions, describe, type OptionRules } from "../common/options.js";
import { createScalableDebug, type ScalableDebug } from "./scalable-debug.js";
import { RangeAllocator } from "./range-allocator.js";

/** Options of `new ScalableAllocator()`. Sizes in bytes. */
export interface ScalableAllocatorOptions {
  /** Size of the first region. Default 64 KiB. Each new region doubles the last one's size. */
  initialSize?: number;
  /** Regions stop doubling at this size; a request larger than it gets a region of its own. Default 4 MiB. */
  maxRegionSize?: number;
  /**
   * Debug mode for buffers (scalable-debug.ts): canaries after each buffer,
   * poisoned and quarantined freed bytes, allocation sites and `leaks()`,
   * with the heap's debug options. Default: on if the heap is in debug mode.
   */
  debug?: boolean | DebugOptions;
}

const OPTION_RULES: OptionRules = {
  initialSize: { type: "number" },
  maxRegionSize: { type: "number" },
  debug: { type: ["boolean", "object"] },
};

/** One region: a heap block at `base` managed by `range` over offsets [0, size). */
interface Region {
  readonly base: number;
  readonly size: number;
  readonly range: RangeAllocator;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const DEFAULT_INITIAL_SIZE = 64 * KIB;
const DEFAULT_MAX_REGION_SIZE = 4 * MIB;
/** Largest single request: regions are heap blocks, which stay below 4 GiB. */
const MAX_REQUEST = 2 ** 32 - 1;

// Invariants, checked by check():
//   SA1 regions are sorted by base and pairwise disjoint, each inside one live
//       heap block of at least `size` bytes
//   SA2 every region's RangeAllocator passes its own check()
//   SA3 totalMalloc - totalFree (+ the canaries and quarantine of debug
//       mode) == sum over regions of (size - freeSize)
//   SA4 at most one region is entirely free (the spare)

/**
 * Hands out `Uint8Array` views of offheap memory from regions it draws from a
 * `Heap`, and takes back any view or sub-view of one (segmented free).
 *
 * Costs: `malloc` and `free` are a best-fit range allocation (O(log n) in the
 * free ranges of a region) plus one view object; a new region costs one
 * `heap.alloc`.
 *
 * @example
 * const heap = new Heap();
 * const alloc = new ScalableAllocator(heap);
 * const buf = alloc.malloc(1024);
 * alloc.free(buf.subarray(256));   // keep the first 256 bytes
 * alloc.free(buf.subarray(0, 256));
 */
export class ScalableAllocator {
  /** The heap regions are drawn from. */
  readonly heap: Heap;
  /** Bytes handed out by malloc since creation (or the last recycle). */
  totalMalloc = 0;
  /** Bytes taken back by free, freeRest and friends since creation (or the last recycle). */
  totalFree = 0;
  private readonly regionList: Region[] = []; // sorted by base (SA1)
  private current: Region | null = null; // the region that served last
  private nextRegionSize: number;
  private readonly maxRegionSize: number;
  private buffer: ArrayBuffer | SharedArrayBuffer;
  private readonly buffers: (ArrayBuffer | SharedArrayBuffer)[] = []; // every buffer object views were made over
  private scratch = 0; // heap block behind borrow()
  private scratchSize = 0;
  private readonly debugMode: ScalableDebug | null = null;

  /**
   * An allocator with no regions yet; it allocates nothing until the first
   * malloc. Throws OffheapRangeError for options out of range, and
   * OffheapTypeError for a `heap` that is not a Heap, options of the wrong
   * type, or a heap whose memory detaches its buffer when it grows (an
   * unshared WebAssembly.Memory): views handed out would go empty. O(1).
   */
  constructor(heap: Heap, options?: ScalableAllocatorOptions) {
    checkHeap("ScalableAllocator", heap);
    options = checkOptions("ScalableAllocator", options, OPTION_RULES);
    if (typeof options.debug === "object") checkOptions("ScalableAllocator", options.debug, DEBUG_OPTION_RULES, "options.debug");
    const memory = heap.memoryObject;
    if (typeof WebAssembly !== "undefined" && memory instanceof WebAssembly.Memory && !(memory.buffer instanceof SharedArrayBuffer)) {
      throw new OffheapTypeError(
        "ScalableAllocator: the heap's memory is an unshared WebAssembly.Memory, whose buffer is detached when it grows, " +
          'which would empty every view handed out; use a heap with memory: "resizable", a SharedArrayBuffer or a shared WebAssembly.Memory',
      );
    }
    const initialSize = options.initialSize ?? DEFAULT_INITIAL_SIZE;
    const maxRegionSize = options.maxRegionSize ?? Math.max(DEFAULT_MAX_REGION_SIZE, initialSize);
    if (!Number.isSafeInteger(maxRegionSize) || maxRegionSize < 1 || maxRegionSize > MAX_REQUEST) {
      throw new OffheapRangeError(`ScalableAllocator: options.maxRegionSize ${String(maxRegionSize)} is not an integer in [1, ${MAX_REQUEST}]`);
    }
    if (!Number.isSafeInteger(initialSize) || initialSize < 1 || initialSize > maxRegionSize) {
      throw new OffheapRangeError(`ScalableAllocator: options.initialSize ${String(initialSize)} is not an integer in [1, maxRegionSize = ${maxRegionSize}]`);
    }
    this.heap = heap;
    this.nextRegionSize = initialSize;
    this.maxRegionSize = maxRegionSize;
    this.buffer = heap.buffer;
    this.buffers.push(this.buffer);
    const debug = options.debug ?? heap.debugOptions ?? false;
    if (debug !== false) this.debugMode = this.installDebug(debug === true ? {} : debug);
  }

  // Debug mode's malloc and freeRange become own properties (free and freeRest call freeRange).
  private installDebug(options: DebugOptions): ScalableDebug {
    const heap = this.heap;
    const d = createScalableDebug({
      get u8() { return heap.u8; },
      take: (size) => this.takeRange(size),
      release: (address, size) => this.releaseRange(address, size, "ScalableAllocator.free"),
      inRegion: (address, size) => {
        const r = this.regionAt(address);
        return r !== null && address + size <= r.base + r.size;
      },
      view: (address, size) => new Uint8Array(this.buffer, address, size),
      count: (mallocBytes, freeBytes) => {
        this.totalMalloc += mallocBytes;
        this.totalFree += freeBytes;
      },
    }, options, badSize);
    this.malloc = d.malloc;
    this.freeRange = d.freeRange;
    return d;
  }

  /**
   * Live buffers grouped by allocation site, most bytes first (debug mode).
   * Throws OffheapTypeError if debug mode is off.
   */
  leaks(): LeakSite[] {
    if (this.debugMode === null) throw new OffheapTypeError("ScalableAllocator.leaks: debug mode is off; make the allocator with { debug: true } or over a debug heap");
    return this.debugMode.leaks();
  }

  /** Number of regions held from the heap. */
  get regions(): number {
    return this.regionList.length;
  }

  /** Bytes of heap held in regions (in use or free). */
  get size(): number {
    let n = 0;
    for (const r of this.regionList) n += r.size;
    return n;
  }

  /** Bytes handed out and not yet taken back: `totalMalloc - totalFree`. */
  get inUse(): number {
    return this.totalMalloc - this.totalFree;
  }

  /**
   * A new view of `sizeBytes` bytes (contents unspecified; byte-aligned:
   * offsets are 8-aligned when every size is a multiple of 8). `malloc(0)`
   * returns an empty view that holds nothing. Throws OffheapRangeError for a
   * size that is not an integer in [0, 2^32), OutOfMemoryError if the heap
   * cannot supply a new region (nothing changes).
   */
  malloc(sizeBytes: number): Uint8Array {
    const cur = this.current;
    if (cur !== null && sizeBytes >>> 0 === sizeBytes && sizeBytes !== 0) {
      const offset = cur.range.allocate(sizeBytes);
      if (offset >= 0) {
        this.totalMalloc += sizeBytes;
        return new Uint8Array(this.buffer, cur.base + offset, sizeBytes);
      }
    }
    return this.mallocSlow(sizeBytes);
  }

  private mallocSlow(sizeBytes: number): Uint8Array {
    if (sizeBytes >>> 0 !== sizeBytes) throw badSize("ScalableAllocator.malloc", sizeBytes);
    if (sizeBytes === 0) return new Uint8Array(this.buffer, 0, 0);
    const address = this.takeFromOthers(sizeBytes); // malloc tried the current region
    this.totalMalloc += sizeBytes;
    return new Uint8Array(this.buffer, address, sizeBytes);
  }

  // Takes sizeBytes from the region that served last, else any other (newest first), else a new one; returns the address.
  private takeRange(sizeBytes: number): number {
    const cur = this.current;
    const offset = cur === null ? -1 : cur.range.allocate(sizeBytes);
    return offset >= 0 ? cur!.base + offset : this.takeFromOthers(sizeBytes);
  }

  // takeRange after the current region could not serve sizeBytes.
  private takeFromOthers(sizeBytes: number): number {
    const cur = this.current;
    const list = this.regionList;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r === cur) continue;
      const offset = r.range.allocate(sizeBytes);
      if (offset >= 0) {
        this.current = r;
        return r.base + offset;
      }
    }
    const r = this.addRegion(sizeBytes);
    this.current = r;
    return r.base + r.range.allocate(sizeBytes);
  }

  /**
   * Takes back `view`: a view from `malloc` or any sub-view of one (a
   * partial free; the rest stays allocated). An empty view is ignored.
   * Throws InvalidAddressError for a view of other memory or outside every
   * region, DoubleFreeError if any of its bytes is free already; nothing
   * changes then. Cost: O(log regions + log free ranges).
   */
  free(view: Uint8Array): void {
    if (!(view instanceof Uint8Array)) throw new OffheapTypeError(`ScalableAllocator.free: expected a Uint8Array, got ${describe(view)}`);
    const n = view.byteLength;
    if (n === 0) return;
    this.checkOwnMemory(view, "ScalableAllocator.free");
    this.freeRange(view.byteOffset, n, "ScalableAllocator.free");
  }

  /**
   * Frees the bytes of `view` after the first `keepBytes` and returns the
   * kept part, `view.subarray(0, keepBytes)`. Errors as `free`, and
   * OffheapRangeError if `keepBytes` is not an integer in [0, view.length].
   */
  freeRest(view: Uint8Array, keepBytes: number): Uint8Array {
    if (!(view instanceof Uint8Array)) throw new OffheapTypeError(`ScalableAllocator.freeRest: expected a Uint8Array, got ${describe(view)}`);
    const n = view.byteLength;
    checkNumber("ScalableAllocator.freeRest", "keepBytes", keepBytes);
    if (!Number.isSafeInteger(keepBytes) || keepBytes < 0 || keepBytes > n) {
      throw new OffheapRangeError(`ScalableAllocator.freeRest: keepBytes ${String(keepBytes)} is not an integer in [0, ${n}] (the view's length)`);
    }
    if (keepBytes < n) {
      this.checkOwnMemory(view, "ScalableAllocator.freeRest");
      this.freeRange(view.byteOffset + keepBytes, n - keepBytes, "ScalableAllocator.freeRest");
    }
    return view.subarray(0, keepBytes);
  }

  /**
   * Throws InvalidAddressError unless the non-empty `view` is over this
   * heap's memory and inside one region (whether its bytes are allocated is
   * known when it is freed). RecyclableMemory.addRecycleBytes.
   * @internal
   */
  checkView(view: Uint8Array, api: string): void {
    this.checkOwnMemory(view, api);
    this.regionOf(view.byteOffset, view.byteLength, api);
  }

  // Throws InvalidAddressError unless `view` is over a buffer of this heap's memory (one from before a growth included).
  private checkOwnMemory(view: Uint8Array, api: string): void {
    if (view.buffer !== this.buffer && !this.buffers.includes(view.buffer)) {
      throw new InvalidAddressError(`${api}: the view is over other memory than this allocator's heap`);
    }
  }

  /**
   * Frees `[address, address + sizeBytes)` of the heap, which must lie in one
   * region and be allocated. The entry point of RecyclableMemory, which keeps
   * address/size pairs instead of views. Errors as `free`.
   * @internal
   */
  freeRange(address: number, sizeBytes: number, api = "ScalableAllocator.free"): void {
    this.releaseRange(address, sizeBytes, api);
    this.totalFree += sizeBytes;
  }

  // The region [address, address + sizeBytes) lies in; throws InvalidAddressError if none.
  private regionOf(address: number, sizeBytes: number, api: string): Region {
    const r = this.regionAt(address);
    if (r === null || address + sizeBytes > r.base + r.size) {
      throw new InvalidAddressError(`${api}: [${hex(address)}, ${hex(address + sizeBytes)}) is not inside one region of this allocator`);
    }
    return r;
  }

  // Gives [address, address + sizeBytes) back to its region; the totals are the caller's.
  private releaseRange(address: number, sizeBytes: number, api: string): void {
    const r = this.regionOf(address, sizeBytes, api);
    try {
      r.range.free(address - r.base, sizeBytes);
    } catch (err) {
      if (err instanceof DoubleFreeError) {
        throw new DoubleFreeError(`${api}: [${hex(address)}, ${hex(address + sizeBytes)}) is free already, in part or whole (${err.message})`);
      }
      throw err;
    }
    if (r.range.freeSize === r.size) this.keepOneSpare(r);
  }

  /**
   * Scratch space of `sizeBytes` bytes, valid until the next call on this
   * allocator; it is never freed by the caller. Cheaper than malloc + free
   * for short-lived temporaries. Errors as malloc.
   */
  borrow(sizeBytes: number): Uint8Array {
    if (sizeBytes >>> 0 !== sizeBytes) throw badSize("ScalableAllocator.borrow", sizeBytes);
    if (sizeBytes > this.scratchSize) this.growScratch(sizeBytes);
    return new Uint8Array(this.buffer, this.scratch, sizeBytes);
  }

  private growScratch(sizeBytes: number): void {
    const want = Math.max(sizeBytes, this.scratchSize * 2, 256);
    const p = this.scratch === 0 ? this.heap.alloc(want) : this.heap.realloc(this.scratch, want);
    this.scratch = p;
    this.scratchSize = this.heap.sizeOf(p);
    this.refreshBuffer();
  }

  /**
   * Frees everything handed out (views from before must not be used again)
   * and returns every region but the largest to the heap. O(regions).
   */
  recycle(): void {
    try {
      this.debugMode?.reset(); // verifies canaries and the quarantine first
    } finally {
      this.resetRegions();
    }
  }

  private resetRegions(): void {
    const list = this.regionList;
    let keep: Region | null = null;
    for (const r of list) if (keep === null || r.size > keep.size) keep = r;
    for (const r of list) if (r !== keep) this.heap.free(r.base);
    list.length = 0;
    if (keep !== null) {
      keep.range.reset();
      list.push(keep);
    }
    this.current = keep;
    this.totalMalloc = 0;
    this.totalFree = 0;
  }

  /** Returns every entirely free region (the spare included) and the scratch space to the heap; returns the bytes released. */
  trim(): number {
    this.debugMode?.flush();
    let released = 0;
    const list = this.regionList;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.range.freeSize === r.size) released += this.release(i);
    }
    if (this.scratch !== 0) {
      this.heap.free(this.scratch);
      released += this.scratchSize;
      this.scratch = 0;
      this.scratchSize = 0;
    }
    return released;
  }

  /** Frees everything and returns all regions to the heap: `recycle()` then `trim()`. The allocator stays usable. */
  [Symbol.dispose](): void {
    this.recycle();
    this.trim();
  }

  /**
   * Validates invariants SA1-SA4 (see the source) and every region's range
   * allocator; throws HeapCorruptionError naming the broken one. O(regions +
   * free ranges).
   */
  check(): void {
    const list = this.regionList;
    let inUse = 0;
    let empty = 0;
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (i > 0 && list[i - 1]!.base + list[i - 1]!.size > r.base) {
        throw new HeapCorruptionError("SA1", `ScalableAllocator: region ${hex(r.base)} overlaps or precedes region ${hex(list[i - 1]!.base)}`);
      }
      let usable: number;
      try {
        usable = this.heap.sizeOf(r.base);
      } catch {
        throw new HeapCorruptionError("SA1", `ScalableAllocator: region ${hex(r.base)} is not a live heap block`);
      }
      if (usable < r.size) throw new HeapCorruptionError("SA1", `ScalableAllocator: region ${hex(r.base)} of ${r.size} bytes lies in a heap block of ${usable}`);
      r.range.check();
      inUse += r.size - r.range.freeSize;
      if (r.range.freeSize === r.size) empty++;
    }
    const held = this.debugMode?.heldBytes ?? 0;
    if (inUse !== this.totalMalloc - this.totalFree + held) {
      throw new HeapCorruptionError("SA3", `ScalableAllocator: regions hold ${inUse} bytes in use, totals say ${this.totalMalloc - this.totalFree}${held === 0 ? "" : ` plus ${held} held by debug mode`}`);
    }
    if (empty > 1) {
      throw new HeapCorruptionError("SA4", `ScalableAllocator: ${empty} regions are entirely free; at most one is kept`);
    }
    this.debugMode?.check();
  }

  /**
   * Draws a region able to hold `sizeBytes` from the heap and inserts it in
   * address order: the next size of the doubling, or one of its own for a
   * request past maxRegionSize. If the heap cannot give the doubled size
   * (out of memory, or past its maxSize), a region of just the request is
   * tried; the doubling goes on only from a region of its size that was
   * made (a rejected request used to leave it past what the heap holds, and
   * every later region failed).
   */
  private addRegion(sizeBytes: number): Region {
    let doubling = sizeBytes <= this.maxRegionSize;
    let size = doubling ? this.nextRegionSize : sizeBytes; // past maxRegionSize: a region of its own
    while (size < sizeBytes) size = Math.min(size * 2, this.maxRegionSize);
    let base: number;
    try {
      base = this.heap.alloc(size);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError || e instanceof OffheapRangeError) || size === sizeBytes) throw e;
      size = sizeBytes;
      doubling = false;
      base = this.heap.alloc(size);
    }
    if (doubling) this.nextRegionSize = Math.min(size * 2, this.maxRegionSize);
    const r: Region = { base, size, range: new RangeAllocator(size) };
    const list = this.regionList;
    let i = list.length;
    while (i > 0 && list[i - 1]!.base > base) i--;
    list.splice(i, 0, r);
    this.refreshBuffer();
    return r;
  }

  /** After a heap call that may have grown the memory, views are made over its current buffer. */
  private refreshBuffer(): void {
    const b = this.heap.buffer;
    if (b !== this.buffer) {
      this.buffer = b;
      if (!this.buffers.includes(b)) this.buffers.push(b);
    }
  }

  /** Region `r` just became entirely free: keep it as the spare and release any other entirely free region (SA4). */
  private keepOneSpare(r: Region): void {
    const list = this.regionList;
    for (let i = list.length - 1; i >= 0; i--) {
      const other = list[i]!;
      if (other === r || other.range.freeSize !== other.size) continue;
      // Keep the larger of the two as the spare: it serves more requests.
      if (other.size > r.size) this.release(list.indexOf(r));
      else this.release(i);
      return;
    }
  }

  /** Returns region `i` to the heap; returns its size. */
  private release(i: number): number {
    const r = this.regionList[i]!;
    this.regionList.splice(i, 1);
    if (this.current === r) this.current = null;
    this.heap.free(r.base);
    return r.size;
  }

  /** The region whose range holds `address`, or null (binary search over bases). */
  private regionAt(address: number): Region | null {
    const list = this.regionList;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = list[mid]!;
      if (address < r.base) hi = mid - 1;
      else if (address >= r.base + r.size) lo = mid + 1;
      else return r;
    }
    return null;
  }
}

// Throws OffheapTypeError for a size that is not a number; else returns the OffheapRangeError to throw.
function badSize(api: string, sizeBytes: unknown): OffheapRangeError {
  checkNumber(api, "size", sizeBytes);
  return new OffheapRangeError(`${api}: size ${describe(sizeBytes)} is not an integer in [0, ${MAX_REQUEST}]`);
}
