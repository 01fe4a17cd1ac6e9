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
//     class's cache list (its head is a header word; the link is stored in
//     the free object), set the object's bit in the allocation bitmap,
//     count the pop, return. About a dozen machine operations, no JS object.
//  2. The list is empty: refill it (central.ts) with the free lists of
//     partial spans, an empty span, or a new span from the page heap.
//  3. size > 32 KiB: a large block of whole pages, best fit from the page
//     heap; grow the backing memory when no free run fits.
//
// Freeing `addr`:
//  1. Check that addr is in the committed pages, 8-byte aligned, and that
//     its bitmap bit is set: the bit is set exactly at the first byte of a
//     live block, so this one test rejects double frees and interior or
//     foreign addresses in O(1).
//  2. Clear the bit; read the class from the page's descriptor; push the
//     object on the class's cache list.
//  3. Only if the list passed its bound, flush half of it to the spans
//     (central.ts: flushCache). Large blocks go back to the page heap,
//     coalescing with both neighbours.
//  Anything the check rejects goes to a slow path that names the error.

import {
  hex, HeapCorruptionError, InvalidAddressError, InvalidImageError, OffheapRangeError,
  OffheapTypeError, OutOfMemoryError,
} from "../errors.js";
import { type Backing, type MemoryOption, openBacking, WASM_PAGE_SIZE } from "../memory/backing.js";
import { createViews } from "../memory/views.js";
import * as classof from "./class-of.js";
const { CLASS_OF_GRANULE, classHash, sizeClassOf } = classof;
import * as sizeclasses from "./size-classes.js";
const { CLASS_SIZE, MAX_SMALL_SIZE, N_CLASSES } = sizeclasses;
import * as layout from "./layout.js";
const { ALIGN_MASK, BITMAP_W, CC_HEAD, CC_LIMIT, CC_POPS, CC_PUSHES, CC_REQUESTED, CC_SAMPLE_AT, CC_SHIFT, D_CLASS,
  D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, geometry, HDR_CACHE, HDR_CLASS_HASH, HDR_DESC_OFF,
  HDR_END_PAGE, HDR_F64_REQUESTED, HDR_FIRST_DATA_PAGE, HDR_LARGE_PAGES, HDR_MAGIC, HDR_N_CLASSES,
  HDR_PAGE_SHIFT, HDR_TOTAL_PAGES, HDR_VERSION, HEADER_BYTES, KIND_FREE, MAGIC,
  MAX_RANGE_BYTES, PAGE_SHIFT, PAGE_SIZE, SAMPLE_NEVER, VERSION } = layout;
import type { Core } from "./core.js";
import {
  allocLarge, cachedSpan, cacheOverflow, flushCaches, freeLarge, initCaches, notePeakLive, refill, releaseEmptySpans,
} from "./central.js";
import { cutTail, extend, freeRun, growFor, insertRun, removeRun } from "./page-heap.js";
import { checkHeap } from "./check.js";
import { checkOption, checkSize, defaultMaxSize, imageProblem, liveSpan } from "./validate.js";
import { loadImage, saveImage, writeFileBytes } from "./image-file.js";
import { type HeapProfile, makeProfiler, type Profiler, type ProfileOptions } from "./profile.js";
import { gzipHeapProfile } from "./pprof.js";
import { checkRoots, getRoot, rootNames, setRoot } from "./roots.js";
import { type DebugHeap, debugDefaults, installDebug, liveBlocks } from "./debug.js";
import type { DebugOptions, LeakSite } from "../common/debug-kit.js";
import { heapStats, type HeapStats } from "./stats.js";
import { formatStats } from "./format-stats.js";
import { heapSnapshot, type HeapSnapshot } from "../debug/snapshot.js";
import { writeHeapMap } from "../debug/write-heap-map.js";
import type { HeapMapOptions } from "../debug/heap-map.js";
import { utf8Length } from "./utf8.js";

