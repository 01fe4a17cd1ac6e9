// OffHeapArray: a growable array of scalars or records whose header and
// elements live in heap blocks.
//
// Header block (6 u32 words, a 24-byte block):
//
//   +0 A_MAGIC "OHAR"   +1 A_TYPE fingerprint of the element type
//   +2 A_LENGTH         +3 A_CAPACITY (elements)
//   +4 A_DATA address of the element block (0 when capacity is 0)
//   +5 A_STRIDE bytes per element
//
// Elements are packed at `data + i * stride` (stride = the scalar's size,
// 4 for "ref", or the struct's size, so every element stays aligned). The element block
// grows by Heap.realloc to double its capacity (at least MIN_CAPACITY), so n
// pushes cost O(n) in all. The JS object holds only the header address:
// `OffHeapArray.open(heap, address, type)` on another Heap over the same
// image (or a copy) sees the same array.
//
// Invariants (checked by check()):
//   A1  the header is a live block with the magic word and the element
//       type's fingerprint, and A_STRIDE is the element size.
//   A2  length <= capacity; capacity 0 <=> data 0; otherwise data is a live
//       block of at least capacity * stride bytes.
//   A3  records: every record in [0, length) satisfies R1 (struct.ts).
//
// Collected arrays (options.collector): the header and the element block
// are blocks of the Collector (collector.ts), tagged so that marking goes
// from the header's A_DATA word to the element block and from there along
// every "ref" element (or the refs of every record element); the array is
// kept as long as a root reaches its header. Every store that overwrites a
// ref (set, pop, clear, a grown block replacing A_DATA) passes the old one
// to the write barrier. The element block grows by allocating a new one and
// copying (realloc refuses collected blocks); the old one, its strings
// handed over, is left for the collector.

