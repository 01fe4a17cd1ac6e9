// Heap.attach: all allocator state lives in the image (DESIGN.md principle
// 1), so a second Heap on the same memory sees the same heap, and a copy of
// the image attached elsewhere behaves exactly like the original.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidAddressError, InvalidImageError, OutOfMemoryError, OffheapRangeError, OffheapTypeError, PAGE_SIZE } from "../src/index.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import {
  CC_BASE, CC_MAX, CC_SHIFT, HDR_CACHE, HDR_CLASS_HASH, HDR_END_PAGE, HDR_F64_LIVE_BOUND, HDR_N_CLASSES, HDR_PAGE_SHIFT, HDR_TOTAL_PAGES, HDR_VERSION, OLD_N_CLASSES, OLDEST_VERSION,
  popsSinceFold, VERSION,
} from "../src/heap/layout.js";
import { CLASS_SIZE, N_CLASSES } from "../src/heap/size-classes.js";
import { classHash, sizeClassOf } from "../src/heap/class-of.js";
import { loadImage } from "../src/heap/image-file.js";
import { slotCacheLines } from "../src/heap/slots.js";
import {
  assertBlockFilled, assertSameBytes, committedEnd, expectError, expectRejected, fillBlock, KIB, MIB, randInt, rng,
} from "./helpers.js";

const WASM_PAGE = 65536;

