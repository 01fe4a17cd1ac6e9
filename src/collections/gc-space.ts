// The collector's state in the image as one object: its directory, chunk
// table and bitmaps (gc-layout.ts draws them), the biased word indexes the
// marker and the sweeper read them at, and the counts. See collector.ts for
// an overview.

import type { Heap } from "../heap/heap.js";
import { HeapCorruptionError, hex, InvalidImageError, OffheapTypeError, OutOfMemoryError } from "../errors.js";
import { type Reclaimer, reclaimerOf, registerImageReclaimer } from "../heap/reclaim.js";
import type { Collector } from "./collector.js";
import { checkCollector } from "./gc-check.js";
import * as L from "./gc-layout.js";

const { CHUNK_SHIFT, DIR_CHUNKS, DIR_COVER, DIR_F64_LIVE_BYTES, DIR_LIVE_BLOCKS, EVEN_BITS, G_WORD_SHIFT, W_WORD_SHIFT } = L;

/** The directory at `dir` and the bitmaps it names. */
export class GcSpace {
  readonly heap: Heap;
  readonly dir: number;
  /** Covered addresses: [base, cover). */
  base = 0;
  cover = 0;
  /**
   * Per chunk (address >>> CHUNK_SHIFT), the biased word indexes of its
   * granule and word bitmaps (gc-layout.ts: chunkWords): gWord and wWord,
   * which the marker and the sweeper inline.
   */
  gB: Int32Array = new Int32Array(0);
  wB: Int32Array = new Int32Array(0);

  /**
   * A new directory, chunk table and bitmaps covering the committed range,
   * rooted as GC_ROOT; returns the directory's address. OutOfMemoryError:
   * nothing is left allocated.
   */
  static create(heap: Heap): number {
    const base = Math.floor(heap.dataStart / L.CHUNK_BYTES) * L.CHUNK_BYTES;
    const cover = Math.min(L.alignChunk(Math.max(heap.u8.length, base + L.CHUNK_BYTES)), L.MAX_COVER);
    const made: number[] = [];
    try {
      const dir = heap.calloc(L.DIR_BYTES);
      made.push(dir);
      const table = heap.calloc((cover >>> CHUNK_SHIFT) * 4);
      made.push(table);
      heap.u32[(dir >>> 2) + L.DIR_TABLE_CAP] = cover >>> CHUNK_SHIFT;
      for (let c = base >>> CHUNK_SHIFT; c < cover >>> CHUNK_SHIFT; c++) {
        const block = heap.calloc(L.CHUNK_BITMAP_BYTES);
        made.push(block);
        heap.u32[(table >>> 2) + c] = block;
      }
      const u32 = heap.u32;
      const d = dir >>> 2;
      u32[d + L.DIR_MAGIC] = L.GC_MAGIC;
      u32[d + L.DIR_VERSION] = L.GC_VERSION;
      u32[d + DIR_CHUNKS] = table;
      u32[d + DIR_COVER] = cover;
      u32[d + L.DIR_BASE] = base;
      heap.setLibraryRoot(L.GC_ROOT, dir);
      return dir;
    } catch (e) {
      for (const a of made) heap.free(a);
      throw e;
    }
  }

  /** Opens the directory at `dir`: HeapCorruptionError (C1) if none is there, InvalidImageError for another version. */
  constructor(heap: Heap, dir: number) {
    const u32 = heap.u32;
    const d = dir >>> 2;
    if (u32[d + L.DIR_MAGIC] !== L.GC_MAGIC) throw new HeapCorruptionError("C1", `Collector: the root ${L.GC_ROOT} at ${hex(dir)} is not a collector directory`);
    if (u32[d + L.DIR_VERSION] !== L.GC_VERSION) throw new InvalidImageError(`Collector: the heap's collector state has version ${u32[d + L.DIR_VERSION]}; this build reads ${L.GC_VERSION}`);
    this.heap = heap;
    this.dir = dir;
    this.read();
  }

