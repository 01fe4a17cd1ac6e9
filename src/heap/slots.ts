// The slot table: one local cache per thread that uses the heap, and the
// switch between the single-thread and the shared paths. See heap.ts for an
// overview; layout.ts draws the table (HDR_SLOTS) and the words below.
//
// Every Heap belongs to a slot, the one of its thread: the first Heap of a
// thread claims a free slot, later Heaps of the same thread (Heap.attach on
// the same image: the same memory object, a buffer a Heap of the thread
// saw of its WebAssembly.Memory, or another object over the same bytes that
// a probe finds: attachSlot) join it, and detach() of the last one gives it
// back. This thread's Heaps per image are kept in thread-heaps.ts, not in
// the image, so attaching to a copy of an image leaves the copy as it was;
// they share the slot's caches, so they switch paths together. (A thread
// attached through an object the probe cannot match holds a second slot,
// as if it were another thread.) A
// slot's caches are touched only by its thread, so the fast paths use plain
// loads and stores on them. Slot 0's cache lines are the header's and its
// arrays the cache region; another slot's live in a cache block
// (KIND_CACHE pages, cache-lines.ts allocCacheBlock), taken when the slot is
// claimed and returned when it is freed.
//
// Modes. While one thread uses the heap (HDR_SHARED == 0), alloc and free
// are the plain fast paths: no atomics, as fast as before threads existed.
// While several do (HDR_SHARED == 1), each Heap runs allocShared and
// freeShared (shared-paths.ts), which change the bitmap's granules with a
// compareExchange: other threads change other granules of the same word,
// and of two frees of one block exactly one exchange succeeds. (An alloc
// of more than 24 bytes stores the one byte of the word that no other
// thread writes.) Every slow
// path, in both modes, runs under the heap lock (HDR_LOCK, lock.ts), which
// orders the central lists, the page heap, the slot table and growth.
// There is one lock, so there is no lock order to keep; a Mutex a user
// holds may be taken before it, never while a slow path runs.
//
// Switching a running thread to the shared paths. A thread cannot be
// interrupted, so the one that attaches second asks the others to switch:
// under the lock it sets HDR_SHARED and arms a trap in each of their slots
// (every class's CC_LIMIT and CC_SAMPLE_AT at values the fast paths refuse),
// so the next alloc or free of each takes its slow path, where lockHeap
// switches that Heap and acknowledges (SLF_SHARED). The attaching thread
// waits for the acknowledgements before its first allocation, up to
// HANDSHAKE_MS: a thread that is idle (waiting for events) is not inside
// alloc or free, and answers from its event loop (handshake.ts) where the
// platform lets it; one that cannot switches at its next call.
// What remains unguarded: a thread descheduled by the OS in the middle of a
// plain fast path for longer than HANDSHAKE_MS, whose one pending store to
// a bitmap word could then undo another thread's change of a neighbour.
//
// A thread that exits without detach() (a terminated worker) keeps its slot
// and the objects in its caches until another thread calls
// releaseThread(threadId), which returns them to the spans. A thread
// terminated while it held the heap lock leaves the lock held: releaseThread
// takes it over and validates the whole image (check), since the dead thread
// may have stopped in the middle of a change; if the check fails it rebuilds
// the state such a change can leave half made (repair.ts) and checks again.

import { HeapCorruptionError, OffheapRangeError, OutOfMemoryError } from "../errors.js";
import * as layout from "./layout.js";
const { CC_LIMIT, CC_SAMPLE_AT, CC_SHIFT, HDR_CACHE, HDR_LOCK, HDR_SHARED, MAX_SLOTS, SAMPLE_NEVER, SL_CACHE, SL_FLAGS,
  SL_BUSY, SL_THREAD, SLF_KEY_SHIFT, SLF_READY, SLF_SHARED, slotOf, slotWord } = layout;
import { N_CLASSES } from "./size-classes.js";
import { flushCaches, foldCounts } from "./central.js";
import { allocCacheBlock, freeCacheBlock } from "./cache-lines.js";
import { cacheBlockBytes } from "./layout.js";
import type { Allocator } from "./allocator.js";
import { canWait, lockHolder, lockWord, unlockWord } from "./lock.js";
import { checkHeap } from "./check.js";
import { repairAfterDeath } from "./repair.js";
import { announceHandshake, listenForHandshakes } from "./handshake.js";
import { findImage, joinImage, leaveImage, siblingsOf, slotOfImage, unlistedKey } from "./thread-heaps.js";

