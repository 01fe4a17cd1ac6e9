// Errors: every bad input throws a typed error with a stable code and a
// message naming the API and the value, and leaves every byte of the heap
// image as it was (DESIGN.md principle 3).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DoubleFreeError, Heap, HeapCorruptionError, InvalidAddressError, InvalidImageError, OffheapError, OffheapRangeError,
  OffheapTypeError, OutOfMemoryError, PAGE_SIZE,
} from "../src/index.js";
import { HDR_MAGIC } from "../src/heap/layout.js";
import {
  assertBlockFilled, assertUnchanged, expectOutOfMemory, committedEnd, dataStart, expectError, expectRejected, fillBlock, hex, KIB, MIB,
  snapshot,
} from "./helpers.js";

const RANGE = "ERR_OFFHEAP_OUT_OF_RANGE";
const TYPE = "ERR_OFFHEAP_INVALID_ARG_TYPE";
const OOM = "ERR_OFFHEAP_OUT_OF_MEMORY";
const DOUBLE = "ERR_OFFHEAP_DOUBLE_FREE";
const INVALID = "ERR_OFFHEAP_INVALID_ADDRESS";

// A heap with live and freed blocks of both kinds, so that a rejected call
// has plenty of state it could damage.
function populated() {
  const heap = new Heap({ maxSize: 4 * MIB, initialSize: 512 * KIB });
  const small = heap.alloc(24);
  const medium = heap.alloc(100);
  const freedSmall = heap.alloc(24);
  const large = heap.alloc(72_000); // 9 pages
  const guard1 = heap.alloc(72_000);
  const freedLarge = heap.alloc(100_000); // 13 pages, between two live blocks
  const guard2 = heap.alloc(72_000);
  const str = heap.fromString("héllo");
  heap.free(freedSmall);
  heap.free(freedLarge);
  heap.check();
  return { heap, small, medium, freedSmall, large, guard1, freedLarge, guard2, str };
}

const BAD_SIZES: [string, unknown, typeof RangeError | typeof TypeError, string][] = [
  ["-1", -1, RangeError, RANGE],
  ["1.5", 1.5, RangeError, RANGE],
  ["NaN", NaN, RangeError, RANGE],
  ["Infinity", Infinity, RangeError, RANGE],
  ["2 ** 40", 2 ** 40, RangeError, RANGE],
  ["2 ** 53", 2 ** 53, RangeError, RANGE],
  ['"5"', "5", TypeError, TYPE],
  ["undefined", undefined, TypeError, TYPE],
  ["null", null, TypeError, TYPE],
];

describe("bad sizes", () => {
  for (const [label, size, type, code] of BAD_SIZES) {
    test(`alloc(${label}), calloc(${label}) and realloc(p, ${label}) throw ${type.name} with code ${code}`, () => {
      const { heap, small } = populated();
      fillBlock(heap, small, 0x5a);
      const calls: [string, () => unknown][] = [
        ["alloc", () => heap.alloc(size as number)],
        ["calloc", () => heap.calloc(size as number)],
        ["realloc", () => heap.realloc(small, size as number)],
      ];
      for (const [api, call] of calls) {
        const e = expectRejected(heap, call, type, code);
        assert.ok(!(e instanceof OffheapError), `${api}: argument errors are standard ${type.name}s, not OffheapErrors`);
        assert.match(e.message, /^Heap\.\w+: /, `${api}: message names the API`);
      }
      assert.equal(heap.sizeOf(small), 24);
      assertBlockFilled(heap, small, 0x5a);
    });
  }

  test("size errors name the API that was called (calloc, realloc(0, n))", () => {
    const { heap } = populated();
    expectRejected(heap, () => heap.alloc(-1), RangeError, RANGE, "Heap.alloc", "-1");
    expectRejected(heap, () => heap.calloc(-1), RangeError, RANGE, "Heap.calloc", "-1");
    expectRejected(heap, () => heap.calloc(2 ** 40), RangeError, RANGE, "Heap.calloc");
    expectRejected(heap, () => heap.realloc(0, -1), RangeError, RANGE, "Heap.realloc", "-1");
  });

  test("a size above maxSize is a RangeError, a size the heap cannot find room for is OutOfMemoryError", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    expectRejected(heap, () => heap.alloc(4 * MIB + 1), RangeError, RANGE, "Heap.alloc", String(4 * MIB + 1));
    // Within maxSize, but the metadata takes part of the range.
    expectOutOfMemory(heap, () => heap.alloc(4 * MIB), "Heap.alloc", String(4 * MIB));
  });
});

