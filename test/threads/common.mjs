// Shared by the worker scripts of test/threads.test.ts and by the test itself
// (which imports this file by URL, typed through common.d.mts): the seeded
// generator, the block sizes, the block patterns, the per-worker record and a
// barrier. Plain JS so workers load it without a build step; nothing here
// imports offheap, so the main thread can use it with its own Heap class.

import { rng } from "../../fuzz/lib.mjs";

/** mulberry32, the generator of test/helpers.ts and the fuzzer: floats in [0, 1). */
export { rng };

/** A random integer in [lo, hi]. */
export function randInt(next, lo, hi) {
  return lo + Math.floor(next() * (hi - lo + 1));
}

/** Seed of the n-th worker (or round) of a run: a splitmix32 step, so neighbours do not share streams. */
export function subSeed(seed, n) {
  let z = (seed + Math.imul(n + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A request size as mimalloc's test-stress draws them: mostly small (8..2047,
 * log-uniform, so every small class is hit), some medium up to the largest
 * class (32 KiB), a few large blocks of 32 KiB..300 KiB that take the page
 * heap's paths (and its lock) on every alloc and free.
 */
export function drawSize(next) {
  const x = next();
  if (x < 0.002) return randInt(next, 32 * 1024 + 1, 300 * 1024);
  if (x < 0.012) return randInt(next, 2048, 32 * 1024);
  const lo = 8 << Math.floor(next() * 8);
  return lo + Math.floor(next() * lo);
}

// The pattern of a block: word 0 holds the requested size (so a receiver
// needs only the address), every further whole word a value mixed from the
// address, the size and the word's index, the tail bytes the low bytes of the
// same sequence. A block overlapping another, a stale view, or a write that
// landed in the wrong block all show up as a mismatch at a named offset.
function patternBase(addr, size) {
  let h = Math.imul(addr ^ 0x5bd1e995, 0x9e3779b1) ^ size;
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) | 0;
}
const wordAt = (base, i) => (base + Math.imul(i, 0x27d4eb2f)) ^ (i << 7);

/** Writes the pattern of (addr, size) over the first `size` bytes of the block. */
export function writePattern(heap, addr, size) {
  const u32 = heap.u32;
  // Stores past a typed array's end are dropped without a word: say so here
  // rather than as a mismatch in whichever thread verifies the block later.
  if (addr + size > u32.byteLength) {
    throw new Error(`block 0x${addr.toString(16)} (${size} B) ends past this thread's view (${u32.byteLength} bytes) right after it was allocated: the heap's views were not refreshed after it grew`);
  }
  const w0 = addr >>> 2;
  const words = size >>> 2;
  const base = patternBase(addr, size);
  u32[w0] = size;
  for (let i = 1; i < words; i++) u32[w0 + i] = wordAt(base, i);
  const u8 = heap.u8;
  for (let b = words << 2; b < size; b++) u8[addr + b] = wordAt(base, b) & 0xff;
}

const hex = (n) => "0x" + (n >>> 0).toString(16);

/**
 * Checks the first `upto` bytes (default: all) of the pattern that
 * writePattern(heap, origin, size) wrote, now found at `addr` (a realloc
 * moves a block: origin is where it was written). Returns the size; throws
 * naming the block, the offset and both values.
 */
export function verifyPattern(heap, addr, what, origin = addr, upto = -1) {
  // The block may come from another thread, in memory that thread grew: the
  // README's rule is a heap call on the address first, which brings this
  // thread's views up to date (and proves the block live).
  let usable;
  try {
    usable = heap.sizeOf(addr);
  } catch (e) {
    throw new Error(`${what}: sizeOf(${hex(addr)}) threw ${e.name}: ${e.message}`);
  }
  const u32 = heap.u32;
  const w0 = addr >>> 2;
  if (w0 >= u32.length) {
    throw new Error(`${what}: block ${hex(addr)} lies beyond this thread's view (${u32.byteLength} bytes) even after sizeOf: a view was not refreshed after the heap grew`);
  }
  const size = u32[w0];
  if (!(size >= 8 && size <= 300 * 1024)) throw new Error(`${what}: block ${hex(addr)} holds size word ${size}: not a size this test writes (overwritten?)`);
  if (upto < 0 && size > usable) throw new Error(`${what}: block ${hex(addr)} was written with ${size} bytes but sizeOf says ${usable}`);
  const n = upto < 0 ? size : Math.min(upto, size);
  if (addr + n > u32.byteLength) {
    throw new Error(`${what}: block ${hex(addr)} (${size} B) ends past this thread's view (${u32.byteLength} bytes) even after sizeOf: a view was not refreshed after the heap grew`);
  }
  const base = patternBase(origin, size);
  const words = n >>> 2;
  for (let i = 1; i < words; i++) {
    const got = u32[w0 + i];
    if (got !== wordAt(base, i) >>> 0) {
      throw new Error(`${what}: block ${hex(addr)} (${size} B, written at ${hex(origin)}) word +${i * 4} is ${hex(got)}, expected ${hex(wordAt(base, i))}`);
    }
  }
  const u8 = heap.u8;
  for (let b = words << 2; b < n; b++) {
    if (b < 4) continue; // inside the size word, already checked
    const want = (b < (size & ~3) ? wordAt(base, b >>> 2) >>> ((b & 3) * 8) : wordAt(base, b)) & 0xff;
    if (u8[addr + b] !== want) throw new Error(`${what}: block ${hex(addr)} (${size} B) byte +${b} is ${u8[addr + b]}, expected ${want}`);
  }
  return size;
}

/** Throws unless the first `n` bytes at `addr` are zero (a calloc'd block). */
export function verifyZero(heap, addr, n, what) {
  const u8 = heap.u8;
  for (let i = 0; i < n; i++) if (u8[addr + i] !== 0) throw new Error(`${what}: calloc'd block ${hex(addr)} byte +${i} is ${u8[addr + i]}, not 0`);
}

// The record of one stress worker, words of an Int32Array on a
// SharedArrayBuffer the parent reads: progress for hang reports, and every
// block the worker holds, so that after terminate() the parent knows which
// blocks are live. An operation that moves a block between the record and the
// heap is announced first (REC_PEND_*): a worker killed in the middle of it
// leaves exactly one block whose fate the parent must find out.
export const REC_STATE = 0; // ST_*
export const REC_THREAD = 1; // worker threadId once attached
export const REC_OPS = 2; // allocs + frees so far
export const REC_PEND_KIND = 3; // PK_*; 0 when no operation is under way
export const REC_PEND_ADDR = 4; // the block the pending operation gives up
export const REC_PEND_SIZE = 5; // the size the pending operation requests
export const REC_HELD = 6; // entries in use at the start of the table
export const REC_TABLE = 8; // held blocks: address | 1 once the pattern is complete
export const HOLD = 48; // table entries per worker
export const REC_WORDS = REC_TABLE + HOLD;
export const ST_STARTED = 1;
export const ST_ATTACHED = 2;
export const ST_ENDING = 3; // freeing what it holds
export const ST_DETACHING = 4; // inside detach()
export const ST_DETACHED = 5;
export const ST_DONE = 6;
export const PK_ALLOC = 1;
export const PK_CALLOC = 2;
export const PK_FREE = 3;
export const PK_REALLOC = 4;
export const PK_XCHG = 5;
export const PK_NAMES = ["none", "alloc", "calloc", "free", "realloc", "exchange"];
export const ST_NAMES = ["not started", "started", "attached", "ending", "detaching", "detached", "done"];

/** One line on a worker's record, for hang and failure reports. */
export function describeRecord(rec, base) {
  const kind = rec[base + REC_PEND_KIND];
  const pend = kind === 0 ? "no operation under way" : `in ${PK_NAMES[kind]} (address ${hex(rec[base + REC_PEND_ADDR])}, size ${rec[base + REC_PEND_SIZE]})`;
  return `${ST_NAMES[rec[base + REC_STATE]]}, thread ${rec[base + REC_THREAD]}, ${rec[base + REC_OPS]} ops, ${pend}, holding ${rec[base + REC_HELD]}`;
}

// Outcomes of one free in the double-free race (race-worker.mjs).
export const RES_OK = 1;
export const RES_DOUBLE_FREE = 2;
export const RES_INVALID_ADDRESS = 3;
export const RES_OTHER = 4;

/**
 * A reusable barrier for `parties` threads over words `at` (arrivals) and
 * `at + 1` (generation) of `ctrl`. It spins first, since a round of the race
 * test should start both frees within a few hundred nanoseconds of each
 * other; then it sleeps in Atomics.wait so that an oversubscribed machine
 * makes progress.
 */
export function barrier(ctrl, at, parties) {
  const gen = Atomics.load(ctrl, at + 1);
  if (Atomics.add(ctrl, at, 1) === parties - 1) {
    Atomics.store(ctrl, at, 0);
    Atomics.add(ctrl, at + 1, 1);
    Atomics.notify(ctrl, at + 1);
    return;
  }
  for (let spin = 0; Atomics.load(ctrl, at + 1) === gen; spin++) {
    if (spin > 20_000) Atomics.wait(ctrl, at + 1, gen, 5);
  }
}

/** Entry i of the hand-off test's map and array, the same in the worker that writes them and the thread that reads them. */
export function handoffEntry(seed, i) {
  const next = rng(subSeed(seed, i));
  return { key: `key-${i}-${Math.floor(next() * 1e9).toString(36)}`, value: next() * 1e6 - 5e5, element: Math.floor(next() * 2 ** 32) };
}
