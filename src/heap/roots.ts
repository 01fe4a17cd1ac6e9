// Named roots: addresses kept in the heap image under a name, so data built
// in a heap is found again after the image is saved and loaded, or attached
// from another Heap. See heap.ts for an overview.
//
// The root directory is one heap block; header word HDR_ROOTS holds its
// address (0 = no roots yet). Names are heap strings (Heap.fromString):
//
//   word 0  capacity (entries)     word 1  count
//   word 2 + 2i  entry i's name block      word 3 + 2i  entry i's address
//
// Roots are few and looked up rarely (once after a load), so the directory
// is a plain array searched linearly, grown by realloc.
//
// Invariant (checked by checkRoots; the ID appears in HeapCorruptionError):
//   N1  HDR_ROOTS is 0 or a live block of at least 8 + 8 * capacity bytes;
//       count <= capacity; every entry's name is a live block.

import { HeapCorruptionError, hex, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { HDR_ROOTS } from "./layout.js";

/** What the root directory needs of a heap: its public block API. */
interface RootHeap {
  u32: Uint32Array;
  alloc(sizeBytes: number): number;
  realloc(addr: number, sizeBytes: number): number;
  free(addr: number): void;
  sizeOf(addr: number): number;
  fromString(str: string): number;
  readString(addr: number): string;
  freeString(addr: number): void;
}

const INITIAL_CAPACITY = 8;
const MAX_NAME_LENGTH = 256;

/** Index of the entry named `name`, or -1. */
function find(heap: RootHeap, dir: number, name: string): number {
  const count = heap.u32[(dir >>> 2) + 1]!;
  for (let i = 0; i < count; i++) {
    if (heap.readString(heap.u32[(dir >>> 2) + 2 + 2 * i]!) === name) return i;
  }
  return -1;
}

function checkName(api: string, name: unknown): asserts name is string {
  if (typeof name !== "string") throw new OffheapTypeError(`${api}: a root name must be a string, got ${typeof name}`);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new OffheapRangeError(`${api}: a root name must be 1 to ${MAX_NAME_LENGTH} characters long, got ${name.length}`);
  }
}

/**
 * Names the library keeps its own roots under (the Collector's directory,
 * "offheap.gc"): Heap.setRoot refuses them and rootNames leaves them out, so
 * a program that clears every root it lists cannot cut a Collector off from
 * its state.
 */
export const RESERVED_ROOT_PREFIX = "offheap.";

/** The address stored under `name`, or 0 if there is none. */
export function getRoot(heap: RootHeap, name: string): number {
  checkName("Heap.getRoot", name);
  const dir = heap.u32[HDR_ROOTS]!;
  if (dir === 0) return 0;
  const i = find(heap, dir, name);
  return i < 0 ? 0 : heap.u32[(dir >>> 2) + 3 + 2 * i]!;
}

/**
 * Stores `address` under `name`; address 0 removes the root. `address` must
 * be the start of a live block (sizeOf checks it and throws
 * InvalidAddressError otherwise). Errors leave the roots as they were.
 */
export function setRoot(heap: RootHeap, name: string, address: number, library = false): void {
  checkName("Heap.setRoot", name);
  if (!library && name.startsWith(RESERVED_ROOT_PREFIX)) {
    throw new OffheapRangeError(`Heap.setRoot: root names beginning with "${RESERVED_ROOT_PREFIX}" are offheap's own (a Collector keeps its state under "${RESERVED_ROOT_PREFIX}gc"), got "${name}"`);
  }
  if (address !== 0) heap.sizeOf(address); // throws for anything but a live block
  let dir = heap.u32[HDR_ROOTS]!;
  const i = dir === 0 ? -1 : find(heap, dir, name);
  if (i >= 0) {
    const w = dir >>> 2;
    if (address !== 0) {
      heap.u32[w + 3 + 2 * i] = address;
      return;
    }
    // Remove: move the last entry into the hole.
    heap.freeString(heap.u32[w + 2 + 2 * i]!);
    const last = heap.u32[w + 1]! - 1;
    heap.u32[w + 2 + 2 * i] = heap.u32[w + 2 + 2 * last]!;
    heap.u32[w + 3 + 2 * i] = heap.u32[w + 3 + 2 * last]!;
    heap.u32[w + 1] = last;
    return;
  }
  if (address === 0) return;
  // A new entry: make the name and room for it first, so a failure (out of
  // memory) leaves the directory as it was.
  const nameBlock = heap.fromString(name);
  try {
    if (dir === 0) {
      dir = heap.alloc(8 + 8 * INITIAL_CAPACITY);
      heap.u32[dir >>> 2] = INITIAL_CAPACITY;
      heap.u32[(dir >>> 2) + 1] = 0;
      heap.u32[HDR_ROOTS] = dir;
    } else if (heap.u32[(dir >>> 2) + 1] === heap.u32[dir >>> 2]) {
      const capacity = heap.u32[dir >>> 2]! * 2;
      dir = heap.realloc(dir, 8 + 8 * capacity);
      heap.u32[dir >>> 2] = capacity;
      heap.u32[HDR_ROOTS] = dir;
    }
  } catch (err) {
    heap.freeString(nameBlock);
    throw err;
  }
  const u32 = heap.u32; // the heap may have grown
  const w = dir >>> 2;
  const n = u32[w + 1]!;
  u32[w + 2 + 2 * n] = nameBlock;
  u32[w + 3 + 2 * n] = address;
  u32[w + 1] = n + 1;
}

/** Names of every root, in no particular order. */
export function rootNames(heap: RootHeap): string[] {
  const dir = heap.u32[HDR_ROOTS]!;
  const names: string[] = [];
  if (dir === 0) return names;
  const count = heap.u32[(dir >>> 2) + 1]!;
  for (let i = 0; i < count; i++) {
    const name = heap.readString(heap.u32[(dir >>> 2) + 2 + 2 * i]!);
    if (!name.startsWith(RESERVED_ROOT_PREFIX)) names.push(name);
  }
  return names;
}

/** Calls visit(addr) for every root's address, reading no names. Cost: O(roots). */
export function forEachRootAddress(heap: RootHeap, visit: (addr: number) => void): void {
  const dir = heap.u32[HDR_ROOTS]!;
  if (dir === 0) return;
  const w = dir >>> 2;
  const count = heap.u32[w + 1]!;
  for (let i = 0; i < count; i++) visit(heap.u32[w + 3 + 2 * i]!);
}

/** Validates invariant N1; throws HeapCorruptionError. */
export function checkRoots(heap: RootHeap): void {
  const dir = heap.u32[HDR_ROOTS]!;
  if (dir === 0) return;
  const fail = (what: string): never => {
    throw new HeapCorruptionError("N1", `root directory at ${hex(dir)}: ${what}`);
  };
  let size = 0;
  try {
    size = heap.sizeOf(dir);
  } catch {
    fail("not a live block");
  }
  const capacity = heap.u32[dir >>> 2]!;
  const count = heap.u32[(dir >>> 2) + 1]!;
  if (8 + 8 * capacity > size || count > capacity) fail(`${count} of ${capacity} entries do not fit its ${size} bytes`);
  for (let i = 0; i < count; i++) {
    const name = heap.u32[(dir >>> 2) + 2 + 2 * i]!;
    try {
      heap.sizeOf(name);
    } catch {
      fail(`entry ${i}'s name ${hex(name)} is not a live block`);
    }
  }
}