/** Options of `new Heap()`. Sizes are in bytes. */
export interface HeapOptions {
  /** Bytes of pages committed at creation, beyond the metadata. Default 1 MiB. */
  initialSize?: number;
  /**
   * Address range of the heap: the backing memory never grows past it, and
   * its metadata (2%) is sized for it. Default 2 GiB, at most 4 GiB. Up to
   * 2 GiB every address is a small integer to V8; above it, addresses past
   * 2 GiB are heap numbers and may cost an allocation when returned.
   */
  maxSize?: number;
  /**
   * Backing memory: `"wasm"` (default: a WebAssembly.Memory, shared where the
   * platform allows, grows in place, full-speed views, usable by wasm code),
   * `"resizable"` (a resizable ArrayBuffer: trim() returns memory to the OS,
   * views about 2x slower), or
   * an existing ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory, which
   * the heap formats from offset 0 and grows only as far as the object can
   * (for a WebAssembly.Memory, pass maxSize unless the engine can report the
   * memory's maximum; the default is then its current size).
   */
  memory?: MemoryOption;
  /** Bytes added beyond the need when the heap grows. Default: half the committed pages, at least 1 MiB. */
  growBy?: number;
  /** Grow ahead of need once pages in use exceed this share of committed pages, in (0, 1]. Default 1 (grow on need). */
  growAt?: number;
  /**
   * Debug mode (debug.ts): overflow canaries, use-after-free poisoning with
   * a quarantine, junk-filled new blocks and allocation sites for
   * `leaks()`. `true` or options; default off, or on under the package's
   * "development" export condition. Off, it costs nothing.
   */
  debug?: boolean | DebugOptions;
  /**
   * Sampling heap profiler (profile.ts): one sample on average every
   * `sampleInterval` bytes (default 512 KiB), read by `profile()` and
   * `writeHeapProfile()`. `true` or options; default off (no cost).
   */
  profile?: boolean | ProfileOptions;
}

/** Options of `Heap.attach`. */
export type AttachOptions = Pick<HeapOptions, "growBy" | "growAt" | "debug" | "profile">;

