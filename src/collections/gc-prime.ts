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
// has run and V8 has allocated the functions' feedback. It costs about 10
// ms, once.

import { Heap } from "../heap/heap.js";
import type { Collector } from "./collector.js";
import { defineStruct } from "./struct.js";

/**
 * Cycles run on the scratch heap. V8 keeps a function's feedback only after
 * some calls of it (8 by default): with 3, bench:gc's graph still saw
 * sweepWords deoptimize in its first sweep.
 */
const ROUNDS = 6;
/** Entries of the scratch Collector's gray segments: a few blocks fill one. */
export const SCRATCH_SEGMENT = 4;

let primed = false;

/**
 * Once per thread: makes a Collector with `make` on a small scratch heap
 * and runs ROUNDS cycles over a graph that takes every path of the mark
 * loop (near and far blocks, full and empty gray segments, a block
 * scanned in slices), the write barrier and allocation while marking, and
 * the sweep of garbage records and their strings. Then drops the heap.
 */
export function primeCollector(make: (heap: Heap) => Collector): void {
  if (primed) return;
  primed = true;
  const heap = new Heap({ initialSize: 1 << 20, maxSize: 1 << 20 });
  const gc = make(heap);
  const Pair = defineStruct({ a: "ref", b: "ref", name: "string" });
  // Over gc-mark.ts's SLICE_BYTES, so it is scanned in slices; its 8 refs fill 2 gray segments.
  const Wide = defineStruct({ r0: "ref", r1: "ref", r2: "ref", r3: "ref", r4: "ref", r5: "ref", r6: "ref", r7: "ref", pad: "bytes[600]" });
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
      gc.collect();
    }
  } finally {
    gc.dispose(); // also after a failure: a Collector left marking stays in collector.ts's map of marking heaps
  }
}
