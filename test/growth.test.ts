// Growth: the heap commits pages as it needs them, replaces its views over
// the grown memory, keeps every block's data, and honours maxSize, growBy
// and growAt; for every kind of backing memory.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, type HeapOptions, OutOfMemoryError, PAGE_SIZE } from "../src/index.js";
import { assertBlockFilled, dataBytes, expectError, fillBlock, KIB, MIB } from "./helpers.js";

// Every view the heap exposes covers the same, current buffer.
function assertViewsCurrent(heap: Heap): void {
  const buffer = heap.buffer;
  const views = [heap.u8, heap.i8, heap.u16, heap.i16, heap.u32, heap.i32, heap.f32, heap.f64, heap.dataView];
  for (const v of views) {
    assert.equal(v.buffer, buffer, `${v.constructor.name} is over the current buffer`);
    assert.equal(v.byteOffset, 0);
    assert.equal(v.byteLength, heap.u8.byteLength, `${v.constructor.name} covers the same bytes as u8`);
  }
  assert.ok(heap.u8.length > 0, "views are never detached");
  assert.ok(heap.u8.length >= buffer.byteLength - 7, "views cover the whole buffer");
}

interface Grown {
  heap: Heap;
  blocks: number[];
  oldU32: Uint32Array;
  oldBuffer: ArrayBuffer | SharedArrayBuffer;
}

// Allocates 10 KB blocks, each filled with its index, until the buffer has
// grown at least twice; checks views and data after every allocation.
function growHeap(options: HeapOptions): Grown {
  const heap = new Heap(options);
  heap.check();
  assertViewsCurrent(heap);
  const oldU32 = heap.u32;
  const oldBuffer = heap.buffer;
  const startLength = heap.buffer.byteLength;
  const blocks: number[] = [];
  let growths = 0;
  let length = startLength;
  while (growths < 2) {
    const p = heap.alloc(10_000);
    blocks.push(p);
    fillBlock(heap, p, blocks.length & 255);
    assertViewsCurrent(heap);
    assert.ok(heap.u8.length >= p + heap.sizeOf(p), "the views reach the new block");
    if (heap.buffer.byteLength !== length) {
      growths++;
      length = heap.buffer.byteLength;
      heap.check();
      blocks.forEach((q, i) => assertBlockFilled(heap, q, (i + 1) & 255));
    }
    assert.ok(blocks.length < 5000, "the heap should have grown");
  }
  heap.check();
  return { heap, blocks, oldU32, oldBuffer };
}

