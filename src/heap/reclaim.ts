// The reclaimer hook: how a tracing collector (collections/collector.ts)
// takes blocks out of manual freeing, and finds the roots that open scopes
// and handles hold. See heap.ts for an overview.
//
// A heap without a reclaimer pays nothing for this: its free and realloc
// are the plain methods (or shared mode's, or debug mode's own calls), with
// no test for a reclaimer anywhere. attachReclaimer installs, as own
// properties of the heap object, a guarded free and realloc that ask the
// reclaimer first and then call the calls that would otherwise be in place;
// Heap.installFastPaths puts the guard back over the new calls whenever the
// heap switches between its single-thread and shared modes.

import { hex, OffheapTypeError } from "../errors.js";
import type { Heap } from "./heap.js";
import { PAGE_SHIFT } from "./layout.js";
import { CLASS_SIZE } from "./size-classes.js";
import { forEachRootAddress } from "./roots.js";
import { heapsOnMemory, imageOf } from "./thread-heaps.js";

/**
 * @internal log2 of the heap's page size. Every block that starts in one
 * page has the same usable size (a page holds one size class, or starts
 * one large block), so a collector's marker and sweep look a size up once
 * per page (collections/gc-mark.ts, gc-sweep.ts).
 */
export const SIZE_PAGE_SHIFT = PAGE_SHIFT;

/**
 * @internal Usable bytes of each size class, by class index (1..length-1),
 * for a marker that reads a block's class from its page descriptor itself
 * (the collector's wasm scan: collections/gc-mark.ts keeps a copy in
 * memory it can read).
 */
export const SIZE_CLASS_BYTES: Int32Array = CLASS_SIZE;

/** @internal What a heap asks of a reclaimer (a tracing collector) attached to it. */
export interface Reclaimer {
  /** True if the block at addr is managed by the reclaimer (a collected block): free/realloc/scope-free/handle-free must not free it. */
  owns(addr: number): boolean;
  /** Name used in error messages, e.g. "Collector". */
  readonly name: string;
  /** Validates the reclaimer's own state in the image; Heap.check calls it. Throws HeapCorruptionError. */
  check(): void;
  /**
   * Stops work it does on the image in the background (a Collector's
   * helper thread marking) until the program's next call of it: Heap.save
   * calls it before it reads the image, which must hold still until the
   * file is written.
   */
  quiesce?(): void;
}

/** The block calls the guard wraps. */
interface GuardedHeap {
  free(addr: number): void;
  realloc(addr: number, sizeBytes: number): number;
}

// The error of a free or realloc of a block `r` owns.
function refused(api: string, addr: number, r: Reclaimer): OffheapTypeError {
  return new OffheapTypeError(`${api}: ${hex(addr)} is a block the ${r.name} manages; drop its references and let it be collected`);
}

/**
 * @internal Installs on `heap`, as own properties, a free and a realloc that
 * throw OffheapTypeError for a block `r` owns (nothing changed) and
 * otherwise call the free and realloc the heap has now. Heap.installFastPaths
 * calls it after putting the unguarded calls in place. Cost: one call of
 * `r.owns` per free or realloc of a nonzero address.
 */
export function guardPaths(heap: GuardedHeap, r: Reclaimer): void {
  const free = heap.free;
  const realloc = heap.realloc;
  heap.free = (addr: number): void => {
    if (typeof addr === "number" && addr !== 0 && r.owns(addr)) throw refused("Heap.free", addr, r);
    free.call(heap, addr);
  };
  heap.realloc = (addr: number, sizeBytes: number): number => {
    if (typeof addr === "number" && addr !== 0 && r.owns(addr)) throw refused("Heap.realloc", addr, r);
    return realloc.call(heap, addr, sizeBytes);
  };
}

/**
 * @internal Attaches `r` to `heap`: from now on heap.free(addr) and
 * heap.realloc(addr, n) of a block r owns throw OffheapTypeError (message:
 * `Heap.free: 0x... is a block the Collector manages; drop its references
 * and let it be collected`), heap unchanged; scopes and handles drop their
 * roots to such blocks without freeing them. Throws OffheapTypeError if a
 * reclaimer is attached already. Cost: O(1).
 */
export function attachReclaimer(heap: Heap, r: Reclaimer): void {
  const current = heap.reclaimer;
  if (current !== null) throw new OffheapTypeError(`attachReclaimer: this Heap has a reclaimer already (${current.name}); detach it first`);
  heap.reclaimer = r;
  heap.installFastPaths();
}

/**
 * @internal Detaches `r` from `heap` and puts back the free and realloc the
 * heap would have without it. Throws OffheapTypeError if `r` is not the
 * heap's reclaimer. Cost: O(1).
 */
