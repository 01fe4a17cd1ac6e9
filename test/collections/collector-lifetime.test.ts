// Collector: its bitmaps by chunk as the heap grows, its images (save and
// load at every phase), a Collector on a debug heap, and the errors: a
// detached Heap, free of a collected block, bad arguments, collected blocks
// with no Collector open, the Collector's own root, one Collector per heap,
// and dispose. collector.test.ts holds the model, the write barrier,
// marking, roots, arrays and sweeping.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DisposedError, Heap, HeapCorruptionError, OffheapRangeError, OffheapTypeError, OutOfMemoryError } from "../../src/index.js";
import type { GcSpace } from "../../src/collections/gc-space.js";
import { Collector, defineStruct, OffHeapArray } from "../../src/collections/index.js";
import { expectError, expectRejected } from "../helpers.js";
import { eager, Node, rootedChain } from "./gc-model.js";

describe("Collector bitmaps by chunk", () => {
  test("the cover stops short of 4 GiB: an end in the last MiB is refused and changes nothing", () => {
    // Every address the collector shifts must stay below 2^32 (gc-layout.ts: MAX_COVER).
    const heap = new Heap();
    const gc = eager(heap);
    const space = (gc as unknown as { space: GcSpace }).space;
    const cover = space.cover;
    const table = heap.u32[(heap.getRoot("offheap.gc") >>> 2) + 3]!;
    expectError(() => space.grow(2 ** 32 - 8), OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY", "last MiB");
    assert.equal(space.cover, cover);
    assert.equal(heap.u32[(heap.getRoot("offheap.gc") >>> 2) + 3], table, "the chunk table did not move");
    gc.check();
    heap.check();
  });

  test("the cover grows a chunk at a time; records and an array block across chunk boundaries are marked, swept and saved", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "offheap-gc-chunks-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const heap = new Heap();
    const gc = eager(heap);
    const cover = (h: Heap): number => h.u32[(h.getRoot("offheap.gc") >>> 2) + 5]!; // gc-layout.ts: DIR_COVER +5
    const coverBefore = cover(heap);
    // 1.6 MB of refs in one element block (it spans at least one 1 MiB
    // chunk boundary), and 400,000 records with strings, garbage between.
    const n = 400_000;
    const arr = new OffHeapArray(heap, "ref", { collector: gc, capacity: n });
    heap.setRoot("arr", arr.address);
    for (let i = 0; i < n; i++) {
      arr.push(gc.alloc(Node, { value: i, name: i % 100 === 0 ? `r${i}` : "" }));
      if (i % 4 === 0) gc.alloc(Node, { name: "garbage" });
    }
    assert.ok(cover(heap) - coverBefore >= 8 * 2 ** 20, `the cover grew by ${cover(heap) - coverBefore} bytes`);
    // A cycle in steps, replacing elements between them (the barrier shades the old ones).
    gc.startCycle();
    for (let i = 0; !gc.step(0); i += 997) {
      if (i < n) arr.set(i, gc.alloc(Node, { value: i + 1, name: "fresh" }));
    }
    gc.collect();
    gc.check();
    heap.check();
    assert.equal(gc.stats().liveBlocks, 2 + n);
    const expect = (h: Heap, a: OffHeapArray<"ref">): void => {
      const cur = Node.at(h, 0);
      for (let i = 0; i < n; i++) {
        cur.addr = a.get(i);
        const fresh = i % 997 === 0 && cur.name === "fresh";
        assert.equal(cur.value, fresh ? i + 1 : i);
        if (!fresh) assert.equal(cur.name, i % 100 === 0 ? `r${i}` : "");
      }
    };
    expect(heap, arr);
    const path = join(dir, "chunks.heap");
    await heap.save(path);
    const loaded = await Heap.load(path);
    const again = eager(loaded);
    again.collect();
    again.check();
    expect(loaded, OffHeapArray.open(loaded, loaded.getRoot("arr"), "ref"));
    // Damage: a chunk's entry in the table no longer names its bitmaps.
    const d = heap.getRoot("offheap.gc") >>> 2;
    const entry = (heap.u32[d + 3]! >>> 2) + (cover(heap) >>> 20) - 1; // DIR_CHUNKS +3: the last chunk's entry
    const saved = heap.u32[entry]!;
    heap.u32[entry] = 0;
    expectError(() => gc.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "C1");
    heap.u32[entry] = saved;
    arr.clear();
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 1, "the array's header: clear frees its element block");
    gc.check();
    heap.check();
  });
});

