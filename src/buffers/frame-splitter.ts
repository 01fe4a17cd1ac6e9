// Frame splitter: cuts a byte stream into length-prefixed frames without
// concatenating the chunks it arrives in.
//
// FrameParser is the synchronous state machine: chunks go in with push(),
// complete frames come out of next() (null: more bytes needed). It keeps the
// unconsumed chunks in a queue with a read offset into the first one, parses
// the header of the next frame as soon as its bytes are there (so a length
// above maxFrameBytes fails before its payload is awaited), then waits until
// the queue holds the whole payload and hands it out as a BufferList of views
// of the chunks. splitFrames wraps it as an async generator over any
// AsyncIterable of chunks; node.ts wraps it as a Node Transform.
//
// A custom header parser reads from a BufferReader positioned at the frame's
// start. When it needs bytes that have not arrived it throws EndOfDataError
// (a BufferReader read does so by itself); the parser then waits for the
// next chunk and calls it again from the frame's start, so the header
// function must be a pure function of the bytes.
//
// Frame lifetime. A frame's views share memory with the chunks the source
// gave, so they stay as valid as those chunks (Node streams never reuse a
// chunk they have handed out). With the `memory` option, a frame that spans
// chunks is instead copied into one block from that memory, and the memory is
// recycled when the next frame is requested (and when the iteration ends): such
// a frame is valid only until then. Treat every frame as valid until the next
// one is requested; copy (`toBytes()`) to keep it longer.

