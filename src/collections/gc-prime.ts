// Type feedback for the collector's rare paths, before V8 optimizes its
// loops (the reason allocator.ts primes free's slow cases: primeFree).
//
// Code that V8 optimized deoptimizes where it reaches a site that never ran
// before: it has no type feedback there. In the JavaScript mark loop
// (gc-mark.ts: markJs, which marks heaps that are not on a
// WebAssembly.Memory; the scratch Collector runs it) that was the gray
// stack's first full segment and its first pop of one, and a block's first
// slice: met late in a cycle (the graph of bench:gc needs a thousand blocks
// gray before a segment fills), so the chunk of marking it happened in ran
// on in V8's interpreter, 0.5-0.9 ms of a 1 ms step, and sweepWords' and
// freeLine's first garbage was compiled in the middle of a step too. So the
// first Collector of a thread runs a few small cycles on a scratch heap
// first, with gray segments of 4 entries, so that every one of those sites
// has run and V8 has allocated the functions' feedback. Then the same for
// the WebAssembly loop's driver (gc-mark.ts: markWasm), with a second
// scratch Collector on that heap: its gray stack emptied inside a call,
// moved to a JS segment and back, and a cycle run in steps of one chunk,
// so that the cycle driver's run (gc-cycle.ts) has returned from each
// phase and gone from one to the next inside a step. Without it, bench:gc's
// graph deoptimized markWasm and run at the first two of those
// (--trace-deopt), in steps of 1.2-2.4 ms. The whole costs 10-15 ms, once.

import { Heap } from "../heap/heap.js";
import type { Collector } from "./collector.js";
import { W_REF } from "./gc-layout.js";
import { WS_ROOM } from "./gc-mark.js";
import { defineStruct } from "./struct.js";

/**
 * Cycles run on the scratch heap. V8 keeps a function's feedback only after
 * some calls of it (8 by default): with 3, bench:gc's graph still saw
 * sweepWords deoptimize in its first sweep.
 */
const ROUNDS = 6;
/** Cycles of primeWasm: each runs the driver and gc-cycle.ts's run dozens of times, in steps of one chunk. */
const WASM_ROUNDS = 3;
/** Entries of the scratch Collector's gray segments: a few blocks fill one. */
export const SCRATCH_SEGMENT = 4;

/** Gray entries of the scratch wasm marker's workspace: a few blocks fill it (gc-mark.ts). */
export const SCRATCH_CAPACITY = WS_ROOM + 4 * SCRATCH_SEGMENT;
/**
 * Refs in the wasm cycles' hub: more than SCRATCH_CAPACITY - WS_ROOM gray
 * at once, so the workspace moves entries to JS segments and back; and
 * over SLICE_BYTES (512), so it is scanned in slices.
 */
const HUB_REFS = 256;
/** A hub's tags: every word a ref (gc-layout.ts: offset << 2 | W_REF). */
const REF_TAGS = Int32Array.of(W_REF);

let primed = false;

/**
 * Once per thread: makes a Collector with `make` on a small scratch heap
 * with the JavaScript mark loop and runs ROUNDS cycles over a graph that
 * takes every path of that loop (near and far blocks, full and empty gray
 * segments, a block scanned in slices), the write barrier and allocation
 * while marking, and the sweep of garbage records and their strings, and
 * of a page of garbage; then,
 * with a second Collector on the same heap, the cycles of the WebAssembly
 * loop's driver (primeWasm). Drops the scratch heap.
 */
export function primeCollector(make: (heap: Heap, loop: "js" | "wasm") => Collector): void {
  if (primed) return;
  primed = true;
  const heap = new Heap({ initialSize: 1 << 20, maxSize: 1 << 20 }); // a second one took 8 ms more
  primeJs(make(heap, "js"));
  primeWasm(make(heap, "wasm"));
}

function primeJs(gc: Collector): void {
  const heap = gc.heap;
  const Pair = defineStruct({ a: "ref", b: "ref", name: "string" });
  // Over gc-mark.ts's SLICE_BYTES, so it is scanned in slices; its 8 refs fill 2 gray segments.
  const Wide = defineStruct({ r0: "ref", r1: "ref", r2: "ref", r3: "ref", r4: "ref", r5: "ref", r6: "ref", r7: "ref", pad: "bytes[600]" });
  const Leaf = defineStruct({ v: "u32" }); // 8-byte records: 1,024 to a page
  const pair = Pair.at(heap, 0);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const wide = gc.alloc(Wide);
      heap.setRoot("prime", wide); // the last round's graph is garbage now
      gc.startCycle();
      const fields = Wide.at(heap, wide) as unknown as Record<string, number>;
      for (let i = 0; i < 8; i++) {
        const p = gc.alloc(Pair, { name: "x" }); // allocated black while marking
        pair.addr = p;
        pair.a = i > 0 ? fields[`r${i - 1}`]! : 0;
        pair.b = wide;
        pair.b = 0; // the write barrier shades the target it overwrites
        fields[`r${i}`] = p;
      }
      for (let i = 0; i < 2048; i++) gc.alloc(Leaf); // garbage: a page of it goes back whole (gc-sweep.ts: sweepPage)
      gc.collect();
    }
  } finally {
    gc.dispose(); // also after a failure: a Collector left marking stays in gc-cycle.ts's map of marking heaps
  }
}

/**
 * WASM_ROUNDS cycles, each run in steps of one chunk (step(0)), over a hub
 * block of HUB_REFS refs to leaf records, made once: its slices make the
 * leaves gray faster than they are scanned, so the workspace spills to
 * JS segments, and the scan empties the workspace with segments below.
 * On a memory where the wasm loop does not run (a CSP without wasm), the
 * JS loop runs these cycles too.
 */
function primeWasm(gc: Collector): void {
  const heap = gc.heap;
  const Leaf = defineStruct({ v: "u32" });
  try {
    const hub = gc.allocBlock(HUB_REFS * 4, REF_TAGS, 4, HUB_REFS);
    heap.setRoot("prime", hub);
    for (let i = 0; i < HUB_REFS; i++) {
      const leaf = gc.alloc(Leaf);
      heap.u32[(hub >>> 2) + i] = leaf; // idle: no barrier to run
    }
    for (let round = 0; round < WASM_ROUNDS; round++) {
      gc.startCycle();
      while (!gc.step(0));
    }
  } finally {
    gc.dispose();
  }
}