type Api = "free" | "realloc" | "sizeOf" | "bytes" | "readString";
const APIS: Api[] = ["free", "realloc", "sizeOf", "bytes", "readString"];

function call(heap: Heap, api: Api, addr: unknown): () => unknown {
  switch (api) {
    case "free": return () => heap.free(addr as number);
    case "realloc": return () => heap.realloc(addr as number, 16);
    case "sizeOf": return () => heap.sizeOf(addr as number);
    case "bytes": return () => heap.bytes(addr as number);
    case "readString": return () => heap.readString(addr as number);
  }
}

// What each API must say about an address that is not a live block start.
function expectBadAddress(heap: Heap, api: Api, addr: number, ...patterns: (string | RegExp)[]): Error {
  const name = addr >= 0 ? hex(addr) : String(addr);
  return expectRejected(heap, call(heap, api, addr), InvalidAddressError, INVALID, `Heap.${api}`, name, ...patterns);
}

describe("bad addresses", () => {
  for (const api of APIS) {
    test(`${api} of a freed small block: ${api === "free" || api === "realloc" ? "DoubleFreeError" : "InvalidAddressError"}`, () => {
      const { heap, freedSmall } = populated();
      if (api === "free" || api === "realloc") {
        const e = expectRejected(heap, call(heap, api, freedSmall), DoubleFreeError, DOUBLE, `Heap.${api}`, hex(freedSmall), "double free");
        assert.ok(e instanceof OffheapError);
      } else {
        expectBadAddress(heap, api, freedSmall, "not allocated");
      }
    });

    test(`${api} of an address inside a small block`, () => {
      const { heap, small, medium } = populated();
      expectBadAddress(heap, api, small + 8, `inside a 24-byte object at ${hex(small)}`);
      expectBadAddress(heap, api, small + 16, `inside a 24-byte object at ${hex(small)}`);
      expectBadAddress(heap, api, medium + 96, `inside a 104-byte object at ${hex(medium)}`);
    });

    test(`${api} of an address inside a large block`, () => {
      const { heap, large } = populated();
      expectBadAddress(heap, api, large + 8, "not the start of a live block", hex(large));
      expectBadAddress(heap, api, large + PAGE_SIZE, "not the start of a live block", hex(large));
      expectBadAddress(heap, api, large + 4 * PAGE_SIZE + 8, "not the start of a live block", hex(large));
    });

    test(`${api} of addresses outside the heap's pages`, () => {
      const { heap } = populated();
      const lo = dataStart(heap);
      const hi = committedEnd(heap);
      for (const addr of [8, 64, PAGE_SIZE, lo - 8, hi, hi + 8, hi + PAGE_SIZE, 2 ** 31, 2 ** 32 - 8, 2 ** 33, -8]) {
        expectBadAddress(heap, api, addr, "outside the heap");
      }
    });

    test(`${api} of an address in free pages (where a freed large block was, and never-used pages)`, () => {
      const { heap, freedLarge } = populated();
      for (const addr of [freedLarge, freedLarge + 8, freedLarge + PAGE_SIZE, freedLarge + 12 * PAGE_SIZE]) {
        expectBadAddress(heap, api, addr, "free pages");
      }
      expectBadAddress(heap, api, committedEnd(heap) - PAGE_SIZE, "free pages");
    });

    test(`${api} of a misaligned address`, () => {
      const { heap, small, large } = populated();
      for (const addr of [small + 1, small + 4, small + 7, large + 2, large + 4]) {
        expectBadAddress(heap, api, addr, "misaligned");
      }
    });

    test(`${api} of a non-number address: TypeError`, () => {
      const { heap } = populated();
      for (const addr of ["8", undefined, null, {}]) {
        const e = expectRejected(heap, call(heap, api, addr), TypeError, TYPE, `Heap.${api}`);
        assert.ok(!(e instanceof OffheapError));
      }
    });
  }

  test("BigInt sizes and addresses are TypeErrors", () => {
    const { heap, small } = populated();
    // The fast path's integer test throws V8's own TypeError for a BigInt
    // (no code; a typeof test there would cost every allocation).
    assert.throws(() => heap.alloc(8n as unknown as number), TypeError);
    assert.throws(() => heap.free(BigInt(small) as unknown as number), TypeError);
    heap.check();
    expectRejected(heap, () => heap.realloc(BigInt(small) as unknown as number, 8), TypeError, TYPE, "Heap.realloc");
  });

  test("free(0) does nothing; sizeOf(0) and readString(0) are rejected", () => {
    const { heap } = populated();
    const before = snapshot(heap);
    heap.free(0);
    heap.free(-0);
    heap.freeString(0);
    assertUnchanged(heap, before, "free(0)");
    expectBadAddress(heap, "sizeOf", 0);
    expectBadAddress(heap, "readString", 0);
  });

  test("the second free of a block that was reused by alloc is caught only once it is free again", () => {
    const { heap, small } = populated();
    heap.free(small);
    heap.check();
    expectRejected(heap, () => heap.free(small), DoubleFreeError, DOUBLE);
    expectRejected(heap, () => heap.realloc(small, 8), DoubleFreeError, DOUBLE);
  });

  test("an object still in the allocation cache (never handed out) counts as not allocated", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(64);
    heap.check();
    expectRejected(heap, () => heap.free(p + 64), DoubleFreeError, DOUBLE, hex(p + 64));
    expectRejected(heap, () => heap.sizeOf(p + 64), InvalidAddressError, INVALID, hex(p + 64));
  });

  test("an address in the unused tail of a span is rejected", () => {
    // Class 24 B: 341 objects in 8 KiB, 8 bytes of tail.
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(24);
    assert.equal(p % PAGE_SIZE, 0, "first object of a fresh span starts its page");
    expectRejected(heap, () => heap.free(p + 341 * 24), InvalidAddressError, INVALID, "Heap.free", hex(p + 341 * 24));
  });

  test("double free of a large block, and addresses in free pages after coalescing, say 'free pages'", () => {
    // A freed large block whose run merged into a free run before it: the
    // address is in free pages, and the message must not claim a live block.
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 512 * KIB });
    const a = heap.alloc(72_000);
    const b = heap.alloc(72_000);
    const guard = heap.alloc(72_000);
    heap.free(a);
    heap.free(b); // b's pages join a's free run
    heap.check();
    for (const addr of [a, b, b + PAGE_SIZE]) {
      expectRejected(heap, () => heap.free(addr), InvalidAddressError, INVALID, "Heap.free", hex(addr), "free pages");
    }
    heap.free(guard);
    heap.check();
  });

  test("addresses in a released small span say 'free pages'", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 512 * KIB });
    const big = heap.alloc(72_000);
    const s = heap.alloc(3000); // a span of its own after the large block
    const guard = heap.alloc(72_000);
    heap.free(big);
    heap.free(s);
    heap.trim(); // releases the now empty span; it coalesces with big's run
    heap.check();
    for (const addr of [s, s + PAGE_SIZE]) {
      expectRejected(heap, () => heap.free(addr), InvalidAddressError, INVALID, "Heap.free", hex(addr), "free pages");
    }
    heap.free(guard);
    heap.check();
  });
});

