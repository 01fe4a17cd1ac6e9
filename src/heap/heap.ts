// Heap: the core allocator of offheap.
//
// Overview
//
// A heap serves alloc/free by address inside one backing memory (a
// WebAssembly.Memory by default; see memory/backing.ts). Every piece of its
// state lives in that memory (layout.ts draws the image), so a copy of the
// bytes is the same heap and Heap.attach opens it again.
//
// Glossary (as DESIGN.md): a page is 8 KiB; a span is a run of pages with
// one owner (a size class, one large block, or the free pool); a size class
// is one of 71 object sizes from 8 B to 32 KiB (size-classes.ts, generated);
// the page heap (page-heap.ts) finds, splits and coalesces runs of pages;
// the central lists (central.ts) hold each class's spans; the allocation
// list of a class is its local cache, the objects the fast paths pop and push.
//
// Allocating `size` bytes:
//  1. size <= 32 KiB: class = CLASS_OF_GRANULE[(size + 7) >>> 3]. Pop the
//     class's cache list (a stack of addresses in the metadata; its count
//     is a header word), make the object's granule G_LIVE in the
//     allocation bitmap, count the pop, return. About a dozen machine
//     operations, no JS object; nothing read from the free object, so a
//     write after free cannot steer it (layout.ts).
//  2. The list is empty: refill it (central.ts) with the free lists of
//     partial spans, an empty span, or a new span from the page heap.
//  3. size > 32 KiB: a large block of whole pages, best fit from the page
//     heap; grow the backing memory when no free run fits.
//
// Freeing `addr`:
//  1. Check that addr is in the memory, 8-byte aligned, and that its
//     granule in the allocation bitmap is G_LIVE: a live block starts
//     exactly there, so this one test rejects double frees and interior or
//     foreign addresses in O(1).
//  2. Read the class from the page's descriptor; make the granule G_FREE;
//     push the object on the class's cache list.
//  3. Only if the list is full, flush its older half to the spans
//     (central.ts: flushCache) first. Large blocks go back to the page heap,
//     coalescing with both neighbours.
//  Anything the check rejects goes to a slow path that names the error.

//
// Files: layout.ts (the image), granules.ts (the allocation bitmap),
// page-heap.ts (runs of pages, the span walker), central.ts (spans of each
// class, cache lists, large blocks), lists.ts (span lists), blocks.ts (live
// blocks), check.ts and validate.ts (invariants, argument checks), stats.ts
// and snapshot.ts (what the image holds), image.ts and image-file.ts (its
// header and files), debug.ts and debug-trailer.ts (debug mode), profile.ts
// (sampling), roots.ts (named roots), strings.ts, options.ts.

