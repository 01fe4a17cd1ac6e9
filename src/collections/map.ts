// OffHeapMap: a hash map whose header, tables, keys and values all live in
// heap blocks. map-layout.ts draws the header and lists the invariants;
// table.ts has the Robin Hood table and map-resize.ts grows it
// incrementally; map-keys.ts makes and reads keys; header.ts opens the
// header; map-check.ts validates; map-types.ts has its types and checks its
// options.
//
// The JS object holds the header's address and what the key and value types
// fix (slot size, value offset, kinds); every other fact is in the header,
// so another Heap over the same image opens the same map (open()).

import type { Heap } from "../heap/heap.js";
import { ConcurrentModificationError, DisposedError, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { openHeader } from "./header.js";
import { checkMap, checkMapHeader } from "./map-check.js";
import { makeKeyBlock, queryKey, readKey } from "./map-keys.js";
import {
  H_CAP, H_CURSOR, H_MAGIC, H_MODS, H_NEXT_TABLE, H_OLD_CAP, H_OLD_LIVE, H_OLD_TABLE, H_SEED, H_SIZE, H_TABLE, H_TYPE,
  K_BYTES, K_F64, MAGIC, MAP, MAX_CAPACITY, MAX_SCALAR_KIND, maxLoad, MIN_CAPACITY, recordOffset, SIZEOF_HEADER,
  typeFingerprint, typeName, V_BYTES, V_STRING, V_STRUCT,
} from "./map-layout.js";
import { grownCapacity, installTable, resizeStep } from "./map-resize.js";
import {
  checkScalar, describe, readScalar, scalarCode, T_F64, T_I64, T_U64, writeScalar,
} from "./scalar.js";
import {
  checkValues, isStructType, valuesOf, overwriteRef, type StructFields, type StructInit, type StructType,
} from "./struct.js";
import { carryWords, DELETED, EMPTY, isFull, place, probe, queryNumber, queryWordValue, remove, vacate } from "./table.js";
import { reclaimerOf } from "../heap/reclaim.js";
import type { Collector } from "./collector.js";
import { NO_TAGS, W_OWNED, W_REF } from "./gc-layout.js";
import { collectorOfHeader } from "./gc-space.js";
import {
  KEY_CODES, type MapKey, type MapKeyArg, type MapKeyType, type MapShape, mapTypes, type MapValue, type MapValueInit, type MapValueType, type OffHeapMapOptions,
} from "./map-types.js";

export type { MapKey, MapKeyArg, MapKeyType, MapValue, MapValueInit, MapValueType, OffHeapMapOptions };

/** A collected map's header: the collector follows its three table words. */
const HEADER_TAGS = Int32Array.of(((H_TABLE * 4) << 2) | W_REF, ((H_OLD_TABLE * 4) << 2) | W_REF, ((H_NEXT_TABLE * 4) << 2) | W_REF);

let opening = 0;

/**
 * A hash map in a heap. Keys and values are copied into heap blocks; the
 * JS object holds only the header's address and the types.
 *
 * @example
 * const Player = defineStruct({ id: "u32", score: "f64", name: "string" });
 * const players = new OffHeapMap(heap, { key: "string", value: Player });
 * players.set("ada", { id: 1, name: "Ada" });
 * const cur = Player.at(heap, 0);
 * cur.addr = players.getRef("ada");   // no object per lookup
 * cur.score += 10;
 */
export class OffHeapMap<K extends MapKeyType, V extends MapValueType> {
  /** The heap the map lives in. */
  readonly heap: Heap;
  readonly keyType: K;
  readonly valueType: V;
  private hdr: number;
  private readonly keyKind: number;
  private readonly valueKind: number;
  private readonly struct: StructType | null;
  /** @internal Bytes per table slot. */
  readonly slotBytes: number;
  private readonly valueOff: number;
  private readonly gc: Collector | null;
  /** @internal The value's word in a slot when it is a collected record (table.ts: place), else 0. */
  readonly refWord: number;
  /** A collected table's tags per slot: string and bytes keys and values are owned, records followed. */
  private readonly slotTags: Int32Array;

  /**
   * Makes an empty map. Throws OffheapTypeError for a `heap` that is not a
   * Heap, missing options, options of the wrong type or unknown key or value
   * types, RangeError for a bad capacity or seed, OutOfMemoryError (the
   * heap is unchanged then). Cost: one heap allocation, two with a capacity.
   */
  constructor(heap: Heap, options: OffHeapMapOptions<K, V>) {
    const adopt = opening;
    opening = 0;
    const { key, value } = mapTypes("OffHeapMap", heap, options);
    this.heap = heap;
    this.keyType = key;
    this.valueType = value;
    this.keyKind = KEY_CODES[key];
    this.struct = isStructType(value) ? value : null;
    this.valueKind = this.struct !== null ? V_STRUCT : value === "string" ? V_STRING : value === "bytes" ? V_BYTES : scalarCode("OffHeapMap", value);
    // Slots: 12 bytes for a 4-byte value (an address, or a scalar of at most
    // 4 bytes), 16 for an 8-byte one; f64 keys make them 24 (the key at +8).
    const wide = this.valueKind === T_F64 || this.valueKind === T_U64 || this.valueKind === T_I64;
    this.valueOff = this.keyKind === K_F64 ? 16 : 8;
    this.slotBytes = this.keyKind === K_F64 ? 24 : wide ? 16 : 12;
    if (adopt !== 0) this.gc = collectorOfHeader(heap, "OffHeapMap.open", adopt);
    else if (options.collector !== undefined && options.collector !== reclaimerOf(heap)) {
      throw new OffheapTypeError("OffHeapMap: options.collector is not the Collector of this heap");
    } else this.gc = options.collector ?? null;
    this.refWord = this.gc !== null && this.valueKind === V_STRUCT ? this.valueOff >>> 2 : 0;
    this.slotTags = this.gc === null ? NO_TAGS : slotTags(this.keyKind, this.valueKind, this.valueOff);
    if (adopt !== 0) {
      this.hdr = adopt;
      return;
    }
    const capacity = options.capacity ?? 0;
    const seed = options.hashSeed ?? Math.floor(Math.random() * 2 ** 32);
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > maxLoad(MAX_CAPACITY)) {
      throw new OffheapRangeError(`OffHeapMap: options.capacity ${String(capacity)} is not an integer in [0, ${maxLoad(MAX_CAPACITY)}]`);
    }
    if ((seed >>> 0) !== seed) throw new OffheapRangeError(`OffHeapMap: options.hashSeed ${String(seed)} is not a u32`);
    let cap = 0;
    if (capacity > 0) for (cap = MIN_CAPACITY; maxLoad(cap) < capacity;) cap *= 2;
    const hdr = this.gc !== null ? this.gc.allocBlock(SIZEOF_HEADER, HEADER_TAGS, 0, 1) : heap.alloc(SIZEOF_HEADER);
    let table = 0;
    try {
      if (cap > 0) table = this.zeroedTable(cap);
    } catch (e) {
      this.freeFresh(hdr);
      throw e;
    }
    this.gc?.heap.currentScope?.pin(hdr);
    const u32 = heap.u32;
    u32.fill(0, hdr >>> 2, (hdr >>> 2) + (SIZEOF_HEADER >>> 2));
    u32[(hdr >>> 2) + H_MAGIC] = MAGIC;
    u32[(hdr >>> 2) + H_TYPE] = typeFingerprint(key, value);
    u32[(hdr >>> 2) + H_SEED] = seed;
    u32[(hdr >>> 2) + H_CAP] = cap;
    u32[(hdr >>> 2) + H_TABLE] = table;
    this.hdr = hdr;
  }

  /**
   * Opens the map whose header is at `address` with the same key and value
   * types it was made with. Throws InvalidAddressError if no map header is
   * there, OffheapTypeError for other types, and as the constructor for a
   * bad heap or options, and HeapCorruptionError (M1-M3, M8) for a header
   * whose table fields check() would reject. Cost: O(1).
   *
   * @example
   * heap.setRoot("players", players.address);
   * // later, on a heap loaded from an image:
   * const again = OffHeapMap.open(heap, heap.getRoot("players"), { key: "string", value: Player });
   */
  static open<K extends MapKeyType, V extends MapValueType>(heap: Heap, address: number, options: OffHeapMapOptions<K, V>): OffHeapMap<K, V> {
    const api = "OffHeapMap.open";
    // Read once: the types checked against the header are the ones the map is opened with (a getter could answer differently).
    const o = options !== null && typeof options === "object" ? { ...options } : options;
    const { key, value } = mapTypes(api, heap, o);
    const fingerprint = typeFingerprint(key, value);
    opening = openHeader(heap, api, MAP, address, fingerprint, typeName(key, value));
    const map = new OffHeapMap(heap, o);
    checkMapHeader(map.shape(), heap, address, fingerprint, api); // a header that would send lookups outside a table is refused here
    return map;
  }

  /** Address of the header block: what open() takes. 0 after dispose(). */
  get address(): number {
    return this.hdr;
  }

  /** Number of entries. */
  get size(): number {
    return this.heap.u32[(this.live("size") >>> 2) + H_SIZE]!;
  }

  /**
   * The value of `key`, or undefined. A record comes as a new accessor
   * object (getRef avoids it); a string or bytes value is decoded/copied.
   * Cost: O(1) expected; for number keys and ASCII string keys no
   * allocation besides the returned value.
   */
  get(key: MapKeyArg<K>): MapValue<V> | undefined {
    const w = this.live("get") >>> 2;
    const slot = this.find(w, this.query("OffHeapMap.get", key));
    return slot === 0 ? undefined : this.readValue(slot) as MapValue<V>;
  }

  /** Whether `key` is in the map. Cost: as get, with no allocation. */
  has(key: MapKeyArg<K>): boolean {
    const w = this.live("has") >>> 2;
    return this.find(w, this.query("OffHeapMap.has", key)) !== 0;
  }

  /**
   * Address of the value block of `key` (a record, or a string or bytes
   * block), or 0 if absent. A record's address stays valid until its key is
   * deleted (in a collected map, while the map or a "ref" field reaches
   * it; such a field may hold it); use it with a cursor (`T.at(heap, addr)`). Throws
   * OffheapTypeError for a map of scalar values (they live in the table,
   * where entries move). Cost: as has.
   */
  getRef(key: MapKeyArg<K>): number {
    const w = this.live("getRef") >>> 2;
    this.needBlocks("getRef");
    const slot = this.find(w, this.query("OffHeapMap.getRef", key));
    return slot === 0 ? 0 : this.heap.u32[(slot + this.valueOff) >>> 2]!;
  }

  /**
   * Address of the record of `key`, inserting a zeroed record first if the
   * key is absent. Throws OffheapTypeError unless the values are records;
   * OutOfMemoryError (nothing changes then). Cost: as set.
   */
  getOrInsertRef(key: MapKeyArg<K>): number {
    const w = this.live("getOrInsertRef") >>> 2;
    if (this.struct === null) throw new OffheapTypeError(`OffHeapMap.getOrInsertRef: the values are ${typeName(this.keyType, this.valueType)}, not records`);
    const h = this.query("OffHeapMap.getOrInsertRef", key);
    const slot = this.find(w, h);
    if (slot === 0) this.insert("OffHeapMap.getOrInsertRef", w, h, undefined);
    // inserting moves entries along their runs: find the new one's slot
    return this.heap.u32[(this.find(w, h) + this.valueOff) >>> 2]!;
  }

  /**
   * Sets the value of `key` and returns the map. An existing string or
   * bytes value is replaced by a new block; an existing record is reset
   * (its strings freed, fields zeroed) and given `value`'s fields. Throws
   * OffheapTypeError/RangeError for a bad key or value, OutOfMemoryError;
   * nothing changes then. Cost: O(1) expected, including a step of the
   * incremental resize (map-resize.ts: at most 16 entries moved, 16 slots
   * of the next table zeroed).
   */
  set(key: MapKeyArg<K>, value: MapValueInit<V>): this {
    // A record's values are read first (after the disposed check): a getter among them that changes this map runs
    // before the call reads it.
    this.live("set");
    if (this.struct !== null) value = valuesOf(this.struct, "OffHeapMap.set", value) as MapValueInit<V>;
    const w = this.live("set") >>> 2;
    const h = this.query("OffHeapMap.set", key);
    if (this.struct === null) this.checkValue("OffHeapMap.set", value); // a record's values were checked by valuesOf
    const slot = this.find(w, h);
    if (slot !== 0) this.replaceValue(slot, value);
    else this.insert("OffHeapMap.set", w, h, value);
    return this;
  }

  /**
   * Removes `key` and frees its blocks; returns whether it was there.
   * Cost: O(1) expected, plus a resize step as set.
   */
  delete(key: MapKeyArg<K>): boolean {
    const w = this.live("delete") >>> 2;
    const slot = this.find(w, this.query("OffHeapMap.delete", key));
    if (slot === 0) return false;
    this.release(slot);
    const heap = this.heap;
    const oldTable = heap.u32[w + H_OLD_TABLE]!;
    if (oldTable !== 0 && slot >= oldTable && slot < oldTable + heap.u32[w + H_OLD_CAP]! * this.slotBytes) {
      vacate(heap, slot, this.slotBytes, this.refWord, DELETED);
      heap.u32[w + H_OLD_LIVE] = heap.u32[w + H_OLD_LIVE]! - 1;
    } else {
      remove(heap, heap.u32[w + H_TABLE]!, heap.u32[w + H_CAP]!, this.slotBytes, slot, this.refWord);
    }
    heap.u32[w + H_SIZE] = heap.u32[w + H_SIZE]! - 1;
    heap.u32[w + H_MODS] = heap.u32[w + H_MODS]! + 1;
    resizeStep(this, w);
    return true;
  }

  /**
   * Removes every entry and frees every block but the header (a collected
   * map: drops its tables and records for the collector). Cost: O(capacity).
   */
  clear(): void {
    const w = this.live("clear") >>> 2;
    const heap = this.heap;
    for (let t = 0; t < 2; t++) {
      const table = heap.u32[w + (t === 0 ? H_OLD_TABLE : H_TABLE)]!;
      const cap = heap.u32[w + (t === 0 ? H_OLD_CAP : H_CAP)]!;
      for (let i = 0; i < cap; i++) {
        const slot = table + i * this.slotBytes;
        if (!isFull(heap.u32[slot >>> 2]!)) continue;
        this.release(slot);
        vacate(heap, slot, this.slotBytes, this.refWord, EMPTY);
      }
      if (table !== 0) this.dropTable(table);
    }
    const next = heap.u32[w + H_NEXT_TABLE]!;
    if (next !== 0) this.dropTable(next);
    const mods = heap.u32[w + H_MODS]!;
    heap.u32.fill(0, w + H_SIZE, w + (SIZEOF_HEADER >>> 2));
    heap.u32[w + H_MODS] = mods + 1;
  }

  /**
   * Frees every block of the map (a collected map: clears it and leaves its
   * header to the collector); afterwards every method throws DisposedError.
   * Cost: as clear.
   */
  dispose(): void {
    this.clear();
    if (this.gc === null) this.heap.free(this.hdr);
    this.hdr = 0;
  }

  /** Same as dispose(), for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The keys (string keys decoded, bytes copied), in table order, not insertion order. */
  *keys(): IterableIterator<MapKey<K>> {
    for (const slot of this.slots("keys")) yield this.readKey(slot) as MapKey<K>;
  }

  /** The values, as get returns them, in the order of keys(). */
  *values(): IterableIterator<MapValue<V>> {
    for (const slot of this.slots("values")) yield this.readValue(slot) as MapValue<V>;
  }

  /** [key, value] pairs in the order of keys(). */
  *entries(): IterableIterator<[MapKey<K>, MapValue<V>]> {
    for (const slot of this.slots("entries")) yield [this.readKey(slot) as MapKey<K>, this.readValue(slot) as MapValue<V>];
  }

  /** Same as entries(). Inserting or deleting during iteration makes the next step throw ConcurrentModificationError. */
  [Symbol.iterator](): IterableIterator<[MapKey<K>, MapValue<V>]> {
    return this.entries();
  }

  /** Calls `fn(value, key, map)` for each entry, in the order of keys(). */
  forEach(fn: (value: MapValue<V>, key: MapKey<K>, map: this) => void): void {
    for (const slot of this.slots("forEach")) fn(this.readValue(slot) as MapValue<V>, this.readKey(slot) as MapKey<K>, this);
  }

  /** Validates invariants M1-M8 (map-layout.ts); throws HeapCorruptionError naming the broken one. Cost: O(capacity), with JS allocation. */
  check(): void {
    checkMap(this, this.heap, this.live("check"), typeFingerprint(this.keyType, this.valueType));
  }

  /** @internal What checkMap needs of the map's shape. */
  shape(): MapShape {
    return { slotBytes: this.slotBytes, valueOff: this.valueOff, keyKind: this.keyKind, valueKind: this.valueKind, struct: this.struct, collected: this.gc !== null };
  }

  // The map's part of MapTables (map-resize.ts), which resizeStep and
  // installTable take the map as.

  /** @internal A zeroed table of `cap` slots (MapTables): a plain block, or a collected one tagged per slot. */
  zeroedTable(cap: number): number {
    const bytes = cap * this.slotBytes;
    return this.gc === null ? this.heap.calloc(bytes) : this.gc.allocBlock(bytes, this.slotTags, this.slotBytes, cap);
  }

  /** @internal A table of `cap` slots to be zeroed a part at a time, or 0 while the Collector cannot allocate (MapTables). */
  unzeroedTable(cap: number): number {
    const bytes = cap * this.slotBytes;
    if (this.gc === null) return this.heap.alloc(bytes);
    return this.gc.canAllocate ? this.gc.allocUnzeroed(bytes) : 0;
  }

  /** @internal Bytes [from, to) of an unzeroed table were zeroed (MapTables): a collected one's slots there get their tags. */
  zeroed(table: number, from: number, to: number): void {
    this.gc?.tag(table + from, this.slotTags, this.slotBytes, (to - from) / this.slotBytes);
  }

  /** @internal The map no longer references `table`, whose slots are vacated (MapTables): freed, or left to the collector. */
  dropTable(table: number): void {
    if (this.gc === null) this.heap.free(table);
    else overwriteRef(this.heap, table);
  }

  // Frees a block made by this call that nothing references yet, plain or collected.
  private freeFresh(block: number): void {
    if (this.gc === null) this.heap.free(block);
    else this.gc.release(block);
  }

  /** @internal Slot of the query's key (hash `h`) in the current or the old table, or 0. */
  find(w: number, h: number): number {
    const u32 = this.heap.u32;
    const cap = u32[w + H_CAP]!;
    if (cap !== 0) {
      const slot = probe(this.heap, u32[w + H_TABLE]!, cap, this.slotBytes, h);
      if (slot !== 0) return slot;
    }
    const oldCap = u32[w + H_OLD_CAP]!;
    return oldCap === 0 ? 0 : probe(this.heap, u32[w + H_OLD_TABLE]!, oldCap, this.slotBytes, h);
  }

  // Validates `key`, makes it the probes' query and returns its hash. `api` is the whole name ("OffHeapMap.get"): a name built per call would be a JS allocation per lookup.
  private query(api: string, key: unknown): number {
    // | 0: as int32 bits (the hashes mix them so), a u32 of 2^31 or more would be a new HeapNumber per call
    return queryKey(this.heap.u32[(this.hdr >>> 2) + H_SEED]! | 0, this.keyKind, api, key);
  }

  // Throws unless `value` fits the value type (before anything changes).
  private checkValue(api: string, value: unknown): void {
    const kind = this.valueKind;
    if (kind === V_STRUCT) checkValues(this.struct!, api, value);
    else if (kind === V_STRING) {
      if (typeof value !== "string") throw new OffheapTypeError(`${api}: a value of this map must be a string, got ${describe(value)}`);
    } else if (kind === V_BYTES) {
      if (!(value instanceof Uint8Array)) throw new OffheapTypeError(`${api}: a value of this map must be a Uint8Array, got ${describe(value)}`);
    } else checkScalar(api, kind, value);
  }

  private needBlocks(api: string): void {
    if (this.valueKind <= MAX_SCALAR_KIND) throw new OffheapTypeError(`OffHeapMap.${api}: ${String(this.valueType)} values live in the table, which moves entries; use get`);
  }

  // Inserts the query's key (absent, hash h) with `value`; `api` names the call.
  private insert(api: string, w: number, h: number, value: unknown): void {
    const heap = this.heap;
    // Everything that can fail comes first: nothing changes on failure.
    const newCap = grownCapacity(heap, w, api);
    const prepared = newCap === 0 ? 0 : heap.u32[w + H_NEXT_TABLE]!;
    const newTable = newCap === 0 ? 0 : prepared !== 0 ? prepared : this.zeroedTable(newCap);
    let keyBlock = 0;
    let valueAddr = 0;
    try {
      keyBlock = this.makeKey();
      valueAddr = this.makeValue(keyBlock, value);
    } catch (e) {
      if (keyBlock !== 0) heap.free(keyBlock);
      if (newTable !== prepared) this.freeFresh(newTable);
      throw e;
    }
    if (newTable !== 0) installTable(this, w, newTable, newCap);
    const carry = carryWords();
    carry.fill(0);
    carry[0] = h;
    carry[1] = this.keyKind <= K_BYTES ? keyBlock : this.keyKind === K_F64 ? 0 : queryWordValue();
    const slot = place(heap, heap.u32[w + H_TABLE]!, heap.u32[w + H_CAP]!, this.slotBytes, this.refWord);
    if (this.keyKind === K_F64) heap.f64[(slot + 8) >>> 3] = queryNumber();
    if (this.valueKind <= MAX_SCALAR_KIND) writeScalar(heap, this.valueKind, slot + this.valueOff, value as number | bigint);
    else heap.u32[(slot + this.valueOff) >>> 2] = valueAddr;
    heap.u32[w + H_SIZE] = heap.u32[w + H_SIZE]! + 1;
    heap.u32[w + H_MODS] = heap.u32[w + H_MODS]! + 1;
    resizeStep(this, w);
  }

  // The key block of the query's key (with room for a record when the
  // values are records of a plain map), or 0 for number keys.
  private makeKey(): number {
    return this.keyKind > K_BYTES ? 0 : makeKeyBlock(this.heap, this.struct === null || this.gc !== null ? 0 : this.struct.size);
  }

  // Makes the value's block for a new entry (0 for scalars); records of a
  // plain map go into the key block when there is one, a collected map's
  // are collected records.
  private makeValue(keyBlock: number, value: unknown): number {
    const heap = this.heap;
    switch (this.valueKind) {
      case V_STRING: return heap.fromString(value as string);
      case V_BYTES: return bytesBlock(heap, value as Uint8Array);
      case V_STRUCT: {
        const T = this.struct!;
        if (this.gc !== null) return this.gc.allocRecord(T, value as StructInit<StructFields>);
        if (keyBlock === 0) return T.alloc(heap, value as StructInit<StructFields>);
        const rec = keyBlock + recordOffset(heap.u32[keyBlock >>> 2]!);
        heap.u8.fill(0, rec, rec + T.size);
        T.write(heap, rec, value as StructInit<StructFields>);
        return rec;
      }
      default: return 0;
    }
  }

  private replaceValue(slot: number, value: unknown): void {
    const heap = this.heap;
    const a = slot + this.valueOff;
    switch (this.valueKind) {
      case V_STRING:
      case V_BYTES: {
        const block = this.valueKind === V_STRING ? heap.fromString(value as string) : bytesBlock(heap, value as Uint8Array);
        const old = heap.u32[a >>> 2]!;
        heap.u32[a >>> 2] = block;
        heap.free(old);
        return;
      }
      case V_STRUCT:
        this.struct!.reset(heap, heap.u32[a >>> 2]!, value as StructInit<StructFields>);
        return;
      default:
        writeScalar(heap, this.valueKind, a, value as number | bigint);
    }
  }

  // Frees the blocks of the entry at `slot` (the slot itself stays). A
  // collected record is left to the collector: vacating the slot passes it
  // to the write barrier.
  private release(slot: number): void {
    const heap = this.heap;
    const value = heap.u32[(slot + this.valueOff) >>> 2]!;
    if (this.valueKind === V_STRUCT) {
      if (this.gc === null) {
        this.struct!.freeOwned(heap, value);
        if (this.keyKind > K_BYTES) heap.free(value);
      }
    } else if (this.valueKind > MAX_SCALAR_KIND) {
      heap.free(value);
    }
    if (this.keyKind <= K_BYTES) heap.free(heap.u32[(slot >>> 2) + 1]!);
  }

  /** @internal The key stored at `slot` as keys() returns it. */
  readKey(slot: number): unknown {
    return readKey(this.heap, this.keyKind, slot);
  }

  private readValue(slot: number): unknown {
    const heap = this.heap;
    const a = slot + this.valueOff;
    switch (this.valueKind) {
      case V_STRING: return heap.readString(heap.u32[a >>> 2]!);
      case V_BYTES: {
        const b = heap.u32[a >>> 2]!;
        return heap.u8.slice(b + 4, b + 4 + heap.u32[b >>> 2]!);
      }
      case V_STRUCT: return new this.struct!(heap, heap.u32[a >>> 2]!);
      default: return readScalar(heap, this.valueKind, a);
    }
  }

  // Slots with entries: the old table from the cursor, then the current one.
  private *slots(api: string): Generator<number> {
    const w = this.live(api) >>> 2;
    const mods = this.heap.u32[w + H_MODS]!;
    for (let t = 0; t < 2; t++) {
      for (let i = t === 0 ? this.heap.u32[w + H_CURSOR]! : 0; ; i++) {
        const u32 = this.heap.u32;
        if (this.hdr === 0) throw new DisposedError(`OffHeapMap.${api}: the map was disposed during iteration`);
        if (u32[w + H_MODS] !== mods) throw new ConcurrentModificationError(`OffHeapMap.${api}: the map gained or lost entries during iteration`);
        if (i >= u32[w + (t === 0 ? H_OLD_CAP : H_CAP)]!) break;
        const slot = u32[w + (t === 0 ? H_OLD_TABLE : H_TABLE)]! + i * this.slotBytes;
        if (isFull(u32[slot >>> 2]!)) yield slot;
      }
    }
  }

  private live(api: string): number {
    if (this.hdr === 0) throw new DisposedError(`OffHeapMap.${api}: the map was disposed`);
    return this.hdr;
  }
}

// A collected table's tags per slot (as gc-layout.ts's tagsOf): the key
// word of string and bytes keys and the value word of string and bytes
// values are owned blocks, freed with the table; a record value is followed.
function slotTags(keyKind: number, valueKind: number, valueOff: number): Int32Array {
  const tags: number[] = [];
  if (keyKind <= K_BYTES) tags.push((4 << 2) | W_OWNED);
  if (valueKind === V_STRUCT) tags.push((valueOff << 2) | W_REF);
  else if (valueKind > MAX_SCALAR_KIND) tags.push((valueOff << 2) | W_OWNED);
  return tags.length === 0 ? NO_TAGS : Int32Array.from(tags);
}

function bytesBlock(heap: Heap, bytes: Uint8Array): number {
  const block = heap.alloc(4 + bytes.length);
  heap.u32[block >>> 2] = bytes.length;
  heap.u8.set(bytes, block + 4);
  return block;
}
