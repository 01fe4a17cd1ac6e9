// The validator of OffHeapMap: checks invariants M1-M9 (map-layout.ts) of
// one map image. See map.ts for an overview. For tests and debugging: it
// walks every slot and allocates JS objects.

import type { Heap } from "../heap/heap.js";
import { HeapCorruptionError, hex } from "../errors.js";
import { hashBytes, hashWord } from "./hash.js";
import { hashF64 } from "./map-keys.js";
import type { MapShape } from "./map-types.js";
import { blockSize, headerState } from "./header.js";
import {
  H_CAP, H_CURSOR, H_NEXT_TABLE, H_OLD_CAP, H_OLD_LIVE, H_OLD_TABLE, H_SEED, H_SIZE, H_TABLE, H_ZEROED, K_BYTES, K_F64, MAP,
  MAX_SCALAR_KIND, maxLoad, MIN_CAPACITY, recordOffset, V_STRUCT,
} from "./map-layout.js";
import { DELETED, distance, isFull, queryF64, queryWord, queryWords } from "./table.js";
import { type Reclaimer, reclaimerOf } from "../heap/reclaim.js";

/** What checkMap needs of a map: its shape and its lookup. */
interface CheckedMap {
  shape(): MapShape;
  find(w: number, h: number): number;
}

// The failure of an invariant of the map at hdr, in a report of `api`.
const failure = (api: string, hdr: number) => (id: string, what: string): never => {
  throw new HeapCorruptionError(id, `${api}: the map at ${hex(hdr)}: ${what}`);
};

/**
 * Throws HeapCorruptionError naming the first broken invariant of the map's
 * header, the part of M1-M3 and M8 its fields alone decide: a table's
 * capacity, its block's size, the resize's cursor. O(1): OffHeapMap.open
 * runs it, so that lookups never run outside a table.
 */
export function checkMapHeader(shape: MapShape, heap: Heap, hdr: number, typeFingerprint: number, api: string): void {
  const { slotBytes } = shape;
  const w = hdr >>> 2;
  const u32 = heap.u32;
  const fail = failure(api, hdr);
  const state = headerState(heap, MAP, hdr, typeFingerprint);
  if (state !== "ok") fail("M1", state === "no header" ? "no live header block with the map magic" : "the header holds another type fingerprint");
  const cap = u32[w + H_CAP]!, table = u32[w + H_TABLE]!;
  const oldCap = u32[w + H_OLD_CAP]!, oldTable = u32[w + H_OLD_TABLE]!, cursor = u32[w + H_CURSOR]!, oldLive = u32[w + H_OLD_LIVE]!;
  if ((cap === 0) !== (table === 0)) fail("M2", `capacity ${cap} with table ${hex(table)}`);
  if (cap !== 0 && (cap < MIN_CAPACITY || (cap & (cap - 1)) !== 0)) fail("M2", `capacity ${cap} is not a power of two >= ${MIN_CAPACITY}`);
  if (cap !== 0 && blockSize(heap, table) < cap * slotBytes) fail("M2", `table ${hex(table)} is not a live block of ${cap} slots`);
  if (cap === 0 && oldCap !== 0) fail("M2", "an old table without a current one");
  if (oldCap === 0) {
    if (oldTable !== 0 || cursor !== 0 || oldLive !== 0) fail("M3", "no old table, but its fields are not 0");
  } else {
    if (blockSize(heap, oldTable) < oldCap * slotBytes) fail("M3", `old table ${hex(oldTable)} is not a live block of ${oldCap} slots`);
    if (cursor > oldCap) fail("M3", `cursor ${cursor} is past the old table's ${oldCap} slots`);
  }
  const next = u32[w + H_NEXT_TABLE]!, zeroed = u32[w + H_ZEROED]!;
  if (next === 0) {
    if (zeroed !== 0) fail("M8", `no next table, but ${zeroed} bytes of it are zeroed`);
  } else {
    if (oldCap !== 0) fail("M8", "a next table while the old one is still migrating");
    if (blockSize(heap, next) < 2 * cap * slotBytes || zeroed > 2 * cap * slotBytes) fail("M8", `next table ${hex(next)} is not a live block of ${2 * cap} slots with ${zeroed} bytes zeroed`);
  }
}