describe("attach to the same memory", () => {
  test("sees the same live blocks, strings and stats; frees made by one are seen by the other", () => {
    const a = new Heap({ maxSize: 16 * MIB, initialSize: 256 * KIB });
    const p = a.fromString("héllo wörld");
    const q = a.alloc(50_000);
    fillBlock(a, q, 0x3c);
    const r = a.alloc(24);
    a.check();
    const b = Heap.attach(a.memory);
    b.check();
    assert.equal(b.memory, a.memory);
    for (const addr of [p, q, r]) assert.equal(b.sizeOf(addr), a.sizeOf(addr));
    assert.equal(b.readString(p), "héllo wörld");
    assertBlockFilled(b, q, 0x3c);
    assert.deepEqual(b.stats(), a.stats());
    b.free(r);
    b.check();
    a.check();
    expectRejected(a, () => a.sizeOf(r), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    expectRejected(a, () => a.free(r), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE");
    const x = a.alloc(24);
    const y = b.alloc(24);
    assert.notEqual(x, y);
    a.check();
    assert.equal(b.sizeOf(x), 24);
    assert.equal(a.sizeOf(y), 24);
    assert.deepEqual(b.stats(), a.stats());
  });

  for (const memory of ["wasm", "resizable"] as const) {
    test(`(${memory}) a second heap sees blocks allocated after the first one grew the memory`, () => {
      const a = new Heap({ memory, maxSize: 16 * MIB, initialSize: 64 * KIB });
      const p = a.fromString("before growth");
      const b = Heap.attach(a.memory);
      const big = a.alloc(2 * MIB); // grows the memory
      fillBlock(a, big, 0x5e);
      const s = a.fromString("after growth");
      a.check();
      assert.equal(b.readString(p), "before growth");
      assert.equal(b.sizeOf(big), a.sizeOf(big));
      assertBlockFilled(b, big, 0x5e);
      assert.equal(b.readString(s), "after growth");
      assert.deepEqual(b.stats(), a.stats());
      b.check();
    });

    test(`(${memory}) a second heap can allocate and free after the first one grew the memory`, () => {
      const a = new Heap({ memory, maxSize: 16 * MIB, initialSize: 64 * KIB });
      a.alloc(16);
      const b = Heap.attach(a.memory);
      const big = a.alloc(2 * MIB);
      const small = b.alloc(16);
      assert.equal(typeof small, "number");
      assert.ok(small > 0, `b.alloc(16) returned ${small}`);
      const large = b.alloc(100_000);
      assert.ok(large > 0 && large !== big, `b.alloc(100000) returned ${large}`);
      b.check();
      a.check();
      assert.equal(a.sizeOf(small), 16);
      assert.equal(a.sizeOf(large), 13 * PAGE_SIZE);
      b.free(big);
      a.free(large);
      a.check();
      b.check();
    });
  }

  for (const order of ["the memory, then its buffer", "the buffer, then its memory"] as const) {
    test(`through two objects over the same bytes (${order}) the Heaps share the slot: detaching one leaves the other whole`, () => {
      // Counted per memory object, Heap.attach(heap.buffer) beside a Heap on heap.memory was a second
      // owner of the thread's slot: its detach() gave the slot back while the other still used it,
      // and that one's frees went to caches nobody owned (check: S3; found by an acceptance run).
      for (const memory of ["wasm", "shared"] as const) {
        const base = memory === "wasm" ? new Heap({ maxSize: 16 * MIB, memory: new WebAssembly.Memory({ initial: 17, maximum: 256 }) }) : new Heap({ maxSize: 16 * MIB });
        const [first, second] = order === "the memory, then its buffer" ? [base, Heap.attach(base.buffer)] : [Heap.attach(base.buffer), base];
        const kept = Array.from({ length: 50 }, (_, i) => second.alloc(16 + i));
        second.free(second.alloc(64));
        (order === "the memory, then its buffer" ? second : first).detach();
        const user = order === "the memory, then its buffer" ? first : second;
        for (let i = 0; i < 1000; i++) user.free(user.alloc(24 + (i % 200)));
        user.check();
        assert.equal(user.stats().liveBlocks, kept.length, `${memory}: the blocks of the Heap that stays`);
        for (const a of kept) user.free(a);
        user.check();
        // A copy is other bytes: its Heap has a slot of its own, and its detach leaves the original's.
        const copy = Heap.attach(new Uint8Array(user.buffer).slice().buffer);
        copy.free(copy.alloc(24));
        copy.detach();
        user.free(user.alloc(24));
        user.check();
        assert.equal(user.stats().liveBlocks, 0);
      }
    });
  }

  test("a Heap attached through heap.buffer follows the memory's growth (shared and unshared WebAssembly.Memory)", () => {
    // A buffer keeps the length it had when it was read (an unshared memory's growth detaches it):
    // attached through the buffer, the second Heap saw the first one's growth as damage (H1) or threw
    // a TypeError about a detached buffer. It is attached through the memory the buffer is of.
    for (const memory of ["shared", "wasm"] as const) {
      const base = memory === "wasm" ? new Heap({ maxSize: 64 * MIB, memory: new WebAssembly.Memory({ initial: 17, maximum: 1024 }) }) : new Heap({ maxSize: 64 * MIB });
      const second = Heap.attach(base.buffer);
      assert.equal(second.memory, base.memory, `${memory}: attached through the memory`);
      const kept = second.alloc(100);
      const big = base.alloc(8 * MIB); // grows the memory
      const p = second.alloc(64);
      assert.equal(second.sizeOf(big), 8 * MIB, memory);
      second.check();
      second.free(p);
      second.free(big);
      base.free(kept);
      second.detach();
      base.check();
      assert.equal(base.stats().liveBlocks, 0, memory);
    }
  });

  test("a Heap on a buffer that cannot show the grown heap throws OffheapRangeError, not damage; the heap is unchanged", () => {
    const base = new Heap({ maxSize: 64 * MIB });
    // Another object over the same shared memory, as a worker gets heap.buffer by postMessage: no Heap of this
    // thread saw it, so it is attached as the fixed-length buffer it is. (It shares this thread's slot but is
    // counted apart: it is not detached, which would give the slot back under base.)
    const snapshot = structuredClone(base.buffer);
    const fixed = Heap.attach(snapshot);
    assert.equal(fixed.memory, snapshot);
    fixed.free(fixed.alloc(64));
    const big = base.alloc(8 * MIB); // past the snapshot's length
    const before = base.stats();
    for (const call of [() => fixed.alloc(8), () => fixed.sizeOf(big), () => fixed.check()]) {
      expectError(call, OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "past the", "buffer this Heap was attached through", "attach through the WebAssembly.Memory");
    }
    base.check();
    assert.deepEqual(base.stats(), before);
    base.free(big);
    base.check();
  });

  test("a Heap on a WebAssembly.Memory's ArrayBuffer that the memory's growth detached throws OffheapTypeError", () => {
    const memory = new WebAssembly.Memory({ initial: 32, maximum: 64 });
    const heap = new Heap({ memory: memory.buffer });
    heap.free(heap.alloc(8));
    memory.grow(1); // detaches memory.buffer, the heap's buffer
    expectError(() => heap.alloc(8), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "was detached", "attach through the WebAssembly.Memory");
    const again = Heap.attach(memory);
    again.free(again.alloc(8));
    again.check();
  });

  test("(resizable) a second heap keeps working after the first one trimmed the memory below its views", () => {
    const a = new Heap({ memory: "resizable", maxSize: 16 * MIB, initialSize: 64 * KIB });
    const keep = a.fromString("kept");
    const big = a.alloc(4 * MIB);
    const b = Heap.attach(a.memory);
    const bLength = b.u8.length;
    a.free(big);
    a.trim();
    assert.ok((a.memory as ArrayBuffer).byteLength < bLength, "the memory shrank below b's views");
    assert.equal(b.u8.length, 0, "b's views are out of bounds");
    const small = b.alloc(24); // the fast path refuses the empty views; the slow path replaces them
    assert.ok(b.u8.length > 0);
    assert.equal(b.readString(keep), "kept");
    b.free(small);
    const again = b.alloc(3 * MIB); // b grows the memory again
    fillBlock(b, again, 0x2a);
    assertBlockFilled(a, again, 0x2a);
    a.free(again);
    a.check();
    b.check();
  });
});

// One operation of a replayable random workload. Every heap given the same
// list of operations keeps its own list of live addresses, which stays equal
// to the others' exactly when the heaps behave identically.
type Op = { kind: "alloc" | "calloc" | "string" | "free" | "realloc"; size: number; pick: number };

function makeOps(seed: number, n: number): Op[] {
  const next = rng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const r = next();
    const size = next() < 0.9 ? randInt(next, 0, 3000) : randInt(next, 32_769, 300_000);
    const kind = r < 0.4 ? "alloc" : r < 0.45 ? "calloc" : r < 0.5 ? "string" : r < 0.6 ? "realloc" : "free";
    ops.push({ kind, size, pick: next() });
  }
  return ops;
}

/** Applies op i to heap; returns the address it produced (0 for a free). */
function apply(heap: Heap, live: number[], op: Op, i: number): number {
  const pick = () => live.splice(Math.floor(op.pick * live.length), 1)[0]!;
  if ((op.kind === "free" || op.kind === "realloc") && live.length === 0) return -1;
  let p = 0;
  switch (op.kind) {
    case "alloc": p = heap.alloc(op.size); break;
    case "calloc": p = heap.calloc(op.size); break;
    case "string": p = heap.fromString(`op ${i}: ${"é".repeat(op.size % 100)}`); break;
    case "realloc": p = heap.realloc(pick(), op.size); break;
    case "free": heap.free(pick()); return 0;
  }
  if (op.kind !== "string") heap.u8.fill(i & 255, p, p + Math.min(op.size, 64));
  live.push(p);
  return p;
}

describe("attach to a copy of the image", () => {
  const SEED = 0xc0ffee;
  test(`copies in an ArrayBuffer, a SharedArrayBuffer and a WebAssembly.Memory behave exactly like the original (seed ${SEED})`, () => {
    const ops = makeOps(SEED, 3000);
    const maxSize = 32 * MIB;
    const original = new Heap({ maxSize, initialSize: 64 * KIB });
    const live: number[] = [];
    for (let i = 0; i < 1000; i++) apply(original, live, ops[i]!, i);
    original.check();

    // Copies sized for the whole reserved range, so that each can commit
    // as far as the original may grow.
    const image = new Uint8Array(original.buffer);
    const ab = new ArrayBuffer(maxSize);
    new Uint8Array(ab).set(image);
    const sab = new SharedArrayBuffer(maxSize);
    new Uint8Array(sab).set(image);
    const wasm = new WebAssembly.Memory({ initial: image.length / WASM_PAGE, maximum: maxSize / WASM_PAGE });
    new Uint8Array(wasm.buffer).set(image);
    const copies = [Heap.attach(ab), Heap.attach(sab), Heap.attach(wasm)];
    const heaps = [original, ...copies];
    const lives = heaps.map(() => [...live]);
    for (const h of copies) {
      h.check();
      assert.deepEqual(h.stats(), original.stats());
      for (const p of live) assert.equal(h.sizeOf(p), original.sizeOf(p));
    }
    for (let i = 1000; i < ops.length; i++) {
      const got = heaps.map((h, k) => apply(h, lives[k]!, ops[i]!, i));
      assert.deepEqual(got, new Array(heaps.length).fill(got[0]), `op ${i} (${ops[i]!.kind} ${ops[i]!.size}) gave different addresses`);
      if (i % 250 === 0 || i === ops.length - 1) {
        const stats = original.stats();
        for (const h of heaps) {
          h.check();
          assert.deepEqual(h.stats(), stats, `stats after op ${i}`);
        }
      }
    }
    assert.ok(original.stats().committedBytes > 1 * MIB, "the workload made the heaps grow");
    const end = committedEnd(original);
    const want = new Uint8Array(original.buffer, 0, end);
    for (const h of copies) {
      assert.equal(committedEnd(h), end);
      assertSameBytes(want, new Uint8Array(h.buffer, 0, end), "image of a copy");
    }
  });

  test("a snapshot from heap.buffer.slice(0) attaches with the same blocks and stats", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const live: number[] = [];
    const ops = makeOps(99, 600);
    ops.forEach((op, i) => apply(heap, live, op, i));
    heap.check();
    const s = heap.fromString("snapshot");
    const copy = Heap.attach(heap.buffer.slice(0));
    copy.check();
    assert.deepEqual(copy.stats(), heap.stats());
    assert.equal(copy.readString(s), "snapshot");
    for (const p of live) {
      assert.equal(copy.sizeOf(p), heap.sizeOf(p));
      assert.deepEqual(copy.bytes(p), heap.bytes(p));
    }
    // The copy is independent of the original.
    copy.free(s);
    copy.check();
    assert.equal(heap.readString(s), "snapshot");
  });
});

