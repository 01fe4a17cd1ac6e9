// The collector's marker (step 2 of collector.ts's overview): the gray
// stack and the scan of gray blocks by their word tags, with shade(), the
// one way a block turns gray (roots, the write barrier, the scan itself).
// It reads and writes the mark bits in the image (GcSpace).
//
// Two scans of one algorithm. On a heap whose memory is a
// WebAssembly.Memory (the default), the scan is WebAssembly
// (wasm/marker.ts, compiled into gc-mark-wasm.ts) over the heap's memory:
// a 4M-node tree marks at about 14 ns a block there, 17 in JavaScript (V8
// checks every typed-array index and has no unsigned integers). Its gray
// stack's top is then in the workspace, a heap block the directory keeps
// (DIR_WORKSPACE), and full segments below it are JS typed arrays, as in
// the JavaScript scan (markJs), which runs on every other memory, and
// where WebAssembly cannot be compiled (a page whose CSP forbids it), or
// the workspace could not be allocated when the Collector was made.
//
//   workspace (WORKSPACE_BYTES, a 32 KiB class; u32 words; wasm/marker.ts has the same)
//   +0 WS_SLICE_POS, +1 WS_SLICE_END  the large block being scanned a slice at a time (end 0: none)
//   +2 WS_BLOCKS, +3 WS_BYTES, +5 WS_UNITS_LEFT  what the last scan call marked, and the units it left
//   +4 touched (the batch's early loads land here)
//   +8 .. +24, +24 .. +40  the batch's blocks: from, to
//   +64 + c  class c's size (CLASS_SIZE)
//   +256 ..  the gray stack's top: WS_CAPACITY entries

import type { Heap } from "../heap/heap.js";
import { HeapCorruptionError, OutOfMemoryError } from "../errors.js";
import * as reclaim from "../heap/reclaim.js";
import * as L from "./gc-layout.js";
import type { GcSpace } from "./gc-space.js";
import { MARKER_WASM, MARKER_WASM_SHARED } from "./gc-mark-wasm.js";
import { H_FAILED, H_IDLE, H_RUN, H_STARTING, helperSupported, MarkHelper } from "./gc-helper.js";

const { CHUNK_SHIFT, DIR_CHUNKS, DIR_HELPER, DIR_WORKSPACE, EVEN_BITS, HELPER_BYTES, G_WORD_SHIFT, MARK, SHIFT_MASK, START, W_WORD_SHIFT, WORKSPACE_BYTES } = L;
const { SIZE_CLASS_BYTES, SIZE_PAGE_SHIFT: PAGE_SHIFT } = reclaim;

/** A block larger than this is scanned in slices of it, SLICE_UNITS of markSome's n each, so one step never scans a whole large array. */
const SLICE_BYTES = 512;
/**
 * Entries of one segment of the gray stack (16 KiB). The stack grows by a
 * segment: first touched, its 4 pages cost tens of microseconds on the
 * bench VM, where doubling and copying a 2 MiB stack took 3 ms in a step.
 */
const GRAY_SEGMENT = 4096;
/** Empty segments kept for the next cycle beyond the first (the rest are left to V8). */
const SPARE_SEGMENTS = 64;
/** Gray blocks markSome takes at once when the next one is far from the last scanned (their loads overlap). */
const BATCH = 16;
/** Units of markSome's work a block far from the last scanned counts for (one near it counts 1), and a slice of a large block (up to 128 refs). */
const FAR_UNITS = 8;
const SLICE_UNITS = 64;

const WS_SLICE_POS = 0;
const WS_SLICE_END = 1;
const WS_BLOCKS = 2;
const WS_BYTES = 3;
const WS_UNITS_LEFT = 5;
const WS_CLASS_SIZE = 64;
const WS_GRAY = 256;
/** Gray entries the workspace holds, and the room a scan call keeps free (a batch of blocks of SLICE_BYTES, or a slice, pushes at most this many). */
const WS_CAPACITY = WORKSPACE_BYTES / 4 - WS_GRAY;
/** Free gray entries the scan needs before a batch or slice: the most one pushes. */
export const WS_ROOM = (BATCH + 1) * (SLICE_BYTES / 4);

/** wasm/marker.ts's scan: (workspace, units, sp, capacity, room, chunk table, base, cover, descriptors, shared) -> sp, all word indexes but base and cover. */
type Scan = (ws: number, n: number, sp: number, capacity: number, room: number, table: number, base: number, cover: number, descW: number, shared: number) => number;