/** How long an attaching thread waits for running threads to switch to the shared paths. */
const HANDSHAKE_MS = 100;
/** How long releaseThread lets running threads finish the fast path they are in before it reads their caches. */
const QUIESCE_MS = 20;
/** The heap lock's holder id after a thread stopped inside a slow path and left the heap inconsistent (lock.ts refuses it). */
export const BROKEN_ID = MAX_SLOTS + 1;
/** A CC_SAMPLE_AT no request passes: a trap for the fast alloc. */
const TRAP_SAMPLE_AT = 0x80000000;
/** A CC_LIMIT no push passes (-1 as int32): a trap for the fast free (check.ts accepts it in S2). */
export const TRAP_LIMIT = 0xffffffff;

// A slot of thread id `me` (SL_THREAD's value) that no listed object of
// this thread matched (findImage) and whose object (its id) is not a live
// unlisted one: its Heaps went without detach(), or it is a copy of the
// image and they are on the original. -1 if there is none.
function orphanSlot(u32: Uint32Array, me: number): number {
  for (let k = 0; k < MAX_SLOTS; k++) {
    const sw = slotWord(k);
    if (u32[sw + SL_THREAD] === me && (u32[sw + SL_FLAGS]! & SLF_READY) !== 0 && !unlistedKey(u32[sw + SL_FLAGS]! >>> SLF_KEY_SHIFT)) return k;
  }
  return -1;
}

/**
 * The id of the calling thread: worker_threads.threadId in Node (0 on the
 * main thread), else a random id shared by every copy of this module in the
 * thread. Found once per thread. Loading node:worker_threads costs 3-5 ms in
 * a process that has not loaded it (most of what making its first Heap
 * cost), so Node's main thread is told apart without it: its list of loaded
 * built-in modules names no worker module but the two every thread loads,
 * while a worker's bootstrap loads several (and a program that made a
 * worker loaded worker_threads). Any other list loads the module.
 */
export function currentThreadId(): number {
  if (thisThreadId < 0) thisThreadId = findThreadId();
  return thisThreadId;
}

let thisThreadId = -1;

/** The worker modules Node's main thread loads at startup (Node 20 to 24); a worker loads more. */
const MAIN_THREAD_WORKER_MODULES = new Set(["NativeModule internal/worker/js_transferable", "Internal Binding worker"]);

function findThreadId(): number {
  const process = (globalThis as {
    process?: { moduleLoadList?: unknown; getBuiltinModule?: (id: string) => { threadId?: number } | undefined };
  }).process;
  const loaded = process?.moduleLoadList;
  if (Array.isArray(loaded) && loaded.every((m) => typeof m === "string" && (!/worker/i.test(m) || MAIN_THREAD_WORKER_MODULES.has(m)))) return 0;
  const threadId = process?.getBuiltinModule?.("node:worker_threads")?.threadId;
  if (typeof threadId === "number") return threadId;
  const key = Symbol.for("offheap.threadId");
  const g = globalThis as unknown as Record<symbol, number | undefined>;
  return (g[key] ??= 1 + Math.floor(Math.random() * 0x3ffffffe));
}

/**
 * Takes the heap lock for `h` (its outermost lockHeap); returns true if it
 * is held biased. One thread alone skips the lock's compare-exchange and its
 * wake-up check: it says it is busy, then looks whether another thread
 * started sharing; an attaching thread stores HDR_SHARED, then waits while
 * SL_BUSY is set (see the top of this file). Both sides store, then load the
 * other's word (Dekker's handshake): each needs a sequentially consistent
 * store before its load. With a plain store the processor could still hold
 * it in its store buffer when the load ran (x86 reorders a store and a
 * later load), and both threads could go on: this one without the lock, the
 * attaching one under it.
 */
export function takeHeapLock(h: Allocator): boolean {
  if (!h.sharedMode && !h.attaching) {
    const busy = slotWord(h.slot) + SL_BUSY;
    Atomics.store(h.u32, busy, 1);
    if (Atomics.load(h.u32, HDR_SHARED) === 0) return true;
    Atomics.store(h.u32, busy, 0);
  }
  lockWord(h.i32, HDR_LOCK, lockId(h), BROKEN_ID);
  return false;
}

/** Releases the heap lock takeHeapLock took for `h` (`biased`: what it returned). */
export function releaseHeapLock(h: Allocator, biased: boolean): void {
  // Biased: after every store of the slow path, for the attaching thread that waits on it.
  if (biased) Atomics.store(h.u32, slotWord(h.slot) + SL_BUSY, 0);
  else unlockWord(h.i32, HDR_LOCK);
}

