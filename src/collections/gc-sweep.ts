// The collector's sweep (step 3 of collector.ts's overview) and the
// release of one garbage block's tags and owned strings.

import type { Heap } from "../heap/heap.js";
import * as reclaim from "../heap/reclaim.js";
import { popcount } from "../common/bits.js";
import * as L from "./gc-layout.js";
import type { GcSpace } from "./gc-space.js";

const { CHUNK_SHIFT, DIR_F64_FREED_BLOCKS, DIR_F64_FREED_BYTES, EVEN_BITS, G_WORD_SHIFT } = L;
const { SIZE_PAGE_SHIFT: PAGE_SHIFT } = reclaim;

/**
 * Sweeps granule-bitmap words [from, to) of `space` (step 3 of
 * collector.ts's overview), or fewer: it stops after the word in which it
 * freed its maxBlocks-th block. Frees each START without MARK (its owned
 * strings, its tags, the block), clears MARK on the rest, and counts what
 * it freed in the directory. Returns the word it stopped before.
 * O(words swept + freed blocks).
 */
// A word's garbage lies in one 128-byte line of one page, so (small
// blocks of one span, or one large block) it goes back in one
// heap.freeLine, not a heap.free each: most of what a sweep cost was those
// frees, and the flushes of the cache list they filled. freeLine runs
// under the heap lock, taken once in a call, at its first garbage.
export function sweepWords(heap: Heap, space: GcSpace, from: number, to: number, maxBlocks: number): number {
  const gB = space.gB;
  let blocks = 0;
  let bytes = 0;
  let locked = false;
  let page = -1;
  let size = 0;
  let i = from;
  try {
    for (; i < to && blocks < maxBlocks; i++) {
      // Word i of the granule bitmap covers the line at i << G_WORD_SHIFT, in chunk i >>> (CHUNK_SHIFT - G_WORD_SHIFT).
      const gw = gB[i >>> (CHUNK_SHIFT - G_WORD_SHIFT)]! + i;
      const x = heap.u32[gw]!;
      if (x === 0) continue;
      const starts = x & EVEN_BITS;
      const dead = starts & ~((x >>> 1) & EVEN_BITS);
      if (dead === 0) {
        heap.u32[gw] = starts;
        continue;
      }
      if (!locked) {
        heap.lockHeap();
        locked = true;
        heap.samplePeakLive(); // freeLine lowers the live bytes without a cache list between
      }
      const line = (i << G_WORD_SHIFT) >>> 0;
      // One size for the page's blocks: a page holds one class, or starts one large block.
      if (line >>> PAGE_SHIFT !== page) {
        page = line >>> PAGE_SHIFT;
        size = heap.usable(line + ((31 - Math.clz32(dead & -dead)) << 2));
      }
      if ((i & PAGE_WORD_MASK) === 0 && dead === starts && i + PAGE_WORDS <= to) {
        const n = sweepPage(heap, space, gw, line);
        if (n !== 0) {
          blocks += n;
          bytes += n * size;
          i += PAGE_WORDS - 1;
          continue;
        }
      }
      heap.u32[gw] = (starts & ~dead) >>> 0;
      if (size <= 64 && (dead & ~ALIGNED_STARTS[size >>> 3]!) === 0) {
        dropLineTags(heap, space, line, dead, size);
      } else {
        for (let d = dead; d !== 0; d &= d - 1) dropTags(heap, space, line + ((31 - Math.clz32(d & -d)) << 2), size);
      }
      const n = popcount(dead);
      blocks += n;
      bytes += n * size;
      if (!heap.freeLine(line, dead)) {
        for (let d = dead; d !== 0; d &= d - 1) heap.free(line + ((31 - Math.clz32(d & -d)) << 2));
      }
    }
  } finally {
    if (locked) heap.unlockHeap();
  }
  if (blocks === 0) return i;
  space.addLive(-blocks, -bytes);
  space.addF64(DIR_F64_FREED_BLOCKS, blocks);
  space.addF64(DIR_F64_FREED_BYTES, bytes);
  return i;
}

/** Granule-bitmap words of a page; the START bits of its dead blocks by line (sweepPage). */
const PAGE_WORDS = 1 << (PAGE_SHIFT - G_WORD_SHIFT);
const PAGE_WORD_MASK = PAGE_WORDS - 1;
const PAGE_DEAD = new Uint32Array(PAGE_WORDS);

