// Collected OffHeapMaps: a seeded model of maps whose record values link to
// each other and to free records, mutated (inserts, deletes, resets, links,
// growth and migration) between incremental steps; the lost-object
// interleavings that only the map's own barrier covers (a migration out of
// an old table the marker has not scanned, backward shifts across the
// slice being scanned); images; errors.
//
// OFFHEAP_SEED replays a run: every random test prints its seed.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Heap, HeapCorruptionError, OffheapTypeError } from "../../src/index.js";
import { DisposedError } from "../../src/collections/index.js";
import { Collector, OffHeapArray, OffHeapMap } from "../../src/collections/index.js";
import { expectError, expectRejected, randInt, rng } from "../helpers.js";
import { hashWord } from "../../src/collections/hash.js";
import { eager, FIELDS, type ModelNode, Node, ownBlocks, reachableFrom, verify } from "./gc-model.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

// Header words of a map that name its tables (map-layout.ts: H_TABLE, H_OLD_TABLE, H_NEXT_TABLE).
const TABLE_WORDS = [5, 7, 11];

/** Collected blocks of the map itself: its header and the tables it names. */
function mapBlocks(heap: Heap, map: OffHeapMap<never, never> | OffHeapMap<any, any>): number {
  return 1 + TABLE_WORDS.filter((k) => heap.u32[(map.address >>> 2) + k] !== 0).length;
}

/** Asserts that `map` holds exactly `entries`, each key's record being its node. */
function verifyMap<K extends "string" | "u32">(map: OffHeapMap<K, typeof Node>, entries: Map<string | number, ModelNode>, what: string): void {
  assert.equal(map.size, entries.size, `${what}: size`);
  for (const [k, n] of entries) assert.equal(map.getRef(k as never), n.addr, `${what}: record of key ${String(k)}`);
}

