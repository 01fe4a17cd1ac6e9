// The validator of BufferReader: checks invariants RD1-RD5 (listed in
// buffer-reader-fixed.ts above the reader's fields) of one reader's
// position. See buffer-reader.ts for an overview. For tests and debugging.

import { HeapCorruptionError } from "../errors.js";

/** A reader's position, as BufferReader.check passes it: its fields, and whether `cur` is its shared empty buffer. */
export interface ReaderPosition {
  readonly bufs: readonly Uint8Array[];
  readonly sizeBytes: number;
  readonly bufIndex: number;
  readonly bufStart: number;
  readonly cur: Uint8Array;
  readonly curLength: number;
  readonly pos: number;
  readonly plain: Uint8Array | null;
  readonly empty: boolean;
}

/**
 * Throws HeapCorruptionError naming the first broken invariant (RD1-RD5)
 * of the reader position `r`. O(buffers).
 *
 * @example checkReader({ bufs, sizeBytes, bufIndex, bufStart, cur, curLength, pos, plain, empty: cur === EMPTY });
 */
export function checkReader(r: ReaderPosition): void {
  const { bufs, bufIndex: i, cur, pos } = r;
  if (r.empty ? i !== 0 || r.sizeBytes !== 0 : i >= bufs.length || cur !== bufs[i]) {
    throw new HeapCorruptionError("RD1", `BufferReader: buffer index ${i} of ${bufs.length} does not match the current buffer`);
  }
  if (r.curLength !== cur.length || pos < 0 || pos > r.curLength) {
    throw new HeapCorruptionError("RD2", `BufferReader: offset ${pos} in a buffer of ${cur.length} bytes (cached length ${r.curLength})`);
  }
  let before = 0, total = 0;
  for (let k = 0; k < bufs.length; k++) {
    if (k === i) before = total;
    total += bufs[k]!.length;
  }
  if (before !== r.bufStart) throw new HeapCorruptionError("RD3", `BufferReader: buffer ${i} starts at ${before}, not at ${r.bufStart}`);
  if (r.bufStart + pos > r.sizeBytes || r.sizeBytes > total) {
    throw new HeapCorruptionError("RD4", `BufferReader: offset ${r.bufStart + pos}, size ${r.sizeBytes}, buffers hold ${total} bytes`);
  }
  const plain = r.plain;
  if (plain !== null && (plain.constructor !== Uint8Array || plain.buffer !== cur.buffer || plain.byteOffset !== cur.byteOffset || plain.length !== r.curLength)) {
    throw new HeapCorruptionError("RD5", `BufferReader: the plain view of buffer ${i} covers other memory`);
  }
}
