// ScalableAllocator and RecyclableMemory: unit tests, and a seeded model test
// of random malloc / free / partial free / freeRest / borrow / recycle / trim
// and deliberate misuse against a list of live byte ranges, with every
// validator and every live byte checked after every step.
//
// OFFHEAP_SEED replays the model test (its seed is in the test name);
// OFFHEAP_BUFFERS_OPS sets its length (default 30,000 steps).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../src/heap/heap.js";
import { DoubleFreeError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { ScalableAllocator } from "../../src/buffers/scalable-allocator.js";
import { RecyclableMemory } from "../../src/buffers/recyclable-memory.js";
import { KIB, MIB, randInt, rng, snapshot, assertSameBytes, expectError } from "../helpers.js";

function newAllocator(initialSize = 1 * KIB, maxRegionSize = 64 * KIB) {
  const heap = new Heap({ initialSize: 256 * KIB, maxSize: 64 * MIB });
  return { heap, alloc: new ScalableAllocator(heap, { initialSize, maxRegionSize }) };
}

describe("ScalableAllocator", () => {
  test("a malloc the heap cannot hold leaves later mallocs that need a new region working", () => {
    // The rejected request moved the region doubling past the heap's size, and every later
    // region was asked for that size.
    const heap = new Heap({ maxSize: 4 * MIB });
    const alloc = new ScalableAllocator(heap, { initialSize: 64 * KIB, maxRegionSize: 8 * MIB });
    alloc.malloc(10);
    expectError(() => alloc.malloc(6 * MIB), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "6291456");
    assert.equal(alloc.malloc(100 * KIB).length, 100 * KIB);
    assert.equal(alloc.regions, 2);
    alloc.check();
    heap.check();
  });

  test("malloc hands out disjoint views of the heap's memory that keep their bytes", () => {
    const { heap, alloc } = newAllocator();
    const views: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const v = alloc.malloc(1 + ((i * 37) % 3000));
      assert.ok(v.buffer === heap.buffer || v.byteLength > 0);
      v.fill(i & 255);
      views.push(v);
    }
    views.forEach((v, i) => assert.ok(v.every((b) => b === (i & 255)), `view ${i} kept its bytes`));
    assert.equal(alloc.inUse, views.reduce((n, v) => n + v.length, 0));
    alloc.check();
    heap.check();
    for (const v of views) alloc.free(v);
    assert.equal(alloc.inUse, 0);
    assert.equal(alloc.regions, 1, "one empty region is kept as the spare");
    alloc.check();
  });

  test("segmented free: free a sub-view and keep the rest", () => {
    const { alloc } = newAllocator();
    const buf = alloc.malloc(1024);
    buf.fill(7);
    alloc.free(buf.subarray(0, 256));
    assert.equal(alloc.inUse, 768);
    assert.ok(buf.subarray(256).every((b) => b === 7));
    alloc.free(buf.subarray(512, 768));
    alloc.free(buf.subarray(768));
    alloc.free(buf.subarray(256, 512));
    assert.equal(alloc.inUse, 0);
    alloc.check();
  });

  test("freeRest frees all but the first bytes and returns the kept view", () => {
    const { alloc } = newAllocator();
    const buf = alloc.malloc(1024);
    const kept = alloc.freeRest(buf, 256);
    assert.equal(kept.length, 256);
    assert.equal(kept.byteOffset, buf.byteOffset);
    assert.equal(alloc.inUse, 256);
    expectError(() => alloc.freeRest(kept, 257), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "keepBytes 257");
    alloc.free(kept);
    assert.equal(alloc.inUse, 0);
    alloc.check();
  });

  test("a large request gets its own region, and the spare region serves the next one without a heap call", () => {
    const { heap, alloc } = newAllocator(1 * KIB, 4 * KIB);
    const a = alloc.malloc(8192);
    assert.equal(alloc.regions, 1);
    alloc.free(a);
    assert.equal(alloc.regions, 1);
    const allocsBefore = heap.stats().allocs;
    for (let i = 0; i < 100; i++) alloc.free(alloc.malloc(8192));
    assert.equal(heap.stats().allocs, allocsBefore, "no region was created or destroyed per large malloc/free");
    alloc.check();
  });

  test("regions double up to maxRegionSize", () => {
    const { alloc } = newAllocator(1 * KIB, 8 * KIB);
    for (let i = 0; i < 64; i++) alloc.malloc(1000);
    // 1 + 2 + 4 + 8 + 8 + ... KiB regions
    assert.ok(alloc.regions >= 4);
    assert.ok(alloc.size >= 64 * 1000);
    alloc.check();
  });

  test("double free, foreign views and bad arguments throw and change nothing", () => {
    const { heap, alloc } = newAllocator();
    const a = alloc.malloc(512);
    const b = alloc.malloc(512);
    alloc.free(a);
    const before = snapshot(heap);
    const totals = [alloc.totalMalloc, alloc.totalFree, alloc.regions];
    expectError(() => alloc.free(a), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "ScalableAllocator.free");
    expectError(() => alloc.free(a.subarray(100, 200)), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    expectError(() => alloc.free(new Uint8Array(16)), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "other memory");
    expectError(() => alloc.free(new Uint8Array(heap.buffer, 8, 8)), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "not inside one region");
    expectError(() => alloc.free([1, 2] as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Array");
    expectError(() => alloc.malloc(-1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "ScalableAllocator.malloc: size -1");
    expectError(() => alloc.malloc(1.5), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
    expectError(() => alloc.borrow(2 ** 32), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
    assertSameBytes(before, snapshot(heap), "rejected calls");
    assert.deepEqual([alloc.totalMalloc, alloc.totalFree, alloc.regions], totals);
    alloc.check();
    heap.check();
    alloc.free(b);
  });

  test("malloc(0) returns an empty view that holds nothing", () => {
    const { alloc } = newAllocator();
    const v = alloc.malloc(0);
    assert.equal(v.length, 0);
    alloc.free(v);
    assert.equal(alloc.inUse, 0);
    assert.equal(alloc.regions, 0);
  });

  test("borrow returns scratch space that does not disturb live views", () => {
    const { alloc } = newAllocator();
    const live = alloc.malloc(100).fill(3);
    for (const n of [1, 300, 5000, 20]) alloc.borrow(n).fill(9);
    assert.ok(live.every((b) => b === 3));
    assert.equal(alloc.borrow(5000).length, 5000);
    alloc.check();
  });

  test("recycle frees everything and keeps the largest region; trim and dispose return regions to the heap", () => {
    const { heap, alloc } = newAllocator(1 * KIB, 16 * KIB);
    for (let i = 0; i < 50; i++) alloc.malloc(700);
    alloc.borrow(4096);
    const regions = alloc.regions;
    assert.ok(regions > 2);
    alloc.recycle();
    assert.equal(alloc.regions, 1);
    assert.equal(alloc.inUse, 0);
    alloc.check();
    assert.ok(alloc.trim() > 0);
    assert.equal(alloc.regions, 0);
    alloc.malloc(100);
    alloc[Symbol.dispose]();
    assert.equal(alloc.regions, 0);
    assert.equal(heap.stats().liveBlocks, 0, "every region and the scratch space went back to the heap");
    heap.check();
  });

  test("views stay valid while the heap grows (shared WebAssembly.Memory default)", () => {
    const heap = new Heap({ initialSize: 64 * KIB, maxSize: 64 * MIB });
    const alloc = new ScalableAllocator(heap, { initialSize: 4 * KIB });
    const first = alloc.malloc(1000).fill(42);
    const many = [];
    for (let i = 0; i < 200; i++) many.push(alloc.malloc(30 * KIB));
    assert.ok(heap.buffer.byteLength > 4 * MIB, "the heap grew");
    assert.ok(first.length === 1000 && first.every((b) => b === 42));
    alloc.free(first); // a view over the buffer from before the growth
    for (const v of many) alloc.free(v);
    alloc.check();
  });

  test("an unshared WebAssembly.Memory is refused: its views would detach when it grows", () => {
    const memory = new WebAssembly.Memory({ initial: 32, maximum: 256 });
    const heap = new Heap({ memory, maxSize: 256 * 65536 });
    expectError(() => new ScalableAllocator(heap), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "unshared WebAssembly.Memory");
  });
});

describe("RecyclableMemory", () => {
  test("addRecycleBytes refuses a view of other memory or outside the allocator's regions: recycle() would free another buffer's bytes", () => {
    const { heap, alloc } = newAllocator();
    const mem = new RecyclableMemory(alloc);
    const live = alloc.malloc(64);
    live.fill(7);
    const foreign = new Uint8Array(new ArrayBuffer(live.byteOffset + 64)).subarray(live.byteOffset, live.byteOffset + 64); // same offset, other memory
    expectError(() => mem.addRecycleBytes(foreign), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "other memory");
    const outside = heap.bytes(heap.alloc(64)); // this heap's memory, but no region of the allocator
    expectError(() => mem.addRecycleBytes(outside), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "not inside one region");
    assert.equal(mem.buffers, 0, "nothing remembered");
    mem.recycle();
    assert.ok(live.every((b) => b === 7));
    alloc.check();
    heap.check();
  });

  test("nextN and addRecycleBytes are freed by recycle and by `using`", () => {
    const { alloc } = newAllocator();
    const mem = new RecyclableMemory(alloc);
    for (let i = 0; i < 100; i++) mem.nextN(1 + i * 13);
    mem.addRecycleBytes(alloc.malloc(500));
    assert.equal(mem.buffers, 101);
    mem.recycle();
    assert.equal(alloc.inUse, 0);
    assert.equal(mem.buffers, 0);
    {
      using scoped = new RecyclableMemory(alloc);
      scoped.nextN(1024);
      assert.equal(alloc.inUse, 1024);
    }
    assert.equal(alloc.inUse, 0);
    alloc.check();
  });

  test("recycle frees the rest when one buffer was freed elsewhere, then throws", () => {
    const { alloc } = newAllocator();
    const mem = new RecyclableMemory(alloc);
    const a = mem.nextN(100);
    mem.nextN(200);
    alloc.free(a);
    expectError(() => mem.recycle(), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "RecyclableMemory.recycle");
    assert.equal(alloc.inUse, 0);
    assert.equal(mem.buffers, 0);
    alloc.check();
  });
});

// ---------------------------------------------------------------------------
// Model test

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const STEPS = Number(process.env.OFFHEAP_BUFFERS_OPS ?? 30_000);

interface Piece {
  address: number;
  length: number;
  tag: number; // byte i of the piece holds (tag + address + i) & 255
}

function byteOf(p: Piece, address: number): number {
  return (p.tag + address) & 255;
}

// Debug mode runs the same program with a small quarantine (check() verifies all of it after every step).
for (const debug of [false, { quarantineBytes: 16 * KIB, stacks: 8 }] as const) {
const steps = debug === false ? STEPS : STEPS >>> 1;
test(`ScalableAllocator model${debug === false ? "" : " in debug mode"}: ${steps} random steps with validators after each (seed ${SEED}; OFFHEAP_SEED=${SEED} replays)`, () => {
  const next = rng(SEED);
  const heap = new Heap({ initialSize: 256 * KIB, maxSize: 32 * MIB });
  const alloc = new ScalableAllocator(heap, { initialSize: 1 * KIB, maxRegionSize: 32 * KIB, debug });
  const mem = new RecyclableMemory(alloc);
  let live: Piece[] = [];
  const recyclable: Piece[] = [];
  let freed: Piece[] = [];
  let tag = 0;
  const view = (p: Piece) => new Uint8Array(heap.buffer, p.address, p.length);
  const fill = (p: Piece) => {
    const u8 = heap.u8;
    for (let i = 0; i < p.length; i++) u8[p.address + i] = byteOf(p, p.address + i);
  };
  const overlapsLive = (address: number, length: number) =>
    live.some((p) => p.address < address + length && address < p.address + p.length) ||
    recyclable.some((p) => p.address < address + length && address < p.address + p.length);
  const size = () => (next() < 0.05 ? randInt(next, 20 * KIB, 80 * KIB) : next() < 0.1 ? 0 : randInt(next, 1, 3000));
  const fromView = (v: Uint8Array): Piece => ({ address: v.byteOffset, length: v.length, tag: tag++ });

  for (let step = 0; step < steps; step++) {
    const r = next();
    try {
      if (r < 0.35 || live.length === 0) {
        const p = fromView(alloc.malloc(size()));
        assert.ok(!overlapsLive(p.address, p.length), `step ${step}: malloc returned bytes that are in use`);
        fill(p);
        if (p.length > 0) live.push(p);
      } else if (r < 0.6) {
        const i = randInt(next, 0, live.length - 1);
        const p = live[i]!;
        // free the whole piece or a random sub-range, splitting the model piece
        const from = next() < 0.5 ? 0 : randInt(next, 0, p.length - 1);
        const to = next() < 0.5 ? p.length : randInt(next, from + 1, p.length);
        alloc.free(view(p).subarray(from, to));
        live.splice(i, 1);
        if (from > 0) live.push({ ...p, length: from });
        if (to < p.length) live.push({ address: p.address + to, length: p.length - to, tag: p.tag });
        freed.push({ address: p.address + from, length: to - from, tag: p.tag });
        if (freed.length > 50) freed = freed.slice(-25);
      } else if (r < 0.67) {
        const i = randInt(next, 0, live.length - 1);
        const p = live[i]!;
        const keep = randInt(next, 0, p.length);
        const kept = alloc.freeRest(view(p), keep);
        assert.equal(kept.length, keep);
        live.splice(i, 1);
        if (keep > 0) live.push({ ...p, length: keep });
        if (keep < p.length) freed.push({ address: p.address + keep, length: p.length - keep, tag: p.tag });
      } else if (r < 0.75) {
        const p = fromView(mem.nextN(size()));
        fill(p);
        if (p.length > 0) recyclable.push(p);
      } else if (r < 0.8) {
        alloc.borrow(randInt(next, 0, 20 * KIB)).fill(0xee);
      } else if (r < 0.82) {
        mem.recycle();
        for (const p of recyclable) freed.push(p);
        recyclable.length = 0;
      } else if (r < 0.83) {
        alloc.trim();
      } else if (r < 0.84) {
        mem.recycle();
        recyclable.length = 0;
        alloc.recycle();
        live = [];
        freed = [];
      } else if (r < 0.95) {
        const i = randInt(next, 0, live.length - 1);
        const p = live[i]!;
        alloc.free(view(p));
        live.splice(i, 1);
        freed.push(p);
      } else {
        // deliberate misuse: free bytes that are free already, or a view of other memory
        const stale = freed.filter((f) => !overlapsLive(f.address, f.length));
        const before = snapshot(heap);
        const totals = [alloc.totalMalloc, alloc.totalFree, alloc.regions];
        if (stale.length > 0 && next() < 0.8) {
          const f = stale[randInt(next, 0, stale.length - 1)]!;
          // freed bytes are either still free in a region (double free) or in a region released to the heap
          assert.throws(() => alloc.free(view(f)), (e) => e instanceof DoubleFreeError || e instanceof InvalidAddressError);
        } else {
          assert.throws(() => alloc.free(new Uint8Array(8)), InvalidAddressError);
        }
        assertSameBytes(before, snapshot(heap), `step ${step}: rejected free`);
        assert.deepEqual([alloc.totalMalloc, alloc.totalFree, alloc.regions], totals);
      }
      alloc.check();
      heap.check();
      const pieces = live.concat(recyclable);
      assert.equal(alloc.inUse, pieces.reduce((n, p) => n + p.length, 0), `step ${step}: inUse`);
      if (step % 16 === 0) {
        const u8 = heap.u8;
        for (const p of pieces) {
          for (let a = p.address; a < p.address + p.length; a++) {
            if (u8[a] !== byteOf(p, a)) assert.fail(`step ${step}: byte 0x${a.toString(16)} of a live piece changed`);
          }
        }
      }
    } catch (err) {
      (err as Error).message = `seed ${SEED}, step ${step}: ${(err as Error).message}`;
      throw err;
    }
  }
});
}
