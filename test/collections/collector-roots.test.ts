// Collector roots: a seeded model in which the collector's roots are named
// roots, open handles (heap.handle) and the pins of open scopes (scope.pin,
// and gc.alloc's pin in heap.currentScope), mutated between incremental
// steps: scopes nest and are disposed in any order, keep() unpins, a
// handle's dispose drops its root without freeing the record, and the
// scopes' manual blocks (scope.alloc) keep their bytes until dispose frees
// them.
//
// OFFHEAP_SEED replays a run: every round prints its seed.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, type HeapHandle, type HeapScope } from "../../src/index.js";
import { randInt, rng } from "../helpers.js";
import { CycleModel, eager, FIELDS, type ModelNode, Node, ownBlocks, reachableFrom, verify } from "./gc-model.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const OPS = 1200;
const MAX_SCOPES = 6;

/** A manual block of a scope: its first `size` bytes hold pattern(salt). */
interface Manual {
  addr: number;
  size: number;
  salt: number;
  /** Pinned by its own scope: dispose leaves it allocated. */
  pinned: boolean;
}

interface ModelScope {
  scope: HeapScope;
  /** Its pins of records, as a multiset (gc.alloc's and pin()'s). */
  pins: ModelNode[];
  /** Its manual blocks that dispose frees unless pinned. */
  blocks: Manual[];
}

/** The roots the program holds: named roots, open handles, open scopes (outermost first, as the heap's stack). */
class Roots {
  named = new Map<string, ModelNode>();
  handles: { handle: HeapHandle; node: ModelNode }[] = [];
  scopes: ModelScope[] = [];
  /** Manual blocks no scope frees any more (kept, or pinned at dispose): the test frees them. */
  loose: Manual[] = [];
  reachable(): Set<ModelNode> {
    const roots = [...this.named.values(), ...this.handles.map((h) => h.node)];
    for (const s of this.scopes) roots.push(...s.pins);
    return reachableFrom(roots);
  }
}

const byteOf = (salt: number, i: number): number => (salt + i * 167) & 255;

function writePattern(heap: Heap, b: Manual): void {
  for (let i = 0; i < b.size; i++) heap.u8[b.addr + i] = byteOf(b.salt, i);
}

function checkPattern(heap: Heap, b: Manual, what: string): void {
  for (let i = 0; i < b.size; i++) {
    if (heap.u8[b.addr + i] !== byteOf(b.salt, i)) assert.fail(`${what}: manual block ${b.addr} (${b.size} bytes) changed at byte ${i}`);
  }
}