describe("out of memory", () => {
  test("large allocations past maxSize throw OutOfMemoryError; nothing is lost and the heap stays usable", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const blocks: number[] = [];
    for (;;) {
      let p: number;
      try {
        p = heap.alloc(100_000);
      } catch (e) {
        assert.ok(e instanceof OutOfMemoryError && e instanceof OffheapError, String(e));
        // The next attempt fails the same way and loses nothing.
        expectOutOfMemory(heap, () => heap.alloc(100_000), /^Heap\.alloc: cannot allocate 100000 bytes/);
        break;
      }
      heap.u32[p >>> 2] = blocks.length;
      blocks.push(p);
      heap.check();
      assert.ok(blocks.length < 100, "maxSize 4 MiB must stop the heap");
    }
    assert.ok(blocks.length >= 30, `only ${blocks.length} blocks of 100 KB fit in 4 MiB`);
    expectOutOfMemory(heap, () => heap.calloc(100_000));
    expectOutOfMemory(heap, () => heap.alloc(1_000_000));
    // Still usable: freed room is found again, old blocks are intact.
    heap.free(blocks[3]!);
    heap.free(blocks[7]!);
    heap.check();
    const again = [heap.alloc(100_000), heap.alloc(100_000)].sort((x, y) => x - y);
    assert.deepEqual(again, [blocks[3], blocks[7]]);
    heap.check();
    blocks.forEach((p, i) => i !== 3 && i !== 7 && assert.equal(heap.u32[p >>> 2], i));
    const small = heap.alloc(8);
    assert.ok(small > 0);
    heap.check();
  });

  test("small allocations past maxSize throw OutOfMemoryError and lose nothing", () => {
    // Allocation is deterministic: count how many fit, then replay on a
    // second heap and snapshot just before the failing call.
    const fill = (heap: Heap, n: number) => {
      for (let i = 0; i < n; i++) heap.alloc(1000);
    };
    const probe = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    let fits = 0;
    expectError(() => {
      for (;;) {
        probe.alloc(1000);
        fits++;
      }
    }, OutOfMemoryError, OOM, "Heap.alloc", "1000 bytes");
    probe.check();
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    fill(heap, fits);
    heap.check();
    expectOutOfMemory(heap, () => heap.alloc(1000));
    expectOutOfMemory(heap, () => heap.alloc(1000));
  });

  test("a failed large allocation loses nothing even when cached objects and empty spans exist", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const big: number[] = [];
    assert.throws(() => {
      for (;;) big.push(heap.alloc(100_000));
    }, OutOfMemoryError);
    heap.free(big.pop()!);
    const objs: number[] = [];
    for (let i = 0; i < 200; i++) objs.push(heap.alloc(100)); // three spans of the 104-byte class
    for (const p of objs) heap.free(p); // all 200 now sit on the class's cache list
    heap.check();
    expectOutOfMemory(heap, () => heap.alloc(3 * MIB));
  });

  test("realloc that runs out of memory leaves the old block untouched", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    const p = heap.alloc(100);
    fillBlock(heap, p, 0x77);
    const l = heap.alloc(72_000);
    fillBlock(heap, l, 0x66);
    const big: number[] = [];
    assert.throws(() => {
      for (;;) big.push(heap.alloc(100_000));
    }, OutOfMemoryError);
    heap.check();
    expectOutOfMemory(heap, () => heap.realloc(p, 3 * MIB));
    expectOutOfMemory(heap, () => heap.realloc(l, 3 * MIB));
    assert.equal(heap.sizeOf(p), 104);
    assertBlockFilled(heap, p, 0x77);
    assertBlockFilled(heap, l, 0x66);
    heap.free(p);
    heap.free(l);
    heap.check();
  });
});

