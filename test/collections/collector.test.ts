// Collector: a seeded model of random graphs (trees, DAGs, cycles, self
// references) mutated between incremental steps, the write barrier's
// lost-object interleaving, marking and pacing, roots, collected arrays,
// sweeping (collector-lifetime.test.ts: the bitmaps by chunk, images, a
// debug heap, the errors).
//
// OFFHEAP_SEED replays a run: every random test prints its seed.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapCorruptionError, OffheapRangeError } from "../../src/index.js";
import { Collector, defineStruct, OffHeapArray } from "../../src/collections/index.js";
import { expectError, randInt, rng } from "../helpers.js";
import { countedLiveBytes } from "../../src/heap/live-bytes.js";
import { CycleModel, eager, FIELDS, type ModelNode, Node, ownBlocks, reachableFrom, rootedChain, verify } from "./gc-model.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const Leaf = defineStruct({ x: "f64", tag: "u32" }); // no refs: never scanned

describe("Collector model", () => {
  for (let round = 0; round < 4; round++) {
    const seed = (SEED + round) >>> 0;
    // Rounds 0 and 1 on a WebAssembly.Memory (the wasm mark loop), 2 and 3 on a resizable ArrayBuffer (the JavaScript one).
    const memory = round < 2 ? "wasm" : "resizable";
    test(`random graphs mutated between steps match the model, ${memory} memory (seed ${seed}; replay OFFHEAP_SEED=${SEED})`, () => {
      const next = rng(seed);
      const heap = new Heap({ memory });
      const gc = eager(heap);
      const roots = new Map<string, ModelNode>();
      const model = new CycleModel(gc, () => reachableFrom(roots.values()));
      const pick = <T>(xs: T[]): T => xs[randInt(next, 0, xs.length - 1)]!;
      let serial = 0;
      const make = (): ModelNode => {
        const n: ModelNode = { addr: 0, value: randInt(next, 0, 2 ** 32 - 1), name: next() < 0.3 ? `n${serial++}` : "", a: null, b: null };
        n.addr = gc.alloc(Node, { value: n.value, name: n.name });
        model.all.add(n);
        return n;
      };
      const setField = (n: ModelNode, f: "a" | "b", to: ModelNode | null): void => {
        n[f] = to;
        Node.at(heap, n.addr)[f] = to?.addr ?? 0;
      };
      const setRoot = (name: string, to: ModelNode | null): void => {
        if (to === null) roots.delete(name);
        else roots.set(name, to);
        heap.setRoot(name, to?.addr ?? 0);
      };
      setRoot("r0", make());
      for (let op = 0; op < 1500; op++) {
        let live = [...reachableFrom(roots.values())];
        if (live.length === 0) {
          // Every root was dropped: start a new graph.
          setRoot("r0", make());
          live = [...reachableFrom(roots.values())];
        }
        const r = next();
        if (r < 0.45) {
          // Grow: a burst of new nodes hung from reachable ones (trees, DAGs, cycles, self references).
          for (let k = randInt(next, 1, 40); k > 0; k--) {
            const n = make();
            const mode = next();
            if (mode < 0.8) setField(pick(live), pick([...FIELDS]), n);
            else if (mode < 0.9) setRoot(`r${randInt(next, 0, 5)}`, n);
            // else: garbage from birth
            if (next() < 0.3) setField(n, pick([...FIELDS]), next() < 0.2 ? n : pick(live));
            live.push(n);
          }
        } else if (r < 0.7) {
          setField(pick(live), pick([...FIELDS]), next() < 0.4 ? null : pick(live));
        } else if (r < 0.75) {
          setRoot(`r${randInt(next, 0, 5)}`, next() < 0.5 ? null : pick(live));
        } else if (r < 0.97) {
          model.step();
        } else {
          model.collect();
        }
        verify(heap, reachableFrom(roots.values()), `seed ${seed} op ${op}`);
        gc.check();
        if (op % 50 === 0) heap.check();
      }
      // Nothing leaks: with no roots, one collection frees every record and its strings.
      for (const name of [...roots.keys()]) setRoot(name, null);
      gc.collect();
      assert.equal(gc.stats().liveBlocks, 0);
      assert.equal(gc.stats().liveBytes, 0);
      gc.check();
      heap.check();
      const blocks = heap.stats().liveBlocks;
      const expected = ownBlocks(heap);
      assert.equal(blocks, expected, "only the collector's and the roots' own blocks are left");
      // The wasm mark loop keeps its workspace in the directory (gc-layout.ts: DIR_WORKSPACE); the JavaScript one has none.
      assert.equal(heap.u32[(heap.getRoot("offheap.gc") >>> 2) + 4] !== 0, memory === "wasm", `the ${memory} heap was marked by the other loop`);
    });
  }
});

