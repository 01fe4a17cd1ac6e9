// Debug mode of the ScalableAllocator: canaries after each buffer, poisoned
// and quarantined freed bytes (partial frees included), junk-filled new
// buffers, allocation sites and leaks(), and that it follows the heap's
// debug mode. The seeded model test in scalable-allocator.test.ts runs in
// debug mode too.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../src/heap/heap.js";
import { DoubleFreeError, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { ScalableAllocator } from "../../src/buffers/scalable-allocator.js";
import { RecyclableMemory } from "../../src/buffers/recyclable-memory.js";
import { expectError, KIB, MIB, snapshot, assertSameBytes } from "../helpers.js";

function debugAllocator(quarantineBytes = 64 * KIB) {
  const heap = new Heap({ maxSize: 16 * MIB });
  return { heap, alloc: new ScalableAllocator(heap, { initialSize: 4 * KIB, debug: { quarantineBytes } }) };
}

// A view reaching `extra` bytes past the end of `v`: what a buggy writer uses.
const past = (v: Uint8Array, extra: number) => new Uint8Array(v.buffer, v.byteOffset, v.length + extra);

describe("ScalableAllocator debug mode", () => {
  test("off: no own methods; on: follows the heap's debug mode unless told otherwise", () => {
    const plain = new ScalableAllocator(new Heap({ maxSize: 4 * MIB }));
    assert.equal(Object.hasOwn(plain, "malloc"), false);
    expectError(() => plain.leaks(), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "debug: true");
    const debugHeap = new Heap({ maxSize: 4 * MIB, debug: true });
    assert.equal(Object.hasOwn(new ScalableAllocator(debugHeap), "malloc"), true);
    assert.equal(Object.hasOwn(new ScalableAllocator(debugHeap, { debug: false }), "malloc"), false);
    expectError(() => new ScalableAllocator(debugHeap, { debug: { quarantineBytes: -1 } }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "quarantineBytes");
  });

  test("the quarantine is a bound, not a reservation: a malloc that does not fit releases it first", () => {
    // 8 MiB heap, a quarantine of 1 TiB: before, 4 KiB malloc/free rounds ran out of memory after 1,762.
    const heap = new Heap({ maxSize: 8 * MIB });
    const alloc = new ScalableAllocator(heap, { debug: { quarantineBytes: 2 ** 40 } });
    const keep = alloc.malloc(100);
    keep.fill(7);
    for (let i = 0; i < 5000; i++) alloc.free(alloc.malloc(4 * KIB));
    const last = alloc.malloc(4 * KIB);
    alloc.free(last);
    expectError(() => alloc.free(last), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "quarantine"); // the newest still wait
    assert.ok(keep.every((b) => b === 7));
    alloc.check();
    heap.check();
  });

  test("new buffers are 0xa5, freed bytes 0x5a; totals count what the user asked for", () => {
    const { heap, alloc } = debugAllocator();
    const v = alloc.malloc(24);
    assert.ok(v.every((b) => b === 0xa5));
    assert.equal(alloc.inUse, 24);
    assert.deepEqual([...past(v, 8).subarray(24)], new Array(8).fill(0xcb), "8 canary bytes follow");
    alloc.free(v.subarray(8, 16));
    assert.ok(v.subarray(8, 16).every((b) => b === 0x5a));
    assert.equal(alloc.inUse, 16);
    alloc.check();
    heap.check();
  });

  test("a write past the end is reported by free and check(), with the allocation site, and the free changes nothing", () => {
    const { heap, alloc } = debugAllocator();
    const v = alloc.malloc(24);
    past(v, 4)[27] = 1;
    const before = snapshot(heap);
    const e = expectError(() => alloc.free(v), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION",
      /write past the end of buffer 0x[0-9a-f]+ \(24 bytes requested, byte 27 changed\)/, "allocated at", "scalable-debug.test");
    assert.equal((e as HeapCorruptionError).invariant, "D1");
    assertSameBytes(before, snapshot(heap), "the rejected free");
    expectError(() => alloc.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "write past the end");
    past(v, 4)[27] = 0xcb; // repaired: now it frees
    alloc.free(v);
    alloc.check();
  });

  test("a write after free is caught when the bytes leave the quarantine, and by check()", () => {
    const { alloc } = debugAllocator(1 * KIB);
    const v = alloc.malloc(100);
    alloc.free(v.subarray(0, 50));
    v[10] = 7; // use after free of the first half
    expectError(() => alloc.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION",
      /use after free: \[0x[0-9a-f]+, 0x[0-9a-f]+\) \(50 bytes\) was written after it was freed \(freed by debug free #1, at:/, "byte 10 changed");
    // Pushing it out of the 1 KiB quarantine reports it too; the bytes go back to the region all the same.
    expectError(() => alloc.free(alloc.malloc(2 * KIB)), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "use after free");
    alloc.free(v.subarray(50));
    alloc.check();
  });

  test("partial frees: each piece once; a double free names the quarantine, a range into the canary is refused", () => {
    const { heap, alloc } = debugAllocator();
    const v = alloc.malloc(64);
    const w = alloc.malloc(64);
    alloc.free(v.subarray(16, 32));
    const before = snapshot(heap);
    expectError(() => alloc.free(v.subarray(16, 32)), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "waits in the debug quarantine", "freed by debug free #1");
    expectError(() => alloc.free(v.subarray(0, 20)), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "free already");
    expectError(() => alloc.free(past(v.subarray(40), 4)), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "past the end of the 64-byte buffer");
    expectError(() => alloc.free(new Uint8Array(heap.buffer, v.byteOffset + 64, 8)), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "past the end");
    expectError(() => alloc.free(new Uint8Array(8)), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "other memory");
    assertSameBytes(before, snapshot(heap), "rejected frees");
    assert.equal(alloc.inUse, 112);
    assert.equal(alloc.freeRest(v.subarray(0, 16), 8).length, 8);
    alloc.free(v.subarray(0, 8));
    alloc.free(v.subarray(32));
    alloc.free(w);
    assert.equal(alloc.inUse, 0);
    assert.deepEqual(alloc.leaks(), []);
    alloc.check();
    heap.check();
  });

  test("leaks() groups live buffers by allocation site, with their live bytes", () => {
    const { alloc } = debugAllocator();
    const keepA = () => alloc.malloc(100);
    const keepB = () => alloc.malloc(10);
    const a: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) a.push(keepA());
    keepB();
    alloc.free(a[0]!.subarray(0, 40));
    const leaks = alloc.leaks();
    assert.equal(leaks.length, 2);
    assert.deepEqual([leaks[0]!.blocks, leaks[0]!.bytes], [3, 260]);
    assert.match(leaks[0]!.site, /keepA/);
    assert.deepEqual([leaks[1]!.blocks, leaks[1]!.bytes], [1, 10]);
    assert.match(leaks[1]!.site, /keepB/);
  });

  test("trim empties the quarantine; recycle verifies and forgets everything; RecyclableMemory frees through debug mode", () => {
    const { heap, alloc } = debugAllocator();
    const mem = new RecyclableMemory(alloc);
    for (let i = 0; i < 10; i++) mem.nextN(500);
    mem.recycle();
    assert.equal(alloc.inUse, 0);
    alloc.check();
    assert.ok(alloc.trim() > 0, "with the quarantine released, the regions are free and go back to the heap");
    assert.equal(alloc.regions, 0);
    const v = alloc.malloc(32);
    past(v, 1)[32] = 0;
    expectError(() => alloc.recycle(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "write past the end");
    assert.equal(alloc.inUse, 0, "recycle still recycled");
    assert.deepEqual(alloc.leaks(), []);
    alloc.check();
    heap.check();
  });
});
