// The public Heap API: alloc, calloc, realloc, free, sizeOf, bytes, strings,
// stats and trim.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CLASS_OBJECTS, CLASS_SIZE, type ClassStats, Heap, InvalidAddressError, N_CLASSES, PAGE_SIZE } from "../src/index.js";
import { META_BYTES_PER_PAGE } from "../src/heap/layout.js";
import {
  assertBlockFilled, committedEnd, dataBytes, dataStart, expectRejected, fillBlock, KIB, MIB, randInt, rng,
} from "./helpers.js";

const classIndexOf = (size: number) => {
  for (let c = 1; c <= N_CLASSES; c++) if (CLASS_SIZE[c]! >= size) return c;
  throw new Error(`no class holds ${size}`);
};

// The occupancy fields of a class row (test/stats.test.ts covers the others).
const occupancy = ({ classIndex, size, spans, liveObjects, freeObjects }: ClassStats) => ({ classIndex, size, spans, liveObjects, freeObjects });

describe("alloc and free", () => {
  const SEED = 20240611;
  test(`addresses are 8-aligned, > 0, unique and blocks do not overlap (seed ${SEED})`, () => {
    const next = rng(SEED);
    const heap = new Heap({ maxSize: 32 * MIB, initialSize: 64 * KIB });
    const live = new Map<number, number>(); // address -> fill byte
    const size = () => {
      const r = next();
      return r < 0.7 ? randInt(next, 0, 1024) : r < 0.95 ? randInt(next, 1025, 32 * KIB) : randInt(next, 32 * KIB + 1, 200 * KIB);
    };
    const verify = () => {
      const sorted = [...live.keys()].sort((a, b) => a - b);
      for (let i = 0; i < sorted.length; i++) {
        const p = sorted[i]!;
        assert.ok(p + heap.sizeOf(p) <= (sorted[i + 1] ?? committedEnd(heap)), `block at ${p} overlaps the next one`);
        assertBlockFilled(heap, p, live.get(p)!);
      }
    };
    for (let step = 0; step < 1500; step++) {
      if (live.size > 0 && next() < 0.4) {
        const keys = [...live.keys()];
        const p = keys[Math.floor(next() * keys.length)]!;
        heap.free(p);
        live.delete(p);
      } else {
        const n = size();
        const p = heap.alloc(n);
        assert.equal(typeof p, "number");
        assert.ok(Number.isInteger(p) && p > 0, `alloc(${n}) returned ${p}`);
        assert.equal(p % 8, 0, `alloc(${n}) returned misaligned ${p}`);
        assert.ok(p >= dataStart(heap) && p + n <= committedEnd(heap), `alloc(${n}) returned ${p} outside the heap's pages`);
        assert.ok(!live.has(p), `alloc(${n}) returned live address ${p}`);
        assert.ok(heap.sizeOf(p) >= n);
        assert.ok(heap.u8.length >= p + heap.sizeOf(p), "the byte view covers the new block");
        live.set(p, step & 255);
        fillBlock(heap, p, step & 255);
      }
      if (step % 100 === 0) heap.check();
    }
    heap.check();
    verify();
    for (const p of live.keys()) heap.free(p);
    heap.check();
    const s = heap.stats();
    assert.equal(s.liveBlocks, 0);
    assert.equal(s.liveBytes, 0);
  });

  test("alloc(0) returns a unique, valid 8-byte block", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const a = heap.alloc(0);
    const b = heap.alloc(0);
    heap.check();
    assert.ok(a > 0 && b > 0 && a !== b);
    assert.ok(heap.sizeOf(a) >= 8);
    heap.f64[a >>> 3] = 1.5;
    heap.f64[b >>> 3] = 2.5;
    assert.equal(heap.f64[a >>> 3], 1.5);
    heap.free(a);
    heap.free(b);
    heap.check();
  });

  test("free makes the block reusable: freeing everything and allocating again reuses the same memory", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 256 * KIB });
    const first = Array.from({ length: 500 }, () => heap.alloc(48));
    const before = heap.stats();
    for (const p of first) heap.free(p);
    heap.check();
    const second = Array.from({ length: 500 }, () => heap.alloc(48));
    heap.check();
    const after = heap.stats();
    assert.equal(after.committedBytes, before.committedBytes, "no growth");
    assert.equal(after.freePageBytes, before.freePageBytes, "no new pages taken");
    assert.deepEqual(after.classes.map(occupancy), before.classes.map(occupancy), "the same spans, as full as before");
    const reused = second.filter((p) => first.includes(p)).length;
    assert.ok(reused >= 500 - CLASS_OBJECTS[classIndexOf(48)]!, `only ${reused} of 500 addresses reused`);
  });

  test("a heap made in a user's buffer that holds old data starts clean: every list empty, check() passes", () => {
    for (const memory of [new ArrayBuffer(4 * MIB), new SharedArrayBuffer(4 * MIB)]) {
      new Uint8Array(memory).fill(0xff); // a cache list's sentinel is 0 in a clean image
      const heap = new Heap({ memory });
      heap.check();
      assert.deepEqual([heap.stats().liveBytes, heap.stats().freeObjectBytes], [0, 0]);
      const blocks = [8, 100, 1000, 5000, 40_000, 72_000].map((size) => heap.alloc(size));
      for (const p of blocks) heap.free(p);
      heap.check();
      assert.equal(heap.stats().liveBytes, 0);
    }
  });
});