// Version 8 images (71 size classes, up to 32 KiB) made by the build at
// 3c12147 with test/fixtures/make-v8-images.mjs, saved with Heap.save:
// v8-single, 400 blocks of 1 B to 70 KB (block i of v8Size(i) bytes, byte j
// holding (31i + 7j) & 255), every third freed, the rest in the u32 array of
// root "index"; v8-worker, saved while a worker held a slot whose cache lists
// held the blocks it freed, its other blocks in root "index" (its slot i,
// for even i, of WORKER_SIZES[i % 6] bytes, byte j holding (13i + j) & 255).
const FIXTURES = fileURLToPath(new URL("../../test/fixtures/", import.meta.url)); // build/test/ -> test/fixtures/
const V8_SIZES = [1, 8, 24, 100, 500, 1000, 3000, 9000, 20000, 32768, 32816, 40000, 70000];
const v8Size = (i: number) => V8_SIZES[i % 13]! + (i % 7) * 8;
const WORKER_SIZES = [16, 48, 200, 1000, 5000, 33000];

/** Gunzips fixture `name` into a file of its own; returns its path and a function that removes it. */
function fixtureFile(name: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "offheap-fixture-"));
  const path = join(dir, `${name}.ofh`);
  writeFileSync(path, gunzipSync(readFileSync(join(FIXTURES, `${name}.ofh.gz`))));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Fixture `name`'s image as Heap.load reads it, not opened yet: an ArrayBuffer as long as its range. */
