// Robin Hood hash tables in heap blocks: probe, insert and delete on one
// table of OffHeapMap (map.ts has the key and value kinds, map-layout.ts
// the header, map-resize.ts the migration between tables).
//
// A table is one block of `cap` slots (cap a power of two), each slot
// `slotBytes` long: 12 with a 4-byte value, 16 with an 8-byte one, 24 for
// f64 keys (a multiple of 8, so the f64 key stays aligned):
//
//   +0 hash (u32): 0 = empty, 1 = deleted (only in a table being migrated
//      out of), >= 2 = the full 32-bit hash of the key
//   +4 key word: the key block's address (string and bytes keys: a u32
//      byte length, then the bytes zero-padded to whole words) or the
//      u32/i32 key itself
//   +8 value (4 or 8 bytes), or for f64 keys the key at +8 and the value at +16
//
// Linear probing from home = hash & (cap - 1); Robin Hood order: an entry
// never sits further from its home than the entry before it plus one, so a
// lookup stops at the first slot whose entry is closer to its home than the
// probe has come (the key would have taken that slot). Deletion shifts the
// following run back one slot instead of leaving a tombstone, so lookups
// never slow down as keys come and go. Comparing the full stored hash first
// means the key bytes are read (one more cache miss) only for the entry
// that matches.
//
// The key being looked for is held in module state set by the query*
// functions, so a probe allocates nothing and takes no callback.

import type { Heap } from "../heap/heap.js";
import { keyWords, MIN_HASH } from "./hash.js";
import { overwriteRef } from "./struct.js";

/** Hash word of an empty slot. */
export const EMPTY = 0;
/** Hash word of a slot emptied in a table being migrated out of: probes go on past it. */
export const DELETED = 1;

const Q_WORDS = 1; // a string or bytes key: qLen bytes in keyWords() (hash.ts)
const Q_WORD = 2; // qWord, compared with the key word
const Q_F64 = 3; // qNum, compared with the f64 key (NaN equals NaN)

let qMode = 0;
let qLen = 0;
let qWord = 0;
let qNum = 0;

/** The next probe looks for the string or bytes key of `n` bytes that hashAscii/hashBytes just packed into keyWords(). */
export function queryWords(n: number): void {
  qMode = Q_WORDS;
  qLen = n;
}

/** The next probe looks for the key word `word` (u32 bits). */
export function queryWord(word: number): void {
  qMode = Q_WORD;
  qWord = word;
}

/** The next probe looks for the f64 key `k` (SameValueZero: NaN equals NaN, -0 equals 0). */
export function queryF64(k: number): void {
  qMode = Q_F64;
  qNum = k;
}

/** The key word of a word query. */
export function queryWordValue(): number {
  return qWord;
}

/** The f64 key of an f64 query, -0 made 0. */
export function queryNumber(): number {
  return qNum === 0 ? 0 : qNum;
}

/** Byte length of a string or bytes query. */
export function queryLength(): number {
  return qLen;
}

// Whether the slot at `slot` holds the query's key.
function keyEquals(heap: Heap, slot: number): boolean {
  const u32 = heap.u32;
  switch (qMode) {
    case Q_WORDS: {
      // Key blocks hold the bytes zero-padded to whole words: compare words.
      const k = u32[(slot >>> 2) + 1]!;
      if (u32[k >>> 2] !== qLen) return false;
      const q = keyWords();
      for (let j = 0, b = (k >>> 2) + 1, n = (qLen + 3) >>> 2; j < n; j++) if (u32[b + j] !== q[j]) return false;
      return true;
    }
    case Q_WORD:
      return u32[(slot >>> 2) + 1] === qWord;
    default: {
      const v = heap.f64[(slot + 8) >>> 3]!;
      return v === qNum || (v !== v && qNum !== qNum);
    }
  }
}

/**
 * Address of the slot of `table` holding the query's key with hash `h`, or
 * 0. Deleted slots are passed over. Cost: O(1) expected (the probe length);
 * no allocation.
 */