describe("growth", () => {
  test('"wasm" (default): a shared memory grows without detaching; new views cover the new pages', () => {
    const { heap, oldU32, oldBuffer } = growHeap({ initialSize: 64 * KIB, maxSize: 16 * MIB });
    assert.ok(heap.memory instanceof WebAssembly.Memory);
    assert.ok(heap.buffer instanceof SharedArrayBuffer, "Node allows shared memory: growth never detaches");
    assert.equal(heap.buffer, heap.memory.buffer);
    const oldLength = (oldBuffer as ArrayBufferLike).byteLength;
    assert.ok(oldLength > 0 && oldLength < heap.u8.length, "the old buffer keeps its old length");
    assert.ok(oldU32.length > 0 && oldU32.length < heap.u32.length, "a view read before growth is short: re-read heap.u32");
  });

  test("an unshared WebAssembly.Memory grows by detaching its old buffer; re-read views are fresh", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256 });
    const { heap, oldU32, oldBuffer } = growHeap({ memory, initialSize: 64 * KIB, maxSize: 16 * MIB });
    assert.equal(oldBuffer.byteLength, 0, "WebAssembly.Memory.grow detached the old buffer");
    assert.equal(oldU32.length, 0, "a view read before growth is detached: re-read heap.u32");
    assert.notEqual(heap.u32, oldU32);
  });

  test('"resizable": grows in place; old fixed-length views keep their old length', () => {
    const { heap, oldU32, oldBuffer } = growHeap({ memory: "resizable", initialSize: 64 * KIB, maxSize: 16 * MIB });
    assert.ok(heap.buffer instanceof ArrayBuffer && heap.buffer.resizable);
    assert.equal(heap.buffer, oldBuffer, "the same ArrayBuffer, resized");
    assert.ok(oldU32.length > 0 && oldU32.length < heap.u32.length);
  });

  test("a user-supplied WebAssembly.Memory grows up to maxSize", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256 }); // 16 MiB
    const { heap, blocks, oldU32 } = growHeap({ memory, initialSize: 64 * KIB, maxSize: 16 * MIB });
    assert.equal(heap.memory, memory);
    assert.equal(heap.buffer, memory.buffer);
    assert.equal(oldU32.length, 0);
    // errors.test.ts checks that a failed call leaves the image byte-identical;
    // here: the heap stays valid and keeps its blocks.
    expectError(() => heap.alloc(16 * MIB - 200 * KIB), OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY", "Heap.alloc");
    heap.check();
    blocks.forEach((p, i) => assertBlockFilled(heap, p, (i + 1) & 255));
  });

  test("a user-supplied growable SharedArrayBuffer grows in place", () => {
    const sab = new SharedArrayBuffer(64 * KIB, { maxByteLength: 8 * MIB });
    const { heap, oldU32, oldBuffer } = growHeap({ memory: sab, initialSize: 64 * KIB });
    assert.equal(heap.memory, sab);
    assert.equal(heap.buffer, sab);
    assert.equal(oldBuffer, sab);
    assert.ok(sab.byteLength > 64 * KIB);
    assert.ok(oldU32.length > 0 && oldU32.length < heap.u32.length, "old views keep their old length");
    assert.equal(heap.stats().reservedBytes, 8 * MIB, "maxSize defaults to the buffer's maxByteLength");
  });

  test("a user-supplied plain ArrayBuffer is used as is: OutOfMemoryError when full, then still valid", () => {
    const ab = new ArrayBuffer(MIB);
    const heap = new Heap({ memory: ab });
    heap.check();
    assert.equal(heap.memory, ab);
    assert.equal(heap.buffer, ab);
    const blocks: number[] = [];
    const err = expectError(() => {
      for (;;) {
        const p = heap.alloc(20_000);
        blocks.push(p);
        fillBlock(heap, p, blocks.length);
      }
    }, OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY", "Heap.alloc");
    assert.ok(err instanceof OutOfMemoryError);
    heap.check();
    assert.equal(heap.buffer, ab);
    assert.equal(ab.byteLength, MIB);
    assert.ok(blocks.length > 20);
    expectError(() => heap.alloc(20_000), OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY");
    heap.check();
    blocks.forEach((p, i) => assertBlockFilled(heap, p, i + 1));
    heap.free(blocks[0]!);
    heap.check();
    assert.equal(heap.alloc(20_000), blocks[0]);
    heap.check();
  });

  test("allocation past maxSize throws OutOfMemoryError and the heap stays usable", () => {
    const heap = new Heap({ initialSize: 64 * KIB, maxSize: 2 * MIB });
    const blocks: number[] = [];
    assert.throws(() => {
      for (;;) blocks.push(heap.alloc(50_000));
    }, OutOfMemoryError);
    heap.check();
    assert.ok(heap.buffer.byteLength <= 2 * MIB);
    heap.free(blocks.pop()!);
    blocks.push(heap.alloc(50_000));
    heap.check();
  });
});

