// Collector: an incremental tracing collector over records of defineStruct
// types, in the same heap as manually freed blocks.
//
// Overview
//
// Collected blocks are records allocated with `gc.alloc(Type, init)`. The
// collector keeps, in the image (gc-layout.ts), a START and a MARK bit per
// 8-byte granule and a W_REF / W_OWNED tag per 4-byte word: the record's
// "ref" and "string" fields, written from its type when it is allocated.
// Roots are the heap's named roots, its open handles and the pins of its
// open scopes (heap/reclaim.ts: forEachRoot); `gc.alloc` pins each new
// block in the innermost open scope, so a graph built inside
// `using scope = heap.scope()` is safe until it is linked from a root.
//
// A cycle (tri-color, snapshot at the beginning, as Yuasa's barrier and
// AssemblyScript's itcms):
//  1. Start (gc-cycle.ts: scanRoots): set MARK on every collected block a
//     root names and push it on the gray stack (gc-mark.ts: JS typed
//     arrays of GRAY_SEGMENT entries, so that it grows by one small segment
//     and never copies itself in a step: the one piece of state not in the
//     image; an image saved while marking restarts its cycle when opened).
//  2. Mark, in steps (gc-mark.ts: Marker): pop a block, read its word tags, set MARK on the
//     target of each W_REF word that is a collected block without MARK, and
//     push it. While marking, a ref setter that overwrites a reference shades
//     the old target first (struct.ts: the write barrier), and gc.alloc
//     sets MARK on the new block (allocated black): so everything reachable
//     when the cycle started, or allocated since, ends marked, whatever the
//     program changes between steps.
//  3. Sweep, in steps (gc-sweep.ts): walk the granule bitmap from DIR_CURSOR; a START
//     without MARK is garbage: free the strings its W_OWNED words hold, clear
//     its tags, free it. Clear MARK on the survivors. A block allocated
//     while sweeping gets MARK if the cursor has not passed it.
//
// An address held only in a JS variable is not a root: link a new block
// from a rooted one, or keep the scope that pinned it open, before the next
// cycle starts.
//
// Also: collections make collected blocks with allocBlock (array.ts: a
// collected OffHeapArray's header and elements, tagged like records;
// map.ts: a collected OffHeapMap's header and tables, its records with
// allocRecord, and the table it zeroes ahead with allocUnzeroed and tag); a
// block over SLICE_BYTES is marked a slice at a time; step() starts a cycle
// when the collected bytes reach (1 + growth) times what the last one
// marked (Go's GOGC pacer: gc-cycle.ts, retrigger), and stops before its
// budget runs out, working in chunks sized between reads of the clock
// (gc-chunk.ts).
//
// Files: this one, the API, allocation and the Collector's state;
// gc-cycle.ts, the driver of a cycle over that state (the root scan, the
// phases run chunk by chunk to a step's deadline, the phase and cursor in
// the directory, the write barrier installed while marking, the pacer);
// gc-mark.ts, gc-sweep.ts and gc-chunk.ts, the work and its chunks;
// gc-space.ts and gc-layout.ts, the collector's part of the image;
// gc-check.ts, its validator; gc-helper.ts, the concurrent helper;
// gc-prime.ts, V8's feedback for the rare paths; gc-options.ts, the options
// and stats.

// Concurrent marking (CollectorOptions.concurrent; gc-helper.ts): a helper
// worker marks over the heap's shared memory while the program runs. All
// mark state but the program's gray stack is in the image (START, MARK and
// the word tags in heap blocks), so the helper runs the same WebAssembly
// scan over its own gray stack, a heap block. The granule word is the one
// word both threads write while marking (MARK by either scan, START|MARK by
// allocate-black, MARK by the write barrier): with a helper, those writes
// are Atomics.or and the scans' a test-and-set, so a block is pushed once.
// The snapshot barrier needs nothing more: the helper may read a ref field
// before or after the program overwrites it, and the old target is shaded
// either way. The write barrier pushes on the program's stack, which its
// steps hand to the helper: a step that finds the helper running (or sets
// it running with work) returns without scanning, so the marking is off the
// program's thread, unless the collected bytes have grown by the growth
// factor since the cycle began (the helper is falling behind: the step
// assists); collect(), which waits for the cycle anyway, scans beside it.
// The mark phase ends in a step (the program stopped) that finds both
// stacks empty and the helper idle.
// Sweeping stays on the program's thread (it frees through the heap's bulk
// frees, under its lock). A Collector still throws on a heap other threads
// allocate from.

