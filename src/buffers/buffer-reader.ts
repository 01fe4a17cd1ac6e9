// BufferReader: reads numbers and bytes across the buffers of a BufferList
// (or an array of Uint8Arrays) as if they were one contiguous buffer, without
// concatenating them (GoMem's ReadableBuffers, with its bugs fixed).
//
// The position is three numbers: the index of the current buffer, the
// absolute offset where that buffer starts, and the offset inside it. Every
// read has a fast path for the common case, the bytes lying in the current
// buffer: one comparison, the loads, one store, and a test of the last byte
// that costs nothing measurable (see "Lost bytes"). Crossing into the next
// buffer, running out of data, lost bytes and bad arguments are slow paths
// in separate methods. A position at the very end of a buffer is valid (the
// next read moves on), so skip/unread never have to look for the next
// non-empty buffer.
//
// Failure rule: a read that would run past the end throws EndOfDataError and
// leaves the position where it was, including a LEB128 number that runs off
// the end after some bytes. A parser can therefore try to read a header,
// catch EndOfDataError, wait for more bytes and try again (frame-splitter.ts
// does). Bad arguments throw OffheapRangeError / OffheapTypeError, also
// without moving, as do lost bytes.
//
// Lost bytes: a buffer detached (transferred, or a view of an unshared
// WebAssembly.Memory that grew) or shrunk (a resizable ArrayBuffer resized
// smaller) after the reader counted it breaks RD4. Every read that would
// take a byte it lost throws HeapCorruptionError (RD4) and moves nothing;
// none returns zeros, NaN or undefined. A lost byte loads as undefined, and
// a buffer loses bytes from its end only (a detached one all of them), so a
// fast path tests the last byte it takes: if that one is there, so are the
// bytes before it. readByte and the LEB128 reads test their byte anyway;
// the slow paths test every byte or compare lengths. The reader knows only
// the total it counted and the current buffer's length as it was when the
// reader moved into it: a buffer further on that lost bytes reads as it is
// then (a detached one as empty) until the buffers run out before the
// counted total, which throws. unread() back over buffers that lost bytes
// throws when it runs past the start or reaches the first buffer anywhere
// but at 0; one that ends inside an earlier buffer that shrank lands on a
// byte it still holds, at an offset the reader cannot check (it keeps no
// lengths but the current buffer's).
//
// Fixed GoMem bugs: Skip assumed every buffer had the current buffer's length
// (wrong across uneven buffers); Unread walked into empty buffers' negative
// offsets and never checked the start; ReadBE/ReadBytes/LEB128 consumed bytes
// before failing at the end; LEB128 had no overflow check.
//
// Files: buffer-reader-fixed.ts holds the position (the fields, with their
// invariants RD1-RD5) and the fixed-width reads (integers, BigInts, floats)
// with their slow path, as FixedWidthReader, the base class of BufferReader;
// this file the rest: the source, readByte, LEB128, byte ranges, skip,
// unread, range and clipFront; buffer-reader-check.ts the validator;
// leb128.ts the LEB128 decoding.

import { OffheapRangeError, OffheapTypeError } from "../errors.js";
import { checkCallback, checkNumber, describe } from "../common/options.js";
import { BufferList } from "./buffer-list.js";
import { copyForward, copyRuns } from "./copy-bytes.js";
import { checkReader } from "./buffer-reader-check.js";
import { EMPTY, FixedWidthReader } from "./buffer-reader-fixed.js";
import { decodeBigLEB128, decodeLEB128, gatherLEB128, LEB128_LOST, leb128Length, MAX_LEB128_BYTES } from "./leb128.js";

/** What a BufferReader reads: a BufferList, one Uint8Array, or an array of them (in order). */
export type ReaderSource = BufferList | Uint8Array | readonly Uint8Array[];

/**
 * A reader over many buffers as one byte sequence: integers of every width
 * and endianness, floats, LEB128, byte copies and zero-copy views, with skip
 * and unread.
 *
 * A read past the end throws EndOfDataError and leaves the position
 * unchanged; so does a read of bytes that a buffer lost after the reader
 * counted them (detached or shrunk), with HeapCorruptionError (RD4). Reads
 * allocate nothing beyond what they return.
 *
 * The reader holds the source's buffers, not copies; changing a BufferList
 * while a reader reads it (other than by {@link BufferReader.clipFront})
 * leaves the reader seeing the list as it was, or worse after
 * `updateBuffer`: make a new reader instead (it costs about one object).
 *
 * @example
 * const r = new BufferReader(list);
 * const type = r.readByte();
 * const length = r.readUint32BE();
 * const payload = r.readView(length); // zero-copy if inside one buffer
 */
