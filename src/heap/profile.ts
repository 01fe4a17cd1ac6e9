// Sampling heap profiler, as TCMalloc's and Go's. See heap.ts for an overview.
//
// `new Heap({ profile: true })` samples one allocation on average every
// `sampleInterval` bytes (default 512 KiB, Go's MemProfileRate): the distance
// to the next sample is drawn from an exponential distribution with that
// mean, so every byte allocated has the same chance of triggering a sample
// whatever the sizes (TCMalloc's sampler). A sampled block records its size
// and the stack that allocated it; freeing it removes the sample, so
// `heap.profile()` is the live sampled heap.
//
// Weights, as TCMalloc documents them: an allocation of s bytes is sampled
// with probability p = 1 - exp(-s / interval), so each sample stands for
// 1/p allocations and s/p bytes; summing those estimates the live heap by
// site without bias.
//
// Cost. The profiler installs wrappers as own properties of the heap (like
// debug mode), so a heap without it pays nothing. With it, alloc subtracts
// the size from a countdown, and free reads a per-page count of sampled
// blocks (2 bytes per 8 KiB page: small enough to stay in cache, where a
// bit per block measured 10+ ns per free in cache misses on churn) and
// looks the address up only on a page that holds a sample. A sample
// captures a stack (an Error whose text is formatted lazily, when a profile
// is taken): 2-6 µs here, the main cost of profiling.

import { OffheapRangeError } from "../errors.js";
import { PAGE_SHIFT } from "./layout.js";

/** Options of the heap profiler (`HeapOptions.profile`). */
export interface ProfileOptions {
  /** Mean bytes allocated between two samples. Default 524288 (512 KiB). */
  sampleInterval?: number;
}

/** One stack frame of a sample. */
export interface ProfileFrame {
  /** Function name, or "(anonymous)". */
  functionName: string;
  /** Script URL or path ("" if V8 gave none). */
  file: string;
  line: number;
  column: number;
}

/** One sampled live block. */
export interface ProfileSample {
  address: number;
  /** Bytes requested. */
  size: number;
  /** Allocations this sample stands for: 1/p. */
  count: number;
  /** Bytes this sample stands for: size/p. */
  bytes: number;
  /** Where it was allocated, innermost frame first. */
  stack: ProfileFrame[];
}

/** The live sampled heap, as `heap.profile()` returns it (JSON-serializable). */
export interface HeapProfile {
  sampleInterval: number;
  /** Milliseconds since the epoch when the profile was taken. */
  timeMs: number;
  samples: ProfileSample[];
  /** Estimated live bytes: the sum of the samples' `bytes`. */
  estimatedBytes: number;
}

/** The block calls the profiler wraps, and where a heap keeps its profiler. */
interface ProfiledHeap {
  alloc(sizeBytes: number): number;
  calloc(sizeBytes: number): number;
  realloc(addr: number, sizeBytes: number): number;
  free(addr: number): void;
  profiler: Profiler | null;
}

/** The block calls the profiler wraps. */
export type Calls = Pick<ProfiledHeap, "alloc" | "calloc" | "realloc" | "free">;

export const DEFAULT_SAMPLE_INTERVAL = 512 * 1024;
/** Deepest stack a sample records (Go records 32). */
const MAX_FRAMES = 32;

/** A heap's sampling state: the countdown and the live samples. */
export class Profiler {
  /** Bytes left until the next sample, in a typed array so that updating it allocates nothing. */
  readonly left = new Float64Array(1);
  private readonly interval: number;
  private readonly samples = new Map<number, { size: number; stack: Error }>();
  private pages = new Uint16Array(0); // sampled live blocks per page (a page holds at most 1024 blocks)
  private rng = 0x9e3779b9;

  constructor(interval: number) {
    this.interval = interval;
    this.left[0] = this.nextDistance();
  }

  // An exponentially distributed distance with mean `interval` (xorshift32).
  private nextDistance(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return -Math.log(((x >>> 0) + 1) / 4294967297) * this.interval;
  }