import type { Heap } from "../heap/heap.js";
import { DisposedError, HeapCorruptionError, hex, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { checkHeap, checkNumber, checkOptions, type OptionRules } from "../common/options.js";
import { blockSize, type CollectionKind, HDR_MAGIC, HDR_TYPE, headerState, openHeader } from "./header.js";
import { fingerprint } from "./hash.js";
import { type BigIntType, checkScalar, describe, readScalar, type ScalarType, scalarCode, SCALAR_BYTES, T_U32, writeScalar } from "./scalar.js";
import {
  isStructType, overwriteRef, type StructFields, type StructInit, type StructRecord, type StructType, type StructValues, valuesOf,
} from "./struct.js";
import { reclaimerOf } from "../heap/reclaim.js";
import type { Collector } from "./collector.js";
import { NO_TAGS, tagsOf, W_REF } from "./gc-layout.js";
import { collectorOfHeader } from "./gc-space.js";

/** An element type: a scalar type name, "ref" (a u32 address, followed by a Collector), or a struct type. */
export type ElementType = ScalarType | "ref" | StructType<any>;
/** What get() returns: a number, a bigint, or an accessor object. */
export type ElementValue<E extends ElementType> =
  E extends StructType<infer F extends StructFields> ? StructRecord<F> : E extends BigIntType ? bigint : number;
/** What set() and push() take: a number, a bigint, or a record's values. */
export type ElementInit<E extends ElementType> =
  E extends StructType<infer F extends StructFields> ? StructInit<F> : E extends BigIntType ? bigint : number;
/** What pop() and toArray() return: a number, a bigint, or a record's values as a plain object. */
export type ElementPlain<E extends ElementType> =
  E extends StructType<infer F extends StructFields> ? StructValues<F> : E extends BigIntType ? bigint : number;

/** Options of `new OffHeapArray`. */
export interface OffHeapArrayOptions {
  /** Elements to make room for at once. Default 0 (no element block until the first push). */
  capacity?: number;
  /**
   * The heap's Collector: the array's blocks are then collected (freed when
   * no root reaches the header) and its "ref" elements, or its records'
   * refs, keep what they point to alive. Default none: a manual array.
   */
  collector?: Collector;
}

const A_MAGIC = HDR_MAGIC;
const A_TYPE = HDR_TYPE;
const A_LENGTH = 2;
const A_CAPACITY = 3;
const A_DATA = 4;
const A_STRIDE = 5;
const SIZEOF_HEADER = 24;
const MAGIC = 0x5241484f; // "OHAR" little-endian
const MIN_CAPACITY = 4;
const MAX_LENGTH = 0xffffffff;
const ARRAY: CollectionKind = { name: "OffHeapArray", magic: MAGIC, headerBytes: SIZEOF_HEADER };
const OPTION_RULES: OptionRules = { capacity: { type: "number" }, collector: { type: "object" } };
/** Tags of a collected header: its A_DATA word is a ref. */
const HEADER_TAGS = Int32Array.of(((A_DATA * 4) << 2) | W_REF);
/** Tags of a collected "ref" element: the whole element. */
const REF_TAGS = Int32Array.of(W_REF);

// Set by open() around its `new OffHeapArray` so the constructor adopts an
// existing header instead of allocating one.
let opening = 0;

/**
 * An array of scalars or records in a heap.
 *
 * @example
 * const a = new OffHeapArray(heap, "f64");
 * a.push(1.5); a.push(2.5);
 * a.get(1);          // 2.5
 * const Pt = defineStruct({ x: "f64", y: "f64" });
 * const pts = new OffHeapArray(heap, Pt);
 * pts.push({ x: 1, y: 2 });
 * const cur = Pt.at(heap, pts.addrOf(0)); cur.y; // 2
 */
export class OffHeapArray<E extends ElementType> {
  /** The heap the array lives in. */
  readonly heap: Heap;
  /** The element type given at creation. */
  readonly elementType: E;
  private hdr: number;
  private readonly code: number; // scalar code, 0 for records
  private readonly struct: StructType | null;
  private readonly stride: number;
  private readonly isRef: boolean;
  private readonly gc: Collector | null;

  /**
   * Makes an empty array in `heap`. Throws OffheapTypeError for a `heap`
   * that is not a Heap, an unknown element type or options of the wrong
   * type, RangeError for a bad capacity, OutOfMemoryError (the heap is
   * unchanged then). Cost: one or two heap allocations.
   */
  constructor(heap: Heap, elementType: E, options?: OffHeapArrayOptions) {
    const adopt = opening;
    opening = 0;
    checkHeap("OffHeapArray", heap);
    const { capacity = 0, collector } = checkOptions("OffHeapArray", options, OPTION_RULES);
    this.heap = heap;
    this.elementType = elementType;
    this.struct = isStructType(elementType) ? elementType : null;
    this.isRef = elementType === "ref";
    this.code = this.struct !== null ? 0 : this.isRef ? T_U32 : scalarCode("OffHeapArray", elementType);
    this.stride = this.struct === null ? SCALAR_BYTES[this.code]! : this.struct.size;
    if (adopt !== 0) {
      this.gc = collectorOfHeader(heap, "OffHeapArray.open", adopt);
      this.hdr = adopt;
      return;
    }
    if (collector !== undefined && collector !== reclaimerOf(heap)) throw new OffheapTypeError("OffHeapArray: options.collector is not the Collector of this heap");
    this.gc = collector ?? null;
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity * this.stride > 2 ** 32) {
      throw new OffheapRangeError(`OffHeapArray: options.capacity ${String(capacity)} is not an integer in [0, ${Math.floor(2 ** 32 / this.stride)}]`);
    }
    const hdr = this.gc !== null ? this.gc.allocBlock(SIZEOF_HEADER, HEADER_TAGS, 0, 1) : heap.alloc(SIZEOF_HEADER);
    let data = 0;
    if (capacity > 0) {
      try {
        data = this.allocElements(capacity);
      } catch (e) {
        if (this.gc !== null) this.gc.release(hdr);
        else heap.free(hdr);
        throw e;
      }
    }
    this.gc?.heap.currentScope?.pin(hdr);
    const w = hdr >>> 2;
    const u32 = heap.u32;
    u32[w + A_MAGIC] = MAGIC;
    u32[w + A_TYPE] = typeFingerprint(elementType);
    u32[w + A_LENGTH] = 0;
    u32[w + A_CAPACITY] = capacity;
    u32[w + A_DATA] = data;
    u32[w + A_STRIDE] = this.stride;
    this.hdr = hdr;
  }

  /**
   * Opens the array whose header is at `address` (its `address` when made,
   * kept e.g. with heap.setRoot) with the same element type. Throws
   * InvalidAddressError if no array header is there, OffheapTypeError for a
   * `heap` that is not a Heap, an unknown element type, or an array made
   * with another element type; HeapCorruptionError (A1, A2) for a header
   * whose stride, length, capacity or element block check() would reject.
   * Cost: O(1).
   */
  static open<E extends ElementType>(heap: Heap, address: number, elementType: E): OffHeapArray<E> {
    const api = "OffHeapArray.open";
    checkHeap(api, heap);
    if (!isStructType(elementType) && elementType !== "ref") scalarCode(api, elementType);
    opening = openHeader(heap, api, ARRAY, address, typeFingerprint(elementType), typeName(elementType));
    const array = new OffHeapArray(heap, elementType);
    array.checkHeader(api); // a header that would send get/set outside its element block is refused here, not at use
    return array;
  }

  /** Address of the header block: what open() takes. 0 after dispose(). */
  get address(): number {
    return this.hdr;
  }

  /** Number of elements. */
  get length(): number {
    return this.heap.u32[(this.live("length") >>> 2) + A_LENGTH]!;
  }

  /** Elements that fit before the element block must grow. */
  get capacity(): number {
    return this.heap.u32[(this.live("capacity") >>> 2) + A_CAPACITY]!;
  }

  /**
   * Element `i`: a number, a bigint, or for records a new accessor object
   * (use addrOf with a cursor to avoid the object). Throws RangeError for
   * `i` outside [0, length). Cost: O(1).
   */
  get(i: number): ElementValue<E> {
    const a = this.addrOf(i);
    if (this.struct !== null) return new this.struct(this.heap, a) as ElementValue<E>;
    return readScalar(this.heap, this.code, a) as ElementValue<E>;
  }

  /**
   * Address of element `i` in the heap. It stays valid until the array
   * grows (a push past capacity, reserve) or is cleared or disposed.
   * Throws RangeError for `i` outside [0, length). Cost: O(1).
   */
  addrOf(i: number): number {
    const w = this.live("get") >>> 2;
    const u32 = this.heap.u32;
    if (!((i >>> 0) === i && i < u32[w + A_LENGTH]!)) this.badIndex(i, u32[w + A_LENGTH]!);
    return u32[w + A_DATA]! + i * this.stride;
  }

  /**
   * Sets element `i`; a record is reset (its strings freed, fields zeroed)
   * and given `value`'s fields. Throws RangeError for a bad index,
   * OffheapTypeError for a value of the wrong type; nothing changes then.
   */
  set(i: number, value: ElementInit<E>): void {
    // A record's values are read first (after the disposed check, the first error a call reports): a getter among them
    // that changes this array runs before the call reads it.
    this.live("set");
    if (this.struct !== null) value = valuesOf(this.struct, "OffHeapArray.set", value) as ElementInit<E>;
    const w = this.live("set") >>> 2;
    const u32 = this.heap.u32;
    if (!((i >>> 0) === i && i < u32[w + A_LENGTH]!)) this.badIndex(i, u32[w + A_LENGTH]!);
    const a = u32[w + A_DATA]! + i * this.stride;
    if (this.struct !== null) {
      this.struct.reset(this.heap, a, value as StructInit<StructFields>);
    } else {
      checkScalar("OffHeapArray.set", this.code, value);
      if (this.isRef) overwriteRef(this.heap, u32[a >>> 2]!);
      writeScalar(this.heap, this.code, a, value as number | bigint);
    }
  }

  /**
   * Appends an element (for records, a zeroed record given `value`'s fields;
   * `value` may be omitted) and returns the new length. Errors as set
   * (nothing changes then), and OutOfMemoryError if the element block cannot
   * grow or a string field cannot be stored (the elements are unchanged then,
   * the capacity may have grown).
   * Cost: amortized O(1).
   */
  push(value?: ElementInit<E>): number {
    this.live("push");
    if (this.struct !== null) value = valuesOf(this.struct, "OffHeapArray.push", value) as ElementInit<E>; // as in set
    const hdr = this.live("push");
    if (this.struct === null) checkScalar("OffHeapArray.push", this.code, value);
    const n = this.heap.u32[(hdr >>> 2) + A_LENGTH]!;
    if (n === MAX_LENGTH) throw new OffheapRangeError(`OffHeapArray.push: the array has ${MAX_LENGTH} elements, the most a u32 length holds`);
    if (n === this.heap.u32[(hdr >>> 2) + A_CAPACITY]!) this.grow(n + 1);
    const a = this.heap.u32[(hdr >>> 2) + A_DATA]! + n * this.stride;
    if (this.struct !== null) {
      this.heap.u8.fill(0, a, a + this.stride);
      this.struct.write(this.heap, a, value as StructInit<StructFields>); // OutOfMemoryError: the slot is past length
    } else {
      writeScalar(this.heap, this.code, a, value as number | bigint);
    }
    this.heap.u32[(hdr >>> 2) + A_LENGTH] = n + 1;
    return n + 1;
  }

  /**
   * Removes the last element and returns it (a record as a plain object;
   * its strings are freed), or undefined if the array is empty. Cost: O(1).
   */
  pop(): ElementPlain<E> | undefined {
    const w = this.live("pop") >>> 2;
    const n = this.heap.u32[w + A_LENGTH]!;
    if (n === 0) return undefined;
    const a = this.heap.u32[w + A_DATA]! + (n - 1) * this.stride;
    let v: unknown;
    if (this.struct !== null) {
      v = this.struct.read(this.heap, a);
      this.struct.reset(this.heap, a); // strings freed, refs passed to the barrier and cleared: a collector follows no ref past the length
    } else {
      v = readScalar(this.heap, this.code, a);
      if (this.isRef) {
        overwriteRef(this.heap, v as number);
        this.heap.u32[a >>> 2] = 0;
      }
    }
    this.heap.u32[w + A_LENGTH] = n - 1;
    return v as ElementPlain<E>;
  }

  /** Makes room for `capacity` elements. Throws RangeError, OutOfMemoryError; nothing changes then. Cost: O(length) if the block moves. */
  reserve(capacity: number): void {
    const w = this.live("reserve") >>> 2;
    checkNumber("OffHeapArray.reserve", "capacity", capacity);
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > MAX_LENGTH) {
      throw new OffheapRangeError(`OffHeapArray.reserve: capacity ${String(capacity)} is not an integer in [0, ${MAX_LENGTH}]`);
    }
    if (capacity > this.heap.u32[w + A_CAPACITY]!) this.grow(capacity);
  }

  /** Removes every element (freeing records' strings) and frees the element block. Cost: O(length) for records with strings, else O(1). */
  clear(): void {
    const w = this.live("clear") >>> 2;
    this.releaseRecords(w);
    const data = this.heap.u32[w + A_DATA]!;
    this.heap.u32[w + A_LENGTH] = 0;
    this.heap.u32[w + A_CAPACITY] = 0;
    overwriteRef(this.heap, data);
    this.heap.u32[w + A_DATA] = 0;
    if (this.gc === null) this.heap.free(data); // a collected one is left to the collector
  }

  /**
   * Frees every block of the array (a collected array: clears it and leaves
   * its blocks to the collector); afterwards every method throws
   * DisposedError. Cost: as clear.
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

  /** The elements in order (records as accessor objects); reads the length at every step. */
  *[Symbol.iterator](): IterableIterator<ElementValue<E>> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** A JS array of the elements (records as plain objects). Cost: O(length). */
  toArray(): ElementPlain<E>[] {
    const n = this.length;
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const a = this.addrOf(i);
      out.push(this.struct !== null ? this.struct.read(this.heap, a) : readScalar(this.heap, this.code, a));
    }
    return out as ElementPlain<E>[];
  }

  /** Validates invariants A1-A3; throws HeapCorruptionError naming the broken one. Cost: O(length) for records with strings. */
  check(): void {
    const hdr = this.live("check");
    const data = this.checkHeader("OffHeapArray.check");
    const n = this.heap.u32[(hdr >>> 2) + A_LENGTH]!;
    if (this.struct !== null && this.struct.hasStrings) for (let i = 0; i < n; i++) this.struct.check(this.heap, data + i * this.stride);
  }

  // Invariants A1 and A2, the header's (O(1)); returns the element block's address. open() runs it too.
  private checkHeader(api: string): number {
    const hdr = this.hdr;
    const w = hdr >>> 2;
    const u32 = this.heap.u32;
    const fail = (id: string, what: string): never => {
      throw new HeapCorruptionError(id, `${api}: the array at ${hex(hdr)} ${what}`);
    };
    const state = headerState(this.heap, ARRAY, hdr, typeFingerprint(this.elementType));
    if (state !== "ok") fail("A1", state === "no header" ? "has no live header block with the array magic" : "header holds another element type's fingerprint");
    if (u32[w + A_STRIDE] !== this.stride) fail("A1", `header stride ${u32[w + A_STRIDE]} is not the element size ${this.stride}`);
    const n = u32[w + A_LENGTH]!, cap = u32[w + A_CAPACITY]!, data = u32[w + A_DATA]!;
    if (n > cap) fail("A2", `has length ${n} > capacity ${cap}`);
    if ((cap === 0) !== (data === 0)) fail("A2", `has capacity ${cap} and element block ${hex(data)}`);
    if (cap > 0 && blockSize(this.heap, data) < cap * this.stride) fail("A2", `element block ${hex(data)} is smaller than ${cap} x ${this.stride} bytes`);
    return data;
  }

  // Grows the element block to hold at least `need` elements.
  private grow(need: number): void {
    const w = this.hdr >>> 2;
    const cap = Math.min(MAX_LENGTH, Math.max(need, MIN_CAPACITY, 2 * this.heap.u32[w + A_CAPACITY]!));
    const old = this.heap.u32[w + A_DATA]!;
    let data: number;
    if (this.gc === null) {
      data = this.heap.realloc(old, cap * this.stride); // RangeError or OutOfMemoryError: the old block stays
    } else {
      data = this.allocElements(cap);
      const u32 = this.heap.u32;
      this.heap.u8.copyWithin(data, old, old + u32[w + A_LENGTH]! * this.stride);
      if (old !== 0) {
        if (this.struct?.hasStrings === true) this.gc.disownStrings(old);
        overwriteRef(this.heap, old);
      }
    }
    this.heap.u32[w + A_DATA] = data;
    this.heap.u32[w + A_CAPACITY] = cap;
  }

  // A new element block for `capacity` elements: a plain block, or a collected one tagged for the element type.
  private allocElements(capacity: number): number {
    const bytes = capacity * this.stride;
    if (this.gc === null) return this.heap.alloc(bytes);
    const tags = this.isRef ? REF_TAGS : this.struct !== null ? tagsOf(this.struct) : NO_TAGS;
    return this.gc.allocBlock(bytes, tags, this.stride, capacity);
  }

  private releaseRecords(w: number): void {
    if (this.struct === null || !this.struct.hasStrings) return;
    const n = this.heap.u32[w + A_LENGTH]!;
    const data = this.heap.u32[w + A_DATA]!;
    for (let i = 0; i < n; i++) this.struct.freeOwned(this.heap, data + i * this.stride);
  }

  private badIndex(i: unknown, n: number): never {
    checkNumber("OffHeapArray", "an index", i);
    throw new OffheapRangeError(`OffHeapArray: index ${describe(i)} is outside [0, ${n}) (the array's length)`);
  }

  // The header address; throws DisposedError after dispose().
  private live(api: string): number {
    if (this.hdr === 0) throw new DisposedError(`OffHeapArray.${api}: the array was disposed`);
    return this.hdr;
  }
}

function typeName(t: ElementType): string {
  return isStructType(t) ? t.descriptor : String(t);
}

function typeFingerprint(t: ElementType): number {
  return fingerprint(`array:${typeName(t)}`);
}
