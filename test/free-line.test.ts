// Heap.freeLine and Heap.freeSpan, the sweeper's bulk frees (heap/central.ts
// returnLine, returnSpan): they must leave the heap exactly as freeing the
// same blocks one by one does (check() passes, the same counts), and refuse,
// changing nothing, whatever they cannot free in one step.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapCorruptionError, MAX_SMALL_SIZE, OffheapTypeError } from "../src/index.js";
import { D_USED, DESC_SHIFT, PAGE_SHIFT } from "../src/heap/layout.js";
import { flushCaches } from "../src/heap/central.js";
import type { Core } from "../src/heap/core.js";
import { assertUnchanged, expectError, fillBlock, KIB, MIB, randInt, rng, snapshot } from "./helpers.js";

const LINE = 128;
const lineOf = (a: number) => a - (a % LINE);
const bitOf = (a: number) => 1 << (((a % LINE) >>> 3) * 2);

// The counts freeLine must keep exact: in all and per class.
function counts(heap: Heap) {
  const s = heap.stats();
  return {
    liveBlocks: s.liveBlocks, liveBytes: s.liveBytes, allocs: s.allocs, frees: s.frees,
    classes: s.classes.map(({ classIndex, liveObjects, allocs, frees }) => ({ classIndex, liveObjects, allocs, frees })),
  };
}

// f() under the heap lock, as a sweeper takes it around its bulk frees.
function locked<T>(heap: Heap, f: () => T): T {
  heap.lockHeap();
  try {
    return f();
  } finally {
    heap.unlockHeap();
  }
}

const freeLine = (heap: Heap, line: number, starts: number) => locked(heap, () => heap.freeLine(line, starts));

describe("freeLine", () => {
  const SEED = 20261204;
  test(`frees a line's blocks as free() one by one does: check() passes, same counts, memory reused (seed ${SEED})`, () => {
    const next = rng(SEED);
    const bulk = new Heap({ maxSize: 64 * MIB });
    const single = new Heap({ maxSize: 64 * MIB });
    for (let round = 0; round < 20; round++) {
      // The same requests of both heaps (their addresses differ once their free lists do): sizes of a few classes, some large.
      const made: [number, number][] = [];
      for (let i = 0; i < 3000; i++) {
        const r = next();
        const size = r < 0.5 ? randInt(next, 1, 16) : r < 0.8 ? randInt(next, 17, 48) : r < 0.99 ? randInt(next, 49, 300) : randInt(next, 33 * KIB, 90 * KIB);
        const a = bulk.alloc(size);
        fillBlock(bulk, a, 0xa5);
        made.push([a, single.alloc(size)]);
      }
      // Free a random half: in one heap grouped by line, in the other one by one.
      const byLine = new Map<number, number>();
      for (const [a, b] of made) {
        if (next() < 0.5) continue;
        byLine.set(lineOf(a), (byLine.get(lineOf(a)) ?? 0) | bitOf(a));
        single.free(b);
      }
      for (const [line, starts] of byLine) {
        const large = bulk.sizeOf(line + ((31 - Math.clz32(starts & -starts)) << 2)) > MAX_SMALL_SIZE;
        assert.equal(freeLine(bulk, line, starts), !large, `freeLine(0x${line.toString(16)}, 0x${(starts >>> 0).toString(16)})`);
        if (large) bulk.free(line);
      }
      bulk.check();
      assert.deepEqual(counts(bulk), counts(single), `round ${round}: the counts of a bulk free and of single frees`);
    }
    // Everything freed can be allocated again, by both, without overlap (check() finds overlap).
    for (let i = 0; i < 20000; i++) fillBlock(bulk, bulk.alloc(randInt(next, 1, 48)), 0x5a);
    bulk.check();
  });

  test("refuses, changing nothing, what it cannot free in one step", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const blocks = Array.from({ length: 64 }, () => heap.alloc(16));
    const a = blocks.find((b) => b % LINE === 0 && blocks.includes(b + 16))!;
    const large = heap.alloc(80 * KIB);
    heap.free(a + 16);
    const cases: [string, number, number][] = [
      ["no blocks", a, 0],
      ["a free block", a, bitOf(a) | bitOf(a + 16)],
      ["a granule inside a block", a, bitOf(a + 8)],
      ["a line that is not 128-aligned", a + 8, 1],
      ["a large block", large, 1],
      ["a line outside the heap", 0x7fff_ff80, 1],
      ["the metadata", 0, 1],
    ];
    const unlocked = snapshot(heap);
    expectError(() => heap.freeLine(a, bitOf(a)), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "does not hold the heap lock");
    assertUnchanged(heap, unlocked, "without the lock");
    for (const [what, line, starts] of cases) {
      const before = snapshot(heap);
      assert.equal(freeLine(heap, line, starts), false, what);
      assertUnchanged(heap, before, what);
    }
  });

  test("above 2 GiB: lines and single frees returned to their spans keep their addresses (no sign bit)", () => {
    // A 2 GiB block first, never touched, so the small spans after it lie past 2^31.
    const heap = new Heap({ maxSize: 3 * 1024 * MIB });
    const big = heap.alloc(2048 * MIB);
    const blocks = Array.from({ length: 20000 }, () => heap.alloc(16));
    assert.ok(blocks.every((b) => b >= 2 ** 31), "the small blocks lie past 2 GiB");
    const a = blocks.find((b) => b % LINE === 0 && blocks.includes(b + 16))!;
    const before = counts(heap);
    assert.equal(freeLine(heap, a, bitOf(a) | bitOf(a + 16)), true);
    assert.equal(counts(heap).liveBlocks, before.liveBlocks - 2);
    // The rest one by one: the cache list overflows and flushes to the spans (central.ts: returnObject).
    for (const b of blocks) if (b !== a && b !== a + 16) heap.free(b);
    heap.check();
    const committed = heap.stats().committedBytes;
    for (let i = 0; i < 20000; i++) fillBlock(heap, heap.alloc(16), 0x5a);
    assert.equal(heap.stats().committedBytes, committed, "the freed blocks are reused: no growth");
    heap.check(); // no overlap, the free lists intact
    heap.free(big);
    heap.check();
  });

  test("refuses a debug-mode block (free() knows its trailer)", () => {
    const heap = new Heap({ maxSize: 16 * MIB, debug: true });
    const a = heap.alloc(8);
    const before = snapshot(heap);
    assert.equal(freeLine(heap, lineOf(a), bitOf(a)), false);
    assertUnchanged(heap, before, "a debug block");
  });

  test("a span counting fewer objects in use than the line frees is damage (S3), found before any write", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const blocks = Array.from({ length: 64 }, () => heap.alloc(16));
    const a = blocks.find((b) => b % LINE === 0 && blocks.includes(b + 16))!;
    const used = heap["descW"] + ((a >>> PAGE_SHIFT) << DESC_SHIFT) + D_USED; // a span of 16-byte objects is one page
    heap.u32[used] = 1;
    const before = snapshot(heap);
    expectError(() => freeLine(heap, a, bitOf(a) | bitOf(a + 16)), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "[invariant S3]", "used 1");
    assert.deepEqual(snapshot(heap), before, "the image is unchanged");
  });
});

