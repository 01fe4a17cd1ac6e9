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
//      write's callback with an error, or "error" (rejects with it); "close"
//      (rejects with ERR_STREAM_PREMATURE_CLOSE). A stream destroyed with an
//      error emits "error", which our listener takes, so that destroying a
//      stream with no "error" listener of its own does not crash now that
//      writeTo has one.
//
// Not settled: a stream made with `emitClose: false` (or whose _destroy
// never calls back), destroyed without an error while a write it is still
// performing never completes. Nothing is emitted and no callback runs;
// Node's own stream.finished() does not settle then either. Wrapping the
// stream's destroy() to notice the call would settle it, but it puts an own
// property on the program's stream (a socket) and deletes it again, which
// turns the object into a slow dictionary-mode one in V8: not done.

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
    const settle = (error: Error | null | undefined): void => {
      if (settled) return;
      settled = true;
      stream.removeListener("drain", onDrain);
      stream.removeListener("error", onError);
      stream.removeListener("close", onClose);
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
      // Destroyed already, by its own _write: with an error, "error" follows (on the next tick).
      if (stream.destroyed === true && !stream.errored) settle(premature("was destroyed before it accepted the data"));
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