describe("Collector write barrier", () => {
  test("a reference moved from an unscanned block into a scanned one during marking is not lost", () => {
    const heap = new Heap();
    const gc = eager(heap);
    // Marking is LIFO: roots scanned in order chain, a; so A is scanned first, then the chain, then B at its end.
    const [, last] = rootedChain(heap, gc, 5000);
    const B = gc.alloc(Node);
    const C = gc.alloc(Node, { value: 77, name: "the object" });
    Node.at(heap, last).a = B;
    Node.at(heap, B).a = C;
    const A = gc.alloc(Node);
    heap.setRoot("a", A);
    assert.equal(gc.step(0), false);
    assert.equal(gc.phase, "mark");
    // A is black, B still white: move the only reference to C from B into A.
    Node.at(heap, A).b = C;
    Node.at(heap, B).a = 0;
    while (!gc.step(0));
    assert.ok(gc.owns(C), "C survived the cycle");
    const c = Node.at(heap, C);
    assert.equal(c.value, 77);
    assert.equal(c.name, "the object");
    gc.check();
    heap.check();
    gc.collect();
    assert.ok(gc.owns(C));
    assert.equal(gc.stats().liveBlocks, 5001 + 3);
  });

  test("Type.write and Type.reset pass overwritten references to the barrier", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const [, last] = rootedChain(heap, gc, 3000);
    const A = gc.alloc(Node);
    heap.setRoot("a", A);
    const B = gc.alloc(Node); // reached only from the chain's end
    const C1 = gc.alloc(Node, { value: 1 });
    const C2 = gc.alloc(Node, { value: 2 });
    Node.write(heap, B, { a: C1, b: C2 });
    Node.at(heap, last).a = B;
    gc.step(0);
    assert.equal(gc.phase, "mark"); // A black, B white
    Node.write(heap, A, { a: C1, b: C2 });
    Node.write(heap, B, { a: 0 });
    Node.reset(heap, B);
    gc.collect();
    assert.ok(gc.owns(C1) && gc.owns(C2));
    assert.equal(Node.at(heap, C2).value, 2);
    gc.check();
  });

  test("blocks allocated while marking are black; records without refs are never scanned", () => {
    const heap = new Heap();
    const gc = eager(heap);
    rootedChain(heap, gc, 2000);
    gc.step(0);
    assert.equal(gc.phase, "mark");
    const born = gc.alloc(Node, { value: 5 }); // unreachable, but allocated during the cycle: survives it
    const leaf = gc.alloc(Leaf, { x: 1.5, tag: 9 });
    while (!gc.step(0));
    assert.ok(gc.owns(born) && gc.owns(leaf));
    gc.check();
    const marked = gc.stats().markedBlocks;
    gc.collect(); // the next cycle frees them
    assert.ok(!gc.owns(born) && !gc.owns(leaf));
    assert.equal(gc.stats().markedBlocks - marked, 2001);
    heap.check();
  });
});