// starts of a page: one word per 128-byte line.
const freeSpan = (heap: Heap, page: number, starts: Uint32Array) => locked(heap, () => heap.freeSpan(page, starts));

const PAGE = 1 << PAGE_SHIFT;

/** The starts of `blocks` in the page at `page`, by line, as the sweeper gives them. */
function pageStarts(page: number, blocks: number[]): Uint32Array {
  const starts = new Uint32Array(PAGE / LINE);
  for (const b of blocks) {
    const k = Math.floor((b % PAGE) / LINE);
    if (b >>> PAGE_SHIFT === page) starts[k] = starts[k]! | bitOf(b);
  }
  return starts;
}

/** 16-byte blocks filling whole pages, and a page whose 512 objects are all among them (one-page spans). */
function fullPage(heap: Heap): { blocks: number[]; page: number; inPage: number[] } {
  const blocks = Array.from({ length: 3 * 512 }, () => heap.alloc(16));
  blocks.forEach((b, i) => fillBlock(heap, b, i & 0xff));
  return { blocks, ...pageOf(blocks) };
}

/** A page all 512 of whose 16-byte objects are among `blocks`. */
function pageOf(blocks: number[]): { page: number; inPage: number[] } {
  const byPage = new Map<number, number[]>();
  for (const b of blocks) byPage.set(b >>> PAGE_SHIFT, [...(byPage.get(b >>> PAGE_SHIFT) ?? []), b]);
  const [page, inPage] = [...byPage].find(([, bs]) => bs.length === 512)!;
  return { page, inPage };
}

