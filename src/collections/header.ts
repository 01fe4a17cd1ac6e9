// The start every collection header shares, and the one routine that
// recognises a header in the heap: OffHeapArray (array.ts) and OffHeapMap
// (map.ts, map-layout.ts) open with it, and their check() validates with it.
//
//   +0 the kind's magic word ("OHAR" an array, "OHMP" a map)
//   +1 the type fingerprint: FNV-1a of the kind and its element, key and
//      value types (hash.ts), so a collection opened with other types is
//      refused instead of misread
//
// The rest of a header is the kind's own (array.ts, map-layout.ts).

import type { Heap } from "../heap/heap.js";
import { hex, InvalidAddressError, OffheapTypeError } from "../errors.js";
import { describe } from "./scalar.js";

/** Word of the magic in every collection header. */
export const HDR_MAGIC = 0;
/** Word of the type fingerprint in every collection header. */
export const HDR_TYPE = 1;

/** What the header routine needs of a collection kind. */
export interface CollectionKind {
  /** The class, as messages name it: `"OffHeapMap"`. */
  readonly name: string;
  /** Its magic word. */
  readonly magic: number;
  /** Bytes of its header block. */
  readonly headerBytes: number;
}

/** What is at an address: a header of the kind and type, a header of another type, or no header of the kind. */
export type HeaderState = "ok" | "other type" | "no header";

/**
 * Whether `address` holds a header of `kind` made with the types whose
 * fingerprint is `typeFingerprint`: the block must be live and large enough
 * and start with the kind's magic. Never throws. O(1).
 *
 * @example if (headerState(heap, MAP, hdr, fp) !== "ok") fail("M1", ...);
 */
export function headerState(heap: Heap, kind: CollectionKind, address: unknown, typeFingerprint: number): HeaderState {
  if (typeof address !== "number" || blockSize(heap, address) < kind.headerBytes || heap.u32[(address >>> 2) + HDR_MAGIC] !== kind.magic) return "no header";
  return heap.u32[(address >>> 2) + HDR_TYPE] === typeFingerprint ? "ok" : "other type";
}

/**
 * Returns `address` if it holds a header of `kind` with the fingerprint of
 * the types `typeText`. Throws InvalidAddressError if no header of the kind
 * is there, OffheapTypeError if it was made with other types; `api` names
 * the call. O(1).
 *
 * @example const hdr = openHeader(heap, "OffHeapMap.open", MAP, address, fp, "string -> f64");
 */
export function openHeader(heap: Heap, api: string, kind: CollectionKind, address: unknown, typeFingerprint: number, typeText: string): number {
  const state = headerState(heap, kind, address, typeFingerprint);
  if (state === "no header") {
    throw new InvalidAddressError(`${api}: ${typeof address === "number" ? hex(address) : describe(address)} is not the header of an ${kind.name}`);
  }
  if (state === "other type") throw new OffheapTypeError(`${api}: the ${kind.name} at ${hex(address as number)} was made with other types than ${typeText}`);
  return address as number;
}

/**
 * Usable bytes of the live block at `addr`, or -1 if no live block starts
 * there (Heap.sizeOf, made total for validators). O(1).
 *
 * @example if (blockSize(heap, table) < cap * slotBytes) fail("M2", ...);
 */
export function blockSize(heap: Heap, addr: number): number {
  try {
    return heap.sizeOf(addr);
  } catch {
    return -1;
  }
}