describe("Collector.alloc without values", () => {
  // Its block is calloc'd at the size of the type it last saw (cached with the type's tags):
  // types of different sizes in turn each get a zeroed block of their own size, tagged as their type.
  test("records of types of different sizes in turn: zeroed, of their own size, refs followed", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const Big = defineStruct({ next: "ref", payload: "bytes[200]", n: "u32" });
    const types = [Leaf, Big, Node] as const; // the smallest first
    const blocks: number[] = [];
    let last = 0;
    for (let i = 0; i < 300; i++) {
      const type = types[i % 3]!;
      const addr = gc.alloc(type as typeof Node);
      const plain = heap.calloc(type.size);
      assert.equal(heap.usable(addr), heap.usable(plain), `record ${i}'s block is not the size of its type's`);
      heap.free(plain);
      for (let b = 0; b < type.size; b++) assert.equal(heap.u8[addr + b], 0, `record ${i} is not zeroed at byte ${b}`);
      // Its scalar fields filled to their ends: a block shorter than the type would overlap the next record's.
      if (type === Big) {
        heap.u8.fill(i & 0xff, addr + Big.offsets.payload, addr + Big.offsets.payload + 200);
        const big = Big.at(heap, addr);
        big.n = i;
        big.next = last; // a chain through the Big records only
        last = addr;
      } else if (type === Leaf) {
        Object.assign(Leaf.at(heap, addr), { x: i + 0.5, tag: 0xa5a5a5a5 });
      } else {
        Node.at(heap, addr).value = 0xa5a5a5a5;
      }
      blocks.push(addr);
    }
    heap.setRoot("chain", last);
    gc.check();
    heap.check();
    gc.collect(); // keeps the chain of 100 Big records, frees the 200 others
    assert.equal(gc.stats().liveBlocks, 100);
    for (let i = 1; i < 300; i += 3) {
      const addr = blocks[i]!;
      assert.ok(gc.owns(addr), `Big record ${i} was freed`);
      assert.equal(Big.at(heap, addr).n, i);
      for (let b = 0; b < 200; b++) assert.equal(heap.u8[addr + Big.offsets.payload + b], i & 0xff, `Big record ${i}'s payload changed`);
    }
    gc.check();
    heap.check();
  });
});