import type { Heap } from "../heap/heap.js";
import { DisposedError, OffheapRangeError, OffheapTypeError, WorkerTimeoutError } from "../errors.js";
import { attachReclaimer, checkSoleHeap, claimSoleHeap, detachReclaimer, reclaimerOf, releaseSoleHeap } from "../heap/reclaim.js";
import { checkHeap } from "../common/options.js";
import { isStructType, type StructFields, type StructInit, type StructType } from "./struct.js";
import { describe } from "./scalar.js";
import * as L from "./gc-layout.js";
import { Marker } from "./gc-mark.js";
import { helperSupported } from "./gc-helper.js";
import { collectorOptions, type CollectorOptions, type CollectorStats } from "./gc-options.js";

export type { CollectorOptions, CollectorStats };
import { dropTags } from "./gc-sweep.js";
import { CollectedBlocksGuard, GcSpace } from "./gc-space.js";
import { checkCollector } from "./gc-check.js";
import { primeCollector, SCRATCH_CAPACITY, SCRATCH_SEGMENT } from "./gc-prime.js";
import { CLK_DEADLINE, CLK_LONGEST_STEP, CLK_MARK_MS, CLK_STEP, CLK_SWEEP_MS, CLK_WORDS, clockMs, MIN_CHUNK, setDeadline } from "./gc-chunk.js";
import { abandonMark, noteStep, retrigger, run, scanRoots, setMarking } from "./gc-cycle.js";

const {
  CHUNK_SHIFT, G_WORD_SHIFT, W_WORD_SHIFT, DIR_CURSOR, DIR_F64_CYCLES, DIR_F64_FREED_BLOCKS, DIR_F64_FREED_BYTES, DIR_F64_LIVE_BYTES, DIR_F64_MARKED_BLOCKS,
  DIR_F64_MARKED_BYTES, DIR_LIVE_BLOCKS, DIR_PHASE, EVEN_BITS, MARK, PHASE_IDLE, PHASE_MARK, PHASE_SWEEP, SHIFT_MASK, START,
} = L;


/** While primeCollector (gc-prime.ts) makes and runs its scratch Collectors: which mark loop the next one gets. */
let priming: "js" | "wasm" | null = null;

/**
 * An incremental tracing collector for records of defineStruct types in one
 * heap. Records from `alloc` are freed when no root reaches them through
 * their "ref" fields: roots are the heap's named roots (setRoot), open
 * handles (heap.handle) and pins of open scopes (heap.scope). Collected and
 * manually freed blocks share the heap; `heap.free` of a collected block
 * throws. One Collector per heap; the heap must not be shared with other
 * threads.
 *
 * @example
 * const Node = defineStruct({ next: "ref", value: "u32" });
 * const gc = new Collector(heap);
 * const head = gc.alloc(Node, { value: 1 });
 * heap.setRoot("list", head);
 * Node.at(heap, head).next = gc.alloc(Node, { value: 2 });
 * gc.collect();   // both live: reachable from the root
 */
export class Collector {
  /** "Collector": the name the heap's errors give it (a free of one of its blocks). */
  readonly name = "Collector";
  /** The heap whose records it collects. */
  readonly heap: Heap;
  // The cycle driver's state (gc-cycle.ts: CycleState) is @internal, not
  // private: space, phaseCode, cursor, marker, clock, steps, and growth to
  // concurrent.
  /** @internal The collector's state in the image (gc-space.ts). */
  readonly space: GcSpace;
  /** @internal The phase (PHASE_*) and the sweep's next granule-bitmap word: the directory's DIR_PHASE and DIR_CURSOR (gc-cycle.ts: setPhase writes both). */
  phaseCode = PHASE_IDLE;
  /** @internal */
  cursor = 0;
  /** @internal The gray stack and its scan (gc-mark.ts). */
  readonly marker: Marker;
  /** @internal Readings and times of the clock (gc-chunk.ts: CLK_*), stats()'s ms among them. */
  readonly clock = new Float64Array(CLK_WORDS);
  /** @internal */
  steps = 0;
  private disposed = false;
  /** The type of the last record allocated, and its tags (tagsOf is a WeakMap lookup). */
  private lastType: StructType | null = null;
  private lastTags: Int32Array = L.NO_TAGS;
  private lastSize = 0;
  /** @internal CollectorOptions.growth and minBytes, and the trigger they set (gc-cycle.ts: retrigger). */
  readonly growth: number;
  /** @internal */
  readonly minBytes: number;
  /** @internal */
  nextCycleBytes = 0;
  /** @internal Collected bytes when the running cycle started, and what the program allocated while the last one marked (retrigger). */
  startLiveBytes = 0;
  /** @internal */
  runway = 0;
  /** @internal Units of the next mark and sweep chunk (gc-chunk.ts: afterChunk); a sweep chunk's are the blocks it may free. */
  markChunk = MIN_CHUNK;
  /** @internal */
  sweepChunk = MIN_CHUNK;
  /** @internal CollectorOptions.concurrent (a helper that failed is not started again: gc-mark.ts, helperFailed). */
  concurrent: boolean;