const modules: { plain?: WebAssembly.Module; shared?: WebAssembly.Module } = {};

function compileBase64(text: string): WebAssembly.Module {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new WebAssembly.Module(bytes);
}

/** The wasm scan over `memory`, or null where it cannot run: not a WebAssembly.Memory, or no WebAssembly compilation here. */
function wasmScan(memory: unknown): Scan | null {
  if (typeof WebAssembly === "undefined" || !(memory instanceof WebAssembly.Memory)) return null;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    const module = shared ? (modules.shared ??= compileBase64(MARKER_WASM_SHARED)) : (modules.plain ??= compileBase64(MARKER_WASM));
    return new WebAssembly.Instance(module, { env: { memory } }).exports.scan as Scan;
  } catch {
    return null; // a CompileError under a CSP without 'wasm-unsafe-eval': the JavaScript scan does the same work
  }
}

/** Writes the class sizes into a workspace at word ws (WS_CLASS_SIZE + class). */
function writeClassSizes(u32: Uint32Array, ws: number): void {
  for (let cls = 1; cls < SIZE_CLASS_BYTES.length; cls++) u32[ws + WS_CLASS_SIZE + cls] = SIZE_CLASS_BYTES[cls]!;
}

/**
 * An empty list of gray segments whose elements kind is objects already. A
 * new [] holds small integers to V8 until its first push, and markJs,
 * optimized on lists that held segments, deoptimized at a marker's first
 * popSegment ("wrong map").
 */
function segmentList(): Uint32Array[] {
  const list = [new Uint32Array(0)];
  list.pop();
  return list;
}

/** The gray stack of one collector and the scan that empties it. */
export class Marker {
  private readonly heap: Heap;
  private readonly space: GcSpace;
  /** Entries of a gray segment: GRAY_SEGMENT, fewer in primeCollector's scratch Collector (gc-prime.ts). */
  private readonly segment: number;
  /** The gray stack: the segment on top and its entries [0, sp); full segments below it; empty ones kept for reuse. */
  private gray: Uint32Array;
  private sp = 0;
  private readonly below = segmentList();
  private readonly spare = segmentList();
  /** A large block being scanned a slice at a time: the next slice's start and the block's end (0: none). */
  private slicePos = 0;
  private sliceEnd = 0;
  /** What markJs's early loads read, kept so that the engine does not drop them. */
  private touched = 0;
  /** The blocks markJs scans next: [batchFrom[j], batchTo[j]). */
  private readonly batchFrom = new Uint32Array(BATCH);
  private readonly batchTo = new Uint32Array(BATCH);
  /** Blocks and their usable bytes marked since the last reset. */
  markedBlocks = 0;
  markedBytes = 0;
  /** The wasm scan, or null: markJs does the work. */
  private readonly scan: Scan | null;
  /** Word index of the workspace while the wasm scan does the work, else 0. */
  private ws = 0;
  /** Gray entries the workspace holds: WS_CAPACITY, fewer in primeCollector's scratch Collector. */
  private readonly capacity: number;
  /** The helper thread that marks beside the program (gc-helper.ts), or null. While there is one, MARK is set by test-and-set. */
  helper: MarkHelper | null = null;
  /** Blocks the helper threads marked, in all; and whether one failed (a damaged image: the Collector starts no other). */
  helperBlocks = 0;
  helperFailed = false;

  /**
   * A marker with an empty gray stack. On a WebAssembly.Memory it opens
   * the directory's workspace, allocating it if there is none: if that
   * fails (OutOfMemoryError), markJs does the work. `js`: markJs always.
   * gc-prime.ts primes both loops with small `segment`s and `capacity`
   * (at least WS_ROOM + segment), so that a few blocks fill them.
   */
  constructor(heap: Heap, space: GcSpace, segment = GRAY_SEGMENT, js = false, capacity = WS_CAPACITY) {
    this.heap = heap;
    this.space = space;
    this.segment = segment;
    this.capacity = capacity;
    this.gray = new Uint32Array(segment);
    this.scan = js ? null : wasmScan(heap.memoryObject);
    if (this.scan !== null) this.ws = this.openWorkspace();
  }

  /** Empties the gray stack and zeroes the counts: a mark phase starts, or is abandoned. */
  reset(): void {
    this.emptyGray();
    this.sliceEnd = 0;
    if (this.ws !== 0) this.heap.u32[this.ws + WS_SLICE_END] = 0;
    const h = this.helper;
    if (h !== null && h.state() === H_IDLE) {
      // A cycle is abandoned with the helper stopped (gc-cycle.ts: abandonMark): what it held goes.
      h.setSp(0);
      this.heap.u32[h.hw + WS_SLICE_END] = 0;
      h.takeCounts(this);
    }
    this.markedBlocks = 0;
    this.markedBytes = 0;
  }