describe("calloc", () => {
  test("zeroes reused small blocks, including the free-list link word", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const n = 2 * CLASS_OBJECTS[classIndexOf(100)]!; // two whole spans of the 104-byte class
    const dirty = Array.from({ length: n }, () => heap.alloc(100));
    for (const p of dirty) fillBlock(heap, p, 0xee);
    for (const p of dirty) heap.free(p);
    heap.check();
    const clean = Array.from({ length: n }, () => heap.calloc(100));
    heap.check();
    assert.deepEqual(new Set(clean), new Set(dirty), "calloc reused the dirtied blocks");
    for (const p of clean) assertBlockFilled(heap, p, 0);
  });

  test("zeroes a reused large block over its whole usable size", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 256 * KIB });
    const p = heap.alloc(72_000);
    fillBlock(heap, p, 0xab);
    heap.free(p);
    const q = heap.calloc(72_000);
    heap.check();
    assert.equal(q, p);
    assert.equal(heap.sizeOf(q), 9 * PAGE_SIZE);
    assertBlockFilled(heap, q, 0);
  });
});

describe("realloc", () => {
  test("keeps the address while the size class still fits", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(100); // 104-byte class
    fillBlock(heap, p, 0x11);
    for (const n of [104, 97, 100]) {
      assert.equal(heap.realloc(p, n), p, `realloc(p, ${n})`);
      heap.check();
    }
    assertBlockFilled(heap, p, 0x11);
  });

  test("moves a small block to a bigger or smaller class, preserving contents", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(100);
    for (let i = 0; i < 100; i++) heap.u8[p + i] = i;
    const q = heap.realloc(p, 1000);
    heap.check();
    assert.notEqual(q, p);
    for (let i = 0; i < 100; i++) assert.equal(heap.u8[q + i], i);
    expectRejected(heap, () => heap.sizeOf(p), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    const r = heap.realloc(q, 40);
    heap.check();
    assert.equal(heap.sizeOf(r), 40);
    for (let i = 0; i < 40; i++) assert.equal(heap.u8[r + i], i);
    const l = heap.realloc(r, 100_000); // small -> large
    heap.check();
    assert.equal(heap.sizeOf(l), 13 * PAGE_SIZE);
    for (let i = 0; i < 40; i++) assert.equal(heap.u8[l + i], i);
    const s = heap.realloc(l, 16); // large -> small
    heap.check();
    assert.equal(heap.sizeOf(s), 16);
    for (let i = 0; i < 16; i++) assert.equal(heap.u8[s + i], i);
  });

  test("grows and shrinks a large block in place when the next pages are free", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 512 * KIB });
    const p = heap.alloc(72_000); // 9 pages, followed by free pages
    fillBlock(heap, p, 0x42);
    assert.equal(heap.realloc(p, 120_000), p); // 15 pages
    heap.check();
    assert.equal(heap.sizeOf(p), 15 * PAGE_SIZE);
    assertBlockFilled(heap, p, 0x42, 9 * PAGE_SIZE);
    assert.equal(heap.realloc(p, 66_000), p); // 9 pages
    heap.check();
    assert.equal(heap.sizeOf(p), 9 * PAGE_SIZE);
    assertBlockFilled(heap, p, 0x42);
    // The freed tail pages are free again: the next large block starts there.
    assert.equal(heap.alloc(72_000), p + 9 * PAGE_SIZE);
    heap.check();
  });

  test("grows a large block at the committed end in place by growing the heap", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 72 * KIB }); // exactly 9 data pages
    const p = heap.alloc(72_000);
    assert.equal(p + 9 * PAGE_SIZE, committedEnd(heap), "the block ends at the committed end");
    fillBlock(heap, p, 0x24);
    assert.equal(heap.realloc(p, 200_000), p);
    heap.check();
    assert.equal(heap.sizeOf(p), 25 * PAGE_SIZE);
    assertBlockFilled(heap, p, 0x24, 9 * PAGE_SIZE);
  });

  test("moves a large block whose next pages are in use, preserving contents", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 512 * KIB });
    const p = heap.alloc(72_000);
    const guard = heap.alloc(72_000);
    for (let i = 0; i < 72_000; i += 4) heap.u32[(p + i) >>> 2] = i;
    const q = heap.realloc(p, 80_000);
    heap.check();
    assert.notEqual(q, p);
    for (let i = 0; i < 72_000; i += 4) assert.equal(heap.u32[(q + i) >>> 2], i);
    expectRejected(heap, () => heap.free(p), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    heap.free(guard);
    heap.free(q);
    heap.check();
  });

  test("realloc(0, n) allocates", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.realloc(0, 50);
    heap.check();
    assert.ok(p > 0);
    assert.equal(heap.sizeOf(p), 56);
    const l = heap.realloc(0, 70_000);
    heap.check();
    assert.equal(heap.sizeOf(l), 9 * PAGE_SIZE);
  });
});