  /**
   * Opens the collector of `heap`: the state a Collector left in the image
   * (after save and load, or a dispose), or a new one. Throws
   * OffheapTypeError if heap is not a Heap, is shared with other threads or
   * has a Collector already, or for options.concurrent where there can be
   * no helper thread (gc-helper.ts); HeapCorruptionError (C1) for a damaged
   * directory; OutOfMemoryError if its first bitmaps do not fit (the heap
   * is unchanged then); RangeError for options out of range. Cost: O(1),
   * or O(cover / 128) to restart an image saved while marking.
   */
  constructor(heap: Heap, options?: CollectorOptions) {
    checkHeap("Collector", heap);
    ({ growth: this.growth, minBytes: this.minBytes, concurrent: this.concurrent } = collectorOptions(options));
    if (this.concurrent && !helperSupported(heap)) {
      throw new OffheapTypeError("Collector: options.concurrent needs a heap on a shared WebAssembly.Memory (the default in Node, and on a cross-origin isolated page) and workers (Node 20.16 or later, or a browser's)");
    }
    if (heap.sharedMode) throw new OffheapTypeError("Collector: the heap is shared with other threads; the collector runs on a heap one thread uses");
    const other = reclaimerOf(heap);
    if (other !== null && !(other instanceof CollectedBlocksGuard)) throw new OffheapTypeError(`Collector: the heap has a ${other.name} already; one per heap`);
    checkSoleHeap(heap, "Collector");
    this.heap = heap;
    const dir = heap.getRoot(L.GC_ROOT);
    this.space = new GcSpace(heap, dir !== 0 ? dir : GcSpace.create(heap));
    this.marker = priming === null ? new Marker(heap, this.space) : new Marker(heap, this.space, SCRATCH_SEGMENT, priming === "js", SCRATCH_CAPACITY);
    this.phaseCode = this.space.word(DIR_PHASE);
    this.cursor = this.space.word(DIR_CURSOR);
    if (this.phaseCode === PHASE_MARK) abandonMark(this); // its gray stack was in the process that saved it
    if (other !== null) detachReclaimer(heap, other); // the guard of the blocks a Collector left: this one guards them now
    attachReclaimer(heap, this);
    claimSoleHeap(heap, this);
    retrigger(this);
    if (this.concurrent && !this.marker.startHelper()) {
      // The workspaces could not be allocated: the same as without the option.
      this.concurrent = false;
    }
    // The first Collector of a thread gives V8 feedback for the marker's and the sweep's rare paths (gc-prime.ts).
    if (priming === null) {
      try {
        primeCollector((scratch, loop) => {
          priming = loop;
          return new Collector(scratch);
        });
      } catch {
        // Only speed is lost (a scratch heap that could not be made, say): this Collector is whole.
      } finally {
        priming = null;
      }
    }
  }

  /** @internal False once disposed, and while the heap is shared: alloc and allocBlock would throw. */
  get canAllocate(): boolean {
    return !this.disposed && !this.heap.sharedMode;
  }

  /** Current phase: "idle" between cycles, "mark" or "sweep" during one. */
  get phase(): "idle" | "mark" | "sweep" {
    return this.phaseCode === PHASE_IDLE ? "idle" : this.phaseCode === PHASE_MARK ? "mark" : "sweep";
  }

