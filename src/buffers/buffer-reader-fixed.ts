// The base of BufferReader: its position over the buffers (the cursor
// fields, with invariants RD1-RD5) and the fixed-width reads: integers of 2,
// 4 and 1 … 6 bytes, 64-bit BigInts and floats, each in both byte orders.
// See buffer-reader.ts for an overview; BufferReader sets the source and
// adds readByte, LEB128, byte ranges, skip, unread, range and clipFront.

import { EndOfDataError, OffheapRangeError } from "../errors.js";

/** The empty buffer a reader over no bytes is at (RD1). @internal */
export const EMPTY = new Uint8Array(0);
const NO_BUFFERS: readonly Uint8Array[] = [];
const SCRATCH = new DataView(new ArrayBuffer(8)); // float bit casts

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

  /** The next 2 bytes as an unsigned big-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint16BE(): number {
    const pos = this.pos;
    if (pos + 2 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 2;
      return (cur[pos]! << 8) | cur[pos + 1]!;
    }
    return this.readUintSlow("readUint16BE", 2, false);
  }

  /** The next 2 bytes as an unsigned little-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint16LE(): number {
    const pos = this.pos;
    if (pos + 2 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 2;
      return cur[pos]! | (cur[pos + 1]! << 8);
    }
    return this.readUintSlow("readUint16LE", 2, true);
  }

  /** The next 4 bytes as an unsigned big-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint32BE(): number {
    const pos = this.pos;
    if (pos + 4 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 4;
      return ((cur[pos]! << 24) | (cur[pos + 1]! << 16) | (cur[pos + 2]! << 8) | cur[pos + 3]!) >>> 0;
    }
    return this.readUintSlow("readUint32BE", 4, false);
  }

  /** The next 4 bytes as an unsigned little-endian integer. Throws EndOfDataError (position unchanged) if fewer remain. */
  readUint32LE(): number {
    const pos = this.pos;
    if (pos + 4 <= this.curLength) {
      const cur = this.cur;
      this.pos = pos + 4;
      return (cur[pos]! | (cur[pos + 1]! << 8) | (cur[pos + 2]! << 16) | (cur[pos + 3]! << 24)) >>> 0;
    }
    return this.readUintSlow("readUint32LE", 4, true);
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
    if (pos + nBytes <= this.curLength) {
      const cur = this.cur;
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
    if (pos + nBytes <= this.curLength) {
      const cur = this.cur;
      let value = 0;
      for (let i = nBytes - 1; i >= 0; i--) value = value * 256 + cur[pos + i]!;
      this.pos = pos + nBytes;
      return value;
    }
    return this.readUintSlow("readUintLE", nBytes, true);
  }

  // The bytes span buffers, or are missing: check, then read byte by byte.
  private readUintSlow(api: string, nBytes: number, littleEndian: boolean): number {
    if (this.remaining < nBytes) throw this.end(api, nBytes);
    let value = 0;
    if (littleEndian) {
      let weight = 1;
      for (let i = 0; i < nBytes; i++, weight *= 256) value += this.nextByte() * weight;
    } else {
      for (let i = 0; i < nBytes; i++) value = value * 256 + this.nextByte();
    }
    return value;
  }

  /** The next 8 bytes as an unsigned big-endian BigInt. Throws EndOfDataError (position unchanged) if fewer remain. */
  readBigUint64BE(): bigint {
    if (this.remaining < 8) throw this.end("readBigUint64BE", 8);
    const hi = this.readUint32BE();
    return (BigInt(hi) << 32n) | BigInt(this.readUint32BE());
  }

  /** The next 8 bytes as an unsigned little-endian BigInt. Throws EndOfDataError (position unchanged) if fewer remain. */
  readBigUint64LE(): bigint {
    if (this.remaining < 8) throw this.end("readBigUint64LE", 8);
    const lo = this.readUint32LE();
    return (BigInt(this.readUint32LE()) << 32n) | BigInt(lo);
  }

  /** The next 4 bytes as a big-endian IEEE 754 single. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat32BE(): number {
    if (this.remaining < 4) throw this.end("readFloat32BE", 4);
    SCRATCH.setUint32(0, this.readUint32BE());
    return SCRATCH.getFloat32(0);
  }

  /** The next 4 bytes as a little-endian IEEE 754 single. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat32LE(): number {
    if (this.remaining < 4) throw this.end("readFloat32LE", 4);
    SCRATCH.setUint32(0, this.readUint32LE());
    return SCRATCH.getFloat32(0);
  }

  /** The next 8 bytes as a big-endian IEEE 754 double. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat64BE(): number {
    if (this.remaining < 8) throw this.end("readFloat64BE", 8);
    SCRATCH.setUint32(0, this.readUint32BE());
    SCRATCH.setUint32(4, this.readUint32BE());
    return SCRATCH.getFloat64(0);
  }

  /** The next 8 bytes as a little-endian IEEE 754 double. Throws EndOfDataError (position unchanged) if fewer remain. */
  readFloat64LE(): number {
    if (this.remaining < 8) throw this.end("readFloat64LE", 8);
    SCRATCH.setUint32(4, this.readUint32LE());
    SCRATCH.setUint32(0, this.readUint32LE());
    return SCRATCH.getFloat64(0);
  }

  // ---- moving ------------------------------------------------------------------

  // Moves to the next non-empty buffer. Precondition: pos == curLength and
  // remaining > 0, so such a buffer exists.
  /** @internal */
  protected nextBuffer(): void {
    const bufs = this.bufs;
    let i = this.bufIndex;
    let cur: Uint8Array;
    do cur = bufs[++i]!;
    while (cur.length === 0);
    this.enter(i, this.bufStart + this.curLength, cur, 0);
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

  // The next byte; the caller has checked that it exists.
  private nextByte(): number {
    if (this.pos === this.curLength) this.nextBuffer();
    return this.cur[this.pos++]!;
  }

  /** @internal The error for a read of nBytes past the end. */
  protected end(api: string, nBytes: number, why?: string): EndOfDataError {
    return new EndOfDataError(
      `BufferReader.${api}: ${why ?? `${nBytes} bytes needed`} at offset ${this.offset}, ${this.remaining} of ${this.sizeBytes} bytes left`,
    );
  }
}

function badWidth(api: string, nBytes: number): OffheapRangeError {
  return new OffheapRangeError(`BufferReader.${api}: width ${String(nBytes)} is not an integer from 1 to 6 bytes`);
}
