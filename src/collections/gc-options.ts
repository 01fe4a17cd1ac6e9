// The Collector's options and the counts its stats() returns (collector.ts).

import { OffheapRangeError } from "../errors.js";
import { checkOptions, type OptionRules } from "../common/options.js";
import { describe } from "./scalar.js";

/** What `Collector.stats()` returns. */
export interface CollectorStats {
  /** Cycles completed (kept in the image). */
  cycles: number;
  /** "idle", "mark" or "sweep". */
  phase: "idle" | "mark" | "sweep";
  /** Collected blocks allocated now, and their usable bytes. */
  liveBlocks: number;
  liveBytes: number;
  /** Blocks and bytes marked by the mark phases that finished, in all (markedBlocks / markMs is the mark rate). */
  markedBlocks: number;
  markedBytes: number;
  /** Blocks and bytes the sweeps freed, in all. */
  freedBlocks: number;
  freedBytes: number;
  /** Milliseconds spent marking and sweeping by this Collector, in all. */
  markMs: number;
  sweepMs: number;
  /** Calls of step and collect, and the longest one in milliseconds. */
  steps: number;
  longestStepMs: number;
  /** Collected bytes at which step() starts the next cycle (CollectorOptions). */
  nextCycleBytes: number;
  /** Of markedBlocks, those this Collector's helper thread marked (CollectorOptions.concurrent), in all. */
  helperMarkedBlocks: number;
}

/**
 * When `step()` starts a cycle, as Go's GOGC: the goal is that the
 * collected blocks' bytes reach `(1 + growth) * the bytes the last cycle
 * marked` when the next cycle's marking ends (their peak: nothing is freed
 * before the sweep). So a cycle starts that goal less the bytes allocated
 * while the last one marked, but not before half of the growth is used,
 * nor below `minBytes`. collect() always runs a cycle.
 */
export interface CollectorOptions {
  /** Growth of the collected bytes over what the last cycle marked, at the next one's end of marking; default 1 (twice that), >= 0. */
  growth?: number;
  /** No cycle starts from step() below this many collected bytes; default 4 MiB, >= 0. */
  minBytes?: number;
  /**
   * Mark on a helper thread, while the program runs (default false): a
   * worker that the Collector starts and ends (dispose), marking over the
   * heap's shared memory; step() hands it the work and returns, collect()
   * marks beside it. Needs a heap on a shared WebAssembly.Memory (the
   * default in Node, and on a cross-origin isolated page) and workers:
   * Node's worker_threads (Node 20.16 or later) or a browser's Worker
   * (from a blob: URL, which the page's CSP must allow); OffheapTypeError
   * elsewhere.
   */
  concurrent?: boolean;
}

const OPTION_RULES: OptionRules = { growth: { type: "number" }, minBytes: { type: "number" }, concurrent: { type: "boolean" } };

/** The options as the Collector uses them, checked: TypeError or RangeError naming the first bad one. */
export function collectorOptions(options: CollectorOptions | undefined): { growth: number; minBytes: number; concurrent: boolean } {
  const o = checkOptions("Collector", options, OPTION_RULES);
  return { growth: nonNegative("growth", o.growth, 1), minBytes: nonNegative("minBytes", o.minBytes, 4 * 1024 * 1024), concurrent: o.concurrent === true };
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(v >= 0) || v === Infinity) throw new OffheapRangeError(`Collector: options.${name} ${describe(v)} is not a finite number >= 0`);
  return v;
}