describe("Collector: collected OffHeapMap model", () => {
  for (const [round, keyType] of [[0, "string"], [1, "u32"], [2, "string"]] as const) {
    const seed = (SEED + round) >>> 0;
    test(`${keyType} keys: record values linked to each other, mutated between steps, match the model (seed ${seed}; replay OFFHEAP_SEED=${SEED})`, () => {
      const next = rng(seed);
      const heap = new Heap();
      const gc = eager(heap);
      const map = new OffHeapMap(heap, { key: keyType as "string", value: Node, collector: gc });
      heap.setRoot("map", map.address);
      const entries = new Map<string | number, ModelNode>();
      const roots = new Map<string, ModelNode>();
      const reachable = (): Set<ModelNode> => reachableFrom([...entries.values(), ...roots.values()]);
      const pick = <T>(xs: T[]): T => xs[randInt(next, 0, xs.length - 1)]!;
      const key = (): string | number => keyType === "u32" ? randInt(next, 0, 4000) : `k${randInt(next, 0, 4000)}`;
      // Nodes the collector has not freed, by the snapshot rules (gc-model.ts: CycleModel, here with the map's own blocks beside them).
      const all = new Set<ModelNode>();
      let snapshotReach = new Set<ModelNode>();
      let atStart = new Set<ModelNode>();
      const setField = (n: ModelNode, f: "a" | "b", to: ModelNode | null): void => {
        n[f] = to;
        Node.at(heap, n.addr)[f] = to?.addr ?? 0;
      };
      for (let op = 0; op < 2500; op++) {
        const live = [...reachable()];
        const r = next();
        if (r < 0.4) {
          // Inserts and resets: a burst, so tables grow and migrate while cycles run.
          for (let k = randInt(next, 1, 30); k > 0; k--) {
            const kk = key();
            const value = randInt(next, 0, 2 ** 32 - 1);
            const name = next() < 0.3 ? `v${value}` : "";
            const old = entries.get(kk);
            if (next() < 0.1 && old === undefined) {
              const addr = (map as OffHeapMap<"string", typeof Node>).getOrInsertRef(kk as string);
              const n: ModelNode = { addr, value: 0, name: "", a: null, b: null };
              entries.set(kk, n);
              all.add(n);
              continue;
            }
            (map as OffHeapMap<"string", typeof Node>).set(kk as string, { value, name });
            if (old !== undefined) {
              // set on a present key resets its record in place: refs cleared, the same address
              Object.assign(old, { value, name, a: null, b: null });
            } else {
              const n: ModelNode = { addr: map.getRef(kk as never), value, name, a: null, b: null };
              entries.set(kk, n);
              all.add(n);
              if (live.length > 0 && next() < 0.5) setField(n, pick([...FIELDS]), pick(live));
            }
          }
        } else if (r < 0.55) {
          // Deletes: the record lives on while another record links to it.
          for (let k = randInt(next, 1, 20); k > 0 && entries.size > 0; k--) {
            const kk = next() < 0.8 ? pick([...entries.keys()]) : key();
            assert.equal(map.delete(kk as never), entries.delete(kk));
          }
        } else if (r < 0.75 && live.length > 0) {
          setField(pick(live), pick([...FIELDS]), next() < 0.3 ? null : pick(live));
        } else if (r < 0.8 && live.length > 0) {
          // A free record (gc.alloc), linked from a live one or rooted.
          const n: ModelNode = { addr: gc.alloc(Node, { value: op }), value: op, name: "", a: null, b: null };
          all.add(n);
          if (next() < 0.7) setField(pick(live), pick([...FIELDS]), n);
          else {
            roots.set(`r${op % 3}`, n);
            heap.setRoot(`r${op % 3}`, n.addr);
          }
        } else if (r < 0.81) {
          map.clear();
          entries.clear();
        } else if (r < 0.97) {
          if (gc.phase === "idle") {
            snapshotReach = reachable();
            atStart = new Set(all);
          }
          if (gc.step(0)) {
            for (const n of atStart) if (!snapshotReach.has(n)) all.delete(n);
            assert.ok(gc.stats().liveBlocks >= all.size + mapBlocks(heap, map), `seed ${seed} op ${op}: live blocks after a cycle`);
          }
        } else {
          gc.collect();
          const reach = reachable();
          for (const n of all) if (!reach.has(n)) all.delete(n);
          assert.equal(gc.stats().liveBlocks, all.size + mapBlocks(heap, map), `seed ${seed} op ${op}: live blocks after collect()`);
        }
        // No node that must survive was freed: each is still a collected block
        // holding its contents. While a cycle runs its sweep may already have
        // freed what it dooms: the nodes it started with and could not reach.
        const kept = gc.phase === "idle" ? all : new Set([...all].filter((n) => !atStart.has(n) || snapshotReach.has(n)));
        for (const n of kept) assert.ok(gc.owns(n.addr), `seed ${seed} op ${op}: record ${n.addr} was freed`);
        verify(heap, kept, `seed ${seed} op ${op}`);
        verifyMap(map as OffHeapMap<"string", typeof Node>, entries, `seed ${seed} op ${op}`);
        gc.check();
        map.check();
        if (op % 100 === 0) heap.check();
      }
      // Nothing leaks: dropping the map and the roots frees every record, key and string.
      const before = heap.stats();
      heap.setRoot("map", 0);
      for (const name of roots.keys()) heap.setRoot(name, 0);
      gc.collect();
      assert.equal(gc.stats().liveBlocks, 0);
      assert.ok(heap.stats().liveBlocks < before.liveBlocks);
      const expected = ownBlocks(heap);
      assert.equal(heap.stats().liveBlocks, expected, "only the collector's and the roots' own blocks are left: no key block, string or table");
      heap.check();
    });
  }
});

