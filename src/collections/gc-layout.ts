// The collector's state in the heap image: a directory block, a chunk
// table and one bitmap block per chunk of covered address space, all plain
// heap blocks, found again after save/load or attach through the named
// root "offheap.gc". See collector.ts for an overview.
//
//   directory (a heap block of DIR_BYTES; u32 words, f64 where noted)
//   +0 DIR_MAGIC   "OHGC"              +1 DIR_VERSION
//   +2 DIR_PHASE   PHASE_IDLE, PHASE_MARK or PHASE_SWEEP
//   +3 DIR_CHUNKS  address of the chunk table
//   +4 DIR_WORKSPACE  address of the wasm marker's workspace (gc-mark.ts:
//                  WORKSPACE_BYTES, allocated by the first Collector made
//                  on the heap's WebAssembly.Memory, kept for later ones;
//                  0 before, or on other memories; 0 in version 2 images
//                  written before it, where the word was reserved)
//   +5 DIR_COVER   end of the address space the bitmaps cover: [base, cover)
//   +6 DIR_CURSOR  while sweeping: the next granule-bitmap word to sweep,
//                  as the address it covers >>> 7
//   +8 DIR_BASE    start of the covered space: the heap's first data page,
//                  rounded down to a chunk (no block lies below it)
//   +9 DIR_HELPER  address of the helper thread's block (gc-helper.ts:
//                  HELPER_BYTES), allocated by the first concurrent
//                  Collector, kept for later ones; 0 before (the word was 0
//                  in every image written before it)
//   +10 DIR_TABLE_CAP  entries the chunk table was allocated for (a debug
//                  heap's block is larger than that, its trailer at the
//                  end); 0 in images written before it: as many as the
//                  cover needs
//   +7 DIR_LIVE_BLOCKS collected blocks allocated (START bits set)
//   f64 +6 DIR_F64_LIVE_BYTES  usable bytes of those blocks
//   f64 +7 DIR_F64_CYCLES      cycles completed
//   f64 +8 DIR_F64_FREED_BLOCKS, +9 DIR_F64_FREED_BYTES  freed by sweeps, in all
//   f64 +10 DIR_F64_MARKED_BLOCKS, +11 DIR_F64_MARKED_BYTES  marked by the mark
//          phases that finished, in all
//
//   chunk table: a u32 per CHUNK_BYTES of address space, from address 0 to
//   cover: entry c (the chunk [c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES)) is
//   the address of that chunk's bitmap block, or 0 below base. A chunk's
//   bitmap block is CHUNK_BITMAP_BYTES: its granule bitmap, then at
//   CHUNK_GRANULE_BYTES its word bitmap. The cover grows a chunk at a time,
//   as collected blocks reach past it, so growing the bitmaps allocates and
//   zeroes 96 KiB, never copies them (one contiguous pair of bitmaps
//   grown by half took 131 ms to copy at 373 MiB of cover on the bench VM,
//   a pause inside gc.alloc).
//
//   granule bitmap: 2 bits per 8-byte granule, 16 granules a u32 word,
//   the geometry of the allocation bitmap (layout.ts):
//     bit 0 START  a collected block starts here
//     bit 1 MARK   that block is marked (black or gray) in this cycle
//   word bitmap: 2 bits per 4-byte word, 16 words a u32:
//     01 W_REF     the word is a "ref" field of a collected record: marking
//                  follows it
//     10 W_OWNED   the word is a "string" field: the address of a block the
//                  record owns, freed with it; never followed
//
// A record's layout is thus in the image beside the record, written once by
// Collector.alloc from its type: a loaded image is collected with no type
// registered, and blocks with no W_REF word (strings, bytes, scalar
// records) cost the marker one bitmap read: Go's noscan spans, per block.
// Metadata: 6 bits per 8 bytes of covered range (9.4%), and 4 bytes per
// MiB of address space for the chunk table.
//
// Invariants (checkCollector; the IDs appear in HeapCorruptionError):
//   C1  the directory, the chunk table and each covered chunk's bitmap
//       block are live blocks large enough for DIR_COVER; phase and cursor
//       are in range.
//   C2  every START granule is the start of a live heap block, inside
//       [base, cover); DIR_LIVE_BLOCKS and DIR_F64_LIVE_BYTES count them.
//   C3  MARK only on START granules; none while idle; while sweeping, none
//       in words before the cursor.
//   C4  word bits only inside collected blocks.
//   C5  a W_REF word of a record that survives (idle: every record;
//       sweeping: swept or marked ones) is 0 or the start of a live block.
//   C6  a W_OWNED word is 0 or the start of a live block that is not collected.

import type { StructType } from "./struct.js";

/** The named root holding the directory's address. */
export const GC_ROOT = "offheap.gc";
export const GC_MAGIC = 0x4347484f; // "OHGC" little-endian
export const GC_VERSION = 2;

