// BufferList: an ordered list of Uint8Array views that stands for one byte
// sequence without copying it (GoMem's Memory). Pushing a buffer stores the
// reference and adds its length to a running total, so `size` and `count`
// are O(1); bytes are copied only when asked for (`toBytes`, `copyTo`).
// BufferReader (buffer-reader.ts) reads across the buffers; writeTo hands
// them to a Node stream as one vectored write.
//
// The list never copies or owns the bytes: a buffer pushed here is shared
// with whoever else holds it. Its length is counted when it is pushed: a
// view whose memory is detached or shrinks later (an unshared
// WebAssembly.Memory that grew, a resizable ArrayBuffer that shrank) breaks
// BL2, which the copies and equals report as HeapCorruptionError. Changing the list while a BufferReader reads it
// (other than through that reader's clipFront) leaves the reader reading the
// buffers as they were when it last looked; build a new reader instead.
//
// Differences from GoMem, on purpose: `updateBuffer` keeps `size` right
// (GoMem overwrites it with the length difference), `equals` compares bytes
// however they are split between buffers (GoMem compares buffer by buffer),
// and every argument is validated before anything changes.

import { HeapCorruptionError, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { checkCallback, checkNumber, describe } from "../common/options.js";
import { copyForward, copyRuns } from "./copy-bytes.js";
import { writeBuffers, type WritableLike } from "./write-to.js";

// Invariants (checked by BufferList.check):
//   BL1  every element of bufs is a Uint8Array
//   BL2  sizeBytes == sum of bufs[i].length

/**
 * An ordered list of `Uint8Array` views treated as one byte sequence, with
 * no copies on push (GoMem's `Memory`).
 *
 * Costs: `push`/`pushOne` O(1) per buffer, `count`/`size` O(1),
 * `toBytes`/`copyTo`/`equals` O(bytes), `append` O(buffers of the other list).
 *
 * @example
 * const list = new BufferList([header, payload]);
 * list.size;            // header.length + payload.length
 * await list.writeTo(socket); // one writev
 */
export class BufferList implements Iterable<Uint8Array> {
  private bufs: Uint8Array[] = [];
  private sizeBytes = 0;

  /**
   * A list holding `buffers` (references, not copies), in order, or the one
   * buffer given. Throws OffheapTypeError, and builds nothing, if one is not
   * a Uint8Array or `buffers` is not iterable.
   * @example new BufferList(chunk); new BufferList([header, body]);
   */
  constructor(buffers?: Iterable<Uint8Array> | Uint8Array) {
    if (buffers instanceof Uint8Array) {
      this.bufs = [buffers]; // sized to fit; pushOne on [] would reserve 17 slots
      this.sizeBytes = buffers.length;
    } else if (buffers !== undefined) {
      if (typeof (buffers as Partial<Iterable<Uint8Array>> | null)?.[Symbol.iterator] !== "function") {
        throw new OffheapTypeError(`BufferList: expected an iterable of Uint8Arrays or a Uint8Array, got ${describe(buffers)}`);
      }
      this.pushAll(Array.from(buffers), "BufferList: buffer"); // not push(...buffers): a spread of 200,000 overflowed V8's stack
    }
  }

  /** Number of buffers (empty ones included). O(1). */
  get count(): number {
    return this.bufs.length;
  }

  /** Total bytes in all buffers. O(1). */
  get size(): number {
    return this.sizeBytes;
  }

  /**
   * The buffers, in order: the list's own array, read-only. It changes as the
   * list changes; copy it (`[...list.buffers]`) to keep a snapshot.
   */
  get buffers(): readonly Uint8Array[] {
    return this.bufs;
  }

  /**
   * The buffer at `index` (negative counts from the end, as Array#at);
   * undefined outside the list. O(1). Throws OffheapTypeError for an index
   * that is not a number and OffheapRangeError for one that is not an
   * integer, where Array#at would have read buffer 0 for "x" or 0.5.
   * @example list.at(-1) // the last buffer
   */
  at(index: number): Uint8Array | undefined {
    if (!Number.isInteger(index)) {
      checkNumber("BufferList.at", "index", index);
      throw new OffheapRangeError(`BufferList.at: index ${index} is not an integer`);
    }
    return this.bufs.at(index);
  }

  /**
   * Appends one buffer (a reference, not a copy). O(1).
   * Throws OffheapTypeError if `buf` is not a Uint8Array; the list is unchanged.
   * @example list.pushOne(chunk);
   */
  pushOne(buf: Uint8Array): this {
    if (!(buf instanceof Uint8Array)) throw notBytes("BufferList.pushOne", buf);
    this.bufs.push(buf);
    this.sizeBytes += buf.length;
    return this;
  }

  /**
   * Appends buffers in order (references, not copies). O(buffers).
   * Throws OffheapTypeError if one is not a Uint8Array; then none is added.
   * @example list.push(header, body);
   */
  push(...bufs: Uint8Array[]): this {
    return this.pushAll(bufs, "BufferList.push: argument");
  }

  // push(), and the constructor's buffers (`what` names one in errors).
  private pushAll(bufs: readonly unknown[], what: string): this {
    let addBytes = 0;
    for (let i = 0; i < bufs.length; i++) {
      const buf = bufs[i];
      if (!(buf instanceof Uint8Array)) throw notBytes(`${what} ${i}`, buf);
      addBytes += buf.length;
    }
    const own = this.bufs;
    for (let i = 0; i < bufs.length; i++) own.push(bufs[i] as Uint8Array);
    this.sizeBytes += addBytes;
    return this;
  }

  /**
   * Appends the buffers of `other` (references, not copies); `other` is not
   * changed. O(buffers of other). `list.append(list)` doubles the list.
   * Throws OffheapTypeError if `other` is not a BufferList.
   */
  append(other: BufferList): this {
    if (!(other instanceof BufferList)) throw new OffheapTypeError(`BufferList.append: expected a BufferList, got ${describe(other)}`);
    const own = this.bufs;
    const theirs = other.bufs;
    const n = theirs.length; // read once: other may be this list
    for (let i = 0; i < n; i++) own.push(theirs[i]!);
    this.sizeBytes += other.sizeBytes;
    return this;
  }

  /**
   * Replaces the buffer at `index` (negative counts from the end) and keeps
   * `size` right. O(1). Throws OffheapRangeError for an index that is not an
   * integer inside the list, OffheapTypeError for an index that is not a
   * number or a `buf` that is not a Uint8Array; either way the list is
   * unchanged.
   * @example list.updateBuffer(-1, last.subarray(0, 10)); // trim the last buffer
   */
  updateBuffer(index: number, buf: Uint8Array): this {
    const bufs = this.bufs;
    const n = bufs.length;
    checkNumber("BufferList.updateBuffer", "index", index);
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw new OffheapRangeError(`BufferList.updateBuffer: index ${String(index)} is not an integer in [${-n}, ${n}) for a list of ${n} buffers`);
    }
    if (!(buf instanceof Uint8Array)) throw notBytes("BufferList.updateBuffer", buf);
    const i = index < 0 ? n + index : index;
    this.sizeBytes += buf.length - bufs[i]!.length;
    bufs[i] = buf;
    return this;
  }

  /**
   * Removes the first `nBytes` bytes: every buffer lying entirely inside them
   * is removed (empty buffers at that point included), and a buffer they end
   * inside is replaced by a view of its remaining bytes (no copy). Calls
   * `onDropped` with each removed buffer, e.g. to recycle it. O(buffers).
   * Throws OffheapRangeError, changing nothing, unless 0 <= nBytes <= size.
   * @example list.dropFront(reader.offset);
   */
  dropFront(nBytes: number, onDropped?: (buf: Uint8Array) => void): this {
    checkNumber("BufferList.dropFront", "nBytes", nBytes);
    checkCallback("BufferList.dropFront", "onDropped", onDropped, true);
    if (!Number.isSafeInteger(nBytes) || nBytes < 0 || nBytes > this.sizeBytes) {
      throw new OffheapRangeError(`BufferList.dropFront: ${String(nBytes)} bytes is not an integer in [0, ${this.sizeBytes}] (the list's size)`);
    }
    const bufs = this.bufs;
    let left = nBytes;
    let nDropped = 0;
    while (nDropped < bufs.length && bufs[nDropped]!.length <= left) left -= bufs[nDropped++]!.length;
    const dropped = bufs.splice(0, nDropped);
    if (left > 0) {
      const head = bufs[0]!;
      bufs[0] = new Uint8Array(head.buffer, head.byteOffset + left, head.length - left);
    }
    this.sizeBytes -= nBytes;
    if (onDropped !== undefined) for (const buf of dropped) onDropped(buf);
    return this;
  }

  /** Empties the list (the buffers themselves are not touched). O(1). */
  reset(): this {
    this.bufs = [];
    this.sizeBytes = 0;
    return this;
  }

  /**
   * Copies all bytes into one new Uint8Array of length `size`. O(bytes).
   * Throws HeapCorruptionError (BL2) if a buffer was detached or shrunk
   * after it was pushed, so that the list no longer holds `size` bytes.
   * @example const bytes = list.toBytes();
   */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.sizeBytes);
    if (!copyForward(this.bufs, 0, 0, this.sizeBytes, out)) throw this.shrunk("BufferList.toBytes");
    return out;
  }

  /**
   * Copies all bytes to the start of `target`; returns the number copied
   * (`size`). O(bytes). Throws OffheapRangeError, writing nothing, if
   * `target` is shorter than `size`; OffheapTypeError if it is not a
   * Uint8Array; HeapCorruptionError (BL2), writing nothing, as toBytes.
   *
   * `target` may share memory with the list's buffers (a view of the same
   * ArrayBuffer, heap or SharedArrayBuffer): the result is memmove's, the
   * target holds the bytes the list held before the call. Copies are ordered
   * so that none overwrites bytes still to be copied; only buffers that
   * trade places (each one's bytes where the other goes) are set aside, one
   * copy of those buffers' bytes.
   * @example const n = list.copyTo(scratch);
   * @example list.copyTo(heap.u8.subarray(dst)); // moves the bytes within the heap
   */
  copyTo(target: Uint8Array): number {
    if (!(target instanceof Uint8Array)) throw notBytes("BufferList.copyTo", target);
    if (target.length < this.sizeBytes) {
      throw new OffheapRangeError(`BufferList.copyTo: target of ${target.length} bytes is shorter than the list's ${this.sizeBytes} bytes`);
    }
    if (!copyRuns(this.bufs, 0, 0, this.sizeBytes, target)) throw this.shrunk("BufferList.copyTo");
    return this.sizeBytes;
  }

  /** Iterates over the buffers in order (for...of). */
  [Symbol.iterator](): IterableIterator<Uint8Array> {
    return this.bufs.values();
  }

  /**
   * Calls `callback(buf, index)` for each buffer in order. Allocates nothing.
   * @example list.range((buf) => hash.update(buf));
   */
  range(callback: (buf: Uint8Array, index: number) => void): void {
    checkCallback("BufferList.range", "callback", callback);
    const bufs = this.bufs;
    for (let i = 0; i < bufs.length; i++) callback(bufs[i]!, i);
  }

  /**
   * Whether `other` holds the same bytes, however they are split between
   * buffers. O(bytes); allocates nothing. Throws HeapCorruptionError (BL2)
   * as toBytes where it runs out of bytes.
   * @example new BufferList([a, b]).equals(concatenated) // true
   */
  equals(other: BufferList | Uint8Array): boolean {
    let theirs: readonly Uint8Array[];
    if (other instanceof BufferList) {
      if (other === this) return true;
      theirs = other.bufs;
    } else if (other instanceof Uint8Array) {
      theirs = [other];
    } else {
      throw new OffheapTypeError(`BufferList.equals: expected a BufferList or a Uint8Array, got ${describe(other)}`);
    }
    const otherSize = other instanceof BufferList ? other.sizeBytes : other.length;
    if (otherSize !== this.sizeBytes) return false;
    const mine = this.bufs;
    let i = 0, iPos = 0, j = 0, jPos = 0;
    let left = this.sizeBytes;
    while (left > 0) {
      let a = mine[i];
      while (a !== undefined && iPos >= a.length) { a = mine[++i]; iPos = 0; }
      let b = theirs[j];
      while (b !== undefined && jPos >= b.length) { b = theirs[++j]; jPos = 0; }
      if (a === undefined) throw this.shrunk("BufferList.equals");
      if (b === undefined) throw (other as BufferList).shrunk("BufferList.equals (of the other list)");
      const n = Math.min(a.length - iPos, b.length - jPos);
      for (let k = 0; k < n; k++) if (a[iPos + k] !== b[jPos + k]) return false;
      iPos += n;
      jPos += n;
      left -= n;
    }
    return true;
  }

  /**
   * Writes all buffers to a Node stream as one vectored write: `cork()`, one
   * `write()` per non-empty buffer, `uncork()` — which a Writable with
   * `_writev` (sockets, most file streams) turns into a single writev call.
   *
   * Resolves once the stream has accepted the data: at once if the last
   * write() returned true, else on the next "drain" or when the last write
   * completes (as after an end() during the wait). It does not wait for the
   * bytes to reach the underlying resource; a later failure is the stream's
   * "error" event, as for write().
   *
   * It settles however the stream ends. It rejects, writing nothing, if the
   * stream is already errored (with that error), destroyed (an OffheapError
   * coded `ERR_STREAM_DESTROYED`) or ended (`ERR_STREAM_WRITE_AFTER_END`).
   * While it waits, it rejects with the stream's error if a write reports
   * one or "error" is emitted, and with an OffheapError coded
   * `ERR_STREAM_PREMATURE_CLOSE` if the stream closes first. A stream made
   * with `emitClose: false` and destroyed without an error while its write
   * hangs emits nothing: the promise waits, as Node's stream.finished does
   * (write-to.ts). An empty list resolves without writing. Rejects with
   * OffheapTypeError for something that is no writable stream.
   *
   * The buffers are handed to the stream, not copied: do not change their
   * bytes until the stream has written them.
   * @example await frame.writeTo(socket);
   */
  writeTo(stream: WritableLike): Promise<void> {
    return writeBuffers(this.bufs, stream);
  }

  // The error for a list whose buffers hold fewer bytes than its size (BL2):
  // one was detached or shrunk after it was pushed.
  private shrunk(api: string): HeapCorruptionError {
    let held = 0;
    for (const buf of this.bufs) held += buf.length;
    return new HeapCorruptionError("BL2", `${api}: the buffers hold ${held} bytes, not the list's ${this.sizeBytes}: one was detached or shrunk after it was pushed (a view of memory that grew unshared, or of a resizable ArrayBuffer that shrank)`);
  }

  /**
   * Validates the list's invariants (BL1, BL2 above); throws
   * HeapCorruptionError naming the broken one. O(buffers). For tests.
   */
  check(): void {
    let total = 0;
    const bufs = this.bufs;
    for (let i = 0; i < bufs.length; i++) {
      const buf = bufs[i];
      if (!(buf instanceof Uint8Array)) throw new HeapCorruptionError("BL1", `BufferList: element ${i} is ${describe(buf)}, not a Uint8Array`);
      total += buf.length;
    }
    if (total !== this.sizeBytes) throw new HeapCorruptionError("BL2", `BufferList: size is ${this.sizeBytes} but the buffers hold ${total} bytes`);
  }
}

function notBytes(api: string, value: unknown): OffheapTypeError {
  return new OffheapTypeError(`${api}: expected a Uint8Array, got ${describe(value)}`);
}