/** Under the heap lock: switches `h` to the image's mode, shared when another thread uses the heap, plain when its slot is the last. */
export function followSharedMode(h: Allocator): void {
  const shared = h.u32[HDR_SHARED] !== 0;
  if (shared !== h.sharedMode) {
    if (shared) enterSharedMode(h);
  } else if (shared && soleSlot(h)) {
    leaveSharedMode(h);
  }
}

/** The heap lock's holder id of `h`: its slot + 1 (a Heap takes the lock only once it has a slot). */
export function lockId(h: Allocator): number {
  return h.slot + 1;
}

/** True if `h`'s slot is the only one in use (under the heap lock). */
export function soleSlot(h: Allocator): boolean {
  for (let k = 0; k < MAX_SLOTS; k++) if (k !== h.slot && slotInUse(h.u32, k)) return false;
  return true;
}

/** True if a thread holds slot k (set up or not yet). */
export function slotInUse(u32: Uint32Array, k: number): boolean {
  return u32[slotWord(k) + SL_THREAD] !== 0;
}

/** True if slot k is in use and its caches are set up. */
export function slotReady(u32: Uint32Array, k: number): boolean {
  return u32[slotWord(k) + SL_THREAD] !== 0 && (u32[slotWord(k) + SL_FLAGS]! & SLF_READY) !== 0;
}

/** Word indexes of the cache lines of every slot in use (and set up). */
export function slotCacheLines(u32: Uint32Array): number[] {
  const lines: number[] = [];
  for (let k = 0; k < MAX_SLOTS; k++) if (slotReady(u32, k)) lines.push(u32[slotWord(k) + SL_CACHE]!);
  return lines;
}

/** Writes slot 0's entry of a new image: free, with the header's cache lines. */
export function initSlots(u32: Uint32Array): void {
  u32[slotWord(0) + SL_CACHE] = HDR_CACHE;
}

// True if every slot in use but h's belongs to h's thread.
function ownSlotsOnly(h: Allocator): boolean {
  for (let k = 0; k < MAX_SLOTS; k++) if (k !== h.slot && slotInUse(h.u32, k) && h.u32[slotWord(k) + SL_THREAD] !== h.threadId + 1) return false;
  return true;
}

// A cache block for the slot at word sw that `h` claimed (the caller holds
// the lock, unless `lock`: then this takes it, and frees the slot if no
// block comes, nothing else of the slot written yet); throws
// OutOfMemoryError when none fits.
function takeCacheBlock(h: Allocator, sw: number, lock: boolean): number {
  let w = 0;
  try {
    if (lock) h.lockHeap();
    try {
      w = allocCacheBlock(h);
    } finally {
      if (lock) h.unlockHeap();
    }
  } finally {
    if (lock && w === 0) Atomics.store(h.u32, sw + SL_THREAD, 0);
  }
  if (w === 0) {
    throw new OutOfMemoryError(`Heap.attach: no room for this thread's cache (${cacheBlockBytes(h.totalPages, h.cacheObjects, h.imageClasses)} bytes; the heap cannot grow)`);
  }
  return w;
}

/**
 * Gives `h` the slot of its thread's Heaps on its image, claiming a free one
 * if there are none (taking the lock itself). `made`: the image is one this
 * thread made (new Heap), opened from a file, or an unshared copy, where
 * the slot with this thread's id is this thread's. Otherwise `h` joins the
 * Heaps of this thread on the same memory object or on another object over
 * the same bytes (thread-heaps.ts findImage), else a slot whose Heaps are gone
 * (orphanSlot); failing those it takes a slot of its own: a Heap of this
 * thread may be on the image through an object that is not listed, and two
 * slots of one thread are safe where a slot shared with Heaps it does not
 * know is not (the last detach() of either would free it under the other).
 * When another slot is in use, the heap enters shared mode and this waits
 * for the running threads to switch (see the top of this file). Throws
 * OffheapRangeError when all MAX_SLOTS slots are taken, OutOfMemoryError
 * when a cache block does not fit.
 */
