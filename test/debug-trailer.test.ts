// Debug mode and images made in the other mode (src/heap/debug-trailer.ts):
// every combination of a heap made with or without debug mode and opened,
// loaded or shared with or without it. Blocks made without debug mode are
// freed and checked as plain blocks by a debug heap; blocks freed into a
// debug quarantine are released when the image is opened without debug
// mode, or wait in the new debug heap's quarantine; nothing reports false
// corruption, nothing stays allocated forever.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidAddressError, OffheapRangeError } from "../src/index.js";
import { CANARY } from "../src/common/debug-kit.js";
import { G_FREE, G_LIVE, G_LIVE_DEBUG, HDR_QUARANTINED } from "../src/heap/layout.js";
import { granuleState } from "../src/heap/granules.js";
import { expectError, expectRejected, MIB, randInt, rng } from "./helpers.js";

const SIZES = [8, 24, 100, 1000, 5000, 72_000];
const CORRUPT = "ERR_OFFHEAP_HEAP_CORRUPTION";
const SEED = Number(process.env.OFFHEAP_SEED ?? 20261203);

/** A heap with one block of each size in SIZES, each filled with its index + 1. */
function populated(debug: boolean): { heap: Heap; blocks: number[] } {
  const heap = new Heap({ maxSize: 16 * MIB, initialSize: MIB, memory: new SharedArrayBuffer(16 * MIB), debug: debug ? { quarantineBytes: MIB } : false });
  const blocks = SIZES.map((n, i) => {
    const p = heap.alloc(n);
    heap.u8.fill(i + 1, p, p + n);
    return p;
  });
  return { heap, blocks };
}

/** A copy of the image in a new buffer, as Heap.load or a copy would give. */
const copyOf = (heap: Heap): ArrayBuffer => new Uint8Array(heap.buffer).slice().buffer;