describe("Collector: collected OffHeapMap write barrier", () => {
  test("entries migrated out of an old table the marker has not scanned yet are not lost", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const map = new OffHeapMap(heap, { key: "u32", value: Node, collector: gc, hashSeed: 12345 });
    heap.setRoot("map", map.address);
    // 6,600 entries: a table of 8,192 slots (96 KiB), which one step does not scan whole.
    for (let i = 0; i < 6600; i++) map.set(i, { value: i });
    gc.step(0);
    assert.equal(gc.phase, "mark");
    // Growth: the scanned part of the table becomes the old table, and the
    // inserts migrate every old slot into the new table (allocated black,
    // never scanned); the unscanned slots' records are then only in it.
    for (let i = 6600; i < 7400; i++) map.set(i, { value: i });
    assert.equal(heap.u32[(map.address >>> 2) + 7], 0, "the migration ended");
    while (!gc.step(0));
    for (let i = 0; i < 7400; i++) {
      const r = map.getRef(i);
      assert.ok(gc.owns(r), `record of key ${i} was freed`);
      assert.equal(Node.at(heap, r).value, i);
    }
    map.check();
    gc.check();
  });

  test("entries shifted back across the slice being scanned, or pushed past the table's end to its start, are not lost", () => {
    // A table of 16,384 slots (192 KiB) that no step scans whole: the
    // marker scans it in 512-byte slices from its start, so between steps
    // some slice boundary separates scanned slots from unscanned ones.
    const heap = new Heap();
    const gc = eager(heap);
    const seed = 777;
    const map = new OffHeapMap(heap, { key: "u32", value: Node, collector: gc, hashSeed: seed, capacity: 13_000 });
    heap.setRoot("map", map.address);
    const cap = 16_384;
    const table = heap.u32[(map.address >>> 2) + 5]!;
    // Keys by home slot (hash.ts: hashWord, as the map hashes u32 keys).
    const homes = new Map<number, number[]>();
    const want = new Set<number>();
    // At every slice boundary b: three keys of one home h, placed in slots
    // h, h + 1, h + 2, with b between the value words of h + 1 and h + 2.
    const runs: number[] = [];
    for (let b = 512; b < cap * 12; b += 512) {
      const h = Math.ceil((b - 8) / 12) - 2;
      runs.push(h);
      want.add(h);
    }
    // And at the end: one key of home cap - 1, two of home cap - 2.
    want.add(cap - 1).add(cap - 2);
    for (let key = 1; [...want].some((h) => (homes.get(h)?.length ?? 0) < 3); key++) {
      const h = hashWord(key, seed) & (cap - 1);
      if (!want.has(h)) continue;
      const list = homes.get(h) ?? [];
      if (list.length < 3) homes.set(h, [...list, key]);
    }
    const slotOf = (key: number): number => {
      for (let i = 0; i < cap; i++) if (heap.u32[(table >>> 2) + i * 3 + 1] === key && heap.u32[(table >>> 2) + i * 3]! >= 2) return i;
      return -1;
    };
    for (const h of runs) for (const key of homes.get(h)!) map.set(key, { value: key });
    const [last] = homes.get(cap - 1)!;
    const [c, b2] = homes.get(cap - 2)!;
    map.set(c!, { value: c! }).set(last!, { value: last! });
    assert.deepEqual([slotOf(c!), slotOf(last!)], [cap - 2, cap - 1]);
    gc.step(0);
    assert.equal(gc.phase, "mark");
    // Robin Hood insert: b2 takes slot cap - 1, pushing `last` round to slot 0, scanned already.
    map.set(b2!, { value: b2! });
    assert.equal(slotOf(last!), 0);
    // Backward shifts: deleting the first key of each run moves the third across its boundary.
    for (const h of runs) map.delete(homes.get(h)![0]!);
    while (!gc.step(0));
    const kept = [last!, c!, b2!, ...runs.flatMap((h) => homes.get(h)!.slice(1))];
    for (const key of kept) {
      const r = map.getRef(key);
      assert.ok(gc.owns(r), `record of key ${key} was freed`);
      assert.equal(Node.at(heap, r).value, key);
    }
    assert.equal(map.size, kept.length);
    map.check();
    gc.check();
  });

  test("a record deleted from the map while a scanned record links to it lives on; key blocks and strings are freed", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const holder = gc.alloc(Node);
    heap.setRoot("holder", holder);
    // The map is reached only at the end of a chain of 3,000 records: marked many steps after the holder.
    const map = new OffHeapMap(heap, { key: "string", value: Node, collector: gc });
    let last = gc.alloc(Node, { value: 0 });
    heap.setRoot("chain", last);
    for (let i = 1; i <= 3000; i++) last = Node.at(heap, last).a = gc.alloc(Node, { value: i });
    Node.at(heap, last).a = map.address;
    map.set("kept", { value: 1, name: "kept" });
    map.set("linked", { value: 2, name: "linked" });
    map.set("gone", { value: 3, name: "gone" });
    const linked = map.getRef("linked");
    const blocks = heap.stats().liveBlocks;
    gc.step(0);
    assert.equal(gc.phase, "mark");
    // The holder is scanned, the map's table is not: the only reference to
    // `linked` moves into the holder, then its entry goes.
    Node.at(heap, holder).a = linked;
    map.delete("linked");
    map.delete("gone");
    assert.equal(heap.stats().liveBlocks, blocks - 2, "the two key blocks are freed at once");
    while (!gc.step(0));
    assert.ok(gc.owns(linked), "the deleted entry's record, linked from the holder, was freed");
    assert.equal(Node.at(heap, linked).name, "linked");
    gc.collect();
    assert.equal(heap.stats().liveBlocks, blocks - 4, "the unlinked record and its name are collected");
    map.check();
    gc.check();
    heap.check();
  });
});