describe("sizeOf and bytes", () => {
  test("sizeOf is the class size for small blocks and whole pages for large ones", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const cases: [number, number][] = [[1, 8], [8, 8], [9, 16], [65, 72], [1000, 1024], [32768, 32768], [32769, 36864], [65536, 65536], [65537, 9 * PAGE_SIZE], [73729, 10 * PAGE_SIZE]];
    for (const [n, usable] of cases) {
      const p = heap.alloc(n);
      heap.check();
      assert.equal(heap.sizeOf(p), usable, `sizeOf(alloc(${n}))`);
    }
  });

  test("bytes(addr, len) is a view of the block; its length must fit the block", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(20);
    const all = heap.bytes(p);
    assert.equal(all.length, 24);
    assert.equal(all.byteOffset, p);
    assert.equal(all.buffer, heap.buffer);
    const v = heap.bytes(p, 10);
    assert.equal(v.length, 10);
    v.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual([...heap.u8.subarray(p, p + 10)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(heap.bytes(p, 0).length, 0);
    assert.equal(heap.bytes(p, 24).length, 24);
    for (const len of [25, -1, 2.5, 2 ** 53]) {
      expectRejected(heap, () => heap.bytes(p, len), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "Heap.bytes");
    }
    const l = heap.alloc(72_000);
    assert.equal(heap.bytes(l).length, 9 * PAGE_SIZE);
    heap.check();
  });
});

describe("strings", () => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const cases: [string, string][] = [
    ["ASCII", "hello, world"],
    ["Latin-1", "héllo"],
    ["BMP", "日本語のテキスト"],
    ["emoji (surrogate pairs)", "a😀b👍🏽c"],
    ["empty", ""],
    ["lone high surrogate", "x\ud800y"],
    ["lone low surrogate", "x\udc00y"],
    ["lone surrogate at the end", "end\ud83d"],
    ["reversed pair", "\ude00\ud83d"],
    ["NUL characters", "a\0b\0"],
    ["100 KB ASCII", "0123456789".repeat(10_000)],
    ["100 KB mixed", "aé日😀".repeat(10_000)],
  ];
  for (const [label, str] of cases) {
    test(`fromString/readString round trip: ${label}`, () => {
      const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
      const p = heap.fromString(str);
      heap.check();
      const utf8 = encoder.encode(str);
      assert.equal(heap.u32[p >>> 2], utf8.length, "u32 length prefix is the UTF-8 byte count");
      assert.deepEqual(heap.u8.slice(p + 4, p + 4 + utf8.length), utf8, "bytes are what TextEncoder makes");
      assert.equal(heap.readString(p), decoder.decode(utf8), "lone surrogates read back as U+FFFD");
      if (str.isWellFormed()) assert.equal(heap.readString(p), str);
      heap.freeString(p);
      heap.check();
    });
  }

  test("readString of a block that does not hold a string throws InvalidAddressError", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(16);
    heap.u32[p >>> 2] = 13; // 4 + 13 > 16
    expectRejected(heap, () => heap.readString(p), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "Heap.readString", "0x");
    heap.u32[p >>> 2] = 0xffffffff;
    expectRejected(heap, () => heap.readString(p), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    heap.u32[p >>> 2] = 12;
    assert.equal(heap.readString(p).length, 12);
  });

  for (const memory of ["resizable", "sab"] as const) {
    test(`strings work on a ${memory} backing memory`, () => {
      const heap = new Heap({
        maxSize: 4 * MIB,
        initialSize: 64 * KIB,
        memory: memory === "sab" ? new SharedArrayBuffer(MIB, { maxByteLength: 4 * MIB }) : memory,
      });
      for (const [, str] of cases) {
        const p = heap.fromString(str);
        assert.equal(heap.readString(p), decoder.decode(encoder.encode(str)));
      }
      heap.check();
    });
  }
});