  /** Records the block at addr as a sample and draws the next distance. */
  sample(addr: number, size: number): void {
    this.left[0] = this.nextDistance();
    const page = addr >>> PAGE_SHIFT;
    if (page >= this.pages.length) {
      const grown = new Uint16Array(Math.max(page + 1, this.pages.length * 2, 1024));
      grown.set(this.pages);
      this.pages = grown;
    }
    this.pages[page] = this.pages[page]! + 1;
    const limits = Error as { stackTraceLimit?: number };
    const limit = limits.stackTraceLimit;
    limits.stackTraceLimit = MAX_FRAMES;
    this.samples.set(addr, { size, stack: new Error("heap profile sample") });
    limits.stackTraceLimit = limit;
  }

  /** Forgets the sample at addr, if there is one: a per-page count first, the map only on a page that holds a sample. */
  unsample(addr: number): void {
    const page = addr >>> PAGE_SHIFT;
    const n = this.pages[page];
    if (n !== undefined && n !== 0 && this.samples.delete(addr)) this.pages[page] = n - 1;
  }

  /** The live sampled heap. */
  profile(): HeapProfile {
    const out: ProfileSample[] = [];
    let estimatedBytes = 0;
    for (const [address, { size, stack }] of this.samples) {
      const p = -Math.expm1(-Math.max(size, 1) / this.interval);
      const bytes = size / p;
      estimatedBytes += bytes;
      out.push({ address, size, count: 1 / p, bytes, stack: parseStack(stack) });
    }
    return { sampleInterval: this.interval, timeMs: Date.now(), samples: out, estimatedBytes };
  }
}

/**
 * The profiler's alloc, calloc, realloc and free around `inner`, reading the
 * state from `this.profiler`. heap.ts makes one set around the plain
 * methods when it loads and gives it to every profiled heap, so call sites
 * that see several heaps see one function, and V8 inlines the plain method
 * into it (a const of the closure); a debug heap gets a set of its own.
 */
export function profiledCalls(inner: Calls): Calls {
  const { alloc, calloc, realloc, free } = inner;
  return {
    alloc(this: ProfiledHeap, sizeBytes: number): number {
      const addr = alloc.call(this, sizeBytes);
      const p = this.profiler!;
      if ((p.left[0]! -= sizeBytes) < 0) p.sample(addr, sizeBytes);
      return addr;
    },
    calloc(this: ProfiledHeap, sizeBytes: number): number {
      const addr = calloc.call(this, sizeBytes);
      const p = this.profiler!;
      if ((p.left[0]! -= sizeBytes) < 0) p.sample(addr, sizeBytes);
      return addr;
    },
    realloc(this: ProfiledHeap, addr: number, sizeBytes: number): number {
      const moved = realloc.call(this, addr, sizeBytes);
      const p = this.profiler!;
      if (addr !== 0) p.unsample(addr);
      if ((p.left[0]! -= sizeBytes) < 0) p.sample(moved, sizeBytes);
      return moved;
    },
    free(this: ProfiledHeap, addr: number): void {
      free.call(this, addr);
      this.profiler!.unsample(addr);
    },
  };
}

/**
 * Installs the profiler on `heap` as own properties: `calls` (from
 * profiledCalls) if given, else a set around the heap's current calls
 * (debug mode's). Throws RangeError for a bad interval.
 */
export function installProfiler(heap: ProfiledHeap, options: ProfileOptions, calls: Calls | null): Profiler {
  const interval = options.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL;
  if (!Number.isSafeInteger(interval) || interval < 1) {
    throw new OffheapRangeError(`Heap: option profile.sampleInterval must be a positive integer (bytes), got ${String(interval)}`);
  }
  const wrapped = calls ?? profiledCalls({ alloc: heap.alloc, calloc: heap.calloc, realloc: heap.realloc, free: heap.free });
  const profiler = new Profiler(interval);
  heap.profiler = profiler;
  heap.alloc = wrapped.alloc;
  heap.calloc = wrapped.calloc;
  heap.realloc = wrapped.realloc;
  heap.free = wrapped.free;
  return profiler;
}

const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;
const OWN_FRAME = /[\\/]heap[\\/](profile|debug|heap)\.[jt]s$/;

// V8's stack text, innermost first, without the profiler's and heap's own frames.
function parseStack(e: Error): ProfileFrame[] {
  const frames: ProfileFrame[] = [];
  for (const line of (e.stack ?? "").split("\n").slice(1)) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const file = m[2]!;
    if (frames.length === 0 && OWN_FRAME.test(file)) continue;
    frames.push({ functionName: m[1] ?? "(anonymous)", file, line: Number(m[3]), column: Number(m[4]) });
  }
  return frames;
}
