// The base of BufferReader: its position over the buffers (the fields, with
// invariants RD1-RD5) and the fixed-width reads: integers of 2, 4 and 1 … 6
// bytes, 64-bit BigInts and floats, in both byte orders, with their slow
// path take(), which readByte shares. See buffer-reader.ts for an overview
// and the failure rules (past the end, lost bytes); BufferReader sets the
// source and adds readByte, LEB128, byte ranges, skip, unread, range and
// clipFront.

import { EndOfDataError, HeapCorruptionError, OffheapRangeError } from "../errors.js";

/** The empty buffer a reader over no bytes is at (RD1). @internal */
export const EMPTY = new Uint8Array(0);
const NO_BUFFERS: readonly Uint8Array[] = [];
const SCRATCH = new DataView(new ArrayBuffer(8)); // float and BigInt bit casts
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer); // bytes gathered across buffers

// Invariants (checked by BufferReader.check, in buffer-reader-check.ts):
//   RD1  cur is EMPTY, bufIndex == 0 and the reader covers no bytes (its
//       list was empty, and may have grown since: a reader sees pushes
//       only after clipFront), or bufIndex < bufs.length and
//       cur === bufs[bufIndex]
//   RD2  curLength == cur.length and 0 <= pos <= curLength
//   RD3  bufStart == sum of bufs[i].length for i < bufIndex
//   RD4  bufStart + pos <= sizeBytes <= sum of all bufs[i].length
//   RD5  plain is null, or cur viewed as a plain Uint8Array (same memory)

/**
 * The base class of BufferReader: its position and its fixed-width reads.
 * Not exported from "offheap/buffers" (make a BufferReader); published in
 * the types only as what BufferReader extends. A read past the end throws
 * EndOfDataError and leaves the position unchanged.
 *
 * @example
 * const r = new BufferReader(list);
 * const length = r.readUint32BE(); // a FixedWidthReader method
 */
export abstract class FixedWidthReader {
  // Every field is set to a value of its final kind before any read: one
  // that starts as undefined (a class field declared without a value) makes
  // V8 store numbers boxed (tagged) instead of as small integers, costing a
  // check on every read (measured 1.9 vs 1.3 ns per readByte). The fields
  // are declared here (protected and @internal: BufferReader's too, not in
  // the published types) and set by the constructor, not initialised as
  // class fields: V8 (Node 20) does not inline a base class's field
  // initialisers into its subclass's constructor, which made
  // `new BufferReader(list)` plus a skip twice as slow (50 vs 25 ns).
  /** @internal */ declare protected bufs: readonly Uint8Array[];
  /** @internal */ declare protected sizeBytes: number;
  /** @internal */ declare protected bufIndex: number;
  /** @internal */ declare protected bufStart: number;
  /** @internal */ declare protected cur: Uint8Array;
  /** @internal */ declare protected curLength: number;
  /** @internal */ declare protected pos: number;
  // cur as a plain Uint8Array for readBytes' slice: cur itself, or, for a
  // subclass (a Node Buffer), a view made on first use. Null after a move.
  /** @internal */ declare protected plain: Uint8Array | null;

  /** A reader over no bytes; BufferReader's constructor then sets the source. */
  protected constructor() {
    this.bufs = NO_BUFFERS;
    this.sizeBytes = 0;
    this.bufIndex = 0;
    this.bufStart = 0;
    this.cur = EMPTY;
    this.curLength = 0;
    this.pos = 0;
    this.plain = null;
  }

  /** Bytes consumed since the start (or since the last clipFront). O(1). */
  get offset(): number {
    return this.bufStart + this.pos;
  }

  /** Bytes left to read. O(1). */
  get remaining(): number {
    return this.sizeBytes - this.bufStart - this.pos;
  }

  /** Total bytes the reader covers: offset + remaining. O(1). */
  get size(): number {
    return this.sizeBytes;
  }

