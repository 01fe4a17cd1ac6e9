// Typed-array views of a heap's buffer. See heap/heap.ts for an overview.
//
// Views are fixed-length (created with an explicit length) even over a
// growable buffer: a length-tracking view of a growable SharedArrayBuffer
// costs 20x per access (DESIGN.md, "Growth"). So they must be recreated
// after every growth, and only this function creates them.

/** The views a heap exposes, all over the same bytes. */
export interface Views {
  u8: Uint8Array;
  i8: Int8Array;
  u16: Uint16Array;
  i16: Int16Array;
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
  dataView: DataView;
}

/** Creates fixed-length views over the first `byteLength` bytes of `buffer` (a multiple of 8). */
export function createViews(buffer: ArrayBuffer | SharedArrayBuffer, byteLength: number): Views {
  // Lengths by division, not >>>: a 4 GiB heap's byteLength is 2^32, which >>> takes as 0.
  return {
    u8: new Uint8Array(buffer, 0, byteLength),
    i8: new Int8Array(buffer, 0, byteLength),
    u16: new Uint16Array(buffer, 0, Math.floor(byteLength / 2)),
    i16: new Int16Array(buffer, 0, Math.floor(byteLength / 2)),
    u32: new Uint32Array(buffer, 0, Math.floor(byteLength / 4)),
    i32: new Int32Array(buffer, 0, Math.floor(byteLength / 4)),
    f32: new Float32Array(buffer, 0, Math.floor(byteLength / 4)),
    f64: new Float64Array(buffer, 0, Math.floor(byteLength / 8)),
    dataView: new DataView(buffer, 0, byteLength),
  };
}

/**
 * Bytes of `buffer` a heap's views cover: up to the heap's range
 * (`rangeBytes`), never past what its bitmap describes even when a user's
 * memory is bigger, rounded down to a multiple of 8 for createViews.
 */
export function viewLength(buffer: ArrayBuffer | SharedArrayBuffer, rangeBytes: number): number {
  const n = Math.min(buffer.byteLength, rangeBytes);
  return n - (n % 8);
}