  /**
   * Starts a helper thread (gc-helper.ts) on the directory's helper block,
   * allocating it if there is none. Returns false where there can be none:
   * no wasm scan, a memory that is not shared, no worker_threads, or the
   * block could not be allocated (OutOfMemoryError).
   */
  startHelper(): boolean {
    if (this.ws === 0 || this.helper !== null || !helperSupported(this.heap)) return false;
    const heap = this.heap;
    let addr = this.space.word(DIR_HELPER);
    try {
      if (addr === 0) {
        addr = heap.alloc(HELPER_BYTES);
        this.space.setWord(DIR_HELPER, addr);
      }
      this.space.fixTable();
    } catch (e) {
      if (e instanceof OutOfMemoryError) return false;
      throw e;
    }
    writeClassSizes(heap.u32, addr >>> 2);
    this.helper = new MarkHelper(heap, this.space, addr, modules.shared!, WS_ROOM, WS_GRAY, { sliceEnd: WS_SLICE_END, blocks: WS_BLOCKS, bytes: WS_BYTES });
    return true;
  }

  /**
   * Ends the helper thread, if there is one (dispose): waits for it to
   * stop scanning (gc-helper.ts: STOP_TIMEOUT_MS) and takes the gray
   * entries an idle one holds. A helper that never stopped keeps its
   * block for good (never reused). The caller abandons a mark phase
   * either way.
   */
  stopHelper(): void {
    const h = this.helper;
    if (h === null) return;
    this.helper = null;
    const stopped = h.await(true);
    const state = h.state();
    h.exit();
    if (!stopped) this.space.setWord(DIR_HELPER, 0);
    else if (state === H_IDLE) this.takeAll(h);
  }

  /**
   * With a helper, between the program's scan calls: takes what the
   * helper marked, moves entries to the program's stack when the helper's
   * came back nearly full, gives it entries when it is idle with none,
   * and sets it running. Returns false if the helper is gone holding work
   * (the caller abandons the cycle; the helper is dropped). O(entries moved).
   */
  balance(): boolean {
    const h = this.helper!;
    h.release(); // held by a check or save before it came up
    const state = h.state();
    if (h.gone()) {
      this.helper = null;
      // One that failed, or never came up (its script refused: a CSP, say), is not started again.
      if (state === H_FAILED || state === H_STARTING) this.helperFailed = true;
      h.exit();
      if (state !== H_IDLE) return state !== H_RUN && state !== H_FAILED;
      this.takeAll(h);
      return true;
    }
    if (state !== H_IDLE) return true;
    h.takeCounts(this);
    let sp = h.sp();
    if (sp > h.capacity >>> 1) {
      sp = this.absorb(h, sp, sp - (sp >>> 1));
    } else if (sp === 0 && this.heap.u32[h.hw + WS_SLICE_END] === 0) {
      sp = this.give(h);
      if (sp === 0) return true;
    }
    h.setSp(sp);
    h.run();
    return true;
  }

  /** At the end of a mark phase (the helper idle): what it marked since the last balance(). */
  takeHelperCounts(): void {
    if (this.helper !== null && this.helper.state() === H_IDLE) this.helper.takeCounts(this);
  }

  // Everything an idle helper holds becomes the program's: its counts, its
  // gray entries, and the rest of a large block it was scanning in slices,
  // whose refs are shaded at once.
  private takeAll(h: MarkHelper): void {
    const u32 = this.heap.u32;
    h.takeCounts(this);
    this.absorb(h, h.sp(), 0);
    const end = u32[h.hw + WS_SLICE_END]!;
    if (end === 0) return;
    for (let a = u32[h.hw + WS_SLICE_POS]!; a < end; a += 4) {
      if (((u32[this.space.wWord(a)]! >>> ((a >>> 1) & SHIFT_MASK)) & L.W_REF) !== 0) this.shade(u32, u32[a >>> 2]!);
    }
    u32[h.hw + WS_SLICE_END] = 0;
  }

  /** True while the helper thread scans (H_RUN). */
  helperRunning(): boolean {
    return this.helper !== null && this.helper.state() === H_RUN;
  }