  /** The directory's u32 word i. */
  word(i: number): number {
    return this.heap.u32[(this.dir >>> 2) + i]!;
  }

  setWord(i: number, v: number): void {
    this.heap.u32[(this.dir >>> 2) + i] = v;
  }

  /** The directory's f64 word i, and adding to it. */
  f64(i: number): number {
    return this.heap.f64[(this.dir >>> 3) + i]!;
  }

  addF64(i: number, x: number): void {
    this.heap.f64[(this.dir >>> 3) + i] = this.f64(i) + x;
  }

  /** Counts `blocks` more collected blocks of `bytes` more (fewer, when negative). */
  addLive(blocks: number, bytes: number): void {
    // Through the views at once, not word() and addF64(): gc.alloc calls
    // this after V8 has spent its inlining budget on calloc (gc.alloc(Node):
    // 42-45 -> 38-39 ns with tag's loop written out too).
    const u32 = this.heap.u32;
    const f64 = this.heap.f64;
    const w = (this.dir >>> 2) + DIR_LIVE_BLOCKS;
    const f = (this.dir >>> 3) + DIR_F64_LIVE_BYTES;
    u32[w] = u32[w]! + blocks;
    f64[f] = f64[f]! + bytes;
  }

  /** Word index of the granule-bitmap word of a covered address. */
  gWord(addr: number): number {
    return this.gB[addr >>> CHUNK_SHIFT]! + (addr >>> G_WORD_SHIFT);
  }

  /** Word index of the word-bitmap word of a covered address. */
  wWord(addr: number): number {
    return this.wB[addr >>> CHUNK_SHIFT]! + (addr >>> W_WORD_SHIFT);
  }

  /**
   * Covers [base, end) and no more than the chunks that takes: a zeroed
   * bitmap block for each new chunk (the chunk table grows by doubling).
   * O(new chunks * 96 KiB), nothing copied but the table.
   * OutOfMemoryError: the chunks added before it stay covered; also for an
   * end past MAX_COVER, with nothing changed.
   */
  grow(end: number): void {
    const heap = this.heap;
    if (end > L.MAX_COVER) {
      throw new OutOfMemoryError(`Collector: a collected block may not reach past ${hex(L.MAX_COVER)} (the last MiB of a 4 GiB heap); this one ends at ${hex(end)}`);
    }
    const cover = L.alignChunk(end);
    let table = this.word(DIR_CHUNKS);
    const entries = cover >>> CHUNK_SHIFT;
    if (this.tableCap() < entries) table = this.moveTable(Math.max(entries, 2 * (this.cover >>> CHUNK_SHIFT)));
    try {
      for (let c = this.cover >>> CHUNK_SHIFT; c < entries; c++) {
        const block = heap.calloc(L.CHUNK_BITMAP_BYTES);
        heap.u32[(table >>> 2) + c] = block;
        // After the entry, for a helper thread that reads the cover first (gc-helper.ts).
        Atomics.store(heap.u32, (this.dir >>> 2) + DIR_COVER, (c + 1) << CHUNK_SHIFT);
      }
    } finally {
      this.read();
    }
  }

  /**
   * Makes the chunk table as large as any cover needs, so that grow()
   * never moves it: a helper thread reads it while the program allocates
   * (gc-helper.ts). OutOfMemoryError: unchanged. O(16 KiB) once.
   */
  fixTable(): void {
    const entries = L.MAX_COVER >>> CHUNK_SHIFT;
    if (this.tableCap() >= entries) return;
    this.moveTable(entries);
    this.read();
  }

  // Entries the chunk table holds (DIR_TABLE_CAP; an image from before it: those the cover needs).
  private tableCap(): number {
    return this.word(L.DIR_TABLE_CAP) || this.cover >>> CHUNK_SHIFT;
  }

  // Reallocates the chunk table for `entries`, the new ones zero; returns its address. OutOfMemoryError: unchanged.
  private moveTable(entries: number): number {
    const heap = this.heap;
    const used = (this.cover >>> CHUNK_SHIFT) * 4;
    const table = heap.realloc(this.word(DIR_CHUNKS), entries * 4);
    heap.u8.fill(0, table + used, table + entries * 4);
    this.setWord(DIR_CHUNKS, table);
    this.setWord(L.DIR_TABLE_CAP, entries);
    return table;
  }

