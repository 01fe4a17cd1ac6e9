// Byte copies of the buffers layer: the bytes of consecutive buffers (a
// "run" is the part of one buffer that a copy takes) gathered into one
// target. BufferList.copyTo and BufferReader.read, whose target is the
// caller's, use copyRuns, which is right when the target shares memory with
// the buffers; copies into memory just allocated (BufferList.toBytes, the
// reader's readBytes, FrameParser's frames) use copyForward.
//
// Overlap. A target may share memory with the buffers it is filled from: a
// list of views into a heap copied to another place in the same heap.
// copyRuns then gives memmove's result: the target ends up holding the bytes
// the buffers held before the call. Two views share memory when they have
// the same ArrayBuffer, and may when both have SharedArrayBuffers (two
// SharedArrayBuffer objects can be one block: a WebAssembly.Memory's buffer
// before and after grow, or one posted to a worker and back; JS cannot tell
// them apart, so they count as one block, addressed by byteOffset, which at
// worst orders copies that did not need it). In one block, run k's source is
// [s_k, s_k + len_k) and its destination [d_k, d_k + len_k), the
// destinations tiling [t, t + n) in order. Copied in order, run k finds
// [t, d_k) written; in reverse order, [d_k + len_k, t + n). So:
//   1. no source meets [t, t + n) (the common case; one identity test per
//      run): copy forward, as if nothing overlapped;
//   2. no source k meets [t, d_k): copy forward, each run by TypedArray#set,
//      which is a memmove itself (its spec clones an overlapping source);
//   3. no source k meets [d_k + len_k, t + n): copy backward, likewise;
//   4. else (runs that trade places): set aside a copy of each source that
//      step 2's order would overwrite, then copy forward. Only this case
//      allocates, and only the bytes of those runs.

// Copies of fewer bytes than this run as a byte loop: below it, creating the
// subarray view that TypedArray#set needs costs more than the loop.
const SMALL_COPY_BYTES = 32;

/**
 * Copies `nBytes` bytes of `bufs`, starting at offset `pos` of
 * `bufs[first]`, to the start of `target`, with memmove's result when
 * `target` shares memory with them (see above); the caller checks that
 * `target` is long enough. Returns false, writing nothing, if the buffers
 * hold fewer bytes from there (one was detached or shrunk after its owner
 * counted it: a view of memory that grew unshared, or of a resizable
 * ArrayBuffer that shrank); the caller reports its broken invariant.
 * Cost: O(runs) tests, then the copy; it allocates only for runs that trade
 * places in shared memory (case 4).
 * @internal
 */
export function copyRuns(bufs: readonly Uint8Array[], first: number, pos: number, nBytes: number, target: Uint8Array): boolean {
  const tb = target.buffer;
  const shared = isShared(tb);
  const t = target.byteOffset;
  let overlap = false;
  let at = 0;
  for (let i = first, start = pos; at < nBytes; i++, start = 0) {
    if (i === bufs.length) return false;
    const buf = bufs[i]!;
    const len = runLength(buf, start, nBytes - at);
    if (!overlap && sameBlock(buf.buffer, tb, shared) && meets(buf.byteOffset + start, len, t, nBytes)) overlap = true;
    at += len;
  }
  if (overlap) copyOverlapping(bufs, first, pos, nBytes, target, shared);
  else copyForward(bufs, first, pos, nBytes, target);
  return true;
}

/**
 * copyRuns for a target that shares no memory with `bufs` (one just
 * allocated): the runs copied in order, short ones by a byte loop. Returns
 * false if the buffers hold fewer than `nBytes` bytes (as copyRuns; the
 * bytes they do hold are copied). O(bytes).
 * @internal
 */
export function copyForward(bufs: readonly Uint8Array[], first: number, pos: number, nBytes: number, target: Uint8Array): boolean {
  let at = 0;
  for (let i = first, start = pos; at < nBytes; i++, start = 0) {
    if (i === bufs.length) return false;
    const buf = bufs[i]!;
    const len = runLength(buf, start, nBytes - at);
    if (len < SMALL_COPY_BYTES) {
      for (let k = 0; k < len; k++) target[at + k] = buf[start + k]!;
    } else {
      target.set(start === 0 && len === buf.length ? buf : new Uint8Array(buf.buffer, buf.byteOffset + start, len), at);
    }
    at += len;
  }
  return true;
}

// Bytes of `buf` from `start` that a copy still needing `wanted` takes: none
// where `buf` shrank below `start`.
function runLength(buf: Uint8Array, start: number, wanted: number): number {
  return Math.max(0, Math.min(buf.length - start, wanted));
}

// Steps 2 to 4 above, for runs of which at least one meets the target.
function copyOverlapping(bufs: readonly Uint8Array[], first: number, pos: number, nBytes: number, target: Uint8Array, shared: boolean): void {
  const tb = target.buffer;
  const t = target.byteOffset, tEnd = t + nBytes;
  const runs: Uint8Array[] = [];
  const overwrittenForward: boolean[] = [];
  let forwardSafe = true, backwardSafe = true;
  let at = 0;
  for (let i = first, start = pos; at < nBytes; i++, start = 0) {
    const buf = bufs[i]!;
    const len = runLength(buf, start, nBytes - at);
    const s = buf.byteOffset + start, d = t + at;
    const same = sameBlock(buf.buffer, tb, shared);
    const forward = same && meets(s, len, t, d - t);
    if (same && meets(s, len, d + len, tEnd - d - len)) backwardSafe = false;
    if (forward) forwardSafe = false;
    if (len > 0) { // an empty run may be of a detached buffer, which no view can be made of
      runs.push(new Uint8Array(buf.buffer, s, len));
      overwrittenForward.push(forward);
    }
    at += len;
  }
  if (!forwardSafe && backwardSafe) {
    for (let k = runs.length - 1; k >= 0; k--) {
      at -= runs[k]!.length;
      target.set(runs[k]!, at);
    }
    return;
  }
  if (!forwardSafe) for (let k = 0; k < runs.length; k++) if (overwrittenForward[k]) runs[k] = runs[k]!.slice();
  at = 0;
  for (let k = 0; k < runs.length; k++) {
    target.set(runs[k]!, at);
    at += runs[k]!.length;
  }
}

// Whether [a, a + aLen) and [b, b + bLen) share a byte.
function meets(a: number, aLen: number, b: number, bLen: number): boolean {
  return aLen > 0 && bLen > 0 && a < b + bLen && b < a + aLen;
}

// Whether a view of `buffer` may share memory with the target's `tb` (see above).
function sameBlock(buffer: ArrayBufferLike, tb: ArrayBufferLike, targetShared: boolean): boolean {
  return buffer === tb || (targetShared && isShared(buffer));
}

// By the object's tag, so that a SharedArrayBuffer of another realm counts
// and a page without SharedArrayBuffer (no cross-origin isolation) works;
// the instanceof test first keeps the tag off the path of plain ArrayBuffers.
function isShared(buffer: ArrayBufferLike): boolean {
  return !(buffer instanceof ArrayBuffer) && Object.prototype.toString.call(buffer) === "[object SharedArrayBuffer]";
}
