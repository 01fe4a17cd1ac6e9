// The repair after a thread died holding the heap lock (repair.ts), tried at
// every point where a death can leave the image: each slow path below is
// run again and again on a fresh heap, stopped after its k-th store to the
// image while it holds the lock (a worker.terminate() stops a thread
// between two stores, never inside one), for every k that is a store to
// the header or to a page's kind or page count, and a sample of the other
// stores (cutPoints). Then what another
// thread's releaseThread does runs: repairAfterDeath and check(). Every
// block that was live before the cut must still be live with its contents,
// the heap must pass check(), and it must go on serving allocs and frees.
//
// The stores are counted through a Proxy put in place of the heap's u32
// view (the only view the slow paths write the tiling, the lists and the
// bitmap through); Atomics calls are given the real view.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heap, OutOfMemoryError, PAGE_SIZE } from "../src/index.js";
import { repairAfterDeath } from "../src/heap/repair.js";
import { checkHeap } from "../src/heap/check.js";
import { D_KIND, D_NPAGES, DESC_SHIFT, HDR_CACHE } from "../src/heap/layout.js";
import { isLive } from "../src/heap/granules.js";
import { KIB, MIB } from "./helpers.js";

class Cut extends Error {}

/** What the views' Proxy counts: stores left before the cut (Infinity: none planned), and stores seen. */
const cutter = { left: Infinity, seen: 0, holding: (): boolean => false, where: [] as number[] };
const real = new WeakMap<object, Uint32Array>();
const MUTATORS = new Set(["fill", "set", "copyWithin"]);

function store(word: number): void {
  if (!cutter.holding()) return;
  cutter.seen++;
  cutter.where.push(word);
  if (cutter.left-- <= 0) throw new Cut("cut");
}

function counted(u32: Uint32Array): Uint32Array {
  const p = new Proxy(u32, {
    get(t, key) {
      const v = (t as any)[key];
      if (typeof v !== "function") return v;
      return MUTATORS.has(key as string) ? (...args: unknown[]) => (store(-1), v.apply(t, args)) : v.bind(t);
    },
    set(t, key, value) {
      store(Number(key));
      (t as any)[key] = value;
      return true;
    },
  });
  real.set(p, u32);
  return p;
}

// Atomics refuse a Proxy: hand them the view behind it (a compareExchange is one store).
for (const name of Object.getOwnPropertyNames(Atomics)) {
  const f = (Atomics as any)[name];
  if (typeof f !== "function") continue;
  (Atomics as any)[name] = (ta: any, ...rest: unknown[]) => {
    const t = real.get(ta);
    if (t === undefined) return f(ta, ...rest);
    if (name !== "load" && name !== "wait" && name !== "notify") store(rest[0] as number);
    return f(t, ...rest);
  };
}

/** A heap on a fixed memory, its u32 view counted from now on (refreshViews puts the Proxy back). */
function countedHeap(heap: Heap): void {
  const h = heap as any;
  h.u32 = counted(h.u32);
  const refresh = Object.getPrototypeOf(Object.getPrototypeOf(h)).refreshViews ?? h.refreshViews;
  h.refreshViews = function (this: any) {
    refresh.call(this);
    this.u32 = counted(this.u32);
  };
  cutter.holding = () => h.lockDepth > 0;
}

/** Blocks of the prepared heap that must survive: address → size; contents are a pattern of the address. */
type Blocks = Map<number, number>;

function fill(heap: Heap, addr: number, size: number): void {
  for (let i = 0; i < size; i += 4096) heap.u8[addr + i] = (addr >>> 3) + i;
  heap.u8[addr + size - 1] = addr >>> 5;
}

function verify(heap: Heap, addr: number, size: number, what: string): void {
  for (let i = 0; i < size; i += 4096) assert.equal(heap.u8[addr + i], ((addr >>> 3) + i) & 255, `${what}: block ${addr} byte ${i}`);
  assert.equal(heap.u8[addr + size - 1], (addr >>> 5) & 255, `${what}: block ${addr} last byte`);
}

function allocKept(heap: Heap, blocks: Blocks, size: number): number {
  const a = heap.alloc(size);
  fill(heap, a, size);
  blocks.set(a, size);
  return a;
}