export class BufferReader extends FixedWidthReader {
  // The source when it is a BufferList (or the list clipFront made of an
  // array), for clipFront. The position is the base class's (RD1-RD5).
  private list: BufferList | null = null;

  /**
   * A reader at offset 0 of `source`. O(1) for a BufferList or a Uint8Array,
   * O(buffers) for an array (it sums their lengths). Throws OffheapTypeError
   * for anything else, or an array holding something that is not a Uint8Array.
   */
  constructor(source: ReaderSource) {
    super();
    if (source instanceof BufferList) {
      this.list = source;
      this.bufs = source.buffers;
      this.sizeBytes = source.size;
    } else if (source instanceof Uint8Array) {
      this.bufs = [source];
      this.sizeBytes = source.length;
    } else {
      if (!Array.isArray(source)) {
        throw new OffheapTypeError(`BufferReader: expected a BufferList, a Uint8Array or an array of them, got ${describe(source)}`);
      }
      let sizeBytes = 0;
      for (let i = 0; i < source.length; i++) {
        const buf: unknown = source[i];
        if (!(buf instanceof Uint8Array)) throw new OffheapTypeError(`BufferReader: element ${i} of the array is ${describe(buf)}, not a Uint8Array`);
        sizeBytes += buf.length;
      }
      this.bufs = source;
      this.sizeBytes = sizeBytes;
    }
    const cur = this.bufs[0] ?? EMPTY;
    this.cur = cur;
    this.curLength = cur.length;
  }
  // ---- single bytes and integers ------------------------------------------

  /**
   * The next byte (0 … 255). About 1.3 ns inside a buffer.
   * Throws EndOfDataError at the end (position unchanged).
   */
  readByte(): number {
    // The fast paths of readByte and readLEB128 store the new position first
    // and undo it if the byte is missing (a load past the end of the current
    // buffer gives undefined): the next call's load of pos waits less on the
    // store, and there is no separate bounds test. Measured 1.3 ns per call,
    // against 1.45 (readByte) and 1.6 (readLEB128) ns for test-then-store.
    const pos = this.pos;
    this.pos = pos + 1;
    const b = this.cur[pos];
    if (b !== undefined) return b;
    this.pos = pos;
    return this.readByteSlow();
  }

  // In the next buffer, past the end, or lost (RD4): take() says which.
  private readByteSlow(): number {
    return this.take("readByte", 1)[0]!;
  }

  // ---- LEB128 --------------------------------------------------------------

  /**
   * An unsigned LEB128 number of at most 8 bytes, up to 2^53 - 1. Throws
   * EndOfDataError if the number runs off the end, OffheapRangeError if it is
   * longer than 8 bytes or above 2^53 - 1 (use readBigLEB128); the position is
   * unchanged either way. One byte: about 1.3 ns.
   * @example r.readLEB128() // [0xe5, 0x8e, 0x26] -> 624485
   */
  readLEB128(): number {
    const pos = this.pos;
    this.pos = pos + 1; // as in readByte; undefined < 0x80 is false
    const b = this.cur[pos]!;
    if (b < 0x80) return b;
    this.pos = pos;
    return this.readVarint("readLEB128", false, MAX_LEB128_BYTES, decodeLEB128);
  }

  /**
   * A signed (two's complement) LEB128 number of at most 8 bytes, in
   * [-(2^53 - 1), 2^53 - 1]. Throws as {@link BufferReader.readLEB128}.
   * @example r.readSignedLEB128() // [0xc0, 0xbb, 0x78] -> -123456
   */
  readSignedLEB128(): number {
    const pos = this.pos;
    this.pos = pos + 1; // as in readByte; undefined < 0x80 is false
    const b = this.cur[pos]!;
    if (b < 0x80) return b < 0x40 ? b : b - 0x80;
    this.pos = pos;
    return this.readVarint("readSignedLEB128", true, MAX_LEB128_BYTES, decodeLEB128);
  }

