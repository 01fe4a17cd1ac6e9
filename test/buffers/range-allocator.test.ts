// RangeAllocator: best fit, partial free, coalescing, rejected calls that
// change nothing, and a differential test that drives both indexes and a
// brute-force reference (a sorted array of free ranges) with the same seeded
// random operations, checking every result and every invariant after every
// step.
//
// OFFHEAP_SEED replays the differential test (its seed is in the test name);
// OFFHEAP_RANGE_OPS sets how many operations it runs (default 240,000).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_RANGE_BYTES, RangeAllocator, type FreeRange, type RangeIndexKind } from "../../src/buffers/range-allocator.js";
import { DoubleFreeError, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { expectError, randInt, rng } from "../helpers.js";

const KINDS: RangeIndexKind[] = ["treap", "avl"];
const TARGET_OPS = Number(process.env.OFFHEAP_RANGE_OPS ?? 240_000);
const BASE_SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

type ErrorClass = abstract new (...args: never[]) => Error;

/** The call must throw `type` and leave blocks(), freeSize and check() as they were. */
function expectRejected(ra: RangeAllocator, fn: () => unknown, type: ErrorClass, code: string, ...patterns: (string | RegExp)[]): void {
  const blocks = ra.blocks();
  const free = ra.freeSize;
  expectError(fn, type, code, ...patterns);
  assert.deepEqual(ra.blocks(), blocks, "a rejected call changed the free ranges");
  assert.equal(ra.freeSize, free, "a rejected call changed freeSize");
  ra.check();
}

/** Allocates `sizes` back to back from a fresh region and returns their offsets. */
function carve(ra: RangeAllocator, sizes: number[]): number[] {
  const offsets = sizes.map((s) => ra.allocate(s));
  let at = 0;
  for (let i = 0; i < sizes.length; i++) {
    assert.equal(offsets[i], at, `block ${i} follows block ${i - 1}`);
    at += sizes[i]!;
  }
  ra.check();
  return offsets;
}

const ranges = (...pairs: [number, number][]): FreeRange[] => pairs.map(([offset, size]) => ({ offset, size }));

test("the default index is the treap", () => {
  assert.equal(new RangeAllocator(10).index, "treap");
  assert.equal(new RangeAllocator(10, {}).index, "treap");
});

for (const kind of KINDS) {
  describe(`RangeAllocator (${kind})`, () => {
    test("a fresh region is one free range; the index is as asked", () => {
      const ra = new RangeAllocator(1000, { index: kind });
      assert.equal(ra.index, kind);
      assert.equal(ra.size, 1000);
      assert.equal(ra.freeSize, 1000);
      assert.equal(ra.rangeCount, 1);
      assert.deepEqual(ra.blocks(), ranges([0, 1000]));
      assert.deepEqual(ra.check(), { ranges: 1, sizeTreeHeight: 1, offsetTreeHeight: 1 });
    });

    test("best fit: the smallest free range that fits, carved from its start", () => {
      const ra = new RangeAllocator(200, { index: kind });
      //          guard hole guard hole guard hole guard
      const at = carve(ra, [5, 12, 5, 8, 5, 6, 5]);
      for (const i of [1, 3, 5]) ra.free(at[i]!, [12, 8, 6][(i - 1) / 2]!);
      ra.check();
      assert.equal(ra.find(7), at[3], "find agrees with allocate");
      assert.equal(ra.allocate(7), at[3], "7 goes to the 8-byte hole");
      assert.equal(ra.allocate(6), at[5], "6 goes to the 6-byte hole");
      assert.equal(ra.allocate(5), at[1], "5 goes to the 12-byte hole");
      assert.deepEqual(ra.blocks(), ranges([at[1]! + 5, 7], [at[3]! + 7, 1], [46, 154]));
      assert.equal(ra.allocate(2), at[1]! + 5, "2 goes to the 7-byte remainder, not the 1-byte one");
      assert.equal(ra.allocate(1), at[3]! + 7, "1 goes to the 1-byte remainder");
      ra.check();
    });

    test("among equal sizes, the lowest offset wins whatever the order of freeing", () => {
      const ra = new RangeAllocator(100, { index: kind });
      const at = carve(ra, [10, 8, 10, 8, 10, 8, 10]);
      ra.free(at[5]!, 8);
      ra.free(at[1]!, 8);
      ra.free(at[3]!, 8);
      assert.equal(ra.allocate(8), at[1]);
      assert.equal(ra.allocate(8), at[3]);
      assert.equal(ra.allocate(8), at[5]);
      assert.equal(ra.allocate(8), 64, "then the tail");
      ra.check();
    });

    test("partial free in the middle of an allocation, then the pieces around it", () => {
      const ra = new RangeAllocator(1000, { index: kind });
      const a = ra.allocate(100);
      const b = ra.allocate(100);
      assert.deepEqual([a, b], [0, 100]);
      ra.free(a + 30, 40);
      assert.deepEqual(ra.blocks(), ranges([30, 40], [200, 800]));
      assert.equal(ra.freeSize, 840);
      ra.check();
      ra.free(a, 10);
      assert.deepEqual(ra.blocks(), ranges([0, 10], [30, 40], [200, 800]));
      ra.free(a + 10, 20); // joins both neighbours
      assert.deepEqual(ra.blocks(), ranges([0, 70], [200, 800]));
      ra.free(a + 70, 30 + 50); // the rest of a and half of b at once
      assert.deepEqual(ra.blocks(), ranges([0, 150], [200, 800]));
      ra.free(150, 50);
      assert.deepEqual(ra.blocks(), ranges([0, 1000]));
      assert.equal(ra.freeSize, 1000);
      ra.check();
    });

    test("coalescing with the left, the right and both neighbours", () => {
      const ra = new RangeAllocator(100, { index: kind });
      carve(ra, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
      ra.free(20, 10);
      ra.free(60, 10);
      assert.equal(ra.rangeCount, 2);
      ra.free(30, 5); // left: [20, 30) grows
      assert.deepEqual(ra.blocks(), ranges([20, 15], [60, 10]));
      ra.free(55, 5); // right: [60, 70) grows down
      assert.deepEqual(ra.blocks(), ranges([20, 15], [55, 15]));
      ra.free(35, 20); // both: one range
      assert.deepEqual(ra.blocks(), ranges([20, 50]));
      ra.free(0, 20); // left edge of the region
      ra.free(70, 30); // right edge
      assert.deepEqual(ra.blocks(), ranges([0, 100]));
      assert.equal(ra.rangeCount, 1);
      ra.check();
    });

    test("freeing a range that overlaps a free range throws DoubleFreeError and changes nothing", () => {
      const ra = new RangeAllocator(300, { index: kind });
      carve(ra, [100, 100, 100]);
      ra.free(120, 40); // free: [120, 160)
      const code = "ERR_OFFHEAP_DOUBLE_FREE";
      expectRejected(ra, () => ra.free(120, 40), DoubleFreeError, code, "RangeAllocator.free: [120, 160) overlaps the free range [120, 160)");
      expectRejected(ra, () => ra.free(100, 21), DoubleFreeError, code, "[100, 121)");
      expectRejected(ra, () => ra.free(159, 10), DoubleFreeError, code, "[159, 169)");
      expectRejected(ra, () => ra.free(130, 5), DoubleFreeError, code, "[130, 135) overlaps the free range [120, 160)");
      expectRejected(ra, () => ra.free(50, 200), DoubleFreeError, code, "[50, 250) overlaps the free range [120, 160)");
      ra.free(100, 20); // touching is fine
      ra.free(160, 40);
      assert.deepEqual(ra.blocks(), ranges([100, 100]));
      expectRejected(ra, () => ra.free(0, 101), DoubleFreeError, code);
      expectRejected(ra, () => ra.free(199, 2), DoubleFreeError, code);
    });

    test("a range outside the region throws InvalidAddressError and changes nothing", () => {
      const ra = new RangeAllocator(100, { index: kind });
      ra.allocate(100);
      const code = "ERR_OFFHEAP_INVALID_ADDRESS";
      expectRejected(ra, () => ra.free(90, 11), InvalidAddressError, code, "RangeAllocator.free: [90, 101) is outside the region [0, 100)");
      expectRejected(ra, () => ra.free(100, 1), InvalidAddressError, code, "outside");
      expectRejected(ra, () => ra.free(-1, 1), InvalidAddressError, code, "offset -1 is not a non-negative integer");
      expectRejected(ra, () => ra.free(1.5, 1), InvalidAddressError, code, "offset 1.5");
      expectRejected(ra, () => ra.free(NaN, 1), InvalidAddressError, code, "offset NaN");
      expectRejected(ra, () => ra.free(Infinity, 1), InvalidAddressError, code);
      assert.equal(ra.freeSize, 0);
    });

    test("bad sizes throw RangeError, non-numbers TypeError, and change nothing", () => {
      const ra = new RangeAllocator(100, { index: kind });
      ra.allocate(10);
      for (const bad of [0, -1, 1.5, NaN, Infinity, MAX_RANGE_BYTES + 1]) {
        for (const call of [() => ra.allocate(bad), () => ra.find(bad), () => ra.free(0, bad)]) {
          expectRejected(ra, call, OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", `size ${bad} is not an integer in [1, ${MAX_RANGE_BYTES}]`);
        }
      }
      const str = "8" as unknown as number;
      expectRejected(ra, () => ra.allocate(str), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "RangeAllocator.allocate: size 8 is a string");
      expectRejected(ra, () => ra.find(str), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
      expectRejected(ra, () => ra.free(0, str), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
      expectRejected(ra, () => ra.free(str, 1), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "offset 8 is a string");
      expectRejected(ra, () => ra.reset(-1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "RangeAllocator.reset: region size -1");
      expectRejected(ra, () => ra.reset(MAX_RANGE_BYTES + 1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
      expectRejected(ra, () => ra.reset(str), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
      for (const bad of [-1, 0.5, NaN, MAX_RANGE_BYTES + 1]) expectError(() => new RangeAllocator(bad, { index: kind }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "RangeAllocator: region size");
      expectError(() => new RangeAllocator(10, { index: "splay" as RangeIndexKind }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", '"splay"');
    });

    test("allocate and find return -1 when no range fits, and change nothing", () => {
      const ra = new RangeAllocator(100, { index: kind });
      assert.equal(ra.allocate(101), -1);
      assert.equal(ra.find(101), -1);
      carve(ra, [30, 10, 30, 10, 20]);
      ra.free(30, 10);
      ra.free(70, 10);
      assert.equal(ra.allocate(11), -1, "20 bytes free, but in two pieces");
      assert.equal(ra.find(11), -1);
      assert.deepEqual(ra.blocks(), ranges([30, 10], [70, 10]));
      assert.equal(ra.freeSize, 20);
      ra.check();
    });

    test("find returns allocate's answer and allocates nothing", () => {
      const ra = new RangeAllocator(1 << 20, { index: kind });
      assert.equal(ra.find(1024), 0);
      assert.equal(ra.find(1024), 0);
      assert.equal(ra.freeSize, 1 << 20);
      ra.allocate(10);
      assert.equal(ra.find(1), 10);
    });

    test("reset frees everything, optionally with a new size", () => {
      const ra = new RangeAllocator(1000, { index: kind });
      for (let i = 0; i < 50; i++) ra.allocate(7);
      for (let i = 0; i < 50; i += 2) ra.free(i * 7, 7);
      assert.equal(ra.rangeCount, 26, "25 holes and the tail");
      ra.reset();
      assert.deepEqual(ra.blocks(), ranges([0, 1000]));
      assert.equal(ra.freeSize, 1000);
      ra.check();
      ra.reset(64);
      assert.equal(ra.size, 64);
      assert.deepEqual(ra.blocks(), ranges([0, 64]));
      assert.equal(ra.allocate(65), -1);
      ra.reset(0);
      assert.deepEqual(ra.blocks(), []);
      assert.equal(ra.allocate(1), -1);
      expectRejected(ra, () => ra.free(0, 1), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
      assert.deepEqual(ra.check(), { ranges: 0, sizeTreeHeight: 0, offsetTreeHeight: 0 });
      ra.reset(10);
      assert.equal(ra.allocate(10), 0);
      ra.check();
    });

    test(`a region of MAX_RANGE_BYTES (2^32): ranges up to the last offset`, () => {
      const max = MAX_RANGE_BYTES;
      const ra = new RangeAllocator(max, { index: kind });
      assert.equal(ra.allocate(max), 0);
      assert.equal(ra.freeSize, 0);
      assert.deepEqual(ra.blocks(), []);
      ra.free(0, max);
      assert.deepEqual(ra.blocks(), ranges([0, max]));
      assert.equal(ra.allocate(max - 1), 0);
      assert.equal(ra.allocate(1), max - 1);
      ra.free(max - 1, 1);
      ra.free(2 ** 31, 2 ** 30);
      assert.deepEqual(ra.blocks(), ranges([2 ** 31, 2 ** 30], [max - 1, 1]));
      assert.equal(ra.allocate(2 ** 30), 2 ** 31);
      ra.free(0, max - 1);
      assert.deepEqual(ra.blocks(), ranges([0, max]));
      expectRejected(ra, () => ra.free(max - 1, 1), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", `[${max - 1}, ${max})`);
      ra.check();
    });

    test("exhaustive search: a fitting range left of a smaller one is found (GoMem's single tree says -1)", () => {
      // GoMem's default tree orders nodes by offset and heap-orders them by
      // size, smallest on top. After these frees its root is [200, 210) with
      // [0, 100) as its left child; find(50) sees 10 < 50 at the root, looks
      // only to the right, and reports no space.
      const ra = new RangeAllocator(300, { index: kind });
      carve(ra, [100, 100, 10, 90]);
      ra.free(200, 10);
      ra.free(0, 100);
      assert.equal(ra.find(50), 0);
      assert.equal(ra.allocate(50), 0);
      assert.equal(ra.allocate(50), 50);
      assert.equal(ra.allocate(10), 200);
      assert.equal(ra.allocate(1), -1);
      ra.check();
    });

    test("balanced under orders that degenerate unbalanced trees", () => {
      // 20,000 holes whose sizes grow with their offsets, freed in address
      // order: each insert is a new maximum of both trees, which makes an
      // unbalanced BST (or GoMem's size-heap tree) a list.
      const n = 20_000;
      const sizes = Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? 1 + (i >> 1) : 1));
      const total = sizes.reduce((a, b) => a + b, 0);
      const ra = new RangeAllocator(total, { index: kind });
      const at = sizes.map((s) => ra.allocate(s));
      for (let i = 0; i < 2 * n; i += 2) ra.free(at[i]!, sizes[i]!);
      const shape = ra.check();
      assert.equal(shape.ranges, n);
      const bound = kind === "avl" ? 1.45 * Math.log2(n + 2) : 4 * Math.log2(n);
      assert.ok(shape.sizeTreeHeight <= bound, `size tree height ${shape.sizeTreeHeight} > ${bound.toFixed(1)}`);
      assert.ok(shape.offsetTreeHeight <= bound, `offset tree height ${shape.offsetTreeHeight} > ${bound.toFixed(1)}`);
      // Best fit through all of them: each request takes its exact hole.
      for (let s = n; s >= 1; s -= 997) assert.equal(ra.allocate(s), at[2 * (s - 1)]);
      ra.check();
    });

    test("check() names the broken invariant", () => {
      const fresh = (): RangeAllocator => {
        const ra = new RangeAllocator(1000, { index: kind });
        carve(ra, [100, 100, 100, 100, 100]);
        ra.free(100, 100);
        ra.free(300, 100);
        return ra;
      };
      const internals = (ra: RangeAllocator) => ra as unknown as { freeBytes: number; nodes: { mem: Uint32Array } };
      const expectBroken = (ra: RangeAllocator, id: string) => {
        const e = expectError(() => ra.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", `[invariant ${id}]`);
        assert.equal((e as HeapCorruptionError).invariant, id);
      };
      let ra = fresh();
      internals(ra).freeBytes += 1;
      expectBroken(ra, "RA6");
      // Node words: +0 start, +1 size - 1 (see range-index.ts). Node 1 is
      // [500, 1000) (the region's node, carved), node 2 [100, 200), node 3 [300, 400).
      ra = fresh();
      internals(ra).nodes.mem[(2 << 3) + 1] = 299; // [100, 400): larger than node 3, yet before it in the size tree
      expectBroken(ra, "RA1");
      ra = fresh();
      internals(ra).nodes.mem[3 << 3] = 200; // [200, 300) touches [100, 200); both trees keep their order
      expectBroken(ra, "RA5");
      ra = fresh();
      internals(ra).nodes.mem[(1 << 3) + 1] = 999; // [500, 1500): past the end of the region
      expectBroken(ra, "RA4");
      ra = fresh();
      const mem = internals(ra).nodes.mem;
      mem[4] = 0; // the offset tree's root slot: the offset tree loses its nodes
      expectBroken(ra, "RA3");
      ra = fresh();
      const m2 = internals(ra).nodes.mem;
      if (kind === "avl") {
        m2[(m2[2]! << 3) + 6] = 9; // the size tree root's height
        expectBroken(ra, "AV1");
      } else {
        const root = m2[2]!;
        const child = m2[(root << 3) + 2] || m2[(root << 3) + 3]!;
        m2[(child << 3) + 6] = m2[(root << 3) + 6]! + 1; // a child outranks the root
        expectBroken(ra, "TR1");
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Differential test: both indexes against a brute-force reference.

/** The reference: free ranges as a sorted array of [start, end), with the same rules and errors. */
class Reference {
  free: [number, number][] = [];
  size = 0;
  freeBytes = 0;

  constructor(size: number) {
    this.reset(size);
  }

  reset(size: number): void {
    this.size = size;
    this.freeBytes = size;
    this.free = size > 0 ? [[0, size]] : [];
  }

  private sizeOk(size: unknown): void {
    if (typeof size !== "number") throw new OffheapTypeError("size");
    if (!(Number.isInteger(size) && size >= 1 && size <= MAX_RANGE_BYTES)) throw new OffheapRangeError("size");
  }

  find(size: number): number {
    this.sizeOk(size);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]![1] - this.free[i]![0];
      if (len >= size && (best < 0 || len < this.free[best]![1] - this.free[best]![0])) best = i;
    }
    return best;
  }

  allocate(size: number): number {
    const i = this.find(size);
    if (i < 0) return -1;
    const r = this.free[i]!;
    const offset = r[0];
    if (r[1] - r[0] === size) this.free.splice(i, 1);
    else r[0] += size;
    this.freeBytes -= size;
    return offset;
  }

  release(offset: number, size: number): void {
    this.sizeOk(size);
    if (typeof offset !== "number") throw new OffheapTypeError("offset");
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size) throw new InvalidAddressError("range");
    const end = offset + size;
    if (this.free.some(([s, e]) => s < end && offset < e)) throw new DoubleFreeError("overlap");
    let i = 0;
    while (i < this.free.length && this.free[i]![0] < offset) i++;
    this.free.splice(i, 0, [offset, end]);
    if (i + 1 < this.free.length && this.free[i + 1]![0] === end) {
      this.free[i]![1] = this.free[i + 1]![1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]![1] === offset) {
      this.free[i - 1]![1] = this.free[i]![1];
      this.free.splice(i, 1);
    }
    this.freeBytes += size;
  }

  blocks(): FreeRange[] {
    return this.free.map(([s, e]) => ({ offset: s, size: e - s }));
  }

  /** The allocated runs: the gaps between free ranges. */
  used(): [number, number][] {
    const out: [number, number][] = [];
    let at = 0;
    for (const [s, e] of this.free) {
      if (s > at) out.push([at, s]);
      at = e;
    }
    if (at < this.size) out.push([at, this.size]);
    return out;
  }
}

type Outcome = { value: unknown } | { error: string };

function run(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch (e) {
    return { error: (e as Error).constructor.name };
  }
}

/** A request size: mostly small against the region, sometimes large enough to fail. */
function pickSize(next: () => number, region: number): number {
  const r = next();
  if (r < 0.05) return randInt(next, 1, Math.max(1, region * 2));
  const top = Math.max(1, Math.min(region, 1 << randInt(next, 0, 12)));
  return randInt(next, 1, top);
}

function pickRegion(next: () => number): number {
  const r = next();
  if (r < 0.02) return MAX_RANGE_BYTES;
  if (r < 0.1) return randInt(next, 0, 64);
  if (r < 0.6) return randInt(next, 64, 8192);
  return randInt(next, 8192, 1 << 20);
}

test(`differential: treap, avl and a brute-force reference agree on ${TARGET_OPS} random operations (seed ${BASE_SEED}; replay: OFFHEAP_SEED=${BASE_SEED})`, { timeout: 10 * 60_000 }, () => {
  const next = rng(BASE_SEED);
  let region = pickRegion(next);
  const ref = new Reference(region);
  const real = KINDS.map((kind) => new RangeAllocator(region, { index: kind }));
  const trace: string[] = [];
  const counts: Record<string, number> = {};
  let maxRanges = 0;
  for (let step = 0; step < TARGET_OPS; step++) {
    let op: string;
    let call: (a: RangeAllocator | Reference) => unknown;
    const r = next();
    const used = ref.used();
    if (r < 0.38) {
      const size = pickSize(next, region);
      op = `allocate(${size})`;
      call = (a) => a.allocate(size);
    } else if (r < 0.75 && used.length > 0) {
      // Any sub-range of an allocated run: a whole allocation, part of one, or several.
      const [s, e] = used[randInt(next, 0, used.length - 1)]!;
      const from = next() < 0.3 ? s : randInt(next, s, e - 1);
      const to = next() < 0.3 ? e : randInt(next, from + 1, e);
      op = `free(${from}, ${to - from})`;
      call = (a) => (a instanceof Reference ? a.release(from, to - from) : a.free(from, to - from));
    } else if (r < 0.84) {
      const size = pickSize(next, region);
      op = `find(${size})`;
      call = (a) => (a instanceof Reference ? (a.find(size) < 0 ? -1 : a.free[a.find(size)]![0]) : a.find(size));
    } else if (r < 0.9993) {
      // Deliberate misuse: overlap a free range, leave the region, or bad arguments.
      let offset: number;
      let size: number;
      const kindOfBad = randInt(next, 0, 5);
      if (kindOfBad <= 2 && ref.free.length > 0) {
        const [s, e] = ref.free[randInt(next, 0, ref.free.length - 1)]!;
        offset = Math.max(0, randInt(next, s - 8, e - 1));
        size = randInt(next, Math.max(1, s - offset + 1), Math.max(1, s - offset + 1) + 16);
        if (offset + size > region) size = region - offset;
      } else if (kindOfBad === 3) {
        offset = randInt(next, 0, region + 4);
        size = region - offset + randInt(next, 1, 8);
      } else {
        const bads = [0, -1, 2.5, NaN, MAX_RANGE_BYTES + 1, "7" as unknown as number];
        offset = next() < 0.5 ? randInt(next, 0, region) : bads[randInt(next, 0, bads.length - 1)]!;
        size = next() < 0.5 ? randInt(next, 1, 8) : bads[randInt(next, 0, bads.length - 1)]!;
      }
      op = `badFree(${String(offset)}, ${String(size)})`;
      call = (a) => (a instanceof Reference ? a.release(offset, size) : a.free(offset, size));
    } else {
      const size = next() < 0.5 ? region : pickRegion(next);
      op = `reset(${size})`;
      call = (a) => a.reset(size);
      region = size;
    }
    const name = op.slice(0, op.indexOf("("));
    counts[name] = (counts[name] ?? 0) + 1;
    trace.push(op);
    if (trace.length > 12) trace.shift();
    const want = run(() => call(ref));
    const where = () => `step ${step} (seed ${BASE_SEED}); last operations: ${trace.join(", ")}`;
    for (let i = 0; i < real.length; i++) {
      const ra = real[i]!;
      const got = run(() => call(ra));
      assert.deepEqual(got, want, `${KINDS[i]}: ${op} returned ${JSON.stringify(got)}, the reference ${JSON.stringify(want)} at ${where()}`);
      assert.equal(ra.freeSize, ref.freeBytes, `${KINDS[i]}: freeSize at ${where()}`);
      assert.equal(ra.rangeCount, ref.free.length, `${KINDS[i]}: rangeCount at ${where()}`);
      try {
        ra.check();
      } catch (e) {
        assert.fail(`${KINDS[i]}: ${(e as Error).message} at ${where()}`);
      }
      if (ref.free.length < 64 || step % 16 === 0) assert.deepEqual(ra.blocks(), ref.blocks(), `${KINDS[i]}: blocks() at ${where()}`);
    }
    if (ref.free.length > maxRanges) maxRanges = ref.free.length;
  }
  console.log(`differential: ${TARGET_OPS} operations (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}), up to ${maxRanges} free ranges, seed ${BASE_SEED}`);
});