  /**
   * Allocates a zeroed record of `type`, writes `init` (as `type.alloc`),
   * and returns its address: a collected block, pinned in the heap's
   * innermost open scope if there is one. Throws as `type.alloc`
   * (OffheapTypeError, RangeError, OutOfMemoryError), and DisposedError
   * after dispose; the heap is unchanged then. Cost: type.alloc plus O(ref
   * and string fields).
   */
  alloc<F extends StructFields>(type: StructType<F>, init?: StructInit<F>): number {
    // The last type allocated passed this test already (allocRecord's callers check theirs).
    if ((type as unknown) !== this.lastType && !isStructType(type)) {
      this.live("Collector.alloc");
      throw new OffheapTypeError(`Collector.alloc: type must be a struct type made by defineStruct, got ${describe(type)}`);
    }
    const addr = this.allocRecord(type, init);
    this.heap.currentScope?.pin(addr);
    return addr;
  }

  /**
   * @internal As alloc, but pinned nowhere: for a record a collected block
   * references at once (a collected map's value). Throws DisposedError after
   * dispose, as alloc: a map made with this Collector outlives it, and a
   * record allocated through a disposed Collector, in the phase it left,
   * would be white to the next one's marking and freed while the map holds it.
   */
  allocRecord<F extends StructFields>(type: StructType<F>, init?: StructInit<F>): number {
    this.live("Collector.alloc");
    const t = type as unknown as StructType;
    if (t !== this.lastType) {
      this.lastTags = L.tagsOf(t);
      this.lastSize = t.size;
      this.lastType = t;
    }
    // With no values, a record is a zeroed block of its size (cached with its
    // tags): what type.alloc would make, without its call. Each type's alloc
    // is a closure of its own, so that call site sees as many functions as
    // the program has types and V8 inlines none of them (gc.alloc(Node):
    // 58-67 -> 42-45 ns on Node 20).
    const addr = init === undefined ? this.heap.calloc(this.lastSize) : type.alloc(this.heap, init);
    return this.adopt(addr, this.lastTags, 0, 1, t);
  }

  /**
   * @internal A zeroed collected block of `bytes` (for a collection's header
   * or elements, array.ts) whose tags are `tags` (as TAGS: byte offset << 2
   * | tag) repeated `count` times `stride` bytes apart. Errors as alloc.
   */
  allocBlock(bytes: number, tags: Int32Array, stride: number, count: number): number {
    this.live("Collector.allocBlock");
    return this.adopt(this.heap.calloc(bytes), tags, stride, count, null);
  }

  /**
   * @internal A collected block of `bytes`, neither zeroed nor tagged, for
   * an owner that zeroes it a part at a time and tags each part as it goes
   * (tag; map-resize.ts: a map's next table). Until tagged, its words are
   * never read by the marker or the sweep. Errors as alloc.
   */
  allocUnzeroed(bytes: number): number {
    this.live("Collector.allocUnzeroed");
    return this.adopt(this.heap.alloc(bytes), L.NO_TAGS, 0, 0, null);
  }

  /**
   * @internal Tags `count` repeats of `tags` (as allocBlock), `stride`
   * bytes apart, from `at` inside a block from allocUnzeroed, whose words
   * there are zero. O(count * tags).
   */
  tag(at: number, tags: Int32Array, stride: number, count: number): void {
    if (tags.length === 0) return;
    const u32 = this.heap.u32;
    const wB = this.space.wB; // space.wWord, written out: gc.alloc's inlining budget is spent by then
    for (let k = 0; k < count; k++, at += stride) {
      for (let i = 0; i < tags.length; i++) {
        const t = tags[i]!;
        const a = at + (t >>> 2);
        const ww = wB[a >>> CHUNK_SHIFT]! + (a >>> W_WORD_SHIFT);
        u32[ww] = (u32[ww]! | ((t & 3) << ((a >>> 1) & SHIFT_MASK))) >>> 0;
      }
    }
  }

  /**
   * @internal Frees at once a collected block just made by allocBlock that
   * nothing references yet (a collection's constructor undoing itself):
   * it was never gray, so no step holds it. O(block / 64).
   */
  release(addr: number): void {
    const u32 = this.heap.u32;
    const gw = this.space.gWord(addr);
    Atomics.and(u32, gw, ~(3 << ((addr >>> 2) & SHIFT_MASK))); // a helper may set MARK bits of the same word
    this.space.addLive(-1, -this.freeGarbage(addr));
  }

