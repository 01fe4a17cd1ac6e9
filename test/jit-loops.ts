// The loops of jit.test.ts. Run as a script (with --allow-natives-syntax
// and --no-concurrent-recompilation, so that V8 optimizes when asked)
// with a case's name: a loop that frees (or allocates) is made hot on
// small blocks of the fast path and optimized, then frees (or allocates)
// what the case names, a block of a slow path; prints whether the loop was
// optimized before and is still optimized after.

import { fileURLToPath } from "node:url";
import { DoubleFreeError, Heap } from "../src/index.js";
import { Collector, defineStruct } from "../src/collections/index.js";

// V8's test intrinsics, which parse only under --allow-natives-syntax; bit 4 of the status: optimized.
const native = (body: string) => new Function("f", body) as (f: unknown) => number;
const OPTIMIZED = 1 << 4;

function freeAll(heap: Heap, addrs: number[]): void {
  for (let i = 0; i < addrs.length; i++) heap.free(addrs[i]!);
}

function allocAll(heap: Heap, sizes: number[], out: number[]): void {
  for (let i = 0; i < sizes.length; i++) out[i] = heap.alloc(sizes[i]!);
}

const smallBlocks = (heap: Heap, n: number): number[] => Array.from({ length: n }, () => heap.alloc(16));

/** A free case: the addresses the optimized loop then frees, and whether freeing them must throw. */
type FreeCase = (heap: Heap) => { addrs: number[]; throws: boolean };

export const FREE_CASES: Record<string, FreeCase> = {
  "a large block": (heap) => ({ addrs: [heap.alloc(100_000)], throws: false }),
  "a full cache list": (heap) => ({ addrs: Array.from({ length: 20_000 }, () => heap.alloc(24)), throws: false }),
  "free(0)": () => ({ addrs: [0], throws: false }),
  "a double free": (heap) => {
    const addr = heap.alloc(40);
    heap.free(addr);
    return { addrs: [addr], throws: true };
  },
};

/** An alloc case: the sizes the optimized loop then allocates. */
export const ALLOC_CASES: Record<string, number[]> = {
  "a large block": [100_000],
  "a class's first block": [3000],
  "more blocks of the class than its cache list holds": Array.from({ length: 20_000 }, () => 16),
};

const Leaf = defineStruct({ a: "ref", b: "ref", value: "u32" });
const Comb = defineStruct(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`r${i}`, "ref" as const])));
const Big = defineStruct({ ref: "ref", pad: "bytes[2000]" });

/** A mark case: builds a graph that meets the path, collected blocks the collector allocates; returns its root. */
export const MARK_CASES: Record<string, (gc: Collector) => number> = {
  // 70 levels of 64 refs: the next level in the first (scanned next), 63
  // leaves in the others, which stay gray: 4,410 at the bottom, more than a
  // gray segment holds (gc-mark.ts: GRAY_SEGMENT).
  "a full gray segment": (gc) => comb(gc, 70),
  // Over 2,000 bytes: scanned 512 bytes at a time (gc-mark.ts: SLICE_BYTES).
  "a block scanned in slices": (gc) => {
    const big = gc.alloc(Big);
    Big.at(gc.heap, big).ref = gc.alloc(Leaf);
    return big;
  },
};

/** The line runMark prints before the case's graph is built and collected. */
export const CASE_STARTS = "-- the case starts --";

/** Runs a mark case: markJs's optimization status before and after a cycle meets the case's graph. */
export function runMark(name: string): { before: boolean; after: boolean } {
  const status = native("return %GetOptimizationStatus(f)");
  const prepare = native("%PrepareFunctionForOptimization(f)");
  const optimizeOnNextCall = native("%OptimizeFunctionOnNextCall(f)");
  // A heap on an ArrayBuffer: the JavaScript scan (markJs) marks it; the wasm one, a WebAssembly.Memory.
  const heap = new Heap({ memory: new ArrayBuffer(64 << 20) });
  const gc = new Collector(heap);
  const markJs = (gc as unknown as { marker: { markJs: unknown } }).marker.markJs;
  // A binary tree of 255 records: no gray segment fills, no block is sliced.
  const tree = (depth: number): number => {
    const node = gc.alloc(Leaf);
    if (depth > 0) {
      const a = tree(depth - 1);
      const b = tree(depth - 1);
      const cur = Leaf.at(heap, node);
      cur.a = a;
      cur.b = b;
    }
    return node;
  };
  heap.setRoot("tree", tree(7));
  prepare(markJs);
  for (let round = 0; round < 20; round++) gc.collect();
  optimizeOnNextCall(markJs);
  gc.collect();
  const before = (status(markJs) & OPTIMIZED) !== 0;
  console.log(CASE_STARTS); // jit.test.ts reads V8's deoptimizations (--trace-deopt) after this line
  heap.setRoot("case", MARK_CASES[name]!(gc));
  gc.collect();
  gc.check();
  heap.check();
  return { before, after: (status(markJs) & OPTIMIZED) !== 0 };
}