export function attachSlot(h: Allocator, made: boolean): void {
  const key = findImage(h, !made);
  let k: number;
  if (key !== undefined) k = slotOfImage(key);
  else k = made ? slotOf(h.u32, h.threadId) : orphanSlot(h.u32, h.threadId + 1);
  const fresh = k < 0;
  // Claimed before the lock is taken, so the lock's holder is always a slot: a thread that
  // stops while attaching is found by releaseThread like any other.
  for (let j = 0; fresh && k < 0 && j < MAX_SLOTS; j++) {
    if (Atomics.compareExchange(h.u32, slotWord(j) + SL_THREAD, 0, h.threadId + 1) === 0) k = j;
  }
  if (k < 0) throw new OffheapRangeError(`Heap.attach: ${MAX_SLOTS} threads use the heap already, the most it holds; detach() or releaseThread() one first`);
  h.slot = k;
  const sw = slotWord(k);
  // A slot of its own needs a cache block. Where every other slot in use is
  // this thread's, no other thread runs on the image: the block is taken
  // first, so that a heap with no room for it throws before sharing starts
  // (startSharing writes HDR_SHARED and the traps of the other slots).
  const early = fresh && k !== 0 && ownSlotsOnly(h) ? takeCacheBlock(h, sw, true) : 0;
  try {
    // First make every running thread leave the plain paths; nothing
    // else of the image may change before they have.
    if (fresh && startSharing(h)) awaitHandshake(h);
    h.lockHeap();
  } catch (e) {
    if (fresh) Atomics.store(h.u32, sw + SL_THREAD, 0);
    throw e;
  }
  try {
    if (fresh && k !== 0) h.u32[sw + SL_CACHE] = early !== 0 ? early : takeCacheBlock(h, sw, false);
    h.cacheW = h.u32[sw + SL_CACHE]!;
    h.attaching = false;
    const id = joinImage(h, key);
    if (fresh) {
      resetBounds(h);
      h.u32[sw + SL_FLAGS] = (h.u32[HDR_SHARED] !== 0 ? SLF_READY | SLF_SHARED : SLF_READY) | id << SLF_KEY_SHIFT;
    }
    if (h.u32[HDR_SHARED] !== 0 && !h.sharedMode) enterSharedMode(h);
    if (h.u32.buffer instanceof SharedArrayBuffer) listenForHandshakes(h.threadId);
  } catch (e) {
    if (fresh && (h.u32[sw + SL_FLAGS]! & SLF_READY) === 0) h.u32[sw + SL_THREAD] = 0;
    throw e;
  } finally {
    h.unlockHeap();
  }
}

// Under the lock: if another slot is in use, enters shared mode and arms
// the traps of the slots that have not switched; returns whether another
// thread holds one of them (then the caller waits for it).
function startSharing(h: Allocator): boolean {
  h.lockHeap();
  try {
    if (soleSlot(h)) return false;
    if (h.u32[HDR_SHARED] === 0) Atomics.store(h.u32, HDR_SHARED, 1);
    const armed = armTraps(h, h.slot);
    if (armed) announceHandshake(h.u32.buffer as SharedArrayBuffer, h.threadId);
    return armed;
  } finally {
    h.unlockHeap();
  }
}

// Arms the trap in every slot in use but `self` whose thread has not
// switched (every one: `all`); returns whether another thread holds one.
// Another slot of this thread (attachSlot) is in no fast path while this
// code runs: it counts as switched at once, and its Heaps switch at their next call.
function armTraps(h: Allocator, self: number, all = false): boolean {
  const u32 = h.u32;
  let armed = false;
  for (let k = 0; k < MAX_SLOTS; k++) {
    const sw = slotWord(k);
    if (k === self || !slotReady(u32, k) || (!all && (u32[sw + SL_FLAGS]! & SLF_SHARED) !== 0)) continue;
    for (let cls = 1; cls <= N_CLASSES; cls++) {
      const cw = u32[sw + SL_CACHE]! + (cls << CC_SHIFT);
      u32[cw + CC_LIMIT] = TRAP_LIMIT;
      u32[cw + CC_SAMPLE_AT] = TRAP_SAMPLE_AT;
    }
    if (u32[sw + SL_THREAD] !== h.threadId + 1) armed = true;
    else if (!all) u32[sw + SL_FLAGS] = u32[sw + SL_FLAGS]! | SLF_SHARED;
  }
  return armed;
}