describe("Collector images", () => {
  const dir = mkdtempSync(join(tmpdir(), "offheap-gc-"));
  for (const phase of ["idle", "mark", "sweep"] as const) {
    test(`an image saved while ${phase} collects correctly after Heap.load`, async (t) => {
      t.after(() => rmSync(join(dir, `${phase}.heap`), { force: true }));
      const heap = new Heap();
      const gc = eager(heap);
      const head = gc.alloc(Node, { value: 1, name: "head" });
      heap.setRoot("list", head);
      for (let i = 0, last = head; i < 3000; i++) last = Node.at(heap, last).a = gc.alloc(Node, { value: i + 2 });
      for (let i = 0; i < 2000; i++) gc.alloc(Node, { name: `garbage ${i}` });
      while (gc.phase !== phase) gc.step(0);
      if (phase === "sweep") gc.step(0);
      const path = join(dir, `${phase}.heap`);
      await heap.save(path);
      const loaded = await Heap.load(path);
      const again = eager(loaded);
      again.check();
      assert.equal(again.phase, phase === "mark" ? "idle" : phase, "an image saved while marking restarts its cycle");
      again.collect();
      again.check();
      loaded.check();
      assert.equal(again.stats().liveBlocks, 3001);
      let n = 0;
      for (let a = loaded.getRoot("list"), cur = Node.at(loaded, a); a !== 0; a = cur.a, n++) {
        cur.addr = a;
        assert.equal(cur.value, n + 1);
      }
      assert.equal(n, 3001);
      assert.equal(Node.at(loaded, head).name, "head");
    });
  }
});

describe("Collector on a debug heap", () => {
  test("debug trailers count in the collector's bytes, and its frees go through debug mode's checks", () => {
    const heap = new Heap({ debug: true });
    const gc = eager(heap);
    const [head] = rootedChain(heap, gc, 500);
    for (let i = 0; i < 500; i++) gc.alloc(Node, { name: `garbage ${i}` });
    const arr = new OffHeapArray(heap, "ref", { collector: gc });
    heap.setRoot("arr", arr.address);
    for (let i = 0; i < 100; i++) arr.push(gc.alloc(Node, { value: i }));
    while (!gc.step(0));
    gc.collect();
    heap.check();
    assert.equal(gc.stats().liveBlocks, 501 + 2 + 100);
    Node.at(heap, head).a = 0;
    gc.collect();
    heap.check();
    assert.equal(gc.stats().liveBlocks, 1 + 2 + 100);
  });
});