  /**
   * @internal Zeroes the string fields of the collected block at `addr`
   * (W_OWNED words), so that another block, which took its strings (a
   * collection's grown element block), is their one owner. O(block / 64).
   */
  disownStrings(addr: number): void {
    const u32 = this.heap.u32;
    for (let p = addr >>> 2, end = (addr + this.heap.usable(addr)) >>> 2; p < end; p = (p | 15) + 1) {
      let owned = (u32[this.space.wWord(p << 2)]! >>> 1) & EVEN_BITS & L.rangeMask(p & 15, Math.min(16, end - (p & ~15)));
      for (; owned !== 0; owned &= owned - 1) u32[(p & ~15) + ((31 - Math.clz32(owned & -owned)) >>> 1)] = 0;
    }
  }

  // Makes the new block at addr a collected block: START (and MARK when it
  // is allocated black), its tags, the counts. On failure (the bitmaps
  // cannot grow) frees the block: as a record of `type` (its strings too),
  // or a plain block. No closure: this runs for every gc.alloc, and the
  // point is to allocate nothing on the JS heap.
  private adopt(addr: number, tags: Int32Array, stride: number, count: number, type: StructType | null): number {
    const heap = this.heap;
    const bytes = heap.usable(addr);
    if (addr + bytes > this.space.cover) {
      try {
        this.space.grow(addr + bytes);
      } catch (e) {
        if (type !== null) type.free(heap, addr);
        else heap.free(addr);
        throw e;
      }
    }
    const u32 = heap.u32;
    const black = this.phaseCode === PHASE_MARK || (this.phaseCode === PHASE_SWEEP && addr >>> G_WORD_SHIFT >= this.cursor);
    const gw = this.space.gWord(addr);
    const bits = (black ? START | MARK : START) << ((addr >>> 2) & SHIFT_MASK);
    if (this.marker.helper === null) u32[gw] = (u32[gw]! | bits) >>> 0;
    else Atomics.or(u32, gw, bits); // the helper sets MARK bits of the same word
    this.tag(addr, tags, stride, count);
    this.space.addLive(1, bytes);
    return addr;
  }

  /** True if `addr` is the start of a block this collector manages (heap/reclaim.ts). O(1). */
  owns(addr: number): boolean {
    return !this.disposed && this.space.isStart(addr);
  }

  /**
   * Advances the collection by at most about `budgetMs` milliseconds
   * (default 1; each step does at least one small chunk of work, tens of
   * microseconds): starts a cycle if none runs and the collected bytes have
   * reached the trigger (CollectorOptions), scanning the roots, then marks
   * and sweeps. Returns true if no cycle is running when it returns (it
   * finished, or none was due). Throws RangeError for a budget that is not
   * a finite number >= 0, DisposedError after dispose. Cost: the budget,
   * plus the root scan when a cycle starts (O(roots)).
   */
  step(budgetMs = 1): boolean {
    this.live("Collector.step");
    if (typeof budgetMs !== "number" || !(budgetMs >= 0) || budgetMs === Infinity) {
      throw new OffheapRangeError(`Collector.step: budgetMs ${describe(budgetMs)} is not a finite number >= 0`);
    }
    const clk = this.clock;
    clk[CLK_STEP] = clockMs();
    if (this.phaseCode === PHASE_IDLE) {
      if (this.space.f64(DIR_F64_LIVE_BYTES) < this.nextCycleBytes) return true;
      scanRoots(this);
    }
    setDeadline(clk, budgetMs);
    run(this);
    noteStep(this);
    return this.phaseCode === PHASE_IDLE;
  }

  /**
   * Starts a cycle now, whatever the trigger, if none runs: scans the roots;
   * step() then advances it. Use it to collect in bounded steps (collect()
   * is one pause). Throws DisposedError after dispose. Cost: O(roots).
   *
   * @example
   * gc.startCycle();
   * while (!gc.step(1)) await nextFrame();
   */
  startCycle(): void {
    this.live("Collector.startCycle");
    this.clock[CLK_STEP] = clockMs();
    if (this.phaseCode === PHASE_IDLE) scanRoots(this);
    noteStep(this);
  }

  /**
   * Runs a whole cycle: finishes the one in progress, then runs a new one
   * from a fresh root scan, so every block unreachable when collect() was
   * called is freed when it returns. Throws DisposedError after dispose.
   * Cost: O(reachable blocks + covered range / 128).
   */
  collect(): void {
    this.live("Collector.collect");
    const clk = this.clock;
    clk[CLK_STEP] = clockMs();
    clk[CLK_DEADLINE] = Infinity;
    if (this.phaseCode !== PHASE_IDLE) run(this);
    scanRoots(this);
    run(this);
    noteStep(this);
  }

