// defineStruct: layouts, every field type through accessors and through
// read/write, string ownership, and the errors.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError, OutOfMemoryError } from "../../src/index.js";
import { defineStruct } from "../../src/collections/index.js";
import { expectError, expectRejected, MIB } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

const ALL = {
  a: "u8", b: "i8", c: "u16", d: "i16", e: "u32", f: "i32", g: "f32", h: "f64", i: "u64", j: "i64",
  k: "bool", s: "string", r: "ref", y: "bytes[5]",
} as const;
const All = defineStruct(ALL);

describe("defineStruct layout", () => {
  test("compact: fields by alignment, no padding inside, size a multiple of the alignment", () => {
    const T = defineStruct({ flag: "bool", score: "f64", id: "u32", small: "u16", name: "string" });
    assert.deepEqual({ ...T.offsets }, { score: 0, id: 8, name: 12, small: 16, flag: 18 });
    assert.equal(T.size, 24);
    assert.equal(T.align, 8);
    assert.deepEqual(T.fields.map((f) => f.name), ["score", "id", "name", "small", "flag"]);
  });

  test("declared: C order and padding", () => {
    const T = defineStruct({ flag: "bool", score: "f64", id: "u32" }, { layout: "declared" });
    assert.deepEqual({ ...T.offsets }, { flag: 0, score: 8, id: 16 });
    assert.equal(T.size, 24);
    assert.notEqual(T.fingerprint, defineStruct({ flag: "bool", score: "f64", id: "u32" }).fingerprint);
  });

  test("bad definitions throw", () => {
    expectError(() => defineStruct({}), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "at least one field");
    expectError(() => defineStruct({ addr: "u32" }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "addr");
    expectError(() => defineStruct({ "a-b": "u32" }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "a-b");
    expectError(() => defineStruct({ x: "u128" as never }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "u128");
    expectError(() => defineStruct({ x: "bytes[0]" }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "bytes[0]");
  });
});

const values = fc.record({
  a: fc.nat({ max: 255 }), b: fc.integer({ min: -128, max: 127 }), c: fc.nat({ max: 65535 }), d: fc.integer({ min: -32768, max: 32767 }),
  e: fc.nat({ max: 2 ** 32 - 1 }), f: fc.integer(), g: fc.float({ noNaN: true }).map(Math.fround), h: fc.double(),
  i: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), j: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), k: fc.boolean(),
  s: fc.string({ maxLength: 30, unit: "grapheme" }), r: fc.nat({ max: 2 ** 32 - 1 }), y: fc.uint8Array({ minLength: 5, maxLength: 5 }),
});

describe("defineStruct records", () => {
  test(`every field type round-trips through alloc/read, setters and write (seed ${SEED})`, () => {
    fc.assert(fc.property(values, values, (v, w) => {
      const heap = new Heap({ maxSize: 16 * MIB });
      const p = All.alloc(heap, v);
      assert.deepEqual(All.read(heap, p), { ...v });
      const cur = All.at(heap, p);
      for (const [name, value] of Object.entries(w)) (cur as unknown as Record<string, unknown>)[name] = value;
      assert.deepEqual(cur.toObject(), { ...w });
      All.write(heap, p, v);
      assert.deepEqual(new All(heap, p).toObject(), { ...v });
      All.check(heap, p);
      All.free(heap, p);
      heap.check();
      assert.equal(heap.stats().liveBlocks, 0, "free frees the string");
    }), { seed: SEED, numRuns: 200 });
  });

  test("string fields own their blocks: the setter frees the old one, reset frees and zeroes", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const T = defineStruct({ name: "string", id: "u32" });
    const p = T.alloc(heap, { name: "first", id: 3 });
    const cur = T.at(heap, p);
    assert.equal(heap.stats().liveBlocks, 2);
    cur.name = "second";
    assert.equal(heap.stats().liveBlocks, 2);
    cur.name = "";
    assert.equal(heap.stats().liveBlocks, 1, '"" is stored as 0, no block');
    cur.name = "again";
    T.reset(heap, p, { id: 9 });
    assert.deepEqual(cur.toObject(), { name: "", id: 9 });
    assert.equal(heap.stats().liveBlocks, 1);
    heap.check();
  });

  test("rejected alloc/write change nothing; free of a freed record throws DoubleFreeError", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const p = All.alloc(heap, { s: "kept" });
    expectRejected(heap, () => All.alloc(heap, { s: 1 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "field s");
    expectRejected(heap, () => All.alloc(heap, { zz: 1 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "zz");
    expectRejected(heap, () => All.write(heap, p, { s: "new", i: 5 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "bigint");
    expectRejected(heap, () => All.write(heap, p, { y: new Uint8Array(6) }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "bytes[5]");
    assert.equal(All.read(heap, p).s, "kept");
    All.free(heap, p);
    expectRejected(heap, () => All.free(heap, p), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
  });

  test("check() finds a string field that points at no string", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const p = All.alloc(heap, { s: "x" });
    heap.u32[(p + All.offsets.s) >>> 2] = p + 8;
    const e = expectError(() => All.check(heap, p), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "string field");
    assert.equal((e as HeapCorruptionError).invariant, "ST1");
  });

  test("accessors of two struct types share nothing: a cursor moves between records", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const P = defineStruct({ x: "f64", y: "f64" });
    const Q = defineStruct({ y: "f64", x: "f64" }, { layout: "declared" });
    const p = P.alloc(heap, { x: 1, y: 2 });
    const q = Q.alloc(heap, { x: 3, y: 4 });
    const cp = P.at(heap, p);
    assert.equal(cp.x, 1);
    assert.equal(Q.at(heap, q).x, 3);
    assert.equal(heap.f64[(q + Q.offsets.x) >>> 3], 3);
    cp.addr = P.alloc(heap, { x: 5 });
    assert.equal(cp.x, 5);
  });

  test("a cursor at an address that is not a uint32: typed errors, nothing written", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const P = defineStruct({ x: "f64", y: "f64" });
    const p = P.alloc(heap, { x: 1, y: 2 });
    const before = heap.u8.slice(0, heap.u8.length);
    // "8" would make x's address "8" + 0 = "80" and y's "88": another record's bytes.
    expectError(() => P.at(heap, String(p) as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "addr must be a number");
    expectError(() => new P(heap, undefined as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "addr must be a number");
    for (const bad of [-8, p + 0.5, 2 ** 32, NaN]) {
      expectError(() => P.at(heap, bad), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "integer in [0, 2^32)");
    }
    assert.deepEqual(heap.u8.slice(0, heap.u8.length), before);
    heap.check();
    // 0 (a cursor to move later) and any uint32 are taken as they are.
    const cur = P.at(heap, 0);
    cur.addr = p;
    assert.equal(cur.y, 2);
  });

  test("Type.read, write, reset, check and freeOwned refuse an address that is no uint32 or a record past the heap's end", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const P = defineStruct({ x: "f64", n: "u32", name: "string" });
    const p = P.alloc(heap, { x: 1, n: 2, name: "a" });
    const calls = [
      ["read", (a: number) => P.read(heap, a)], ["write", (a: number) => P.write(heap, a, { n: 5 })], ["reset", (a: number) => P.reset(heap, a)],
      ["check", (a: number) => P.check(heap, a)], ["freeOwned", (a: number) => P.freeOwned(heap, a)],
    ] as const;
    for (const [name, call] of calls) {
      // "8" + 4 would be address "84": the write landed in another place.
      expectRejected(heap, () => call(String(p) as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", `.${name}: addr must be a number`);
      expectRejected(heap, () => call(-8), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "integer in [0, 2^32)");
      expectRejected(heap, () => call(2 ** 31), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "past the heap's committed bytes");
    }
    assert.deepEqual(P.read(heap, p), { x: 1, n: 2, name: "a" });
    heap.check();
  });

  test("a record whose string field was freed behind its back: free, write and reset throw before they change anything", () => {
    // T.free freed the first string and zeroed the fields before it met the stale second one;
    // T.write and T.reset leaked the strings they had made for the new values.
    const heap = new Heap({ maxSize: 16 * MIB });
    const R = defineStruct({ a: "string", b: "string" });
    const r = R.alloc(heap, { a: "first", b: "second" });
    heap.freeString(heap.u32[(r + R.offsets.b) >>> 2]!); // the program's bug
    expectRejected(heap, () => R.free(heap, r), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    expectRejected(heap, () => R.write(heap, r, { a: "new a", b: "new b" }), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    expectRejected(heap, () => R.reset(heap, r, { a: "new a" }), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    expectRejected(heap, () => R.freeOwned(heap, r), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    R.write(heap, r, { a: "only a" }); // a write that does not touch the stale field goes on
    assert.equal(R.at(heap, r).a, "only a");
    heap.check();
  });

  test("Type.alloc out of memory frees only the strings it made: a ref or number field that equals a live block's address is not freed", () => {
    const heap = new Heap({ maxSize: MIB, initialSize: 0 });
    const victim = heap.alloc(40); // the program's block; a record's ref names it
    heap.free(heap.alloc(16)); // room for the record's string, none for the record
    const tiny: number[] = [];
    try {
      for (;;) tiny.push(heap.alloc(8));
    } catch (e) {
      assert.ok(e instanceof OutOfMemoryError, String(e));
    }
    const R = defineStruct({ name: "string", owner: "ref", n: "u32" });
    expectRejected(heap, () => R.alloc(heap, { name: "hello", owner: victim, n: victim }), OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY");
    assert.equal(heap.sizeOf(victim), 40);
    heap.check();
  });
});
