// Binary layout of OffHeapMap: the header block, key and value blocks, the
// kind codes, collected maps, and the invariants check() enforces. See map.ts for an
// overview, map-resize.ts for how the map resizes and table.ts for the slots.
//
// Header block (13 u32 words, a 56-byte block):
//
//   +0 H_MAGIC "OHMP"    +1 H_TYPE fingerprint of the key and value types
//   +2 H_SEED hash seed  +3 H_SIZE entries in both tables
//   +4 H_CAP  slots of the current table (0: no table yet)   +5 H_TABLE
//   +6 H_OLD_CAP slots of the table being migrated out of (0: none)
//   +7 H_OLD_TABLE       +8 H_CURSOR next old slot to migrate
//   +9 H_OLD_LIVE entries left in the old table
//   +10 H_MODS count of inserts, deletes and clears (iterators compare it)
//   +11 H_NEXT_TABLE the next table, 2 * H_CAP slots, being zeroed ahead
//       of the resize that will use it (0: none)
//   +12 H_ZEROED bytes of the next table zeroed so far
//
// Keys: "string" and "bytes" keys are blocks of a u32 byte length and the
// bytes (a string key block is a Heap.fromString block), the slot holds
// their address; "u32", "i32" and "f64" keys are stored in the slot.
// Values: scalars are stored in the slot; "string" and "bytes" values are
// blocks like keys; records (a struct type) are zeroed records owned by
// the entry. A record lives in the key's block, after the key bytes (8-byte
// aligned), when the key is a string or bytes: one block and one cache
// miss fewer per entry, and the record's address never changes while its
// key is in the map, so getRef's address can be kept across other inserts
// and deletes. With number keys the record has its own block.
//
// Collected maps (options.collector): the header, the tables and the
// records are blocks of the Collector (collector.ts). The header's three
// table words are tagged W_REF; a table's slots are tagged per slot (the
// key word of string and bytes keys and the value word of string and bytes
// values W_OWNED, freed with the table; a record value W_REF), the next
// table's as it is zeroed. Every record has its own block, never the key
// block's, so a "ref" field elsewhere may point to it and keep it after its
// entry is deleted. Deleting, moving (Robin Hood shifts, migration) and
// dropping a record's slot pass the record to the write barrier, and every
// slot without an entry is zero past its hash word (table.ts: vacate), so
// no table owns a key block twice.
//
// Invariants (checked by check()):
//   M1  the header is a live block with the magic word and the map's type fingerprint.
//   M2  H_CAP is 0 (and H_TABLE 0) or a power of two >= MIN_CAPACITY with
//       H_TABLE a live block of H_CAP slots; the current table has no
//       deleted slots and holds at most 13/16 * H_CAP entries.
//   M3  H_OLD_CAP is 0 (and H_OLD_TABLE, H_CURSOR, H_OLD_LIVE are 0) or
//       H_OLD_TABLE is a live block of H_OLD_CAP slots, slots before
//       H_CURSOR are empty or deleted, and H_OLD_LIVE > 0 is its entry count.
//   M4  Robin Hood order in the current table: an entry at distance d > 0
//       from its home follows an entry at distance >= d - 1.
//   M5  H_SIZE = entries of the current table + H_OLD_LIVE.
//   M6  every entry's stored hash is the hash of its key, and a lookup of
//       its key finds it (so no key is in the map twice).
//   M7  key, value and record blocks are live, their length prefixes fit,
//       no block belongs to two entries, and records satisfy R1.
//   M8  H_NEXT_TABLE is 0 (and H_ZEROED 0) or, with no old table, a live
//       block of 2 * H_CAP slots whose first H_ZEROED bytes are zero.
//   M9  a collected map: the header, the tables and the records are the
//       Collector's blocks, and every slot without an entry is zero past
//       its hash word.


import { fingerprint } from "./hash.js";
import { type CollectionKind, HDR_MAGIC, HDR_TYPE } from "./header.js";
import { isStructType } from "./struct.js";

export const H_MAGIC = HDR_MAGIC;
export const H_TYPE = HDR_TYPE;
export const H_SEED = 2;
export const H_SIZE = 3;
export const H_CAP = 4;
export const H_TABLE = 5;
export const H_OLD_CAP = 6;
export const H_OLD_TABLE = 7;
export const H_CURSOR = 8;
export const H_OLD_LIVE = 9;
export const H_MODS = 10;
export const H_NEXT_TABLE = 11;
export const H_ZEROED = 12;
export const SIZEOF_HEADER = 52;
export const MAGIC = 0x504d484f; // "OHMP" little-endian
/** The map as header.ts opens it. */
export const MAP: CollectionKind = { name: "OffHeapMap", magic: MAGIC, headerBytes: SIZEOF_HEADER };
/** Slots of the smallest table. */
export const MIN_CAPACITY = 8;
/** Slots of the largest table (2^28 slots of 16 bytes fill the whole 4 GiB range). */
export const MAX_CAPACITY = 1 << 28;

// Key kinds.
export const K_STRING = 1;
export const K_BYTES = 2;
export const K_U32 = 3;
export const K_I32 = 4;
export const K_F64 = 5;
// Value kinds: the scalar codes 1..10 of scalar.ts (MAX_SCALAR_KIND), then these.
export const MAX_SCALAR_KIND = 10;
export const V_STRING = 11;
export const V_BYTES = 12;
export const V_STRUCT = 13;

/** Entries a table of `cap` slots may hold: 13/16 of it. */
export function maxLoad(cap: number): number {
  return cap - (cap >>> 3) - (cap >>> 4);
}

/** Offset of a record in a key block holding `n` key bytes: after them, 8-byte aligned. */
export function recordOffset(n: number): number {
  return (4 + n + 7) & ~7;
}

/** The key and value types as text, e.g. `string -> f64`. */
export function typeName(key: unknown, value: unknown): string {
  return `${String(key)} -> ${isStructType(value) ? value.descriptor : String(value)}`;
}

/** The fingerprint stored in H_TYPE. */
export function typeFingerprint(key: unknown, value: unknown): number {
  return fingerprint(`map:${typeName(key, value)}`);
}
