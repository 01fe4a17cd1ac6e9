// Debug mode: overflow canaries, use-after-free poisoning and the
// quarantine, junk-filled new blocks, allocation sites and leaks(), the
// "development" export condition, and a seeded random run that must never
// report a false positive.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DoubleFreeError, Heap, type HeapStats, HeapCorruptionError, InvalidAddressError, OffheapTypeError, PAGE_SIZE } from "../src/index.js";
import { CANARY, JUNK_ALLOC, POISON } from "../src/common/debug-kit.js";
import { CLASS_SIZE } from "../src/heap/size-classes.js";
import { sizeClassOf } from "../src/heap/class-of.js";
import { formatStats } from "../src/heap/format-stats.js";
import { assertBlockFilled, expectError, expectOutOfMemory, MIB, randInt, rng } from "./helpers.js";

const debugHeap = (quarantineBytes?: number) => new Heap({ maxSize: 16 * MIB, initialSize: 256 * 1024, debug: quarantineBytes === undefined ? true : { quarantineBytes } });

describe("debug mode", () => {
  test("off by default: the heap keeps the plain methods (no own properties, nothing to test on the hot path)", () => {
    const heap = new Heap({ maxSize: 4 * MIB });
    for (const m of ["alloc", "free", "calloc", "realloc", "sizeOf", "bytes"]) assert.equal(Object.hasOwn(heap, m), false, m);
    expectError(() => heap.leaks(), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "debug mode is off");
    const dbg = debugHeap();
    for (const m of ["alloc", "free", "calloc", "realloc", "sizeOf", "bytes"]) assert.equal(Object.hasOwn(dbg, m), true, m);
  });

  test("a write past the requested size is reported by free, realloc and check", () => {
    const heap = debugHeap();
    const p = heap.alloc(24);
    heap.u8[p + 27] = 1;
    const e = expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", /write past the end of block 0x[0-9a-f]+ \(24 bytes requested, byte 27 changed\)/, "allocated at:", "debug.test");
    assert.equal((e as HeapCorruptionError).invariant, "D1");
    expectError(() => heap.realloc(p, 100), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "Heap.realloc: write past the end");
    expectError(() => heap.free(p), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "Heap.free: write past the end");
    heap.u8[p + 27] = CANARY; // repaired: free goes through
    heap.free(p);
    heap.check();
  });

  test("at least 8 canary bytes even when the request fills its size class", () => {
    const heap = debugHeap();
    for (const n of [1, 8, 16, 48, 1000, 32 * 1024, 100_000]) {
      const p = heap.alloc(n);
      heap.u8[p + n + 7] = heap.u8[p + n + 7]! ^ 0xff;
      expectError(() => heap.free(p), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", `(${n} bytes requested, byte ${n + 7} changed)`);
      heap.u8[p + n + 7] = heap.u8[p + n + 7]! ^ 0xff;
      heap.free(p);
    }
  });

  test("new blocks are junk-filled (0xa5), calloc zeroes, freed blocks are poisoned (0x5a)", () => {
    const heap = debugHeap();
    const p = heap.alloc(100);
    assert.ok(heap.bytes(p).every((b) => b === JUNK_ALLOC));
    assert.equal(heap.sizeOf(p), 100, "sizeOf is the requested size in debug mode");
    assert.equal(heap.bytes(p).length, 100);
    const z = heap.calloc(64);
    assert.ok(heap.bytes(z).every((b) => b === 0));
    heap.free(p);
    assert.ok(heap.u8.subarray(p, p + 100).every((b) => b === POISON));
  });

  test("a write after free is caught when the block leaves the quarantine, and by check(), naming when it was freed", () => {
    const heap = debugHeap(64 * 1024);
    const p = heap.alloc(40);
    heap.free(p);
    heap.u8[p + 3] = 7;
    const e = expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", /use after free: block 0x[0-9a-f]+ \(40 bytes\) was written after it was freed \(freed by debug free #1/, "byte 3 changed");
    assert.equal((e as HeapCorruptionError).invariant, "D2");
    // freeing more than the quarantine holds pushes p out: verified just before it can be reused
    let caught: unknown = null;
    for (let i = 0; i < 100 && caught === null; i++) {
      try {
        heap.free(heap.alloc(1024));
      } catch (err) {
        caught = err;
      }
    }
    assert.ok(caught instanceof HeapCorruptionError && /byte 3 changed/.test(caught.message), String(caught));
    heap.check(); // p was released; the heap is consistent again
  });

  test("a double free of a quarantined block is a DoubleFreeError; other bad addresses keep their errors", () => {
    const heap = debugHeap();
    const p = heap.alloc(32);
    heap.free(p);
    expectError(() => heap.free(p), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "freed already", "debug free #1");
    expectError(() => heap.sizeOf(p), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "use after free");
    expectError(() => heap.free(p + 8), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    heap.check();
  });

  test("realloc always moves the block and keeps the contents", () => {
    const heap = debugHeap();
    const p = heap.alloc(10);
    heap.bytes(p).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const q = heap.realloc(p, 20);
    assert.notEqual(q, p);
    assert.deepEqual([...heap.bytes(q).subarray(0, 10)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(heap.bytes(q).subarray(10).every((b) => b === JUNK_ALLOC));
    heap.check();
  });

  test("leaks() groups live blocks by allocation site; sampled stacks leave the rest unrecorded", () => {
    const heap = debugHeap();
    function makeSmall() {
      return heap.alloc(16);
    }
    function makeBig() {
      return heap.alloc(5000);
    }
    for (let i = 0; i < 10; i++) makeSmall();
    for (let i = 0; i < 3; i++) makeBig();
    heap.free(makeSmall());
    const leaks = heap.leaks();
    assert.equal(leaks.length, 2);
    assert.match(leaks[0]!.site, /makeBig/);
    assert.deepEqual([leaks[0]!.blocks, leaks[0]!.bytes], [3, 15000]);
    assert.match(leaks[1]!.site, /makeSmall/);
    assert.deepEqual([leaks[1]!.blocks, leaks[1]!.bytes], [10, 160]);
    const sampled = new Heap({ maxSize: 4 * MIB, debug: { stacks: 4 } });
    for (let i = 0; i < 8; i++) sampled.alloc(8);
    const groups = sampled.leaks();
    assert.equal(groups.reduce((n, g) => n + g.blocks, 0), 8);
    assert.equal(groups.find((g) => g.site === "(not recorded)")?.blocks, 6);
  });

  const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() >>> 0));
  test(`random alloc/calloc/realloc/free with correct writes never reports damage (seed ${SEED})`, () => {
    const next = rng(SEED);
    const heap = new Heap({ maxSize: 32 * MIB, debug: { quarantineBytes: 256 * 1024, stacks: 16 } });
    const live = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const r = next();
      if (r < 0.45 || live.size === 0) {
        const n = next() < 0.05 ? randInt(next, 33_000, 100_000) : randInt(next, 0, 3000);
        const p = next() < 0.2 ? heap.calloc(n) : heap.alloc(n);
        heap.bytes(p).fill(step & 255);
        live.set(p, n);
      } else if (r < 0.55) {
        const [p] = [...live.keys()].slice(randInt(next, 0, live.size - 1));
        const n = randInt(next, 0, 5000);
        const q = heap.realloc(p!, n);
        live.delete(p!);
        heap.bytes(q).fill(step & 255);
        live.set(q, n);
      } else {
        const [p] = [...live.keys()].slice(randInt(next, 0, live.size - 1));
        heap.free(p!);
        live.delete(p!);
      }
      if (step % 500 === 0) heap.check();
    }
    heap.check();
    assert.equal(heap.leaks().reduce((n, g) => n + g.blocks, 0), live.size);
  });

  test('the "development" export condition turns debug mode on for every heap and the buffers over it', () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const code = `const { Heap } = await import("offheap"); const { ScalableAllocator } = await import("offheap/buffers");
      const heap = new Heap({ maxSize: 4 << 20 });
      console.log(Object.hasOwn(heap, "alloc"), Object.hasOwn(new ScalableAllocator(heap), "malloc"));`;
    const run = (args: string[]) => execFileSync(process.execPath, [...args, "--input-type=module", "-e", code], { cwd: root, encoding: "utf8" }).trim();
    assert.equal(run(["--conditions=development"]), "true true");
    assert.equal(run([]), "false false");
  });
});