describe("Collector: collected OffHeapMap images and errors", () => {
  test("a collected map saved mid-cycle opens and collects after Heap.load, only with a Collector open", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "offheap-gcmap-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const heap = new Heap();
    const gc = eager(heap);
    const map = new OffHeapMap(heap, { key: "string", value: Node, collector: gc });
    const arr = new OffHeapArray(heap, "ref", { collector: gc });
    heap.setRoot("map", map.address);
    heap.setRoot("arr", arr.address);
    for (let i = 0; i < 3000; i++) {
      map.set(`key ${i}`, { value: i, name: `name ${i}` });
      if (i % 2 === 0) map.delete(`key ${i >> 1}`);
    }
    for (let i = 0; i < 10; i++) arr.push(map.getRef(`key ${2990 + i}`));
    gc.step(0);
    const path = join(dir, "map.heap");
    await heap.save(path);
    const loaded = await Heap.load(path);
    const opts = { key: "string", value: Node } as const;
    expectRejected(loaded, () => OffHeapMap.open(loaded, loaded.getRoot("map"), opts), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    expectRejected(loaded, () => OffHeapArray.open(loaded, loaded.getRoot("arr"), "ref"), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    const again = eager(loaded);
    const m = OffHeapMap.open(loaded, loaded.getRoot("map"), opts);
    again.collect();
    assert.equal(m.size, 1500);
    for (let i = 1500; i < 3000; i++) assert.equal(Node.at(loaded, m.getRef(`key ${i}`)).name, `name ${i}`);
    for (let i = 0; i < 100; i++) m.set(`new ${i}`, { value: i }); // the reopened map makes collected records
    m.clear();
    again.collect();
    assert.equal(again.stats().liveBlocks, 1 + 2 + 10, "the map's header, the array's header and elements, the 10 records it links");
    m.check();
    again.check();
    loaded.check();
  });

  test("after its Collector is disposed a collected map reads and deletes; a call that must allocate throws and changes nothing", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const map = new OffHeapMap(heap, { key: "u32", value: "u32", collector: gc });
    heap.setRoot("map", map.address);
    for (let i = 0; i < 39; i++) map.set(i, i); // 64 slots, one entry short of preparing the next table
    gc.dispose();
    for (let i = 39; i < 52; i++) map.set(i, i); // fits: preparing the next table is skipped, not thrown
    assert.equal(heap.u32[(map.address >>> 2) + 11], 0, "no next table");
    expectRejected(heap, () => map.set(52, 52), DisposedError, "ERR_OFFHEAP_DISPOSED", "Collector"); // must grow
    assert.ok(map.delete(0));
    map.check();
    const again = eager(heap);
    const reopened = OffHeapMap.open(heap, heap.getRoot("map"), { key: "u32", value: "u32" });
    for (let i = 52; i < 200; i++) reopened.set(i, i);
    again.collect();
    assert.equal(reopened.size, 199);
    for (let i = 1; i < 200; i++) assert.equal(reopened.get(i), i);
    reopened.check();
    again.check();
  });

  test("after its Collector is disposed a collected map of records refuses a new record; the next Collector keeps every record it holds", () => {
    // The map allocates its records through the Collector it was made with. Through a disposed one
    // this went on (no DisposedError), and the record, in the phase that Collector left, was white
    // to the next Collector's marking, which freed it while the map held it (found by an acceptance run).
    const heap = new Heap();
    const gc = eager(heap);
    const map = new OffHeapMap(heap, { key: "u32", value: Node, collector: gc, capacity: 64 });
    heap.setRoot("map", map.address);
    map.set(1, { value: 1 });
    gc.dispose();
    expectRejected(heap, () => map.set(2, { value: 2 }), DisposedError, "ERR_OFFHEAP_DISPOSED", "Collector");
    expectRejected(heap, () => map.getOrInsertRef(3), DisposedError, "ERR_OFFHEAP_DISPOSED", "Collector");
    map.set(1, { value: 10 }); // an existing record is rewritten in place: no allocation
    assert.ok(map.has(1) && !map.has(2) && !map.has(3));
    const again = eager(heap);
    // A long chain from the map's record keeps the next Collector marking across steps.
    let p = map.getRef(1);
    for (let i = 0; i < 20_000; i++) {
      const q = again.alloc(Node, { value: i });
      Node.at(heap, p).a = q;
      p = q;
    }
    again.startCycle();
    again.step(0);
    assert.equal(again.phase, "mark");
    expectRejected(heap, () => map.set(100, { value: 100 }), DisposedError, "ERR_OFFHEAP_DISPOSED", "Collector");
    const reopened = OffHeapMap.open(heap, heap.getRoot("map"), { key: "u32", value: Node });
    for (let k = 100; k < 110; k++) reopened.set(k, { value: k });
    while (!again.step(1));
    again.collect();
    for (let k = 100; k < 110; k++) assert.ok(again.owns(reopened.getRef(k)), `the record of key ${k}, inserted while marking, is kept`);
    assert.equal(Node.at(heap, reopened.getRef(1)).value, 10);
    heap.check();
    reopened.check();
  });

  test("bad collector options and frees of a map's blocks throw and change nothing", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const other = new Heap();
    const otherGc = eager(other);
    expectRejected(heap, () => new OffHeapMap(heap, { key: "u32", value: Node, collector: otherGc }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "collector");
    expectError(() => new OffHeapMap(heap, { key: "u32", value: Node, collector: 1 as never }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "collector");
    const map = new OffHeapMap(heap, { key: "u32", value: Node, collector: gc });
    heap.setRoot("map", map.address);
    map.set(1, { name: "one" });
    expectRejected(heap, () => heap.free(map.getRef(1)), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    expectRejected(heap, () => heap.free(map.address), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "Collector");
    // check() finds a key address left behind in an empty slot (M9): the sweep would free that block twice.
    const table = heap.u32[(map.address >>> 2) + 5]!;
    const empty = [0, 1, 2, 3].find((i) => heap.u32[(table >>> 2) + i * 3] === 0)!;
    heap.u32[(table >>> 2) + empty * 3 + 1] = 64;
    expectError(() => map.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "M9");
    heap.u32[(table >>> 2) + empty * 3 + 1] = 0;
    map.check();
    // A plain map beside it on the same heap still frees by hand.
    const plain = new OffHeapMap(heap, { key: "string", value: Node });
    plain.set("a", { name: "a" });
    plain.dispose();
    map.dispose();
    heap.setRoot("map", 0);
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 0);
    gc.check();
    heap.check();
  });
});
