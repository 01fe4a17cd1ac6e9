// The script of step-garbage.test.ts: the JS garbage a Collector's cycle
// makes when run in steps of 1 ms. A 500,000-node tree stays rooted while
// each cycle sweeps 250,000 dropped nodes; after `warm` cycles (argv[2],
// the last ten of them collectionsDuring's uncounted run), ten more are
// measured: V8's heap used before and after each cycle's steps, which must
// see no V8 collection (the caller gives V8 a young generation large
// enough). Prints { steps, bytesPerCycle, collections }.

import v8 from "node:v8";
import { Heap } from "../src/index.js";
import { Collector, defineStruct } from "../src/collections/index.js";
import { collectionsDuring } from "./garbage-loops.js";

/** Cycles measured, after the same number run uncounted. */
const MEASURED = 10;

const heap = new Heap();
const gc = new Collector(heap);
const Node = defineStruct({ left: "ref", right: "ref", value: "u32" });
const cur = Node.at(heap, 0);

function tree(n: number): number {
  const a = gc.alloc(Node);
  if (n > 1) {
    const r = (n - 1) >>> 1;
    const left = tree(n - 1 - r);
    const right = r > 0 ? tree(r) : 0;
    cur.addr = a;
    cur.left = left;
    cur.right = right;
  }
  return a;
}

/** Runs a cycle in steps of 1 ms over a tree of `garbage` nodes no root reaches; returns the steps and V8's heap growth across them. */
function cycle(garbage: number): { steps: number; bytes: number } {
  tree(garbage);
  gc.startCycle();
  const before = v8.getHeapStatistics().used_heap_size;
  let steps = 1;
  while (!gc.step(1)) steps++;
  return { steps, bytes: v8.getHeapStatistics().used_heap_size - before };
}

heap.setRoot("tree", tree(500_000));
const warm = Number(process.argv[2] ?? 60);
for (let i = MEASURED; i < warm; i++) cycle(250_000);
let steps = 0;
let bytes = 0;
const collections = await collectionsDuring(() => {
  steps = 0;
  bytes = 0;
  for (let i = 0; i < MEASURED; i++) {
    const c = cycle(250_000);
    steps += c.steps;
    bytes += c.bytes;
  }
});
console.log(JSON.stringify({ steps, bytesPerCycle: Math.round(bytes / MEASURED), collections }));
