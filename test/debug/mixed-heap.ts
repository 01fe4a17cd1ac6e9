// A heap with a known mix for the snapshot and heap-map tests: six size
// classes (one-page and multi-page spans), three large blocks with a free run
// between two of them, free objects both on span free lists and on cache
// lists. Seeded, so a seed replays it.
import { Heap, PAGE_SIZE } from "../../src/index.js";
import { MIB, randInt, rng } from "../helpers.js";

/** Sizes allocated, with how many of each: one-page spans (24 B, 64 B, 208 B), 2-page (1.5 KiB), 6-page (6 KiB) and 8-page (20 KiB). */
export const MIX: readonly (readonly [size: number, count: number])[] = [[24, 3000], [64, 1200], [200, 600], [1500, 120], [6000, 60], [20000, 30]];

export interface MixedHeap {
  heap: Heap;
  /** Live small blocks: address -> requested size. */
  live: Map<number, number>;
  /** The live large blocks: address -> requested size. */
  large: Map<number, number>;
  /** First page of the large block freed between the others: a page of a free run (which may have coalesced with free neighbours). */
  freedLargePage: number;
}

/** Builds the mix: about 3.5 MiB committed, half of the small blocks freed at random. */
export function mixedHeap(seed: number): MixedHeap {
  const next = rng(seed);
  const heap = new Heap({ maxSize: 64 * MIB, initialSize: 2 * MIB });
  const order: number[] = [];
  for (const [size, count] of MIX) for (let i = 0; i < count; i++) order.push(size);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randInt(next, 0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const live = new Map<number, number>();
  for (const size of order) live.set(heap.alloc(size), size);
  const large = new Map<number, number>();
  const a = heap.alloc(100_000);
  const b = heap.alloc(300_000);
  const c = heap.alloc(80_000);
  heap.free(b);
  large.set(a, 100_000).set(c, 80_000);
  // Frees before trim() end on span free lists (trim flushes the cache
  // lists and releases empty spans); frees after it stay on cache lists.
  freeSome(heap, live, next, 0.3);
  heap.trim();
  freeSome(heap, live, next, 0.25);
  return { heap, live, large, freedLargePage: b / PAGE_SIZE };
}

function freeSome(heap: Heap, live: Map<number, number>, next: () => number, share: number): void {
  for (const p of [...live.keys()]) {
    if (next() < share) {
      heap.free(p);
      live.delete(p);
    }
  }
}