describe("Collector marking and pacing", () => {
  test("the gray stack grows by segments while a block is scanned, and steps between segments lose no entry", () => {
    // Each chain record's second ref is a leaf and its first the next record:
    // marking scans a block's last ref first, so it pushes the leaf, then
    // the next record, which it pops next; the stack holds every leaf at
    // once, five segments of it. Each leaf holds a record nothing else
    // reaches, so a leaf the stack loses loses that record.
    const heap = new Heap();
    const gc = eager(heap);
    // Seven rooted leaves first, so the stack does not fill exactly at the end of a chunk of work.
    for (let i = 0; i < 7; i++) heap.setRoot(`leaf ${i}`, gc.alloc(Node));
    const head = gc.alloc(Node);
    heap.setRoot("head", head);
    const cur = Node.at(heap, head);
    const records: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      records.push(cur.addr);
      const leaf = gc.alloc(Node, { value: i });
      cur.b = leaf;
      Node.at(heap, leaf).a = gc.alloc(Node, { value: -i >>> 0 });
      const next = gc.alloc(Node);
      cur.a = next;
      cur.addr = next;
    }
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 60_008);
    gc.check();
    // Again in the smallest steps, unlinking every other leaf from its
    // record and making garbage between steps. How deep the stack went is
    // read from the marker's private segment list (gc-mark.ts), to show
    // that the test covers it.
    const internals = (gc as unknown as { marker: { below: Uint32Array[] } }).marker;
    let deepest = 0;
    let unlinked = 0;
    gc.startCycle();
    for (let over = false; !over; ) {
      over = gc.step(0);
      deepest = Math.max(deepest, internals.below.length);
      gc.alloc(Node);
      if (2 * unlinked < records.length) Node.at(heap, records[2 * unlinked++]!).b = 0; // the barrier shades the leaf: it lives through this cycle
    }
    assert.ok(deepest >= 3, `the gray stack reached ${deepest + 1} segments`);
    gc.check();
    gc.collect();
    gc.check();
    heap.check();
    assert.equal(gc.stats().liveBlocks, 60_008 - 2 * unlinked);
    const at = Node.at(heap, 0);
    for (const [i, r] of records.entries()) {
      at.addr = r;
      const leaf = at.b;
      if (i % 2 === 0 && i / 2 < unlinked) assert.equal(leaf, 0);
      else {
        at.addr = leaf;
        assert.equal(at.value, i);
        assert.equal(Node.at(heap, at.a).value, -i >>> 0);
        at.addr = r;
      }
    }
  });

  test("roots past one gray segment are all scanned", () => {
    // 5,000 open handles: the root scan pushes each record, more than one
    // segment holds, and each holds a record only it reaches.
    const heap = new Heap();
    const gc = eager(heap);
    const handles = [];
    for (let i = 0; i < 5_000; i++) {
      const parent = gc.alloc(Node, { value: i });
      Node.at(heap, parent).b = gc.alloc(Node, { value: i + 0.5e9 });
      handles.push(heap.handle(parent));
    }
    gc.collect();
    gc.check();
    assert.equal(gc.stats().liveBlocks, 10_000);
    for (const [i, h] of handles.entries()) assert.equal(Node.at(heap, Node.at(heap, h.addr).b).value, i + 0.5e9);
    for (const h of handles) h[Symbol.dispose]();
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 0);
  });

  test("step() starts a cycle only past the trigger; collect() always runs one", () => {
    const heap = new Heap();
    const gc = new Collector(heap, { minBytes: 64 * 1024 });
    const head = gc.alloc(Node);
    heap.setRoot("head", head);
    for (let i = 0; i < 1000; i++) gc.alloc(Node); // 16 KiB: below the trigger
    assert.equal(gc.step(), true);
    assert.equal(gc.stats().cycles, 0);
    for (let i = 0; i < 4000; i++) gc.alloc(Node); // 80 KiB in all: past it
    while (!gc.step(1));
    assert.equal(gc.stats().cycles, 1);
    assert.equal(gc.stats().liveBlocks, 1);
    assert.equal(gc.stats().nextCycleBytes, 64 * 1024, "max(minBytes, 2 x 16 bytes left live)");
    gc.collect();
    assert.equal(gc.stats().cycles, 2);
    expectError(() => new Collector(new Heap(), { growth: -1 }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "growth");
  });

  test("the next cycle starts early by what the program allocated while the last one marked, at most half the growth early", () => {
    for (const garbage of [200, 4000]) {
      const heap = new Heap();
      const gc = new Collector(heap, { minBytes: 0, growth: 1 });
      rootedChain(heap, gc, 20_000);
      gc.startCycle();
      gc.step(0); // one small chunk: marking goes on
      assert.equal(gc.phase, "mark");
      for (let i = 0; i < garbage; i++) gc.alloc(Node); // allocated while the cycle marks: its runway
      while (gc.phase === "mark") gc.step(0);
      while (!gc.step(1));
      const marked = gc.stats().markedBytes;
      const runway = garbage * 16;
      assert.equal(marked, 20_001 * 16, "the chain was marked; the blocks allocated black were not");
      // Goal 2 x marked; the trigger is the goal less the runway, but not below marked + half the growth.
      assert.equal(gc.stats().nextCycleBytes, Math.max(2 * marked - runway, 1.5 * marked), `${garbage} blocks allocated while marking`);
    }
  });
});