/**
 * Frees the blocks of the page at `line` (its granule-bitmap words from
 * gw) if none of them survived and they are all its span's objects in use
 * (heap.freeSpan, which counts them: the page goes back to the page heap
 * without a write into it, where freeLine would link every block); then
 * drops their tags, frees their owned strings and clears their START bits.
 * Returns the blocks it
 * freed, or 0, having changed nothing (the caller sweeps the page line by
 * line: a survivor, an object still in use, cached or not collected, or a
 * span of more pages). A tree's halves die a page at a time: freeLine's
 * writes into the dead blocks were most of what sweeping them cost.
 */
function sweepPage(heap: Heap, space: GcSpace, gw: number, line: number): number {
  const u32 = heap.u32;
  for (let k = 0; k < PAGE_WORDS; k++) {
    const x = u32[gw + k]!;
    if ((x & (x >>> 1) & EVEN_BITS) !== 0) return 0; // a START with MARK: a survivor
    PAGE_DEAD[k] = x & EVEN_BITS;
  }
  const n = heap.freeSpan(line >>> PAGE_SHIFT, PAGE_DEAD);
  if (n === 0) return 0;
  // The span had no other object in use: every tagged word of the page was a dead block's.
  dropTags(heap, space, line, 1 << PAGE_SHIFT);
  heap.u32.fill(0, gw, gw + PAGE_WORDS);
  return n;
}

/**
 * SPREAD[x]: for each even bit b of the byte x (a granule-bitmap START bit:
 * the granule at byte 4b of its 32 bytes), bit 2b (the word-bitmap bit of
 * its first 4-byte word). Times the tag bits of one block, a line's dead
 * START bits become the tag bits of all its dead blocks.
 */
const SPREAD = Uint32Array.from({ length: 256 }, (_, x) => {
  let m = 0;
  for (let b = 0; b < 8; b += 2) if ((x >>> b) & 1) m |= 1 << (2 * b);
  return m;
});

/**
 * By size / 8, for the sizes 8, 16, 32 and 64: the START bits a line's
 * blocks of that size can have when each starts at a multiple of its size
 * (so each lies inside one 64-byte word-bitmap word, or fills it); 0 for
 * the other sizes.
 */
const ALIGNED_STARTS = Uint32Array.from({ length: 9 }, (_, k) =>
  k === 1 ? 0x55555555 : k === 2 ? 0x11111111 : k === 4 ? 0x01010101 : k === 8 ? 0x00010001 : 0);

// Clears the word tags of the dead blocks of the 128-byte line at `line`
// (START bits `dead`), all of `size` bytes, 8, 16, 32 or 64 and each at a
// multiple of its size (ALIGNED_STARTS), and frees the strings their
// W_OWNED words hold: the line's two word-bitmap words are each read and
// written once for all its blocks. One block at a time (dropTags) this
// was half of what sweeping 16-byte records cost.
function dropLineTags(heap: Heap, space: GcSpace, line: number, dead: number, size: number): void {
  let low: number;
  let high: number;
  if (size === 64) {
    // One block per word-bitmap word.
    low = (dead & 0xffff) !== 0 ? -1 : 0;
    high = (dead >>> 16) !== 0 ? -1 : 0;
  } else {
    const pattern = (1 << (size >>> 1)) - 1; // one block's tag bits
    low = Math.imul(SPREAD[dead & 0xff]! | (SPREAD[(dead >>> 8) & 0xff]! << 16), pattern);
    high = Math.imul(SPREAD[(dead >>> 16) & 0xff]! | (SPREAD[dead >>> 24]! << 16), pattern);
  }
  dropWordTags(heap, space, line, low);
  dropWordTags(heap, space, line + 64, high);
}

// Clears the bits of `mask` in the word-bitmap word of the 64 bytes at
// `at`, and frees the strings its W_OWNED words among them hold.
function dropWordTags(heap: Heap, space: GcSpace, at: number, mask: number): void {
  if (mask === 0) return;
  const ww = space.wWord(at);
  const x = heap.u32[ww]!;
  if ((x & mask) === 0) return;
  heap.u32[ww] = (x & ~mask) >>> 0;
  for (let owned = (x >>> 1) & EVEN_BITS & mask; owned !== 0; owned &= owned - 1) {
    const s = heap.u32[(at >>> 2) + ((31 - Math.clz32(owned & -owned)) >>> 1)]!;
    if (s !== 0) heap.free(s);
  }
}

// Clears the word tags of the garbage block [addr, addr + bytes) and frees
// the strings its W_OWNED words hold: dropWordTags on each word-bitmap word
// it covers.
export function dropTags(heap: Heap, space: GcSpace, addr: number, bytes: number): void {
  for (let p = addr >>> 2, end = (addr + bytes) >>> 2; p < end; p = (p | 15) + 1) {
    dropWordTags(heap, space, (p & ~15) * 4, L.rangeMask(p & 15, Math.min(16, end - (p & ~15))));
  }
}