  /** True if a collected block starts at `addr` (its START bit), for any value. O(1). */
  isStart(addr: number): boolean {
    if (!Number.isInteger(addr) || addr < this.base || addr >= this.cover || (addr & 7) !== 0) return false;
    return ((this.heap.u32[this.gWord(addr)]! >>> ((addr >>> 2) & L.SHIFT_MASK)) & L.START) !== 0;
  }

  /** Clears every MARK bit (a mark phase abandoned). O(covered range / 128). */
  clearMarks(): void {
    const u32 = this.heap.u32;
    for (let a = this.base; a < this.cover; a += L.CHUNK_BYTES) {
      for (let i = this.gWord(a), end = i + (L.CHUNK_GRANULE_BYTES >>> 2); i < end; i++) {
        if (u32[i] !== 0) u32[i] = u32[i]! & EVEN_BITS;
      }
    }
  }

  private read(): void {
    this.base = this.word(L.DIR_BASE);
    this.cover = this.word(DIR_COVER);
    ({ g: this.gB, w: this.wB } = L.chunkWords(this.heap.u32, this.word(DIR_CHUNKS), this.base, this.cover));
  }
}

/**
 * The Collector a collection opened from `heap` at `hdr` (its header
 * block) belongs to, or null if the header is not a collected block. That
 * is read from the collector state in the image, so that a collection made
 * with a Collector is not opened as a plain one when none is open, which
 * would free and move its blocks by hand. Throws OffheapTypeError if the
 * header is collected and the heap has no open Collector; `api` names the
 * call. O(1).
 */
export function collectorOfHeader(heap: Heap, api: string, hdr: number): Collector | null {
  const dir = heap.getRoot(L.GC_ROOT);
  if (dir === 0) return null;
  if (!new GcSpace(heap, dir).isStart(hdr)) return null;
  const owner = reclaimerOf(heap);
  if (owner === null || owner instanceof CollectedBlocksGuard || !owner.owns(hdr)) {
    throw new OffheapTypeError(`${api}: the collection at ${hex(hdr)} was made with a Collector; open one on the heap (new Collector(heap)) before opening it`);
  }
  return owner as Collector;
}

/**
 * The reclaimer of a heap whose image holds a Collector's blocks while no
 * Collector is open on it: after gc.dispose(), and on a heap opened with
 * Heap.load or Heap.attach until `new Collector(heap)` takes its place.
 * heap.free and realloc of a collected block throw as they do with a
 * Collector (a free would leave its START bit on a freed block, and a
 * reused one would be taken for a record), and heap.check() validates
 * C1-C6. It reads the bitmaps where they are, since nothing moves them
 * until a Collector is open.
 */
export class CollectedBlocksGuard implements Reclaimer {
  readonly name = "Collector";
  private readonly space: GcSpace;

  constructor(heap: Heap, dir: number) {
    this.space = new GcSpace(heap, dir);
  }

  owns(addr: number): boolean {
    return this.space.isStart(addr);
  }

  check(): void {
    checkCollector(this.space.heap, this.space.dir);
  }
}

// A heap opened over an image with a Collector's directory starts guarded.
// A directory that is not one (no magic, another version) is left to the
// Collector, which reports it when it is opened.
registerImageReclaimer((heap) => {
  const dir = heap.getRoot(L.GC_ROOT);
  if (dir === 0 || dir + L.DIR_BYTES > heap.u8.length || (dir & 3) !== 0) return null;
  const u32 = heap.u32;
  if (u32[(dir >>> 2) + L.DIR_MAGIC] !== L.GC_MAGIC || u32[(dir >>> 2) + L.DIR_VERSION] !== L.GC_VERSION) return null;
  return new CollectedBlocksGuard(heap, dir);
});
