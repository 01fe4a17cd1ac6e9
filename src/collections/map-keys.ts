// Keys of OffHeapMap: validating and hashing a lookup key (setting the
// probes' query, table.ts), making a key block, and reading a stored key
// back. See map.ts for an overview and map-layout.ts for the blocks.

import type { Heap } from "../heap/heap.js";
import { OffheapRangeError, OffheapTypeError } from "../errors.js";
import { encodeScratch, hashAscii, hashBytes, hashWord, hashWords, keyWords, scratchBytes } from "./hash.js";
import { K_BYTES, K_F64, K_I32, K_STRING, K_U32, recordOffset } from "./map-layout.js";
import { describe } from "./scalar.js";
import { queryF64, queryLength, queryWord, queryWords } from "./table.js";

const f64Scratch = new Float64Array(1);
const wordsOfF64 = new Uint32Array(f64Scratch.buffer);

/**
 * Validates `key` for a map of key kind `keyKind`, makes it the probes'
 * query and returns its hash. Throws OffheapTypeError/RangeError naming
 * `api`. Cost: O(key length); no allocation for number keys, ASCII
 * strings and byte arrays.
 */
export function queryKey(seed: number, keyKind: number, api: string, key: unknown): number {
  switch (keyKind) {
    case K_STRING:
      if (typeof key === "string") {
        const h = hashAscii(key, seed);
        if (h !== 0) {
          queryWords(key.length);
          return h;
        }
        const n = encodeScratch(key);
        queryWords(n);
        return hashBytes(scratchBytes(), 0, n, seed);
      }
      if (key instanceof Uint8Array) break;
      throw new OffheapTypeError(`${api}: a key of this map must be a string or a Uint8Array of UTF-8, got ${describe(key)}`);
    case K_BYTES:
      if (key instanceof Uint8Array) break;
      throw new OffheapTypeError(`${api}: a key of this map must be a Uint8Array, got ${describe(key)}`);
    case K_F64:
      if (typeof key !== "number") throw new OffheapTypeError(`${api}: a key of this map must be a number, got ${describe(key)}`);
      queryF64(key);
      return hashF64(key, seed);
    default: {
      const ok = keyKind === K_U32 ? (key as number) >>> 0 === key : ((key as number) | 0) === key;
      if (!ok) {
        const range = keyKind === K_U32 ? "[0, 2^32)" : "[-2^31, 2^31)";
        if (typeof key === "number") throw new OffheapRangeError(`${api}: key ${key} is not an integer in ${range}`);
        throw new OffheapTypeError(`${api}: a key of this map must be a number, got ${describe(key)}`);
      }
      queryWord((key as number) >>> 0);
      return hashWord((key as number) >>> 0, seed);
    }
  }
  queryWords(key.length);
  return hashBytes(key, 0, key.length, seed);
}

/** Hash of an f64 key under SameValueZero: every NaN alike, -0 as 0. */
export function hashF64(key: number, seed: number): number {
  if (key !== key) return hashWords(0, 0x7ff80000, seed);
  f64Scratch[0] = key === 0 ? 0 : key;
  return hashWords(wordsOfF64[0]!, wordsOfF64[1]!, seed);
}

/**
 * A new key block holding the string or bytes query's key, zero-padded to
 * whole words (all of them asked for, so a debug heap's trailer is not
 * overwritten), with `recordBytes` more after it (8-byte aligned) for a
 * record. Errors as Heap.alloc. Cost: O(key length).
 */
export function makeKeyBlock(heap: Heap, recordBytes: number): number {
  const n = queryLength();
  const block = heap.alloc(recordBytes === 0 ? 4 + ((n + 3) & ~3) : recordOffset(n) + recordBytes);
  const u32 = heap.u32;
  const q = keyWords();
  u32[block >>> 2] = n;
  for (let j = 0, b = (block >>> 2) + 1, nw = (n + 3) >>> 2; j < nw; j++) u32[b + j] = q[j]!;
  return block;
}

/** The key stored in the slot at `slot`, as keys() returns it: a decoded string, a copy of the bytes, or a number. */
export function readKey(heap: Heap, keyKind: number, slot: number): unknown {
  switch (keyKind) {
    case K_STRING: return heap.readString(heap.u32[(slot >>> 2) + 1]!);
    case K_BYTES: {
      const k = heap.u32[(slot >>> 2) + 1]!;
      return heap.u8.slice(k + 4, k + 4 + heap.u32[k >>> 2]!);
    }
    case K_U32: return heap.u32[(slot >>> 2) + 1]!;
    case K_I32: return heap.i32[(slot >>> 2) + 1]!;
    default: return heap.f64[(slot + 8) >>> 3]!;
  }
}