describe("growth policy", () => {
  test("growAt < 1 commits ahead of need", () => {
    const lazy = new Heap({ initialSize: 128 * KIB, maxSize: 16 * MIB });
    const eager = new Heap({ initialSize: 128 * KIB, maxSize: 16 * MIB, growAt: 0.5, growBy: 256 * KIB });
    for (const heap of [lazy, eager]) {
      heap.alloc(72_000); // 9 of the 16 committed pages
      heap.check();
    }
    assert.equal(dataBytes(lazy), 128 * KIB, "growAt 1 grows only on need");
    assert.ok(dataBytes(eager) > 128 * KIB, `growAt 0.5 committed ahead: ${dataBytes(eager)} bytes`);
    assert.ok(dataBytes(eager) >= 128 * KIB + 256 * KIB, "by growBy");
  });

  test("growBy sets how far the heap grows beyond the need", () => {
    const results: number[] = [];
    for (const growBy of [0, 256 * KIB, 2 * MIB]) {
      const heap = new Heap({ initialSize: 64 * KIB, maxSize: 16 * MIB, growBy });
      const before = dataBytes(heap);
      heap.alloc(100_000); // needs 13 pages; 8 are committed
      heap.check();
      const grew = dataBytes(heap) - before;
      assert.ok(grew >= 5 * PAGE_SIZE + growBy, `growBy ${growBy}: grew by ${grew}`);
      assert.ok(grew <= 13 * PAGE_SIZE + growBy, `growBy ${growBy}: grew by ${grew}`);
      results.push(grew);
    }
    assert.ok(results[0]! < results[1]! && results[1]! < results[2]!);
  });

  test("the default step is a sixteenth of the committed pages, at least 256 KiB", () => {
    // A small heap grows by 256 KiB beyond the need.
    const small = new Heap({ initialSize: 64 * KIB, maxSize: 64 * MIB });
    let before = dataBytes(small);
    small.alloc(100_000); // needs 13 pages; 8 are committed
    small.check();
    let grew = dataBytes(small) - before;
    assert.ok(grew >= 5 * PAGE_SIZE + 256 * KIB && grew <= 13 * PAGE_SIZE + 256 * KIB, `a 64 KiB heap grew by ${grew}`);
    // A 16 MiB heap grows by 1 MiB beyond the need, not 2 MiB (an eighth) or more.
    const large = new Heap({ initialSize: 16 * MIB, maxSize: 64 * MIB });
    large.alloc(dataBytes(large) - 64 * KIB); // a large block leaves 8 free pages
    before = dataBytes(large);
    large.alloc(100_000);
    large.check();
    grew = dataBytes(large) - before;
    const step = Math.ceil(before / 16 / PAGE_SIZE) * PAGE_SIZE;
    assert.ok(grew >= 5 * PAGE_SIZE + step && grew <= 13 * PAGE_SIZE + step, `a ${before}-byte heap grew by ${grew}, expected the need plus ${step}`);
  });

  test("growth stops at maxSize even when growBy asks for more", () => {
    const heap = new Heap({ initialSize: 64 * KIB, maxSize: 2 * MIB, growBy: 64 * MIB });
    heap.alloc(100_000);
    heap.check();
    assert.ok(heap.stats().committedBytes <= 2 * MIB);
    assert.ok(heap.buffer.byteLength <= 2 * MIB);
  });

  const BAD: [string, HeapOptions][] = [
    ["growAt 0", { growAt: 0 }],
    ["growAt 2", { growAt: 2 }],
    ["growAt -0.5", { growAt: -0.5 }],
    ["growAt NaN", { growAt: NaN }],
    ["maxSize -1", { maxSize: -1 }],
    ["maxSize 2 ** 33", { maxSize: 2 ** 33 }],
    ["maxSize NaN", { maxSize: NaN }],
    ["maxSize too small for any page", { maxSize: 16 * KIB }],
    ["growBy -1", { growBy: -1 }],
    ["initialSize -1", { initialSize: -1 }],
  ];
  for (const [label, options] of BAD) {
    test(`option ${label} is a RangeError`, () => {
      const e = expectError(() => new Heap(options), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE", /^Heap: /);
      assert.ok(!(e instanceof OutOfMemoryError));
    });
  }

  test("a heap grown to all of a 4 GiB range keeps whole views (2^32 bytes, which >>> took as 0)", () => {
    // Untouched large blocks commit the range without writing it.
    const heap = new Heap({ maxSize: 2 ** 32 });
    const blocks = [heap.alloc(2 ** 32 - 256 * MIB)];
    for (;;) {
      try {
        blocks.push(heap.alloc(8 * MIB));
      } catch (e) {
        assert.ok(e instanceof OutOfMemoryError);
        break;
      }
    }
    assert.equal(heap.u8.length, 2 ** 32, "the heap committed its whole range");
    assertViewsCurrent(heap);
    assert.equal(heap.u32.length, 2 ** 30);
    assert.equal(heap.f64.length, 2 ** 29);
    const last = blocks.at(-1)!;
    heap.u32[(last >>> 2) + 1] = 0xdeadbeef;
    assert.equal(heap.u8[last + 4], 0xef);
    for (const b of blocks) heap.free(b);
    heap.check();
  });

  test("growAt 1 and the largest maxSize are accepted", () => {
    const heap = new Heap({ growAt: 1, maxSize: 16 * MIB, initialSize: 64 * KIB });
    heap.check();
    assert.equal(new Heap({ memory: "resizable", maxSize: 2 ** 32, initialSize: 0 }).stats().reservedBytes, 2 ** 32);
  });
});
