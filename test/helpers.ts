// Shared helpers of the test suite: a seeded random number generator, image
// snapshots, and error expectations that also prove a rejected call left the
// heap exactly as it was.
import assert from "node:assert/strict";
import type { Heap } from "../src/index.js";
import { OutOfMemoryError, PAGE_SIZE } from "../src/index.js";
import { forEachPinned } from "../src/heap/reclaim.js";

export const KIB = 1024;
export const MIB = 1024 * 1024;

/**
 * mulberry32: a small seeded generator returning floats in [0, 1). Tests that
 * use randomness print their seed in the test name so a failure replays.
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [lo, hi] from `next`. */
export function randInt(next: () => number, lo: number, hi: number): number {
  return lo + Math.floor(next() * (hi - lo + 1));
}

/** Copy of every byte of the heap's backing memory (its whole current buffer). */
export function snapshot(heap: Heap): Uint8Array {
  return new Uint8Array(heap.buffer).slice();
}

/** Fails naming the first differing byte (and its header word, if in page 0) unless the two images are equal. */
export function assertSameBytes(before: Uint8Array, after: Uint8Array, what: string): void {
  assert.equal(after.length, before.length, `${what}: the backing memory changed length (${before.length} -> ${after.length})`);
  if (Buffer.from(before.buffer, before.byteOffset, before.length).equals(Buffer.from(after.buffer, after.byteOffset, after.length))) return;
  let i = 0;
  while (before[i] === after[i]) i++;
  const where = i < PAGE_SIZE ? `header word ${i >>> 2}` : `page ${Math.floor(i / PAGE_SIZE)}`;
  assert.fail(`${what}: image byte 0x${i.toString(16)} (${where}) changed from ${before[i]} to ${after[i]}`);
}

/** Asserts that the heap's image equals `before` and that it passes check(). */
export function assertUnchanged(heap: Heap, before: Uint8Array, what: string): void {
  assertSameBytes(before, snapshot(heap), what);
  heap.check();
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`, which must throw an instance of `type` with the given `code`
 * whose message matches every pattern; returns the error.
 */
export function expectError(fn: () => unknown, type: ErrorClass, code: string, ...patterns: (string | RegExp)[]): Error {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected ${type.name} (${code}), but nothing was thrown`);
  assert.ok(thrown instanceof type, `expected ${type.name}, got ${String(thrown)}`);
  assert.equal((thrown as { code?: unknown }).code, code, `code of ${String(thrown)}`);
  for (const p of patterns) {
    if (typeof p === "string") assert.ok(thrown.message.includes(p), `message ${JSON.stringify(thrown.message)} should name ${JSON.stringify(p)}`);
    else assert.match(thrown.message, p);
  }
  return thrown;
}

/**
 * A rejected call: `fn` must throw as expectError says, and afterwards every
 * byte of the image is as before and the heap passes check().
 */
export function expectRejected(heap: Heap, fn: () => unknown, type: ErrorClass, code: string, ...patterns: (string | RegExp)[]): Error {
  const before = snapshot(heap);
  const e = expectError(fn, type, code, ...patterns);
  assertUnchanged(heap, before, `after ${type.name} "${e.message}"`);
  return e;
}

/** Address of the first data page: the lowest address the heap can hand out. */
export function dataStart(heap: Heap): number {
  return heap.firstDataPage * PAGE_SIZE;
}

/** Address of the committed end: every block lies below it. */
export function committedEnd(heap: Heap): number {
  return heap.endPage * PAGE_SIZE;
}

/** Bytes of committed data pages (committed bytes without the metadata), from stats(). */
export function dataBytes(heap: Heap): number {
  const s = heap.stats();
  return s.committedBytes - s.metadataBytes;
}

/** Formats an address the way error messages do. */
export function hex(addr: number): string {
  return "0x" + addr.toString(16);
}

/** Fills the usable bytes of the block at `addr` with `value`. */
export function fillBlock(heap: Heap, addr: number, value: number): void {
  heap.u8.fill(value, addr, addr + heap.sizeOf(addr));
}

/** Asserts that the first `n` bytes (default: usable size) of the block at `addr` all equal `value`. */
export function assertBlockFilled(heap: Heap, addr: number, value: number, n = heap.sizeOf(addr)): void {
  const u8 = heap.u8;
  for (let i = addr; i < addr + n; i++) {
    if (u8[i] !== value) assert.fail(`byte ${hex(i)} of the block at ${hex(addr)} is ${u8[i]}, expected ${value}`);
  }
}

/**
 * A call that runs out of memory: `fn` must throw OutOfMemoryError naming the
 * patterns, and lose nothing: live blocks, their bytes, the counts and the
 * committed size are as before (the heap may have flushed cached free
 * objects into its page pool while trying, so free pages may only grow),
 * and the heap passes check().
 */
export function expectOutOfMemory(heap: Heap, fn: () => unknown, ...patterns: (string | RegExp)[]): Error {
  const before = heap.stats();
  const byteLength = heap.buffer.byteLength;
  const e = expectError(fn, OutOfMemoryError, "ERR_OFFHEAP_OUT_OF_MEMORY", ...patterns);
  const after = heap.stats();
  for (const k of ["committedBytes", "liveBytes", "liveBlocks", "allocs", "frees", "requestedBytes", "largeBlocks", "largeBytes"] as const) {
    assert.equal(after[k], before[k], `${k} changed by a failed allocation`);
  }
  assert.ok(after.freePageBytes >= before.freePageBytes, "a failed allocation lost free pages");
  assert.equal(heap.buffer.byteLength, byteLength, "the backing memory changed length");
  heap.check();
  return e;
}

/** The addresses forEachPinned reports for `heap` (its open handles and scope pins), sorted. */
export function rootsOf(heap: Heap): number[] {
  const out: number[] = [];
  forEachPinned(heap, (addr) => out.push(addr));
  return out.sort((a, b) => a - b);
}
