// Scopes: blocks freed together when a JS lifetime ends (`using scope =
// heap.scope()`), the per-request arena. See heap.ts for an overview.
//
// A scope is JS-side state of one Heap object, not part of the image: it
// lasts as long as the JS code that opened it, on the thread that owns that
// Heap. Another Heap on the same memory (Heap.attach, another worker), or a
// saved image, sees the scope's blocks as ordinary live blocks.
//
// A scope's records:
//
//   records[0 .. count)  the addresses its alloc and calloc returned, oldest
//                        first; 0 marks one that keep() took out
//   pins                 the addresses pin() recorded (roots while the scope
//                        is open; never freed by it), or null
//
// The records array is a Uint32Array (addresses are u32: layout.ts) taken
// from a pool of its Heap's ScopeStack and given back at dispose, so a scope
// whose blocks fit a pooled array allocates one JS object, the scope itself.
// Each Heap keeps the open scopes in a stack, innermost last:
// heap.currentScope is the top. A scope may be disposed in any order; it
// leaves the stack wherever it stands.
//
// Invariants (JS-side, kept by the code below):
//   P1  every nonzero records entry is a block this scope's alloc or calloc
//       returned and keep() did not take out
//   P2  a scope is on its Heap's stack exactly while it is open

import { DisposedError, hex, InvalidAddressError } from "../errors.js";
import { describe } from "../common/options.js";
import type { Heap } from "./heap.js";

// A scope starts with 64 records (256 bytes); the pool keeps up to 8 arrays
// of at most 64 Ki records (256 KiB each, 2 MiB in all) for the next scopes.
const INITIAL_RECORDS = 64;
const POOLED_ARRAYS = 8;
const MAX_POOLED_RECORDS = 1 << 16;

const NO_RECORDS = new Uint32Array(0);

// How a message names a value passed as an address.
function nameAddr(addr: unknown): string {
  return typeof addr === "number" && Number.isInteger(addr) && addr >= 0 ? hex(addr) : describe(addr);
}

/** @internal The open scopes of one Heap object, and its pool of record arrays. */
export class ScopeStack {
  /** Open scopes, outermost first. */
  readonly open: HeapScope[] = [];
  private readonly pool: Uint32Array[] = [];

  constructor(private readonly heap: Heap) {}

  /** Opens a scope on top of the stack. */
  push(): HeapScope {
    const scope = new HeapScope(this.heap, this, this.pool.pop() ?? new Uint32Array(INITIAL_RECORDS));
    this.open.push(scope);
    return scope;
  }

  /** Takes a disposed scope off the stack, wherever it stands, and keeps its records array for the next scope. */
  close(scope: HeapScope, records: Uint32Array): void {
    const i = this.open.lastIndexOf(scope);
    if (i === this.open.length - 1) this.open.pop();
    else this.open.splice(i, 1);
    if (this.pool.length < POOLED_ARRAYS && records.length <= MAX_POOLED_RECORDS) this.pool.push(records);
  }

  /** Takes the block at addr out of the open scope that allocated it, if one did (a handle owns it now: handles.ts). */
  disown(addr: number): void {
    for (let i = this.open.length - 1; i >= 0; i--) if (this.open[i]!.disown(addr)) return;
  }

  /** Calls visit for every pin of every open scope. */
  forEachPin(visit: (addr: number) => void): void {
    for (const scope of this.open) scope.forEachPin(visit);
  }
}

/**
 * A set of blocks freed together when the scope is disposed: the
 * per-request arena. Made by `heap.scope()`; see there. A scope is JS-side
 * state of the Heap object that made it (not in the image), for the code
 * of the thread that owns that Heap.
 *
 * @example
 * {
 *   using scope = heap.scope();
 *   const header = scope.alloc(64);
 *   const body = scope.calloc(4096);
 *   const result = scope.alloc(256);
 *   scope.keep(result); // outlives the scope
 * } // header and body are freed here
 */
export class HeapScope {
  private heap: Heap | null;
  private records: Uint32Array;
  private count = 0;
  private pins: number[] | null = null;

  /** @internal Made by Heap.scope (ScopeStack.push). */
  constructor(heap: Heap, private readonly stack: ScopeStack, records: Uint32Array) {
    this.heap = heap;
    this.records = records;
  }

  /** True once the scope is disposed. */
  get disposed(): boolean {
    return this.heap === null;
  }

  /**
   * Allocates `sizeBytes` as heap.alloc does and records the block, which
   * dispose() frees. Errors as heap.alloc (the heap and the scope are
   * unchanged then); DisposedError once the scope is disposed. Cost: that of
   * heap.alloc plus a store; no JS allocation unless the records array
   * doubles.
   */
  alloc(sizeBytes: number): number {
    const addr = this.room("alloc").alloc(sizeBytes);
    this.records[this.count++] = addr;
    return addr;
  }

  /** As alloc, with the whole usable block zeroed (heap.calloc). */
  calloc(sizeBytes: number): number {
    const addr = this.room("calloc").calloc(sizeBytes);
    this.records[this.count++] = addr;
    return addr;
  }