  /** True while the helper holds gray entries or runs. */
  private helperBusy(): boolean {
    const h = this.helper;
    if (h === null) return false;
    const state = h.state();
    return state === H_RUN || state === H_FAILED || (state === H_IDLE && (h.sp() > 0 || this.heap.u32[h.hw + WS_SLICE_END] !== 0));
  }

  /** True while the program's own gray stack or slices hold work (the helper's aside). */
  hasWork(): boolean {
    return this.sp > 0 || this.below.length > 0 || (this.ws !== 0 ? this.heap.u32[this.ws + WS_SLICE_END] !== 0 : this.sliceEnd !== 0);
  }

  /** Waits (Atomics.wait) while the helper runs, asking it to stop first if `stop`; false if it did not stop in time. */
  awaitHelper(stop: boolean): boolean {
    return this.helper === null || this.helper.await(stop);
  }

  // Moves the helper's bottom (oldest) gray entries, all but `keep` of
  // them, to the program's stack: whole segments below it, the rest onto
  // its top; returns the helper's entries left, `keep`.
  private absorb(h: MarkHelper, sp: number, keep: number): number {
    const u32 = this.heap.u32;
    const hg = h.hw + WS_GRAY;
    const move = sp - keep;
    let k = 0;
    for (; move - k >= this.segment; k += this.segment) {
      const segment = this.spare.pop() ?? new Uint32Array(this.segment);
      segment.set(u32.subarray(hg + k, hg + k + this.segment));
      this.below.push(segment);
    }
    for (; k < move; k++) this.shade(u32, u32[hg + k]!, true);
    if (keep > 0) u32.copyWithin(hg, hg + move, hg + sp);
    h.setSp(keep);
    return keep;
  }

  // Gives the idle, empty helper work: a JS segment from below the
  // program's stack, or the bottom half of its workspace's entries (the
  // one, if one). Returns the helper's entries.
  private give(h: MarkHelper): number {
    const u32 = this.heap.u32;
    const hg = h.hw + WS_GRAY;
    const segment = this.below.pop();
    if (segment !== undefined) {
      u32.set(segment, hg);
      if (this.spare.length < SPARE_SEGMENTS) this.spare.push(segment);
      return this.segment;
    }
    // The older half, rounded up: one entry too (a tree's stack is a few dozen entries deep, and its
    // oldest are the largest subtrees: a handover of one entry there is half the tree).
    const n = (this.sp + 1) >>> 1;
    if (n === 0) return 0;
    const g = this.ws + WS_GRAY;
    u32.copyWithin(hg, g, g + n);
    u32.copyWithin(g, g + n, g + this.sp);
    this.sp -= n;
    return n;
  }

  // The workspace's word index, with the class sizes written; 0 if it cannot be allocated.
  private openWorkspace(): number {
    const heap = this.heap;
    let addr = this.space.word(DIR_WORKSPACE);
    if (addr === 0) {
      try {
        addr = heap.alloc(WORKSPACE_BYTES);
      } catch (e) {
        if (e instanceof OutOfMemoryError) return 0;
        throw e;
      }
      this.space.setWord(DIR_WORKSPACE, addr);
    }
    const ws = addr >>> 2;
    heap.u32[ws + WS_SLICE_END] = 0;
    writeClassSizes(heap.u32, ws);
    return ws;
  }

  /**
   * Shades `addr` if it is a collected block without MARK: sets MARK and
   * pushes it (by test-and-set while a helper marks too). `marked`: addr
   * has MARK already and is pushed as it is (entries taken from the helper).
   */
  shade(u32: Uint32Array, addr: number, marked = false): void {
    if (!marked) {
      if ((addr & 7) !== 0 || addr >= this.space.cover || addr < this.space.base) return;
      const gw = this.space.gWord(addr);
      const shift = (addr >>> 2) & SHIFT_MASK;
      const x = u32[gw]!;
      if (((x >>> shift) & 3) !== START) return;
      if (this.helper === null) u32[gw] = (x | (MARK << shift)) >>> 0;
      else if (((Atomics.or(u32, gw, MARK << shift) >>> shift) & MARK) !== 0) return;
    }
    if (this.ws !== 0) {
      if (this.sp === this.capacity) this.sp = this.spill(this.sp);
      this.heap.u32[this.ws + WS_GRAY + this.sp++] = addr;
      return;
    }
    if (this.sp === this.segment) this.pushSegment();
    this.gray[this.sp++] = addr;
  }

  /** Scans gray blocks for about n units of work (markJs says what a unit is), with the wasm scan in a phase that has the workspace. */
  markSome(n: number): void {
    if (this.ws !== 0) this.markWasm(n);
    else this.markJs(n);
  }

