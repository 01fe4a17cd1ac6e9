// BuddyAllocator: rounding, alignment, merging, rejected calls that change
// nothing, arenas that are not a power of two, and a seeded model test
// against a per-unit occupancy map with check() after every step.
//
// OFFHEAP_SEED replays the model test (its seed is in the test name);
// OFFHEAP_BUDDY_OPS sets how many operations it runs (default 150,000).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BuddyAllocator, MAX_BUDDY_UNITS } from "../../src/buffers/buddy-allocator.js";
import { DoubleFreeError, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { expectError, randInt, rng } from "../helpers.js";

const TARGET_OPS = Number(process.env.OFFHEAP_BUDDY_OPS ?? 150_000);
const BASE_SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

type ErrorClass = abstract new (...args: never[]) => Error;
type Internals = { longest: Uint8Array; orderAt: Uint8Array; nFree: number };
const internals = (b: BuddyAllocator) => b as unknown as Internals;

/** The call must throw `type`; the tables and freeUnits must be as before, and check() must pass. */
function expectRejected(b: BuddyAllocator, fn: () => unknown, type: ErrorClass, code: string, ...patterns: (string | RegExp)[]): void {
  const longest = internals(b).longest.slice();
  const orderAt = internals(b).orderAt.slice();
  const free = b.freeUnits;
  expectError(fn, type, code, ...patterns);
  assert.deepEqual(internals(b).longest, longest, "a rejected call changed the tree");
  assert.deepEqual(internals(b).orderAt, orderAt, "a rejected call changed the block starts");
  assert.equal(b.freeUnits, free, "a rejected call changed freeUnits");
  b.check();
}

describe("BuddyAllocator", () => {
  test("blocks are powers of two, aligned to their size, at unit × unitSize", () => {
    const b = new BuddyAllocator({ unitSize: 64, units: 1024 });
    assert.equal(b.units, 1024);
    assert.equal(b.unitSize, 64);
    assert.equal(b.freeUnits, 1024);
    b.check();
    const a = b.alloc(1);
    const c = b.alloc(3);
    const d = b.alloc(1000);
    assert.deepEqual([a, c, d], [0, 4 * 64, -1], "3 units take the free 4-unit block at unit 4; 1024 no longer fit");
    assert.equal(b.sizeOf(a), 1);
    assert.equal(b.sizeOf(c), 4, "3 rounds up to 4");
    assert.equal(b.freeUnits, 1019);
    b.free(c);
    b.free(a);
    assert.equal(b.alloc(1000), 0, "1000 rounds up to 1024: the whole arena once everything merged");
    assert.equal(b.sizeOf(0), 1024);
    assert.equal(b.freeUnits, 0);
    assert.equal(b.alloc(1), -1);
    b.free(0);
    assert.equal(b.freeUnits, 1024);
    b.check();
  });

  test("a request takes the tightest free block, keeping larger ones whole", () => {
    const b = new BuddyAllocator({ units: 16 });
    assert.equal(b.alloc(8), 0);
    assert.equal(b.alloc(1), 8);
    b.free(0);
    // Free: [0, 8), [9, 10), [10, 12), [12, 16). A 2-unit request fits the
    // free pair at 10; leftmost-first (GoMem) would split the 8-unit block.
    assert.equal(b.alloc(2), 10);
    assert.equal(b.alloc(4), 12);
    assert.equal(b.alloc(1), 9);
    assert.equal(b.alloc(8), 0, "the 8-unit block stayed whole");
    assert.equal(b.freeUnits, 0);
    b.check();
  });

  test("freed buddies merge back into larger blocks", () => {
    const b = new BuddyAllocator({ units: 64 });
    const offs = Array.from({ length: 64 }, () => b.alloc(1));
    assert.deepEqual(offs, Array.from({ length: 64 }, (_, i) => i));
    assert.equal(b.alloc(1), -1);
    for (let i = 0; i < 64; i += 2) b.free(i);
    assert.equal(b.alloc(2), -1, "32 free units, but no two are buddies");
    for (let i = 1; i < 64; i += 2) {
      b.free(i);
      b.check();
    }
    assert.equal(b.alloc(64), 0);
    b.check();
  });

  test("double free throws DoubleFreeError and changes nothing", () => {
    const b = new BuddyAllocator({ unitSize: 8, units: 32 });
    const a = b.alloc(4);
    const c = b.alloc(4);
    b.free(a);
    const code = "ERR_OFFHEAP_DOUBLE_FREE";
    expectRejected(b, () => b.free(a), DoubleFreeError, code, "BuddyAllocator.free: offset 0 is not allocated");
    expectRejected(b, () => b.free(64 * 2), DoubleFreeError, code, "offset 128", "never handed out");
    b.free(c);
    expectRejected(b, () => b.free(c), DoubleFreeError, code);
    expectRejected(b, () => b.sizeOf(c), DoubleFreeError, code, "BuddyAllocator.sizeOf");
  });

  test("offsets that are not the start of a live block throw InvalidAddressError and change nothing", () => {
    const b = new BuddyAllocator({ unitSize: 64, units: 100 });
    const a = b.alloc(8);
    assert.equal(a, 64 * 64, "the tighter half: units [64, 100) hold at most 32, [0, 64) holds 64");
    const code = "ERR_OFFHEAP_INVALID_ADDRESS";
    expectRejected(b, () => b.free(a + 64), InvalidAddressError, code, `offset ${a + 64} is inside the live block of 8 units at offset ${a}`);
    expectRejected(b, () => b.free(a + 7 * 64), InvalidAddressError, code, "inside the live block of 8 units");
    expectRejected(b, () => b.free(32), InvalidAddressError, code, "offset 32 is not a multiple of the unit size 64");
    expectRejected(b, () => b.free(100 * 64), InvalidAddressError, code, "offset 6400 is outside the arena [0, 6400)");
    expectRejected(b, () => b.free(128 * 64), InvalidAddressError, code, "outside");
    expectRejected(b, () => b.free(-64), InvalidAddressError, code, "offset -64");
    expectRejected(b, () => b.free(NaN), InvalidAddressError, code, "offset NaN");
    expectRejected(b, () => b.free(0.5), InvalidAddressError, code);
    expectRejected(b, () => b.sizeOf(a + 64), InvalidAddressError, code, "BuddyAllocator.sizeOf");
    expectRejected(b, () => b.free("0" as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "offset 0 is a string");
    b.free(a);
    b.check();
  });

  test("bad sizes throw RangeError (TypeError for non-numbers) and change nothing; too large returns -1", () => {
    const b = new BuddyAllocator({ units: 256 });
    b.alloc(5);
    for (const bad of [0, -1, 1.5, NaN, Infinity, MAX_BUDDY_UNITS + 1]) {
      expectRejected(b, () => b.alloc(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", `BuddyAllocator.alloc: units ${bad} is not an integer in [1, ${MAX_BUDDY_UNITS}]`);
    }
    expectRejected(b, () => b.alloc("4" as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
    assert.equal(b.alloc(257), -1);
    assert.equal(b.alloc(MAX_BUDDY_UNITS), -1);
    assert.equal(b.alloc(128), 128);
    assert.equal(b.alloc(128), -1, "the first half is split");
    b.check();
  });

  test("constructor arguments are validated", () => {
    for (const units of [0, -1, 1.5, NaN, MAX_BUDDY_UNITS + 1]) {
      expectError(() => new BuddyAllocator({ units }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", `units ${units}`);
    }
    for (const unitSize of [0, -4, 2.5]) {
      expectError(() => new BuddyAllocator({ units: 8, unitSize }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", `unitSize ${unitSize}`);
    }
    expectError(() => new BuddyAllocator({ units: 2 ** 30, unitSize: 2 ** 24 }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "2^53");
    expectError(() => new BuddyAllocator({ units: "8" as unknown as number }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
  });

  test("an arena that is not a power of two: the tail past `units` is never handed out", () => {
    const b = new BuddyAllocator({ units: 100 });
    assert.equal(b.alloc(128), -1);
    assert.equal(b.alloc(64), 0);
    assert.equal(b.alloc(64), -1, "36 units left: 32 + 4");
    assert.equal(b.alloc(32), 64);
    assert.equal(b.alloc(4), 96);
    assert.equal(b.alloc(1), -1);
    assert.equal(b.freeUnits, 0);
    b.check();
    b.free(96);
    b.free(64);
    assert.equal(b.freeUnits, 36);
    assert.equal(b.alloc(33), -1);
    b.check();
    const one = new BuddyAllocator({ units: 1, unitSize: 10 });
    assert.equal(one.alloc(1), 0);
    assert.equal(one.alloc(1), -1);
    one.free(0);
    one.check();
  });

  test("offsets past 2^32 with a large unit size", () => {
    const b = new BuddyAllocator({ units: 2 ** 21, unitSize: 4096 });
    assert.equal(b.alloc(2 ** 20), 0);
    assert.equal(b.alloc(2 ** 19), 2 ** 32);
    assert.equal(b.alloc(1), 2 ** 32 + 2 ** 31);
    assert.equal(b.sizeOf(2 ** 32), 2 ** 19);
    expectRejected(b, () => b.free(2 ** 32 + 4096), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", `inside the live block of ${2 ** 19} units at offset ${2 ** 32}`);
    b.free(2 ** 32);
    b.free(0);
    b.free(2 ** 32 + 2 ** 31);
    assert.equal(b.freeUnits, 2 ** 21);
    b.check();
  });

  test("reset frees everything", () => {
    const b = new BuddyAllocator({ units: 48 });
    for (let i = 0; i < 10; i++) b.alloc(3);
    b.reset();
    assert.equal(b.freeUnits, 48);
    b.check();
    assert.equal(b.alloc(32), 0);
    assert.equal(b.alloc(16), 32);
    expectRejected(b, () => b.free(4), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
  });

  test("check() names the broken invariant", () => {
    // 12 units in a 16-unit tree. alloc(4) takes units [8, 12) (the tighter
    // half): node 6 at height 2, with nodes 12, 13 and leaves 24-27 inside.
    // alloc(1) takes unit 0 (leaf 16). Leaves are 16 + unit; 28-31 lie past the arena.
    const fresh = () => {
      const b = new BuddyAllocator({ units: 12 });
      assert.equal(b.alloc(4), 8);
      assert.equal(b.alloc(1), 0);
      b.check();
      return b;
    };
    const expectBroken = (b: BuddyAllocator, id: string) => {
      const e = expectError(() => b.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", `[invariant ${id}]`);
      assert.equal((e as HeapCorruptionError).invariant, id);
    };
    let b = fresh();
    internals(b).nFree++;
    expectBroken(b, "BD5");
    b = fresh();
    internals(b).longest[1] = 5;
    expectBroken(b, "BD1");
    b = fresh();
    internals(b).longest[6] = 3; // the live block's node claims to be free
    expectBroken(b, "BD2");
    b = fresh();
    internals(b).longest[12] = 0; // a node inside the live block lost its fully-free value
    expectBroken(b, "BD2");
    b = fresh();
    internals(b).orderAt[9] = 1; // a second block start inside the live block
    expectBroken(b, "BD2");
    b = fresh();
    internals(b).longest[16 + 13] = 1; // unit 13 lies past the arena
    expectBroken(b, "BD3");
    b = fresh();
    internals(b).orderAt[5] = 2; // an order-1 block cannot start at odd unit 5: no node accounts for it
    expectBroken(b, "BD4");
  });
});

// ---------------------------------------------------------------------------
// Model test: a per-unit occupancy map decides exactly what must happen.

interface Live {
  unit: number;
  order: number;
}

test(`model: ${TARGET_OPS} random buddy operations against an occupancy map (seed ${BASE_SEED}; replay: OFFHEAP_SEED=${BASE_SEED})`, { timeout: 10 * 60_000 }, () => {
  const next = rng(BASE_SEED);
  const counts: Record<string, number> = {};
  let ops = 0;
  while (ops < TARGET_OPS) {
    const units = next() < 0.3 ? 2 ** randInt(next, 0, 10) : randInt(next, 1, 700);
    const unitSize = [1, 3, 8, 64, 4096][randInt(next, 0, 4)]!;
    const b = new BuddyAllocator({ units, unitSize });
    // owner[u]: 0 when free, else 1 + the index in `live` of the block covering u.
    const owner = new Int32Array(units);
    let live: Live[] = [];
    let freed: number[] = [];
    const steps = randInt(next, 200, 3000);
    const trace: string[] = [];
    const rebuild = () => {
      owner.fill(0);
      live.forEach((blk, k) => owner.fill(k + 1, blk.unit, blk.unit + 2 ** blk.order));
    };
    for (let step = 0; step < steps && ops < TARGET_OPS; step++, ops++) {
      const where = () => `arena of ${units} units of ${unitSize} B, step ${step} (seed ${BASE_SEED}); last: ${trace.join(", ")}`;
      const r = next();
      let op: string;
      if (r < 0.5) {
        const n = next() < 0.7 ? randInt(next, 1, 8) : randInt(next, 1, Math.max(1, Math.floor(units * 1.2)));
        const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
        const size = 2 ** order;
        op = `alloc(${n})`;
        let fits = false;
        for (let p = 0; p + size <= units && !fits; p += size) {
          fits = true;
          for (let u = p; u < p + size; u++) if (owner[u] !== 0) { fits = false; break; }
        }
        const got = b.alloc(n);
        if (!fits) {
          assert.equal(got, -1, `alloc(${n}) found space the model does not have, at ${where()}`);
        } else {
          assert.notEqual(got, -1, `alloc(${n}) failed while an aligned free ${size}-unit block exists, at ${where()}`);
          const unit = got / unitSize;
          assert.ok(Number.isInteger(unit) && unit % size === 0 && unit + size <= units, `alloc(${n}) = ${got}: misaligned or outside, at ${where()}`);
          for (let u = unit; u < unit + size; u++) assert.equal(owner[u], 0, `alloc(${n}) = ${got} overlaps a live block at unit ${u}, at ${where()}`);
          assert.equal(b.sizeOf(got), size);
          live.push({ unit, order });
          owner.fill(live.length, unit, unit + size);
          freed = freed.filter((o) => o !== got);
        }
      } else if (r < 0.85 && live.length > 0) {
        const k = randInt(next, 0, live.length - 1);
        const blk = live[k]!;
        op = `free(${blk.unit * unitSize})`;
        b.free(blk.unit * unitSize);
        live.splice(k, 1);
        rebuild();
        freed.push(blk.unit * unitSize);
        if (freed.length > 16) freed.shift();
      } else if (r < 0.995) {
        // Misuse: a recent free again, or any offset near the arena.
        const offset = next() < 0.4 && freed.length > 0 ? freed[randInt(next, 0, freed.length - 1)]! : randInt(next, -2, units + 2) * (next() < 0.8 ? unitSize : 1) + (next() < 0.1 ? 0.5 : 0);
        op = `badFree(${offset})`;
        const unit = offset / unitSize;
        let want: ErrorClass | undefined;
        if (!Number.isInteger(unit) || unit < 0 || unit >= units) want = InvalidAddressError;
        else if (owner[unit] === 0) want = DoubleFreeError;
        else if (live[owner[unit]! - 1]!.unit !== unit) want = InvalidAddressError;
        if (want === undefined) {
          op = `free(${offset})`; // happens to be a live block: a legitimate free
          b.free(offset);
          live.splice(owner[unit]! - 1, 1);
          rebuild();
        } else {
          const before = internals(b).longest.slice();
          const cls = want;
          assert.throws(() => b.free(offset), (e) => e instanceof cls, `free(${offset}) must throw ${cls.name}, at ${where()}`);
          assert.deepEqual(internals(b).longest, before, `a rejected free changed the tree, at ${where()}`);
        }
      } else {
        op = "reset()";
        b.reset();
        live = [];
        freed = [];
        owner.fill(0);
      }
      trace.push(op);
      if (trace.length > 10) trace.shift();
      const name = op.slice(0, op.indexOf("("));
      counts[name] = (counts[name] ?? 0) + 1;
      try {
        b.check();
      } catch (e) {
        assert.fail(`${(e as Error).message} at ${where()}`);
      }
      let used = 0;
      for (const blk of live) used += 2 ** blk.order;
      assert.equal(b.freeUnits, units - used, `freeUnits at ${where()}`);
    }
  }
  console.log(`buddy model: ${ops} operations (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}), seed ${BASE_SEED}`);
});