// Waits until every slot in use has switched, or for HANDSHAKE_MS and until
// none of them runs a slow path without the lock (SL_BUSY: one it started
// before it could see HDR_SHARED, whose stores may have overwritten a
// trap); then arms the traps again and marks the slots that did not answer
// as switched (they are idle, and switch at their next call), so that later
// attaching threads do not wait for them.
function awaitHandshake(h: Allocator): void {
  const until = Date.now() + HANDSHAKE_MS;
  const giveUp = until + 20 * HANDSHAKE_MS; // a thread stopped (terminated) inside a slow path stays busy
  for (;;) {
    let pending = false;
    let busy = false;
    for (let k = 0; k < MAX_SLOTS; k++) {
      const sw = slotWord(k);
      if ((Atomics.load(h.u32, sw + SL_FLAGS) & (SLF_READY | SLF_SHARED)) !== SLF_READY || Atomics.load(h.u32, sw + SL_THREAD) === 0) continue;
      pending = true;
      if (Atomics.load(h.u32, sw + SL_BUSY) !== 0) busy = true;
    }
    const now = Date.now();
    if (!pending || (!busy && now >= until) || now >= giveUp) break;
    pause(1);
  }
  h.lockHeap();
  try {
    armTraps(h, h.slot);
    for (let k = 0; k < MAX_SLOTS; k++) {
      const sw = slotWord(k);
      if (slotReady(h.u32, k)) h.u32[sw + SL_FLAGS] = h.u32[sw + SL_FLAGS]! | SLF_SHARED;
    }
  } finally {
    h.unlockHeap();
  }
}

/**
 * Under the heap lock, while other threads use the heap: arms the trap in
 * every other slot and waits QUIESCE_MS, so that each other thread finishes
 * the fast path it is in and its next alloc or free takes its slow path,
 * which waits for the lock held here. Their caches and granules then hold
 * still until the caller unlocks, and each thread's slow path takes its
 * traps away (a fold resets the push bound; allocSampled the threshold).
 * For Heap.check and releaseThread, which read every slot's caches.
 */
function holdOtherThreads(h: Allocator): void {
  if (armTraps(h, h.slot, true)) pause(QUIESCE_MS);
}

/**
 * Runs `check`, a validation of the image, under the heap lock. While other
 * threads use the heap, their fast paths change their caches and granules
 * without the lock, so damage found then may be a change in flight: this
 * makes them wait (holdOtherThreads) and runs `check` again, whose error stands.
 */
export function checkHoldingOthers(h: Allocator, check: () => void): void {
  h.lockHeap();
  try {
    try {
      check();
    } catch (e) {
      if (!h.sharedMode || !(e instanceof HeapCorruptionError)) throw e;
      holdOtherThreads(h);
      check();
    }
  } finally {
    h.unlockHeap();
  }
}

// Sleeps `ms` milliseconds where this thread may wait, else spins.
function pause(ms: number): void {
  if (canWait) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  } else {
    for (const until = Date.now() + ms; Date.now() < until;);
  }
}

/**
 * Switches `h` and the other Heaps of its slot to the shared paths (under
 * the heap lock): takes the slot's traps away and acknowledges. All of them
 * at once: the traps are the slot's, and a Heap left on the plain paths
 * once they are gone would store bitmap words another thread changes.
 */
export function enterSharedMode(h: Allocator): void {
  switchPaths(h, true);
  if (h.attaching) return; // its caches are new
  resetBounds(h);
  const sw = slotWord(h.slot);
  Atomics.store(h.u32, sw + SL_FLAGS, h.u32[sw + SL_FLAGS]! | SLF_SHARED);
}

/** Switches `h`, of the one thread left, and the other Heaps of its slot back to the plain paths (under the heap lock). */
export function leaveSharedMode(h: Allocator): void {
  Atomics.store(h.u32, HDR_SHARED, 0);
  switchPaths(h, false);
  const sw = slotWord(h.slot);
  h.u32[sw + SL_FLAGS] = h.u32[sw + SL_FLAGS]! & ~SLF_SHARED;
}

// Installs the fast paths of a mode in `h` and in every other Heap of this thread on its image.
function switchPaths(h: Allocator, shared: boolean): void {
  for (const each of h.attaching ? [h] : siblingsOf(h)) {
    each.sharedMode = shared;
    each.installFastPaths();
  }
}

// Folds every class's counts (which resets its push bound) and sets its profiler threshold afresh: no trap is left.
function resetBounds(h: Allocator): void {
  for (let cls = 1; cls <= N_CLASSES; cls++) {
    foldCounts(h, cls);
    h.u32[h.cacheW + (cls << CC_SHIFT) + CC_SAMPLE_AT] = SAMPLE_NEVER;
    h.rearmSample(h.cacheW + (cls << CC_SHIFT));
  }
}

