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
// Cost. The countdown sits in the plain alloc fast path, as TCMalloc's
// does: each size class's cache line holds a threshold (CC_SAMPLE_AT,
// layout.ts) that the bytes requested from it may reach before the slow
// path runs; a heap without the profiler keeps it at 2^31 - 1, so the test
// never fails and costs one compare. The allocation that passes it is
// sampled and gets pages of its own (a large block), so free finds samples
// on its large-block path and small frees pay nothing. One countdown per
// class is still one Poisson process over all bytes: every byte allocated
// has the same chance to be sampled. Large blocks use a countdown here.
//
// A sample captures a stack (Error.captureStackTrace from the heap's alloc
// up, its text formatted only when a profile is taken): the main cost of
// profiling. Measured in the churn benchmark on a 2-core Xeon, 3.5-4.6 us
// per sample, nearly all of it V8 decoding the caller's optimized frame
// (inlined functions): 0.9 us with no frame, 3.6 us with one, then ~0.2 us
// per further frame. At churn's one sample per ~430 allocations that is
// ~20% of its time, whatever this code does; a larger sampleInterval buys
// it back.

import { OffheapRangeError } from "../errors.js";

/** Options of the heap profiler (`HeapOptions.profile`). */
export interface ProfileOptions {
  /** Mean bytes allocated between two samples: 1 to 64 MiB. Default 524288 (512 KiB). */
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

export const DEFAULT_SAMPLE_INTERVAL = 512 * 1024;
/** Largest sampleInterval: thresholds are int32 byte counts (layout.ts CC_SAMPLE_AT). */
export const MAX_SAMPLE_INTERVAL = 64 * 1024 * 1024;
const MAX_DISTANCE = 2 ** 30;
/** Deepest stack a sample records (Go records 32). */
const MAX_FRAMES = 32;

/** A heap's sampling state: the countdown and the live samples. */
export class Profiler {
  private readonly interval: number;
  // Where stacks start: frames up to and including the innermost call of this function are left out.
  private readonly entry: Function;
  private readonly samples = new Map<number, { size: number; site: { stack?: string } }>();
  private largeLeft: number; // large bytes left until the next large sample
  private rng = 0x9e3779b9;

  constructor(interval: number, entry: Function) {
    this.interval = interval;
    this.entry = entry;
    this.largeLeft = this.nextDistance();
  }

  /** An exponentially distributed distance in bytes with mean `interval` (xorshift32), at most 2^30. */
  nextDistance(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return Math.min(MAX_DISTANCE, Math.ceil(-Math.log(((x >>> 0) + 1) / 4294967297) * this.interval));
  }

  /** Counts down a large allocation of `size` bytes; true if it is to be sampled. */
  countLarge(size: number): boolean {
    if ((this.largeLeft -= size) >= 0) return false;
    this.largeLeft = this.nextDistance();
    return true;
  }

  /** Records the block at addr as a sample of `size` bytes, with the caller's stack. */
  sample(addr: number, size: number): void {
    const limits = Error as { stackTraceLimit?: number };
    const limit = limits.stackTraceLimit;
    limits.stackTraceLimit = MAX_FRAMES;
    const site: { stack?: string } = {};
    Error.captureStackTrace(site, this.entry);
    limits.stackTraceLimit = limit;
    this.samples.set(addr, { size, site });
  }

  /** Forgets the sample at addr, if there is one. */
  unsample(addr: number): void {
    this.samples.delete(addr);
  }

  /** A sampled block at addr was resized in place to `size` bytes. */
  resized(addr: number, size: number): void {
    const s = this.samples.get(addr);
    if (s !== undefined) s.size = size;
  }

  /** The live sampled heap. */
  profile(): HeapProfile {
    const out: ProfileSample[] = [];
    let estimatedBytes = 0;
    for (const [address, { size, site }] of this.samples) {
      const p = -Math.expm1(-Math.max(size, 1) / this.interval);
      const bytes = size / p;
      estimatedBytes += bytes;
      out.push({ address, size, count: 1 / p, bytes, stack: parseStack(site.stack ?? "") });
    }
    return { sampleInterval: this.interval, timeMs: Date.now(), samples: out, estimatedBytes };
  }
}

/** Validates the options and makes the heap's profiler. Throws RangeError for a bad interval. */
export function makeProfiler(options: ProfileOptions, entry: Function): Profiler {
  const interval = options.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL;
  if (!Number.isSafeInteger(interval) || interval < 1 || interval > MAX_SAMPLE_INTERVAL) {
    throw new OffheapRangeError(`Heap: option profile.sampleInterval must be an integer from 1 to ${MAX_SAMPLE_INTERVAL} (bytes), got ${String(interval)}`);
  }
  return new Profiler(interval, entry);
}

const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;
// The heap's own files: tsc's modules under heap/ and common/debug-kit (a
// debug heap's alloc runs through debug.ts, debug-kit's quarantine and
// allocator.ts), or a shared chunk of the Node bundle (scripts/bundle.mjs
// names them dist/node/offheap-<hash>.js).
const OWN_FRAME = /[\\/](?:heap[\\/][\w-]+\.[jt]s|common[\\/]debug-kit\.[jt]s|dist[\\/]node[\\/]offheap-[A-Z0-9]+\.js)$/;

// V8's stack text, innermost first, without the heap's own frames (a debug heap's calls above alloc).
function parseStack(stack: string): ProfileFrame[] {
  const frames: ProfileFrame[] = [];
  for (const line of stack.split("\n").slice(1)) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const file = m[2]!;
    if (frames.length === 0 && OWN_FRAME.test(file)) continue;
    frames.push({ functionName: m[1] ?? "(anonymous)", file, line: Number(m[3]), column: Number(m[4]) });
  }
  return frames;
}