describe("debug mode on an image made without it", () => {
  test("older blocks are freed, resized and checked as plain blocks; new ones get canaries", () => {
    const { heap, blocks } = populated(false);
    const dbg = Heap.attach(copyOf(heap), { debug: true });
    dbg.check(); // no false "debug trailer is damaged"
    for (const [i, p] of blocks.entries()) {
      assert.equal(granuleState(dbg.u32, p), G_LIVE, "a plain block");
      assert.ok(dbg.sizeOf(p) >= SIZES[i]!, "its size is its usable size");
      assert.ok(dbg.bytes(p).subarray(0, SIZES[i]!).every((b) => b === i + 1));
    }
    const moved = dbg.realloc(blocks[1]!, 50);
    assert.ok(dbg.bytes(moved).subarray(0, 24).every((b) => b === 2), "realloc kept the contents");
    dbg.free(blocks[0]!);
    dbg.free(blocks[4]!);
    dbg.free(blocks[5]!);
    expectError(() => dbg.free(blocks[0]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    const q = dbg.alloc(16);
    assert.equal(granuleState(dbg.u32, q), G_LIVE_DEBUG);
    dbg.u8[q + 16] = 0;
    expectError(() => dbg.check(), HeapCorruptionError, CORRUPT, "write past the end", "invariant D1");
    dbg.u8[q + 16] = CANARY;
    dbg.free(q);
    dbg.check();
    const s = dbg.stats();
    assert.deepEqual([s.liveBlocks, s.quarantinedBlocks], [3, 1], "blocks 2 and 3 and the moved one are live; q waits in the quarantine");
  });

  test("Heap.load of an image saved without debug mode, opened with it: the development condition's case", async () => {
    const { heap, blocks } = populated(false);
    const dir = mkdtempSync(join(tmpdir(), "offheap-debug-image-"));
    try {
      await heap.save(join(dir, "plain.heap"));
      const dbg = await Heap.load(join(dir, "plain.heap"), { debug: true });
      dbg.check();
      for (const p of blocks) dbg.free(p);
      dbg.check();
      assert.equal(dbg.stats().liveBlocks, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an image made in debug mode, opened without it", () => {
  test("blocks waiting in the quarantine are released; live debug blocks are plain blocks to it", () => {
    const { heap, blocks } = populated(true);
    heap.free(blocks[0]!);
    heap.free(blocks[2]!);
    heap.free(blocks[5]!);
    assert.equal(heap.u32[HDR_QUARANTINED], 3);
    heap.check();
    const plain = Heap.attach(copyOf(heap));
    assert.equal(plain.u32[HDR_QUARANTINED], 0, "the quarantine is empty");
    assert.equal(plain.stats().liveBlocks, 3, "the three freed blocks are free");
    plain.check();
    expectRejected(plain, () => plain.free(blocks[0]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "freed already");
    expectRejected(plain, () => plain.free(blocks[2]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "freed already");
    expectRejected(plain, () => plain.free(blocks[5]!), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "free pages");
    // Live debug blocks: readable, resizable in place (no stale trailer left to misreport) and freeable.
    assert.equal(plain.sizeOf(blocks[1]!) >= 24, true);
    assert.equal(plain.realloc(blocks[1]!, 40), blocks[1]!, "a 24-byte debug block (40 with its canary and trailer) stays in its class");
    assert.equal(granuleState(plain.u32, blocks[1]!), G_LIVE, "and is a plain block now");
    plain.free(blocks[1]!);
    plain.free(blocks[3]!);
    plain.check();
    assert.equal(plain.stats().liveBlocks, 1);
  });

  test("a Heap without debug mode beside a debug heap on one memory: a block in the quarantine is not allocated to it", () => {
    const { heap: dbg, blocks } = populated(true);
    const plain = Heap.attach(dbg.memory, { debug: false });
    // Attaching released nothing yet: there was nothing in the quarantine.
    dbg.free(blocks[2]!);
    expectRejected(plain, () => plain.free(blocks[2]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "waits in a quarantine");
    expectRejected(plain, () => plain.sizeOf(blocks[2]!), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "waits in a quarantine");
    plain.free(blocks[1]!); // a live debug block, freed by the plain heap
    expectError(() => dbg.free(blocks[1]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    // The debug heap's quarantine still releases blocks[2] when it leaves; nothing is freed twice.
    for (let i = 0; i < 40; i++) dbg.free(dbg.alloc(64 * 1024));
    assert.equal(dbg.u32[HDR_QUARANTINED]! > 0, true);
    dbg.check();
    plain.check();
    const s = plain.stats();
    assert.deepEqual([s.liveBlocks, s.quarantinedBlocks], [4, dbg.u32[HDR_QUARANTINED]!], "blocks 0, 3, 4, 5 are live; the debug heap's quarantine is in the image");
  });

  test("a Heap attached beside a debug heap whose quarantine holds blocks leaves them there: a write after free is still caught", () => {
    // Attaching released every quarantined block of the image, the quarantines of running debug
    // Heaps too (found by an acceptance run, with threads; test/threads.test.ts has that case).
    for (const debug of [false, true]) {
      const { heap: dbg, blocks } = populated(true);
      dbg.free(blocks[0]!);
      dbg.free(blocks[3]!);
      const other = Heap.attach(dbg.memory, { debug });
      assert.equal(other.u32[HDR_QUARANTINED], 2, `debug: ${debug}: the blocks still wait in the first heap's quarantine`);
      expectRejected(other, () => other.free(blocks[0]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "quarantine");
      dbg.u8[blocks[3]! + 10] = 7;
      expectError(() => dbg.check(), HeapCorruptionError, CORRUPT, "use after free", "byte 10 changed", "invariant D2");
      dbg.u8[blocks[3]! + 10] = dbg.u8[blocks[3]! + 11]!; // the poison byte back
      other.detach();
      dbg.check();
    }
  });

  test("a live debug block's size, to a plain heap, is the size debug mode was asked for: the program may write all of it", () => {
    // sizeOf and bytes() gave the whole usable size, canary and trailer included, and the free
    // after the program had written that many bytes found the trailer damaged (D1; check(): D2).
    // Found by an acceptance run.
    for (const request of [1, 24, 100, 5000, 40_000]) {
      const dbg = new Heap({ maxSize: 4 * MIB, debug: true });
      const a = dbg.alloc(request);
      const s = dbg.fromString("made in debug mode");
      const plain = Heap.attach(copyOf(dbg));
      assert.equal(plain.sizeOf(a), request, `sizeOf of a ${request}-byte request`);
      assert.equal(plain.bytes(a).length, request, "bytes()");
      expectRejected(plain, () => plain.bytes(a, request + 1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", `[0, ${request}]`);
      assert.equal(plain.readString(s), "made in debug mode");
      plain.u8.fill(0x11, a, a + plain.sizeOf(a));
      plain.check();
      const moved = plain.realloc(a, request + 40_000);
      assert.ok(plain.u8.subarray(moved, moved + request).every((b) => b === 0x11), "realloc kept the bytes");
      plain.free(moved);
      plain.freeString(s);
      plain.check();
      assert.equal(plain.stats().liveBlocks, 0);
    }
  });

  test("a live debug block whose canary was overwritten is reported to the plain heap too", () => {
    const { heap, blocks } = populated(true);
    heap.u8[blocks[1]! + 24] = 0;
    const plain = Heap.attach(copyOf(heap));
    expectError(() => plain.check(), HeapCorruptionError, CORRUPT, "write past the end", "invariant D1");
  });
});

describe("an image made in debug mode, opened with it", () => {
  test("quarantined blocks wait in the new heap's quarantine: a double free is caught, a write after free is caught when they leave", () => {
    const { heap, blocks } = populated(true);
    heap.free(blocks[0]!);
    heap.free(blocks[3]!);
    const copy = copyOf(heap);
    new Uint8Array(copy)[blocks[3]! + 10] = 7; // a write after free, in the copy
    const dbg = Heap.attach(copy, { debug: { quarantineBytes: 256 * 1024 } });
    assert.equal(dbg.u32[HDR_QUARANTINED], 2);
    expectError(() => dbg.free(blocks[0]!), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "quarantine");
    expectError(() => dbg.check(), HeapCorruptionError, CORRUPT, "use after free", "byte 10 changed", "invariant D2");
    let caught: unknown = null;
    for (let i = 0; i < 20 && caught === null; i++) {
      try {
        dbg.free(dbg.alloc(64 * 1024));
      } catch (e) {
        caught = e;
      }
    }
    assert.ok(caught instanceof HeapCorruptionError && /byte 10 changed/.test(caught.message), String(caught));
    dbg.check(); // both adopted blocks left the quarantine
    assert.equal(granuleState(dbg.u32, blocks[0]!), G_FREE, "released");
  });

  test("Q1: the header's count of quarantined blocks is checked", () => {
    const { heap, blocks } = populated(true);
    heap.free(blocks[0]!);
    heap.u32[HDR_QUARANTINED] = 5;
    expectError(() => heap.check(), HeapCorruptionError, CORRUPT, "invariant Q1");
  });
});

test(`random work switching between debug and plain heaps on copies of one image never reports damage or loses a block (seed ${SEED}, replay: OFFHEAP_SEED=${SEED})`, () => {
  const next = rng(SEED);
  let heap = new Heap({ maxSize: 16 * MIB, initialSize: MIB, memory: new ArrayBuffer(16 * MIB), debug: false });
  const live = new Map<number, number>(); // addr -> fill byte
  let fill = 1;
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < 300; i++) {
      if (live.size > 0 && next() < 0.45) {
        const addrs = [...live.keys()];
        const p = addrs[randInt(next, 0, addrs.length - 1)]!;
        const b = live.get(p)!;
        assert.equal(heap.u8[p], b, `block ${p} kept its contents`);
        heap.free(p);
        live.delete(p);
      } else {
        const n = next() < 0.1 ? randInt(next, 33_000, 100_000) : randInt(next, 1, 3000);
        const p = heap.alloc(n);
        heap.u8.fill(fill, p, p + n);
        live.set(p, fill);
        fill = (fill % 250) + 1;
      }
    }
    heap.check();
    const debug = next() < 0.5 ? { quarantineBytes: randInt(next, 0, 2) * 256 * 1024 } : false;
    heap = Heap.attach(copyOf(heap), { debug });
    heap.check();
    const quarantined = heap.u32[HDR_QUARANTINED]!;
    if (debug === false) assert.equal(quarantined, 0, "a plain heap releases the quarantine");
    const s = heap.stats();
    assert.deepEqual([s.liveBlocks, s.quarantinedBlocks], [live.size, quarantined], `round ${round}: every live block; the quarantined ones apart`);
  }
});