export const DIR_MAGIC = 0;
export const DIR_VERSION = 1;
export const DIR_PHASE = 2;
export const DIR_CHUNKS = 3;
export const DIR_WORKSPACE = 4;
/** Bytes of the wasm marker's workspace (gc-mark.ts draws it). */
export const WORKSPACE_BYTES = 32768;
export const DIR_COVER = 5;
export const DIR_CURSOR = 6;
export const DIR_LIVE_BLOCKS = 7;
export const DIR_BASE = 8;
export const DIR_HELPER = 9;
export const DIR_TABLE_CAP = 10;
/** Bytes of the helper thread's block (gc-helper.ts): a workspace whose gray stack holds HELPER_BYTES / 4 - 256 entries. */
export const HELPER_BYTES = 262144;
export const DIR_F64_LIVE_BYTES = 6;
export const DIR_F64_CYCLES = 7;
export const DIR_F64_FREED_BLOCKS = 8;
export const DIR_F64_FREED_BYTES = 9;
export const DIR_F64_MARKED_BLOCKS = 10;
export const DIR_F64_MARKED_BYTES = 11;
export const DIR_BYTES = 96;

export const PHASE_IDLE = 0;
export const PHASE_MARK = 1;
export const PHASE_SWEEP = 2;

/** Granule bitmap: the word of address a is (a >>> G_WORD_SHIFT), its START bit at ((a >>> 2) & SHIFT_MASK). */
export const G_WORD_SHIFT = 7;
/** Word bitmap: the word of address a is (a >>> W_WORD_SHIFT), its bits at ((a >>> 1) & SHIFT_MASK). */
export const W_WORD_SHIFT = 6;
/** Address space per bitmap block: a chunk is [c << CHUNK_SHIFT, (c + 1) << CHUNK_SHIFT). */
export const CHUNK_SHIFT = 20;
export const CHUNK_BYTES = 1 << CHUNK_SHIFT;
/** A chunk's bitmap block: its granule bitmap (CHUNK_BYTES / 32), then its word bitmap (CHUNK_BYTES / 16). */
export const CHUNK_GRANULE_BYTES = CHUNK_BYTES >>> 5;
export const CHUNK_BITMAP_BYTES = CHUNK_GRANULE_BYTES + (CHUNK_BYTES >>> 4);
/**
 * The end of the space the collector can cover: DIR_COVER is a u32, and
 * every address it shifts must stay below 2^32. A collected block reaching
 * into the last MiB of a 4 GiB heap is refused (OutOfMemoryError).
 */
export const MAX_COVER = 2 ** 32 - CHUNK_BYTES;
export const SHIFT_MASK = 30;
export const START = 1;
export const MARK = 2;
export const W_REF = 1;
export const W_OWNED = 2;
/** The START bits of a granule-bitmap word. */
export const EVEN_BITS = 0x55555555;

/**
 * The biased word indexes of the bitmaps of every chunk of [base, cover),
 * whose bitmap blocks the chunk table at `table` names: for an address a
 * in chunk c = a >>> CHUNK_SHIFT, its granule-bitmap word is
 * u32[g[c] + (a >>> G_WORD_SHIFT)] and its word-bitmap word
 * u32[w[c] + (a >>> W_WORD_SHIFT)], so no subtraction runs per address.
 * Entries below base are 0 (never read: callers test the range first).
 */
export function chunkWords(u32: Uint32Array, table: number, base: number, cover: number): { g: Int32Array; w: Int32Array } {
  const n = cover >>> CHUNK_SHIFT;
  const g = new Int32Array(n);
  const w = new Int32Array(n);
  for (let c = base >>> CHUNK_SHIFT; c < n; c++) {
    const block = u32[(table >>> 2) + c]!;
    g[c] = (block >>> 2) - (c << (CHUNK_SHIFT - G_WORD_SHIFT));
    w[c] = ((block + CHUNK_GRANULE_BYTES) >>> 2) - (c << (CHUNK_SHIFT - W_WORD_SHIFT));
  }
  return { g, w };
}

/** Bits of bitmap positions [lo, hi) of a word, 2 bits per position (0 <= lo < hi <= 16). */
export function rangeMask(lo: number, hi: number): number {
  return (hi === 16 ? -1 : (1 << (hi * 2)) - 1) & ~((1 << (lo * 2)) - 1);
}

/** `bytes` rounded up to a whole chunk. */
export function alignChunk(bytes: number): number {
  return Math.ceil(bytes / CHUNK_BYTES) * CHUNK_BYTES;
}

/** Per struct type: its tagged words as (byte offset << 2 | W_REF or W_OWNED). */
const TAGS = new WeakMap<StructType, Int32Array>();
/** The tags of a block with no tagged word. */
export const NO_TAGS = new Int32Array(0);

/** The tags of a struct type's records, as above (Collector.alloc and collected arrays, array.ts). */
export function tagsOf(type: StructType): Int32Array {
  let tags = TAGS.get(type);
  if (tags === undefined) {
    const list = type.fields.filter((f) => f.type === "ref" || f.type === "string");
    tags = list.length === 0 ? NO_TAGS : Int32Array.from(list, (f) => (f.offset << 2) | (f.type === "ref" ? W_REF : W_OWNED));
    TAGS.set(type, tags);
  }
  return tags;
}