  /** Counts of the collector and its heap's collected blocks. O(1). */
  stats(): CollectorStats {
    this.live("Collector.stats");
    const sp = this.space;
    return {
      cycles: sp.f64(DIR_F64_CYCLES), phase: this.phase,
      liveBlocks: sp.word(DIR_LIVE_BLOCKS), liveBytes: sp.f64(DIR_F64_LIVE_BYTES),
      markedBlocks: sp.f64(DIR_F64_MARKED_BLOCKS), markedBytes: sp.f64(DIR_F64_MARKED_BYTES),
      freedBlocks: sp.f64(DIR_F64_FREED_BLOCKS), freedBytes: sp.f64(DIR_F64_FREED_BYTES),
      markMs: this.clock[CLK_MARK_MS]!, sweepMs: this.clock[CLK_SWEEP_MS]!, steps: this.steps, longestStepMs: this.clock[CLK_LONGEST_STEP]!,
      nextCycleBytes: this.nextCycleBytes, helperMarkedBlocks: this.marker.helperBlocks,
    };
  }

  /** @internal Stops the helper thread until the next step (Reclaimer.quiesce: Heap.save). */
  quiesce(): void {
    if (!this.marker.awaitHelper(true)) throw new WorkerTimeoutError("Heap.save: the Collector's helper thread did not stop marking within 10 s; nothing was saved");
  }

  /** Validates invariants C1-C6 (gc-layout.ts); throws HeapCorruptionError naming the first broken one. Cost: O(covered range / 64 + collected blocks). */
  check(): void {
    this.live("Collector.check");
    // A running helper is stopped first (the next step sets it running again).
    if (!this.marker.awaitHelper(true)) throw new WorkerTimeoutError("Collector.check: the helper thread did not stop scanning within 10 s; nothing was checked");
    checkCollector(this.heap, this.space.dir);
  }

  /**
   * Detaches the collector from the heap: its blocks stay allocated, and
   * frees of them still throw (gc-space.ts: CollectedBlocksGuard), and its
   * state stays in the image (a new Collector on the heap goes on from it);
   * a cycle in progress is abandoned (its marks are cleared). Later calls
   * throw DisposedError; disposing again does nothing. O(covered range / 128)
   * if a cycle was running, else O(1).
   */
  dispose(): void {
    if (this.disposed) return;
    this.marker.stopHelper(); // what it held is the program's, or lost: the mark phase is abandoned either way
    if (this.heap.isDetached) {
      // The image is out of this Heap's reach and keeps the collector's state as it is: only this object's hold goes.
      setMarking(this.heap, null);
      detachReclaimer(this.heap, this);
      releaseSoleHeap(this.heap, this);
      this.disposed = true;
      return;
    }
    if (this.phaseCode === PHASE_MARK) abandonMark(this);
    else if (this.phaseCode === PHASE_SWEEP) {
      this.clock[CLK_DEADLINE] = Infinity;
      run(this);
    }
    detachReclaimer(this.heap, this);
    releaseSoleHeap(this.heap, this);
    attachReclaimer(this.heap, new CollectedBlocksGuard(this.heap, this.space.dir)); // its blocks stay collected
    this.disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal Shades `addr` if it is a collected block without MARK (the write barrier, struct.ts and the collections). */
  shade(u32: Uint32Array, addr: number): void {
    this.marker.shade(u32, addr);
  }

  private live(api: string): void {
    if (this.disposed) throw new DisposedError(`${api}: the collector was disposed`);
    // Its views are empty: a step read undefined words, and collect() never ended.
    if (this.heap.isDetached) throw new OffheapTypeError(`${api}: its Heap was detached; dispose() this collector (a Collector on a Heap attached again goes on from the image)`);
    if (this.heap.sharedMode) throw new OffheapTypeError(`${api}: the heap is now shared with other threads; the collector runs on a heap one thread uses`);
  }

  // Frees a garbage block whose START is cleared (its owned strings, its
  // word tags, the block) and returns its usable bytes.
  private freeGarbage(addr: number): number {
    const bytes = this.heap.usable(addr);
    dropTags(this.heap, this.space, addr, bytes);
    this.heap.free(addr);
    return bytes;
  }
}
