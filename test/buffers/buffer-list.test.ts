// BufferList: the list operations against a model (an array of buffers and
// the concatenation of their bytes) and rejected calls changing nothing.
// writeTo is tested in write-to.test.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BufferList } from "../../src/buffers/buffer-list.js";
import { HeapCorruptionError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { expectError } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function concat(bufs: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(bufs.flatMap((b) => [...b]));
}

/** The list's state, to prove a rejected call changed nothing. */
function state(list: BufferList): { buffers: Uint8Array[]; size: number } {
  return { buffers: [...list.buffers], size: list.size };
}

function assertList(list: BufferList, model: readonly Uint8Array[], what: string): void {
  list.check();
  assert.equal(list.count, model.length, `${what}: count`);
  assert.deepEqual([...list], [...model], `${what}: buffers (same objects)`);
  for (let i = 0; i < model.length; i++) assert.equal(list.buffers[i], model[i], `${what}: buffer ${i} is the pushed object`);
  const all = concat(model);
  assert.equal(list.size, all.length, `${what}: size`);
  assert.deepEqual(list.toBytes(), all, `${what}: toBytes`);
}

test("push, pushOne, count, size, at, iteration and range keep references, not copies", () => {
  const a = bytes(1, 2, 3), b = new Uint8Array(0), c = Buffer.from([4, 5]);
  const list = new BufferList();
  assert.equal(list.pushOne(a), list);
  assert.equal(list.push(b, c), list);
  assertList(list, [a, b, c], "after pushes");
  assert.equal(list.at(0), a);
  assert.equal(list.at(-1), c);
  assert.equal(list.at(3), undefined);
  const seen: [Uint8Array, number][] = [];
  list.range((buf, i) => seen.push([buf, i]));
  assert.deepEqual(seen, [[a, 0], [b, 1], [c, 2]]);
  a[0] = 9; // a view, not a copy
  assert.equal(list.toBytes()[0], 9);
  assertList(new BufferList([a, c]), [a, c], "constructor");
});

test("a list made of 200,000 buffers (a spread of them overflowed V8's stack)", () => {
  const many = Array.from({ length: 200_000 }, (_, i) => Uint8Array.of(i & 255));
  const list = new BufferList(many);
  assert.equal(list.count, 200_000);
  assert.equal(list.size, 200_000);
  expectError(() => new BufferList([bytes(1), "x" as unknown as Uint8Array]), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList: buffer 1");
});

test("push and pushOne reject a non-Uint8Array and add nothing", () => {
  const list = new BufferList([bytes(1)]);
  const before = state(list);
  expectError(() => list.push(bytes(2), "x" as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.push: argument 1", "a string");
  expectError(() => list.pushOne([1, 2] as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.pushOne", "an Array");
  expectError(() => list.push(new Uint16Array(2) as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "a Uint16Array");
  assert.deepEqual(state(list), before);
  list.check();
});

test("append adds the other list's buffers (also to itself) and leaves the other alone", () => {
  const a = bytes(1), b = bytes(2, 3), c = bytes(4, 5, 6);
  const left = new BufferList([a]);
  const right = new BufferList([b, c]);
  left.append(right);
  assertList(left, [a, b, c], "append");
  assertList(right, [b, c], "the appended list");
  left.append(left);
  assertList(left, [a, b, c, a, b, c], "self-append");
  expectError(() => left.append([b] as unknown as BufferList), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.append");
});

test("copyTo copies into a long enough target and rejects a short one without writing", () => {
  const list = new BufferList([bytes(1, 2), new Uint8Array(0), new Uint8Array(40).fill(7), bytes(3)]);
  const target = new Uint8Array(50).fill(0xee);
  assert.equal(list.copyTo(target), 43);
  assert.deepEqual(target.subarray(0, 43), list.toBytes());
  assert.equal(target[43], 0xee, "nothing written past size");
  const short = new Uint8Array(42).fill(0xee);
  expectError(() => list.copyTo(short), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferList.copyTo", "42", "43");
  assert.ok(short.every((x) => x === 0xee), "a rejected copyTo writes nothing");
  assert.equal(new BufferList().copyTo(new Uint8Array(0)), 0);
});

test("updateBuffer replaces by index (negative from the end) and keeps size right; bad calls change nothing", () => {
  const a = bytes(1, 2, 3), b = bytes(4), c = bytes(5, 6);
  const list = new BufferList([a, b, c]);
  const d = bytes(7, 8, 9, 10);
  list.updateBuffer(1, d);
  assertList(list, [a, d, c], "updateBuffer(1)");
  const e = new Uint8Array(0);
  list.updateBuffer(-1, e);
  assertList(list, [a, d, e], "updateBuffer(-1)");
  list.updateBuffer(-3, c);
  assertList(list, [c, d, e], "updateBuffer(-3)");
  const before = state(list);
  for (const bad of [3, -4, 1.5, Number.NaN, Infinity]) {
    expectError(() => list.updateBuffer(bad, a), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferList.updateBuffer", String(bad));
  }
  expectError(() => list.updateBuffer(0, null as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "null");
  // A string index was a RangeError that read "index 0 is not an integer".
  expectError(() => list.updateBuffer("0" as unknown as number, a), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.updateBuffer: index must be a number, got a string");
  assert.deepEqual(state(list), before);
  list.check();
  expectError(() => new BufferList().updateBuffer(0, a), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "list of 0 buffers");
});

test("at refuses an index that is not an integer (Array#at read buffer 0 for it)", () => {
  const a = bytes(1), b = bytes(2);
  const list = new BufferList([a, b]);
  assert.equal(list.at(1), b);
  assert.equal(list.at(-2), a);
  assert.equal(list.at(2), undefined);
  for (const bad of [0.5, -0.5, Number.NaN, Infinity]) expectError(() => list.at(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferList.at", `index ${bad} is not an integer`);
  for (const bad of ["x", "1", null, undefined]) expectError(() => list.at(bad as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.at: index must be a number");
});

test("dropFront removes whole buffers, trims the one it ends in without copying, and reports what it dropped", () => {
  const a = bytes(1, 2), empty = new Uint8Array(0), b = bytes(3, 4, 5), c = bytes(6);
  const list = new BufferList([a, empty, b, c]);
  const dropped: Uint8Array[] = [];
  list.dropFront(3, (buf) => dropped.push(buf));
  assert.deepEqual(dropped, [a, empty]);
  list.check();
  assert.deepEqual(list.toBytes(), bytes(4, 5, 6));
  assert.equal(list.count, 2);
  assert.equal(list.at(0)!.buffer, b.buffer, "the trimmed buffer is a view of the original");
  b[2] = 50;
  assert.deepEqual(list.toBytes(), bytes(4, 50, 6));
  const before = state(list);
  for (const bad of [-1, 4, 0.5, Number.NaN]) {
    expectError(() => list.dropFront(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferList.dropFront", "[0, 3]");
  }
  assert.deepEqual(state(list), before);
  list.dropFront(3);
  assertList(list, [], "all dropped");
});

test("equals compares bytes however they are split", () => {
  const list = new BufferList([bytes(1, 2), new Uint8Array(0), bytes(3, 4, 5)]);
  assert.ok(list.equals(list));
  assert.ok(list.equals(new BufferList([bytes(1), bytes(2, 3, 4), new Uint8Array(0), bytes(5)])));
  assert.ok(list.equals(bytes(1, 2, 3, 4, 5)));
  assert.ok(!list.equals(bytes(1, 2, 3, 4, 6)));
  assert.ok(!list.equals(new BufferList([bytes(1, 2, 3, 4)])));
  assert.ok(new BufferList().equals(new BufferList([new Uint8Array(0)])));
  expectError(() => list.equals("x" as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferList.equals");
});

test("reset empties the list", () => {
  const list = new BufferList([bytes(1, 2)]);
  list.reset();
  assertList(list, [], "after reset");
  list.pushOne(bytes(3));
  assertList(list, [list.at(0)!], "reuse after reset");
});

test("check() names the broken invariant", () => {
  const list = new BufferList([bytes(1)]);
  (list as unknown as { sizeBytes: number }).sizeBytes = 5;
  const e = expectError(() => list.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "size is 5");
  assert.equal((e as HeapCorruptionError).invariant, "BL2");
  const list2 = new BufferList([bytes(1)]);
  (list2 as unknown as { bufs: unknown[] }).bufs.push("x");
  assert.equal((expectError(() => list2.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION") as HeapCorruptionError).invariant, "BL1");
});

// ---- a seeded model test of every mutating operation ----------------------

type ListOp =
  | { kind: "pushOne"; buf: Uint8Array }
  | { kind: "push"; bufs: Uint8Array[] }
  | { kind: "append"; bufs: Uint8Array[] }
  | { kind: "update"; index: number; buf: Uint8Array }
  | { kind: "drop"; fraction: number }
  | { kind: "reset" };

const bufArb = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 }));
const listOpArb: fc.Arbitrary<ListOp> = fc.oneof(
  { arbitrary: bufArb.map((buf) => ({ kind: "pushOne" as const, buf })), weight: 4 },
  { arbitrary: fc.array(bufArb, { maxLength: 4 }).map((bufs) => ({ kind: "push" as const, bufs })), weight: 3 },
  { arbitrary: fc.array(bufArb, { maxLength: 4 }).map((bufs) => ({ kind: "append" as const, bufs })), weight: 2 },
  { arbitrary: fc.record({ index: fc.integer({ min: -12, max: 12 }), buf: bufArb }).map((r) => ({ kind: "update" as const, ...r })), weight: 3 },
  { arbitrary: fc.double({ min: 0, max: 1.2, noNaN: true }).map((fraction) => ({ kind: "drop" as const, fraction })), weight: 2 },
  { arbitrary: fc.constant({ kind: "reset" as const }), weight: 1 },
);

test(`BufferList model: random operations match an array of buffers (seed ${SEED})`, () => {
  fc.assert(
    fc.property(fc.array(listOpArb, { maxLength: 60, size: "max" }), (ops) => {
      const list = new BufferList();
      let model: Uint8Array[] = [];
      for (const op of ops) {
        switch (op.kind) {
          case "pushOne":
            list.pushOne(op.buf);
            model.push(op.buf);
            break;
          case "push":
            list.push(...op.bufs);
            model.push(...op.bufs);
            break;
          case "append":
            list.append(new BufferList(op.bufs));
            model.push(...op.bufs);
            break;
          case "update": {
            const n = model.length;
            if (op.index >= -n && op.index < n) {
              list.updateBuffer(op.index, op.buf);
              model[op.index < 0 ? n + op.index : op.index] = op.buf;
            } else {
              const before = state(list);
              assert.throws(() => list.updateBuffer(op.index, op.buf), OffheapRangeError);
              assert.deepEqual(state(list), before);
            }
            break;
          }
          case "drop": {
            const all = concat(model);
            const nBytes = Math.floor(op.fraction * all.length);
            if (nBytes > all.length) {
              assert.throws(() => list.dropFront(nBytes), OffheapRangeError);
              break;
            }
            list.dropFront(nBytes);
            let left = nBytes;
            while (model.length > 0 && model[0]!.length <= left) left -= model.shift()!.length;
            if (left > 0) model[0] = model[0]!.subarray(left);
            assert.equal(list.count, model.length);
            model = [...list.buffers]; // trimmed head: a new view object with the model's bytes
            assert.deepEqual(list.toBytes(), all.subarray(nBytes));
            break;
          }
          case "reset":
            list.reset();
            model = [];
            break;
        }
        assertList(list, model, op.kind);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test("new BufferList(x) of something not iterable is an OffheapTypeError", () => {
  expectError(() => new BufferList(5 as unknown as Uint8Array[]), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "iterable");
  expectError(() => new BufferList(null as unknown as Uint8Array[]), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "iterable");
});
