// How a Collector's step spends its budget (collector.ts: step and run):
// work in chunks between reads of the clock, each sized to take tens of
// microseconds, until the deadline, which keeps a reserve for the exit.

/**
 * The most work between two reads of the clock: units of marking (gc-mark.ts:
 * markSome; 1,024 blocks in allocation order, or 128 far apart, about
 * 15-25 us either way) and granule-bitmap words swept. A read costs 70-100
 * ns (performance.now, Node 20 on the bench machine) and allocates, and a
 * sweep chunk with garbage takes the heap lock, 120-160 ns more: at 16
 * words (2 KiB of heap) a chunk, these were a third of the sweep of a
 * mostly live heap. 256 words (32 KiB) sweep in about 0.5 us live, and up
 * to tens of us when every granule starts a dead block, well inside a
 * step's millisecond.
 */
export const MARK_CHUNK = 1024;
export const SWEEP_CHUNK = 256;
/**
 * Chunks start at MIN_CHUNK units and double while one takes under
 * CHUNK_MS, up to the sizes above; one that takes over twice that halves
 * the next. The first chunks of a process run in V8's interpreter: a whole
 * 128-block mark chunk or 256-word sweep chunk took 1.8 and 2 ms there, in
 * one step.
 */
export const MIN_CHUNK = 8;
const CHUNK_MS = 0.025;
/** What a step keeps of its budget for what follows its last chunk (the exit, the caller's clock reads): 1/20 of the budget, at most this. */
const STEP_RESERVE_MS = 0.05;

/** The time by which a step that started at t0 with budgetMs stops starting chunks of work. */
export function stepDeadline(t0: number, budgetMs: number): number {
  return t0 + budgetMs - Math.min(STEP_RESERVE_MS, budgetMs / 20);
}

/** The units of the chunk after one of n units that took ms: doubled up to max while fast, halved down to MIN_CHUNK when slow. */
export function nextChunk(n: number, ms: number, max: number): number {
  if (ms < CHUNK_MS) return Math.min(2 * n, max);
  if (ms > 2 * CHUNK_MS) return Math.max(n >>> 1, MIN_CHUNK);
  return n;
}