describe("Collector roots: scopes and handles", () => {
  test("gc.alloc pins new records in the innermost open scope until it is disposed", () => {
    const heap = new Heap();
    const gc = eager(heap);
    let a: number;
    let b: number;
    {
      using outer = heap.scope();
      a = gc.alloc(Node, { value: 1 });
      {
        using inner = heap.scope();
        b = gc.alloc(Node, { value: 2, name: "inner" });
        const bytes = inner.alloc(100); // a manual block: freed with the scope
        gc.collect();
        assert.ok(gc.owns(a) && gc.owns(b), "pinned by open scopes");
        assert.ok(heap.sizeOf(bytes) >= 100);
      }
      gc.collect();
      assert.ok(gc.owns(a) && !gc.owns(b), "the inner scope's pins are gone");
      assert.ok(outer.disposed === false);
    }
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 0);
    gc.check();
    heap.check();
  });

  test("an open handle roots its record; disposing it drops the root without freeing", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const a = gc.alloc(Node, { value: 5 });
    const child = gc.alloc(Node, { value: 6 });
    Node.at(heap, a).a = child;
    const h = heap.handle(a);
    gc.collect();
    assert.ok(gc.owns(a) && gc.owns(child));
    h.dispose();
    assert.ok(gc.owns(a), "a handle's dispose does not free a collected record");
    gc.collect();
    assert.ok(!gc.owns(a) && !gc.owns(child));
    assert.equal(gc.stats().liveBlocks, 0);
    heap.check();
  });

  test("heap.check runs the collector's check", () => {
    const heap = new Heap();
    const gc = eager(heap);
    heap.setRoot("r", gc.alloc(Node));
    heap.check();
    // Damage C3: a MARK bit on an idle collector's record.
    const u32 = heap.u32;
    const r = heap.getRoot("r");
    const dir = heap.getRoot("offheap.gc");
    const base = u32[(dir >>> 2) + 8]!;
    const gw = (u32[(dir >>> 2) + 3]! >>> 2) + ((r - base) >>> 7);
    u32[gw] = u32[gw]! | (2 << ((r >>> 2) & 30));
    expectError(() => heap.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "C3");
  });
});

describe("Collector: collected OffHeapArrays", () => {
  test("an array of refs keeps its records; pop, set and clear let them go; growth copies under the barrier", () => {
    const heap = new Heap();
    const gc = eager(heap);
    // Rooted before the chain, so marking reaches the header last: the array
    // grows while its header is gray, and only the barrier on A_DATA keeps
    // the records of the old element block.
    const arr = new OffHeapArray(heap, "ref", { collector: gc });
    heap.setRoot("arr", arr.address);
    const [, last] = rootedChain(heap, gc, 3000);
    for (let i = 0; i < 10; i++) arr.push(gc.alloc(Node, { value: i }));
    const moved = gc.alloc(Node, { value: 99 });
    Node.at(heap, last).a = moved;
    gc.step(0);
    assert.equal(gc.phase, "mark");
    // Move the only reference to `moved` into the array while it grows (a new element block, allocated black).
    for (let i = 10; i < 40; i++) arr.push(i === 33 ? moved : gc.alloc(Node, { value: i }));
    Node.at(heap, last).a = 0;
    while (!gc.step(0));
    gc.collect();
    assert.equal(arr.length, 40);
    for (let i = 0; i < 40; i++) assert.equal(Node.at(heap, arr.get(i)).value, i === 33 ? 99 : i);
    const live = gc.stats().liveBlocks;
    const popped = arr.pop()!;
    arr.set(0, 0);
    gc.collect();
    assert.ok(!gc.owns(popped));
    assert.equal(gc.stats().liveBlocks, live - 2, "the popped record and the one set(0, 0) dropped");
    arr.clear();
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 3001 + 1, "the chain and the array's header");
    gc.check();
    heap.check();
  });

  test("large blocks in the middle of a marking batch: the blocks taken after them are still scanned", () => {
    // 64 arrays' headers are scanned together, so their element blocks
    // (600 B, scanned in slices) come off the gray stack next, many to a
    // batch: each ends its batch and puts the rest back.
    const heap = new Heap();
    const gc = eager(heap);
    const outer = new OffHeapArray(heap, "ref", { collector: gc, capacity: 64 });
    heap.setRoot("outer", outer.address);
    for (let i = 0; i < 64; i++) {
      const inner = new OffHeapArray(heap, "ref", { collector: gc, capacity: 150 });
      for (let j = 0; j < 150; j++) inner.push(gc.alloc(Node, { value: j }));
      outer.push(inner.address);
      gc.alloc(Node); // garbage between them
    }
    for (let round = 0; round < 2; round++) {
      gc.collect();
      gc.check();
      heap.check();
      assert.equal(gc.stats().liveBlocks, 2 + 64 * (2 + 150), "the outer array's header and element block, each inner one's, and every record");
    }
    for (const h of outer) for (let j = 0; j < 150; j++) assert.equal(Node.at(heap, OffHeapArray.open(heap, h, "ref").get(j)).value, j);
  });

  test("a large array of refs is scanned in slices, and records with strings move without losing them", () => {
    const heap = new Heap();
    const gc = eager(heap);
    const arr = new OffHeapArray(heap, "ref", { collector: gc, capacity: 20_000 });
    heap.setRoot("arr", arr.address);
    for (let i = 0; i < 20_000; i++) arr.push(gc.alloc(Node, { value: i }));
    gc.step(0);
    assert.equal(gc.phase, "mark", "one step does not scan 80 KB of refs");
    while (!gc.step(0));
    assert.equal(gc.stats().liveBlocks, 20_002);
    const Rec = defineStruct({ who: "string", next: "ref" });
    const recs = new OffHeapArray(heap, Rec, { collector: gc });
    heap.setRoot("recs", recs.address);
    for (let i = 0; i < 100; i++) recs.push({ who: `person ${i}`, next: arr.get(i) }); // grows 5 times
    arr.clear();
    gc.collect();
    assert.equal(gc.stats().liveBlocks, 1 + 100 + 2, "arr's header, the 100 records recs refers to, recs' header and element block");
    for (let i = 0; i < 100; i++) {
      assert.equal(recs.get(i).who, `person ${i}`);
      assert.equal(Node.at(heap, recs.get(i).next).value, i);
    }
    gc.check();
    heap.check();
  });
});