describe("stats", () => {
  test("counts blocks, bytes and classes exactly after a known sequence", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 256 * KIB });
    const empty = heap.stats();
    assert.deepEqual(
      [empty.liveBlocks, empty.liveBytes, empty.allocs, empty.frees, empty.requestedBytes, empty.largeBlocks, empty.largeBytes, empty.classes],
      [0, 0, 0, 0, 0, 0, 0, []],
    );
    assert.equal(empty.reservedBytes, 4 * MIB);
    assert.equal(empty.freePageBytes, dataBytes(heap));
    const a = heap.alloc(24);
    const b = heap.alloc(100);
    const c = heap.alloc(100);
    const d = heap.calloc(5);
    const l = heap.alloc(72_000);
    heap.free(b);
    const r = heap.realloc(c, 120); // 104 -> 120: moves (an alloc and a free)
    assert.notEqual(r, c);
    assert.equal(heap.realloc(a, 20), a); // same class: no alloc, but counts as requested
    heap.check();
    const s = heap.stats();
    assert.equal(s.allocs, 6);
    assert.equal(s.frees, 2);
    assert.equal(s.liveBlocks, 4);
    assert.equal(s.liveBytes, 24 + 8 + 120 + 9 * PAGE_SIZE);
    assert.equal(s.requestedBytes, 24 + 100 + 100 + 5 + 72_000 + 120 + 20);
    assert.equal(s.largeBlocks, 1);
    assert.equal(s.largeBytes, 9 * PAGE_SIZE);
    assert.deepEqual(s.classes.map(occupancy), [
      { classIndex: classIndexOf(8), size: 8, spans: 1, liveObjects: 1, freeObjects: CLASS_OBJECTS[classIndexOf(8)]! - 1 },
      { classIndex: classIndexOf(24), size: 24, spans: 1, liveObjects: 1, freeObjects: CLASS_OBJECTS[classIndexOf(24)]! - 1 },
      { classIndex: classIndexOf(104), size: 104, spans: 1, liveObjects: 0, freeObjects: CLASS_OBJECTS[classIndexOf(104)]! },
      { classIndex: classIndexOf(120), size: 120, spans: 1, liveObjects: 1, freeObjects: CLASS_OBJECTS[classIndexOf(120)]! - 1 },
    ]);
    assert.equal(s.freeObjectBytes, s.classes.reduce((sum, row) => sum + row.freeObjects * row.size, 0));
    // Every committed data page is in a class span, a large block or the free pool.
    assert.equal(s.committedBytes - s.metadataBytes, 4 * PAGE_SIZE + s.largeBytes + s.freePageBytes);
    assert.equal(s.committedBytes - s.metadataBytes, committedEnd(heap) - dataStart(heap));
    for (const p of [a, d, l, r]) heap.free(p);
    heap.check();
    const after = heap.stats();
    assert.deepEqual([after.liveBlocks, after.liveBytes, after.allocs, after.frees, after.largeBlocks], [0, 0, 6, 6, 0]);
  });

  test("live and free object counts stay exact when a class fills more than one span", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const perSpan = CLASS_OBJECTS[classIndexOf(48)]!;
    const blocks: number[] = [];
    for (let i = 0; i < 2 * perSpan + 1; i++) {
      blocks.push(heap.alloc(48));
      if (i % 10 === 0 || i >= perSpan - 1) heap.check();
    }
    const row = () => occupancy(heap.stats().classes.find((c) => c.size === 48)!);
    assert.deepEqual(row(), { classIndex: classIndexOf(48), size: 48, spans: 3, liveObjects: 2 * perSpan + 1, freeObjects: perSpan - 1 });
    for (const p of blocks.splice(0, perSpan)) heap.free(p);
    heap.check();
    assert.deepEqual(row(), { classIndex: classIndexOf(48), size: 48, spans: 3, liveObjects: perSpan + 1, freeObjects: 2 * perSpan - 1 });
    for (let i = 0; i < perSpan; i++) blocks.push(heap.alloc(48));
    heap.check();
    assert.equal(row().liveObjects, 2 * perSpan + 1);
    assert.equal(heap.stats().liveBlocks, 2 * perSpan + 1);
  });

  test("counters stay exact over millions of calls (no 32-bit count wraps)", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: MIB });
    const sizes = [8, 64, 1000, 32_768]; // 32 KiB x 1M pairs = 32 GiB requested
    const n = 1_000_000;
    let requested = 0;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      const size = sizes[i & 3]!;
      const p = heap.alloc(size);
      requested += size;
      if (i % 100_000 === 0) keep.push(p);
      else heap.free(p);
    }
    heap.check();
    const s = heap.stats();
    assert.equal(s.allocs, n);
    assert.equal(s.frees, n - keep.length);
    assert.equal(s.liveBlocks, keep.length);
    assert.equal(s.requestedBytes, requested);
  });

  test("is a plain JSON-serializable object", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    heap.alloc(10);
    heap.alloc(70_000);
    const s = heap.stats();
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
    for (const [k, v] of Object.entries(s)) if (k !== "classes") assert.ok(Number.isFinite(v), `${k} is a finite number`);
  });

  test("allocs and frees count each call once over many operations", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: 64 * KIB });
    const next = rng(7);
    const live: number[] = [];
    let allocs = 0;
    let frees = 0;
    let requested = 0;
    for (let i = 0; i < 5000; i++) {
      if (live.length > 0 && next() < 0.45) {
        heap.free(live.splice(Math.floor(next() * live.length), 1)[0]!);
        frees++;
      } else {
        const n = next() < 0.97 ? randInt(next, 0, 2000) : randInt(next, 33_000, 120_000);
        live.push(heap.alloc(n));
        allocs++;
        requested += n;
      }
    }
    heap.check();
    const s = heap.stats();
    assert.equal(s.allocs, allocs);
    assert.equal(s.frees, frees);
    assert.equal(s.liveBlocks, live.length);
    assert.equal(s.requestedBytes, requested);
    assert.equal(s.liveBytes, live.reduce((sum, p) => sum + heap.sizeOf(p), 0));
  });
});

