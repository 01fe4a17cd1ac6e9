// How a Collector's step spends its budget (collector.ts: step;
// gc-cycle.ts: run): work in chunks between reads of the clock, each sized
// to take tens of microseconds, until the deadline, which keeps a reserve
// for the exit.

/**
 * The most work between two reads of the clock. Marking: units of
 * gc-mark.ts's markSome (1,024 blocks in allocation order, or 128 far
 * apart, about 15-25 us either way). Sweeping: blocks freed (SWEEP_CHUNK),
 * in at most SWEEP_WORDS granule-bitmap words. A sweep's cost is in the
 * blocks it frees (their tags dropped, their lines returned under the heap
 * lock, taken once a chunk); a word whose blocks all live costs about 2 ns
 * (8,192 words cover 1 MiB of heap: about 16 us).
 *
 * Bounded by words alone (256 a chunk) as before, a sweep of live regions
 * read the clock every half microsecond, and each read of performance.now
 * allocated: 16 bytes where V8 optimized the caller on Node 20 (a boxed
 * double), about 64 in Node 24's mid tier, Maglev. A 1 ms step over a
 * 500,000-node tree (test/step-garbage.ts) made about 1.9 KiB of garbage
 * under Node 20 and 9 KiB in Maglev (1.1-1.6 and 4-6 with these bounds and
 * the clock's times in a Float64Array; 0.4 and 4.6 with clockMs below),
 * and scavenges began inside steps.
 */
export const MARK_CHUNK = 1024;
export const SWEEP_CHUNK = 1024;
export const SWEEP_WORDS = 8192;
/**
 * Chunks start at MIN_CHUNK units and double while one takes under
 * CHUNK_MS, up to the sizes above; one that takes over twice that halves
 * the next. The first chunks of a process run in V8's interpreter: a whole
 * 128-block mark chunk or 256-word sweep chunk took 1.8 and 2 ms there, in
 * one step. (A sweep chunk's live words do not count: it doubles in the
 * blocks it may free while it takes under CHUNK_MS.)
 */
export const MIN_CHUNK = 8;
const CHUNK_MS = 0.025;
/** What a step keeps of its budget for what follows its last chunk (the exit, the caller's clock reads): 1/20 of the budget, at most this. */
const STEP_RESERVE_MS = 0.05;

/**
 * The collector's clock: milliseconds, monotonic, from an arbitrary origin
 * (compare its readings with each other only). On Node it is
 * process.hrtime(), read in this small function: where V8 optimizes the
 * caller it inlines both, escape analysis drops the pair hrtime returns and
 * the reading stays an unboxed double, so a read allocates nothing. Node
 * 20's performance.now() returns a new HeapNumber there (16 bytes a read,
 * most of what a step allocated: bench:gc's tree had 4 of its 6 scavenges
 * begin inside steps). Elsewhere (a browser), performance.now().
 */
export const clockMs: () => number = typeof process === "object" && typeof process?.hrtime === "function"
  ? () => {
    const t = process.hrtime();
    return t[0]! * 1e3 + t[1]! / 1e6;
  }
  : () => performance.now();

// A Collector's clock (collector.ts: clock): its readings and times, in
// ms, as the elements of a Float64Array, never as values passed, returned
// or carried around a loop, which V8 boxes (16 bytes each) where it has
// not optimized the code or not inlined the call: Maglev boxed those of
// run (gc-cycle.ts; a method of Collector then), about 9 KiB a step under
// Node 24. A typed array's elements are stored unboxed.
/** The last reading. */
export const CLK_T = 0;
/** When the running step (or collect) began. */
export const CLK_STEP = 1;
/** When the running step stops starting chunks (Infinity in collect). */
export const CLK_DEADLINE = 2;
/** Twice the longest chunk of this run() call: the next chunk starts only if that much is left before the deadline. */
export const CLK_MARGIN = 3;
/** When the running phase's part of this run() call began. */
export const CLK_PHASE = 4;
/** stats(): ms in mark and sweep chunks, and the longest step. */
export const CLK_MARK_MS = 5;
export const CLK_SWEEP_MS = 6;
export const CLK_LONGEST_STEP = 7;
export const CLK_WORDS = 8;

/** Sets the deadline of a step of budgetMs that began at CLK_STEP: the time by which it stops starting chunks of work. */
export function setDeadline(clk: Float64Array, budgetMs: number): void {
  clk[CLK_DEADLINE] = clk[CLK_STEP]! + budgetMs - Math.min(STEP_RESERVE_MS, budgetMs / 20);
}

/**
 * Reads the clock after a chunk of n units (begun at CLK_T) and returns the
 * units of the next: doubled up to max while fast, halved down to MIN_CHUNK
 * when slow. Keeps the margin at twice the longest chunk.
 */
export function afterChunk(clk: Float64Array, n: number, max: number): number {
  const now = clockMs();
  const ms = now - clk[CLK_T]!;
  clk[CLK_T] = now;
  if (2 * ms > clk[CLK_MARGIN]!) clk[CLK_MARGIN] = 2 * ms;
  if (ms < CHUNK_MS) return Math.min(2 * n, max);
  if (ms > 2 * CHUNK_MS) return Math.max(n >>> 1, MIN_CHUNK);
  return n;
}

/** True when a chunk started now (CLK_T) might not end before the deadline. */
export function pastDeadline(clk: Float64Array): boolean {
  return clk[CLK_T]! + clk[CLK_MARGIN]! >= clk[CLK_DEADLINE]!;
}