  /**
   * An unsigned LEB128 number of any length, as a BigInt. Throws
   * EndOfDataError (position unchanged) if it runs off the end.
   * @example r.readBigLEB128() // [0x80 x 9, 0x02] -> 2n ** 64n
   */
  readBigLEB128(): bigint {
    return this.readVarint("readBigLEB128", false, Infinity, decodeBigLEB128);
  }

  /** A signed (two's complement) LEB128 number of any length, as a BigInt. Throws as {@link BufferReader.readBigLEB128}. */
  readBigSignedLEB128(): bigint {
    return this.readVarint("readBigSignedLEB128", true, Infinity, decodeBigLEB128);
  }

  // A LEB128 number of at most maxBytes, measured first (leb128.ts), then
  // decoded by `decode` where it lies: one that runs off the end, or is too
  // long or too large (decode gives NaN), moves nothing.
  private readVarint<T extends number | bigint>(api: string, signed: boolean, maxBytes: number, decode: (bytes: Uint8Array, at: number, nBytes: number, signed: boolean) => T): T {
    const pos = this.pos, left = this.remaining;
    const nBytes = leb128Length(this.bufs, this.bufIndex, pos, this.curLength, left, maxBytes);
    if (nBytes === 0) throw this.end(api, left + 1, `the LEB128 number runs off the end after ${left} bytes`);
    if (nBytes === LEB128_LOST) throw this.shrunk(api);
    const big = signed ? "readBigSignedLEB128" : "readBigLEB128";
    if (nBytes < 0) throw new OffheapRangeError(`BufferReader.${api}: the LEB128 number at offset ${this.offset} is longer than ${maxBytes} bytes (over 53 bits); read it with ${big}`);
    const inside = pos + nBytes <= this.curLength;
    const value = inside ? decode(this.cur, pos, nBytes, signed) : decode(gatherLEB128(this.bufs, this.bufIndex, pos, this.curLength, nBytes), 0, nBytes, signed);
    if (value !== value) throw new OffheapRangeError(`BufferReader.${api}: the LEB128 number at offset ${this.offset} is beyond ±(2^53 - 1); read it with ${big}`);
    if (inside) this.pos = pos + nBytes;
    else this.advance(api, nBytes);
    return value;
  }

  // ---- byte ranges -----------------------------------------------------------

  /**
   * Copies min(target.length, remaining) bytes into the start of `target`
   * and returns that count, 0 at the end (as Go's io.Reader; it never throws
   * EndOfDataError). Throws OffheapTypeError if `target` is not a Uint8Array.
   * `target` may share memory with the source: the result is memmove's.
   * @example while ((n = r.read(chunk)) > 0) sink(chunk.subarray(0, n));
   */
  read(target: Uint8Array): number {
    if (!(target instanceof Uint8Array)) throw new OffheapTypeError(`BufferReader.read: expected a Uint8Array, got ${describe(target)}`);
    const nBytes = Math.min(target.length, this.remaining);
    if (this.lostHere(nBytes) || !copyRuns(this.bufs, this.bufIndex, this.pos, nBytes, target)) throw this.shrunk("read");
    this.advance("read", nBytes);
    return nBytes;
  }

  /**
   * A copy of the next `nBytes` bytes in a new Uint8Array. Throws
   * OffheapRangeError for a count that is not a non-negative safe integer,
   * EndOfDataError if fewer remain; the position is unchanged either way.
   */
  readBytes(nBytes: number): Uint8Array {
    this.need("readBytes", nBytes);
    const pos = this.pos;
    // Inside one buffer, the builtin slice allocates and copies in one step
    // (about half the cost of new + set), but on a plain Uint8Array only: on a
    // subclass (a Node Buffer) it would call the species constructor.
    // The last byte's test, as in the fast paths of buffer-reader-fixed.ts;
    // for nBytes = 0 at pos 0, cur[-1] sends an empty read to copyOut.
    if (pos + nBytes <= this.curLength && this.cur[pos + nBytes - 1] !== undefined) {
      let plain = this.plain;
      if (plain === null) {
        const cur = this.cur;
        plain = this.plain = cur.constructor === Uint8Array ? cur : new Uint8Array(cur.buffer, cur.byteOffset, cur.length);
      }
      this.pos = pos + nBytes;
      return plain.slice(pos, pos + nBytes);
    }
    return this.copyOut("readBytes", nBytes);
  }

