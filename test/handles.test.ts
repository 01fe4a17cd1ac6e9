// Handles (src/heap/handles.ts): dispose frees once, misuse throws typed
// errors and changes nothing, one open handle per block, and the backstop:
// a handle dropped without dispose is freed when V8 collects it, and in
// debug mode reported by heap.leakedHandles(). The backstop tests force
// collections with gc (exposed here through v8.setFlagsFromString when the
// process was not started with --expose-gc).

import { test } from "node:test";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import { DisposedError, DoubleFreeError, Heap, HeapHandle, InvalidAddressError, OffheapTypeError } from "../src/index.js";
import { expectError, expectOutOfMemory, expectRejected, rootsOf } from "./helpers.js";

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

test("handle: a block freed behind the handle's back (by another Heap on the memory): dispose closes the handle and throws DoubleFreeError", () => {
  const heap = newHeap();
  const p = heap.alloc(64);
  const h = heap.handle(p);
  Heap.attach(heap.memory).free(p); // another Heap object's free does not see this one's handles
  expectRejected(heap, () => h.dispose(), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "Heap.free");
  assert.equal(h.disposed, true);
  assert.deepEqual(rootsOf(heap), []);
});

for (const debug of [false, true]) {
  test(`handle owns its block${debug ? " (debug mode)" : ""}: free throws and changes nothing, realloc moves the handle, a scope's block moves to it`, () => {
    // Before the guard, free was accepted, the block was reused by the next
    // alloc, and the handle's dispose then freed the new owner's block.
    const heap = newHeap(debug);
    const unguarded = heap.free;
    const p = heap.alloc(64);
    const h = heap.handle(p);
    expectRejected(heap, () => heap.free(p), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Heap.free", "open handle");
    expectOutOfMemory(heap, () => heap.realloc(p, (4 << 20) - 65536));
    assert.equal(h.addr, p, "a realloc that failed leaves the handle on its block");
    const q = heap.alloc(64);
    assert.notEqual(q, p, "the block was not freed, so not handed out again");
    heap.free(q); // blocks without a handle free as before
    heap.u32[p >>> 2] = 0xfeed;
    const moved = heap.realloc(p, 5000);
    assert.notEqual(moved, p);
    assert.equal(h.addr, moved, "the handle follows its block");
    assert.equal(heap.u32[moved >>> 2], 0xfeed);
    assert.deepEqual(rootsOf(heap), [moved]);
    const same = heap.realloc(moved, heap.sizeOf(moved));
    assert.equal(same === moved, !debug, "in place (debug mode's realloc always moves, so the quarantine catches stale uses)");
    assert.equal(h.addr, same);
    const shrunk = heap.realloc(same, 40);
    assert.equal(h.addr, shrunk);
    assert.equal(heap.u32[shrunk >>> 2], 0xfeed);
    heap.free(heap.alloc(64)); // p's object is free now, and anyone's
    {
      // A scope's block moves to its handle, whichever is disposed first, and wherever realloc moves it.
      // (Before, the scope kept it too: disposed after the handle, it freed the block again, or the
      // stranger's block at its old address after a moving realloc.)
      const outer = heap.scope();
      const scope = heap.scope();
      const kept = scope.alloc(32);
      const hs = heap.handle(kept);
      const moved = outer.alloc(48);
      const hm = heap.handle(moved);
      hs.dispose();
      const grown = heap.realloc(hm.addr, 100_000);
      const stranger = heap.alloc(48); // may take the old address
      scope.dispose();
      outer.dispose();
      assert.equal(heap.sizeOf(stranger) >= 48, true, "the scope left the stranger's block alone");
      assert.equal(hm.addr, grown);
      hm.dispose();
      heap.free(stranger);
    }
    assert.notEqual(heap.free, unguarded, "guarded while a handle is open");
    h.dispose();
    assert.equal(heap.free, unguarded, "the guard goes with the last open handle");
    assert.equal(live(heap), 0);
    heap.check();
  });
}

// A worker attaching (or detaching) switches the heap's thread mode at this
// Heap's next lock, which may be the lock of a guarded realloc: the mode's
// calls are put back in place while the realloc's handle is out of the Map.
// The guard must be put back with them (it was not: free was accepted).
for (const debug of [false, true]) {
  for (const direction of ["enters", "leaves"] as const) {
    test(`handle guard survives a realloc that ${direction} shared mode${debug ? " (debug mode)" : ""}`, async (t) => {
      const heap = new Heap({ initialSize: 64 << 10, maxSize: 1 << 24, debug }); // shared memory: workers may attach
      const worker = new Worker(new URL("../../test/threads/attach-worker.mjs", import.meta.url), { workerData: { memory: heap.memory } });
      t.after(() => worker.terminate());
      const h = heap.handle(heap.alloc(64));
      if (direction === "enters") {
        await once(worker, "message"); // attached: this Heap switches at its next lock
      } else {
        await once(worker, "message");
        heap.free(heap.alloc(8)); // in shared mode now
        assert.equal(heap.sharedMode, true);
        worker.postMessage("detach");
        await once(worker, "message"); // detached: this Heap switches back at its next lock
      }
      const moved = heap.realloc(h.addr, 5000); // the switch happens in here
      assert.equal(heap.sharedMode, direction === "enters");
      assert.equal(h.addr, moved);
      expectRejected(heap, () => heap.free(moved), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "has an open handle");
      if (direction === "enters") {
        worker.postMessage("detach");
        await once(worker, "message");
      }
      h.dispose();
      assert.equal(live(heap), 0);
      heap.check();
    });
  }
}

test("handle guard, seeded: among thousands of blocks, free refuses exactly those with an open handle", () => {
  // More handles than the guard's filter has buckets, so buckets hold several.
  const seed = (Date.now() ^ 0x5eed) >>> 0;
  let x = seed || 1;
  const rand = (n: number): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
  const heap = new Heap({ maxSize: 1 << 26 });
  const blocks = Array.from({ length: 12_000 }, () => heap.alloc(8 + rand(300)));
  const handles = new Map<number, HeapHandle>();
  for (const p of blocks) if (rand(2) === 0) handles.set(p, heap.handle(p));
  for (const p of blocks) {
    const h = handles.get(p);
    if (h === undefined) heap.free(p);
    else if (rand(3) === 0) h.dispose();
    else assert.throws(() => heap.free(p), (e: Error) => e instanceof OffheapTypeError && /open handle/.test(e.message), `seed ${seed}: ${p}`);
  }
  const open = [...handles.values()].filter((h) => !h.disposed);
  assert.equal(live(heap), open.length, `seed ${seed}`);
  for (const h of open) h.dispose();
  assert.equal(live(heap), 0, `seed ${seed}`);
  heap.check();
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

test("handle backstop: a dropped handle whose block was freed behind it frees and reports nothing", async () => {
  const heap = newHeap(true);
  const [a] = dropHandles(heap, [64]);
  Heap.attach(heap.memory).free(a!);
  const frees = heap.stats().frees;
  await collectUntil(() => rootsOf(heap).length === 0);
  assert.deepEqual(rootsOf(heap), [], "the handle was collected");
  assert.deepEqual(heap.leakedHandles(), []);
  assert.equal(heap.stats().frees, frees);
  heap.check();
});

test("handle backstop during a save: blocks of handles collected while the save is in flight are freed once it settles", async () => {
  // A FinalizationRegistry callback is a task of its own, and runs between a save's file
  // operations: its free changed the heap being written (a ConcurrentModificationError, or a
  // file of a heap the program never had), though the program itself changed nothing.
  const dir = mkdtempSync(join(tmpdir(), "offheap-handles-"));
  try {
    const heap = new Heap({ initialSize: 8 << 20, maxSize: 16 << 20 });
    const data = heap.alloc(6 << 20);
    heap.u8.fill(7, data, data + (6 << 20)); // megabytes to write: the save spans many turns of the event loop
    const dropped = dropHandles(heap, [8, 100, 5000]);
    const before = live(heap);
    const path = join(dir, "h.heap");
    let settled = false;
    const saving = heap.save(path).finally(() => (settled = true));
    let deferred = false;
    let freedDuringSave = 0;
    while (!settled) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      if (!settled) freedDuringSave = Math.max(freedDuringSave, before - live(heap));
      deferred ||= (heap.handles as unknown as { deferred: unknown[] | null }).deferred?.length === dropped.length;
    }
    await saving;
    assert.equal(freedDuringSave, 0, "nothing is freed while the save is in flight");
    assert.ok(deferred, "the handles were collected during the save, and their frees waited");
    await collectUntil(() => live(heap) === before - dropped.length);
    assert.equal(live(heap), before - dropped.length, "the dropped handles' blocks are freed after the save");
    heap.check();
    const loaded = await Heap.load(path);
    assert.equal(loaded.stats().liveBlocks, before, "the file holds the heap as it was when the save began");
    loaded.check();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
