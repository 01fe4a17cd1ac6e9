// LEB128 decoding for BufferReader (buffer-reader.ts): measuring a number
// across buffers and decoding its bytes, without moving anything. The reader
// keeps the position and makes the errors; a read that fails moves nothing.
//
// A LEB128 number is 7 bits a byte, least significant first; every byte but
// the last has its top bit (0x80) set. Signed numbers are two's complement:
// bit 0x40 of the last byte is the sign. A JS number holds 53 bits: 8 bytes
// carry 56, enough for 2^53 - 1 with the 8th byte's digit at most 15
// (signed: -16 ... 15, but not -16 over seven zero digits: that is -2^53).
//
//   byte:   | c | d6 d5 d4 d3 d2 d1 d0 |   c = 1: another byte follows
//   value = sum of digit_k * 128^k, the last digit signed for signed numbers

/** Most bytes of a LEB128 number read as a JS number: 8 bytes, 56 bits. */
export const MAX_LEB128_BYTES = 8;
const LAST_MAX_DIGIT = 15;

const GATHERED = new Uint8Array(MAX_LEB128_BYTES); // a number that spans buffers

/** leb128Length's result when a byte is missing: a buffer lost bytes after they were counted (the reader's RD4). */
export const LEB128_LOST = -2;

/**
 * Bytes in the LEB128 number that starts at `pos` of `bufs[i]`, whose
 * counted length is `end`, and may go on into the following buffers, of
 * which `left` bytes are there to read: 1 … maxBytes, -1 if its first
 * maxBytes bytes all continue, 0 if it runs off the end first, LEB128_LOST
 * if a byte it reaches is missing (a buffer detached or shrunk since it was
 * counted, or the buffers hold fewer than `left` bytes). Moves nothing.
 * O(its bytes + buffers crossed); allocates nothing.
 *
 * @example leb128Length([Uint8Array.of(0xe5, 0x8e), Uint8Array.of(0x26)], 0, 0, 2, 3, 8) // 3
 */
export function leb128Length(bufs: readonly Uint8Array[], i: number, pos: number, end: number, left: number, maxBytes: number): number {
  let cur = bufs[i]!;
  for (let nBytes = 1; nBytes <= maxBytes; nBytes++) {
    if (left === 0) return 0;
    while (pos === end) {
      const next = bufs[++i];
      if (next === undefined) return LEB128_LOST;
      cur = next;
      end = next.length;
      pos = 0;
    }
    left--;
    const b = cur[pos++];
    if (b === undefined) return LEB128_LOST;
    if (b < 0x80) return nBytes;
  }
  return -1;
}

/**
 * The `nBytes` bytes (all there: leb128Length measured them) from `pos` of
 * `bufs[i]`, whose counted length is `end`, on, copied into one array, for a
 * number that spans buffers: a scratch array reused by the next call for up
 * to MAX_LEB128_BYTES, else a new one. Moves nothing. O(nBytes + buffers
 * crossed).
 *
 * @example decodeLEB128(gatherLEB128(bufs, i, pos, bufs[i].length, 3), 0, 3, false)
 */
export function gatherLEB128(bufs: readonly Uint8Array[], i: number, pos: number, end: number, nBytes: number): Uint8Array {
  const target = nBytes <= MAX_LEB128_BYTES ? GATHERED : new Uint8Array(nBytes);
  for (let at = 0; at < nBytes; ) {
    const cur = bufs[i++]!;
    while (pos < end && at < nBytes) target[at++] = cur[pos++]!;
    pos = 0;
    end = bufs[i]?.length ?? 0;
  }
  return target;
}

/**
 * The LEB128 number in `bytes[at … at + nBytes)` (its whole length, at
 * most MAX_LEB128_BYTES), or NaN when it lies beyond ±(2^53 - 1).
 * O(nBytes); allocates nothing.
 *
 * @example decodeLEB128(Uint8Array.of(0xc0, 0xbb, 0x78), 0, 3, true) // -123456
 */
export function decodeLEB128(bytes: Uint8Array, at: number, nBytes: number, signed: boolean): number {
  let value = 0, weight = 1;
  const last = at + nBytes - 1;
  for (let k = at; k < last; k++, weight *= 128) value += (bytes[k]! & 0x7f) * weight;
  const b = bytes[last]!;
  const digit = signed && b >= 0x40 ? b - 0x80 : b;
  if (nBytes === MAX_LEB128_BYTES && (digit > LAST_MAX_DIGIT || digit < -LAST_MAX_DIGIT - 1 || (digit === -LAST_MAX_DIGIT - 1 && value === 0))) return NaN;
  return value + digit * weight;
}

/**
 * The LEB128 number in `bytes[at … at + nBytes)`, of any length, as a
 * BigInt. O(nBytes); a few BigInt operations per 7 bytes.
 *
 * @example decodeBigLEB128(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), 0, 10, false) // 2n ** 64n
 */
export function decodeBigLEB128(bytes: Uint8Array, at: number, nBytes: number, signed: boolean): bigint {
  // Decode 7 bytes (49 bits) at a time in a number: few BigInt operations.
  let result = 0n, shiftBits = 0, last = 0;
  for (let done = 0; done < nBytes; ) {
    const group = Math.min(7, nBytes - done);
    let chunk = 0, weight = 1;
    for (let g = 0; g < group; g++, weight *= 128) {
      last = bytes[at + done + g]!;
      chunk += (last & 0x7f) * weight;
    }
    result |= BigInt(chunk) << BigInt(shiftBits);
    shiftBits += 7 * group;
    done += group;
  }
  if (signed && (last & 0x40) !== 0) result -= 1n << BigInt(shiftBits);
  return result;
}
