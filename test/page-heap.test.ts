// The page heap, seen through large blocks (over 64 KiB: 9 pages and more):
// best fit, coalescing with both neighbours, reuse of empty spans, and
// growth when no free run fits.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, PAGE_SIZE } from "../src/index.js";
import { committedEnd, dataStart, KIB, MIB } from "./helpers.js";

const pages = (n: number) => n * PAGE_SIZE;

/** Allocates large blocks of the given page counts back to back and checks that they are contiguous. */
function layout(heap: Heap, counts: number[]): number[] {
  const addrs = counts.map((n) => heap.alloc(pages(n)));
  heap.check();
  for (let i = 1; i < addrs.length; i++) {
    assert.equal(addrs[i], addrs[i - 1]! + pages(counts[i - 1]!), `block ${i} follows block ${i - 1}`);
  }
  return addrs;
}

describe("best fit", () => {
  test("a request takes the smallest free run that fits, not the first", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: 2 * MIB }); // a free tail longer than every hole
    //                      guard hole guard hole guard hole guard
    const [, h24, , h16, , h14] = layout(heap, [13, 24, 13, 16, 13, 14, 13]);
    for (const h of [h24!, h16!, h14!]) {
      heap.free(h);
      heap.check();
    }
    assert.equal(heap.alloc(pages(15)), h16, "15 pages go to the 16-page hole");
    heap.check();
    assert.equal(heap.alloc(pages(14)), h14, "14 pages go to the 14-page hole");
    heap.check();
    assert.equal(heap.alloc(pages(13)), h24, "13 pages go to the 24-page hole, the only one left");
    heap.check();
    assert.equal(heap.alloc(pages(11)), h24! + pages(13), "its 11-page remainder stayed free");
    heap.check();
  });

  test("best fit among runs of 128 pages and more", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 5 * MIB });
    const [, h200, , h140, , h130] = layout(heap, [9, 200, 9, 140, 9, 130, 9]);
    for (const h of [h200!, h140!, h130!]) heap.free(h);
    heap.check();
    assert.equal(heap.alloc(pages(135)), h140);
    heap.check();
    assert.equal(heap.alloc(pages(129)), h130);
    heap.check();
    assert.equal(heap.alloc(pages(160)), h200, "the 150-page tail is too small");
    heap.check();
  });

  test("remainders of long runs are found by later small requests", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 5 * MIB });
    const [, hole] = layout(heap, [9, 300, 9]);
    heap.free(hole!);
    assert.equal(heap.alloc(pages(200)), hole);
    assert.equal(heap.alloc(pages(100)), hole! + pages(200), "the 100-page remainder is an exact fit");
    heap.check();
  });
});

describe("coalescing", () => {
  const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  for (const order of orders) {
    test(`freeing A, B, C in order ${order.map((i) => "ABC"[i]).join(", ")} leaves one run`, () => {
      const heap = new Heap({ maxSize: 8 * MIB, initialSize: MIB });
      const [, a, b, c] = layout(heap, [13, 13, 14, 15, 13]);
      const abc = [a!, b!, c!];
      const freeBefore = heap.stats().freePageBytes;
      for (const i of order) {
        heap.free(abc[i]!);
        heap.check(); // P3: no two free runs are adjacent
      }
      assert.equal(heap.stats().freePageBytes, freeBefore + pages(42));
      // Only one run of 42 pages can serve this without growing, and it starts at A.
      const committed = heap.stats().committedBytes;
      assert.equal(heap.alloc(pages(42)), a);
      assert.equal(heap.stats().committedBytes, committed);
      heap.check();
    });
  }

  test("a block freed next to the free tail joins it, and trim returns all of it", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: MIB });
    const [g, a, b] = layout(heap, [13, 10, 10]);
    heap.free(a!);
    heap.free(b!); // joins a's run and the tail run
    heap.check();
    const end = committedEnd(heap);
    const trimmed = heap.trim();
    heap.check();
    assert.equal(committedEnd(heap), g! + pages(13));
    assert.equal(trimmed, end - committedEnd(heap));
  });

  test("empty small spans are given back to the page heap before the heap grows", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: 256 * KIB }); // 32 pages; a class's cache holds 16 KiB
    const smalls = Array.from({ length: 64 }, () => heap.alloc(3000)); // 3072-byte class: 8 per 3-page span
    const spanPages = (smalls.length / 8) * 3;
    const rest = heap.alloc(pages(32 - spanPages)); // fills the heap
    heap.check();
    assert.equal(rest, dataStart(heap) + pages(spanPages));
    for (const p of smalls) heap.free(p); // all but a cache's worth go back to their spans
    heap.check();
    const committed = heap.stats().committedBytes;
    const p = heap.alloc(pages(9)); // fits only in released empty spans
    heap.check();
    assert.ok(p >= dataStart(heap) && p + pages(9) <= dataStart(heap) + pages(spanPages), `the block is where the spans were (page ${p / PAGE_SIZE})`);
    assert.equal(heap.stats().committedBytes, committed, "no growth");
  });

  test("objects in a cache stay there when the heap can grow; they are flushed and their spans reused only when it cannot", () => {
    for (const growable of [true, false]) {
      const heap = growable ? new Heap({ maxSize: 1024 * MIB, initialSize: 256 * KIB }) : new Heap({ maxSize: 512 * KIB, initialSize: 512 * KIB });
      const smalls = Array.from({ length: 16 }, () => heap.alloc(3000)); // two 3-page spans of the 3072-byte class
      heap.alloc(heap.stats().freePageBytes); // a large block that fills the committed pages
      for (const p of smalls) heap.free(p);
      const cached = heap.stats().cachedBytes;
      assert.ok(cached >= 8 * 3072, `${cached} bytes cached`);
      const end = committedEnd(heap);
      const p = heap.alloc(pages(5)); // a 5-page span of its own (the 40 KiB class)
      heap.check();
      if (growable) {
        assert.ok(p >= end, "the block is in grown pages");
        assert.equal(heap.stats().cachedBytes, cached, "the objects are still cached");
      } else {
        assert.equal(p, Math.min(...smalls), "flushed, and the span's pages reused");
        assert.equal(heap.stats().cachedBytes, 0);
      }
    }
  });
});

describe("growth when no run fits", () => {
  test("a request larger than every free run grows the heap at its end; the holes stay free", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: 384 * KIB, growBy: 0 }); // 48 pages
    const [a, , b, , tail] = layout(heap, [9, 9, 10, 9, 11]);
    heap.free(a!);
    heap.free(b!);
    heap.free(tail!); // an 11-page free run at the committed end
    heap.check();
    const end = committedEnd(heap);
    const p = heap.alloc(pages(12));
    heap.check();
    assert.equal(p, tail, "the free run at the end was extended, not left behind");
    assert.equal(committedEnd(heap), end + pages(1), "growBy 0: grew by exactly the missing page");
    const q = heap.alloc(pages(20));
    heap.check();
    assert.equal(q, end + pages(1));
    assert.equal(heap.alloc(pages(9)), a, "holes are still free");
    assert.equal(heap.alloc(pages(10)), b);
    heap.check();
  });
});