export function detachReclaimer(heap: Heap, r: Reclaimer): void {
  if (heap.reclaimer !== r) throw new OffheapTypeError(`detachReclaimer: ${r.name} is not attached to this Heap`);
  heap.reclaimer = null;
  heap.installFastPaths();
}

// A Collector's roots are its Heap's handles and scopes, and its write
// barrier is found by its Heap: a second Heap of the same thread on the same
// memory (Heap.attach shares the slot) would open handles and scopes it does
// not see and store refs it is not told of, and could make a second
// Collector on the same image. So a Collector claims its memory for its Heap
// alone, per thread as this module is (another thread's Heap puts the heap
// in shared mode, where a Collector refuses to run).
const soleReclaimers = new WeakMap<object, Reclaimer>();

/**
 * @internal Throws OffheapTypeError, naming `api`, unless `heap` is the only
 * Heap of this thread on its memory and no reclaimer claimed the memory
 * (claimSoleHeap). Changes nothing.
 */
export function checkSoleHeap(heap: Heap, api: string): void {
  const other = soleReclaimers.get(imageOf(heap.memoryObject));
  if (other !== undefined) throw new OffheapTypeError(`${api}: a ${other.name} runs on this memory already; one per heap`);
  if (heapsOnMemory(heap.memoryObject) > 1) {
    throw new OffheapTypeError(`${api}: another Heap of this thread is attached to the same memory (Heap.attach); detach it first, so that every handle, scope and store of the heap goes through this one`);
  }
}

/** @internal Claims `heap`'s memory for `r` (after checkSoleHeap): Heap.attach of it in this thread is refused until releaseSoleHeap. */
export function claimSoleHeap(heap: Heap, r: Reclaimer): void {
  soleReclaimers.set(imageOf(heap.memoryObject), r);
}

/** @internal Ends the claim of `r` on `heap`'s memory. */
export function releaseSoleHeap(heap: Heap, r: Reclaimer): void {
  const key = imageOf(heap.memoryObject);
  if (soleReclaimers.get(key) === r) soleReclaimers.delete(key);
}

/**
 * @internal Throws OffheapTypeError, naming `api`, if a reclaimer claimed the
 * memory of `heap`, just attached (Heap.attach, which then detaches it), for
 * another Heap of this thread on the same image.
 */
export function refuseClaimedMemory(heap: Heap, api: string): void {
  const r = soleReclaimers.get(imageOf(heap.memoryObject));
  if (r !== undefined) {
    throw new OffheapTypeError(`${api}: this thread's Heap on this memory runs a ${r.name}; use that Heap (a second one would open handles and scopes the ${r.name} does not see)`);
  }
}

/** @internal The reclaimer attached to heap, or null. */
export function reclaimerOf(heap: Heap): Reclaimer | null {
  return heap.reclaimer;
}

/**
 * @internal Calls visit(addr) for every address a collector's cycle starts
 * from: the heap's named roots, its open handles and its open scopes'
 * pins (duplicates allowed). Allocates nothing per address and reads no
 * root names. Cost: O(roots + open handles + open scopes + pins).
 */
export function forEachRoot(heap: Heap, visit: (addr: number) => void): void {
  forEachRootAddress(heap, visit);
  forEachPinned(heap, visit);
}

/**
 * @internal Calls visit(addr) for every address rooted by this Heap's open
 * handles and its open scopes' pins (duplicates allowed). Allocates nothing
 * per address. Cost: O(open handles + open scopes + pins).
 */
export function forEachPinned(heap: Heap, visit: (addr: number) => void): void {
  heap.scopes?.forEachPin(visit);
  heap.handles?.forEachOpen(visit);
}

/** Makers of the reclaimer a heap opened over an existing image starts with (registerImageReclaimer). */
const imageReclaimers: ((heap: Heap) => Reclaimer | null)[] = [];

/**
 * @internal Registers `make`, which Heap.attach (and so Heap.load) calls on
 * every heap it opens; the first reclaimer one returns is attached.
 * collections/gc-space.ts registers the guard of the blocks a Collector
 * left in the image, so that opening an image does not leave them open to
 * heap.free until a Collector is made. Registering twice does nothing.
 */
export function registerImageReclaimer(make: (heap: Heap) => Reclaimer | null): void {
  if (!imageReclaimers.includes(make)) imageReclaimers.push(make);
}

/** @internal Attaches to `heap`, just opened over an image, the reclaimer the first registered maker returns, if any. O(makers). */
export function adoptImageReclaimer(heap: Heap): void {
  for (const make of imageReclaimers) {
    const r = make(heap);
    if (r !== null) {
      attachReclaimer(heap, r);
      return;
    }
  }
}