describe("Collector roots model", () => {
  for (let round = 0; round < 4; round++) {
    const seed = (SEED + round) >>> 0;
    test(`named roots, handles and scope pins between steps match the model (seed ${seed}; replay OFFHEAP_SEED=${SEED})`, () => {
      const next = rng(seed);
      const heap = new Heap();
      const gc = eager(heap);
      const roots = new Roots();
      const model = new CycleModel(gc, () => roots.reachable());
      const pick = <T>(xs: T[]): T => xs[randInt(next, 0, xs.length - 1)]!;
      const take = <T>(xs: T[]): T => xs.splice(randInt(next, 0, xs.length - 1), 1)[0]!;
      let serial = 0;

      const make = (): ModelNode => {
        const n: ModelNode = { addr: 0, value: randInt(next, 0, 2 ** 32 - 1), name: next() < 0.3 ? `s${serial++}` : "", a: null, b: null };
        n.addr = gc.alloc(Node, { value: n.value, name: n.name });
        model.all.add(n);
        const inner = roots.scopes.at(-1);
        assert.equal(heap.currentScope, inner?.scope ?? null, "currentScope is the innermost open scope");
        inner?.pins.push(n); // gc.alloc pins it there
        return n;
      };
      const setField = (n: ModelNode, f: "a" | "b", to: ModelNode | null): void => {
        n[f] = to;
        Node.at(heap, n.addr)[f] = to?.addr ?? 0;
      };
      const setRoot = (name: string, to: ModelNode | null): void => {
        if (to === null) roots.named.delete(name);
        else roots.named.set(name, to);
        heap.setRoot(name, to?.addr ?? 0);
      };
      const openHandle = (n: ModelNode): void => {
        roots.handles.push({ handle: heap.handle(n.addr), node: n });
      };
      const unhandled = (live: ModelNode[]): ModelNode[] => {
        const held = new Set(roots.handles.map((h) => h.node));
        return live.filter((n) => !held.has(n));
      };
      const manual = (s: ModelScope): void => {
        const size = randInt(next, 1, 300);
        const zeroed = next() < 0.3;
        const b: Manual = { addr: zeroed ? s.scope.calloc(size) : s.scope.alloc(size), size, salt: randInt(next, 0, 255), pinned: false };
        if (zeroed) assert.ok(heap.u8.subarray(b.addr, b.addr + size).every((x) => x === 0), "scope.calloc zeroes");
        writePattern(heap, b);
        s.blocks.push(b);
      };
      // The model's part of a scope's dispose (done just before): it left the
      // stack, its pins are gone, its unpinned manual blocks were freed.
      const scopeClosed = (s: ModelScope, liveBefore: number): void => {
        assert.ok(s.scope.disposed);
        roots.scopes.splice(roots.scopes.indexOf(s), 1);
        const freed = s.blocks.filter((b) => !b.pinned);
        roots.loose.push(...s.blocks.filter((b) => b.pinned));
        assert.equal(heap.stats().liveBlocks, liveBefore - freed.length, "a scope's dispose frees its unpinned manual blocks, and no record");
        assert.equal(heap.currentScope, roots.scopes.at(-1)?.scope ?? null, "currentScope after a dispose");
      };
      const disposeScope = (s: ModelScope): void => {
        for (const b of s.blocks) checkPattern(heap, b, "before dispose");
        const before = heap.stats().liveBlocks;
        s.scope.dispose();
        scopeClosed(s, before);
      };
      const verifyAll = (what: string): void => {
        verify(heap, roots.reachable(), what);
        for (const s of roots.scopes) for (const b of s.blocks) checkPattern(heap, b, what);
        for (const b of roots.loose) checkPattern(heap, b, what);
      };
      // A burst of records hung from live ones, rooted, held by a handle, or left unlinked (pinned if a scope is open, else garbage from birth).
      const grow = (live: ModelNode[], count: number): void => {
        for (let k = 0; k < count; k++) {
          const n = make();
          const mode = live.length === 0 ? 0.6 : next();
          let linked = true;
          if (mode < 0.55) setField(pick(live), pick([...FIELDS]), n);
          else if (mode < 0.65) setRoot(`r${randInt(next, 0, 5)}`, n);
          else if (mode < 0.72) openHandle(n);
          else linked = roots.scopes.length > 0;
          if (next() < 0.3) setField(n, pick([...FIELDS]), next() < 0.2 || live.length === 0 ? n : pick(live));
          if (linked) live.push(n);
        }
      };

      setRoot("r0", make());
      for (let op = 0; op < OPS; op++) {
        const live = [...roots.reachable()];
        const scopes = roots.scopes;
        const r = next();
        if (r < 0.22 || live.length === 0) {
          grow(live, randInt(next, 1, 25));
        } else if (r < 0.38) {
          // Relink: cycles, self references, shared targets (a DAG), cut edges.
          const to = next();
          const n = pick(live);
          setField(n, pick([...FIELDS]), to < 0.3 ? null : to < 0.4 ? n : pick(live));
        } else if (r < 0.42) {
          setRoot(`r${randInt(next, 0, 5)}`, next() < 0.5 ? null : pick(live));
        } else if (r < 0.46) {
          const free = unhandled(live);
          if (free.length > 0) openHandle(pick(free));
        } else if (r < 0.5) {
          if (roots.handles.length > 0) {
            const { handle, node } = take(roots.handles);
            const blocks = gc.stats().liveBlocks;
            handle.dispose();
            assert.ok(handle.disposed);
            assert.ok(gc.owns(node.addr), "a handle's dispose does not free a collected record");
            assert.equal(gc.stats().liveBlocks, blocks);
          }
        } else if (r < 0.55) {
          if (scopes.length < MAX_SCOPES) scopes.push({ scope: heap.scope(), pins: [], blocks: [] });
        } else if (r < 0.6) {
          // Any open scope, not only the innermost.
          if (scopes.length > 0) disposeScope(pick(scopes));
        } else if (r < 0.64) {
          if (scopes.length > 0) {
            const s = pick(scopes);
            if (s.blocks.length > 0 && next() < 0.25) {
              const b = pick(s.blocks);
              s.scope.pin(b.addr); // its own manual block: dispose leaves it
              b.pinned = true;
            } else {
              const n = pick(live);
              s.scope.pin(n.addr);
              s.pins.push(n);
            }
          }
        } else if (r < 0.68) {
          // keep: unpins every pin of a record in that scope, or takes a manual block out of it.
          if (scopes.length > 0) {
            const s = pick(scopes);
            if (s.blocks.length > 0 && (s.pins.length === 0 || next() < 0.4)) {
              const b = take(s.blocks);
              s.scope.keep(b.addr);
              roots.loose.push(b);
            } else if (s.pins.length > 0) {
              const n = pick(s.pins);
              s.scope.keep(n.addr);
              s.pins = s.pins.filter((p) => p !== n);
            }
          }
        } else if (r < 0.72) {
          if (scopes.length > 0) manual(pick(scopes));
        } else if (r < 0.74) {
          if (roots.loose.length > 0) {
            const b = take(roots.loose);
            checkPattern(heap, b, "before free");
            heap.free(b.addr);
          }
        } else if (r < 0.77) {
          // A `using` scope around a burst: its records are pinned while it is open, steps may run inside.
          let before = 0;
          let s: ModelScope;
          {
            using scope = heap.scope();
            s = { scope, pins: [], blocks: [] };
            scopes.push(s);
            manual(s);
            grow(live, randInt(next, 1, 10));
            if (next() < 0.5) model.step();
            verifyAll(`seed ${seed} op ${op} inside using`);
            manual(s);
            for (const b of s.blocks) checkPattern(heap, b, "end of using");
            before = heap.stats().liveBlocks;
          }
          scopeClosed(s, before);
        } else if (r < 0.98) {
          model.step();
        } else {
          model.collect();
        }
        verifyAll(`seed ${seed} op ${op}`);
        gc.check();
        if (op % 25 === 0) heap.check();
      }

      // Nothing leaks: with every root dropped, one collection frees every record and its strings.
      for (const { handle, node } of roots.handles.splice(0)) {
        handle.dispose();
        assert.ok(gc.owns(node.addr));
      }
      while (roots.scopes.length > 0) disposeScope(pick(roots.scopes));
      for (const b of roots.loose.splice(0)) {
        checkPattern(heap, b, "at the end");
        heap.free(b.addr);
      }
      for (const name of [...roots.named.keys()]) setRoot(name, null);
      model.collect();
      assert.equal(gc.stats().liveBlocks, 0);
      assert.equal(gc.stats().liveBytes, 0);
      gc.check();
      heap.check();
      const expected = ownBlocks(heap);
      assert.equal(heap.stats().liveBlocks, expected, "only the collector's and the roots' own blocks are left");
    });
  }
});