import { EndOfDataError, HeapCorruptionError, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { checkNumber, checkOptions, describe, type OptionRules } from "../common/options.js";
import { BufferList } from "./buffer-list.js";
import { copyForward } from "./copy-bytes.js";
import { BufferReader } from "./buffer-reader.js";

/** Default of {@link FrameSplitterOptions.maxFrameBytes}: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const PREFIX_WIDTHS = [1, 2, 3, 4, 8];
const PREFIX_SCRATCH = new Uint8Array(8); // a prefix that spans chunks, gathered

/**
 * Memory that frames spanning chunks are copied into: `RecyclableMemory`
 * (recyclable-memory.ts) has this shape. `nextN(n)` returns a block of at
 * least n bytes; `recycle()` frees every block handed out since the last
 * recycle.
 */
export interface FrameMemory {
  /** A block of at least `sizeBytes` bytes, valid until recycle(). */
  nextN(sizeBytes: number): Uint8Array;
  /** Frees every block handed out since the last recycle. */
  recycle(): void;
}

/** Options of {@link splitFrames} and of FrameSplitter (`offheap/buffers/node`). */
export interface FrameSplitterOptions {
  /** Width of the length prefix in bytes: 1, 2, 3, 4 or 8. Default 4. Not with `header`. */
  prefixBytes?: 1 | 2 | 3 | 4 | 8;
  /** The prefix is little-endian. Default false (big-endian, network order). Not with `header`. */
  littleEndian?: boolean;
  /** The prefix counts its own bytes too (payload = value - prefixBytes). Default false. Not with `header`. */
  lengthIncludesPrefix?: boolean;
  /**
   * Largest payload accepted, in bytes; a frame announcing more throws
   * OffheapRangeError as soon as its header is read. Default 16 MiB
   * ({@link DEFAULT_MAX_FRAME_BYTES}). MUST be a non-negative safe integer.
   */
  maxFrameBytes?: number;
  /**
   * A custom header parser: reads the header from `reader` (positioned at
   * the frame's start) and returns the payload length in bytes; the bytes it
   * read are the header. It throws EndOfDataError when it needs bytes that
   * have not arrived, and is then called again from the frame's start once
   * more arrive. The reader is valid during the call only. Replaces
   * prefixBytes, littleEndian and lengthIncludesPrefix.
   * @example header: (r) => r.readLEB128()
   */
  header?: (reader: BufferReader) => number;
  /**
   * Copy frames that span chunks into one block of this memory (a frame
   * inside one chunk stays a zero-copy view); the memory is recycled when the
   * next frame is requested and when the iteration ends, so it must not be
   * shared with other users. Such a frame is a BufferList of one buffer.
   * Not offered by the FrameSplitter Transform.
   */
  memory?: FrameMemory;
}

const OPTION_RULES: OptionRules = {
  prefixBytes: { type: "number", values: PREFIX_WIDTHS.join(", ") },
  littleEndian: { type: "boolean" },
  lengthIncludesPrefix: { type: "boolean" },
  maxFrameBytes: { type: "number" },
  header: { type: "function" },
  memory: { type: "object", values: "a RecyclableMemory, or an object with nextN(n) and recycle()" },
};

// Invariants (checked by FrameParser.check):
//   FS1  no chunk in chunks is empty
//   FS2  chunks is empty and pos == 0, or 0 <= pos < chunks[0].length
//   FS3  availBytes == sum of chunks[i].length - pos
//   FS4  payloadBytes == -1, or 0 <= payloadBytes <= maxFrameBytes
//   FS5  memoryUsed implies memory !== null

/**
 * The frame-splitting state machine behind {@link splitFrames} and the
 * FrameSplitter Transform: push chunks, take frames. Not reentrant.
 * @example
 * const p = new FrameParser({ prefixBytes: 2 }, "myProtocol");
 * p.push(chunk);
 * for (let f = p.next(); f !== null; f = p.next()) handle(f);
 * p.finish(); // at the end of input: throws if it ended inside a frame
 */
export class FrameParser {
  // Initial values of the final kinds, as in BufferReader: V8 keeps numbers
  // of fields declared without one boxed.
  private readonly api: string = "";
  private readonly prefixBytes: number = 0; // 0 with a custom header
  private readonly littleEndian: boolean = false;
  private readonly includesPrefix: boolean = false;
  private readonly maxFrameBytes: number = 0;
  private readonly header: ((reader: BufferReader) => number) | null = null;
  private readonly memory: FrameMemory | null = null;
  private chunks: Uint8Array[] = [];
  private pos = 0; // bytes of chunks[0] already consumed
  private availBytes = 0; // unconsumed bytes in chunks
  private streamOffset = 0; // stream offset of the first unconsumed byte
  private payloadBytes = -1; // payload length once the current frame's header is consumed
  private frameOffset = 0; // stream offset of the current frame's header
  private memoryUsed = false;

  /**
   * Validates `options` (see {@link FrameSplitterOptions}); `api` names the
   * caller in error messages. Throws OffheapRangeError / OffheapTypeError for
   * bad options, OffheapTypeError for an `api` that is not a string. O(1).
   */
  constructor(options?: FrameSplitterOptions, api = "FrameParser") {
    if (typeof api !== "string") throw new OffheapTypeError(`FrameParser: api must be a string naming the caller, got ${describe(api)}`);
    this.api = api;
    const { prefixBytes, littleEndian, lengthIncludesPrefix, maxFrameBytes, header, memory } = checkOptions(api, options, OPTION_RULES);
    if (header !== undefined && (prefixBytes !== undefined || littleEndian !== undefined || lengthIncludesPrefix !== undefined)) {
      throw new OffheapTypeError(`${api}: options.header replaces prefixBytes, littleEndian and lengthIncludesPrefix; give one or the other`);
    }
    if (prefixBytes !== undefined && !PREFIX_WIDTHS.includes(prefixBytes)) {
      throw new OffheapRangeError(`${api}: options.prefixBytes ${String(prefixBytes)} is not one of ${PREFIX_WIDTHS.join(", ")}`);
    }
    if (maxFrameBytes !== undefined && !(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes >= 0)) {
      throw new OffheapRangeError(`${api}: options.maxFrameBytes ${String(maxFrameBytes)} is not a non-negative safe integer`);
    }
    if (memory !== undefined && (typeof memory.nextN !== "function" || typeof memory.recycle !== "function")) {
      throw new OffheapTypeError(`${api}: options.memory must have nextN(n) and recycle() methods (a RecyclableMemory), got ${describe(memory)}`);
    }
    this.header = header ?? null;
    this.prefixBytes = header === undefined ? prefixBytes ?? 4 : 0;
    this.littleEndian = littleEndian ?? false;
    this.includesPrefix = lengthIncludesPrefix ?? false;
    this.maxFrameBytes = maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.memory = memory ?? null;
  }

  /**
   * Adds a chunk of input (kept by reference: do not change its bytes).
   * Empty chunks are ignored. Throws OffheapTypeError for a chunk that is not
   * a Uint8Array (e.g. a string from a stream with an encoding set).
   */
  push(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new OffheapTypeError(`${this.api}: the source gave ${describe(chunk)}; it must give Uint8Array chunks (a byte stream without an encoding)`);
    }
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.availBytes += chunk.length;
  }

  /**
   * The next complete frame, or null when more input is needed. Recycles the
   * memory (option `memory`) if the previous frame used it. Throws
   * OffheapRangeError for a frame longer than maxFrameBytes (or a header
   * parser returning a bad length), and whatever a custom header parser
   * throws other than EndOfDataError. O(chunks the frame spans).
   */
  next(): BufferList | null {
    if (this.memoryUsed) this.release();
    let payloadBytes = this.payloadBytes;
    if (payloadBytes < 0) {
      if (this.availBytes === 0) return null;
      payloadBytes = this.header === null ? this.readPrefix() : this.readCustomHeader();
      if (payloadBytes < 0) return null;
    }
    if (this.availBytes < payloadBytes) return null;
    const frame = this.take(payloadBytes);
    this.payloadBytes = -1;
    return frame;
  }

  /**
   * Call at the end of input: throws EndOfDataError if it ended inside a
   * frame (naming the frame's stream offset and how much of it arrived).
   */
  finish(): void {
    const api = this.api;
    if (this.payloadBytes >= 0) {
      throw new EndOfDataError(
        `${api}: the stream ended inside the frame at stream offset ${this.frameOffset}: ${this.availBytes} of its ${this.payloadBytes} payload bytes arrived`,
      );
    }
    if (this.availBytes > 0) {
      const expected = this.header === null ? `its ${this.prefixBytes}-byte length prefix` : "what the header parser needs";
      throw new EndOfDataError(`${api}: the stream ended inside the header of the frame at stream offset ${this.streamOffset}: ${this.availBytes} bytes arrived, fewer than ${expected}`);
    }
  }

  /** Recycles the memory (option `memory`) if a frame was copied into it since the last recycle. */
  release(): void {
    if (this.memoryUsed) {
      this.memoryUsed = false;
      this.memory!.recycle();
    }
  }

  /**
   * Validates the parser's invariants (FS1-FS5 above); throws
   * HeapCorruptionError naming the broken one. O(chunks). For tests.
   */
  check(): void {
    const chunks = this.chunks;
    let total = 0;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i]!.length === 0) throw new HeapCorruptionError("FS1", `${this.api}: queued chunk ${i} is empty`);
      total += chunks[i]!.length;
    }
    if (chunks.length === 0 ? this.pos !== 0 : this.pos < 0 || this.pos >= chunks[0]!.length) {
      throw new HeapCorruptionError("FS2", `${this.api}: read offset ${this.pos} in a first chunk of ${chunks[0]?.length ?? 0} bytes`);
    }
    if (this.availBytes !== total - this.pos) throw new HeapCorruptionError("FS3", `${this.api}: ${this.availBytes} bytes counted, ${total - this.pos} queued`);
    if (this.payloadBytes !== -1 && !(this.payloadBytes >= 0 && this.payloadBytes <= this.maxFrameBytes)) {
      throw new HeapCorruptionError("FS4", `${this.api}: pending payload of ${this.payloadBytes} bytes`);
    }
    if (this.memoryUsed && this.memory === null) throw new HeapCorruptionError("FS5", `${this.api}: memory marked used without a memory`);
  }

  // Reads and consumes a fixed-width prefix; returns the payload length, or
  // -1 (nothing consumed) if the prefix has not fully arrived.
  private readPrefix(): number {
    const nBytes = this.prefixBytes;
    if (this.availBytes < nBytes) return -1;
    let bytes = this.chunks[0]!;
    let at = this.pos;
    if (at + nBytes > bytes.length) {
      this.gather(PREFIX_SCRATCH, nBytes);
      bytes = PREFIX_SCRATCH;
      at = 0;
    }
    let value = 0;
    if (this.littleEndian) for (let i = nBytes - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!;
    else for (let i = 0; i < nBytes; i++) value = value * 256 + bytes[at + i]!;
    let payloadBytes = value;
    if (this.includesPrefix) {
      if (value < nBytes) {
        throw new OffheapRangeError(`${this.api}: the frame at stream offset ${this.streamOffset} has length ${value}, less than the ${nBytes}-byte prefix it includes`);
      }
      payloadBytes = value - nBytes;
    }
    if (payloadBytes > this.maxFrameBytes) {
      // An 8-byte prefix above 2^53 is rounded in `value`: print it exactly.
      const shown = value <= Number.MAX_SAFE_INTEGER ? String(payloadBytes) : exactPayload(bytes, at, nBytes, this.littleEndian, this.includesPrefix);
      throw this.tooLong(shown);
    }
    this.startFrame(nBytes, payloadBytes);
    return payloadBytes;
  }

  // Runs the custom header parser from the frame's start; returns the payload
  // length (header consumed), or -1 (nothing consumed) if it needs more bytes.
  private readCustomHeader(): number {
    const reader = new BufferReader(this.chunks);
    reader.skip(this.pos);
    let payloadBytes: number;
    try {
      payloadBytes = this.header!(reader);
    } catch (e) {
      if (e instanceof EndOfDataError) return -1;
      throw e;
    }
    const headerBytes = reader.offset - this.pos;
    checkNumber(this.api, `the payload length options.header returned for the frame at stream offset ${this.streamOffset}`, payloadBytes);
    if (!(Number.isSafeInteger(payloadBytes) && payloadBytes >= 0)) {
      throw new OffheapRangeError(`${this.api}: options.header returned ${String(payloadBytes)} for the frame at stream offset ${this.streamOffset}; it must return the payload length in bytes, a non-negative safe integer`);
    }
    if (headerBytes < 0) {
      throw new OffheapRangeError(`${this.api}: options.header moved the reader ${-headerBytes} bytes before the start of the frame at stream offset ${this.streamOffset}`);
    }
    if (headerBytes === 0 && payloadBytes === 0) {
      // A frame of no bytes leaves the stream where it was: the next one would be the same, forever.
      throw new OffheapRangeError(`${this.api}: options.header read no bytes and returned 0 for the frame at stream offset ${this.streamOffset}; a frame must take at least one byte of the stream`);
    }
    if (payloadBytes > this.maxFrameBytes) throw this.tooLong(String(payloadBytes));
    this.startFrame(headerBytes, payloadBytes);
    return payloadBytes;
  }

  private tooLong(shown: string): OffheapRangeError {
    return new OffheapRangeError(`${this.api}: the frame at stream offset ${this.streamOffset} has a payload of ${shown} bytes, more than maxFrameBytes (${this.maxFrameBytes})`);
  }

  private startFrame(headerBytes: number, payloadBytes: number): void {
    this.frameOffset = this.streamOffset;
    this.payloadBytes = payloadBytes;
    this.consume(headerBytes);
  }

  // Copies the next nBytes (all arrived) into target without consuming them.
  private gather(target: Uint8Array, nBytes: number): void {
    if (!copyForward(this.chunks, 0, this.pos, nBytes, target)) {
      throw new HeapCorruptionError("FS3", `${this.api}: its chunks hold fewer bytes than the ${this.availBytes} it counted: one was detached or shrunk after it was pushed`);
    }
  }

  // Hands out the next payloadBytes (all arrived) as a frame and consumes them.
  private take(payloadBytes: number): BufferList {
    if (payloadBytes === 0) return new BufferList();
    const chunks = this.chunks;
    const first = chunks[0]!;
    const pos = this.pos;
    let frame: BufferList;
    if (pos + payloadBytes <= first.length) {
      frame = new BufferList(pos === 0 && payloadBytes === first.length ? first : new Uint8Array(first.buffer, first.byteOffset + pos, payloadBytes));
    } else if (this.memory !== null) {
      const block = this.memory.nextN(payloadBytes);
      if (!(block instanceof Uint8Array) || block.length < payloadBytes) {
        throw new OffheapTypeError(`${this.api}: options.memory.nextN(${payloadBytes}) returned ${block instanceof Uint8Array ? `${block.length} bytes` : describe(block)}, not a Uint8Array of at least ${payloadBytes} bytes`);
      }
      this.memoryUsed = true;
      this.gather(block, payloadBytes);
      frame = new BufferList(block.length === payloadBytes ? block : block.subarray(0, payloadBytes));
    } else {
      frame = new BufferList();
      let at = 0, p = pos;
      for (let i = 0; at < payloadBytes; i++, p = 0) {
        const chunk = chunks[i]!;
        const take = Math.min(chunk.length - p, payloadBytes - at);
        frame.pushOne(p === 0 && take === chunk.length ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset + p, take));
        at += take;
      }
    }
    this.consume(payloadBytes);
    return frame;
  }

  // Moves past nBytes (all arrived), dropping the chunks read to their end.
  private consume(nBytes: number): void {
    const chunks = this.chunks;
    let pos = this.pos + nBytes;
    let nDone = 0;
    while (nDone < chunks.length && pos >= chunks[nDone]!.length) pos -= chunks[nDone++]!.length;
    if (nDone === 1) chunks.shift();
    else if (nDone > 1) chunks.splice(0, nDone);
    this.pos = pos;
    this.availBytes -= nBytes;
    this.streamOffset += nBytes;
  }
}

