// Incremental resizing of OffHeapMap's table. See map.ts for an overview,
// map-layout.ts for the header words it moves between.
//
// When an insert would fill the current table past 13/16, a table twice as
// large becomes current and the full one becomes the old table; every later
// insert and delete moves the entries of the next MIGRATE_SLOTS old slots
// into the current table, marking the slots deleted, and the old table is
// freed when its last entry has moved. So no call rehashes the whole map: a
// call moves at most 16 entries. Lookups probe the current table, then the
// old one. Inserts go to the current table only; a deleted old entry is
// marked deleted in place. Migration always ends in time: the grown table
// reaches its own limit only after 13/16 * cap more inserts, and migration
// needs cap / 16 operations. A resize that finds an old table still there
// therefore means damaged header words (invariant M3): it throws
// HeapCorruptionError instead of migrating without bound.
//
// The grown table must start zeroed, and zeroing 128 MiB at once took
// about 100 ms here (first-touch page faults). So it is allocated early,
// when the current table is 10/16 full (PREPARE_AT_SIXTEENTHS), and every
// insert and delete zeroes the next ZERO_SLOTS of its slots: done after
// 2 * cap / 16 operations, before the 3/16 * cap inserts that fill the
// current table to 13/16. A map does not shrink when entries are deleted
// (as a JS Map's table does); clear() frees its tables.

import type { Heap } from "../heap/heap.js";
import { HeapCorruptionError, hex, OutOfMemoryError } from "../errors.js";
import {
  H_CAP, H_CURSOR, H_NEXT_TABLE, H_OLD_CAP, H_OLD_LIVE, H_OLD_TABLE, H_SIZE, H_TABLE, H_ZEROED, MAX_CAPACITY, maxLoad, MIN_CAPACITY,
} from "./map-layout.js";
import { carryWords, DELETED, isFull, place, vacate } from "./table.js";

/**
 * What resizing needs of a map (map.ts: OffHeapMap is one): its heap and slots, and
 * how it makes and drops table blocks: plain heap blocks, or a Collector's
 * tagged blocks for a collected map.
 */
export interface MapTables {
  readonly heap: Heap;
  readonly slotBytes: number;
  /** Index in a slot of the ref word the collector follows (table.ts: place), 0 for none. */
  readonly refWord: number;
  /** A zeroed table of `cap` slots. Throws OutOfMemoryError. */
  zeroedTable(cap: number): number;
  /**
   * A table of `cap` slots that zeroNext zeroes a part at a time, or 0 if
   * none can be made now without an error other than OutOfMemoryError (a
   * collected map whose Collector was disposed): this runs after the call's
   * change is made, which must not throw then. Throws OutOfMemoryError.
   */
  unzeroedTable(cap: number): number;
  /** Bytes [from, to) of the table at `table` (from unzeroedTable), whole slots, were just zeroed. */
  zeroed(table: number, from: number, to: number): void;
  /** The table at `table`, all its slots vacated, is no longer referenced by the map. */
  dropTable(table: number): void;
}

// Old slots whose entries one insert or delete moves into the current
// table, and slots of the next table it zeroes.
const MIGRATE_SLOTS = 16;
const ZERO_SLOTS = 16;
const PREPARE_AT_SIXTEENTHS = 10;

/**
 * Slots of the table the map with header word index `w` must grow to before
 * one more insert, or 0 if the current table has room. Throws
 * OutOfMemoryError past MAX_CAPACITY, and HeapCorruptionError (M3) if the
 * table is full while an old one is still migrating; `api` names the call.
 * Changes nothing. O(1).
 *
 * @example const newCap = grownCapacity(heap, w, "OffHeapMap.set");
 */
export function grownCapacity(heap: Heap, w: number, api: string): number {
  const u32 = heap.u32;
  const cap = u32[w + H_CAP]!;
  const live = u32[w + H_SIZE]! - u32[w + H_OLD_LIVE]!;
  if (cap !== 0 && live + 1 <= maxLoad(cap)) return 0;
  const newCap = cap === 0 ? MIN_CAPACITY : 2 * cap;
  if (newCap > MAX_CAPACITY) throw new OutOfMemoryError(`${api}: the map holds ${live} entries, the most a table of ${MAX_CAPACITY} slots takes`);
  const oldCap = u32[w + H_OLD_CAP]!;
  if (oldCap !== 0) {
    throw new HeapCorruptionError("M3", `${api}: the map at ${hex(w << 2)} must grow its table of ${cap} slots while the old table of ${oldCap} ` +
      `slots still migrates (cursor ${u32[w + H_CURSOR]}, ${u32[w + H_OLD_LIVE]} entries said to be left), which its bound rules out: its header words are damaged`);
  }
  return newCap;
}

/**
 * Makes `table`, a block of `newCap` zeroed slots or the next table being
 * zeroed ahead (finished here), the current table of the map at word `w`;
 * a full current table becomes the old one. Call it only when
 * grownCapacity returned newCap. O(the next table's bytes not zeroed yet).
 *
 * @example installTable(map, w, map.zeroedTable(newCap), newCap);
 */
