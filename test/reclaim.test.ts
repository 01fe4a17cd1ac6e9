// The reclaimer hook (src/heap/reclaim.ts) with a fake reclaimer that owns a
// set of addresses: free and realloc of those throw and change nothing,
// other blocks free normally, on plain, debug and shared-mode heaps (a
// worker attached to the heap's memory), across a switch of thread mode;
// scopes and handles drop their roots to owned blocks without freeing
// them; detach puts back the calls the heap had.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import { Heap, OffheapTypeError } from "../src/index.js";
import { attachReclaimer, detachReclaimer, type Reclaimer, reclaimerOf } from "../src/heap/reclaim.js";
import { Collector, defineStruct } from "../src/collections/index.js";
import { expectError, expectRejected, rootsOf } from "./helpers.js";

const INDEX = new URL("../src/index.js", import.meta.url).href; // build/test -> build/src

class FakeCollector implements Reclaimer {
  readonly name = "Collector";
  readonly owned = new Set<number>();
  owns(addr: number): boolean {
    return this.owned.has(addr);
  }
  checks = 0;
  check(): void {
    this.checks++;
  }
}

const live = (heap: Heap): number => heap.stats().liveBlocks;
const Rec = defineStruct({ next: "ref", value: "u32" });

// The guard's promises on `heap` with `r` attached: owned blocks refused with
// the heap unchanged, the others freed and reallocated normally.
function checkGuard(heap: Heap, r: FakeCollector): void {
  const owned = heap.alloc(48);
  const other = heap.alloc(48);
  r.owned.add(owned);
  const hex = `0x${owned.toString(16)}`;
  expectRejected(heap, () => heap.free(owned), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE",
    `Heap.free: ${hex} is a block the Collector manages; drop its references and let it be collected`);
  expectRejected(heap, () => heap.realloc(owned, 4000), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE",
    `Heap.realloc: ${hex} is a block the Collector manages`);
  expectRejected(heap, () => heap.freeString(owned), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Heap.free");
  const moved = heap.realloc(other, 4000);
  heap.free(moved);
  heap.free(0);
  const p = heap.realloc(0, 8);
  heap.free(p);
  r.owned.delete(owned);
  heap.free(owned);
  heap.check();
}

test("reclaimer: attach, reclaimerOf, a second attach and a wrong detach throw", () => {
  const heap = new Heap();
  const r = new FakeCollector();
  assert.equal(reclaimerOf(heap), null);
  attachReclaimer(heap, r);
  assert.equal(reclaimerOf(heap), r);
  expectError(() => attachReclaimer(heap, new FakeCollector()), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "has a reclaimer already (Collector)");
  expectError(() => detachReclaimer(heap, new FakeCollector()), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "is not attached");
  assert.equal(reclaimerOf(heap), r);
  detachReclaimer(heap, r);
  assert.equal(reclaimerOf(heap), null);
});

test("reclaimer on a plain heap: owned blocks refused, heap unchanged; detach restores the prototype's calls", () => {
  const heap = new Heap();
  const r = new FakeCollector();
  attachReclaimer(heap, r);
  assert.ok(Object.hasOwn(heap, "free") && Object.hasOwn(heap, "realloc"), "the guard is installed");
  checkGuard(heap, r);
  detachReclaimer(heap, r);
  assert.ok(heap.free === Heap.prototype.free && heap.realloc === Heap.prototype.realloc && heap.alloc === Heap.prototype.alloc, "the plain fast paths are back");
  const p = heap.alloc(8);
  r.owned.add(p);
  heap.free(p); // no reclaimer: freed
  assert.equal(live(heap), 0);
});

test("reclaimer on a debug heap: the guard wraps debug mode's calls; detach puts them back", () => {
  const heap = new Heap({ debug: true });
  const debugFree = heap.free;
  const debugRealloc = heap.realloc;
  const r = new FakeCollector();
  attachReclaimer(heap, r);
  assert.notEqual(heap.free, debugFree);
  checkGuard(heap, r);
  detachReclaimer(heap, r);
  assert.equal(heap.free, debugFree);
  assert.equal(heap.realloc, debugRealloc);
  assert.deepEqual(heap.leaks(), []);
});

// A worker that attaches to the memory (the heap enters shared mode), says
// "attached", and detaches when told.
function attachWorker(memory: unknown): Promise<{ worker: Worker; detach: () => Promise<void> }> {
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(${JSON.stringify(INDEX)}).then(({ Heap }) => {
      const heap = Heap.attach(workerData.memory);
      heap.free(heap.alloc(8));
      parentPort.postMessage("attached");
      parentPort.once("message", () => { heap.detach(); parentPort.postMessage("detached"); });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { memory } });
  const next = () => new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return next().then(() => ({
    worker,
    detach: async () => {
      const done = next();
      worker.postMessage("detach");
      await done;
      await worker.terminate();
    },
  }));
}

for (const debug of [false, true]) {
  test(`reclaimer across shared mode${debug ? " (debug heap)" : ""}: the guard stays over the calls of each mode`, async () => {
    const heap = new Heap({ debug });
    const r = new FakeCollector();
    attachReclaimer(heap, r);
    const w = await attachWorker(heap.memory);
    try {
      heap.stats(); // a slow path: this Heap switches to the shared paths
      assert.equal(heap.sharedMode, true);
      checkGuard(heap, r);
    } finally {
      await w.detach();
    }
    heap.stats(); // back to the single-thread paths
    assert.equal(heap.sharedMode, false);
    checkGuard(heap, r);
    detachReclaimer(heap, r);
    if (!debug) assert.ok(heap.free === Heap.prototype.free && heap.realloc === Heap.prototype.realloc && heap.alloc === Heap.prototype.alloc);
    const p = heap.alloc(8);
    r.owned.add(p);
    heap.free(p);
    heap.check();
  });

  test(`reclaimer attached in shared mode${debug ? " (debug heap)" : ""}, detached in shared mode: shared paths restored`, async () => {
    const heap = new Heap({ debug });
    const w = await attachWorker(heap.memory);
    try {
      heap.stats();
      const sharedFree = heap.free;
      const r = new FakeCollector();
      attachReclaimer(heap, r);
      checkGuard(heap, r);
      detachReclaimer(heap, r);
      assert.equal(heap.free, sharedFree);
      heap.check();
    } finally {
      await w.detach();
    }
  });
}

test("reclaimer: handles and scopes drop their roots to owned blocks without freeing them", () => {
  const heap = new Heap();
  const r = new FakeCollector();
  attachReclaimer(heap, r);
  const a = heap.alloc(64);
  const b = heap.alloc(64);
  const c = heap.alloc(64);
  r.owned.add(a).add(b);
  const ha = heap.handle(a);
  const hc = heap.handle(c);
  const outer = heap.scope();
  const inner = heap.scope();
  outer.pin(b);
  inner.pin(b);
  inner.pin(c);
  const own = inner.alloc(16);
  assert.deepEqual(rootsOf(heap), [a, b, b, c, c].sort((x, y) => x - y));
  inner.dispose();
  assert.deepEqual(rootsOf(heap), [a, b, c].sort((x, y) => x - y));
  assert.equal(live(heap), 3, "the scope freed its own block only");
  assert.ok(!rootsOf(heap).includes(own));
  ha.dispose(); // owned: not freed
  assert.equal(live(heap), 3);
  hc.dispose(); // not owned: freed
  assert.equal(live(heap), 2);
  outer.dispose();
  assert.deepEqual(rootsOf(heap), []);
  assert.equal(live(heap), 2);
  detachReclaimer(heap, r);
  heap.free(a);
  heap.free(b);
  heap.check();
});

test("Heap.check validates the attached reclaimer's state too", () => {
  const heap = new Heap();
  const r = new FakeCollector();
  attachReclaimer(heap, r);
  heap.check();
  heap.check();
  assert.equal(r.checks, 2);
  detachReclaimer(heap, r);
  heap.check();
  assert.equal(r.checks, 2);
});

test("a Collector refuses a heap other threads use, with a clear error, and goes on once they leave", async () => {
  const heap = new Heap();
  const gc = new Collector(heap, { minBytes: 0, growth: 0 });
  const kept = gc.alloc(Rec, { value: 5 });
  heap.setRoot("kept", kept);
  gc.alloc(Rec);
  const w = await attachWorker(heap.memory);
  try {
    heap.stats(); // a slow path: this Heap switches to the shared paths
    assert.equal(heap.sharedMode, true);
    for (const call of [() => gc.step(0), () => gc.collect(), () => gc.alloc(Rec), () => gc.startCycle(), () => new Collector(heap)]) {
      expectError(call, OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "shared with other threads");
    }
    expectError(() => heap.free(kept), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector manages");
  } finally {
    await w.detach();
  }
  heap.stats();
  assert.equal(heap.sharedMode, false);
  gc.collect();
  assert.equal(gc.stats().liveBlocks, 1);
  heap.check();
});

// installFastPaths puts the prototype's calls back by assignment: deleting
// the guard's own free and realloc turned the Heap into a dictionary-mode
// object on Node 24 (V8 13), and optimized code then read it through V8's
// generic load stub at every site that had seen it, this Heap's own calls
// and those of code shared with other Heaps (the first Collector's priming
// heap did that to gc.alloc: 2.5x slower). V8's intrinsics tell, in a
// child process.
test("a heap keeps fast properties when reclaimers come and go", () => {
  const script = `const { Heap } = await import(${JSON.stringify(INDEX)});
const { Collector } = await import(${JSON.stringify(new URL("../src/collections/index.js", import.meta.url).href)});
const heap = new Heap();
for (let i = 0; i < 3; i++) new Collector(heap).dispose(); // each attaches the Collector, then the guard of its blocks
console.log(%HasFastProperties(heap));`;
  const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `${r.error ?? ""} ${r.stderr}`);
  assert.equal(r.stdout.trim().split("\n").at(-1), "true", "the Heap went to dictionary mode");
});