import {
  hex, DoubleFreeError, HeapCorruptionError, InvalidAddressError, InvalidImageError, OffheapRangeError,
  OffheapTypeError, OutOfMemoryError,
} from "../errors.js";
import { type Backing, openBacking, WASM_PAGE_SIZE } from "../memory/backing.js";
import { createViews } from "../memory/views.js";
import * as classof from "./class-of.js";
const { CLASS_OF_GRANULE, sizeClassOf } = classof;
import * as sizeclasses from "./size-classes.js";
const { CLASS_SIZE, MAX_SMALL_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { ALIGN_MASK, BITMAP_W, CC_LIMIT, CC_TOP, CC_POPS, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, D_CLASS,
  D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, G_FREE, G_LIVE, G_LIVE_DEBUG, geometry, GRANULE_SHIFT_MASK, GRANULE_WORD_SHIFT,
  HDR_CACHE, HDR_DESC_OFF, HDR_END_PAGE, HDR_F64_REQUESTED, HDR_FIRST_DATA_PAGE, HDR_QUARANTINED, HDR_TOTAL_PAGES,
  HEADER_BYTES, MAX_RANGE_BYTES, PAGE_SHIFT, PAGE_SIZE, SAMPLE_NEVER } = layout;
import type { Core } from "./core.js";
import {
  allocLarge, cachedSpan, cacheOverflow, flushCaches, foldCounts, freeLarge, notePeakLive, refill, releaseEmptySpans,
} from "./central.js";
import { cutTail, extend, resizeLarge } from "./page-heap.js";
import { granuleState, setGranule } from "./granules.js";
import { checkHeap } from "./check.js";
import { checkOption, checkSize, defaultMaxSize, liveSpan } from "./validate.js";
import { formatImage, imageProblem } from "./image.js";
import { loadImage, saveImage } from "./image-file.js";
import { type HeapProfile, makeProfiler, type Profiler } from "./profile.js";
import { checkRoots, getRoot, rootNames, setRoot } from "./roots.js";
import { type DebugHeap, debugDefaults, installDebug } from "./debug.js";
import { checkDebugBlocks, overflowError, quarantinedBlocks, TRAILER_DAMAGED, TRAILER_FREED, trailerState } from "./debug-trailer.js";
import type { DebugOptions, LeakSite } from "../common/debug-kit.js";
import { heapStats, type HeapStats } from "./stats.js";
import { formatStats } from "./format-stats.js";
import { heapSnapshot, type HeapSnapshot } from "./snapshot.js";
import { readString, writeString } from "./strings.js";
import type { AttachOptions, HeapOptions, LoadOptions } from "./options.js";

const MIB = 1 << 20;

// Set by Heap.attach around its `new Heap` so the constructor opens an image
// instead of formatting one; keeps one constructor and one object shape.
let attaching: Backing | null = null;

/**
 * A heap inside one backing memory. `alloc` returns an address (a byte
 * offset, 8-byte aligned, never 0); read and write the block through the
 * typed views (`heap.u32[p >>> 2]`), which are replaced when the heap grows:
 * read `heap.u32` afresh after any call that can allocate.
 *
 * @example
 * const heap = new Heap({ initialSize: 1 << 20, maxSize: 1 << 30 });
 * const p = heap.alloc(24);
 * heap.u32[p >>> 2] = 9527;
 * heap.free(p);
 */
export class Heap {
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
  /** @internal Committed end page, a cache of HDR_END_PAGE (Core). */
  endPage: number;
  /** @internal Growth policy (central.ts acquirePages). */
  readonly growAt: number;
  private readonly rangeBytes: number;
  private readonly growByBytes: number;
  private readonly backing: Backing;
  private debugHeap: DebugHeap | null = null;
  private debugSettings: Readonly<DebugOptions> | null = null;
  private profiler: Profiler | null = null;

  /**
   * Makes a new, empty heap. Throws RangeError for option values out of
   * range and OutOfMemoryError if the engine refuses the memory.
   */
  constructor(options: HeapOptions = {}) {
    const attached = attaching;
    attaching = null;
    this.growByBytes = checkOption("growBy", options.growBy, 0, MAX_RANGE_BYTES, -1);
    this.growAt = checkOption("growAt", options.growAt, Number.MIN_VALUE, 1, 1);
    if (attached !== null) {
      this.backing = attached;
      const u32 = new Uint32Array(attached.buffer, 0, HEADER_BYTES >>> 2);
      this.totalPages = u32[HDR_TOTAL_PAGES]!;
      this.rangeBytes = this.totalPages * PAGE_SIZE;
      this.descW = u32[HDR_DESC_OFF]! >>> 2;
      this.firstDataPage = u32[HDR_FIRST_DATA_PAGE]!;
      this.endPage = u32[HDR_END_PAGE]!;
      this.refreshViews();
      this.installTools(options);
      this.openQuarantine();
      return;
    }
    const memory = options.memory ?? "wasm";
    const fixed = memory instanceof ArrayBuffer && !memory.resizable;
    let maxBytes = checkOption("maxSize", options.maxSize, 0, MAX_RANGE_BYTES, defaultMaxSize(memory));
    if (typeof memory === "object" && !(memory instanceof WebAssembly.Memory)) {
      maxBytes = Math.min(maxBytes, (memory as { maxByteLength?: number }).maxByteLength ?? memory.byteLength);
    }
    if (memory === "wasm" || memory instanceof WebAssembly.Memory) maxBytes -= maxBytes % WASM_PAGE_SIZE;
    this.totalPages = Math.floor(maxBytes / PAGE_SIZE);
    this.rangeBytes = this.totalPages * PAGE_SIZE;
    const { descOff, firstDataPage } = geometry(this.totalPages);
    if (this.totalPages < firstDataPage + 1) {
      throw new OffheapRangeError(`Heap: maxSize ${maxBytes} leaves no room for pages after ${firstDataPage * PAGE_SIZE} bytes of metadata`);
    }
    const dataPages = this.totalPages - firstDataPage;
    const initialPages = fixed ? dataPages
      : Math.min(dataPages, Math.max(1, Math.ceil(checkOption("initialSize", options.initialSize, 0, MAX_RANGE_BYTES, MIB) / PAGE_SIZE)));
    this.backing = openBacking(memory, (firstDataPage + initialPages) * PAGE_SIZE, this.totalPages * PAGE_SIZE);
    this.descW = descOff >>> 2;
    this.firstDataPage = firstDataPage;
    this.endPage = firstDataPage;
    this.refreshViews();
    // Memory the heap created is zero; a user's buffer may hold anything.
    if (typeof memory === "object") this.u32.fill(0, 0, firstDataPage * (PAGE_SIZE >>> 2));
    formatImage(this.u32, this.totalPages);
    extend(this, initialPages);
    this.installTools(options);
  }

  // Debug mode replaces alloc, free and the other block calls with own
  // properties of this object; a heap without it keeps the plain methods.
  // The profiler lives in the plain methods (a countdown the fast path
  // tests, profile.ts), so it needs no calls of its own.
  private installTools(options: HeapOptions): void {
    const debug = options.debug ?? debugDefaults.debug;
    if (debug !== false) {
      const heap = this;
      this.debugSettings = debug === true ? {} : debug;
      this.debugHeap = installDebug(this, {
        core: this,
        alloc: (n) => proto.alloc.call(heap, n),
        free: (addr) => proto.free.call(heap, addr),
        liveUsable: (addr, api, freeing) => {
          heap.liveSpan(addr, api, freeing);
          return heap.usable(addr);
        },
        usable: (addr) => heap.usable(addr),
        checkSize: (api, n) => checkSize(api, n, heap.totalPages * PAGE_SIZE),
        view: (addr, n) => new Uint8Array(heap.backing.buffer, addr, n),
        get profiler() { return heap.profiler; },
      }, this.debugSettings);
    }
    const profile = options.profile ?? false;
    if (profile !== false) {
      // Arms every class's countdown (layout.ts CC_SAMPLE_AT); the plain alloc does the rest.
      const p = this.profiler = makeProfiler(profile === true ? {} : profile, proto.alloc);
      for (let cls = 1; cls <= N_CLASSES; cls++) this.armSample(HDR_CACHE + (cls << CC_SHIFT), p);
    }
  }

  // An image may hold blocks that debug mode freed into a quarantine (a
  // debug heap's image, saved or copied, or still in use by another Heap):
  // a debug heap takes them into its own quarantine, a heap without debug
  // mode releases them, so none stays allocated forever. Damage found on
  // the way is left for check() to name: opening a damaged image must work.
  private openQuarantine(): void {
    try {
      const blocks = quarantinedBlocks(this);
      if (this.debugHeap !== null) this.debugHeap.adopt(blocks);
      else {
        for (const addr of blocks) {
          setGranule(this.u32, addr, G_LIVE);
          this.u32[HDR_QUARANTINED] = this.u32[HDR_QUARANTINED]! - 1;
          proto.free.call(this, addr);
        }
      }
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) throw e;
    }
  }

  /**
   * Opens the heap image held by `memory` (made by `new Heap`, or a copy of
   * one); the returned Heap sees every live block. The image is not changed,
   * except that blocks debug mode freed into a quarantine are released when
   * the heap is opened without debug mode (with it, they wait in the new
   * heap's quarantine). A plain ArrayBuffer cannot grow, so a heap attached to
   * one is limited to its length. Throws InvalidImageError if `memory` holds
   * no image this version can open. Cost: O(1), plus O(live blocks) if some
   * wait in a quarantine.
   */
  static attach(memory: ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory, options: AttachOptions = {}): Heap {
    const buffer = memory instanceof WebAssembly.Memory ? memory.buffer : memory;
    if (buffer.byteLength < HEADER_BYTES) throw new InvalidImageError(`Heap.attach: ${buffer.byteLength} bytes is too short for a heap image`);
    const u32 = new Uint32Array(buffer, 0, HEADER_BYTES >>> 2);
    const problem = imageProblem(u32, buffer.byteLength);
    if (problem !== "") throw new InvalidImageError(`Heap.attach: ${problem}`);
    const totalBytes = u32[HDR_TOTAL_PAGES]! * PAGE_SIZE;
    attaching = openBacking(memory, u32[HDR_END_PAGE]! * PAGE_SIZE, totalBytes);
    return new Heap(options);
  }

  /** The backing memory object: a WebAssembly.Memory, ArrayBuffer or SharedArrayBuffer. */
  get memory(): ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory {
    return this.backing.memory;
  }

  /** The current buffer (replaced when a WebAssembly.Memory grows). */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.backing.buffer;
  }

  /** Debug mode's options when it is on, else null; allocators over this heap (ScalableAllocator) follow them. */
  get debugOptions(): Readonly<DebugOptions> | null {
    return this.debugSettings;
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
      const cw = HDR_CACHE + (CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]! << CC_SHIFT);
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
        u32[cw + CC_POPS] = (u32[cw + CC_POPS]! + 1) | 0;
        u32[cw + CC_REQUESTED] = requested;
        u32[bitW] = word ^ (3 << shift); // G_FREE -> G_LIVE
        return addr;
      }
    }
    return this.allocSlow(sizeBytes);
  }

  private allocSlow(sizeBytes: number, api = "Heap.alloc"): number {
    checkSize(api, sizeBytes, this.totalPages * PAGE_SIZE);
    this.sync();
    let addr: number;
    if (sizeBytes <= MAX_SMALL_SIZE) {
      // A refilled cache (or one this Heap's stale views could not see
      // before sync) serves the fast path, which pops and counts the block.
      // After the sync, an object on top that the fast path refused is
      // damage (a count past the array, a slot that is not a free object of
      // the class): foldCounts and cachedSpan name it.
      const cls = CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]!;
      const cw = HDR_CACHE + (cls << CC_SHIFT);
      const u32 = this.u32;
      if (((u32[cw + CC_REQUESTED]! + sizeBytes) | 0) > (u32[cw + CC_SAMPLE_AT]! | 0)) return this.allocSampled(sizeBytes, cw, api);
      const n = foldCounts(this, cls);
      if (n !== 0) cachedSpan(this, u32[u32[cw + CC_TOP]!]!, cls);
      if (n !== 0 || refill(this, cls) !== 0) return proto.alloc.call(this, sizeBytes);
      addr = 0;
    } else {
      addr = this.allocPages(sizeBytes);
      if (addr !== 0 && this.profiler !== null && this.profiler.countLarge(sizeBytes)) this.profiler.sample(addr, sizeBytes);
    }
    if (addr === 0) this.outOfMemory(api, sizeBytes);
    return addr;
  }

  private outOfMemory(api: string, sizeBytes: number): never {
    throw new OutOfMemoryError(`${api}: cannot allocate ${sizeBytes} bytes: the heap has ${this.endPage * PAGE_SIZE} bytes committed and may not grow past ${this.totalPages * PAGE_SIZE}`);
  }

  // A block of its own pages (a large block): for a large request, or a small one the profiler samples.
  private allocPages(sizeBytes: number, sample = false): number {
    const addr = allocLarge(this, sizeBytes, sample);
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
      return proto.alloc.call(this, sizeBytes);
    }
    const addr = this.allocPages(sizeBytes, true);
    if (addr === 0) this.outOfMemory(api, sizeBytes);
    this.armSample(cw, p); // after allocPages: growing may have folded the class's counts
    p.sample(addr, sizeBytes);
    return addr;
  }

  // Sets the threshold of the class at word cw one sampling distance past the bytes it has served.
  private armSample(cw: number, p: Profiler): void {
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
      if (((word >>> shift) & 3) === G_LIVE) {
        const cls = u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
        if (cls !== 0 && cls <= N_CLASSES) {
          const cw = HDR_CACHE + (cls << CC_SHIFT);
          const pushes = (u32[cw + CC_PUSHES]! + 1) | 0;
          // Past the bound, fold the counts and make room first (layout.ts: CC_LIMIT).
          if (pushes > (u32[cw + CC_LIMIT]! | 0)) {
            this.freeOverflow(addr, cls);
            return;
          }
          const top = u32[cw + CC_TOP]! + 1;
          u32[bitW] = word ^ (3 << shift); // G_LIVE -> G_FREE
          u32[top] = addr;
          u32[cw + CC_TOP] = top;
          u32[cw + CC_PUSHES] = pushes;
        } else {
          freeLarge(this, addr, cls); // class 0; a class outside the table is damage, which it reports
          if (this.profiler !== null) this.profiler.unsample(addr);
        }
        return;
      }
    }
    if (addr !== 0) this.freeSlow(addr);
  }

  // The free path's slow part, when class cls's pushes passed their bound:
  // folds the counts and makes room (central.ts), then frees again. Kept out
  // of free() so that free stays small enough for V8 to inline.
  private freeOverflow(addr: number, cls: number): void {
    cacheOverflow(this, cls);
    proto.free.call(this, addr);
  }

  // Frees through the checks of liveSpan: reached for misuse (which throws),
  // for a block debug mode allocated (G_LIVE_DEBUG), which becomes a plain
  // block, and for a live block the fast path could not see because this
  // Heap's views went stale (another Heap on the memory grew it).
  private freeSlow(addr: number): void {
    this.sync();
    this.plainSpan(addr, "Heap.free", true);
    if (granuleState(this.u32, addr) === G_LIVE_DEBUG) setGranule(this.u32, addr, G_LIVE);
    proto.free.call(this, addr);
  }

  /** Allocates `sizeBytes` and zeroes the whole usable block. Errors as alloc. */
  calloc(sizeBytes: number): number {
    checkSize("Heap.calloc", sizeBytes, this.totalPages * PAGE_SIZE);
    const addr = this.alloc(sizeBytes);
    this.u8.fill(0, addr, addr + this.usable(addr));
    return addr;
  }

  /**
   * Resizes the block at `addr` to `sizeBytes` and returns its address:
   * the same one when the block's class still fits or a large block can
   * grow or shrink in place, else a new block holding the old contents (the
   * old one is freed). `realloc(0, n)` is `alloc(n)`. On any error
   * (bad size, bad address, OutOfMemoryError) the old block is untouched.
   */
  realloc(addr: number, sizeBytes: number): number {
    checkSize("Heap.realloc", sizeBytes, this.totalPages * PAGE_SIZE);
    if (addr === 0) return this.alloc(sizeBytes);
    const dw = this.plainSpan(addr, "Heap.realloc", true);
    const u32 = this.u32;
    const cls = u32[dw + D_CLASS]!;
    let inPlace = false;
    if (cls !== 0) {
      inPlace = sizeBytes <= MAX_SMALL_SIZE && sizeClassOf(sizeBytes) === cls;
    } else if (sizeBytes > MAX_SMALL_SIZE && resizeLarge(this, addr >>> PAGE_SHIFT, Math.ceil(sizeBytes / PAGE_SIZE))) {
      this.u32[dw + D_USED] = sizeBytes;
      this.profiler?.resized(addr, sizeBytes);
      inPlace = true;
    }
    if (inPlace) {
      // A block debug mode allocated loses its trailer's meaning: it is a plain block now.
      if (granuleState(this.u32, addr) === G_LIVE_DEBUG) setGranule(this.u32, addr, G_LIVE);
      this.f64[HDR_F64_REQUESTED] = this.f64[HDR_F64_REQUESTED]! + sizeBytes;
      return addr;
    }
    const oldUsable = this.usable(addr);
    const moved = this.alloc(sizeBytes);
    this.u8.copyWithin(moved, addr, addr + Math.min(oldUsable, sizeBytes));
    this.free(addr);
    return moved;
  }

  /** Usable size of the live block at `addr`: its class size, or its whole pages. Throws InvalidAddressError otherwise. */
  sizeOf(addr: number): number {
    this.plainSpan(addr, "Heap.sizeOf", false);
    return this.usable(addr);
  }

  private usable(addr: number): number {
    const dw = this.descW + (this.u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_OWNER]! << DESC_SHIFT);
    const cls = this.u32[dw + D_CLASS]!;
    return cls !== 0 ? CLASS_SIZE[cls]! : this.u32[dw + D_NPAGES]! * PAGE_SIZE;
  }

  /**
   * A Uint8Array over the live block at `addr`: `length` bytes (default its
   * usable size). The view is a JS object over the current buffer; like the
   * heap's views, it goes stale when the heap grows.
   */
  bytes(addr: number, length?: number): Uint8Array {
    this.plainSpan(addr, "Heap.bytes", false);
    const usable = this.usable(addr);
    const n = length ?? usable;
    if (!Number.isSafeInteger(n) || n < 0 || n > usable) {
      throw new OffheapRangeError(`Heap.bytes: length ${String(n)} is not an integer in [0, ${usable}] (the block's usable size)`);
    }
    return new Uint8Array(this.backing.buffer, addr, n);
  }

  /** Stores `str` as UTF-8 with a u32 byte-length prefix in a new block and returns its address (strings.ts). Errors as alloc. */
  fromString(str: string): number {
    return writeString(this, str);
  }

  /** Decodes a string stored by fromString. Throws InvalidAddressError if `addr` is not a live block holding one. */
  readString(addr: number): string {
    this.plainSpan(addr, "Heap.readString", false);
    return readString(this, addr, this.usable(addr));
  }

  /** Frees a string made by fromString; same as free. */
  freeString(addr: number): void {
    this.free(addr);
  }

  /**
   * Returns empty spans and trailing free pages: the committed end moves
   * down to the last page in use, and a backing memory that can shrink
   * ("resizable") shrinks so the OS gets the memory back. A WebAssembly
   * memory cannot shrink; its pages stay reserved for the heap's next
   * growth. Returns the bytes removed from the committed range. Throws
   * HeapCorruptionError if the cache lists or spans it returns are damaged
   * (it stops at the damage; nothing live is lost).
   */
  trim(): number {
    this.sync();
    flushCaches(this);
    releaseEmptySpans(this);
    const pages = cutTail(this);
    if (pages > 0 && this.backing.shrink(this.endPage * PAGE_SIZE)) this.refreshViews();
    return pages * PAGE_SIZE;
  }

  /**
   * Statistics computed from the image (stats.ts documents every field);
   * also a sample of the live-bytes peak. Throws HeapCorruptionError if the
   * spans are damaged. Cost: O(spans + size classes).
   */
  stats(): HeapStats {
    this.sync();
    notePeakLive(this);
    return heapStats(this);
  }

  /**
   * Every span of the heap (class, objects, live and free counts, or large
   * block, or free run) with the per-class rows and stats(), as one
   * JSON-serializable object: what the heap map draws (offheap/debug).
   * Throws HeapCorruptionError if the spans are damaged. Cost: O(committed pages).
   */
  snapshot(): HeapSnapshot {
    this.sync();
    return heapSnapshot(this);
  }

  /** `stats()` as an aligned text table, like jemalloc's malloc_stats_print (format-stats.ts). Cost: O(spans). */
  formatStats(): string {
    return formatStats(this.stats());
  }

  /**
   * Validates every invariant of the image (layout.ts and debug-trailer.ts
   * list them) and throws HeapCorruptionError naming the first one broken.
   * Cost: O(committed bytes / 64); for tests and debugging, not for hot paths.
   */
  check(): void {
    this.sync();
    const problem = imageProblem(this.u32, this.backing.buffer.byteLength);
    if (problem !== "") throw new HeapCorruptionError("H1", `Heap.check: ${problem}`);
    checkHeap(this);
    checkRoots(this);
    const debug = this.debugHeap;
    checkDebugBlocks(this, "Heap.check", debug === null ? () => "" : debug.note);
  }

  /**
   * The live sampled heap: every sampled block still allocated, with its
   * size, the allocations and bytes it stands for, and its stack. Throws
   * OffheapTypeError if the profiler is off. Cost: O(samples).
   */
  profile(): HeapProfile {
    if (this.profiler === null) throw new OffheapTypeError("Heap.profile: the heap profiler is off; make the heap with { profile: true }");
    return this.profiler.profile();
  }

  /**
   * Debug mode only: the live blocks grouped by the stack that allocated
   * them, largest total first (blocks whose site was not sampled, or that
   * were allocated without debug mode, are one group). Throws
   * OffheapTypeError if debug mode is off. Cost: O(live blocks).
   *
   * @example
   * for (const { site, blocks, bytes } of heap.leaks()) console.log(`${bytes} B in ${blocks} blocks\n${site}`);
   */
  leaks(): LeakSite[] {
    if (this.debugHeap === null) throw new OffheapTypeError("Heap.leaks: debug mode is off; make the heap with { debug: true }");
    this.sync();
    return this.debugHeap.leaks();
  }

  /**
   * Stores `addr` (the start of a live block, or 0 to remove) in the image
   * under `name` (1 to 256 characters), so it can be found again after save
   * and load or attach: the way back to a collection built in the heap.
   * Throws InvalidAddressError for an address that is not a live block
   * start; OutOfMemoryError if the root directory cannot grow (roots are
   * unchanged then). Cost: O(roots).
   */
  setRoot(name: string, addr: number): void {
    this.sync();
    setRoot(this, name, addr);
  }

  /** The address stored under `name` by setRoot, or 0 if there is none. Cost: O(roots). */
  getRoot(name: string): number {
    this.sync();
    return getRoot(this, name);
  }

  /** Names of all roots. */
  rootNames(): string[] {
    this.sync();
    return rootNames(this);
  }

  /**
   * Writes the heap image (its committed bytes, behind a header with the
   * format version, page size and a checksum) to the file `path`, replacing
   * it atomically; resolves to the bytes written. Node only (node:fs).
   * Do not change the heap until the promise settles. Cost: one write of the
   * committed bytes plus a checksum pass.
   *
   * @example
   * heap.setRoot("users", users.address);
   * await heap.save("users.heap");
   * const again = await Heap.load("users.heap");
   */
  save(path: string): Promise<number> {
    this.sync();
    return saveImage(this.backing.buffer, this.endPage * PAGE_SIZE, this.rangeBytes, path);
  }

  /**
   * Opens a heap image file written by save() in a new backing memory
   * (`memory`: "wasm", the default, or "resizable"). Throws InvalidImageError
   * for a damaged, truncated or foreign file, or one of another format
   * version; nothing is opened then. Node only (node:fs). Cost: one read of
   * the file plus a checksum pass.
   */
  static async load(path: string, options: LoadOptions = {}): Promise<Heap> {
    const memory = await loadImage(path, options.memory ?? "wasm");
    return Heap.attach(memory, options);
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
    return Math.ceil((this.growByBytes >= 0 ? this.growByBytes : Math.max(MIB, committed / 2)) / PAGE_SIZE);
  }

  // Re-reads what this object caches of the image: views (another Heap on
  // the same memory may have grown or shrunk it) and the committed end.
  // Every slow path calls it first; the fast paths stay correct without it
  // because a stale view reads undefined or 0 and sends them here.
  private sync(): void {
    if (this.u8.buffer !== this.backing.buffer || this.u8.length !== this.viewBytes()) this.refreshViews();
    const end = this.u32[HDR_END_PAGE]!;
    // Every slow path trusts the committed end: damage must not move it past the memory.
    if (!(end >= this.firstDataPage && end <= this.totalPages && end * PAGE_SIZE <= this.u8.length)) {
      throw new HeapCorruptionError("H1", `Heap: damaged metadata: committed end page ${end} is outside [${this.firstDataPage}, ${Math.min(this.totalPages, Math.floor(this.u8.length / PAGE_SIZE))}]`);
    }
    this.endPage = end;
  }

  // Views cover the buffer up to the heap's range: never past what the
  // bitmap describes, even when a user's memory is bigger.
  private viewBytes(): number {
    const n = Math.min(this.backing.buffer.byteLength, this.rangeBytes);
    return n - (n & ALIGN_MASK);
  }

  private refreshViews(): void {
    const v = createViews(this.backing.buffer, this.viewBytes());
    this.u8 = v.u8;
    this.i8 = v.i8;
    this.u16 = v.u16;
    this.i16 = v.i16;
    this.u32 = v.u32;
    this.i32 = v.i32;
    this.f32 = v.f32;
    this.f64 = v.f64;
    this.dataView = v.dataView;
  }

  // Checks that `addr` is the start of a live block and returns its span's
  // descriptor word index; otherwise throws the error that names why
  // (validate.ts). `freeing` selects DoubleFreeError for a free object's start.
  private liveSpan(addr: unknown, api: string, freeing: boolean): number {
    if (typeof addr !== "number") throw new OffheapTypeError(`${api}: address must be a number, got ${typeof addr}`);
    this.sync();
    return liveSpan(this, addr, api, freeing);
  }

  // liveSpan for the plain calls, which must also know the blocks debug mode
  // allocated (G_LIVE_DEBUG, debug-trailer.ts): one that waits in a
  // quarantine is not allocated, and one whose trailer is damaged was
  // written past its end. A live one is a usable block like any other.
  private plainSpan(addr: unknown, api: string, freeing: boolean): number {
    const dw = this.liveSpan(addr, api, freeing);
    const a = addr as number;
    if (granuleState(this.u32, a) === G_LIVE_DEBUG) {
      const trailer = trailerState(this.u32, a, this.usable(a));
      if (trailer === TRAILER_FREED) {
        const what = `${hex(a)} is not allocated: debug mode freed it and it waits in a quarantine`;
        throw freeing ? new DoubleFreeError(`${api}: ${what} (double free)`) : new InvalidAddressError(`${api}: ${what}`);
      }
      if (trailer === TRAILER_DAMAGED) throw overflowError(api, a, ": the debug trailer of this block, allocated in debug mode, is damaged");
    }
    return dw;
  }
}

const proto = Heap.prototype;