/** Throws HeapCorruptionError naming the first broken invariant of the map whose header is at `hdr`. */
export function checkMap(map: CheckedMap, heap: Heap, hdr: number, typeFingerprint: number): void {
  const shape = map.shape();
  const { slotBytes, valueOff, keyKind, valueKind, struct, collected } = shape;
  const inKeyBlock = valueKind === V_STRUCT && keyKind <= K_BYTES && !collected;
  // The heap's Collector, or the guard of its blocks while none is open (gc-space.ts), tells collected blocks.
  const gc = collected ? reclaimerOf(heap) : null;
  const w = hdr >>> 2;
  const u32 = heap.u32;
  const fail = failure("OffHeapMap.check", hdr);
  checkMapHeader(shape, heap, hdr, typeFingerprint, "OffHeapMap.check");
  const seed = u32[w + H_SEED]!;
  const cap = u32[w + H_CAP]!, table = u32[w + H_TABLE]!;
  const oldCap = u32[w + H_OLD_CAP]!, oldTable = u32[w + H_OLD_TABLE]!, cursor = u32[w + H_CURSOR]!, oldLive = u32[w + H_OLD_LIVE]!;
  let live = 0;
  for (let i = 0; i < cap; i++) {
    const slot = table + i * slotBytes;
    const h = u32[slot >>> 2]!;
    if (h === DELETED) fail("M2", `slot ${i} of the current table is marked deleted`);
    if (!isFull(h)) continue;
    live++;
    const d = distance(h, i, cap);
    if (d > 0) {
      const prev = u32[(table + ((i - 1) & (cap - 1)) * slotBytes) >>> 2]!;
      if (!isFull(prev) || distance(prev, (i - 1) & (cap - 1), cap) < d - 1) fail("M4", `the entry in slot ${i} (distance ${d}) breaks Robin Hood order`);
    }
  }
  if (live > maxLoad(cap)) fail("M2", `the current table holds ${live} entries, more than ${maxLoad(cap)}`);

  if (oldCap !== 0) {
    let full = 0;
    for (let i = 0; i < oldCap; i++) {
      const h = u32[(oldTable + i * slotBytes) >>> 2]!;
      if (!isFull(h)) continue;
      if (i < cursor) fail("M3", `old slot ${i} before the cursor ${cursor} still holds an entry`);
      full++;
    }
    if (full !== oldLive || oldLive === 0) fail("M3", `the old table holds ${full} entries, the header says ${oldLive}`);
  }
  if (u32[w + H_SIZE] !== live + oldLive) fail("M5", `size ${u32[w + H_SIZE]} is not ${live} + ${oldLive}`);

  const owned = new Set<number>([hdr, table, oldTable]);
  const own = (block: number, what: string): void => {
    if (owned.has(block)) fail("M7", `${what} ${hex(block)} belongs to two entries or to the map`);
    owned.add(block);
  };
  const lengthBlock = (block: number, extra: number, what: string): number => {
    const size = blockSize(heap, block);
    const n = size >= 4 ? heap.u32[block >>> 2]! : 0;
    if (size < 4 || 4 + n + extra > size) fail("M7", `${what} ${hex(block)} is not a live block holding its length prefix and bytes`);
    return n;
  };
  for (const [t, n] of [[table, cap], [oldTable, oldCap]] as const) {
    for (let i = 0; i < n; i++) {
      const slot = t + i * slotBytes;
      const h = heap.u32[slot >>> 2]!;
      if (!isFull(h)) continue;
      const keyWord = heap.u32[(slot >>> 2) + 1]!;
      let want: number;
      let keyBlockLength = -1;
      if (keyKind <= K_BYTES) {
        own(keyWord, "key block");
        const extra = inKeyBlock ? recordOffset(heap.u32[keyWord >>> 2]!) - 4 - heap.u32[keyWord >>> 2]! + struct!.size : 0;
        keyBlockLength = lengthBlock(keyWord, extra, "key block");
        for (let b = keyWord + 4 + keyBlockLength; b < keyWord + 4 + ((keyBlockLength + 3) & ~3); b++) {
          if (heap.u8[b] !== 0) fail("M7", `key block ${hex(keyWord)}: the padding after the key bytes is not zero`);
        }
        want = hashBytes(heap.u8, keyWord + 4, keyBlockLength, seed);
        queryWords(keyBlockLength);
      } else if (keyKind === K_F64) {
        const k = heap.f64[(slot + 8) >>> 3]!;
        want = hashF64(k, seed);
        queryF64(k);
      } else {
        want = hashWord(keyWord, seed);
        queryWord(keyWord);
      }
      if ((h | 0) !== want) fail("M6", `slot ${i} of table ${hex(t)} stores hash ${h}, its key hashes to ${want >>> 0}`);
      if (map.find(w, want) !== slot) fail("M6", `a lookup of the key in slot ${i} of table ${hex(t)} does not find it there`);
      const value = heap.u32[(slot + valueOff) >>> 2]!;
      if (valueKind === V_STRUCT) {
        if (inKeyBlock) {
          if (value !== keyWord + recordOffset(keyBlockLength)) fail("M7", `the record of slot ${i} is not in its key block`);
        } else {
          own(value, "record block");
          if (blockSize(heap, value) < struct!.size) fail("M7", `record block ${hex(value)} is not a live block of ${struct!.size} bytes`);
          if (collected && gc?.owns(value) !== true) fail("M9", `record block ${hex(value)} of a collected map is not a collected block`);
        }
        struct!.check(heap, value);
      } else if (valueKind > MAX_SCALAR_KIND) {
        own(value, "value block");
        lengthBlock(value, 0, "value block");
      }
    }
  }
  const next = u32[w + H_NEXT_TABLE]!, zeroed = u32[w + H_ZEROED]!;
  if (next !== 0) {
    if (owned.has(next)) fail("M8", `next table ${hex(next)} is used by the map already`);
    for (let i = next; i < next + zeroed; i++) if (heap.u8[i] !== 0) fail("M8", `byte ${i - next} of the next table is not zero`);
  }
  if (collected) checkCollected(gc, heap, hdr, slotBytes, [[table, cap], [oldTable, oldCap]], next, fail);
}

// M9 but the records (checked with their entries): the header and tables
// are collected blocks, and slots without an entry are zero past the hash.
function checkCollected(gc: Reclaimer | null, heap: Heap, hdr: number, slotBytes: number, tables: readonly (readonly [number, number])[], next: number,
  fail: (id: string, what: string) => never): void {
  for (const block of [hdr, next, ...tables.map(([t]) => t)]) {
    if (block !== 0 && gc?.owns(block) !== true) fail("M9", `block ${hex(block)} of a collected map is not a collected block`);
  }
  for (const [t, n] of tables) {
    for (let i = 0; i < n; i++) {
      const w = (t + i * slotBytes) >>> 2;
      if (isFull(heap.u32[w]!)) continue;
      for (let k = 1; k < slotBytes >>> 2; k++) if (heap.u32[w + k] !== 0) fail("M9", `slot ${i} of table ${hex(t)} holds no entry but its word ${k} is not zero`);
    }
  }
}