  // The wasm scan's driver: between its calls, moves the bottom segment of
  // the workspace's gray entries to a JS segment when the top nears the
  // workspace's end, and a JS segment back when the workspace ran empty.
  private markWasm(n: number): void {
    const heap = this.heap;
    const ws = this.ws;
    const scan = this.scan!;
    const { base, cover } = this.space;
    const table = this.space.word(DIR_CHUNKS) >>> 2;
    const capacity = this.capacity;
    let sp = this.sp;
    for (;;) {
      if (sp > capacity - WS_ROOM) {
        sp = this.spill(sp);
      } else if (sp === 0 && heap.u32[ws + WS_SLICE_END] === 0) {
        if (this.below.length === 0) break;
        sp = this.fill();
      }
      try {
        sp = scan(ws, n, sp, capacity, WS_ROOM, table, base, cover, heap.descW, this.helper !== null ? 1 : 0);
      } catch (e) {
        // A valid image keeps every load in bounds: the JavaScript scan would read undefined there.
        if (e instanceof WebAssembly.RuntimeError) throw new HeapCorruptionError("C1", `Collector: marking read outside the heap's memory (${e.message}): the chunk table or the workspace is damaged`);
        throw e;
      }
      const u32 = heap.u32;
      this.markedBlocks += u32[ws + WS_BLOCKS]!;
      this.markedBytes += u32[ws + WS_BYTES]!;
      n = u32[ws + WS_UNITS_LEFT]! | 0;
      if (n <= 0) break;
    }
    this.sp = sp;
  }

  /** Moves the workspace's oldest `segment` gray entries to a JS segment below; returns the entries left. */
  private spill(sp: number): number {
    const u32 = this.heap.u32;
    const gray = this.ws + WS_GRAY;
    const segment = this.spare.pop() ?? new Uint32Array(this.segment);
    segment.set(u32.subarray(gray, gray + this.segment));
    this.below.push(segment);
    u32.copyWithin(gray, gray + this.segment, gray + sp);
    return sp - this.segment;
  }

  /** Moves the JS segment on top of those below into the empty workspace; returns its entries. */
  private fill(): number {
    const segment = this.below.pop()!;
    this.heap.u32.set(segment, this.ws + WS_GRAY);
    if (this.spare.length < SPARE_SEGMENTS) this.spare.push(segment);
    return this.segment;
  }

