// The collector's cycle driver: a cycle's start from the roots (step 1 of
// collector.ts's overview), its mark and sweep phases run in chunks until
// a step's deadline (gc-mark.ts, gc-sweep.ts, gc-chunk.ts), its moves from
// phase to phase, with the write barrier installed while it marks, and the
// next cycle's trigger (the pacer). It works over a Collector's state
// (CycleState). See collector.ts for an overview.

import type { Heap } from "../heap/heap.js";
import { WorkerTimeoutError } from "../errors.js";
import { forEachRoot } from "../heap/reclaim.js";
import { setRefBarrier } from "./struct.js";
import * as L from "./gc-layout.js";
import type { Marker } from "./gc-mark.js";
import type { GcSpace } from "./gc-space.js";
import { sweepWords } from "./gc-sweep.js";
import { afterChunk, CLK_DEADLINE, CLK_LONGEST_STEP, CLK_MARGIN, CLK_MARK_MS, CLK_PHASE, CLK_STEP, CLK_SWEEP_MS, CLK_T, clockMs, MARK_CHUNK, pastDeadline, SWEEP_CHUNK, SWEEP_WORDS } from "./gc-chunk.js";

const {
  DIR_CURSOR, DIR_F64_CYCLES, DIR_F64_LIVE_BYTES, DIR_F64_MARKED_BLOCKS, DIR_F64_MARKED_BYTES, DIR_PHASE, PHASE_IDLE, PHASE_MARK, PHASE_SWEEP,
} = L;

/**
 * The members of a Collector that the driver reads and writes: a Collector
 * is one (collector.ts documents each member).
 */
export interface CycleState {
  readonly heap: Heap;
  readonly space: GcSpace;
  readonly marker: Marker;
  phaseCode: number;
  cursor: number;
  readonly clock: Float64Array;
  steps: number;
  readonly growth: number;
  readonly minBytes: number;
  nextCycleBytes: number;
  startLiveBytes: number;
  runway: number;
  markChunk: number;
  sweepChunk: number;
  concurrent: boolean;
}

/** The markers of the collectors in their mark phase, by heap: the write barrier's lookup. */
const MARKING = new Map<Heap, Marker>();
// The write barrier (struct.ts calls it while some collector marks): the
// target of an overwritten reference is shaded, so it cannot be lost by
// moving the only reference to it into a block already scanned.
function shadeOverwritten(heap: Heap, old: number): void {
  const marker = MARKING.get(heap);
  if (marker !== undefined) marker.shade(heap.u32, old);
}

/** Lists `marker` as the one marking `heap`, or with null takes the heap off the list; the write barrier is installed while the list is not empty. */
export function setMarking(heap: Heap, marker: Marker | null): void {
  if (marker !== null) MARKING.set(heap, marker);
  else MARKING.delete(heap);
  setRefBarrier(MARKING.size === 0 ? null : shadeOverwritten);
}

function setPhase(gc: CycleState, phase: number, cursor: number): void {
  gc.phaseCode = phase;
  gc.cursor = cursor;
  gc.space.setWord(DIR_PHASE, phase);
  gc.space.setWord(DIR_CURSOR, cursor);
  setMarking(gc.heap, phase === PHASE_MARK ? gc.marker : null);
}

/** Step 1 of a cycle: MARK and push every collected block a root names. O(roots). */
export function scanRoots(gc: CycleState): void {
  if (gc.concurrent && gc.marker.helper === null && !gc.marker.helperFailed) gc.marker.startHelper(); // the last one was lost
  setPhase(gc, PHASE_MARK, 0);
  gc.marker.reset();
  gc.startLiveBytes = gc.space.f64(DIR_F64_LIVE_BYTES);
  const heap = gc.heap;
  forEachRoot(heap, (addr) => gc.marker.shade(heap.u32, addr));
}

/**
 * Marks, then sweeps, until the deadline (CLK_DEADLINE) or the end of
 * the cycle; with a running helper, a step's marking is to hand it work
 * (collect() marks beside it). Each phase does at least one chunk of its
 * own, then another only while twice the longest chunk of this call fits
 * before the deadline: chunks take tens of microseconds but vary with
 * cache misses and the heap's slow paths, so the margin keeps a step
 * inside its budget. Its times stay in the clock's elements (gc-chunk.ts).
 */