/** Gives `h`'s share of its slot back (under the heap lock); the last Heap of the slot empties its caches and frees it. */
export function detachSlot(h: Allocator): void {
  if (leaveImage(h)) releaseSlot(h, h.slot);
}

// Returns slot k's cached objects to their spans (if its caches were set up) and frees the slot.
function releaseSlot(h: Allocator, k: number): void {
  if (slotReady(h.u32, k)) {
    const own = h.cacheW;
    h.cacheW = h.u32[slotWord(k) + SL_CACHE]!; // the central functions work on h.cacheW's lists
    try {
      flushCaches(h);
    } finally {
      h.cacheW = own;
    }
  }
  freeSlot(h, k);
}

// Returns slot k's cache block and marks it free (its caches are empty).
// (The slot stops naming its block before the block is freed: a thread
// stopped in between leaves an unnamed cache block, which repair.ts frees.)
function freeSlot(h: Allocator, k: number): void {
  const sw = slotWord(k);
  const ready = (h.u32[sw + SL_FLAGS]! & SLF_READY) !== 0;
  h.u32[sw + SL_FLAGS] = 0;
  if (k !== 0 && ready) freeCacheBlock(h, h.u32[sw + SL_CACHE]!);
  h.u32[sw + SL_BUSY] = 0;
  h.u32[sw + SL_THREAD] = 0;
}

/**
 * Returns the caches and the slot of thread `threadId`, which must have
 * exited, to the heap (see the top of this file); false if it has no slot.
 * Throws HeapCorruptionError if it died inside a change the heap cannot
 * take back (found by validating the image after it held the lock).
 */
export function releaseThreadSlot(h: Allocator, threadId: number): boolean {
  const id = lockHolder(h.i32, HDR_LOCK) - 1;
  if (id >= 0 && id < MAX_SLOTS && h.u32[slotWord(id) + SL_THREAD] === threadId + 1) {
    // It died holding the heap lock: take the lock over, then see what it left.
    Atomics.store(h.i32, HDR_LOCK, lockId(h) << 1 | 1);
    h.adoptLock();
    try {
      // The other threads' caches must hold still while the image is read.
      holdOtherThreads(h);
      try {
        checkHeap(h);
      } catch {
        const dead = slotReady(h.u32, id) ? h.u32[slotWord(id) + SL_CACHE]! : -1;
        repairAfterDeath(h, dead, slotCacheLines(h.u32).filter((lines) => lines !== dead));
        checkHeap(h);
      }
    } catch (e) {
      // The heap cannot be repaired: every thread's next slow path throws (lock.ts), none waits forever.
      Atomics.store(h.i32, HDR_LOCK, BROKEN_ID << 1);
      Atomics.notify(h.i32, HDR_LOCK);
      h.abandonLock();
      throw new HeapCorruptionError("T1", `Heap.releaseThread: thread ${threadId} stopped inside a slow path of the heap and left it inconsistent: ${(e as Error).message}`);
    }
  } else {
    h.lockHeap();
  }
  try {
    let released = false;
    for (let k = 0; k < MAX_SLOTS; k++) {
      if (h.u32[slotWord(k) + SL_THREAD] !== threadId + 1) continue;
      releaseSlot(h, k);
      released = true;
    }
    return released;
  } finally {
    h.unlockHeap();
  }
}

/**
 * Opens a copy of an image (an unshared buffer, or a file): no other thread
 * runs on it, so the lock is free and every slot but the first with this
 * thread's id has its caches returned and is freed. (That slot, from the
 * image's own process or another, is consistent data: this thread goes on
 * with its caches.) With `all`, that slot too unless it is slot 0: an
 * upgraded image's cache blocks have its old version's lines (image.ts).
 */
export function releaseOtherSlots(h: Allocator, all: boolean): void {
  h.u32[HDR_LOCK] = 0;
  h.u32[HDR_SHARED] = 0;
  const own = slotOf(h.u32, h.threadId);
  const kept = all && own !== 0 ? -1 : own;
  for (let k = 0; k < MAX_SLOTS; k++) if (k !== kept && h.u32[slotWord(k) + SL_THREAD] !== 0) releaseSlot(h, k);
  for (let k = 0; k < MAX_SLOTS; k++) h.u32[slotWord(k) + SL_FLAGS] = h.u32[slotWord(k) + SL_FLAGS]! & ~SLF_SHARED;
}
