// Locks over a word of shared memory: the heap lock (HDR_LOCK, taken by
// every slow path, slots.ts) and the Mutex users take to guard their own
// structures. See heap.ts for an overview.
//
// A lock word is 0 when free, else (holder + 1) << 1 with bit 0 set while a
// thread may be waiting (Drepper's "mutex2", with the holder recorded so a
// dead holder can be named). Taking it: one compareExchange when it is free
// (about 11 ns here, the cost of any Atomics call in V8, which does not
// inline them), then a short spin, then Atomics.wait on the word. Where
// waiting is not allowed (a browser's main thread) it keeps spinning.
// Releasing: one exchange, and a notify only if bit 0 was set.

import { HeapCorruptionError, OffheapTypeError } from "../errors.js";
import { checkHeap } from "../common/options.js";
import type { Heap } from "./heap.js";

const SPINS = 100;
/** Longest single wait; a waiter then looks at the word again (a holder that died is released by releaseThread). */
const WAIT_MS = 50;

/** True where this thread may block in Atomics.wait (Node's threads, Web Workers; not a browser's main thread). */
export const canWait: boolean = (() => {
  if (typeof SharedArrayBuffer !== "function") return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/**
 * Takes the lock at word `w` of `i32` for holder id `me` (>= 1). Returns
 * when it holds it; throws HeapCorruptionError (T1) if the holder is
 * `brokenId` (the heap lock after a thread left the heap inconsistent).
 */
export function lockWord(i32: Int32Array, w: number, me: number, brokenId = 0): void {
  const mine = me << 1;
  if (Atomics.compareExchange(i32, w, 0, mine) === 0) return;
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(i32, w) === 0 && Atomics.compareExchange(i32, w, 0, mine) === 0) return;
  }
  for (;;) {
    const c = Atomics.load(i32, w);
    if (c === 0) {
      // Taken with the waiting bit: others may still sleep on the word.
      if (Atomics.compareExchange(i32, w, 0, mine | 1) === 0) return;
      continue;
    }
    if (brokenId !== 0 && c >>> 1 === brokenId) {
      throw new HeapCorruptionError("T1", "Heap: a thread stopped inside a slow path of the heap and left it inconsistent (see Heap.releaseThread); the heap cannot be used");
    }
    if (brokenId !== 0 && c >>> 1 > brokenId) {
      // No holder has such an id (a slot's is at most MAX_SLOTS): waiting would never end.
      throw new HeapCorruptionError("T1", `Heap: damaged metadata: the heap lock word holds ${c >>> 0}, the id of no thread's slot`);
    }
    if ((c & 1) === 0 && Atomics.compareExchange(i32, w, c, c | 1) !== c) continue;
    if (canWait) Atomics.wait(i32, w, c | 1, WAIT_MS);
  }
}

/** Takes the lock at word `w` if it is free; returns whether it did. */
export function tryLockWord(i32: Int32Array, w: number, me: number): boolean {
  return Atomics.compareExchange(i32, w, 0, me << 1) === 0;
}

/** Releases the lock at word `w`, waking one waiter if one may wait. */
export function unlockWord(i32: Int32Array, w: number): void {
  if ((Atomics.exchange(i32, w, 0) & 1) !== 0) Atomics.notify(i32, w, 1);
}

/** The holder id of the lock at word `w`, 0 if it is free. */
export function lockHolder(i32: Int32Array, w: number): number {
  return Atomics.load(i32, w) >>> 1;
}

/**
 * A mutual-exclusion lock in a heap block, for the structures threads share
 * in one heap (collections are not safe for concurrent writers: guard them
 * with a Mutex). Make it in one thread and open it by address in the others.
 * Not reentrant: locking it again in the thread that holds it throws.
 * Cost: one Atomics.compareExchange to take a free lock, one exchange to
 * release it; a contended lock spins briefly, then waits (Atomics.wait; a
 * browser's main thread, where waiting is not allowed, spins).
 *
 * @example
 * const m = new Mutex(heap);                  // main thread; pass m.address to workers
 * const m2 = Mutex.open(heap2, address);      // a worker
 * { using _ = m2.lock(); counter[0]++; }       // released at the end of the block
 */
export class Mutex {
  /** Address of the lock's block: what Mutex.open takes. 0 after free(). */
  address: number;
  private readonly heap: Heap;

  /** Allocates a lock, free, in `heap`. Errors as Heap.alloc. */
  constructor(heap: Heap) {
    checkHeap("Mutex", heap);
    const addr = heap.calloc(8);
    this.heap = heap;
    this.address = addr;
  }

  /** The Mutex at `address` (made by `new Mutex` on any Heap over the same memory). Throws InvalidAddressError if no live block is there. */
  static open(heap: Heap, address: number): Mutex {
    checkHeap("Mutex.open", heap);
    if (heap.sizeOf(address) < 8) throw new OffheapTypeError(`Mutex.open: the block at ${address} is too small to hold a Mutex`);
    const m = Object.create(Mutex.prototype) as Mutex;
    (m as unknown as { heap: Heap }).heap = heap;
    m.address = address;
    return m;
  }

  /** Takes the lock, waiting as long as another thread holds it; returns this, disposable (`using _ = m.lock()` releases it). */
  lock(): this {
    const w = this.word();
    const me = this.heap.threadId + 1;
    if (lockHolder(this.heap.i32, w) === me) throw new OffheapTypeError("Mutex.lock: this thread holds the lock already (a Mutex is not reentrant)");
    lockWord(this.heap.i32, w, me);
    return this;
  }

  /** Takes the lock if it is free; returns whether it did. Never waits. */
  tryLock(): boolean {
    return tryLockWord(this.heap.i32, this.word(), this.heap.threadId + 1);
  }

  /** Releases the lock. Throws OffheapTypeError if this thread does not hold it. */
  unlock(): void {
    const w = this.word();
    if (lockHolder(this.heap.i32, w) !== this.heap.threadId + 1) throw new OffheapTypeError("Mutex.unlock: this thread does not hold the lock");
    unlockWord(this.heap.i32, w);
  }

  /** Releases the lock (for `using`). */
  [Symbol.dispose](): void {
    this.unlock();
  }

  /** Frees the lock's block; the Mutex must be free and no thread may use it again. */
  free(): void {
    this.heap.free(this.address);
    this.address = 0;
  }

  private word(): number {
    if (this.address === 0) throw new OffheapTypeError("Mutex: used after free()");
    return this.address >>> 2;
  }
}
