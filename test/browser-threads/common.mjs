// Shared by page.mjs and worker.mjs of test/browser-threads.test.ts: the
// seeded generator, the request sizes, the block patterns, the mailboxes
// through which blocks change threads, and the layout of the shared control
// words. Plain JS served as is; nothing here imports offheap, so every thread
// passes its own Heap.

/** mulberry32, as test/helpers.ts and fuzz/lib.mjs (a page cannot load either: they import node: modules): floats in [0, 1). */
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

/** The seed of thread `n` of a run (a splitmix32 step, so the threads draw different streams). */
export function subSeed(seed, n) {
  let z = (seed + Math.imul(n + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const MIN_SIZE = 8;
export const MAX_SIZE = 200 * KIB;

/** A request size: mostly 8..2048 B, a share `largeShare` of large blocks of 40..200 KiB (whole pages, the page heap's paths). */
export function drawSize(next, largeShare) {
  if (next() < largeShare) return 40 * KIB + Math.floor(next() * (160 * KIB + 1));
  return MIN_SIZE + Math.floor(next() * (2048 - MIN_SIZE + 1));
}

export const hex = (n) => "0x" + (n >>> 0).toString(16);

// The pattern of a block: word 0 holds the size xor a key of the address (so
// any thread that receives an address can read its size back), every further
// word a value mixed from the address, the size and the word's index, the
// tail bytes the low bytes of the next such value. Two blocks that overlap,
// a block handed out twice, a stale view or a write into the wrong block all
// show up as a mismatch at a named offset.
const sizeKey = (addr) => Math.imul(addr ^ 0x5bd1e995, 0x9e3779b1) >>> 14;
function patternBase(addr, size) {
  let h = Math.imul(addr ^ 0x27d4eb2f, 0x85ebca6b) ^ size;
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) | 0;
}
const wordAt = (base, i) => (base + Math.imul(i, 0x9e3779b1)) ^ (i << 9);

/** Writes the pattern of (addr, size) over the first `size` bytes of the block at `addr`; the heap's views must cover it. */
export function writePattern(heap, addr, size) {
  const u32 = heap.u32;
  // Stores past a typed array's end are dropped silently: name it here, not as a mismatch later in another thread.
  if (addr + size > u32.byteLength) {
    throw new Error(`block ${hex(addr)} (${size} B) ends past this thread's view (${u32.byteLength} B) right after alloc returned it: the heap's views were not refreshed after the memory grew`);
  }
  const w0 = addr >>> 2;
  const words = size >>> 2;
  const base = patternBase(addr, size);
  u32[w0] = size ^ sizeKey(addr);
  for (let i = 1; i < words; i++) u32[w0 + i] = wordAt(base, i);
  if ((size & 3) !== 0) {
    const u8 = heap.u8;
    const last = wordAt(base, words);
    for (let b = 0; b < (size & 3); b++) u8[addr + (words << 2) + b] = last >>> (8 * b);
  }
}

/**
 * Checks the pattern at `addr` and returns its size. `size` is the size the
 * caller knows, or -1 for a block received from another thread (read from
 * word 0, after heap.sizeOf has brought this thread's views up to the
 * memory's length and the size is checked against the usable size).
 * `where` names the step for the message. Throws on any difference.
 */
export function verifyPattern(heap, addr, size, where) {
  let usable = -1;
  if (size < 0 || addr + size > heap.u8.length) usable = heap.sizeOf(addr); // also refreshes this thread's views
  const u32 = heap.u32;
  const w0 = addr >>> 2;
  const fail = (offset, want, got) => {
    throw new Error(`${where}: pattern mismatch in block ${hex(addr)} (${size} B${usable >= 0 ? `, usable ${usable} B` : ""}) at byte offset ${offset}: want ${hex(want)}, found ${got === undefined ? "nothing (past the view)" : hex(got)}`);
  };
  if (size < 0) {
    size = (u32[w0] ^ sizeKey(addr)) >>> 0;
    if (size < MIN_SIZE || size > MAX_SIZE || size > usable) {
      throw new Error(`${where}: block ${hex(addr)} (usable ${usable} B) holds no valid size in its word 0 (${hex(u32[w0])} decodes to ${size})`);
    }
  } else if ((u32[w0] ^ sizeKey(addr)) >>> 0 !== size) {
    fail(0, (size ^ sizeKey(addr)) >>> 0, u32[w0]);
  }
  const words = size >>> 2;
  const base = patternBase(addr, size);
  for (let i = 1; i < words; i++) {
    if (u32[w0 + i] !== wordAt(base, i) >>> 0) fail(4 * i, wordAt(base, i), u32[w0 + i]);
  }
  if ((size & 3) !== 0) {
    const u8 = heap.u8;
    const last = wordAt(base, words);
    for (let b = 0; b < (size & 3); b++) {
      if (u8[addr + (words << 2) + b] !== ((last >>> (8 * b)) & 0xff)) fail((words << 2) + b, (last >>> (8 * b)) & 0xff, u8[addr + (words << 2) + b]);
    }
  }
  return size;
}

// Mailboxes: one Int32Array of MAILBOX_SLOTS words per receiving thread
// (thread 0 the page, 1 and 2 the workers), each word 0 or a block's
// address. A sender puts a block with Atomics.exchange into a random word of
// another thread's mailbox and owns whatever address it got back; a receiver
// takes one with Atomics.exchange(…, 0). No block is ever in two places.
export const MAILBOX_SLOTS = 512;

/** Puts `addr` into a random word of thread `to`'s mailbox; returns the address that was there (now the caller's), or 0. */
export function send(mailboxes, to, addr, next) {
  return Atomics.exchange(mailboxes, to * MAILBOX_SLOTS + Math.floor(next() * MAILBOX_SLOTS), addr);
}

/** Takes the address in a random word of thread `me`'s mailbox, or 0. */
export function receive(mailboxes, me, next) {
  return Atomics.exchange(mailboxes, me * MAILBOX_SLOTS + Math.floor(next() * MAILBOX_SLOTS), 0);
}

// Control words (an Int32Array over a SharedArrayBuffer): the race barrier,
// and per thread (0 the page, 1 and 2 the workers) its phase and its alloc
// and free calls so far, which watcher.mjs reports when the run hangs.
export const CTL_RACE_READY = 0;
export const CTL_PHASE = 1; // + thread
export const CTL_OPS = 4; // + thread
export const CTL_WORDS = 8;
export const PHASES = ["starting", "attached", "stress", "freeing its blocks", "waiting for the race", "racing", "detaching", "detached", "draining the mailboxes", "checking"];

/** Each thread's phase and calls, as one line. */
export function progress(control) {
  return [0, 1, 2].map((t) => `${t === 0 ? "page" : `worker ${t - 1}`}: ${PHASES[Atomics.load(control, CTL_PHASE + t)]}, ${Atomics.load(control, CTL_OPS + t)} alloc and free calls`).join("; ");
}

/** The error as plain data for postMessage and the report. */
export function errorData(e) {
  return e instanceof Error ? { name: e.name, message: e.message, stack: e.stack ?? "" } : { name: typeof e, message: String(e), stack: "" };
}
