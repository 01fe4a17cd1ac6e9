// The loops of jit.test.ts. Run as a script (with --allow-natives-syntax
// and --no-concurrent-recompilation, so that V8 optimizes when asked)
// with a case's name: a loop that frees an array of addresses is made hot
// on small blocks of the fast path and optimized, then frees what the case
// names (a block of a slow path); prints whether the loop was optimized
// before and is still optimized after.

import { fileURLToPath } from "node:url";
import { DoubleFreeError, Heap } from "../src/index.js";

// V8's test intrinsics, which parse only under --allow-natives-syntax; bit 4 of the status: optimized.
const native = (body: string) => new Function("f", body) as (f: unknown) => number;
const OPTIMIZED = 1 << 4;

function freeAll(heap: Heap, addrs: number[]): void {
  for (let i = 0; i < addrs.length; i++) heap.free(addrs[i]!);
}

const smallBlocks = (heap: Heap, n: number): number[] => Array.from({ length: n }, () => heap.alloc(16));

/** Each returns the addresses the optimized loop then frees, and whether freeing them must throw. */
export const CASES: Record<string, (heap: Heap) => { addrs: number[]; throws: boolean }> = {
  "a large block": (heap) => ({ addrs: [heap.alloc(100_000)], throws: false }),
  "a full cache list": (heap) => ({ addrs: Array.from({ length: 20_000 }, () => heap.alloc(24)), throws: false }),
  "free(0)": () => ({ addrs: [0], throws: false }),
  "a double free": (heap) => {
    const addr = heap.alloc(40);
    heap.free(addr);
    return { addrs: [addr], throws: true };
  },
};

/** Runs a case: the loop's optimization status before and after it frees the case's blocks. */
export function run(name: string): { before: boolean; after: boolean } {
  const status = native("return %GetOptimizationStatus(f)");
  const prepare = native("%PrepareFunctionForOptimization(f)");
  const optimizeOnNextCall = native("%OptimizeFunctionOnNextCall(f)");
  const heap = new Heap({ maxSize: 2 ** 31 });
  prepare(freeAll);
  // A program's loop runs many fast frees before V8 optimizes it. (Were
  // freeRest itself hot by then, V8 could inline it too, and a case new to
  // it would deoptimize the loop as before: allocator.ts.)
  for (let round = 0; round < 20; round++) freeAll(heap, smallBlocks(heap, 1000));
  optimizeOnNextCall(freeAll);
  freeAll(heap, smallBlocks(heap, 1000));
  const before = (status(freeAll) & OPTIMIZED) !== 0;
  const { addrs, throws } = CASES[name]!(heap);
  try {
    freeAll(heap, addrs);
    if (throws) throw new Error(`${name}: free did not throw`);
  } catch (e) {
    if (!throws || !(e instanceof DoubleFreeError)) throw e;
  }
  heap.check();
  return { before, after: (status(freeAll) & OPTIMIZED) !== 0 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2]!;
  if (CASES[name] === undefined) throw new Error(`jit-loops: no case "${name}"; one of ${Object.keys(CASES).join(", ")}`);
  console.log(JSON.stringify(run(name)));
}