  // ---- fixed-width integers and floats ---------------------------------------
  //
  // A fast path takes bytes that lie in the current buffer and are there: it
  // tests the last one it takes for undefined and leaves the position as it
  // was if it is (see "Lost bytes" in buffer-reader.ts). The test costs
  // nothing measurable: in a healthy buffer the loads stay inside the typed
  // array (the length test before them uses the counted length). The 2- and
  // 4-byte reads store the new position before their loads and undo it on
  // undefined, as readByte does: testing before the store cost readUint16BE
  // 6-8% (3.7-4.2 vs 3.5-3.6 µs per KiB read in 2-byte reads). The floats
  // and BigInts go through word() or load8(): copying their bytes one by one
  // to SCRATCH took readFloat32BE twice as long.

  /** The next 2 bytes as an unsigned big-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint16BE(): number {
    const pos = this.pos;
    if (pos + 2 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 2;
      const last = cur[pos + 1];
      if (last !== undefined) return (cur[pos]! << 8) | last;
      this.pos = pos;
    }
    return this.readUintSlow("readUint16BE", 2, false);
  }

  /** The next 2 bytes as an unsigned little-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint16LE(): number {
    const pos = this.pos;
    if (pos + 2 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 2;
      const last = cur[pos + 1];
      if (last !== undefined) return cur[pos]! | (last << 8);
      this.pos = pos;
    }
    return this.readUintSlow("readUint16LE", 2, true);
  }

  /** The next 4 bytes as an unsigned big-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint32BE(): number {
    return this.word("readUint32BE", false);
  }

  /** The next 4 bytes as an unsigned little-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint32LE(): number {
    return this.word("readUint32LE", true);
  }

  // The next 4 bytes as an unsigned integer, for api: readUint32BE/LE and
  // the singles.
  private word(api: string, littleEndian: boolean): number {
    const pos = this.pos;
    if (pos + 4 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 4;
      const last = cur[pos + 3];
      if (last !== undefined) {
        return littleEndian
          ? (cur[pos]! | (cur[pos + 1]! << 8) | (cur[pos + 2]! << 16) | (last << 24)) >>> 0
          : ((cur[pos]! << 24) | (cur[pos + 1]! << 16) | (cur[pos + 2]! << 8) | last) >>> 0;
      }
      this.pos = pos;
    }
    return this.readUintSlow(api, 4, littleEndian);
  }

  /**
   * The next `nBytes` (1 … 6) bytes as an unsigned big-endian integer (GoMem's
   * ReadBE, widened to 48 bits). Throws OffheapRangeError for another width,
   * EndOfDataError if fewer bytes remain; the position is unchanged either way.
   * @example r.readUintBE(3) // a 24-bit length
   */
  readUintBE(nBytes: number): number {
    const pos = this.pos;
    if (!(nBytes >= 1 && nBytes <= 6 && (nBytes | 0) === nBytes)) throw badWidth("readUintBE", nBytes);
    const cur = this.cur;
    if (pos + nBytes <= this.curLength && cur[pos + nBytes - 1] !== undefined) {
      let value = 0;
      for (let i = 0; i < nBytes; i++) value = value * 256 + cur[pos + i]!;
      this.pos = pos + nBytes;
      return value;
    }
    return this.readUintSlow("readUintBE", nBytes, false);
  }

  /** As {@link FixedWidthReader.readUintBE}, little-endian. */
  readUintLE(nBytes: number): number {
    const pos = this.pos;
    if (!(nBytes >= 1 && nBytes <= 6 && (nBytes | 0) === nBytes)) throw badWidth("readUintLE", nBytes);
    const cur = this.cur;
    if (pos + nBytes <= this.curLength && cur[pos + nBytes - 1] !== undefined) {
      let value = 0;
      for (let i = nBytes - 1; i >= 0; i--) value = value * 256 + cur[pos + i]!;
      this.pos = pos + nBytes;
      return value;
    }
    return this.readUintSlow("readUintLE", nBytes, true);
  }