describe("freeSpan", () => {
  test("frees a page whose objects are all named, as free() one by one does, and gives the page back", () => {
    const bulk = new Heap({ maxSize: 16 * MIB });
    const single = new Heap({ maxSize: 16 * MIB });
    const a = fullPage(bulk);
    const b = fullPage(single);
    const freePages = (h: Heap) => h.stats().freePageBytes;
    const before = freePages(bulk);
    assert.equal(freeSpan(bulk, a.page, pageStarts(a.page, a.inPage)), 512, "the page's 512 objects freed");
    for (const x of b.inPage) single.free(x);
    bulk.check();
    assert.deepEqual(counts(bulk), counts(single), "the counts of a span's free and of single frees");
    assert.equal(freePages(bulk), before + PAGE, "the page is free memory again");
    // The blocks on the other pages are intact, and the page serves any class again without growth.
    a.blocks.forEach((x, i) => {
      if (x >>> PAGE_SHIFT !== a.page) assert.equal(bulk.u8[x], i & 0xff, `block ${i}`);
    });
    let taken = false;
    for (let i = 0; i < freePages(bulk) / 64 && !taken; i++) taken = bulk.alloc(64) >>> PAGE_SHIFT === a.page;
    assert.ok(taken, "64-byte blocks, another class, take the page before the free pages run out");
    bulk.check();
  });

  test("a partial span (free objects on its own list) leaves its class's lists whole", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const { page, inPage } = fullPage(heap);
    // Half the page freed past the cache list: a flush of whole cache lists puts them back on the span.
    for (const x of inPage.slice(0, 256)) heap.free(x);
    heap.trim();
    heap.check();
    assert.equal(freeSpan(heap, page, pageStarts(page, inPage.slice(256))), 256);
    heap.check(); // the partial list no longer links the page
    for (let i = 0; i < 4000; i++) fillBlock(heap, heap.alloc(16), 0x5a);
    heap.check();
  });

  test("refuses, changing nothing, a page it cannot give back whole", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    const { page, inPage } = fullPage(heap);
    const other = pageOf(Array.from({ length: 1100 }, () => heap.alloc(16)));
    const empty = pageOf(Array.from({ length: 1100 }, () => heap.alloc(16)));
    const multi = heap.alloc(1152); // a class whose spans are 2 pages
    const large = heap.alloc(80 * KIB);
    heap.free(inPage[0]!);
    for (const x of empty.inPage) heap.free(x);
    // The caches flushed, the spans kept (trim() would release the empty one): inPage[0] free on its
    // span, not cached; `empty` an empty span, on its class's empty list.
    locked(heap, () => flushCaches(heap as unknown as Core));
    heap.free(other.inPage[0]!); // on the cache list: still in use by its span's count
    const rest = pageStarts(page, inPage.slice(1));
    const missing = rest.slice();
    missing[3] = missing[3]! & (missing[3]! - 1); // one live object not named
    const cases: [string, number, Uint32Array][] = [
      ["a live object not named", page, missing],
      ["a free object named", page, pageStarts(page, inPage)],
      ["a span with a cached object", other.page, pageStarts(other.page, other.inPage.slice(1))],
      ["a span of two pages", multi >>> PAGE_SHIFT, pageStarts(multi >>> PAGE_SHIFT, [multi])],
      ["a large block", large >>> PAGE_SHIFT, pageStarts(large >>> PAGE_SHIFT, [large])],
      ["an empty span, nothing named (it is on its class's empty list)", empty.page, new Uint32Array(PAGE / LINE)],
      ["the metadata", 0, new Uint32Array(PAGE / LINE)],
      ["a page past the heap", 0x7ffff, new Uint32Array(PAGE / LINE)],
    ];
    const unlocked = snapshot(heap);
    expectError(() => heap.freeSpan(page, rest), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "does not hold the heap lock");
    assertUnchanged(heap, unlocked, "without the lock");
    for (const [what, p, starts] of cases) {
      const before = snapshot(heap);
      assert.equal(freeSpan(heap, p, starts), 0, what);
      assertUnchanged(heap, before, what);
    }
    assert.equal(freeSpan(heap, page, rest), 511, "the page's live objects exactly");
    heap.check();
  });

  test("refuses a debug-mode page (free() knows its trailers)", () => {
    const heap = new Heap({ maxSize: 16 * MIB, debug: true });
    const blocks = Array.from({ length: 2000 }, () => heap.alloc(8));
    const page = blocks[1000]! >>> PAGE_SHIFT;
    const before = snapshot(heap);
    assert.equal(freeSpan(heap, page, pageStarts(page, blocks)), 0);
    assertUnchanged(heap, before, "a debug page");
  });
});
