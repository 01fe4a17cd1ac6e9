// Handles (src/heap/handles.ts): dispose frees once, misuse throws typed
// errors and changes nothing, one open handle per block, and the backstop:
// a handle dropped without dispose is freed when V8 collects it, and in
// debug mode reported by heap.leakedHandles(). The backstop tests force
// collections with gc (exposed here through v8.setFlagsFromString when the
// process was not started with --expose-gc).

import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { DisposedError, DoubleFreeError, Heap, HeapHandle, InvalidAddressError, OffheapTypeError } from "../src/index.js";
import { expectError, expectRejected, rootsOf } from "./helpers.js";

const newHeap = (debug = false): Heap => new Heap({ initialSize: 64 << 10, maxSize: 1 << 22, debug });
const live = (heap: Heap): number => heap.stats().liveBlocks;

function exposeGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === "function") return g;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}
const gc = exposeGc();

// Collects and lets the FinalizationRegistry's callbacks run (they are
// tasks), until `done` or 50 rounds.
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// Makes handles to `sizes.length` new blocks and drops them (no reference
// survives this function); returns their addresses.
function dropHandles(heap: Heap, sizes: number[]): number[] {
  return sizes.map((n) => heap.handle(heap.alloc(n)).addr);
}

test("handle: dispose frees the block once; addr throws DisposedError after", () => {
  const heap = newHeap();
  const p = heap.alloc(100);
  const h = heap.handle(p);
  assert.ok(h instanceof HeapHandle);
  assert.equal(h.addr, p);
  assert.equal(h.disposed, false);
  assert.deepEqual(rootsOf(heap), [p]);
  h.dispose();
  assert.equal(h.disposed, true);
  assert.equal(live(heap), 0);
  assert.deepEqual(rootsOf(heap), []);
  h.dispose(); // does nothing
  h[Symbol.dispose]();
  assert.equal(heap.stats().frees, 1);
  expectError(() => h.addr, DisposedError, "ERR_OFFHEAP_DISPOSED", "HeapHandle.addr", `0x${p.toString(16)}`);
  {
    using u = heap.handle(heap.alloc(8));
    heap.u32[u.addr >>> 2] = 7;
    assert.equal(live(heap), 1);
  }
  assert.equal(live(heap), 0);
  heap.check();
});

test("handle: bad addresses throw typed errors and change nothing", () => {
  const heap = newHeap();
  const p = heap.alloc(64);
  const freed = heap.alloc(64);
  heap.free(freed);
  for (const bad of [p + 8, freed, 0, 3, 1.5, -8, 2 ** 40, NaN]) {
    expectRejected(heap, () => heap.handle(bad), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "Heap.handle");
  }
  expectRejected(heap, () => heap.handle("64" as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Heap.handle");
  assert.deepEqual(rootsOf(heap), []);
  assert.equal(live(heap), 1);
});

test("handle: one open handle per block; a new one after dispose", () => {
  const heap = newHeap();
  const p = heap.alloc(64);
  const h = heap.handle(p);
  expectRejected(heap, () => heap.handle(p), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "has an open handle already");
  h.dispose();
  const q = heap.alloc(64); // may reuse p's object
  const h2 = heap.handle(q);
  assert.equal(h2.addr, q);
  h2.dispose();
  assert.equal(live(heap), 0);
});

test("handle: a block freed behind the handle's back: dispose closes the handle and throws DoubleFreeError", () => {
  const heap = newHeap();
  const p = heap.alloc(64);
  const h = heap.handle(p);
  heap.free(p);
  expectRejected(heap, () => h.dispose(), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "Heap.free");
  assert.equal(h.disposed, true);
  assert.deepEqual(rootsOf(heap), []);
});

test("handle: leakedHandles is debug mode's", () => {
  const heap = newHeap();
  expectError(() => heap.leakedHandles(), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "debug mode is off");
  assert.deepEqual(newHeap(true).leakedHandles(), []);
});

test("handle backstop: dropped handles' blocks are freed when V8 collects them; held and disposed ones are not", async () => {
  const heap = newHeap();
  const held = heap.handle(heap.alloc(32));
  const disposed = heap.handle(heap.alloc(32));
  disposed.dispose();
  const dropped = dropHandles(heap, [8, 100, 5000, 70_000]);
  assert.equal(live(heap), 5);
  await collectUntil(() => live(heap) === 1);
  assert.equal(live(heap), 1, "the four dropped handles' blocks are freed");
  assert.equal(heap.stats().frees, 5);
  assert.deepEqual(rootsOf(heap), [held.addr]);
  for (const a of dropped) assert.ok(!rootsOf(heap).includes(a));
  heap.check();
  held.dispose();
  assert.equal(live(heap), 0);
});

test("handle backstop in debug mode: each block it frees is reported with its size and the handle's site", async () => {
  const heap = newHeap(true);
  const disposed = heap.handle(heap.alloc(16));
  disposed.dispose();
  const sizes = [8, 100, 5000];
  const dropped = dropHandles(heap, sizes);
  await collectUntil(() => heap.leakedHandles().length === sizes.length);
  const leaked = heap.leakedHandles();
  assert.equal(leaked.length, sizes.length);
  assert.deepEqual(leaked.map((l) => l.addr).sort((a, b) => a - b), [...dropped].sort((a, b) => a - b));
  for (const l of leaked) {
    assert.equal(l.size, sizes[dropped.indexOf(l.addr)], "the requested size");
    assert.match(l.site, /dropHandles .*handles\.test\.js/, l.site);
  }
  assert.deepEqual(heap.leaks(), [], "no live block remains");
  heap.check();
});

test("handle backstop: a dropped handle whose block was freed by hand frees and reports nothing", async () => {
  const heap = newHeap(true);
  const [a] = dropHandles(heap, [64]);
  heap.free(a!);
  const frees = heap.stats().frees;
  await collectUntil(() => rootsOf(heap).length === 0);
  assert.deepEqual(rootsOf(heap), [], "the handle was collected");
  assert.deepEqual(heap.leakedHandles(), []);
  assert.equal(heap.stats().frees, frees);
  heap.check();
});
