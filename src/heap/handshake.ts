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
// time does. The listener needs no Heap: it finds its slot by thread id in
// the buffer the message carries (the same shared memory), and holds nothing
// between messages, so it keeps no heap alive. A busy thread answers as
// before, and one that gets the message late finds nothing left to do.
//
// Where BroadcastChannel is missing (some browsers' workers), or before the
// listener is up (it starts in a task after the thread's first shared Heap,
// so that making a Heap does not pay for it), the attaching thread waits as
// it did.

import * as layout from "./layout.js";
const { HDR_MAGIC, HDR_SHARED, HDR_SLOTS, HDR_VERSION, HEADER_BYTES, MAGIC, MAX_SLOTS, SL_FLAGS, SL_THREAD, SLF_READY, SLF_SHARED, SLOT_SHIFT, VERSION } = layout;

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

// A message on the channel: if it is an image this thread has a slot in that
// still waits for its answer, this thread answers for its Heaps there. Anything
// else (another image, a message that is not an image) is left alone.
function answer(data: unknown, threadId: number): void {
  if (!(data instanceof SharedArrayBuffer) || data.byteLength < HEADER_BYTES) return;
  const u32 = new Uint32Array(data, 0, HEADER_BYTES >>> 2);
  if (u32[HDR_MAGIC] !== MAGIC || u32[HDR_VERSION] !== VERSION || Atomics.load(u32, HDR_SHARED) === 0) return;
  for (let k = 0; k < MAX_SLOTS; k++) {
    const sw = HDR_SLOTS + (k << SLOT_SHIFT);
    if (Atomics.load(u32, sw + SL_THREAD) === threadId + 1 && (Atomics.load(u32, sw + SL_FLAGS) & (SLF_READY | SLF_SHARED)) === SLF_READY) {
      Atomics.or(u32, sw + SL_FLAGS, SLF_SHARED);
    }
  }
}
