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
// is one of 78 object sizes from 8 B to 64 KiB (size-classes.ts, generated);
// the page heap (page-heap.ts) finds, splits and coalesces runs of pages;
// the central lists (central.ts) hold each class's spans; the allocation
// list of a class is its local cache, the objects the fast paths pop and push.
//
// How alloc and free work: allocator.ts, which holds both.
//
// Files: layout.ts (the image), granules.ts (the allocation bitmap),
// page-heap.ts (runs of pages, the span walker), central.ts (spans of each
// class, cache lists, large blocks), cache-lines.ts (where a slot's cache
// lines and arrays lie), lists.ts (span lists), blocks.ts (live
// blocks), check.ts and validate.ts (invariants, argument checks), stats.ts
// and snapshot.ts (what the image holds), image.ts and image-file.ts (its
// header and files), debug.ts and debug-trailer.ts (debug mode), profile.ts
// (sampling), roots.ts (named roots), strings.ts, options.ts.
//
// Lifetimes (JS-side state of one Heap object, not in the image): scope.ts
// (heap.scope(): blocks freed together at dispose), handles.ts
// (heap.handle(addr): one block freed at dispose, or by the engine's
// garbage collector as a backstop), reclaim.ts (the hook a tracing
// collector attaches to take its blocks out of manual freeing).