export function installTable(m: MapTables, w: number, table: number, newCap: number): void {
  const heap = m.heap;
  if (table === heap.u32[w + H_NEXT_TABLE]) zeroNext(m, w, newCap * m.slotBytes); // the rest, if inserts outran zeroing
  const u32 = heap.u32;
  u32[w + H_NEXT_TABLE] = 0;
  u32[w + H_ZEROED] = 0;
  const cap = u32[w + H_CAP]!;
  if (cap !== 0) {
    u32[w + H_OLD_CAP] = cap;
    u32[w + H_OLD_TABLE] = u32[w + H_TABLE]!;
    u32[w + H_CURSOR] = 0;
    u32[w + H_OLD_LIVE] = u32[w + H_SIZE]!;
  }
  u32[w + H_CAP] = newCap;
  u32[w + H_TABLE] = table;
  if (u32[w + H_OLD_LIVE] === 0 && u32[w + H_OLD_CAP] !== 0) endMigration(m, w); // a table emptied by deletes
}

/**
 * The resize work of one insert or delete of the map at word `w`: moves
 * the entries of the next MIGRATE_SLOTS old slots, then allocates the next
 * table once the current one is PREPARE_AT_SIXTEENTHS full and zeroes
 * ZERO_SLOTS more of its slots. An allocation failure leaves the next table
 * to the insert that needs it. O(MIGRATE_SLOTS + ZERO_SLOTS).
 *
 * @example resizeStep(map, w); // at the end of set and delete
 */
export function resizeStep(m: MapTables, w: number): void {
  migrate(m, w);
  const heap = m.heap;
  const slotBytes = m.slotBytes;
  const cap = heap.u32[w + H_CAP]!;
  if (heap.u32[w + H_NEXT_TABLE] === 0) {
    if (heap.u32[w + H_OLD_CAP] !== 0 || heap.u32[w + H_SIZE]! < ((cap * PREPARE_AT_SIXTEENTHS) >>> 4) || cap < MIN_CAPACITY * 4 || 2 * cap > MAX_CAPACITY) return;
    let next: number;
    try {
      next = m.unzeroedTable(2 * cap);
    } catch (e) {
      if (e instanceof OutOfMemoryError) return; // the insert that needs it will calloc, or throw
      throw e;
    }
    if (next === 0) return; // likewise
    heap.u32[w + H_NEXT_TABLE] = next;
    heap.u32[w + H_ZEROED] = 0;
  }
  zeroNext(m, w, Math.min(2 * cap * slotBytes, heap.u32[w + H_ZEROED]! + ZERO_SLOTS * slotBytes));
}

// Zeroes the next table up to byte `end`.
function zeroNext(m: MapTables, w: number, end: number): void {
  const heap = m.heap;
  const next = heap.u32[w + H_NEXT_TABLE]!;
  const from = heap.u32[w + H_ZEROED]!;
  if (end <= from) return;
  heap.u8.fill(0, next + from, next + end);
  m.zeroed(next, from, end);
  heap.u32[w + H_ZEROED] = end;
}

// Moves the entries of the next MIGRATE_SLOTS old slots into the current
// table, vacating each old slot to DELETED.
function migrate(m: MapTables, w: number): void {
  const { heap, slotBytes, refWord } = m;
  const oldCap = heap.u32[w + H_OLD_CAP]!;
  if (oldCap === 0) return;
  const oldTable = heap.u32[w + H_OLD_TABLE]!;
  const table = heap.u32[w + H_TABLE]!;
  const cap = heap.u32[w + H_CAP]!;
  const words = slotBytes >>> 2;
  const carry = carryWords();
  let cursor = heap.u32[w + H_CURSOR]!;
  let left = heap.u32[w + H_OLD_LIVE]!;
  for (const end = Math.min(oldCap, cursor + MIGRATE_SLOTS); cursor < end && left > 0; cursor++) {
    const s = (oldTable >>> 2) + cursor * words;
    if (!isFull(heap.u32[s]!)) continue;
    for (let k = 0; k < words; k++) carry[k] = heap.u32[s + k]!;
    place(heap, table, cap, slotBytes, refWord);
    vacate(heap, s << 2, slotBytes, refWord, DELETED);
    left--;
  }
  heap.u32[w + H_CURSOR] = cursor;
  heap.u32[w + H_OLD_LIVE] = left;
  if (left === 0) endMigration(m, w);
}

function endMigration(m: MapTables, w: number): void {
  const u32 = m.heap.u32;
  const old = u32[w + H_OLD_TABLE]!;
  u32[w + H_OLD_CAP] = 0;
  u32[w + H_OLD_TABLE] = 0;
  u32[w + H_CURSOR] = 0;
  u32[w + H_OLD_LIVE] = 0;
  m.dropTable(old);
}