// The exact payload length a prefix of nBytes bytes announces, for messages.
function exactPayload(bytes: Uint8Array, at: number, nBytes: number, littleEndian: boolean, includesPrefix: boolean): string {
  let value = 0n;
  for (let i = 0; i < nBytes; i++) value = (value << 8n) | BigInt(bytes[at + (littleEndian ? nBytes - 1 - i : i)]!);
  return String(includesPrefix ? value - BigInt(nBytes) : value);
}

/**
 * Splits a byte stream into length-prefixed frames without concatenating
 * its chunks. `source` is any AsyncIterable of Uint8Array chunks (a Node
 * Readable without an encoding, an async generator) or a web ReadableStream
 * (read by async iteration, or through its reader where the platform lacks
 * that, as Safari does).
 *
 * Yields each frame's payload as a BufferList: zero-copy views of the
 * received chunks (one per chunk the frame spans; an empty frame is an empty
 * list), or with `options.memory` one contiguous copy for a frame spanning
 * chunks. **A frame is valid until the next one is requested** (see the
 * memory option); copy it (`toBytes()`) to keep it longer.
 *
 * Throws synchronously for bad options (OffheapRangeError/OffheapTypeError).
 * The iterator throws EndOfDataError if the stream ends inside a frame,
 * OffheapRangeError for a payload above maxFrameBytes, and passes on the
 * source's errors. Ending the iteration early (break) closes the source.
 *
 * Cost per frame: one BufferList and one view per chunk spanned, plus the
 * async generator's await; never a copy of the stream.
 * @example
 * for await (const frame of splitFrames(socket, { prefixBytes: 2 })) {
 *   const r = new BufferReader(frame);
 *   handle(r.readByte(), r);
 * }
 */