import { HeapCorruptionError, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { type Backing, isMemoryObject, openBacking } from "../memory/backing.js";
import { createViews } from "../memory/views.js";
import { Allocator, primeFree } from "./allocator.js";
import { N_CLASSES } from "./size-classes.js";
import { CACHE_MAX_OBJECTS, CC_SHIFT, geometry, MAX_RANGE_BYTES, PAGE_SIZE } from "./layout.js";
import { flushCaches, releaseEmptySpans } from "./central.js";
import { raisePeakLive } from "./live-bytes.js";
import { attachSlot, checkHoldingOthers, detachSlot, releaseOtherSlots, releaseThreadSlot, slotInUse } from "./slots.js";
import { attachableMemory, heapsOnMemory, listMemory } from "./thread-heaps.js";
import { cutTail, extend } from "./page-heap.js";
import { resizeBlock, zeroBlock } from "./resize.js";
import { checkHeap } from "./check.js";
import { checkOption, checkSize } from "./validate.js";
import { currentImageProblem, formatImage, openImage, planImage } from "./image.js";
import { loadImage, saveImage } from "./image-file.js";
import { type HeapProfile, makeProfiler } from "./profile.js";
import { checkRoots, getRoot, rootNames, setRoot } from "./roots.js";
import { type DebugHeap, debugDefaults, installDebug } from "./debug.js";
import { checkDebugBlocks, openQuarantine, plainAccessSize } from "./debug-trailer.js";
import type { DebugOptions, LeakSite } from "../common/debug-kit.js";
import { heapStats, type HeapStats } from "./stats.js";
import { formatStats } from "./format-stats.js";
import { heapSnapshot, type HeapSnapshot } from "./snapshot.js";
import { readString, writeString } from "./strings.js";
import {
  ATTACH_OPTION_RULES, type AttachOptions, checkHeapOptions, HEAP_OPTION_RULES, type HeapOptions, LOAD_OPTION_RULES, type LoadOptions,
} from "./options.js";
import { checkNumber, describe } from "../common/options.js";
import { type HeapScope, ScopeStack } from "./scope.js";
import { HandleTable, type HeapHandle, type LeakedHandle } from "./handles.js";
import { adoptImageReclaimer, guardPaths, type Reclaimer, refuseClaimedMemory } from "./reclaim.js";

// Set by Heap.attach around its `new Heap` so the constructor opens an image
// instead of formatting one; keeps one constructor and one object shape. The
// image as openImage opened it (oldCaches: upgraded, with other slots' cache
// blocks of its old version), and whether it is a copy no other thread runs
// on (Heap.load's, or in an unshared buffer).
let attaching: { backing: Backing; oldCaches: boolean; copy: boolean } | null = null;
// Set by Heap.load: the image's slots belong to no thread of this process.
let freshImage = false;

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
export class Heap extends Allocator {
  private debugHeap: DebugHeap | null = null;
  private debugSettings: Readonly<DebugOptions> | null = null;
  /** @internal The reclaimer attached to this Heap (reclaim.ts), or null. */
  reclaimer: Reclaimer | null = null;
  /** @internal This Heap object's open scopes (scope.ts), from its first scope() on. */
  scopes: ScopeStack | null = null;
  /** @internal This Heap object's open handles (handles.ts), from its first handle() on. */
  handles: HandleTable | null = null;
  /** @internal Saves in flight: the handle backstop's frees wait for them (handles.ts). */
  saving = 0;

  /**
   * Makes a new, empty heap. Throws TypeError for options of the wrong
   * type, RangeError for option values out of range and OutOfMemoryError if
   * the engine refuses the memory.
   */
  constructor(options?: HeapOptions) {
    const attached = attaching;
    attaching = null;
    // Heap.attach checked the options it passes against its own rules.
    const o = attached === null ? checkHeapOptions("Heap", options, HEAP_OPTION_RULES) : options ?? {};
    const growBy = checkOption("growBy", o.growBy, 0, MAX_RANGE_BYTES, -1);
    const growAt = checkOption("growAt", o.growAt, Number.MIN_VALUE, 1, 1);
    let initialPages = 0;
    let backing = attached === null ? null : attached.backing;
    if (backing === null) {
      const memory = o.memory ?? "wasm";
      const plan = planImage(memory, o.maxSize, o.initialSize);
      const { firstDataPage } = geometry(plan.totalPages, CACHE_MAX_OBJECTS, N_CLASSES);
      backing = openBacking(memory, (firstDataPage + plan.initialPages) * PAGE_SIZE, plan.totalPages * PAGE_SIZE);
      const metadata = new Uint32Array(backing.buffer, 0, firstDataPage * (PAGE_SIZE >>> 2));
      if (typeof memory === "object") metadata.fill(0); // memory the heap created is zero; a user's buffer may hold anything
      formatImage(metadata, plan.totalPages);
      initialPages = plan.initialPages;
    }
    super(backing, growAt, growBy);
    // An image this thread made, or a copy no other thread runs on: the slot with this thread's id is its.
    const made = attached === null || attached.copy;
    if (attached === null) extend(this, initialPages);
    else if (made) releaseOtherSlots(this, attached.oldCaches);
    attachSlot(this, made);
    // The program holds the memory it passed in, and may hand it on (thread-heaps.ts: listMemory).
    if (attached === null ? typeof o.memory === "object" : !freshImage) listMemory(this);
    this.installTools(o);
    if (attached !== null) {
      // Blocks left in the quarantines of slots no thread uses, and of this one unless another Heap of this thread shares it.
      const alone = heapsOnMemory(this.memoryObject) === 1;
      this.takeQuarantines((k) => (k === this.slot ? alone : !slotInUse(this.u32, k)));
    }
    primeFree(this); // last: the feedback is for this object's final shape
  }

  /**
   * @internal Puts this Heap's block calls in place: debug mode's own (they
   * call coreAlloc and coreFree, so they serve both thread modes) or the
   * fast paths of its thread mode; then the guards over free and realloc
   * while handles are open (handles.ts) and while a reclaimer is attached
   * (reclaim.ts). A heap with neither gets exactly the calls it had before.
   */
  override installFastPaths(): void {
    const debug = this.debugHeap;
    if (debug === null) {
      if (Object.hasOwn(this, "realloc")) this.realloc = Heap.prototype.realloc; // a guard's; not deleted (allocator.ts: installFastPaths)
      super.installFastPaths();
    } else {
      this.free = debug.free;
      this.realloc = debug.realloc;
    }
    this.handles?.guard(this); // while handles are open
    if (this.reclaimer !== null) guardPaths(this, this.reclaimer);
  }

  /**
   * Gives this thread's share of the heap back: the last Heap of a thread
   * to detach returns the objects in the thread's local cache to the heap
   * and frees its cache slot (a worker should detach before it exits; see
   * releaseThread for one that could not). Blocks stay allocated, wherever
   * they were allocated. Every later call on this Heap throws
   * OffheapTypeError; detaching again does nothing. Cost: O(cached objects).
   */
  detach(): void {
    if (this.detached) return;
    this.lockHeap();
    try {
      this.debugHeap?.releaseQuarantine();
      detachSlot(this);
    } finally {
      this.unlockHeap();
    }
    this.detached = true;
    Object.assign(this, createViews(new ArrayBuffer(0), 0)); // empty: the fields keep their types and the object its shape
  }

  /** detach(), for `using heap = Heap.attach(memory)`. */
  [Symbol.dispose](): void {
    this.detach();
  }

  /**
   * Returns to the heap the local cache and the slot of thread `threadId`
   * (a `worker.threadId`), which must have exited without detach(), for
   * instance by `worker.terminate()`: call it from the worker's "exit"
   * event. Returns false if that thread has no slot. Throws
   * OffheapRangeError for this Heap's own thread (use detach), and
   * HeapCorruptionError (T1) if the thread was stopped inside a change of
   * the heap's metadata that left it inconsistent. The blocks the thread's
   * debug Heaps held in quarantine are released, or adopted by this Heap in
   * debug mode up to its quarantineBytes (the oldest leave, verified: D2 for
   * a write after free). Cost: O(its cached objects); O(heap) if it stopped
   * while holding the heap lock.
   */
  releaseThread(threadId: number): boolean {
    if (!Number.isSafeInteger(threadId) || threadId < 0) throw new OffheapTypeError(`Heap.releaseThread: threadId must be a non-negative integer, got ${describe(threadId)}`);
    if (threadId === this.threadId) throw new OffheapRangeError(`Heap.releaseThread: ${threadId} is this Heap's own thread; use detach()`);
    this.sync();
    if (!releaseThreadSlot(this, threadId)) return false;
    this.takeQuarantines((k) => !slotInUse(this.u32, k)); // the blocks its debug Heaps had freed
    this.locked(() => this.debugHeap?.trimQuarantine("Heap.releaseThread")); // adopted past this Heap's bound (not on attach: a constructor must not throw)
    return true;
  }

  // Opens the quarantines of the slots `ofSlot` accepts, whose Heaps are gone (debug-trailer.ts: openQuarantine).
  private takeQuarantines(ofSlot: (slot: number) => boolean): void {
    this.locked(() => openQuarantine(this, ofSlot, this.debugHeap?.adopt ?? null, (addr) => this.coreFree(addr)));
  }

  // Debug mode replaces alloc, free and the other block calls with own
  // properties of this object; a heap without it keeps the plain methods.
  // The profiler lives in the plain methods (a countdown the fast path
  // tests, profile.ts), so it needs no calls of its own.
  private installTools(options: HeapOptions): void {
    const debug = options.debug ?? debugDefaults.debug;
    if (debug !== false) {
      this.debugSettings = debug === true ? {} : debug;
      this.debugHeap = installDebug(this, this.debugSettings);
    }
    const profile = options.profile ?? false;
    if (profile !== false) {
      // Arms every class's countdown (layout.ts CC_SAMPLE_AT); the plain alloc does the rest.
      const p = this.profiler = makeProfiler(profile === true ? {} : profile, proto.alloc);
      for (let cls = 1; cls <= N_CLASSES; cls++) this.armSample(this.cacheW + (cls << CC_SHIFT), p);
    }
  }

  /**
   * Opens the heap image held by `memory` (made by `new Heap`, or a copy of
   * one); the returned Heap sees every live block. The image is not changed,
   * except that blocks debug mode freed into a quarantine are released when
   * the heap is opened without debug mode (with it, they wait in the new
   * heap's quarantine). A plain ArrayBuffer cannot grow, so a heap attached to
   * one is limited to its length. The buffer of a WebAssembly.Memory that a
   * Heap of this thread uses (`heap.buffer`) is attached through that
   * memory, so the new Heap follows its growth (its `memory` is the
   * WebAssembly.Memory). Heaps of one thread on one shared image share the
   * thread's cache, and the last one's detach() returns it, whichever
   * object each came through: a memory posted to a thread twice arrives as
   * two objects, which a probe of the memories the program passed in or
   * read (`heap.memory`, `heap.buffer`) tells apart from two heaps
   * (thread-heaps.ts). Throws InvalidImageError if `memory` holds
   * no image this version can open. Cost: O(1), plus O(live blocks) if some
   * wait in a quarantine, plus O(memories listed) for an object this thread
   * has not attached through.
   */
  static attach(memory: ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory, options?: AttachOptions): Heap {
    const checked = checkHeapOptions("Heap.attach", options, ATTACH_OPTION_RULES);
    if (!isMemoryObject(memory)) {
      throw new OffheapTypeError(`Heap.attach: memory must be an ArrayBuffer, a SharedArrayBuffer or a WebAssembly.Memory holding a heap image, got ${describe(memory)}`);
    }
    memory = attachableMemory(memory);
    const copy = freshImage || !((memory instanceof WebAssembly.Memory ? memory.buffer : memory) instanceof SharedArrayBuffer);
    attaching = { ...openImage(memory, "Heap.attach", copy), copy };
    const heap = new Heap(checked);
    try {
      refuseClaimedMemory(heap, "Heap.attach");
    } catch (e) {
      heap.detach(); // its share of this thread's slot: nothing changed
      throw e;
    }
    adoptImageReclaimer(heap); // e.g. the guard of a Collector's blocks (reclaim.ts)
    return heap;
  }

  /** Debug mode's options when it is on, else null; allocators over this heap (ScalableAllocator) follow them. */
  get debugOptions(): Readonly<DebugOptions> | null {
    return this.debugSettings;
  }

  /** Allocates `sizeBytes` and zeroes the whole usable block. Errors as alloc. */
  calloc(sizeBytes: number): number {
    checkSize("Heap.calloc", sizeBytes, this.totalPages);
    const addr = this.alloc(sizeBytes);
    zeroBlock(this, addr);
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
    checkSize("Heap.realloc", sizeBytes, this.totalPages);
    if (addr === 0) return this.alloc(sizeBytes);
    this.lockHeap();
    try {
      return this.reallocLocked(addr, sizeBytes);
    } finally {
      this.unlockHeap();
    }
  }

  private reallocLocked(addr: number, sizeBytes: number): number {
    // plainSpan, keeping the size it finds: the block's bytes a move copies.
    const dw = this.liveSpan(addr, "Heap.realloc", true);
    return resizeBlock(this, addr, sizeBytes, dw, plainAccessSize(this, addr, this.usable(addr), "Heap.realloc", true), this.profiler);
  }

  /** @internal Throws the error `api` should throw unless `addr` is the start of a live block (scope.ts, handles.ts). */
  checkLive(addr: unknown, api: string): void {
    this.plainSpan(addr, api, false);
  }

  /**
   * Usable size of the live block at `addr`: its class size, or its whole
   * pages; the size requested of a block debug mode allocated (a canary and
   * trailer follow it; debug-trailer.ts), by any Heap. Throws
   * InvalidAddressError otherwise.
   */
  sizeOf(addr: number): number {
    return this.plainSize(addr, "Heap.sizeOf");
  }

  /**
   * A Uint8Array over the live block at `addr`: `length` bytes (default its
   * usable size). The view is a JS object over the current buffer; like the
   * heap's views, it goes stale when the heap grows.
   */
  bytes(addr: number, length?: number): Uint8Array {
    const usable = this.plainSize(addr, "Heap.bytes");
    const n = length ?? usable;
    checkNumber("Heap.bytes", "length", n);
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
    return readString(this, addr, this.plainSize(addr, "Heap.readString"));
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
    return this.locked(() => {
      flushCaches(this);
      releaseEmptySpans(this);
      const pages = cutTail(this);
      if (pages > 0 && this.backing.shrink(this.endPage * PAGE_SIZE)) this.refreshViews();
      return pages * PAGE_SIZE;
    });
  }

  // Runs fn under the heap lock (slots.ts), with the views up to date.
  private locked<T>(fn: () => T): T {
    this.lockHeap();
    try {
      return fn();
    } finally {
      this.unlockHeap();
    }
  }

  /**
   * Statistics computed from the image (stats.ts documents every field);
   * also a sample of the live-bytes peak. Throws HeapCorruptionError if the
   * spans are damaged. Cost: O(spans + size classes).
   */
  stats(): HeapStats {
    return this.locked(() => {
      const s = heapStats(this);
      raisePeakLive(this, s.liveBytes); // an exact count: a sample of the peak
      return s;
    });
  }

  /**
   * Every span of the heap (class, objects, live and free counts, or large
   * block, or free run) with the per-class rows and stats(), as one
   * JSON-serializable object: what the heap map draws (offheap/debug).
   * Throws HeapCorruptionError if the spans are damaged. Cost: O(committed pages).
   */
  snapshot(): HeapSnapshot {
    return this.locked(() => heapSnapshot(this));
  }

  /** `stats()` as an aligned text table, like jemalloc's malloc_stats_print (format-stats.ts). Cost: O(spans). */
  formatStats(): string {
    return formatStats(this.stats());
  }

  /**
   * Validates every invariant of the image (layout.ts and debug-trailer.ts
   * list them, and a Collector's gc-layout.ts) and throws
   * HeapCorruptionError naming the first one broken. While other threads
   * use the heap, their fast paths change their caches and granules without
   * the lock: damage found then may be a change in flight, so check() makes
   * them wait (slots.ts checkHoldingOthers) and checks again, and throws only
   * if the heap is damaged with them stopped. Cost: O(committed bytes / 64),
   * and 20 ms more for such a second look; for tests and debugging, not for
   * hot paths.
   */
  check(): void {
    this.sync();
    const problem = currentImageProblem(this.u32, () => this.backing.buffer.byteLength, () => this.backing.refresh());
    if (problem !== "") throw new HeapCorruptionError("H1", `Heap.check: ${problem}`);
    checkHoldingOthers(this, () => this.checkLocked());
    this.reclaimer?.check();
  }

  private checkLocked(): void {
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
   * Opens a scope: the blocks its `alloc` and `calloc` return are freed
   * together by its `dispose()` (at the end of a `using` block), except those
   * it `keep`s or `pin`s; see HeapScope. The scope becomes the innermost
   * open one (`currentScope`); scopes may be disposed in any order. A scope
   * is JS-side state of this Heap object, not part of the image: another
   * Heap on the same memory sees its blocks as ordinary live blocks. Throws
   * OffheapTypeError if this Heap is detached. Cost: O(1); one JS object
   * (its records array comes from a pool this Heap keeps).
   *
   * @example
   * {
   *   using scope = heap.scope();
   *   const frame = scope.alloc(1500);
   *   parse(heap, frame);
   * } // frame is freed here
   */
  scope(): HeapScope {
    this.sync();
    return (this.scopes ??= new ScopeStack(this)).push();
  }

  /** The innermost scope of this Heap object that is still open (the last one opened and not disposed), or null. */
  get currentScope(): HeapScope | null {
    const open = this.scopes?.open;
    return open === undefined || open.length === 0 ? null : open[open.length - 1]!;
  }

  /**
   * Returns a handle that owns the live block at `addr`: `handle.dispose()`
   * (at the end of a `using` block) frees it. A handle dropped without
   * dispose is freed when V8 collects it (a FinalizationRegistry, whenever
   * the engine runs it); in debug mode such blocks are listed by
   * leakedHandles(). A block has one open handle at a time; while it is
   * open, free of the block throws OffheapTypeError and realloc moves the
   * handle with it (handles.ts: the guard). A block an open scope of this
   * Heap allocated moves from the scope to the handle. Throws
   * InvalidAddressError for an address that is not the start of a live
   * block, or one with an open handle already; OffheapTypeError for a
   * non-number; the heap is unchanged then. Cost: O(1); two JS objects and
   * a registration with the FinalizationRegistry (three with the stack
   * debug mode captures); plus, while scopes are open, a search of their
   * blocks, newest first.
   *
   * @example
   * using h = heap.handle(heap.alloc(64));
   * heap.u32[h.addr >>> 2] = 1;
   */
  handle(addr: number): HeapHandle {
    return (this.handles ??= new HandleTable(this)).make(addr);
  }

  /**
   * Debug mode only: the blocks freed by the handle backstop because their
   * handle was collected without dispose(), oldest first, each with its
   * size and the stack that made the handle. Throws OffheapTypeError if
   * debug mode is off. Cost: O(leaked handles).
   */
  leakedHandles(): LeakedHandle[] {
    if (this.debugHeap === null) throw new OffheapTypeError("Heap.leakedHandles: debug mode is off; make the heap with { debug: true }");
    return this.handles === null ? [] : this.handles.leaked.slice();
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
    this.locked(() => setRoot(this, name, addr));
  }

  /** @internal setRoot for the library's own roots, whose names begin with "offheap." (roots.ts RESERVED_ROOT_PREFIX). */
  setLibraryRoot(name: string, addr: number): void {
    this.locked(() => setRoot(this, name, addr, true));
  }

  /** The address stored under `name` by setRoot, or 0 if there is none. Cost: O(roots). */
  getRoot(name: string): number {
    return this.locked(() => getRoot(this, name));
  }

  /** Names of all roots but the library's own (names beginning with "offheap."). */
  rootNames(): string[] {
    return this.locked(() => rootNames(this));
  }

  /**
   * Writes the heap image (its committed bytes but for long runs of zero
   * blocks, behind a header with the format version, page size and a
   * checksum, and a table of the runs written: image-file.ts) to the file
   * `path`, replacing it atomically; resolves to the bytes written. Node
   * only (node:fs). Do not change the heap until the promise settles (the
   * blocks of handles V8 collects meanwhile are freed after it). Cost: one
   * copy and one write of the non-zero committed bytes plus a pass over them.
   *
   * @example
   * heap.setRoot("users", users.address);
   * await heap.save("users.heap");
   * const again = await Heap.load("users.heap");
   */
  save(path: string): Promise<number> {
    this.sync();
    this.reclaimer?.quiesce?.(); // a Collector's helper thread marks between steps: the checksums would not match the bytes written
    this.saving++;
    return saveImage(this.backing.buffer, this.endPage * PAGE_SIZE, this.rangeBytes, path).finally(() => {
      if (--this.saving === 0) this.handles?.afterSave();
    });
  }

  /**
   * Opens a heap image file written by save() in a new backing memory
   * (`memory`: "wasm", the default, or "resizable"). Throws InvalidImageError
   * for a damaged, truncated or foreign file, or one of another format
   * version; nothing is opened then. Node only (node:fs). Cost: one read of
   * the file plus a checksum pass; the image's zero blocks that the file
   * leaves out are never touched.
   */
  static async load(path: string, options?: LoadOptions): Promise<Heap> {
    const { memory: kind, ...attach } = checkHeapOptions("Heap.load", options, LOAD_OPTION_RULES);
    const memory = await loadImage(path, kind ?? "wasm");
    freshImage = true; // the threads that used it are in another process
    try {
      return Heap.attach(memory, attach);
    } finally {
      freshImage = false;
    }
  }
}

const proto = Allocator.prototype;
