// A value of the wrong type where a size, count or index belongs (a string
// "8", an object, an array) is an OffheapTypeError, as the README says of every
// entry point, not the OffheapRangeError of a number out of range; and the
// heap is unchanged. (Found by an acceptance run: these threw
// OffheapRangeError.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Heap, OffheapRangeError, OffheapTypeError } from "../src/index.js";
import { BufferList, BufferReader, ScalableAllocator } from "../src/buffers/index.js";
import { OffHeapArray } from "../src/collections/index.js";
import { expectError, expectRejected } from "./helpers.js";

// (A BigInt gets V8's own TypeError from a fast path's integer test: README, Errors.)
const WRONG = ["8", {}, [1]] as const;

test("a size, count or index of the wrong type is an OffheapTypeError; out of range, an OffheapRangeError; nothing changes", () => {
  const heap = new Heap({ maxSize: 8 << 20 });
  const a = heap.alloc(24);
  const debugHeap = new Heap({ maxSize: 8 << 20, debug: true }); // its bytes() is debug mode's own
  const d = debugHeap.alloc(24);
  const scalable = new ScalableAllocator(heap);
  const view = scalable.malloc(100);
  const array = new OffHeapArray(heap, "u32");
  array.push(1);
  const calls: [string, (x: unknown) => unknown, unknown][] = [
    ["Heap.bytes", (x) => heap.bytes(a, x as number), 25],
    ["Heap.bytes", (x) => debugHeap.bytes(d, x as number), 25],
    ["ScalableAllocator.malloc", (x) => scalable.malloc(x as number), -1],
    ["ScalableAllocator.borrow", (x) => scalable.borrow(x as number), -1],
    ["ScalableAllocator.freeRest", (x) => scalable.freeRest(view, x as number), 101],
    ["OffHeapArray", (x) => array.get(x as number), 1],
    ["OffHeapArray", (x) => array.set(x as number, 5), -1],
    ["OffHeapArray.reserve", (x) => array.reserve(x as number), -1],
  ];
  for (const [api, call, outOfRange] of calls) {
    for (const x of WRONG) expectRejected(heap, () => call(x), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", api, "must be a number");
    expectRejected(heap, () => call(outOfRange), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", api);
  }
  assert.equal(array.get(0), 1);
  heap.check();
  debugHeap.check();
});

test("the byte counts of BufferList and BufferReader: the same rule", () => {
  const list = new BufferList([new Uint8Array([1, 2, 3, 4])]);
  const reader = new BufferReader(list);
  reader.skip(1);
  const calls: [string, (x: unknown) => unknown, unknown][] = [
    ["BufferList.dropFront", (x) => list.dropFront(x as number), 5],
    ["BufferReader.skip", (x) => reader.skip(x as number), -1],
    ["BufferReader.readBytes", (x) => reader.readBytes(x as number), 1.5],
    ["BufferReader.unread", (x) => reader.unread(x as number), 2],
  ];
  for (const [api, call, outOfRange] of calls) {
    for (const x of WRONG) expectError(() => call(x), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", api, "must be a number");
    expectError(() => call(outOfRange), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", api);
  }
  assert.equal(reader.offset, 1, "nothing was read");
  assert.equal(list.size, 4, "nothing was dropped");
});