export function splitFrames(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options?: FrameSplitterOptions,
): AsyncGenerator<BufferList, void, undefined> {
  const parser = new FrameParser(options, "splitFrames"); // first: bad options must not lock a stream
  let chunks: AsyncIterator<Uint8Array>;
  if (source !== null && typeof source === "object" && typeof (source as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === "function") {
    chunks = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  } else if (source !== null && typeof source === "object" && typeof (source as Partial<ReadableStream<Uint8Array>>).getReader === "function") {
    chunks = readerChunks((source as ReadableStream<Uint8Array>).getReader());
  } else {
    throw new OffheapTypeError(`splitFrames: the source must be an AsyncIterable of Uint8Array chunks or a ReadableStream, got ${describe(source)}`);
  }
  return frames(chunks, parser);
}

// A web ReadableStream's reader as an async iterator (for platforms whose
// streams are not async iterable); return() cancels the stream.
function readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncIterator<Uint8Array> {
  return {
    async next(): Promise<IteratorResult<Uint8Array>> {
      const step = await reader.read();
      if (!step.done) return { done: false, value: step.value };
      reader.releaseLock();
      return { done: true, value: undefined };
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      await reader.cancel();
      reader.releaseLock();
      return { done: true, value: undefined };
    },
  };
}

async function* frames(chunks: AsyncIterator<Uint8Array>, parser: FrameParser): AsyncGenerator<BufferList, void, undefined> {
  let sourceDone = false;
  try {
    for (;;) {
      const frame = parser.next();
      if (frame !== null) {
        yield frame;
        continue;
      }
      let step: IteratorResult<Uint8Array>;
      try {
        step = await chunks.next();
      } catch (e) {
        sourceDone = true; // a failed iterator is finished: no return()
        throw e;
      }
      if (step.done === true) {
        sourceDone = true;
        parser.finish();
        return;
      }
      parser.push(step.value);
    }
  } finally {
    parser.release();
    if (!sourceDone) await chunks.return?.();
  }
}
