// Strings in the heap: UTF-8 bytes behind a u32 byte-length prefix, in one
// block. See heap.ts for an overview.
//
//   addr        addr + 4                 addr + 4 + n
//   +-----------+------------------------+
//   | n (u32)   | n bytes of UTF-8       |
//   +-----------+------------------------+

import { hex, InvalidAddressError, OffheapTypeError } from "../errors.js";

/** What strings need of a heap: its views and block calls (debug mode's, when on). */
interface StringHeap {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  alloc(sizeBytes: number): number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes TextEncoder would produce for `str` (a lone surrogate becomes U+FFFD, 3 bytes). Cost: O(length), no allocation. */
export function utf8Length(str: string): number {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Stores `str` in a new block of `heap` and returns its address. Errors as alloc, and OffheapTypeError for a non-string. */
export function writeString(heap: StringHeap, str: unknown): number {
  if (typeof str !== "string") throw new OffheapTypeError(`Heap.fromString: expected a string, got ${typeof str}`);
  const n = utf8Length(str);
  const addr = heap.alloc(4 + n);
  heap.u32[addr >>> 2] = n;
  const u8 = heap.u8;
  if (n === str.length) {
    for (let i = 0; i < n; i++) u8[addr + 4 + i] = str.charCodeAt(i);
  } else {
    encoder.encodeInto(str, u8.subarray(addr + 4, addr + 4 + n));
  }
  return addr;
}

/** Decodes the string in the live block at `addr` of `sizeBytes` usable bytes. Throws InvalidAddressError if its length prefix exceeds the block. */
export function readString(heap: StringHeap, addr: number, sizeBytes: number): string {
  const n = heap.u32[addr >>> 2]!;
  if (4 + n > sizeBytes) {
    throw new InvalidAddressError(`Heap.readString: the block at ${hex(addr)} does not hold a string from fromString (length prefix ${n} exceeds the block)`);
  }
  const bytes = heap.u8.subarray(addr + 4, addr + 4 + n);
  return decoder.decode(bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice()); // Chrome's TextDecoder refuses a view of shared memory
}