  // The bytes span buffers, run past the end or are missing: take() says
  // which, or gathers them.
  private readUintSlow(api: string, nBytes: number, littleEndian: boolean): number {
    const bytes = this.take(api, nBytes);
    let value = 0;
    if (littleEndian) for (let i = nBytes - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
    else for (let i = 0; i < nBytes; i++) value = value * 256 + bytes[i]!;
    return value;
  }

  /** The next 8 bytes as an unsigned big-endian BigInt. Throws EndOfDataError (position unchanged) if fewer remain. */
  readBigUint64BE(): bigint {
    return this.load8("readBigUint64BE").getBigUint64(0);
  }

  /** The next 8 bytes as an unsigned little-endian BigInt. Throws EndOfDataError (position unchanged) if fewer remain. */
  readBigUint64LE(): bigint {
    return this.load8("readBigUint64LE").getBigUint64(0, true);
  }

  /** The next 4 bytes as a big-endian IEEE 754 single. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat32BE(): number {
    SCRATCH.setUint32(0, this.word("readFloat32BE", false));
    return SCRATCH.getFloat32(0);
  }

  /** The next 4 bytes as a little-endian IEEE 754 single. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat32LE(): number {
    SCRATCH.setUint32(0, this.word("readFloat32LE", true));
    return SCRATCH.getFloat32(0);
  }

  /** The next 8 bytes as a big-endian IEEE 754 double. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat64BE(): number {
    return this.load8("readFloat64BE").getFloat64(0);
  }

  /** The next 8 bytes as a little-endian IEEE 754 double. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat64LE(): number {
    return this.load8("readFloat64LE").getFloat64(0, true);
  }

  // The next 8 bytes copied to SCRATCH in stream order and consumed, for a
  // double or BigInt bit cast: as two words when they are in the current
  // buffer, else gathered by take().
  private load8(api: string): DataView {
    const pos = this.pos;
    if (pos + 8 <= this.curLength && this.cur[pos + 7] !== undefined) {
      SCRATCH.setUint32(0, this.word(api, false));
      SCRATCH.setUint32(4, this.word(api, false));
    } else {
      this.take(api, 8);
    }
    return SCRATCH;
  }

  // ---- the slow path and moving ------------------------------------------------

  /**
   * @internal The slow path of the fixed-width reads and readByte: the next
   * nBytes (at most 8) copied to SCRATCH_BYTES (returned) and consumed, across
   * buffers. Throws EndOfDataError if fewer remain, HeapCorruptionError (RD4)
   * if a buffer lost one of them; the position is unchanged either way.
   * O(nBytes + buffers crossed).
   */
  protected take(api: string, nBytes: number): Uint8Array {
    if (this.remaining < nBytes) throw this.end(api, nBytes);
    const bufs = this.bufs;
    let i = this.bufIndex, start = this.bufStart, cur = this.cur, end = this.curLength, pos = this.pos;
    for (let at = 0; at < nBytes; at++) {
      while (pos === end) { // the counted length here, the buffer's own after (RD3)
        const next = bufs[++i];
        if (next === undefined) throw this.shrunk(api);
        start += end;
        cur = next;
        end = next.length;
        pos = 0;
      }
      const b = cur[pos++];
      if (b === undefined) throw this.shrunk(api);
      SCRATCH_BYTES[at] = b;
    }
    if (i === this.bufIndex) this.pos = pos;
    else this.enter(i, start, cur, pos);
    return SCRATCH_BYTES;
  }

  // Makes bufs[bufIndex] (which starts at bufStart) the current buffer, at pos.
  /** @internal */
  protected enter(bufIndex: number, bufStart: number, cur: Uint8Array, pos: number): void {
    this.bufIndex = bufIndex;
    this.bufStart = bufStart;
    this.cur = cur;
    this.curLength = cur.length;
    this.pos = pos;
    this.plain = null;
  }

  /** @internal The error for a read of nBytes past the end. */
  protected end(api: string, nBytes: number, why?: string): EndOfDataError {
    return new EndOfDataError(
      `BufferReader.${api}: ${why ?? `${nBytes} bytes needed`} at offset ${this.offset}, ${this.remaining} of ${this.sizeBytes} bytes left`,
    );
  }

  /** @internal The error for a read of bytes a buffer lost after the reader counted them (RD4). */
  protected shrunk(api: string): HeapCorruptionError {
    return new HeapCorruptionError("RD4", `BufferReader.${api}: its buffers hold fewer bytes than the ${this.sizeBytes} it counted: one was detached or shrunk after the reader was made`);
  }
}

function badWidth(api: string, nBytes: number): OffheapRangeError {
  return new OffheapRangeError(`BufferReader.${api}: width ${String(nBytes)} is not an integer from 1 to 6 bytes`);
}