export function run(gc: CycleState): void {
  const clk = gc.clock;
  clk[CLK_T] = clk[CLK_PHASE] = clockMs();
  clk[CLK_MARGIN] = 0;
  if (gc.phaseCode === PHASE_MARK) {
    const marker = gc.marker;
    let n = gc.markChunk;
    for (;;) {
      // Before each chunk, and after the last (so that a step hands the helper work to go on with).
      if (marker.helper !== null && !marker.balance()) restartMark(gc);
      if (!marker.hasWork()) {
        // What is left, if anything, is the helper's: a step leaves it to it (and returns at once:
        // a program waiting for the cycle's end calls step() again later); collect() waits for it.
        if (clk[CLK_DEADLINE] !== Infinity || !marker.marking()) break;
        if (!marker.awaitHelper(false)) throw new WorkerTimeoutError("Collector.collect: the helper thread has not come back for 10 s; the cycle goes on at the next call");
        continue;
      }
      // A step leaves the marking to a running helper (balance has handed it work): the program's
      // thread is the one a step costs. Marking beside it, a step scanned at 2-4 times the helper's
      // cost a block (chunked between clock reads), and bench:gc's graph spent 98 ms of its steps so.
      // Unless the collected bytes have grown by the growth factor since the cycle began, and
      // minBytes more: then the helper is not keeping up (more threads than cores,
      // say), and the step marks what the program holds, as Go's mark assists, so that the heap
      // does not grow without bound while it marks. Assisting from the pacer's goal on (or from
      // minBytes past the start), bench:gc's graph had its steps mark 391,000 blocks (77 ms) in its
      // first cycle, whose runway the pacer could not know yet.
      if (clk[CLK_DEADLINE] !== Infinity && marker.helperRunning() && !helperBehind(gc)) break;
      marker.markSome(n);
      n = afterChunk(clk, n, MARK_CHUNK);
      if (pastDeadline(clk)) {
        if (marker.helper !== null && !marker.balance()) restartMark(gc);
        break;
      }
    }
    clk[CLK_T] = clockMs();
    gc.markChunk = n;
    clk[CLK_MARK_MS] = clk[CLK_MARK_MS]! + clk[CLK_T]! - clk[CLK_PHASE]!;
    if (marker.marking()) return;
    marker.takeHelperCounts();
    gc.runway = Math.max(0, gc.space.f64(DIR_F64_LIVE_BYTES) - gc.startLiveBytes);
    gc.space.addF64(DIR_F64_MARKED_BLOCKS, gc.marker.markedBlocks);
    gc.space.addF64(DIR_F64_MARKED_BYTES, gc.marker.markedBytes);
    setPhase(gc, PHASE_SWEEP, gc.space.base >>> L.G_WORD_SHIFT);
    if (pastDeadline(clk)) return;
    clk[CLK_PHASE] = clk[CLK_T]!;
  }
  if (gc.phaseCode === PHASE_SWEEP) {
    const words = gc.space.cover >>> L.G_WORD_SHIFT;
    let n = gc.sweepChunk;
    do {
      gc.cursor = sweepWords(gc.heap, gc.space, gc.cursor, Math.min(words, gc.cursor + SWEEP_WORDS), n);
      n = afterChunk(clk, n, SWEEP_CHUNK);
    } while (gc.cursor < words && !pastDeadline(clk));
    gc.sweepChunk = n;
    clk[CLK_SWEEP_MS] = clk[CLK_SWEEP_MS]! + clk[CLK_T]! - clk[CLK_PHASE]!;
    gc.space.setWord(DIR_CURSOR, gc.cursor);
    if (gc.cursor < words) return;
    gc.space.addF64(DIR_F64_CYCLES, 1);
    setPhase(gc, PHASE_IDLE, 0);
    retrigger(gc, gc.marker.markedBytes);
  }
}

// True once the collected bytes have grown by the growth factor, and minBytes more, since the cycle began.
function helperBehind(gc: CycleState): boolean {
  return gc.space.f64(DIR_F64_LIVE_BYTES) >= gc.startLiveBytes * (1 + gc.growth) + gc.minBytes;
}

// The helper was lost holding gray blocks (gc-mark.ts: balance): the
// cycle starts again from the roots, with a new helper (none after one
// that failed or never came up: the program marks alone then).
function restartMark(gc: CycleState): void {
  abandonMark(gc);
  scanRoots(gc);
}

/** Ends a mark phase without sweeping: clears every MARK bit. O(covered range / 128). */
export function abandonMark(gc: CycleState): void {
  gc.space.clearMarks();
  gc.marker.reset();
  setPhase(gc, PHASE_IDLE, 0);
}

/**
 * Sets the trigger of the next cycle (nextCycleBytes), from the bytes the
 * last one marked (as Go's heap_marked), or, before any, from the live
 * bytes. O(1).
 */
// Not from what the sweep left live: that counts the blocks allocated
// during the cycle, garbage or not, and each cycle's trigger would ride on
// the last one's floating garbage (the 10M-node tree's heap grew to 595
// MiB on it).
//
// growth sets the goal, as GOGC does: the collected bytes should reach
// (1 + growth) times the marked bytes when the next cycle's marking ends,
// the peak (nothing is freed before the sweep). So the cycle starts that
// many bytes earlier as the program allocated while the last one marked
// (its runway), but never before half of the growth is used.
export function retrigger(gc: CycleState, marked = gc.space.f64(DIR_F64_LIVE_BYTES)): void {
  const goal = marked * (1 + gc.growth);
  gc.nextCycleBytes = Math.max(gc.minBytes, goal - gc.runway, marked + (goal - marked) / 2);
}

/** Counts the step (or collect) that began at CLK_STEP, and keeps the longest. */
export function noteStep(gc: CycleState): void {
  const clk = gc.clock;
  clk[CLK_T] = clockMs();
  gc.steps++;
  clk[CLK_LONGEST_STEP] = Math.max(clk[CLK_LONGEST_STEP]!, clk[CLK_T]! - clk[CLK_STEP]!);
}
