// The collector's validator: invariants C1-C6 of gc-layout.ts. See
// collector.ts for an overview.

import type { Heap } from "../heap/heap.js";
import { HeapCorruptionError, hex } from "../errors.js";
import { blockSize } from "./header.js";
import * as L from "./gc-layout.js";

/**
 * Calls visit(wordAddress, tag) for every tagged word (W_REF or W_OWNED) in
 * [from, to) of the word bitmaps whose biased indexes per chunk are wB.
 * Cost: O((to - from) / 64).
 */
function forTaggedWords(u32: Uint32Array, wB: Int32Array, from: number, to: number, visit: (addr: number, tag: number) => void): void {
  for (let p = from >>> 2, end = to >>> 2; p < end; p = (p | 15) + 1) {
    const x = u32[wB[p >>> (L.CHUNK_SHIFT - 2)]! + (p >>> 4)]!;
    if (x === 0) continue;
    for (let i = p & 15, last = Math.min(16, end - (p & ~15)); i < last; i++) {
      const tag = (x >>> (i * 2)) & 3;
      if (tag !== 0) visit(((p & ~15) + i) * 4, tag);
    }
  }
}

/** Validates the collector state whose directory is at `dir`; throws HeapCorruptionError naming the broken invariant. */
export function checkCollector(heap: Heap, dir: number): void {
  const fail = (id: string, what: string): never => {
    throw new HeapCorruptionError(id, `Collector.check: ${what}`);
  };
  const u32 = heap.u32;
  const d = dir >>> 2;
  if (blockSize(heap, dir) < L.DIR_BYTES || u32[d + L.DIR_MAGIC] !== L.GC_MAGIC) fail("C1", `the directory at ${hex(dir)} is not a live collector directory`);
  const cover = u32[d + L.DIR_COVER]!;
  const base = u32[d + L.DIR_BASE]!;
  const phase = u32[d + L.DIR_PHASE]!;
  const cursor = u32[d + L.DIR_CURSOR]!;
  const table = u32[d + L.DIR_CHUNKS]!;
  const ws = u32[d + L.DIR_WORKSPACE]!;
  if (ws !== 0 && blockSize(heap, ws) < L.WORKSPACE_BYTES) fail("C1", `the marker's workspace at ${hex(ws)} is not a live block of ${L.WORKSPACE_BYTES} bytes`);
  const helper = u32[d + L.DIR_HELPER]!;
  if (helper !== 0 && blockSize(heap, helper) < L.HELPER_BYTES) fail("C1", `the helper thread's block at ${hex(helper)} is not a live block of ${L.HELPER_BYTES} bytes`);
  const entries = Math.max(u32[d + L.DIR_TABLE_CAP]!, cover >>> L.CHUNK_SHIFT);
  if (cover % L.CHUNK_BYTES !== 0 || base % L.CHUNK_BYTES !== 0 || base >= cover || blockSize(heap, table) < entries * 4) {
    fail("C1", `the cover [${hex(base)}, ${hex(cover)}) is not whole chunks of ${L.CHUNK_BYTES} bytes, or its chunk table at ${hex(table)} is not a live block of ${entries * 4} bytes`);
  }
  const seen = new Set<number>();
  for (let c = base >>> L.CHUNK_SHIFT; c < cover >>> L.CHUNK_SHIFT; c++) {
    const block = u32[(table >>> 2) + c]!;
    if (blockSize(heap, block) < L.CHUNK_BITMAP_BYTES || seen.has(block)) {
      fail("C1", `the bitmaps of chunk ${hex(c << L.CHUNK_SHIFT)} at ${hex(block)} are not a live block of ${L.CHUNK_BITMAP_BYTES} bytes of their own`);
    }
    seen.add(block);
  }
  const inRange = cursor >= base >>> L.G_WORD_SHIFT && cursor <= cover >>> L.G_WORD_SHIFT;
  if (phase > L.PHASE_SWEEP || (phase === L.PHASE_SWEEP ? !inRange : cursor !== 0)) fail("C1", `phase ${phase} with cursor ${cursor} is not a state`);
  const { g: gB, w: wB } = L.chunkWords(u32, table, base, cover);
  const gWord = (a: number): number => gB[a >>> L.CHUNK_SHIFT]! + (a >>> L.G_WORD_SHIFT);
  const badTag = (addr: number): never => fail("C4", `the word at ${hex(addr)} is tagged but lies in no collected block`);
  let blocks = 0;
  let bytes = 0;
  let end = base; // end of the last collected block: word tags in [end, next start) are damage
  for (let i = base >>> L.G_WORD_SHIFT, words = cover >>> L.G_WORD_SHIFT; i < words; i++) {
    const x = u32[gWord(i << L.G_WORD_SHIFT)]!;
    if (x === 0) continue;
    if ((((x >>> 1) & L.EVEN_BITS) & ~x) !== 0) fail("C3", `a MARK bit in the granule-bitmap word of ${hex(i * 128)} has no START`);
    if ((x & ~L.EVEN_BITS) !== 0 && (phase === L.PHASE_IDLE || (phase === L.PHASE_SWEEP && i < cursor))) {
      fail("C3", `a block near ${hex(i * 128)} is marked, but the collector is ${phase === L.PHASE_IDLE ? "idle" : "sweeping past it"}`);
    }
    for (let starts = x & L.EVEN_BITS; starts !== 0; starts &= starts - 1) {
      const bit = 31 - Math.clz32(starts & -starts);
      const addr = i * 128 + bit * 4;
      if (blockSize(heap, addr) <= 0) fail("C2", `START at ${hex(addr)}, which is not the start of a live block`);
      const size = heap.usable(addr); // what the collector counts (with a debug trailer, more than sizeOf)
      if (addr + size > cover) fail("C2", `the block at ${hex(addr)} ends past the covered [${hex(base)}, ${hex(cover)})`);
      forTaggedWords(u32, wB, end, addr, badTag);
      const survives = phase !== L.PHASE_SWEEP || i < cursor || ((x >>> bit) & L.MARK) !== 0;
      forTaggedWords(u32, wB, addr, addr + size, (w, tag) => {
        const v = u32[w >>> 2]!;
        if (v === 0) return;
        if (tag === L.W_OWNED) {
          const collected = v >= base && v < cover && ((u32[gWord(v)]! >>> ((v >>> 2) & L.SHIFT_MASK)) & L.START) !== 0;
          if (blockSize(heap, v) <= 0 || collected) {
            fail("C6", `the string field at ${hex(w)} of ${hex(addr)} holds ${hex(v)}, which is not a live block of its own`);
          }
        } else if (tag === L.W_REF) {
          if (survives && blockSize(heap, v) <= 0) fail("C5", `the ref field at ${hex(w)} of the live record ${hex(addr)} holds ${hex(v)}, which is not a live block`);
        } else {
          fail("C4", `the word at ${hex(w)} has the tag 3`);
        }
      });
      end = addr + size;
      blocks++;
      bytes += size;
    }
  }
  forTaggedWords(u32, wB, end, cover, badTag);
  const f = dir >>> 3;
  if (u32[d + L.DIR_LIVE_BLOCKS] !== blocks || heap.f64[f + L.DIR_F64_LIVE_BYTES] !== bytes) {
    fail("C2", `the directory counts ${u32[d + L.DIR_LIVE_BLOCKS]} blocks of ${heap.f64[f + L.DIR_F64_LIVE_BYTES]} bytes; the bitmap has ${blocks} of ${bytes}`);
  }
}