describe("Collector sweep", () => {
  test("records of every kind of size lose their tags and owned strings when swept; survivors keep theirs", () => {
    // Sizes 8 to 128 that are powers of two are swept a line at a time
    // (gc-sweep.ts: dropLineTags); 24, 40, 200 and 5000 bytes (a large
    // block) a block at a time. Strings and refs in the first and last words.
    const heap = new Heap();
    const gc = eager(heap);
    const kinds = [2, 4, 6, 8, 10, 16, 32, 50, 1250].map((words) => {
      const fields: Record<string, "string" | "ref" | "u32"> = {};
      for (let w = 0; w < words; w++) fields[`f${w}`] = w === 0 || w === words - 1 ? (w % 2 === 0 ? "string" : "ref") : w % 3 === 0 ? "string" : "u32";
      return { type: defineStruct(fields), words };
    });
    const kept = new OffHeapArray(heap, "ref", { collector: gc });
    heap.setRoot("kept", kept.address);
    const target = gc.alloc(Node, { value: 7 });
    heap.setRoot("target", target);
    const keptRecords: { kind: number; addr: number; i: number }[] = [];
    for (let i = 0; i < 600; i++) {
      for (const [k, { type, words }] of kinds.entries()) {
        const init: Record<string, string | number> = {};
        for (let w = 0; w < words; w++) {
          const f = type.fields[w]!;
          if (f.type === "string") init[f.name] = `k${k} i${i} w${w}`;
          else if (f.type === "ref") init[f.name] = target;
        }
        const addr = gc.alloc(type, init as never);
        if (i % 3 === 0) {
          kept.push(addr);
          keptRecords.push({ kind: k, addr, i });
        }
      }
    }
    gc.collect();
    gc.check(); // C4: no tag is left on a freed record's words
    heap.check();
    assert.equal(gc.stats().liveBlocks, 1 + 2 + keptRecords.length);
    for (const { kind, addr, i } of keptRecords) {
      const { type, words } = kinds[kind]!;
      const rec = type.at(heap, addr) as unknown as Record<string, string | number>;
      for (let w = 0; w < words; w++) {
        const f = type.fields[w]!;
        if (f.type === "string") assert.equal(rec[f.name], `k${kind} i${i} w${w}`);
        else if (f.type === "ref") assert.equal(rec[f.name], target);
      }
    }
    kept.clear();
    heap.setRoot("target", 0);
    gc.collect();
    gc.check();
    heap.check();
    assert.equal(gc.stats().liveBlocks, 1, "the array's header");
    heap.setRoot("kept", 0);
    gc.collect();
    assert.equal(heap.stats().liveBlocks, ownBlocks(heap), "every owned string was freed with its record");
  });

  test("a page whose records all died goes back to the page heap whole; the survivors and their strings stay", () => {
    const heap = new Heap();
    const gc = new Collector(heap);
    const Rec = defineStruct({ name: "string", next: "ref", value: "u32" }); // 16-byte records; 48-byte strings
    const name = (i: number) => `record ${String(i).padStart(6, "0")} of the page test`;
    const keep = [100, 1500, 1501, 2600, 3999];
    const addrs: number[] = [];
    for (let i = 0; i < 4000; i++) addrs.push(gc.alloc(Rec, { name: name(i), value: i, next: i > 0 ? addrs[i - 1]! : 0 }));
    keep.forEach((i, k) => heap.setRoot(`k${k}`, addrs[i]!));
    Rec.at(heap, addrs[1501]!).next = 0; // 1501 would otherwise reach 0-1500
    Rec.at(heap, addrs[2600]!).next = 0;
    Rec.at(heap, addrs[3999]!).next = 0;
    // 1500 reaches 0-1499; 1501, 2600 and 3999 reach nothing: pages between them die whole.
    const pages = new Set(addrs.map((a) => a >>> 13));
    const livePages = new Set(addrs.filter((_, i) => i <= 1501 || i === 2600 || i === 3999).map((a) => a >>> 13));
    const deadPages = [...pages].filter((p) => !livePages.has(p)).length;
    assert.ok(deadPages >= 2, `${deadPages} pages hold only garbage`);
    const freeBefore = heap.stats().freePageBytes;
    gc.collect();
    gc.check();
    heap.check();
    assert.ok(heap.stats().freePageBytes >= freeBefore + deadPages * 8192, `free page bytes ${freeBefore} -> ${heap.stats().freePageBytes}: the ${deadPages} dead pages are free`);
    assert.equal(gc.stats().liveBlocks, 1504);
    assert.equal(heap.stats().liveBlocks, ownBlocks(heap) + 2 * 1504, "a string left for each record");
    for (let i = 0; i <= 1501; i++) {
      const r = Rec.at(heap, addrs[i]!);
      assert.equal(r.value, i);
      assert.equal(r.name, name(i));
    }
    for (const i of [2600, 3999]) assert.equal(Rec.at(heap, addrs[i]!).name, name(i));
  });

  test("a sweep samples the heap's live-bytes peak before it frees (stats().peakLiveBytes)", () => {
    const heap = new Heap();
    const gc = new Collector(heap);
    let head = 0;
    for (let i = 0; i < 20_000; i++) head = gc.alloc(Node, { value: i, a: head });
    heap.setRoot("head", head);
    heap.setRoot("head", 0);
    const built = countedLiveBytes(heap); // the count, not a sample: stats() would be one
    gc.collect(); // frees the 20,000 nodes a line at a time (freeLine), past every cache list
    const s = heap.stats();
    assert.ok(s.liveBytes <= built - 20_000 * 16, `the nodes were freed: ${s.liveBytes} of ${built}`);
    assert.ok(s.peakLiveBytes >= built, `peak ${s.peakLiveBytes} below the ${built} bytes live before the sweep`);
  });
});