async function fixtureImage(name: string): Promise<ArrayBuffer> {
  const file = fixtureFile(name);
  try {
    const memory = (await loadImage(file.path, "resizable")) as ArrayBuffer;
    const copy = new ArrayBuffer(new Uint32Array(memory, 0, HDR_TOTAL_PAGES + 1)[HDR_TOTAL_PAGES]! * PAGE_SIZE);
    new Uint8Array(copy).set(new Uint8Array(memory));
    return copy;
  } finally {
    file.remove();
  }
}

/** Checks every block of v8-single's root "index" against what the fixture wrote; returns their addresses. */
function assertSingleBlocks(heap: Heap): number[] {
  const index = heap.getRoot("index");
  const blocks: number[] = [];
  for (let i = 0; i < 400; i++) {
    const addr = heap.u32[(index >>> 2) + i]!;
    if (i % 3 === 0) {
      assert.equal(addr, 0, `block ${i} was freed`);
      continue;
    }
    const n = v8Size(i);
    assert.ok(heap.usable(addr) >= n, `block ${i}: ${heap.usable(addr)} bytes usable for ${n}`);
    for (let j = 0; j < n; j++) if (heap.u8[addr + j] !== ((i * 31 + j * 7) & 255)) assert.fail(`block ${i}, byte ${j}`);
    blocks.push(addr);
  }
  return blocks;
}