  /**
   * The next `nBytes` bytes: a zero-copy view when they lie inside one buffer
   * (it shares memory with the source), else a copy. Throws as
   * {@link BufferReader.readBytes}.
   * @example const payload = r.readView(length);
   */
  readView(nBytes: number): Uint8Array {
    this.need("readView", nBytes);
    let pos = this.pos;
    if (pos === this.curLength && nBytes > 0) {
      if (!this.nextBuffer()) throw this.shrunk("readView");
      pos = 0;
    }
    const cur = this.cur;
    if (pos + nBytes <= this.curLength && cur[pos + nBytes - 1] !== undefined) { // as readBytes
      this.pos = pos + nBytes;
      return pos === 0 && nBytes === cur.length ? cur : new Uint8Array(cur.buffer, cur.byteOffset + pos, nBytes);
    }
    return this.copyOut("readView", nBytes);
  }

  /**
   * Moves forward `nBytes` bytes, across any buffers. O(buffers crossed).
   * Throws as {@link BufferReader.readBytes} (position unchanged).
   */
  skip(nBytes: number): void {
    this.need("skip", nBytes);
    this.advance("skip", nBytes);
  }

  // Moves forward nBytes (<= remaining). Throws HeapCorruptionError (RD4),
  // not moving, if the buffers run out first (one lost bytes).
  private advance(api: string, nBytes: number): void {
    const pos = this.pos;
    if (pos + nBytes <= this.curLength) {
      this.pos = pos + nBytes;
      return;
    }
    const bufs = this.bufs;
    let left = nBytes - (this.curLength - pos);
    let i = this.bufIndex, start = this.bufStart + this.curLength;
    let cur: Uint8Array | undefined;
    for (;;) {
      cur = bufs[++i];
      if (cur === undefined) throw this.shrunk(api);
      if (left <= cur.length) break;
      start += cur.length;
      left -= cur.length;
    }
    this.enter(i, start, cur, left);
  }

  /**
   * Moves back `nBytes` bytes, across any buffers (empty ones included).
   * O(buffers crossed). Throws OffheapRangeError, not moving, unless
   * 0 <= nBytes <= offset.
   * @example const tag = r.readByte(); if (tag !== 1) r.unread(1);
   */
  unread(nBytes: number): void {
    const pos = this.pos;
    if (!(Number.isSafeInteger(nBytes) && nBytes >= 0 && nBytes <= this.bufStart + pos)) {
      checkNumber("BufferReader.unread", "nBytes", nBytes);
      throw new OffheapRangeError(`BufferReader.unread: ${String(nBytes)} is not a byte count in [0, ${this.bufStart + pos}] (the bytes consumed)`);
    }
    if (nBytes <= pos) {
      this.pos = pos - nBytes;
      return;
    }
    const bufs = this.bufs;
    let left = nBytes - pos;
    let i = this.bufIndex, start = this.bufStart;
    let cur: Uint8Array;
    for (;;) {
      // Buffers before this one that lost bytes (RD4) may hold fewer than were consumed.
      if (i === 0) throw this.shrunk("unread");
      cur = bufs[--i]!;
      start -= cur.length;
      if (left <= cur.length) break;
      left -= cur.length;
    }
    if (i === 0 && start !== 0) throw this.shrunk("unread"); // the first buffer starts at 0 (RD3)
    this.enter(i, start, cur, cur.length - left);
  }

  /**
   * Calls `callback` with each remaining piece of data, in order, as a
   * zero-copy view (a whole buffer is passed as is), consuming it: each piece
   * counts as read when the callback gets it. Empty buffers are skipped. The
   * callback must not read from this reader.
   * @example r.range((view) => socket.write(view));
   */
  range(callback: (view: Uint8Array) => void): void {
    checkCallback("BufferReader.range", "callback", callback);
    while (this.remaining > 0) {
      if (this.pos === this.curLength && !this.nextBuffer()) throw this.shrunk("range");
      const cur = this.cur, pos = this.pos, end = this.curLength;
      if (cur[end - 1] === undefined) throw this.shrunk("range");
      this.pos = end;
      callback(pos === 0 ? cur : new Uint8Array(cur.buffer, cur.byteOffset + pos, end - pos));
    }
  }

