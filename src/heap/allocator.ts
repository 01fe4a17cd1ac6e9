// The allocator under the Heap: its views of the image, the alloc and free
// fast paths and their slow paths, and the checks of an address. Heap
// (heap.ts, which has the overview) adds the rest of the API on top: the
// fast paths stay in one small class that V8 sees whole.
//
// Allocating `size` bytes:
//  1. size <= 64 KiB: class = CLASS_OF_GRANULE[(size + 7) >>> 3]. Pop the
//     class's cache list (a stack of addresses in the metadata; its count
//     is a header word), make the object's granule G_LIVE in the
//     allocation bitmap, count the pop, return. About a dozen machine
//     operations, no JS object; nothing read from the free object, so a
//     write after free cannot steer it (layout.ts).
//  2. The list is empty: refill it (central.ts) with the free lists of
//     partial spans, an empty span, or a new span from the page heap.
//  3. size > 64 KiB: a large block of whole pages, best fit from the page
//     heap; grow the backing memory when no free run fits.
//
// Freeing `addr`:
//  1. Check that addr is in the memory, 8-byte aligned, and that its
//     granule in the allocation bitmap is G_LIVE: a live block starts
//     exactly there, so this one test rejects double frees and interior or
//     foreign addresses in O(1).
//  2. Read the class from the page's descriptor; make the granule G_FREE;
//     push the object on the class's cache list.
//  3. Only if the list is full, return its newer half to the spans
//     (central.ts: flushCache) first. Large blocks go back to the page heap,
//     coalescing with both neighbours.
//  Anything the check rejects goes to a slow path that names the error.