describe("error classes", () => {
  test("heap errors extend OffheapError with stable codes and names", () => {
    const cases: [OffheapError, string, string][] = [
      [new OutOfMemoryError("m"), "OutOfMemoryError", OOM],
      [new DoubleFreeError("m"), "DoubleFreeError", DOUBLE],
      [new InvalidAddressError("m"), "InvalidAddressError", INVALID],
      [new HeapCorruptionError("S1", "m"), "HeapCorruptionError", "ERR_OFFHEAP_HEAP_CORRUPTION"],
      [new InvalidImageError("m"), "InvalidImageError", "ERR_OFFHEAP_INVALID_IMAGE"],
    ];
    for (const [e, name, code] of cases) {
      assert.ok(e instanceof OffheapError, name);
      assert.ok(e instanceof Error, name);
      assert.ok(!(e instanceof RangeError) && !(e instanceof TypeError), name);
      assert.equal(e.name, name);
      assert.equal(e.code, code);
      assert.ok(e.stack?.includes(name), `${name} has a stack naming it`);
    }
  });

  test("argument errors are RangeError/TypeError with codes, not OffheapError", () => {
    const r = new OffheapRangeError("m");
    assert.ok(r instanceof RangeError);
    assert.ok(!(r instanceof OffheapError));
    assert.equal(r.name, "RangeError");
    assert.equal(r.code, RANGE);
    const t = new OffheapTypeError("m");
    assert.ok(t instanceof TypeError);
    assert.ok(!(t instanceof OffheapError));
    assert.equal(t.name, "TypeError");
    assert.equal(t.code, TYPE);
  });

  test("check() reports a damaged image as HeapCorruptionError naming the invariant", () => {
    const { heap, freedSmall } = populated();
    heap.trim(); // the freed block goes back to its span's free list
    // A write through a dangling pointer: the freed block's first word is
    // the link of the span's free list it sits on.
    const link = heap.u32[freedSmall >>> 2]!;
    heap.u32[freedSmall >>> 2] = freedSmall + 4;
    const e = expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "Heap.check", /\[invariant S[12]\]$/);
    assert.match((e as HeapCorruptionError).invariant, /^S[12]$/);
    heap.u32[freedSmall >>> 2] = link;
    heap.check();
    heap.u32[HDR_MAGIC] = 0;
    const h1 = expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "[invariant H1]");
    assert.equal((h1 as HeapCorruptionError).invariant, "H1");
  });

  test("bytes() rejects a length outside the block with RangeError", () => {
    const { heap, small } = populated();
    for (const len of [-1, 25, 1.5, NaN]) {
      expectRejected(heap, () => heap.bytes(small, len), RangeError, RANGE, "Heap.bytes", String(len));
    }
  });

  test("fromString of a non-string is a TypeError", () => {
    const { heap } = populated();
    expectRejected(heap, () => heap.fromString(5 as unknown as string), TypeError, TYPE, "Heap.fromString");
  });
});
