// Shared parts of the fuzzer (see run.mjs): the seeded generator, the
// context a program runs in (step counter, trace, misuse counts), and the
// expectation helpers that prove a deliberate misuse raised its typed error
// and left the structure as it was.
import { isDeepStrictEqual } from "node:util";

/** mulberry32, as test/helpers.ts: a seeded generator of floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A failed expectation: the program is wrong about the allocator, or the allocator is wrong. */
export class FuzzFailure extends Error {}

/** Throws FuzzFailure with `message` unless `ok`. */
export function ensure(ok, message) {
  if (!ok) throw new FuzzFailure(typeof message === "function" ? message() : message);
}

const hex = (n) => (typeof n === "number" && Number.isInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n));
export { hex };

/**
 * The state of one program: its generator and helpers to draw from it, the
 * step being run (for the replay line), and the counters the summary adds up.
 */
export class Program {
  constructor(seed, target, counts, trace) {
    this.seed = seed;
    this.target = target;
    this.next = rng(seed);
    this.step = 0;
    this.op = "setup";
    this.counts = counts; // { steps, misuse: Map(kind -> n), events: Map(kind -> n) }
    this.trace = trace;
    /** What the program chose besides its target (memory kind, types...), for the report lines. */
    this.note = "";
  }

  /** An integer in [lo, hi]. */
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p) {
    return this.next() < p;
  }

  /** A random element of a non-empty array. */
  pick(list) {
    return list[Math.floor(this.next() * list.length)];
  }

  /** A size skewed to small values: mostly up to `small`, sometimes up to `big`. */
  size(small, big) {
    const r = this.next();
    if (r < 0.05) return 0;
    if (r < 0.8) return this.int(1, small);
    return this.int(small + 1, big);
  }

  /** Picks an operation by weight (a number, or a function returning one) from [[weight, name, fn], ...] and runs it as the current step. */
  run(ops) {
    const weights = ops.map(([w]) => (typeof w === "function" ? w() : w));
    let r = this.next() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < ops.length; i++) {
      const [, name, fn] = ops[i];
      r -= weights[i];
      if (r < 0) {
        this.op = name;
        if (this.trace) console.log(`  step ${this.step}: ${name}`);
        fn();
        return;
      }
    }
  }

  /** Counts a non-misuse event (an expected out-of-memory, a detected debug fault...). */
  event(kind) {
    this.counts.events.set(kind, (this.counts.events.get(kind) ?? 0) + 1);
  }

  /**
   * A deliberate misuse: `fn` must throw an instance of `type` whose `code`
   * is `code` (or one of the [type, code] pairs in `alternatives`); then
   * `unchanged()` (a function that throws if the structure changed) runs.
   * Counts the misuse under `kind`. Returns the error.
   */
  misuse(kind, fn, type, code, unchanged, alternatives = []) {
    const accepted = [[type, code], ...alternatives];
    let thrown = null;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    ensure(thrown !== null, () => `misuse "${kind}": expected ${accepted.map(([t]) => t.name).join(" or ")}, but nothing was thrown`);
    ensure(accepted.some(([t, c]) => thrown instanceof t && thrown.code === c),
      () => `misuse "${kind}": expected ${accepted.map(([t, c]) => `${t.name} (${c})`).join(" or ")}, got ${thrown?.name} (${thrown?.code}): ${thrown?.message}`);
    if (unchanged) unchanged(kind);
    this.counts.misuse.set(kind, (this.counts.misuse.get(kind) ?? 0) + 1);
    return thrown;
  }
}

/** Byte copy of an ArrayBuffer/SharedArrayBuffer (the whole buffer). */
export function imageOf(buffer) {
  return Buffer.from(new Uint8Array(buffer).slice().buffer);
}

/** Throws naming the first differing byte unless the buffer's bytes equal `before`. */
export function sameImage(before, buffer, what) {
  const after = Buffer.from(buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer ? new Uint8Array(buffer) : buffer);
  if (before.length === after.length && before.equals(after)) return;
  let i = 0;
  while (i < before.length && before[i] === after[i]) i++;
  throw new FuzzFailure(`${what}: the image changed (length ${before.length} -> ${after.length}; first difference at byte ${hex(i)})`);
}

/** Throws unless `a` and `b` are deeply equal (plain data). */
export function sameValue(a, b, what) {
  ensure(isDeepStrictEqual(a, b), () => `${what}: expected ${JSON.stringify(b)?.slice(0, 300)}, got ${JSON.stringify(a)?.slice(0, 300)}`);
}

/** Byte `i` of the pattern of object `id`: what the programs write into live memory and verify later. */
export function patternByte(id, i) {
  return (id * 131 + i * 7 + 1) & 255;
}

/** Writes object `id`'s pattern into `u8[from, from + n)`. */
export function fillPattern(u8, from, n, id, offset = 0) {
  for (let i = 0; i < n; i++) u8[from + i] = patternByte(id, offset + i);
}

/** Throws unless `u8[from, from + n)` holds object `id`'s pattern (starting at pattern index `offset`). */
export function checkPattern(u8, from, n, id, what, offset = 0) {
  for (let i = 0; i < n; i++) {
    if (u8[from + i] !== patternByte(id, offset + i)) {
      throw new FuzzFailure(`${what}: byte ${offset + i} at ${hex(from + i)} is ${u8[from + i]}, expected ${patternByte(id, offset + i)} (overwritten by another block or the allocator)`);
    }
  }
}

/**
 * Checks the pattern of a block of `n` bytes at `from` (pattern index `offset`
 * at its first byte): every byte up to 4 KiB, else its first and last KiB
 * and one random KiB between (`pick(lo, hi)` draws the window).
 */
export function checkWindows(u8, from, n, id, what, offset, pick) {
  if (n <= 4096) return checkPattern(u8, from, n, id, what, offset);
  checkPattern(u8, from, 1024, id, what, offset);
  checkPattern(u8, from + n - 1024, 1024, id, what, offset + n - 1024);
  const at = pick(0, n - 1024);
  checkPattern(u8, from + at, 1024, id, what, offset + at);
}

/** The codes of the package's errors, by class name (for the messages). */
export const CODES = {
  RANGE: "ERR_OFFHEAP_OUT_OF_RANGE",
  TYPE: "ERR_OFFHEAP_INVALID_ARG_TYPE",
  DOUBLE: "ERR_OFFHEAP_DOUBLE_FREE",
  INVALID: "ERR_OFFHEAP_INVALID_ADDRESS",
  CORRUPT: "ERR_OFFHEAP_HEAP_CORRUPTION",
  OOM: "ERR_OFFHEAP_OUT_OF_MEMORY",
  IMAGE: "ERR_OFFHEAP_INVALID_IMAGE",
  DISPOSED: "ERR_OFFHEAP_DISPOSED",
  CONCURRENT: "ERR_OFFHEAP_CONCURRENT_MODIFICATION",
};