describe("trim", () => {
  test("after freeing everything, trim returns the pages and the heap still works", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const blocks = [];
    for (let i = 0; i < 2000; i++) blocks.push(heap.alloc(i % 3 === 0 ? 3000 : 200));
    for (let i = 0; i < 20; i++) blocks.push(heap.alloc(100_000));
    heap.check();
    const before = heap.stats().committedBytes;
    for (const p of blocks) heap.free(p);
    heap.check();
    const trimmed = heap.trim();
    heap.check();
    assert.ok(trimmed > 0);
    assert.equal(trimmed % PAGE_SIZE, 0);
    const after = heap.stats();
    assert.equal(after.committedBytes, before - trimmed - (trimmed / PAGE_SIZE) * META_BYTES_PER_PAGE, "committed bytes drop by the pages and their metadata");
    assert.ok(after.committedBytes < before);
    assert.equal(after.classes.length, 0, "empty spans were released");
    assert.equal(heap.trim(), 0, "a second trim finds nothing");
    const p = heap.alloc(5000);
    const l = heap.alloc(200_000);
    fillBlock(heap, p, 1);
    fillBlock(heap, l, 2);
    heap.check();
    assertBlockFilled(heap, p, 1);
    assertBlockFilled(heap, l, 2);
  });

  test("trim keeps pages in use and returns only the free tail", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const keep = heap.alloc(72_000);
    fillBlock(heap, keep, 9);
    const big = heap.alloc(2 * MIB);
    heap.free(big);
    const trimmed = heap.trim();
    heap.check();
    assert.ok(trimmed >= 2 * MIB);
    assert.ok(committedEnd(heap) >= keep + 9 * PAGE_SIZE);
    assertBlockFilled(heap, keep, 9);
  });

  test('with memory "resizable", trim shrinks the buffer', () => {
    const heap = new Heap({ memory: "resizable", maxSize: 16 * MIB, initialSize: 64 * KIB });
    const blocks = Array.from({ length: 40 }, () => heap.alloc(100_000));
    heap.check();
    const grown = heap.buffer.byteLength;
    for (const p of blocks) heap.free(p);
    const trimmed = heap.trim();
    heap.check();
    assert.ok(trimmed > 0);
    assert.ok(heap.buffer.byteLength <= grown - trimmed, `buffer ${heap.buffer.byteLength} after trimming ${trimmed} of ${grown}`);
    assert.equal(heap.u8.length, heap.buffer.byteLength, "views were refreshed to the new length");
    const p = heap.alloc(300_000);
    fillBlock(heap, p, 3);
    heap.check();
    assertBlockFilled(heap, p, 3);
  });
});