import { HeapCorruptionError, OffheapRangeError, OffheapTypeError, OutOfMemoryError } from "../errors.js";
import type { Backing } from "../memory/backing.js";
import { createViews, viewLength } from "../memory/views.js";
import * as classof from "./class-of.js";
const { CLASS_OF_GRANULE, imageClassOf } = classof;
import * as sizeclasses from "./size-classes.js";
const { MAX_SMALL_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { ALIGN_MASK, BITMAP_W, CC_LIMIT, CC_TOP, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, D_CLASS,
  DESC_SHIFT, G_FREE, G_LIVE, G_LIVE_DEBUG, GRANULE_SHIFT_MASK, GRANULE_WORD_SHIFT, HDR_CACHE, HDR_DESC_OFF, HDR_END_PAGE,
  HDR_CACHE_OBJECTS, HDR_F64_REQUESTED, HDR_N_CLASSES, HDR_FIRST_DATA_PAGE, HDR_TOTAL_PAGES, HEADER_BYTES, PAGE_SHIFT, PAGE_SIZE, SAMPLE_NEVER } = layout;
import { allocLarge, cachedSpan, cacheOverflow, foldCounts, freeLarge, refill, returnLine, returnSpan } from "./central.js";
import { notePeakLive } from "./live-bytes.js";
import { granuleState, setGranule } from "./granules.js";
import { checkSize, liveSpan, usableBytes } from "./validate.js";
import type { Profiler } from "./profile.js";
import { plainAccessSize } from "./debug-trailer.js";
import { currentThreadId, followSharedMode, releaseHeapLock, takeHeapLock } from "./slots.js";
import { listMemory, noteBuffer } from "./thread-heaps.js";
import { defaultGrowBytes } from "./options.js";
import { type CompareExchange, wasmCompareExchange } from "./wasm-cas.js";
import { allocShared, freeShared } from "./shared-paths.js";

/**
 * The views and the alloc/free paths of a heap image; `Heap` is the class
 * to use (it extends this one). Internal: not part of the package's API.
 */
export class Allocator {
  /** Byte view of the whole backing memory. */
  u8!: Uint8Array;
  i8!: Int8Array;
  u16!: Uint16Array;
  i16!: Int16Array;
  /** Word view: the word of address p is `u32[p >>> 2]`. */
  u32!: Uint32Array;
  i32!: Int32Array;
  f32!: Float32Array;
  /** Float64 view: the float at address p (8-aligned) is `f64[p >>> 3]`. */
  f64!: Float64Array;
  dataView!: DataView;
  /** @internal Word index of page descriptor 0 (Core). */
  readonly descW: number;
  /** @internal First page after the metadata (Core). */
  readonly firstDataPage: number;
  /** @internal Pages of the address range (Core). */
  readonly totalPages: number;
  /** @internal Most objects a cache list holds (Core). */
  readonly cacheObjects: number;
  /** @internal Classes with cache arrays in this image (Core). */
  readonly imageClasses: number;
  /** @internal Committed end page, a cache of HDR_END_PAGE (Core). */
  endPage: number;
  /** @internal Growth policy (central.ts acquirePages). */
  readonly growAt: number;
  /** @internal Word index of this Heap's slot's cache lines (layout.ts SL_CACHE; slots.ts). */
  cacheW = HDR_CACHE;
  /** @internal This Heap's slot in the slot table, -1 until it has one (slots.ts). */
  slot = -1;
  /** @internal True once this Heap's memory is listed (thread-heaps.ts: listMemory), or an unshared memory that needs not be. */
  memoryListed = false;
  /**
   * The id of the thread this Heap belongs to: `worker_threads.threadId` in
   * Node (0 on the main thread), a random id elsewhere. Pass it to
   * `releaseThread` when that thread exits without detaching.
   */
  readonly threadId: number = 0;
  /** @internal True while this Heap runs the shared-mode paths (slots.ts). */
  sharedMode = false;
  /**
   * @internal The shared fast paths' compare-exchange of a bitmap word, by
   * byte address: a WebAssembly instruction on a shared WebAssembly.Memory
   * (wasm-cas.ts; installFastPaths sets it), Atomics.compareExchange on
   * other memories.
   */
  casWord: CompareExchange = (byteAddress, expected, replacement) => Atomics.compareExchange(this.u32, byteAddress >>> 2, expected, replacement);
  /** @internal True after detach(): every call throws. */
  protected detached = false;
  /** @internal How deep this Heap holds the heap lock (the lock is reentrant per thread). */
  private lockDepth = 0;
  // True while allocLocked hands a request to the fast path after filling the cache: a second miss is damage, not a loop.
  private serving = false;
  /** @internal True while this Heap's slot is being set up (slots.ts attachSlot): it takes the real lock. */
  attaching = true;
  // True while this Heap holds the heap lock without taking it (one thread alone: slots.ts).
  private biased = false;
  /** @internal */
  readonly backing: Backing;
  /** @internal The sampling profiler, when on (profile.ts); Heap installs it. */
  profiler: Profiler | null = null;
  /** @internal Bytes of the address range. */
  protected readonly rangeBytes: number;
  private readonly growByBytes: number;

  /** @internal Opens the image in `backing` (formatted, or checked by Heap.attach): reads its geometry and makes the views. */
  constructor(backing: Backing, growAt: number, growByBytes: number) {
    this.backing = backing;
    this.growAt = growAt;
    this.growByBytes = growByBytes;
    const u32 = new Uint32Array(backing.buffer, 0, HEADER_BYTES >>> 2);
    this.totalPages = u32[HDR_TOTAL_PAGES]!;
    this.cacheObjects = u32[HDR_CACHE_OBJECTS]!;
    this.imageClasses = u32[HDR_N_CLASSES]!;
    this.rangeBytes = this.totalPages * PAGE_SIZE;
    this.descW = u32[HDR_DESC_OFF]! >>> 2;
    this.firstDataPage = u32[HDR_FIRST_DATA_PAGE]!;
    this.endPage = u32[HDR_END_PAGE]!;
    this.threadId = currentThreadId();
    this.refreshViews();
  }

  /** The backing memory object: a WebAssembly.Memory, ArrayBuffer or SharedArrayBuffer. */
  get memory(): ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory {
    if (!this.memoryListed) listMemory(this);
    return this.backing.memory;
  }

  /** The current buffer (replaced when a WebAssembly.Memory grows). */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    if (!this.memoryListed) listMemory(this);
    return this.backing.buffer;
  }

  /** @internal heap.memory for the heap's own code: the program did not read it (thread-heaps.ts: listMemory). */
  get memoryObject(): ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory {
    return this.backing.memory;
  }

  /**
   * Allocates `sizeBytes` and returns the block's address: an integer > 0,
   * 8-byte aligned. `alloc(0)` returns a unique 8-byte block, as malloc does.
   * Contents are not cleared (see calloc). Throws TypeError/RangeError for a
   * size that is not a non-negative safe integer or exceeds maxSize (the
   * heap is unchanged then), OutOfMemoryError when no free pages fit and
   * the heap cannot grow (live blocks, contents and counts are unchanged;
   * free objects cached by size classes may have been returned to the page
   * pool while trying), and HeapCorruptionError when a free list was
   * damaged (a write after free): it never returns metadata, a free page or
   * part of another block.
   * Cost: O(1); no JS allocation.
   */
  alloc(sizeBytes: number): number {
    if ((sizeBytes >>> 0) === sizeBytes && sizeBytes <= MAX_SMALL_SIZE) {
      const cw = this.cacheW + (CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]! << CC_SHIFT);
      const u32 = this.u32;
      const top = u32[cw + CC_TOP]!;
      const addr = u32[top]!;
      // An empty list's top is its sentinel, 0, whose granule (in the
      // header) is G_NONE: the granule test sends it to allocSlow, as it
      // does a slot damaged in the metadata (a G_FREE object is on exactly
      // one list), which allocSlow names. The length test sends there an
      // object past a view that a growth left short, and undefined, read
      // through a view that another Heap on the same memory detached by
      // growing it; allocSlow refreshes the views.
      const bitW = BITMAP_W + (addr >>> GRANULE_WORD_SHIFT);
      const shift = (addr >>> 2) & GRANULE_SHIFT_MASK;
      const word = u32[bitW]!;
      // | 0: int32 math; the counts stay far below 2^31 (layout.ts)
      const requested = (u32[cw + CC_REQUESTED]! + sizeBytes) | 0;
      // The last test is the heap profiler's countdown (profile.ts).
      if (addr >>> 2 < u32.length && ((word >>> shift) & 3) === G_FREE && requested <= (u32[cw + CC_SAMPLE_AT]! | 0)) {
        u32[cw + CC_TOP] = top - 1;
        u32[cw + CC_REQUESTED] = requested;
        u32[bitW] = word ^ (3 << shift); // G_FREE -> G_LIVE
        return addr;
      }
    }
    return this.allocSlow(sizeBytes);
  }

  /** @internal Every case of alloc() and allocShared() but their fast ones. */
  allocSlow(sizeBytes: number, api = "Heap.alloc"): number {
    checkSize(api, sizeBytes, this.totalPages);
    this.lockHeap();
    try {
      return this.allocLocked(sizeBytes, api);
    } finally {
      this.unlockHeap();
    }
  }

  private allocLocked(sizeBytes: number, api: string): number {
    let addr: number;
    // A class past the image's own (an image made with a shorter table:
    // layout.ts, HDR_N_CLASSES) has an inert list and is served as pages.
    const cls = imageClassOf(this.imageClasses, sizeBytes);
    if (cls !== 0) {
      // A refilled cache (or one this Heap's stale views could not see
      // before sync) serves the fast path, which pops and counts the block.
      // After the sync, an object on top that the fast path refused is
      // damage (a count past the array, a slot that is not a free object of
      // the class): foldCounts and cachedSpan name it.
      const cw = this.cacheW + (cls << CC_SHIFT);
      const u32 = this.u32;
      if (((u32[cw + CC_REQUESTED]! + sizeBytes) | 0) > (u32[cw + CC_SAMPLE_AT]! | 0)) return this.allocSampled(sizeBytes, cw, api);
      if (this.serving) {
        // The fast path refused the cache this Heap just filled: its cache lines are not the slot's (damaged slot table).
        throw new HeapCorruptionError("T1", `${api}: damaged metadata: the cache of class ${cls}, just refilled, does not serve the fast path (the slot table names cache lines at word ${this.cacheW})`);
      }
      const n = foldCounts(this, cls);
      if (n !== 0) cachedSpan(this, u32[u32[cw + CC_TOP]!]!, cls);
      if (n !== 0 || refill(this, cls) !== 0) {
        this.serving = true;
        try {
          return this.coreAlloc(sizeBytes);
        } finally {
          this.serving = false;
        }
      }
      addr = 0;
    } else {
      addr = this.allocPages(sizeBytes);
      if (addr !== 0 && this.profiler !== null && this.profiler.countLarge(sizeBytes)) this.profiler.sample(addr, sizeBytes);
    }
    if (addr === 0) this.outOfMemory(api, sizeBytes);
    return addr;
  }

  /** @internal The fast alloc of this Heap's mode: what the slow paths and debug mode call. */
  coreAlloc(sizeBytes: number): number {
    return this.sharedMode ? allocShared.call(this, sizeBytes) : proto.alloc.call(this, sizeBytes);
  }

  /** @internal The fast free of this Heap's mode. */
  coreFree(addr: number): void {
    if (this.sharedMode) freeShared.call(this, addr);
    else proto.free.call(this, addr);
  }

  private outOfMemory(api: string, sizeBytes: number): never {
    throw new OutOfMemoryError(`${api}: cannot allocate ${sizeBytes} bytes: the heap has ${this.endPage * PAGE_SIZE} bytes committed and may not grow past ${this.totalPages * PAGE_SIZE}`);
  }

  // A block of its own pages (a large block): for a large request, or a small one the profiler samples.
  private allocPages(sizeBytes: number): number {
    const addr = allocLarge(this, sizeBytes);
    if (addr !== 0) this.f64[HDR_F64_REQUESTED] = this.f64[HDR_F64_REQUESTED]! + sizeBytes;
    return addr;
  }

  // The fast path found that this small allocation passes its class's
  // profiler threshold (CC_SAMPLE_AT at word cw). A profiled heap samples
  // it and gives it pages of its own, as TCMalloc does: free then finds it
  // on its large-block path, so small frees pay nothing for the profiler.
  // A heap without the profiler (the threshold was set by a profiled Heap on
  // the same memory, or damaged) turns the countdown off.
  private allocSampled(sizeBytes: number, cw: number, api: string): number {
    const p = this.profiler;
    if (p === null || sizeBytes === 0) {
      if (p === null) this.u32[cw + CC_SAMPLE_AT] = SAMPLE_NEVER;
      else this.armSample(cw, p);
      return this.coreAlloc(sizeBytes);
    }
    const addr = this.allocPages(sizeBytes);
    if (addr === 0) this.outOfMemory(api, sizeBytes);
    this.armSample(cw, p); // after allocPages: growing may have folded the class's counts
    p.sample(addr, sizeBytes);
    return addr;
  }

  // Sets the threshold of the class at word cw one sampling distance past the bytes it has served.
  /** @internal */
  protected armSample(cw: number, p: Profiler): void {
    this.u32[cw + CC_SAMPLE_AT] = this.u32[cw + CC_REQUESTED]! + p.nextDistance();
  }

  /**
   * Frees the block at `addr`; `free(0)` does nothing. Throws
   * DoubleFreeError for a block freed already, InvalidAddressError for an
   * address that is not the start of a live block; the heap is unchanged
   * then. Cost: O(1); no JS allocation.
   */
  free(addr: number): void {
    const u32 = this.u32;
    // No block starts past the committed end, so the bound is the views' end
    // (never past the range the bitmap covers); a stale view fails it.
    if ((addr >>> 0) === addr && (addr & ALIGN_MASK) === 0 && addr >>> 2 < u32.length) {
      const bitW = BITMAP_W + (addr >>> GRANULE_WORD_SHIFT);
      const shift = (addr >>> 2) & GRANULE_SHIFT_MASK;
      const word = u32[bitW]!;
      const cls = u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
      if (((word >>> shift) & 3) === G_LIVE && cls !== 0 && cls <= N_CLASSES) {
        const cw = this.cacheW + (cls << CC_SHIFT);
        const pushes = (u32[cw + CC_PUSHES]! + 1) | 0;
        // Past the bound, the counts are folded and room made first (layout.ts: CC_LIMIT).
        if (pushes <= (u32[cw + CC_LIMIT]! | 0)) {
          const top = u32[cw + CC_TOP]! + 1;
          u32[bitW] = word ^ (3 << shift); // G_LIVE -> G_FREE
          u32[top] = addr;
          u32[cw + CC_TOP] = top;
          u32[cw + CC_PUSHES] = pushes;
          return;
        }
      }
    }
    this.freeRest(addr);
  }

  // Every case of free() and freeShared() but their fast ones, behind
  // their one other call site: a full list, a large block, free(0), misuse,
  // a block of debug mode, and views left stale by another Heap's growth.
  // The first Heap runs free(0) when it is made (primeFree), so that the
  // site has type feedback before V8 optimizes free: a site without it (a
  // case first met after that) makes the optimized free deoptimize, and the
  // caller's loop it was inlined into. With a site for each case, python-
  // lines' replay ran deoptimized for tens of thousands of operations after
  // its first large free. V8 does not inline freeRest until it has run a
  // few real cases (free(0) returns before its calls), so a case new to it
  // deoptimizes freeRest alone; once it is hot V8 may inline it, and then
  // a case new to it deoptimizes the loop, as any new case did before.
  // (8cfc3a7 had one small exit too, without the feedback: V8 inlined it
  // and its calls, and still deoptimized there; it was reverted.)
  /** @internal */
  freeRest(addr: number): void {
    if (addr === 0) return;
    this.lockHeap();
    try {
      // Read again under the lock, with the views brought up to date:
      // another thread may have freed the block since the fast path looked.
      const u32 = this.u32;
      if ((addr >>> 0) === addr && (addr & ALIGN_MASK) === 0 && addr >>> 2 < u32.length && granuleState(u32, addr) === G_LIVE) {
        const cls = u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
        if (cls === 0 || cls > N_CLASSES) {
          freeLarge(this, addr, cls); // class 0; a class outside the table is damage, which it reports
          if (this.profiler !== null) this.profiler.unsample(addr);
          return;
        }
        // The list makes room (its counts folded, half of it flushed if
        // full, which also lifts releaseThread's trap), and the fast path
        // frees: in shared mode under the lock, so that no object is ever
        // G_FREE on no list while another thread holds the lock and reads
        // the image (a repair would put it on its span's free list, and
        // then the push would put it on a cache list too).
        cacheOverflow(this, cls);
      } else {
        // liveSpan's checks name the misuse; a block debug mode allocated
        // (G_LIVE_DEBUG) becomes a plain one.
        this.plainSpan(addr, "Heap.free", true);
        if (granuleState(u32, addr) === G_LIVE_DEBUG) setGranule(u32, addr, G_LIVE);
      }
      this.coreFree(addr);
    } finally {
      this.unlockHeap();
    }
  }

  /**
   * @internal Takes the heap lock (reentrant within this Heap), brings the
   * views up to date, and switches this Heap's mode if the image's changed
   * (slots.ts). Every slow path runs between lockHeap and unlockHeap.
   */
  lockHeap(): void {
    if (this.detached) this.sync(); // throws
    if (this.lockDepth++ === 0) {
      if (this.i32.length === 0) this.refreshViews(); // detached or out of bounds: see sync
      this.biased = takeHeapLock(this);
    }
    try {
      this.sync();
      followSharedMode(this);
    } catch (e) {
      this.unlockHeap();
      throw e;
    }
  }

  /** @internal Counts the heap lock as held by this Heap after it took it over from a dead thread (slots.ts releaseThreadSlot). */
  adoptLock(): void {
    this.lockDepth = 1;
    this.sync();
  }

  /**
   * @internal Installs the fast paths of this Heap's mode: the prototype's
   * alloc and free alone, allocShared and freeShared as own properties in
   * shared mode. Heap overrides it while debug mode's own calls are in
   * place (they call coreAlloc and coreFree).
   */
  installFastPaths(): void {
    const self = this as { alloc: (n: number) => number; free: (a: number) => void };
    if (this.sharedMode) {
      this.casWord = wasmCompareExchange(this.memoryObject) ?? this.casWord;
      self.alloc = allocShared;
      self.free = freeShared;
    } else {
      // Back to the prototype's calls. Own properties are reassigned, never
      // deleted: on Node 24 (V8 13) deleting them turned the Heap into a
      // dictionary-mode object, and optimized code then read it, at every
      // site that had seen it, through V8's generic load stub (a Collector's
      // priming did this to its scratch heap: gc.alloc loops ran 2.5x
      // slower). A heap that never had them gets none.
      if (Object.hasOwn(this, "free")) self.free = proto.free;
      if (Object.hasOwn(this, "alloc")) self.alloc = proto.alloc;
    }
  }

  /** @internal Arms the profiler's countdown of the class at word cw, if the profiler is on. */
  rearmSample(cw: number): void {
    if (this.profiler !== null) this.armSample(cw, this.profiler);
  }

  /** @internal Forgets the heap lock without releasing it (slots.ts: a heap left broken). */
  abandonLock(): void {
    this.lockDepth = 0;
    this.biased = false;
  }

  /** @internal Releases the heap lock taken by lockHeap. */
  unlockHeap(): void {
    if (--this.lockDepth !== 0) return;
    const biased = this.biased;
    this.biased = false;
    releaseHeapLock(this, biased);
  }

  /**
   * @internal Samples the live-bytes peak (stats.ts: every path that lowers
   * the live bytes past what the cache lists can hide takes a sample first).
   * A sweeper calls it before a run of freeLine calls.
   */
  samplePeakLive(): void {
    notePeakLive(this);
  }

  /**
   * @internal A sweeper's bulk frees (collections/gc-sweep.ts), under the
   * heap lock held around a run of calls. freeLine: the blocks that start at
   * the granules `starts` names of the 128-byte line at `line` (bit 2k: the
   * granule at line + 8k), onto their span's free list, if all are live
   * blocks of one small span; O(1) plus about 1 ns a block. freeSpan: every
   * object of the one-page small span at `page`, the page given back, if
   * `starts[k]` (freeLine's, of its k-th line) are all its objects in use
   * (none cached), returning how many; O(a page's lines), no write into the
   * page. Otherwise, and in shared mode (other threads change the same
   * bitmap words), false or 0 with nothing changed: free() those. HeapCorruptionError for damaged span
   * metadata (the heap unchanged); OffheapTypeError without the lock.
   */
  freeLine(line: number, starts: number): boolean {
    return this.sweeping("Heap.freeLine") && returnLine(this, line, starts);
  }

  /** @internal (freeLine's comment) */
  freeSpan(page: number, starts: Uint32Array): number {
    return this.sweeping("Heap.freeSpan") ? returnSpan(this, page, starts) : 0;
  }

  private sweeping(api: string): boolean {
    if (this.lockDepth === 0) throw new OffheapTypeError(`${api}: the caller does not hold the heap lock (lockHeap)`);
    return !this.sharedMode;
  }

  /** @internal Usable bytes of the live block at `addr`, unchecked (addr must be one): also the collector's scan (collections/collector.ts). */
  usable(addr: number): number {
    return usableBytes(this, addr);
  }

  /** @internal Address of the first data page: no block lies below it (the collector's bitmaps start there). */
  get dataStart(): number {
    return this.firstDataPage * PAGE_SIZE;
  }

  /** @internal Commits pages [0, endPage) in the backing memory. */
  commit(endPage: number): boolean {
    const bytes = endPage * PAGE_SIZE;
    if (bytes <= this.u8.length) return true;
    if (!this.backing.grow(bytes)) return false;
    this.refreshViews();
    return true;
  }

  /** @internal Growth policy: pages to add beyond the need when the heap grows. */
  growStepPages(): number {
    const committed = (this.endPage - this.firstDataPage) * PAGE_SIZE;
    return Math.ceil((this.growByBytes >= 0 ? this.growByBytes : defaultGrowBytes(committed)) / PAGE_SIZE);
  }

  /** @internal True once detach() ran: every call of this Heap throws. */
  get isDetached(): boolean {
    return this.detached;
  }

  /** @internal True if bytes [0, end) are committed (the views brought up to date first if they are shorter). */
  covers(end: number): boolean {
    if (end > this.endPage * PAGE_SIZE) this.sync();
    return end <= this.endPage * PAGE_SIZE;
  }

  // Re-reads the views and committed end, which another Heap on the memory may have changed; every
  // slow path calls it first (a fast path's stale view reads undefined or 0 and sends it here). A
  // view a growth detached or a shrink put out of bounds reads as empty; one shorter than a grown
  // memory is replaced once the committed end passes it. (Comparing buffers: 50-80 ns a call.)
  /** @internal */
  protected sync(): void {
    if (this.detached) throw new OffheapTypeError("Heap: this Heap is detached (detach() was called); attach the memory again to use the heap");
    if (this.u8.length === 0) this.refreshViews();
    let end = this.u32[HDR_END_PAGE]!;
    // Other threads may have grown the memory (and this thread's buffer may
    // not show it yet: Backing.refresh), again after each new look: read
    // the end again until the views are longer or the memory did not grow.
    while (end * PAGE_SIZE > this.u8.length) {
      if (this.u8.length === viewLength(this.backing.buffer, this.rangeBytes)) this.backing.refresh();
      if (this.u8.length === viewLength(this.backing.buffer, this.rangeBytes)) break; // damage, named below
      this.refreshViews();
      end = this.u32[HDR_END_PAGE]!;
    }
    // Every slow path trusts the committed end: damage must not move it past the memory.
    if (!(end >= this.firstDataPage && end <= this.totalPages && end * PAGE_SIZE <= this.u8.length)) {
      if (end >= this.firstDataPage && end <= this.totalPages && end * PAGE_SIZE > this.backing.maxByteLength) {
        // Not damage: another Heap grew the image past what this one's buffer can ever show.
        throw new OffheapRangeError(`Heap: the heap has grown to ${end * PAGE_SIZE} bytes, past the ${this.backing.maxByteLength}-byte buffer this Heap was attached through, which cannot grow (a WebAssembly.Memory's buffer keeps the length it had when it was read); attach through the WebAssembly.Memory`);
      }
      throw new HeapCorruptionError("H1", `Heap: damaged metadata: committed end page ${end} is outside [${this.firstDataPage}, ${Math.min(this.totalPages, Math.floor(this.u8.length / PAGE_SIZE))}]`);
    }
    this.endPage = end;
  }

  /** @internal */
  protected refreshViews(): void {
    // One read of the buffer: another thread's growth can replace a shared memory's buffer between two.
    const buffer = this.backing.buffer;
    // A buffer of length 0 holds no image: a WebAssembly.Memory that grew detached it.
    if (buffer.byteLength === 0) throw new OffheapTypeError("Heap: the buffer this Heap was attached through was detached (a WebAssembly.Memory detaches its buffer when it grows); attach through the WebAssembly.Memory");
    Object.assign(this, createViews(buffer, viewLength(buffer, this.rangeBytes))); // the fields exist: the object keeps its shape
    noteBuffer(this); // a Heap attached through this buffer shares this one's slot (slots.ts)
  }

  // Checks that `addr` is the start of a live block and returns its span's
  // descriptor word index; otherwise throws the error that names why
  // (validate.ts). `freeing` selects DoubleFreeError for a free object's start.
  /** @internal (also debug mode's, debug.ts) */
  liveSpan(addr: unknown, api: string, freeing: boolean): number {
    if (typeof addr !== "number") throw new OffheapTypeError(`${api}: address must be a number, got ${typeof addr}`);
    this.sync();
    return liveSpan(this, addr, api, freeing);
  }

  // liveSpan for the plain calls, which must also know the blocks debug mode
  // allocated (G_LIVE_DEBUG, debug-trailer.ts): one that waits in a
  // quarantine is not allocated, and one whose trailer is damaged was
  // written past its end. A live one's size for the program is what debug
  // mode was asked for (plainSize).
  /** @internal */
  protected plainSpan(addr: unknown, api: string, freeing: boolean): number {
    const dw = this.liveSpan(addr, api, freeing);
    plainAccessSize(this, addr as number, this.usable(addr as number), api, freeing);
    return dw;
  }

  /** @internal plainSpan, returning the bytes of the block the program may use: its usable size, or a debug block's requested size. */
  protected plainSize(addr: unknown, api: string): number {
    this.liveSpan(addr, api, false);
    return plainAccessSize(this, addr as number, this.usable(addr as number), api, false);
  }
}

const proto = Allocator.prototype;

// Set once the first Heap of this thread has run free(0) (primeFree).
let freePrimed = false;

/**
 * @internal Gives free's call of its slow cases (freeRest) type feedback
 * before V8 optimizes free: the Heap constructor calls it once the Heap
 * has its final shape. V8 keeps feedback for a function only once it has
 * run for a while (24 calls of free(0) were enough on Node 20 and 24, 16
 * were not), so the first Heap of a thread makes 64; the others nothing.
 */
export function primeFree(h: Allocator): void {
  if (freePrimed) return;
  freePrimed = true;
  for (let i = 0; i < 64; i++) proto.free.call(h, 0);
}