  /**
   * As {@link BufferReader.range}, for the next `nBytes` bytes only. Throws as
   * {@link BufferReader.readBytes} before calling the callback at all.
   * @example r.rangeN(length, (view) => hash.update(view));
   */
  rangeN(nBytes: number, callback: (view: Uint8Array) => void): void {
    this.need("rangeN", nBytes);
    checkCallback("BufferReader.rangeN", "callback", callback);
    let left = nBytes;
    while (left > 0) {
      if (this.pos === this.curLength && !this.nextBuffer()) throw this.shrunk("rangeN");
      const cur = this.cur, pos = this.pos;
      const take = Math.min(this.curLength - pos, left);
      if (cur[pos + take - 1] === undefined) throw this.shrunk("rangeN");
      this.pos = pos + take;
      left -= take;
      callback(pos === 0 && take === cur.length ? cur : new Uint8Array(cur.buffer, cur.byteOffset + pos, take));
    }
  }

  /**
   * Drops the consumed bytes from the source: buffers read to their end are
   * removed, and the buffer the reader is inside is replaced by a zero-copy
   * view of its unread bytes. Afterwards `offset` is 0 (unread() cannot go
   * back past this point) and the source holds exactly the unread bytes.
   * Returns the number of bytes dropped. O(buffers).
   *
   * With a BufferList source, the list itself changes (`list.dropFront`), and
   * the reader then covers the list's current contents, including buffers
   * pushed to it after the reader was made. With an array source, the
   * caller's array is left alone: the reader trims a private copy.
   * `onDropped` gets each removed buffer, e.g. to recycle it.
   * @example list.push(nextChunk); r.clipFront(); r.readUint32BE();
   */
  clipFront(onDropped?: (buf: Uint8Array) => void): number {
    checkCallback("BufferReader.clipFront", "onDropped", onDropped, true);
    const nBytes = this.offset;
    let list = this.list;
    if (list === null) list = this.list = new BufferList(this.bufs);
    list.dropFront(nBytes, onDropped);
    this.bufs = list.buffers;
    this.sizeBytes = list.size;
    this.enter(0, 0, this.bufs[0] ?? EMPTY, 0);
    return nBytes;
  }

  // ---- internals ---------------------------------------------------------------

  // Moves to the next non-empty buffer; false, not moving, if there is none
  // (a buffer lost bytes, RD4). Precondition: pos == curLength and
  // remaining > 0.
  private nextBuffer(): boolean {
    const bufs = this.bufs;
    let i = this.bufIndex;
    let cur: Uint8Array | undefined;
    do {
      cur = bufs[++i];
      if (cur === undefined) return false;
    } while (cur.length === 0);
    this.enter(i, this.bufStart + this.curLength, cur, 0);
    return true;
  }

  // The next nBytes (<= remaining), consumed, in a new Uint8Array. Throws
  // HeapCorruptionError (RD4), not moving, if a buffer lost some of them.
  private copyOut(api: string, nBytes: number): Uint8Array {
    const out = new Uint8Array(nBytes);
    if (this.lostHere(nBytes) || !copyForward(this.bufs, this.bufIndex, this.pos, nBytes, out)) throw this.shrunk(api);
    this.advance(api, nBytes);
    return out;
  }

  // Whether the current buffer lost bytes that a read of nBytes from pos
  // takes from it: the copies measure the buffers by their own lengths, this
  // one's must still be the counted one up to there.
  private lostHere(nBytes: number): boolean {
    const pos = this.pos, end = Math.min(this.curLength, pos + nBytes);
    return pos < end && this.cur.length < end;
  }

  // Validates a byte count for api and checks that it is available.
  private need(api: string, nBytes: number): void {
    if (!(Number.isSafeInteger(nBytes) && nBytes >= 0)) {
      checkNumber(`BufferReader.${api}`, "nBytes", nBytes);
      throw new OffheapRangeError(`BufferReader.${api}: ${String(nBytes)} is not a byte count (a non-negative safe integer)`);
    }
    if (nBytes > this.remaining) throw this.end(api, nBytes);
  }

  /**
   * Validates the reader's invariants (RD1-RD5, listed in buffer-reader-fixed.ts); throws
   * HeapCorruptionError naming the broken one. O(buffers). For tests.
   */
  check(): void {
    const { bufs, sizeBytes, bufIndex, bufStart, cur, curLength, pos, plain } = this;
    checkReader({ bufs, sizeBytes, bufIndex, bufStart, cur, curLength, pos, plain, empty: cur === EMPTY });
  }
}
