// offheap/buffers/node: the frame splitter as a Node.js Transform. The only
// file of src/ that imports Node APIs, published as its own subpath so that
// offheap/buffers still bundles for browsers.
//
// Bytes go in on the writable side; each complete frame comes out on the
// readable side (object mode) as a BufferList of zero-copy views of the
// written chunks. A Transform queues frames for a consumer that may read
// them at any later time, so "valid until the next frame" cannot hold here:
// the copying `memory` option of splitFrames is not offered, and the frames
// are views of the chunks themselves, valid as long as the writer does not
// reuse a chunk's memory after writing it (Node's own streams never do; a
// writer that reuses its buffers must pass copies).
/// <reference types="node" />

import { Transform, type TransformCallback } from "node:stream";
import { OffheapTypeError } from "../errors.js";
import { FrameParser, type FrameSplitterOptions } from "./frame-splitter.js";

// What a Transform callback is given for a thrown value: Node takes callback(undefined) or
// callback(null) as success, so a header parser that threw `undefined` would have been swallowed.
function asError(e: unknown): Error {
  return e instanceof Error ? e : new OffheapTypeError(`FrameSplitter: options.header threw ${String(e)}, not an Error`);
}

/** Options of {@link FrameSplitter}: those of splitFrames without `memory`. */
export type FrameSplitterStreamOptions = Omit<FrameSplitterOptions, "memory">;

/**
 * A Transform that splits a byte stream into length-prefixed frames without
 * concatenating chunks: writable side bytes, readable side (object mode) one
 * BufferList per frame, of views of the written chunks (an empty frame is an
 * empty list). Options as splitFrames' (prefixBytes, littleEndian,
 * lengthIncludesPrefix, maxFrameBytes, header), except `memory`.
 *
 * Errors (the stream is destroyed with them): OffheapRangeError for a payload
 * above maxFrameBytes, EndOfDataError when the input ends inside a frame,
 * OffheapTypeError for a chunk that is not bytes. The constructor throws
 * OffheapRangeError / OffheapTypeError for bad options (and for `memory`).
 *
 * @example
 * await pipeline(socket, new FrameSplitter({ prefixBytes: 2 }), async (frames) => {
 *   for await (const frame of frames) handle(frame);
 * });
 */
export class FrameSplitter extends Transform {
  private readonly parser: FrameParser;

  constructor(options?: FrameSplitterStreamOptions) {
    super({ readableObjectMode: true });
    if (options !== null && typeof options === "object" && (options as FrameSplitterOptions).memory !== undefined) {
      throw new OffheapTypeError("FrameSplitter: options.memory is not offered (a queued frame would outlive the recycled memory); use splitFrames for copying into recyclable memory");
    }
    this.parser = new FrameParser(options, "FrameSplitter");
  }

  /** @internal Node's Transform hook: splits a written chunk. */
  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    const parser = this.parser;
    try {
      parser.push(chunk as Uint8Array);
      for (let frame = parser.next(); frame !== null; frame = parser.next()) this.push(frame);
    } catch (e) {
      callback(asError(e));
      return;
    }
    callback();
  }

  /** @internal Node's Transform hook: at the end of input, fails if it ended inside a frame. */
  override _flush(callback: TransformCallback): void {
    try {
      this.parser.finish();
    } catch (e) {
      callback(asError(e));
      return;
    }
    callback();
  }
}