describe("debug mode: stats()", () => {
  // One program: 3 blocks stay live (100 B, 100,000 B, and 5000 B that realloc moved), 3 are freed.
  function run(heap: Heap): void {
    heap.alloc(100);
    heap.alloc(100_000);
    const c = heap.calloc(3000);
    heap.free(heap.alloc(100));
    heap.free(heap.alloc(80_000));
    heap.realloc(c, 5000);
  }
  // The identities stats.ts promises, with the quarantine as a term of its own.
  function checkAddsUp(s: HeapStats): void {
    assert.equal(s.metadataBytes + s.liveBytes + s.quarantinedBytes + s.freeObjectBytes + s.spanTailBytes + s.freePageBytes, s.committedBytes);
    let live = s.largeBlocks;
    for (const c of s.classes) {
      assert.equal(c.liveObjects + c.quarantinedObjects + c.freeObjects, c.spans * c.objectsPerSpan, `class ${c.classIndex}`);
      assert.equal(c.allocs - c.frees, c.liveObjects, `class ${c.classIndex}: allocs - frees == live`);
      live += c.liveObjects;
    }
    assert.equal(live, s.liveBlocks);
    assert.equal(s.allocs - s.frees, s.liveBlocks);
  }

  test("blocks waiting in the quarantine are freed, not live: counted apart, as the program's frees", () => {
    const plain = new Heap({ maxSize: 16 * MIB });
    run(plain);
    const want = plain.stats();
    const heap = debugHeap(1 * MIB);
    run(heap);
    const s = heap.stats();
    for (const k of ["liveBlocks", "allocs", "frees", "largeBlocks", "largeAllocs"] as const) assert.equal(s[k], want[k], k);
    // A debug block is its request plus canary and trailer, rounded up to its class or pages.
    const small = (n: number) => CLASS_SIZE[sizeClassOf(n + 16)]!;
    const pages = (n: number) => Math.ceil((n + 16) / PAGE_SIZE) * PAGE_SIZE;
    assert.equal(s.liveBytes, small(100) + pages(100_000) + small(5000));
    assert.equal(s.largeBytes, pages(100_000));
    assert.deepEqual([s.quarantinedBlocks, s.quarantinedBytes], [3, small(100) + pages(80_000) + small(3000)]);
    checkAddsUp(s);
    assert.deepEqual([want.quarantinedBlocks, want.quarantinedBytes], [0, 0], "none without debug mode");
    assert.ok(s.fragmentation > 0 && s.peakLiveBytes >= s.liveBytes);
    const row = /\n\+ debug quarantine +([\d,]+) .*3 freed blocks/.exec(formatStats(s));
    assert.equal(Number(row?.[1]!.replace(/,/g, "")), s.quarantinedBytes, "formatStats: a + row of the committed bytes");
    heap.check();
    // Leaving the quarantine (a large free pushes the three out, then itself) changes no count of the program's.
    heap.free(heap.alloc(2 * MIB));
    const after = heap.stats();
    assert.deepEqual([after.quarantinedBlocks, after.quarantinedBytes, after.liveBlocks, after.liveBytes, after.frees], [0, 0, 3, s.liveBytes, s.frees + 1]);
    checkAddsUp(after);
    heap.check();
  });

  test("requested bytes are what the program asked for, not the canary and trailer debug mode adds", () => {
    // sampleInterval 1: the profiler samples every block, and a sample gets pages of its own.
    for (const profile of [false, { sampleInterval: 1 }]) {
      const plain = new Heap({ maxSize: 16 * MIB, profile });
      run(plain);
      const want = plain.stats();
      const heap = new Heap({ maxSize: 16 * MIB, debug: true, profile });
      run(heap);
      const s = heap.stats();
      const what = `profile ${JSON.stringify(profile)}`;
      assert.equal(s.requestedBytes, 100 + 100_000 + 3000 + 100 + 80_000 + 5000, what);
      assert.equal(s.requestedBytes, want.requestedBytes, what);
      assert.equal(s.largeRequestedBytes, want.largeRequestedBytes, `${what}: the live large blocks'`);
      const classes = (t: HeapStats) => t.classes.reduce((n, c) => n + c.requestedBytes, 0);
      assert.equal(classes(s), classes(want), `${what}: the classes' rows`);
      heap.check();
    }
  });
});