interface Scenario {
  name: string;
  /**
   * Builds the heap; returns the blocks that must stay live, the slow path
   * to cut (it runs on the counted heap), the blocks it frees or resizes
   * (live or not after the cut, depending on where it fell) and how many
   * blocks it allocates (an allocation cut after its block went live leaks
   * that block, as a terminated worker would).
   */
  prepare(): { heap: Heap; blocks: Blocks; run: () => void; touched?: number[]; allocates?: number };
}

/** A large block of `from` pages with a free 10-page run after it, resized in place to `to` pages (large blocks: over 8 pages). */
function reallocInPlace(from: number, to: number): ReturnType<Scenario["prepare"]> {
  const heap = new Heap({ memory: new SharedArrayBuffer(4 * MIB), initialSize: 2 * MIB });
  const blocks: Blocks = new Map();
  const a = heap.alloc(from * PAGE_SIZE);
  const gap = heap.alloc(10 * PAGE_SIZE);
  allocKept(heap, blocks, 9 * PAGE_SIZE);
  assert.equal(gap, a + from * PAGE_SIZE);
  heap.free(gap);
  return { heap, blocks, run: () => assert.equal(heap.realloc(a, to * PAGE_SIZE), a), touched: [a] };
}

const SCENARIOS: Scenario[] = [
  {
    name: "alloc of a small class whose cache is empty: a span cut from a free run",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(4 * MIB), initialSize: MIB });
      const blocks: Blocks = new Map();
      for (const size of [24, 100, 5000, 3 * PAGE_SIZE]) allocKept(heap, blocks, size);
      return { heap, blocks, run: () => void heap.alloc(48), allocates: 1 };
    },
  },
  {
    name: "alloc that grows the committed pages (a free tail joined, then a span)",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(8 * MIB), initialSize: MIB, growBy: 256 * KIB });
      const blocks: Blocks = new Map();
      allocKept(heap, blocks, 40);
      // Leave a few free pages at the committed end, fewer than the next large block needs.
      const free = heap.stats().freePageBytes;
      if (free > 2 * PAGE_SIZE) allocKept(heap, blocks, free - 2 * PAGE_SIZE);
      return { heap, blocks, run: () => void heap.alloc(6 * PAGE_SIZE), allocates: 1 };
    },
  },
  {
    name: "alloc of a small class on committed pages that are all used: growth for a new span",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(8 * MIB), initialSize: MIB, growBy: 128 * KIB });
      const blocks: Blocks = new Map();
      allocKept(heap, blocks, 200);
      allocKept(heap, blocks, heap.stats().freePageBytes);
      return { heap, blocks, run: () => void heap.alloc(16), allocates: 1 };
    },
  },
  {
    name: "free of a large block between two free runs (both coalesced)",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(4 * MIB), initialSize: 2 * MIB });
      const blocks: Blocks = new Map();
      allocKept(heap, blocks, 2 * PAGE_SIZE);
      const a = heap.alloc(11 * PAGE_SIZE);
      const b = allocKept(heap, blocks, 13 * PAGE_SIZE);
      const c = heap.alloc(12 * PAGE_SIZE);
      allocKept(heap, blocks, 2 * PAGE_SIZE);
      heap.free(a);
      heap.free(c);
      blocks.delete(b);
      return { heap, blocks, run: () => heap.free(b), touched: [b] };
    },
  },
  {
    name: "realloc growing a large block in place (pages taken from the free run after it)",
    prepare: () => reallocInPlace(9, 13),
  },
  {
    name: "realloc shrinking a large block in place (its tail freed and joined to the run after it)",
    prepare: () => reallocInPlace(20, 9),
  },
  {
    name: "frees that overflow a class's cache, then trim (spans emptied and released, the tail cut)",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(4 * MIB), initialSize: MIB });
      const blocks: Blocks = new Map();
      const many: number[] = [];
      for (let i = 0; i < 600; i++) many.push(heap.alloc(256));
      allocKept(heap, blocks, 256);
      allocKept(heap, blocks, 64);
      return {
        heap, blocks, run: () => {
          for (const a of many) heap.free(a);
          heap.trim();
        },
        touched: many,
      };
    },
  },
  {
    name: "a large alloc on a heap whose pages are all in empty spans and caches (released first)",
    prepare() {
      const heap = new Heap({ memory: new SharedArrayBuffer(2 * MIB), maxSize: 2 * MIB, initialSize: 2 * MIB });
      const blocks: Blocks = new Map();
      const many: number[] = [];
      allocKept(heap, blocks, 72);
      try {
        for (;;) many.push(heap.alloc(1024));
      } catch (e) {
        assert.ok(e instanceof OutOfMemoryError, String(e));
      }
      for (const a of many) heap.free(a);
      return { heap, blocks, run: () => void heap.alloc(8 * PAGE_SIZE), allocates: 1 };
    },
  },
];