  /**
   * Scans gray blocks (and slices of large ones) for about n units of
   * work: shades the target of each W_REF word. A block or slice near the
   * one scanned before it costs 1 unit, any other FAR_UNITS (its cache
   * misses: 180 ns a block on a random graph, 15 on a tree in allocation
   * order), so a chunk of n units takes about as long on either. Allocates
   * nothing but a gray segment now and then. O(n).
   */
  // shade() inlined, with the marker's fields in locals.
  //
  // Order: a block's last W_REF word is scanned first, so its first
  // reference is pushed last and scanned next. A structure built depth
  // first in field order (a tree grown in preorder, a list from its head)
  // is then marked in the order it was allocated, which is mostly address
  // order: a 3M-node tree marks at 8-10 ns a block in that order and 17 in
  // the reverse one.
  //
  // Cache misses: a gray block on the page of the block scanned last, or
  // the next page, is scanned at once (that order), and so is the first
  // one that is not. When the next is not either, it is taken with the
  // BATCH - 1 below it, and their first words and tag words are read
  // before any is scanned: loads that do not depend on each other, so
  // their misses overlap instead of coming one after another (on a random
  // graph, most of what a block costs is those misses: 180 ns a block with
  // the batch, 300 without). Batching every block cost the tree its order
  // (24 ns a block): there, 1 block in 100 is far from the last, and never
  // two in a row.
  //
  // A block's size comes from its page (one class to a page, or one large
  // block starting there), looked up again only when the page changes.
  markJs(n: number): void {
    const heap = this.heap;
    const u32 = heap.u32;
    const { gB, wB, base, cover } = this.space;
    const { batchFrom, batchTo, segment } = this;
    let gray = this.gray;
    let sp = this.sp;
    let blocks = 0;
    let bytes = 0;
    let touched = 0;
    let page = -1;
    let pageSize = 0;
    let lastPage = -2;
    let farBefore = false;
    while (n > 0) {
      let k = 0;
      if (this.sliceEnd !== 0) {
        // The next slice of a large block (an array's elements).
        batchFrom[0] = this.slicePos;
        batchTo[0] = this.slicePos = Math.min(this.sliceEnd, this.slicePos + SLICE_BYTES);
        if (batchTo[0] === this.sliceEnd) this.sliceEnd = 0;
        k = 1;
        n -= SLICE_UNITS;
      } else {
        if (sp === 0) {
          if (this.below.length === 0) break;
          gray = this.popSegment();
          sp = segment;
        }
        const near = (((gray[sp - 1]! >>> PAGE_SHIFT) - lastPage) >>> 0) <= 1;
        if (near || !farBefore) {
          batchFrom[k++] = gray[--sp]!;
        } else {
          // A loop of loads alone, so that the whole batch's misses are in flight together.
          for (; k < BATCH && sp > 0; k++) {
            const addr = gray[--sp]!;
            touched ^= u32[wB[addr >>> CHUNK_SHIFT]! + (addr >>> W_WORD_SHIFT)]! ^ u32[addr >>> 2]!;
            batchFrom[k] = addr;
          }
        }
        farBefore = !near;
        for (let j = 0; j < k; j++) {
          const addr = batchFrom[j]!;
          if (addr >>> PAGE_SHIFT !== page) {
            page = addr >>> PAGE_SHIFT;
            pageSize = heap.usable(addr);
          }
          blocks++;
          bytes += pageSize;
          if (pageSize > SLICE_BYTES) {
            // A large block ends the batch: the blocks taken after it go back
            // on the stack, in their order, and it is scanned a slice at a time.
            for (let i = k - 1; i > j; i--) gray[sp++] = batchFrom[i]!;
            batchTo[j] = this.slicePos = addr + SLICE_BYTES;
            this.sliceEnd = addr + pageSize;
            k = j + 1;
            break;
          }
          batchTo[j] = addr + pageSize;
        }
        n -= farBefore ? FAR_UNITS * k : k;
      }
      // The batch's last block first, so that the children of the one taken first end on top.
      for (let j = k - 1; j >= 0; j--) {
        // Heap words [first, end), 16 to a bitmap word (q: the first of them), last first; W_REF bits are the even ones.
        const first = batchFrom[j]! >>> 2;
        const end = batchTo[j]! >>> 2;
        lastPage = first >>> (PAGE_SHIFT - 2);
        for (let q = (end - 1) & ~15; q + 16 > first; q -= 16) {
          let x = u32[wB[q >>> (CHUNK_SHIFT - 2)]! + (q >>> 4)]! & EVEN_BITS & L.rangeMask(Math.max(first - q, 0), Math.min(16, end - q));
          while (x !== 0) {
            const bit = 31 - Math.clz32(x);
            x ^= 1 << bit;
            const t = u32[q + (bit >>> 1)]!;
            if ((t & 7) !== 0 || t >= cover || t < base) continue;
            const gw = gB[t >>> CHUNK_SHIFT]! + (t >>> G_WORD_SHIFT);
            const shift = (t >>> 2) & SHIFT_MASK;
            const g = u32[gw]!;
            if (((g >>> shift) & 3) !== START) continue;
            u32[gw] = (g | (MARK << shift)) >>> 0;
            if (sp === segment) {
              gray = this.pushSegment();
              sp = 0;
            }
            gray[sp++] = t;
          }
        }
      }
    }
    this.sp = sp;
    this.touched = touched & 1; // a small integer: a field V8 saw hold one deoptimizes markJs when it first holds a larger number
    this.markedBlocks += blocks;
    this.markedBytes += bytes;
  }

  // The gray stack's segments: pushSegment puts a full top segment below and
  // returns the new (empty) top; popSegment drops the empty top and returns
  // the full one below (there must be one). Both set this.gray and this.sp;
  // markJs keeps its own copies of them in locals and sets its sp too.
  private pushSegment(): Uint32Array {
    this.below.push(this.gray);
    this.sp = 0;
    return (this.gray = this.spare.pop() ?? new Uint32Array(this.segment));
  }

  private popSegment(): Uint32Array {
    if (this.spare.length < SPARE_SEGMENTS) this.spare.push(this.gray);
    this.sp = this.segment;
    return (this.gray = this.below.pop()!);
  }

  /** True while the gray stack or a large block's slices hold work, the helper's included. */
  marking(): boolean {
    return this.hasWork() || this.helperBusy();
  }

  private emptyGray(): void {
    while (this.below.length > 0) this.popSegment();
    this.sp = 0;
  }
}
