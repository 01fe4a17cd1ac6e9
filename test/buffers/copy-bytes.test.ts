// Copies into a target that shares memory with the buffers they read
// (copy-bytes.ts): BufferList.copyTo and BufferReader.read give memmove's
// result in every order case, in an ArrayBuffer, a Heap's memory and two
// SharedArrayBuffer objects of one WebAssembly.Memory, and against a model
// (the bytes before the call) over random views of one buffer. And copies
// from buffers that lost bytes after they were counted (detached, shrunk)
// throw the owner's invariant instead of copying garbage.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BufferList } from "../../src/buffers/buffer-list.js";
import { BufferReader } from "../../src/buffers/buffer-reader.js";
import { FrameParser } from "../../src/buffers/frame-splitter.js";
import { Heap, HeapCorruptionError } from "../../src/index.js";
import { expectError } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

/** A memory of `n` bytes holding 1, 2, 3, ... (mod 251, so no run repeats within 251 bytes). */
function numbered(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => 1 + (i % 251));
}

/**
 * Runs `copy` (which writes `source`'s bytes to the start of `target`) and
 * checks memmove's result: `target` starts with the bytes `source` held
 * before the call (as many as fit), and every other byte of `memory` is as
 * it was.
 */
function assertMemmove(memory: Uint8Array, source: BufferList, target: Uint8Array, copy: () => void, what: string): void {
  const want = source.toBytes().subarray(0, target.length);
  const before = memory.slice();
  copy();
  const after = memory.slice();
  const t = target.byteOffset - memory.byteOffset;
  before.set(want, t);
  assert.deepEqual(after, before, `${what}: the target holds the list's bytes from before the call, and nothing else changed`);
}

// Each order case of copy-bytes.ts: [what, views as [offset, length], target offset].
const CASES: [string, [number, number][], number][] = [
  ["one short buffer moved up (a forward byte loop would repeat its head)", [[0, 10]], 2],
  ["one long buffer moved up", [[0, 100]], 7],
  ["adjacent buffers moved down (forward order)", [[20, 30], [50, 40], [90, 5]], 3],
  ["adjacent buffers moved up (backward order)", [[0, 30], [30, 40], [70, 5]], 9],
  ["two buffers that trade places (a copy set aside)", [[40, 40], [0, 40]], 0],
  ["the second buffer's bytes where the first goes", [[100, 10], [0, 5]], 3],
  ["a buffer twice, over its own target", [[0, 16], [0, 16]], 8],
];

test("copyTo into memory the list's buffers share: memmove's result in every order case", () => {
  for (const [what, views, at] of CASES) {
    const memory = numbered(256);
    const list = new BufferList(views.map(([offset, length]) => memory.subarray(offset, offset + length)));
    const target = memory.subarray(at);
    assertMemmove(memory, list, target, () => assert.equal(list.copyTo(target), list.size), what);
  }
});

test("BufferReader.read into memory its source shares: memmove's result from the reader's position", () => {
  for (const [what, views, at] of CASES) {
    const memory = numbered(256);
    const list = new BufferList(views.map(([offset, length]) => memory.subarray(offset, offset + length)));
    const reader = new BufferReader(list);
    reader.skip(1);
    const rest = new BufferList(list.buffers).dropFront(1);
    const target = memory.subarray(at, at + rest.size);
    assertMemmove(memory, rest, target, () => assert.equal(reader.read(target), rest.size), what);
    assert.equal(reader.remaining, 0);
    reader.check();
  }
});

test("copyTo within a Heap's memory moves a block's bytes to an overlapping place", () => {
  const heap = new Heap();
  const addr = heap.alloc(4096);
  heap.u8.set(numbered(4096), addr);
  // The second view's bytes lie where the first is copied to, and the first's where the second goes.
  const list = new BufferList([heap.u8.subarray(addr + 1000, addr + 3000), heap.u8.subarray(addr + 1500, addr + 1510)]);
  const block = heap.u8.subarray(addr, addr + 4096);
  assertMemmove(block, list, block.subarray(500), () => list.copyTo(block.subarray(500)), "heap memory");
  heap.check();
});

test("copyTo between two SharedArrayBuffer objects of one WebAssembly.Memory (before and after grow)", () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  const old = new Uint8Array(wasm.buffer);
  old.set(numbered(512));
  wasm.grow(1);
  const now = new Uint8Array(wasm.buffer);
  assert.notEqual(now.buffer, old.buffer, "two objects, one memory");
  const list = new BufferList([old.subarray(0, 40), old.subarray(40, 300)]);
  const first = now.subarray(0, 512);
  assertMemmove(first, list, first.subarray(5), () => list.copyTo(first.subarray(5)), "grown shared memory");
});