export function probe(heap: Heap, table: number, cap: number, slotBytes: number, h: number): number {
  const u32 = heap.u32;
  const mask = cap - 1;
  let i = h & mask;
  for (let d = 0; ; d++) {
    const slot = table + i * slotBytes;
    const sh = u32[slot >>> 2]! | 0; // int32 bits, as h (hash.ts)
    if (sh === EMPTY) return 0;
    if (sh === h) {
      if (keyEquals(heap, slot)) return slot;
    } else if (sh !== DELETED && ((i - (sh & mask)) & mask) < d) {
      return 0;
    }
    i = (i + 1) & mask;
  }
}

const carry = new Uint32Array(6);
const spare = new Uint32Array(6);

/** The words of the entry place() inserts: carry[0] its hash, then the rest of its slot. */
export function carryWords(): Uint32Array {
  return carry;
}

/**
 * Inserts the entry in carryWords() (a key absent from the table) into
 * `table`, which has no deleted slots and room for it, and returns the
 * address of the slot it took. Entries it passes that are closer to their
 * home move one slot on; with `refWord` (the index in a slot of a ref the
 * collector follows, 0 for none) each one's ref goes to the write barrier
 * first, since a move can take it from a part of the table the marker has
 * not scanned into one it has. Cost: O(1) expected; no allocation.
 */
export function place(heap: Heap, table: number, cap: number, slotBytes: number, refWord: number): number {
  const u32 = heap.u32;
  const mask = cap - 1;
  const words = slotBytes >>> 2;
  let i = carry[0]! & mask;
  let placed = 0;
  for (let d = 0; ; d++) {
    const slot = table + i * slotBytes;
    const w = slot >>> 2;
    const sh = u32[w]!;
    if (sh === EMPTY) {
      for (let k = 0; k < words; k++) u32[w + k] = carry[k]!;
      return placed === 0 ? slot : placed;
    }
    const sd = (i - (sh & mask)) & mask;
    if (sd < d) {
      // Robin Hood: the carried entry is further from home; it takes the slot.
      if (refWord !== 0) overwriteRef(heap, u32[w + refWord]!);
      for (let k = 0; k < words; k++) spare[k] = u32[w + k]!;
      for (let k = 0; k < words; k++) u32[w + k] = carry[k]!;
      carry.set(spare);
      if (placed === 0) placed = slot;
      d = sd;
    }
    i = (i + 1) & mask;
  }
}

/**
 * Removes the entry at `slot` from `table` by shifting the run after it
 * back one slot, so no deleted slot is left. With `refWord` (as place) the
 * ref of every entry removed or moved goes to the write barrier first.
 * Cost: O(run length).
 */
export function remove(heap: Heap, table: number, cap: number, slotBytes: number, slot: number, refWord: number): void {
  const u32 = heap.u32;
  const mask = cap - 1;
  const words = slotBytes >>> 2;
  let i = (slot - table) / slotBytes;
  for (;;) {
    const j = (i + 1) & mask;
    const wi = (table >>> 2) + i * words;
    const wj = (table >>> 2) + j * words;
    if (refWord !== 0) overwriteRef(heap, u32[wi + refWord]!);
    const sh = u32[wj]!;
    if (sh === EMPTY || (sh & mask) === j) {
      u32.fill(0, wi, wi + words);
      return;
    }
    u32.copyWithin(wi, wj, wj + words);
    i = j;
  }
}

/**
 * Empties the slot at `slot` to the hash word `hashWord` (EMPTY, or DELETED
 * in a table being migrated out of) and zeroes its other words, so no key
 * or value address is left behind in it (a collected table's W_OWNED words
 * are freed with it); its ref at `refWord` (as place) goes to the write
 * barrier first.
 */
export function vacate(heap: Heap, slot: number, slotBytes: number, refWord: number, hashWord: number): void {
  const w = slot >>> 2;
  if (refWord !== 0) overwriteRef(heap, heap.u32[w + refWord]!);
  heap.u32[w] = hashWord;
  heap.u32.fill(0, w + 1, w + (slotBytes >>> 2));
}

/** Probe distance of the entry with hash `h` stored at index `i` of a table of `cap` slots. */
export function distance(h: number, i: number, cap: number): number {
  return (i - (h & (cap - 1))) & (cap - 1);
}

/** True if a slot's hash word marks an entry (not empty, not deleted). */
export function isFull(hashWord: number): boolean {
  return hashWord >= MIN_HASH;
}