/** A wasm mark case: builds a graph, collected blocks the collector allocates, and returns its root; `spills`: its marking must move gray entries to JS segments. */
export const WASM_MARK_CASES: Record<string, { build: (gc: Collector) => number; spills: boolean }> = {
  // Marking ends inside a step: the driver finds the workspace empty with
  // nothing below, and the cycle driver (gc-cycle.ts: run) goes from marking to sweeping.
  "the end of a cycle run in steps": { build: (gc) => comb(gc, 8), spills: false },
  // 100 levels of 63 gray leaves: 6,300, more than the workspace holds
  // (gc-mark.ts: WS_CAPACITY - WS_ROOM, 5,760), so the driver moves entries
  // to a JS segment, and back when the workspace runs empty.
  "a full workspace": { build: (gc) => comb(gc, 100), spills: true },
};

/** `depth` levels of Comb records: the next level in r0, a Leaf in each other ref. */
function comb(gc: Collector, depth: number): number {
  const root = gc.alloc(Comb);
  let level = root;
  for (let d = 0; d < depth; d++) {
    const next = gc.alloc(Comb);
    const fields = Comb.at(gc.heap, level) as unknown as Record<string, number>;
    fields.r0 = next;
    for (let i = 1; i < 64; i++) fields[`r${i}`] = gc.alloc(Leaf);
    level = next;
  }
  return root;
}

/**
 * Runs a wasm mark case on a WebAssembly.Memory heap whose Collector is
 * the process's first (it primes the driver: gc-prime.ts): the case's
 * first cycle runs in steps of one chunk, and the driver (markWasm) is
 * optimized after a few of them, as V8 optimizes it in the middle of a
 * program's first long cycle; returns whether it was optimized then and
 * still is at the cycle's end, and whether gray entries moved to JS.
 */
export function runMarkWasm(name: string): { before: boolean; after: boolean; spilled: boolean } {
  const status = native("return %GetOptimizationStatus(f)");
  const prepare = native("%PrepareFunctionForOptimization(f)");
  const optimizeOnNextCall = native("%OptimizeFunctionOnNextCall(f)");
  const heap = new Heap();
  const gc = new Collector(heap);
  const marker = (gc as unknown as { marker: { markWasm: unknown; below: unknown[]; ws: number } }).marker;
  if (marker.ws === 0) throw new Error("jit-loops: the wasm mark loop does not run here");
  heap.setRoot("case", WASM_MARK_CASES[name]!.build(gc));
  prepare(marker.markWasm);
  gc.startCycle();
  for (let i = 0; i < 3; i++) gc.step(0);
  optimizeOnNextCall(marker.markWasm);
  gc.step(0);
  const before = (status(marker.markWasm) & OPTIMIZED) !== 0;
  console.log(CASE_STARTS); // jit.test.ts reads V8's deoptimizations (--trace-deopt) after this line
  let spilled = false;
  while (!gc.step(0)) spilled ||= marker.below.length > 0;
  gc.check();
  heap.check();
  return { before, after: (status(marker.markWasm) & OPTIMIZED) !== 0, spilled };
}

/** Runs a case: the loop's optimization status before and after it meets the case's blocks. */
export function run(kind: "free" | "alloc", name: string): { before: boolean; after: boolean } {
  const status = native("return %GetOptimizationStatus(f)");
  const prepare = native("%PrepareFunctionForOptimization(f)");
  const optimizeOnNextCall = native("%OptimizeFunctionOnNextCall(f)");
  const heap = new Heap({ maxSize: 2 ** 31 });
  // A program's loop runs many fast calls before V8 optimizes it. (Were
  // freeRest itself hot by then, V8 could inline it too, and a case new to
  // it would deoptimize the loop as before: allocator.ts.)
  const loop = kind === "free" ? freeAll : allocAll;
  const sixteens = Array.from({ length: 1000 }, () => 16);
  const out: number[] = [];
  const warm = (): void => {
    if (kind === "free") freeAll(heap, smallBlocks(heap, 1000));
    else {
      allocAll(heap, sixteens, out);
      for (const addr of out) heap.free(addr);
    }
  };
  prepare(loop);
  for (let round = 0; round < 20; round++) warm();
  optimizeOnNextCall(loop);
  warm();
  const before = (status(loop) & OPTIMIZED) !== 0;
  if (kind === "alloc") {
    allocAll(heap, ALLOC_CASES[name]!, out);
  } else {
    const { addrs, throws } = FREE_CASES[name]!(heap);
    try {
      freeAll(heap, addrs);
      if (throws) throw new Error(`${name}: free did not throw`);
    } catch (e) {
      if (!throws || !(e instanceof DoubleFreeError)) throw e;
    }
  }
  heap.check();
  return { before, after: (status(loop) & OPTIMIZED) !== 0 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [kind, name] = process.argv.slice(2) as ["free" | "alloc" | "mark" | "mark-wasm", string];
  const cases = { free: FREE_CASES, alloc: ALLOC_CASES, mark: MARK_CASES, "mark-wasm": WASM_MARK_CASES }[kind];
  if (cases[name] === undefined) throw new Error(`jit-loops: no ${kind} case "${name}"`);
  console.log(JSON.stringify(kind === "mark" ? runMark(name) : kind === "mark-wasm" ? runMarkWasm(name) : run(kind, name)));
}
