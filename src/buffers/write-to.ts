// BufferList.writeTo's work: a list's buffers handed to a Node stream as one
// vectored write (cork, a write per non-empty buffer, uncork), and a promise
// that settles however the stream ends. See buffer-list.ts for the list.
// Declared structurally, so that this file imports nothing from Node.
//
// When the promise settles (Node 20 and 24 behave alike in all of this):
//   1. before writing, if the stream is errored, destroyed or ended
//      (`errored`, `destroyed`, `writableEnded`): rejects, writing nothing.
//      Writing would fail anyway, but a write after end() also emits
//      "error" and destroys the stream, which a refused call must not do;
//   2. write() returned true: resolves at once (the data is under the
//      stream's highWaterMark);
//   3. else the first of: "drain", or the last write's callback without an
//      error (resolves: the stream took all of it; when end() is called
//      during the wait there is no "drain", only that callback); the last
//      write's callback with an error, or "error" (rejects with it); "close",
//      or a call of the stream's destroy() that leaves it without an error
//      (rejects with ERR_STREAM_PREMATURE_CLOSE; one that gives it an error
//      is followed by "error", which our listener takes, so that destroying
//      a stream with no "error" listener of its own does not crash now that
//      writeTo has one).
//
// Why destroy() is watched. A stream made with `emitClose: false` emits
// nothing when destroy() is called without an error, and the writes queued
// behind one it is still performing are failed only once that one completes:
// a stream that never completes it leaves every callback and event silent.
// Node's stream.finished() does not settle then either. The call is the only
// sign, so while the promise waits (step 3 only, never on step 2's fast path)
// the stream's `destroy` is an own property that calls the original and then
// settles as step 3 says; settling puts the original back. A stream whose `destroy` cannot
// be replaced (a frozen object) is watched through its events alone.

import { OffheapError, OffheapTypeError } from "../errors.js";
import { describe } from "../common/options.js";

/**
 * The part of a Node.js Writable (a `node:stream` Writable, a `net.Socket`,
 * an `fs.WriteStream`, ...) that {@link BufferList.writeTo} uses. Declared
 * structurally so this file imports nothing from Node; the members marked
 * optional are used when present.
 */
export interface WritableLike {
  /** Queues `chunk`; returns false when the stream's buffer is full (wait for "drain"). */
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Holds writes in memory until uncork(), so that several become one writev. */
  cork?(): void;
  /** Flushes corked writes, as one `_writev` call when the stream has one. */
  uncork?(): void;
  /** Adds a one-time listener ("drain", "error", "close"). */
  once(event: string, listener: (error?: Error) => void): unknown;
  /** Removes a listener added by once(). */
  removeListener(event: string, listener: (error?: Error) => void): unknown;
  /** Destroys the stream; writeTo notices a call of it while it waits. */
  destroy?(error?: Error): unknown;
  /** True once the stream is destroyed: writeTo refuses it. */
  readonly destroyed?: boolean;
  /** The error the stream failed with, or null: writeTo refuses it with that error. */
  readonly errored?: Error | null;
  /** True once end() was called: writeTo refuses it. */
  readonly writableEnded?: boolean;
}

/**
 * Writes `bufs` to `stream` as {@link BufferList.writeTo} documents; the
 * steps are above. O(buffers).
 * @internal
 */
export function writeBuffers(bufs: readonly Uint8Array[], stream: WritableLike): Promise<void> {
  const s = stream as Partial<WritableLike> | null;
  if (typeof s?.write !== "function" || typeof s.once !== "function" || typeof s.removeListener !== "function") {
    return Promise.reject(new OffheapTypeError(`BufferList.writeTo: expected a writable stream (write, once and removeListener), got ${describe(stream)}`));
  }
  const refused = refusal(stream);
  if (refused !== null) return Promise.reject(refused);
  let last = bufs.length - 1;
  while (last >= 0 && bufs[last]!.length === 0) last--;
  if (last < 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let unwatch: (() => void) | null = null;
    const settle = (error: Error | null | undefined): void => {
      if (settled) return;
      settled = true;
      stream.removeListener("drain", onDrain);
      stream.removeListener("error", onError);
      stream.removeListener("close", onClose);
      if (unwatch !== null) unwatch();
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => settle(null);
    const onError = (error?: Error): void => settle(error ?? premature("emitted \"error\" with no error"));
    const onClose = (): void => settle(premature("closed before it accepted the data"));
    const onWritten = (error?: Error | null): void => settle(error);
    let accepted: boolean;
    stream.cork?.();
    try {
      for (let i = 0; i < last; i++) if (bufs[i]!.length > 0) stream.write(bufs[i]!);
      accepted = stream.write(bufs[last]!, onWritten);
    } finally {
      stream.uncork?.();
    }
    if (accepted) {
      settle(null);
    } else if (!settled) {
      stream.once("drain", onDrain);
      stream.once("error", onError);
      stream.once("close", onClose);
      // A stream destroyed with an error emits "error" (on the next tick), which settles;
      // without one it may emit nothing. It may have been destroyed already, by its own _write.
      const onDestroyed = (): void => {
        if (!stream.errored) settle(premature("was destroyed before it accepted the data"));
      };
      if (stream.destroyed === true) onDestroyed();
      else unwatch = watchDestroy(stream, onDestroyed);
    }
  });
}

// Why `stream` takes no writes (step 1 above), or null.
function refusal(stream: WritableLike): Error | null {
  const errored = stream.errored;
  if (errored instanceof Error) return errored;
  if (stream.destroyed === true) return new OffheapError("ERR_STREAM_DESTROYED", "BufferList.writeTo: the stream is destroyed; nothing was written");
  if (stream.writableEnded === true) return new OffheapError("ERR_STREAM_WRITE_AFTER_END", "BufferList.writeTo: the stream has ended (end() was called); nothing was written");
  return null;
}

function premature(what: string): OffheapError {
  return new OffheapError("ERR_STREAM_PREMATURE_CLOSE", `BufferList.writeTo: the stream ${what}`);
}

// Makes `stream.destroy` call `onDestroyed` after the original (see "Why
// destroy() is watched" above); returns the function that puts the original
// back, or null where it cannot be replaced.
function watchDestroy(stream: WritableLike, onDestroyed: () => void): (() => void) | null {
  const original = stream.destroy;
  if (typeof original !== "function") return null;
  const own = Object.prototype.hasOwnProperty.call(stream, "destroy");
  const watcher = function (this: unknown, ...args: unknown[]): unknown {
    try {
      return original.apply(this, args as [Error?]);
    } finally {
      onDestroyed();
    }
  };
  try {
    stream.destroy = watcher;
  } catch {
    return null; // frozen, or an accessor without a setter: events only
  }
  return () => {
    if (stream.destroy !== watcher) return; // replaced again since: that one stays
    if (own) stream.destroy = original;
    else delete stream.destroy;
  };
}