/** Options of `Heap.load`: the kind of backing memory to load into, and the growth policy. */
export interface LoadOptions extends AttachOptions {
  /** `"wasm"` (default) or `"resizable"`, as in HeapOptions.memory. */
  memory?: "wasm" | "resizable";
}

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
export class Heap implements Core {
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
  /** @internal */ readonly descW: number;
  /** @internal */ readonly firstDataPage: number;
  /** @internal */ readonly totalPages: number;
  private readonly rangeBytes: number;
  /** @internal */ endPage: number;
  /** @internal */ readonly growAt: number;
  private readonly growByBytes: number;
  private readonly backing: Backing;
  private debugHeap: DebugHeap | null = null;
  /** @internal Debug mode's options, when on; allocators over this heap follow them. */
  debugOptions: DebugOptions | null = null;
  /** @internal The sampling profiler, when on (profile.ts). */
  profiler: Profiler | null = null;

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
    this.format();
    extend(this, initialPages);
    this.installTools(options);
  }

  // Debug mode replaces alloc, free and the other block calls with own
  // properties of this object; a heap without it keeps the plain methods.
  // The profiler lives in the plain methods (a countdown the fast path
  // tests, profile.ts), so it needs no calls of its own.
  private installTools(options: HeapOptions): void {
    this.installDebug(options.debug ?? debugDefaults.debug);
    const profile = options.profile ?? false;
    if (profile !== false) {
      // Arms every class's countdown (layout.ts CC_SAMPLE_AT); the plain alloc does the rest.
      const p = this.profiler = makeProfiler(profile === true ? {} : profile, proto.alloc);
      for (let cls = 1; cls <= N_CLASSES; cls++) this.armSample(HDR_CACHE + (cls << CC_SHIFT), p);
    }
  }

  private installDebug(debug: boolean | DebugOptions): void {
    if (debug === false) return;
    this.debugOptions = debug === true ? {} : debug;
    const heap = this;
    this.debugHeap = installDebug(this, {
      get u8() { return heap.u8; },
      get u32() { return heap.u32; },
      alloc: (n) => proto.alloc.call(heap, n),
      free: (addr) => proto.free.call(heap, addr),
      liveUsable: (addr, api, freeing) => {
        heap.liveSpan(addr, api, freeing);
        return heap.usable(addr);
      },
      checkSize: (api, n) => checkSize(api, n, heap.totalPages * PAGE_SIZE),
      liveBlocks: () => liveBlocks(heap),
      view: (addr, n) => new Uint8Array(heap.backing.buffer, addr, n),
      get profiler() { return heap.profiler; },
    }, debug === true ? {} : debug);
  }

  /**
   * Opens the heap image held by `memory` (made by `new Heap`, or a copy of
   * one) without changing it; the returned Heap sees every live block. A
   * plain ArrayBuffer cannot grow, so a heap attached to one is limited to
   * its length. Throws InvalidImageError if `memory` holds no image this
   * version can open.
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

  /**
   * Allocates `sizeBytes` and returns the block's address: an integer > 0,
   * 8-byte aligned. `alloc(0)` returns a unique 8-byte block, as malloc does.
   * Contents are not cleared (see calloc). Throws TypeError/RangeError for a
   * size that is not a non-negative safe integer or exceeds maxSize (the
   * heap is unchanged then), and OutOfMemoryError when no free pages fit and
   * the heap cannot grow (live blocks, contents and counts are unchanged;
   * free objects cached by size classes may have been returned to the page
   * pool while trying).
   * Cost: O(1); no JS allocation.
   */
  alloc(sizeBytes: number): number {
    if ((sizeBytes >>> 0) === sizeBytes && sizeBytes <= MAX_SMALL_SIZE) {
      const cw = HDR_CACHE + (CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]! << CC_SHIFT);
      const u32 = this.u32;
      const addr = u32[cw + CC_HEAD]!;
      // The first test rejects 0 (an empty list), undefined (read through
      // a view that another Heap on the same memory detached by growing it)
      // and a damaged link into the header page (a small number written
      // after free); the length test, a view that a growth left short
      // (resizable and shared buffers) and a link past the memory; the bit
      // test, a link to a live block (a cycle, or a write after free).
      // allocSlow re-syncs, or names the damage. What these tests cost, and
      // why the bound is the header and not every metadata page: central.ts.
      if (addr >= HEADER_BYTES && addr >>> 2 < u32.length) {
        const bitW = BITMAP_W + (addr >>> 8);
        const word = u32[bitW]!;
        const bit = 1 << ((addr >>> 3) & 31);
        // | 0: int32 math; the counts stay far below 2^31 (layout.ts)
        const requested = (u32[cw + CC_REQUESTED]! + sizeBytes) | 0;
        // The last test is the heap profiler's countdown (profile.ts).
        if ((word & bit) === 0 && requested <= (u32[cw + CC_SAMPLE_AT]! | 0)) {
          u32[cw + CC_HEAD] = u32[addr >>> 2]!;
          u32[cw + CC_POPS] = (u32[cw + CC_POPS]! + 1) | 0;
          u32[cw + CC_REQUESTED] = requested;
          u32[bitW] = word | bit;
          return addr;
        }
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
      // After the sync, a head the fast path refused is damage (in the
      // header, past the memory, a live block): cachedSpan names it.
      const cls = CLASS_OF_GRANULE[(sizeBytes + 7) >>> 3]!;
      const cw = HDR_CACHE + (cls << CC_SHIFT);
      const u32 = this.u32;
      if (((u32[cw + CC_REQUESTED]! + sizeBytes) | 0) > (u32[cw + CC_SAMPLE_AT]! | 0)) return this.allocSampled(sizeBytes, cw, api);
      const head = u32[cw + CC_HEAD]!;
      if (head !== 0) cachedSpan(this, head, cls);
      if (head !== 0 || refill(this, cls) !== 0) return proto.alloc.call(this, sizeBytes);
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
    // No bit is set past the committed end, so the bound is the views' end
    // (never past the range the bitmap covers); a stale view fails it.
    if ((addr >>> 0) === addr && (addr & ALIGN_MASK) === 0 && addr >>> 2 < u32.length) {
      const bitW = BITMAP_W + (addr >>> 8);
      const bit = 1 << ((addr >>> 3) & 31);
      const word = u32[bitW]!;
      if ((word & bit) !== 0) {
        u32[bitW] = word ^ bit;
        const cls = u32[this.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT) + D_CLASS]!;
        if (cls !== 0 && cls <= N_CLASSES) {
          const cw = HDR_CACHE + (cls << CC_SHIFT);
          const pushes = (u32[cw + CC_PUSHES]! + 1) | 0;
          u32[addr >>> 2] = u32[cw + CC_HEAD]!;
          u32[cw + CC_HEAD] = addr;
          u32[cw + CC_PUSHES] = pushes;
          if (pushes > (u32[cw + CC_LIMIT]! | 0)) cacheOverflow(this, cls);
        } else {
          freeLarge(this, addr, cls); // class 0; a class outside the table is damage, which it reports
          if (this.profiler !== null) this.profiler.unsample(addr);
        }
        return;
      }
    }
    if (addr !== 0) this.freeSlow(addr);
  }

  // Frees through the checks of liveSpan: reached for misuse (which throws),
  // and for a live block whose bit the fast path could not see because this
  // Heap's views went stale (another Heap on the memory grew it).
  private freeSlow(addr: number): void {
    this.sync();
    this.liveSpan(addr, "Heap.free", true);
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
    const dw = this.liveSpan(addr, "Heap.realloc", true);
    const u32 = this.u32;
    const cls = u32[dw + D_CLASS]!;
    if (cls !== 0) {
      if (sizeBytes <= MAX_SMALL_SIZE && sizeClassOf(sizeBytes) === cls) {
        this.f64[HDR_F64_REQUESTED] = this.f64[HDR_F64_REQUESTED]! + sizeBytes;
        return addr;
      }
    } else if (sizeBytes > MAX_SMALL_SIZE && this.resizeLarge(addr >>> PAGE_SHIFT, Math.ceil(sizeBytes / PAGE_SIZE))) {
      this.u32[dw + D_USED] = sizeBytes;
      this.f64[HDR_F64_REQUESTED] = this.f64[HDR_F64_REQUESTED]! + sizeBytes;
      this.profiler?.resized(addr, sizeBytes);
      return addr;
    }
    const oldUsable = this.usable(addr);
    const moved = this.alloc(sizeBytes);
    this.u8.copyWithin(moved, addr, addr + Math.min(oldUsable, sizeBytes));
    this.free(addr);
    return moved;
  }

  // Resizes the large block at page s to `want` pages in place; false if the
  // pages after it are not free (and cannot be committed).
  private resizeLarge(s: number, want: number): boolean {
    let u32 = this.u32;
    const dw = this.descW + (s << DESC_SHIFT);
    const n = u32[dw + D_NPAGES]!;
    const after = s + n;
    if (want < n) {
      u32[dw + D_NPAGES] = want;
      u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! - (n - want);
      freeRun(this, s + want, n - want);
      return true;
    }
    const need = want - n;
    if (need === 0) return true;
    if (after === this.endPage && !growFor(this, need)) return false;
    u32 = this.u32;
    const aw = this.descW + (after << DESC_SHIFT);
    if (after >= this.endPage || u32[aw + D_KIND] !== KIND_FREE || u32[aw + D_NPAGES]! < need) return false;
    const have = u32[aw + D_NPAGES]!;
    removeRun(this, after);
    if (have > need) insertRun(this, after + need, have - need);
    for (let p = after; p < after + need; p++) u32[this.descW + (p << DESC_SHIFT) + D_OWNER] = s; // D_CLASS of free pages is 0
    u32[dw + D_NPAGES] = want;
    u32[HDR_LARGE_PAGES] = u32[HDR_LARGE_PAGES]! + need;
    return true;
  }

  /** Usable size of the live block at `addr`: its class size, or its whole pages. Throws InvalidAddressError otherwise. */
  sizeOf(addr: number): number {
    this.liveSpan(addr, "Heap.sizeOf", false);
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
    this.liveSpan(addr, "Heap.bytes", false);
    const usable = this.usable(addr);
    const n = length ?? usable;
    if (!Number.isSafeInteger(n) || n < 0 || n > usable) {
      throw new OffheapRangeError(`Heap.bytes: length ${String(n)} is not an integer in [0, ${usable}] (the block's usable size)`);
    }
    return new Uint8Array(this.backing.buffer, addr, n);
  }

  /** Stores `str` as UTF-8 with a u32 byte-length prefix in a new block and returns its address. Errors as alloc. */
  fromString(str: string): number {
    if (typeof str !== "string") throw new OffheapTypeError(`Heap.fromString: expected a string, got ${typeof str}`);
    const n = utf8Length(str);
    const addr = this.alloc(4 + n);
    this.u32[addr >>> 2] = n;
    const u8 = this.u8;
    if (n === str.length) {
      for (let i = 0; i < n; i++) u8[addr + 4 + i] = str.charCodeAt(i);
    } else {
      encoder.encodeInto(str, u8.subarray(addr + 4, addr + 4 + n));
    }
    return addr;
  }

  /** Decodes a string stored by fromString. Throws InvalidAddressError if `addr` is not a live block holding one. */
  readString(addr: number): string {
    this.liveSpan(addr, "Heap.readString", false);
    const n = this.u32[addr >>> 2]!;
    if (4 + n > this.usable(addr)) {
      throw new InvalidAddressError(`Heap.readString: the block at ${hex(addr)} does not hold a string from fromString (length prefix ${n} exceeds the block)`);
    }
    const bytes = this.u8.subarray(addr + 4, addr + 4 + n);
    return decoder.decode(this.backing.buffer instanceof ArrayBuffer ? bytes : bytes.slice());
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
   * growth. Returns the bytes removed from the committed range.
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
   * also a sample of the live-bytes peak. Cost: O(spans + size classes).
   */
  stats(): HeapStats {
    this.sync();
    notePeakLive(this);
    return heapStats(this);
  }
  /**
   * Every span of the heap (class, objects, live and free counts, or large
   * block, or free run) with the per-class rows and stats(), as one
   * JSON-serializable object: what the heap map draws. Cost: O(committed pages).
   */
  snapshot(): HeapSnapshot {
    this.sync();
    return heapSnapshot(this);
  }

  /**
   * Writes the heap map (a self-contained HTML page: every page a cell,
   * coloured by owner and shaded by occupancy) to `path`; resolves to the
   * bytes written. Node only (node:fs); elsewhere use
   * `heapMapHtml(heap.snapshot())`.
   */
  writeHeapMap(path: string, options: HeapMapOptions = {}): Promise<number> {
    return writeHeapMap(path, this.snapshot(), options);
  }

  /** `stats()` as an aligned text table, like jemalloc's malloc_stats_print (format-stats.ts). Cost: O(spans). */
  formatStats(): string {
    return formatStats(this.stats());
  }


  /**
   * Validates every invariant of the image (layout.ts lists them) and
   * throws HeapCorruptionError naming the first one broken. Cost: O(committed
   * bytes / 64); for tests and debugging, not for hot paths.
   */
  check(): void {
    this.sync();
    const problem = imageProblem(this.u32, this.backing.buffer.byteLength);
    if (problem !== "") throw new HeapCorruptionError("H1", `Heap.check: ${problem}`);
    checkHeap(this);
    checkRoots(this);
    this.debugHeap?.check();
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
   * Writes `profile()` to `path` as a gzipped pprof protobuf (`go tool pprof
   * path`, Speedscope). Node only (node:fs); elsewhere use
   * `encodeHeapProfile(heap.profile())`. Errors as profile().
   */
  async writeHeapProfile(path: string): Promise<void> {
    await writeFileBytes(path, await gzipHeapProfile(this.profile()), "Heap.writeHeapProfile");
  }

  /**
   * Debug mode only: the live blocks grouped by the stack that allocated
   * them, largest total first (blocks whose site was not sampled are one
   * group). Throws OffheapTypeError if debug mode is off. Cost: O(live blocks).
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

  private format(): void {
    const u32 = this.u32;
    u32[HDR_MAGIC] = MAGIC;
    u32[HDR_VERSION] = VERSION;
    u32[HDR_PAGE_SHIFT] = PAGE_SHIFT;
    u32[HDR_N_CLASSES] = N_CLASSES;
    u32[HDR_CLASS_HASH] = classHash();
    u32[HDR_TOTAL_PAGES] = this.totalPages;
    u32[HDR_FIRST_DATA_PAGE] = this.firstDataPage;
    u32[HDR_END_PAGE] = this.firstDataPage;
    u32[HDR_DESC_OFF] = this.descW << 2;
    initCaches(u32);
  }

  // Checks that `addr` is the start of a live block and returns its span's
  // descriptor word index; otherwise throws the error that names why
  // (validate.ts). `freeing` selects DoubleFreeError for a free object's start.
  private liveSpan(addr: unknown, api: string, freeing: boolean): number {
    if (typeof addr !== "number") throw new OffheapTypeError(`${api}: address must be a number, got ${typeof addr}`);
    this.sync();
    return liveSpan(this, addr, api, freeing);
  }
}

const proto = Heap.prototype;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