/**
 * Cuts worth trying, from the words the whole path stored to: every store to
 * the header's fields or to a page's kind or page count (the tiling; past
 * the first 400 stores, every 8th of those), every 16th to the rest of the descriptors (owners, classes, list links), and
 * every 64th to the cache lists, the bitmap and data pages (free-list links
 * in objects: many, and alike), and the last.
 */
function cutPoints(heap: Heap, where: number[]): number[] {
  const h = heap as any;
  const descEnd = h.descW + (h.totalPages << DESC_SHIFT);
  const field = (w: number) => (w - h.descW) & ((1 << DESC_SHIFT) - 1);
  const tiling = (w: number) => w < HDR_CACHE || (w >= h.descW && w < descEnd && (field(w) === D_KIND || field(w) === D_NPAGES));
  const desc = (w: number) => w >= h.descW && w < descEnd;
  return where.map((w, k) => ((tiling(w) && (k < 400 || k % 8 === 0)) || (desc(w) && k % 16 === 0) || k % 64 === 0 || k === where.length - 1 ? k : -1)).filter((k) => k >= 0);
}

describe("repair after a death inside a slow path, cut after every store", () => {
  for (const sc of SCENARIOS) {
    test(sc.name, (t) => {
      // How many stores the whole slow path makes.
      const full = sc.prepare();
      countedHeap(full.heap);
      cutter.left = Infinity;
      cutter.seen = 0;
      cutter.where = [];
      full.run();
      const total = cutter.seen;
      cutter.holding = () => false;
      assert.ok(total > 10, `${sc.name}: ${total} stores under the lock`);
      let repaired = 0;
      const cuts = cutPoints(full.heap, cutter.where);
      for (const k of cuts) {
        const { heap, blocks, run, touched = [], allocates = 0 } = sc.prepare();
        const h = heap as any;
        countedHeap(heap);
        cutter.left = k;
        cutter.seen = 0;
        assert.throws(run, Cut, `cut after store ${k} of ${total}`);
        // The dead thread's state is gone; another thread takes its lock over.
        cutter.holding = () => false;
        h.u32 = real.get(h.u32) ?? h.u32;
        delete h.refreshViews;
        h.lockDepth = 0;
        h.biased = false;
        h.sync();
        const what = `${sc.name}, cut after store ${k} of ${total}`;
        try {
          repairAfterDeath(heap as any, HDR_CACHE, []);
          checkHeap(heap as any);
        } catch (e) {
          assert.fail(`${what}: ${(e as Error).stack}`);
        }
        for (const [a, size] of blocks) verify(heap, a, size, what);
        // Blocks the cut path was freeing are live or free, as far as it got; free those still live.
        const stillLive = touched.filter((a) => isLive(heap.u32, a));
        for (const a of stillLive) heap.free(a);
        const leaked = heap.stats().liveBlocks - blocks.size;
        assert.ok(leaked === 0 || (leaked === 1 && allocates === 1), `${what}: ${leaked} live blocks more than kept`);
        // It goes on.
        const more: number[] = [];
        for (let i = 0; i < 50; i++) more.push(heap.alloc(8 + i * 40));
        more.push(heap.alloc(3 * PAGE_SIZE));
        for (const a of more) heap.free(a);
        heap.check();
        for (const [a, size] of blocks) verify(heap, a, size, `${what}, after more allocs and frees`);
        repaired++;
      }
      t.diagnostic(`${total} stores under the lock; cut after ${repaired} of them, repaired`);
    });
  }
});