test("copyTo leaves alone views of the same memory that do not meet the target, and Buffers of Node's pool", () => {
  const a = Buffer.from([1, 2, 3]), b = Buffer.from([4, 5]); // small Buffers share one pool ArrayBuffer
  const target = Buffer.alloc(5);
  assert.equal(new BufferList([a, b]).copyTo(target), 5);
  assert.deepEqual([...target], [1, 2, 3, 4, 5]);
  const memory = numbered(64);
  const list = new BufferList([memory.subarray(0, 8), memory.subarray(40, 48)]);
  assertMemmove(memory, list, memory.subarray(10), () => list.copyTo(memory.subarray(10)), "apart in one buffer");
});

// Views of one 160-byte memory at random offsets and lengths (they may
// overlap each other and repeat), and a target at a random offset.
const overlapArb = fc.record({
  views: fc.array(fc.tuple(fc.integer({ min: 0, max: 159 }), fc.integer({ min: 0, max: 60 })), { maxLength: 6 }),
  at: fc.integer({ min: 0, max: 159 }),
  skip: fc.integer({ min: 0, max: 40 }),
});

test(`copyTo and BufferReader.read into shared memory match the bytes before the call (seed ${SEED})`, () => {
  fc.assert(
    fc.property(overlapArb, ({ views, at, skip }) => {
      const memory = numbered(160);
      const bufs = views.map(([offset, length]) => memory.subarray(offset, Math.min(160, offset + length)));
      const list = new BufferList(bufs);
      if (at + list.size <= 160) assertMemmove(memory, list, memory.subarray(at), () => list.copyTo(memory.subarray(at)), "copyTo");
      memory.set(numbered(160));
      const reader = new BufferReader(bufs);
      const skipped = Math.min(skip, list.size);
      reader.skip(skipped);
      const rest = new BufferList(bufs).dropFront(skipped);
      const target = memory.subarray(at, Math.min(160, at + rest.size));
      assertMemmove(memory, rest, target, () => assert.equal(reader.read(target), target.length), "read");
      reader.check();
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

// ---- buffers that lose bytes after they were counted ------------------------

/**
 * A list's worth of views: all 8 bytes of a resizable ArrayBuffer (a view
 * that tracks its length) and 8 of a plain one, with `shrink` to detach the
 * first or resize it to 4 bytes.
 */
function shrinkable(how: "detach" | "shrink"): { bufs: Uint8Array[]; shrink: () => void } {
  const resizable = new ArrayBuffer(8, { maxByteLength: 16 });
  const a = new Uint8Array(resizable).fill(1);
  const b = new Uint8Array(8).fill(2);
  const shrink = how === "detach" ? () => void structuredClone(resizable, { transfer: [resizable] }) : () => resizable.resize(4);
  return { bufs: [a, b], shrink };
}

test("a buffer detached or shrunk after it was counted: the copies throw HeapCorruptionError naming the invariant and write nothing", () => {
  for (const how of ["detach", "shrink"] as const) {
    const { bufs, shrink } = shrinkable(how);
    const list = new BufferList(bufs);
    const reader = new BufferReader(list);
    reader.skip(2);
    const parser = new FrameParser({ prefixBytes: 8 });
    parser.push(Uint8Array.of(0, 0)); // the prefix spans both chunks: it is gathered
    parser.push(bufs[0]!);
    shrink();
    const target = new Uint8Array(16).fill(9);
    expectError(() => list.toBytes(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferList.toBytes", "detached or shrunk", "invariant BL2");
    expectError(() => list.copyTo(target), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferList.copyTo", "invariant BL2");
    assert.ok(target.every((x) => x === 9), `${how}: copyTo wrote nothing`);
    const held = new Uint8Array(list.size); // the bytes the list still holds, then zeros: equals runs out of its own first
    if (how === "shrink") held.set(bufs[0]!); // a detached view cannot even be read
    held.set(bufs[1]!, bufs[0]!.length);
    expectError(() => list.equals(held), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferList.equals", "invariant BL2");
    expectError(() => reader.read(target), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.read", "invariant RD4");
    assert.ok(target.every((x) => x === 9), `${how}: read wrote nothing`);
    expectError(() => reader.readBytes(12), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.readBytes", "invariant RD4");
    assert.equal(reader.offset, 2, `${how}: the reader did not move`);
    expectError(() => parser.next(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "FrameParser", "invariant FS3");
  }
});