  /**
   * Takes the block at `addr` out of the scope: dispose() will not free it
   * and, if the scope pinned it, it is no longer pinned. Throws
   * InvalidAddressError for an address the scope does not hold (neither
   * allocated by its alloc or calloc nor pinned), DisposedError once the
   * scope is disposed; nothing changes then. Cost: O(allocations since the
   * block's) + O(pins): recent blocks are found first.
   */
  keep(addr: number): void {
    if (this.heap === null) this.closed("keep");
    let found = this.disown(addr);
    const pins = this.pins;
    if (pins !== null) {
      for (let i = pins.length - 1; i >= 0; i--) {
        if (pins[i] !== addr) continue;
        pins[i] = pins[pins.length - 1]!;
        pins.pop();
        found = true;
      }
    }
    if (!found) {
      throw new InvalidAddressError(`HeapScope.keep: ${nameAddr(addr)} is not a block this scope holds (allocated by its alloc or calloc, or pinned by its pin)`);
    }
  }

  /**
   * Resizes the block at `addr`, which this scope allocated, as
   * heap.realloc does, and records the block it returns in its place:
   * dispose() frees that one. (heap.realloc of a scope's block would leave
   * the scope recording the old address, which it would then free again.)
   * Throws InvalidAddressError for an address this scope did not allocate
   * (or kept), DisposedError once the scope is disposed, and as
   * heap.realloc; nothing changes then. Cost: that of heap.realloc plus
   * O(allocations since the block's).
   */
  realloc(addr: number, sizeBytes: number): number {
    const heap = this.heap ?? this.closed("realloc");
    const i = this.indexOf(addr);
    if (i < 0) {
      heap.checkLive(addr, "HeapScope.realloc"); // OffheapTypeError for a non-number, InvalidAddressError for no block
      throw new InvalidAddressError(`HeapScope.realloc: ${nameAddr(addr)} is not a block this scope allocated (use heap.realloc for other blocks)`);
    }
    return (this.records[i] = heap.realloc(addr, sizeBytes));
  }

  /** @internal Takes addr out of the blocks dispose() frees (not out of the pins); true if the scope held it. */
  disown(addr: number): boolean {
    const records = this.records;
    const i = this.indexOf(addr);
    if (i < 0) return false;
    records[i] = 0;
    while (this.count > 0 && records[this.count - 1] === 0) this.count--;
    return true;
  }

  /**
   * Pins the live block at `addr` while the scope is open: a tracing
   * collector (offheap/collections) counts it as a root. dispose() does not
   * free a pinned block, even one this scope allocated; keep(addr) unpins
   * it. The same block may be pinned more than once. Throws
   * InvalidAddressError for an address that is not the start of a live
   * block, OffheapTypeError for a non-number, DisposedError once the scope
   * is disposed; nothing changes then. Cost: O(1).
   */
  pin(addr: number): void {
    const heap = this.heap ?? this.closed("pin");
    heap.checkLive(addr, "HeapScope.pin");
    (this.pins ??= []).push(addr);
  }

  /**
   * Frees every block the scope allocated and neither kept nor pinned,
   * newest first, through heap.free, and closes the scope: it leaves its
   * Heap's stack of open scopes (in any order: disposing an outer scope
   * before an inner one leaves the inner one open and on the stack). A
   * block that a reclaimer attached to the heap owns is not freed (nor one
   * a handle took: heap.handle disowns it). If
   * heap.free throws for a block (it was freed behind the scope's back:
   * DoubleFreeError or InvalidAddressError), dispose still frees all the
   * others and closes the scope, then rethrows the first such error.
   * Disposing again does nothing. Cost: O(records + pins) frees; no JS
   * allocation unless the scope has pins.
   */
  dispose(): void {
    const heap = this.heap;
    if (heap === null) return;
    this.heap = null;
    const records = this.records;
    const pinned = this.pins === null || this.pins.length === 0 ? null : new Set(this.pins);
    const r = heap.reclaimer;
    let failure: unknown = null;
    for (let i = this.count - 1; i >= 0; i--) {
      const addr = records[i]!;
      if (addr === 0 || (pinned !== null && pinned.has(addr)) || (r !== null && r.owns(addr))) continue;
      try {
        heap.free(addr);
      } catch (e) {
        failure ??= e;
      }
    }
    this.records = NO_RECORDS;
    this.count = 0;
    this.pins = null;
    this.stack.close(this, records);
    if (failure !== null) throw failure;
  }

  /** dispose(), for `using scope = heap.scope()`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal Calls visit for each of this scope's pins. */
  forEachPin(visit: (addr: number) => void): void {
    const pins = this.pins;
    if (pins !== null) for (let i = 0; i < pins.length; i++) visit(pins[i]!);
  }

  // The index of addr among the records, the newest first, or -1. (A
  // negative fromIndex counts from the end of the array, which a pooled
  // one fills past count with an earlier scope's records.)
  private indexOf(addr: number): number {
    return addr === 0 || this.count === 0 ? -1 : this.records.lastIndexOf(addr, this.count - 1);
  }

  // The heap, once the records have room for one more block (before it is
  // allocated: a failure to grow them must not leave a block unrecorded).
  // Doubling drops the old array rather than pooling it: the pool keeps the larger.
  private room(api: string): Heap {
    const heap = this.heap ?? this.closed(api);
    if (this.count === this.records.length) {
      const bigger = new Uint32Array(Math.max(INITIAL_RECORDS, this.records.length * 2));
      bigger.set(this.records);
      this.records = bigger;
    }
    return heap;
  }

  private closed(api: string): never {
    throw new DisposedError(`HeapScope.${api}: the scope was disposed`);
  }
}