describe("debug mode: a quarantine larger than the heap", () => {
  const hugeQuarantine = () => new Heap({ maxSize: 4 * MIB, debug: { quarantineBytes: 2 ** 40 } });

  test("is a bound, not a reservation: an allocation that does not fit releases the oldest quarantined blocks and tries again", () => {
    const heap = hugeQuarantine();
    const kept = heap.alloc(1000);
    heap.bytes(kept).fill(7);
    for (let i = 0; i < 500; i++) heap.free(heap.alloc(64 * 1024)); // 32 MiB through a 4 MiB heap
    let last = 0;
    for (let i = 0; i < 20_000; i++) heap.free((last = heap.alloc(200)));
    const s = heap.stats();
    assert.ok(s.quarantinedBlocks > 1000, `the newest blocks still wait in the quarantine (${s.quarantinedBlocks})`);
    expectError(() => heap.free(last), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "waits in the debug quarantine");
    heap.u8[last] = 1;
    expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "use after free", "byte 0 changed");
    heap.u8[last] = POISON;
    assertBlockFilled(heap, kept, 7);
    assert.equal(s.liveBlocks, 1);
    heap.check();
  });

  test("if the allocation does not fit even then: OutOfMemoryError, and the heap as before but for the released quarantine", () => {
    const heap = hugeQuarantine();
    const live = [heap.alloc(1000), heap.alloc(100_000)];
    live.forEach((p, i) => heap.bytes(p).fill(i + 1));
    for (let i = 0; i < 20; i++) heap.free(heap.alloc(64 * 1024));
    assert.equal(heap.stats().quarantinedBlocks, 20);
    const dataBytes = (heap.totalPages - heap.firstDataPage) * PAGE_SIZE;
    expectOutOfMemory(heap, () => heap.alloc(dataBytes - 16), "cannot allocate"); // every data page, and one holds a live block
    assert.equal(heap.stats().quarantinedBlocks, 0, "released, oldest first, while the allocation was tried again");
    live.forEach((p, i) => assertBlockFilled(heap, p, i + 1));
    heap.free(heap.alloc(2 * MIB));
    heap.check();
  });
});