describe("Collector errors", () => {
  test("a Collector whose Heap was detached: typed errors, dispose() works, and a Collector on the memory attached again goes on", () => {
    // Its calls read the emptied views: step() returned, stats() gave undefined counts, check()
    // and dispose() reported damage (C1), and collect() never returned. Found by an acceptance run.
    const heap = new Heap();
    const gc = eager(heap);
    const root = gc.alloc(Node, { name: "root" });
    heap.setRoot("r", root);
    Node.at(heap, root).a = gc.alloc(Node, { name: "kept" });
    gc.alloc(Node, { name: "garbage" });
    gc.startCycle();
    const memory = heap.memory;
    heap.detach();
    for (const [name, call] of [["step", () => gc.step(1)], ["collect", () => gc.collect()], ["stats", () => gc.stats()], ["check", () => gc.check()], ["startCycle", () => gc.startCycle()]] as const) {
      expectError(call, OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", `Collector.${name}`, "detached");
    }
    gc.dispose();
    expectError(() => gc.collect(), DisposedError, "ERR_OFFHEAP_DISPOSED");
    const again = Heap.attach(memory);
    const gc2 = new Collector(again);
    gc2.collect();
    assert.equal(gc2.stats().liveBlocks, 2);
    assert.equal(Node.at(again, Node.at(again, again.getRoot("r")).a).name, "kept");
    gc2.check();
    again.check();
  });

  test("free and Type.free of a collected block throw and change nothing", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const r = gc.alloc(Node, { name: "kept" });
    heap.setRoot("r", r);
    expectRejected(heap, () => heap.free(r), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    expectRejected(heap, () => Node.free(heap, r), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    assert.equal(Node.at(heap, r).name, "kept");
    const manual = Node.alloc(heap, { name: "manual" });
    Node.free(heap, manual); // manual records still free as before
    gc.check();
  });

  test("bad arguments throw typed errors and change nothing", () => {
    const heap = new Heap();
    const gc = eager(heap);
    expectRejected(heap, () => gc.alloc({} as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "defineStruct");
    expectRejected(heap, () => gc.alloc(Node, { nope: 1 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "nope");
    expectRejected(heap, () => gc.step(-1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "budgetMs");
    expectRejected(heap, () => gc.step(Number.NaN), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "budgetMs");
    expectError(() => new Collector(heap), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    expectError(() => new Collector({} as Heap), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "heap must be a Heap");
    gc.check();
  });

  test("with no Collector open (after dispose, on a heap attached or loaded), collected blocks still refuse free; check() validates them", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "offheap-gcguard-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const heap = new Heap();
    const gc = eager(heap);
    const r = gc.alloc(Node, { name: "kept" });
    heap.setRoot("r", r);
    gc.dispose();
    const path = join(dir, "guarded.heap");
    await heap.save(path);
    const heaps: [string, () => Heap | Promise<Heap>][] = [["disposed", () => heap], ["attached", () => Heap.attach(heap.memory)], ["loaded", () => Heap.load(path)]];
    for (const [what, open] of heaps) {
      const h = await open();
      expectRejected(h, () => h.free(r), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
      expectRejected(h, () => h.realloc(r, 100), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
      expectRejected(h, () => Node.free(h, r), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
      h.free(h.alloc(40)); // plain blocks free as ever
      h.check();
      // heap.check() runs the collector's check (C1-C6) with none open: a tag on a word outside any collected block is damage.
      // The last word-bitmap word of the last chunk (gc-layout.ts: DIR_CHUNKS +3, DIR_COVER +5; 1 MiB chunks, 96 KiB bitmap blocks).
      const d = h.getRoot("offheap.gc") >>> 2;
      const last = h.u32[(h.u32[d + 3]! >>> 2) + (h.u32[d + 5]! >>> 20) - 1]! + 96 * 1024 - 4;
      h.u32[last >>> 2] = 1;
      expectError(() => h.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "C4");
      h.u32[last >>> 2] = 0;
      if (what === "attached") {
        // The same memory as `heap`, in the same thread: a Collector on either needs the other detached.
        expectRejected(h, () => eager(h), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "another Heap of this thread");
        expectRejected(heap, () => eager(heap), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "another Heap of this thread");
        h.detach();
        continue;
      }
      const again = eager(h); // takes the guard's place
      again.collect();
      assert.equal(Node.at(h, r).name, "kept", `${what}: the record survives`);
      again.check();
      h.check();
      again.dispose();
    }
  });

  test("the Collector's own root is not the program's: rootNames leaves it out and setRoot refuses it", async (t) => {
    // A program that cleared every root rootNames listed cut the Collector off from its state: the next
    // Collector (after save and load, or a dispose) saw no collected block, and heap.free freed its
    // records (found by an acceptance run).
    const dir = mkdtempSync(join(tmpdir(), "offheap-gcroot-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const heap = new Heap();
    const gc = eager(heap);
    const r = gc.alloc(Node, { value: 5 });
    heap.setRoot("data", r);
    assert.deepEqual(heap.rootNames(), ["data"]);
    assert.notEqual(heap.getRoot("offheap.gc"), 0, "readable by name");
    expectRejected(heap, () => heap.setRoot("offheap.gc", 0), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "offheap's own");
    for (const name of heap.rootNames()) if (name !== "data") heap.setRoot(name, 0);
    const path = join(dir, "gcroot.heap");
    await heap.save(path);
    const loaded = await Heap.load(path);
    expectRejected(loaded, () => loaded.free(r), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    const again = eager(loaded);
    assert.equal(again.stats().liveBlocks, 1);
    assert.ok(again.owns(r));
    again.collect();
    assert.equal(Node.at(loaded, r).value, 5);
    loaded.check();
  });

  test("one Collector per heap, through one Heap: no second Heap of the thread beside a Collector, nor a Collector beside one", () => {
    // A Collector's roots are its Heap's handles and scopes, and its write barrier is found by its
    // Heap: a second Heap of the thread on the same memory (Heap.attach) went unseen, and could make a
    // second Collector run cycles on the same image, which freed records the first one's roots reached
    // (found by an acceptance run).
    const heap = new Heap();
    const gc = eager(heap);
    const r = gc.alloc(Node, { value: 1 });
    heap.setRoot("r", r);
    expectRejected(heap, () => Heap.attach(heap.memory), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Heap.attach", "runs a Collector");
    expectRejected(heap, () => Heap.attach(heap.buffer), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Heap.attach", "runs a Collector"); // the same bytes
    heap.free(heap.alloc(24)); // the refused attach left the thread's slot to this Heap
    gc.dispose();
    const other = Heap.attach(heap.memory); // no Collector runs: allowed, and its free is guarded (the test above)
    expectRejected(heap, () => eager(heap), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "another Heap of this thread");
    other.detach();
    const again = eager(heap);
    again.collect();
    assert.equal(Node.at(heap, r).value, 1);
    again.check();
    again.dispose();
    // A memory of its own is another heap: a copy attached beside the Collector's is allowed.
    const copy = Heap.attach(new Uint8Array(heap.buffer).slice().buffer);
    eager(copy).collect();
    copy.check();
    heap.check();
  });

  test("dispose keeps the blocks and the state; a new Collector goes on; a disposed one throws", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const r = gc.alloc(Node, { value: 3 });
    heap.setRoot("r", r);
    gc.alloc(Node);
    gc.dispose();
    gc.dispose();
    expectError(() => gc.alloc(Node), DisposedError, "ERR_OFFHEAP_DISPOSED", "Collector.alloc");
    expectError(() => gc.step(), DisposedError, "ERR_OFFHEAP_DISPOSED");
    const again = new Collector(heap);
    assert.equal(again.stats().liveBlocks, 2);
    again.collect();
    assert.equal(again.stats().liveBlocks, 1);
    assert.equal(Node.at(heap, r).value, 3);
    again.check();
    heap.check();
  });
});
