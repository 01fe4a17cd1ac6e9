// Idle threads answer the shared-mode handshake (slots.ts) at once.
//
// A thread that attaches to a heap other threads use arms a trap in each of
// their slots and waits, up to HANDSHAKE_MS, for each to acknowledge that it
// is not inside a plain fast path (SLF_SHARED). A running thread answers from
// the slow path its trap sends it to. A thread waiting for events (Node's
// main thread that made the heap and handed it to a worker, say) runs no
// code: before this file it was waited for to the end, and every such
// attach took HANDSHAKE_MS (100 ms).
//
// Now each thread that has a Heap on a shared memory listens on a
// BroadcastChannel, and the attaching thread posts the image's buffer there
// after arming the traps. The message reaches an idle thread as a task of
// its event loop, between two of its jobs: it is then inside no alloc or
// free, which is all the acknowledgement says. It sets SLF_SHARED in its
// slot and leaves the traps armed, so each of its Heaps switches to the
// shared paths at its next call, as an idle thread that did not answer in
// time does. It answers under the heap lock, where a slot that has not
// answered while HDR_SHARED is set has its traps armed (the attaching
// thread sets both in one critical section): a message that arrives late,
// from an earlier attach, can then never acknowledge for a slot whose traps
// are not yet armed. It only tries the lock (again 1 ms later while it is
// held, for about as long as the attaching thread waits), so a thread that
// died holding it cannot hang this thread's event loop. The listener needs
// no Heap: it finds its slot by thread id in the buffer the message carries
// (the same shared memory), and holds nothing after that, so it keeps no
// heap alive. A busy thread answers as before, from its slow path.
//
// Where BroadcastChannel is missing (some browsers' workers), or before the
// listener is up (it starts in a task after the thread's first shared Heap,
// so that making a Heap does not pay for it), the attaching thread waits as
// it did.

import * as layout from "./layout.js";
const { HDR_LOCK, HDR_MAGIC, HDR_SHARED, HDR_VERSION, HEADER_BYTES, MAGIC, MAX_SLOTS, SL_FLAGS, SL_THREAD, SLF_READY, SLF_SHARED, slotOf,
  slotWord, VERSION } = layout;
import { tryLockWord, unlockWord } from "./lock.js";

/** How many times, 1 ms apart, an answer tries the heap lock: about the 100 ms an attaching thread waits. */
const LOCK_TRIES = 100;

/** The channel's name: every copy of offheap in the process (of this layout version) listens on it. */
const CHANNEL = `offheap.handshake.v${VERSION}`;

/** This thread's channel: undefined until made, null where the platform has none. */
let channel: BroadcastChannel | null | undefined;
let scheduled = false;

function ensureChannel(threadId: number): BroadcastChannel | null {
  if (channel !== undefined) return channel;
  if (typeof BroadcastChannel !== "function") return (channel = null);
  const ch = new BroadcastChannel(CHANNEL);
  (ch as { unref?: () => void }).unref?.(); // Node: the listener does not keep the process alive
  ch.onmessage = (e: MessageEvent) => answer(e.data, threadId);
  return (channel = ch);
}

/**
 * Starts this thread's listener in a later task, once per thread: called
 * when a Heap of thread `threadId` opens a shared memory.
 */
export function listenForHandshakes(threadId: number): void {
  if (channel !== undefined || scheduled) return;
  scheduled = true;
  const timer = setTimeout(() => ensureChannel(threadId), 0);
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Asks the threads whose slots were just trapped in the image in `buffer`
 * to answer now if they are idle (the caller then waits as before).
 */
export function announceHandshake(buffer: SharedArrayBuffer, threadId: number): void {
  ensureChannel(threadId)?.postMessage(buffer);
}

// A message on the channel: if it is an image this thread has a slot in,
// this thread answers for its Heaps there. Anything else (a message that is
// not an image of this layout version) is left alone.
function answer(data: unknown, threadId: number): void {
  if (!(data instanceof SharedArrayBuffer) || data.byteLength < HEADER_BYTES) return;
  const i32 = new Int32Array(data, 0, HEADER_BYTES >>> 2);
  if (i32[HDR_MAGIC] !== MAGIC || i32[HDR_VERSION] !== VERSION) return;
  tryAnswer(i32, threadId + 1, LOCK_TRIES);
}

// Under the heap lock: acknowledges for the slots of thread id `me` (SL_THREAD's value) that have not answered
// while HDR_SHARED is set (their traps are then armed). Tries the lock `tries` times, 1 ms apart.
function tryAnswer(i32: Int32Array, me: number, tries: number): void {
  let k = slotOf(i32, me - 1);
  if (k < 0) return;
  if (!tryLockWord(i32, HDR_LOCK, k + 1)) {
    if (tries > 1) (setTimeout(() => tryAnswer(i32, me, tries - 1), 1) as { unref?: () => void }).unref?.();
    return;
  }
  try {
    for (; Atomics.load(i32, HDR_SHARED) !== 0 && k < MAX_SLOTS; k++) {
      const sw = slotWord(k);
      if (i32[sw + SL_THREAD] === me && (i32[sw + SL_FLAGS]! & (SLF_READY | SLF_SHARED)) === SLF_READY) Atomics.or(i32, sw + SL_FLAGS, SLF_SHARED);
    }
  } finally {
    unlockWord(i32, HDR_LOCK);
  }
}