describe("attach to a shared copy of a full heap", () => {
  test("when this thread cannot take its slot back, the new slot's cache block does not fit: OutOfMemoryError, the copy unchanged", () => {
    // Past this task's budget of listed memories (thread-heaps.ts), a Heap of this
    // thread may be on the copy through an object it does not know, so the copy's
    // slot of this thread is not taken back and attach needs a slot of its own.
    for (let i = 0; i < 300; i++) void new Heap({ maxSize: MIB }).buffer;
    const heap = new Heap({ maxSize: 8 * MIB });
    for (const size of [100_000, 3000, 24]) {
      try {
        for (;;) heap.alloc(size);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
      }
    }
    const copy = new SharedArrayBuffer(heap.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(heap.buffer));
    const before = new Uint8Array(copy).slice();
    expectError(() => Heap.attach(copy), OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY", /no room for this thread's cache/);
    assertSameBytes(new Uint8Array(copy), before, "the copy after the failed attach");
    heap.check();
  });
});

describe("attach upgrades an image of an older version", () => {
  test("version 8 (71 size classes): Heap.load opens it with its blocks; sizes past its classes are served as pages, in it and after a save", async () => {
    const file = fixtureFile("v8-single");
    const saved = join(tmpdir(), `offheap-v8-resaved-${process.pid}.ofh`);
    try {
      const heap = await Heap.load(file.path);
      assert.equal(heap.u32[HDR_VERSION], VERSION, "upgraded");
      assert.equal(heap.u32[HDR_N_CLASSES], OLD_N_CLASSES, "it keeps its classes");
      heap.check();
      const blocks = assertSingleBlocks(heap);
      const large = heap.stats().largeBlocks;
      // Past its 71 classes (32 KiB): whole pages, as version 8 served them; a new heap serves them from classes 72-78.
      const fresh = new Heap({ maxSize: 16 * MIB });
      for (const n of [32_769, 40_000, 65_536]) {
        const a = heap.alloc(n);
        assert.equal(heap.usable(a), Math.ceil(n / PAGE_SIZE) * PAGE_SIZE, `${n} bytes: pages`);
        heap.u8.fill(0xa5, a, a + n);
        blocks.push(a);
        const b = fresh.alloc(n);
        assert.equal(fresh.usable(b), CLASS_SIZE[sizeClassOf(n)], `${n} bytes in a new heap: class ${sizeClassOf(n)}`);
      }
      assert.equal(heap.stats().largeBlocks, large + 3);
      assert.equal(fresh.stats().largeBlocks, 0);
      const small = heap.alloc(32_768);
      assert.equal(heap.usable(small), 32_768, "its own classes serve as before");
      heap.check();
      await heap.save(saved);
      const again = await Heap.load(saved);
      assert.equal(again.u32[HDR_N_CLASSES], OLD_N_CLASSES, "saved and loaded, it still has its classes");
      again.check();
      assertSingleBlocks(again);
      for (const a of [...blocks, small]) again.free(a);
      for (let i = 0; i < 50; i++) again.free(again.alloc(36_000 + i * 500));
      again.check();
      assert.equal(again.stats().largeBlocks, 0);
    } finally {
      file.remove();
      rmSync(saved, { force: true });
    }
  });

  test("version 8 saved while a worker held a slot: its cache block is released when a copy opens, its blocks kept", async () => {
    const image = await fixtureImage("v8-worker");
    assert.ok(slotCacheLines(new Uint32Array(image)).some((lines) => lines !== HDR_CACHE), "the fixture has a worker's cache block");
    for (const open of [(copy: ArrayBuffer) => Heap.attach(copy), async () => { const f = fixtureFile("v8-worker"); try { return await Heap.load(f.path); } finally { f.remove(); } }]) {
      const heap = await open(image.slice(0));
      heap.check();
      assert.deepEqual(slotCacheLines(heap.u32), [HDR_CACHE], "only this thread's slot, in the header");
      const index = heap.getRoot("index") >>> 2;
      for (let i = 0; i < 200; i += 2) {
        const a = heap.u32[index + i]!;
        const n = WORKER_SIZES[i % 6]!;
        for (let j = 0; j < n; j++) if (heap.u8[a + j] !== ((i * 13 + j) & 255)) assert.fail(`the worker's block ${i}, byte ${j}`);
        heap.free(a);
      }
      const more = Array.from({ length: 300 }, (_, i) => heap.alloc(WORKER_SIZES[i % 6]!));
      heap.check();
      for (const a of more) heap.free(a);
      heap.check();
    }
  });

  test("a version 8 image in a SharedArrayBuffer: upgraded when no other thread's slot is in use, else InvalidImageError, memory unchanged", async () => {
    const worker = await fixtureImage("v8-worker");
    const shared = new SharedArrayBuffer(worker.byteLength);
    new Uint8Array(shared).set(new Uint8Array(worker));
    const before = new Uint8Array(shared).slice();
    expectError(() => Heap.attach(shared), InvalidImageError, "ERR_OFFHEAP_INVALID_IMAGE", /upgraded by the first thread that opens it, but other threads' slots are in use/);
    assertSameBytes(new Uint8Array(shared), before, "the refused image");
    const single = await fixtureImage("v8-single");
    const alone = new SharedArrayBuffer(single.byteLength);
    new Uint8Array(alone).set(new Uint8Array(single));
    const heap = Heap.attach(alone);
    assert.equal(heap.u32[HDR_VERSION], VERSION);
    heap.check();
    const blocks = assertSingleBlocks(heap);
    // Block 25 (70,032 bytes) is large; 40,000 bytes is past the image's classes, so it shrinks in place.
    const large = heap.u32[(heap.getRoot("index") >>> 2) + 25]!;
    assert.ok(blocks.includes(large));
    assert.equal(heap.realloc(large, 40_000), large, "shrunk in place");
    assert.equal(heap.usable(large), 5 * PAGE_SIZE);
    heap.free(heap.alloc(50_000));
    heap.check();
  });

  test("an upgraded image's lines past its classes stay inert: a damaged one is refused at attach and named by check()", async () => {
    const heap = Heap.attach(await fixtureImage("v8-single"));
    const cw = HDR_CACHE + ((OLD_N_CLASSES + 1) << CC_SHIFT);
    const copy = heap.buffer.slice(0);
    new Uint32Array(copy)[cw + CC_MAX] = 8;
    expectError(() => Heap.attach(copy), InvalidImageError, "ERR_OFFHEAP_INVALID_IMAGE", /class 72, past the image's 71 classes, has a cache list/);
    heap.u32[cw + CC_MAX] = 8;
    expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", /class 72, past the image's 71 classes, has a cache list \[invariant H1\]/);
    heap.u32[cw + CC_MAX] = 0;
    heap.check();
  });

  test("version 6 (pops counted in the cache line): the same blocks, counts and behaviour as version 8 after the upgrade", async () => {
    const SEED = 0x6ee7;
    const ops = makeOps(SEED, 3000);
    const image = await fixtureImage("v8-single");
    // The same image as version 6 wrote it: word CC_BASE held the pops since the last fold.
    const copy = image.slice(0);
    const u32 = new Uint32Array(copy);
    let differs = 0;
    for (let cls = 1; cls <= OLD_N_CLASSES; cls++) {
      const cw = HDR_CACHE + (cls << CC_SHIFT);
      const pops = popsSinceFold(u32, cw);
      if (pops !== u32[cw + CC_BASE]) differs++;
      u32[cw + CC_BASE] = pops;
    }
    u32[HDR_VERSION] = 6;
    new Float64Array(copy, 0, HDR_F64_LIVE_BOUND + 1)[HDR_F64_LIVE_BOUND] = 0; // words version 6 left zero
    assert.ok(differs > 10, `the two versions' words differ in ${differs} classes`);
    const old = Heap.attach(copy);
    const heap = Heap.attach(image);
    assert.equal(new Uint32Array(copy)[HDR_VERSION], VERSION, "upgraded in place");
    old.check();
    assert.deepEqual(old.stats(), heap.stats());
    // The same calls on both give the same addresses and the same heap (seed ${SEED}).
    const live = assertSingleBlocks(heap);
    const oldLive = [...live];
    for (let i = 0; i < ops.length; i++) {
      assert.equal(apply(old, oldLive, ops[i]!, i), apply(heap, live, ops[i]!, i), `op ${i} (seed ${SEED})`);
    }
    old.check();
    assert.deepEqual(old.stats(), heap.stats());
  });

  test("version 7 (no live-bytes bound): the next peak sample sums the counts", async () => {
    const copy = await fixtureImage("v8-single");
    const u32 = new Uint32Array(copy);
    const f64 = new Float64Array(copy, 0, HDR_F64_LIVE_BOUND + 1);
    u32[HDR_VERSION] = 7;
    f64[HDR_F64_LIVE_BOUND] = 0; // as version 7 left it: a bound of 0 would skip every sample
    const old = Heap.attach(copy);
    assert.equal(u32[HDR_VERSION], VERSION, "upgraded in place");
    assert.equal(f64[HDR_F64_LIVE_BOUND], Infinity);
    old.check();
    const { liveBytes, peakLiveBytes } = old.stats();
    // Live bytes above the peak, then a large free: it samples them.
    const grow = Math.max(0, peakLiveBytes - liveBytes) + 500_000;
    const large = old.alloc(grow);
    old.free(old.alloc(200_000));
    old.free(large);
    assert.ok(old.stats().peakLiveBytes >= liveBytes + grow + 200_000, "the peak counts the blocks allocated after the upgrade");
    assert.ok(f64[HDR_F64_LIVE_BOUND]! < Infinity, "the sample set the bound");
    old.check();
  });

  test("a version 7 image keeps its cache lists' geometry: one with this version's longer lists is refused", () => {
    // From a 1 GiB range on, version 8's lists hold more objects than version 7's (layout.ts: cacheCapacity).
    const heap = new Heap({ memory: "resizable", maxSize: 1024 * MIB, initialSize: 64 * KIB });
    const copy = heap.buffer.slice(0);
    const u32 = new Uint32Array(copy);
    u32[HDR_VERSION] = 7;
    u32[HDR_N_CLASSES] = OLD_N_CLASSES; // its table was version 7's, too
    u32[HDR_CLASS_HASH] = classHash(OLD_N_CLASSES);
    expectError(() => Heap.attach(copy), InvalidImageError, "ERR_OFFHEAP_INVALID_IMAGE", /image geometry does not match/);
    assert.equal(new Uint32Array(copy)[HDR_VERSION], 7, "refused before any upgrade");
  });

  test("an image of this version with another class count, or an older one without 71 classes, is refused", () => {
    const heap = new Heap({ maxSize: 16 * MIB });
    for (const [version, nClasses, why] of [[VERSION, OLD_N_CLASSES, /class 72, past the image's 71 classes, has a cache list/], [8, N_CLASSES, /a version 8 image has 78 size classes, not 71/], [VERSION, N_CLASSES + 1, /size-class table/]] as const) {
      const copy = heap.buffer.slice(0);
      const u32 = new Uint32Array(copy);
      u32[HDR_VERSION] = version;
      u32[HDR_N_CLASSES] = nClasses;
      if (nClasses <= N_CLASSES) u32[HDR_CLASS_HASH] = classHash(nClasses);
      const before = new Uint8Array(copy).slice();
      expectError(() => Heap.attach(copy), InvalidImageError, "ERR_OFFHEAP_INVALID_IMAGE", why);
      assertSameBytes(new Uint8Array(copy), before, `version ${version}, ${nClasses} classes`);
    }
  });
});

describe("attach rejects memory that holds no image", () => {
  const original = () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    heap.alloc(100);
    heap.alloc(50_000);
    return heap;
  };
  const randomBytes = (n: number, seed: number) => {
    const next = rng(seed);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
    return b.buffer;
  };
  const patched = (word: number, value: (old: number) => number) => {
    const copy = original().buffer.slice(0);
    const u32 = new Uint32Array(copy);
    u32[word] = value(u32[word]!);
    return copy;
  };
  const cases: [string, () => ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory, RegExp][] = [
    ["zeros", () => new ArrayBuffer(MIB), /bad magic/],
    ["zeros in a SharedArrayBuffer", () => new SharedArrayBuffer(MIB), /bad magic/],
    ["a fresh WebAssembly.Memory", () => new WebAssembly.Memory({ initial: 2, maximum: 64 }), /bad magic/],
    ["random bytes", () => randomBytes(MIB, 1), /bad magic/],
    ["a buffer shorter than the header", () => new ArrayBuffer(100), /too short/],
    ["an empty buffer", () => new ArrayBuffer(0), /too short/],
    ["a truncated image", () => { const h = original(); return h.buffer.slice(0, committedEnd(h) - PAGE_SIZE); }, /needs \d+ bytes/],
    ["an image truncated to its header", () => original().buffer.slice(0, PAGE_SIZE), /needs \d+ bytes|geometry/],
    ["another format version", () => patched(HDR_VERSION, (v) => v + 1), /image format version \d+ is not supported/],
    ["a format version before the oldest this build upgrades", () => patched(HDR_VERSION, () => OLDEST_VERSION - 1), /image format version \d+ is not supported/],
    ["another page size", () => patched(HDR_PAGE_SHIFT, () => 12), /page size/],
    ["another size-class table", () => patched(HDR_CLASS_HASH, (v) => v ^ 1), /size-class table/],
    ["a page count that does not match the geometry", () => patched(HDR_TOTAL_PAGES, (v) => v * 2), /geometry/],
    ["a committed end past the range", () => patched(HDR_END_PAGE, (v) => v + 100_000), /committed end page/],
  ];
  for (const [label, make, why] of cases) {
    test(`${label}: InvalidImageError, memory unchanged`, () => {
      const memory = make();
      const buffer = () => (memory instanceof WebAssembly.Memory ? memory.buffer : memory);
      const before = new Uint8Array(buffer()).slice();
      expectError(() => Heap.attach(memory), InvalidImageError, "ERR_OFFHEAP_INVALID_IMAGE", /^Heap\.attach: /, why);
      assertSameBytes(before, new Uint8Array(buffer()), "memory after a refused attach");
    });
  }

  test("attach with a bad option is a RangeError and changes nothing", () => {
    const heap = original();
    const before = new Uint8Array(heap.buffer).slice();
    expectError(() => Heap.attach(heap.memory, { growAt: 0 }), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
    assertSameBytes(before, new Uint8Array(heap.buffer), "memory after a refused attach");
    heap.check();
    // The failed attach left no state behind: the next new Heap formats a fresh image.
    const fresh = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    assert.equal(fresh.stats().liveBlocks, 0);
    fresh.check();
  });
});
