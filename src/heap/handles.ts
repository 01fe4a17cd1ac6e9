// Handles: a JS object that owns one block and frees it when disposed, with
// the engine's garbage collector as a backstop. See heap.ts for an overview.
//
// Like a scope, a handle is JS-side state of one Heap object. Each Heap
// keeps its open handles in a Map from address to a cell (the address and,
// in debug mode, the stack that made the handle). The cell does not refer to
// its handle, so the Map does not keep handles alive: a FinalizationRegistry
// is given the handle with its cell, and when V8 collects a handle that was
// never disposed, the registry's callback frees the block (the backstop).
// In debug mode each block the backstop frees is reported in
// heap.leakedHandles(). The backstop runs when V8 decides, if ever: dispose
// is the way to free, the backstop only bounds a leak.
//
// A handle owns its block, so while a Heap has open handles its free and
// realloc are guarded (as a reclaimer's are, reclaim.ts): free of a block
// with an open handle throws, and realloc moves the handle with the block.
// Without the guard a free behind the handle's back let the block be
// reused, and the handle's dispose (or the backstop, whenever V8 ran it)
// then freed the new owner's block. The guard asks a filter first: a count
// of open handles per bucket of addresses, one typed-array load per free,
// and the Map only when the bucket holds one. Wrapping the fast path costs
// 1-1.5 ns per call of an alloc/free loop (about 6 ns a call unguarded),
// so the guard is put in place with the first open handle and taken away
// with the last: a Heap without open handles pays nothing. (Kept in place
// from the first handle on instead, a loop that opened and disposed a
// handle every 2,048 calls ran at 7.9-8.8 ns a call, against 6.5-7.7
// toggled: the toggles cost less than the guard.)
//
// Invariants (JS-side, kept by the code below):
//   K1  a cell is in the Map, under its address, exactly while its handle
//       is open and not collected; a block has at most one open handle
//   K2  filter[bucket(a)] counts the Map's addresses a in that bucket

import { DisposedError, hex, InvalidAddressError, OffheapTypeError } from "../errors.js";
import { formatStack } from "../common/debug-kit.js";
import type { Heap } from "./heap.js";

/** A block freed by the backstop because its handle was collected without dispose (debug mode: heap.leakedHandles()). */
export interface LeakedHandle {
  /** The block's address (free now; it may have been reused since). */
  addr: number;
  /** Its size: what it was allocated with in debug mode, else its usable size. */
  size: number;
  /** The stack that called heap.handle. */
  site: string;
}

// What the Map and the registry hold of an open handle (addr changes when realloc moves the block).
interface Cell {
  addr: number;
  readonly site: Error | null;
}

// The filter's buckets: blocks are 8-byte aligned, and neighbours (one
// size class's blocks, allocated one after another) fall into different ones.
const FILTER_BUCKETS = 4096;
const bucket = (addr: number): number => (addr >>> 3) & (FILTER_BUCKETS - 1);

// The guard's error (out of line: the guard is inlined where free is called).
function refuseFree(addr: number): never {
  throw new OffheapTypeError(`Heap.free: ${hex(addr)} has an open handle, which owns it; free it with the handle's dispose()`);
}

/** The block calls the guard wraps. */
interface GuardedHeap {
  free(addr: number): void;
  realloc(addr: number, sizeBytes: number): number;
}

/** @internal The open handles of one Heap object and their backstop. */
export class HandleTable {
  /** Blocks the backstop freed, when the heap is in debug mode. */
  readonly leaked: LeakedHandle[] = [];
  private readonly open = new Map<number, Cell>();
  private readonly filter = new Int32Array(FILTER_BUCKETS);
  private readonly registry = new FinalizationRegistry<Cell>((cell) => this.collected(cell));
  // Guarded reallocs under way: each has taken its handle out of the Map, which may leave it empty.
  private moving = 0;
  /** Handles the backstop collected while a save was in flight (Heap.saving): their blocks are freed once it settles. */
  private deferred: Cell[] | null = null;

  constructor(private readonly heap: Heap) {}

  /**
   * Installs on `heap`, as own properties, a free that throws
   * OffheapTypeError for a block with an open handle (nothing changed) and
   * a realloc that moves the handle to the block it returns; both then call
   * the free and realloc the heap has now, while handles are open.
   * Heap.installFastPaths calls it. Cost: a typed-array load per call.
   */
  guard(heap: GuardedHeap): void {
    // A realloc's lock can switch the thread mode (slots.ts), which puts the
    // calls back in place while its handle is out of the Map: the guard
    // stays, or the handle would be left open without it.
    if (this.open.size === 0 && this.moving === 0) return;
    const { free, realloc } = heap;
    heap.free = (addr: number): void => {
      if (typeof addr === "number" && this.holds(addr)) refuseFree(addr);
      free.call(heap, addr);
    };
    heap.realloc = (addr: number, sizeBytes: number): number => {
      if (typeof addr !== "number" || !this.holds(addr)) return realloc.call(heap, addr, sizeBytes);
      const cell = this.drop(addr); // out of the Map while realloc frees the old block
      this.moving++;
      try {
        cell.addr = realloc.call(heap, addr, sizeBytes);
      } finally {
        this.moving--;
        this.add(cell); // at the new block, or at the old one, untouched, after an error
      }
      return cell.addr;
    };
  }

  // True if the block at addr has an open handle.
  private holds(addr: number): boolean {
    return this.filter[bucket(addr)] !== 0 && this.open.has(addr);
  }

  private add(cell: Cell): void {
    this.open.set(cell.addr, cell);
    this.filter[bucket(cell.addr)]!++;
  }

  // Takes a closing handle out of the Map, and the guard away with the last one.
  private close(cell: Cell): void {
    this.drop(cell.addr);
    if (this.open.size === 0) this.heap.installFastPaths();
  }

  private drop(addr: number): Cell {
    const cell = this.open.get(addr)!;
    this.open.delete(addr);
    this.filter[bucket(addr)]!--;
    return cell;
  }

  /** Opens a handle to the live block at addr (Heap.handle documents the errors). */
  make(addr: number): HeapHandle {
    const heap = this.heap;
    heap.checkLive(addr, "Heap.handle");
    if (this.open.has(addr)) {
      throw new InvalidAddressError(`Heap.handle: ${hex(addr)} has an open handle already; a block has one handle at a time (share that handle, or dispose it first)`);
    }
    const cell: Cell = { addr, site: heap.debugOptions === null ? null : new Error("handle site") };
    heap.scopes?.disown(addr); // a scope's block moves to the handle
    const handle = new HeapHandle(this, cell);
    this.add(cell);
    if (this.open.size === 1) heap.installFastPaths(); // the guard, for the first open handle
    this.registry.register(handle, cell, cell);
    return handle;
  }

  /** A handle's dispose: drops its root and frees its block, unless a reclaimer owns it. */
  release(cell: Cell): void {
    if (this.open.get(cell.addr) !== cell) return;
    this.close(cell);
    this.registry.unregister(cell);
    const r = this.heap.reclaimer;
    if (r === null || !r.owns(cell.addr)) this.heap.free(cell.addr);
  }

  /** Frees the blocks of the handles collected during saves (Heap.save, once the last one settles). */
  afterSave(): void {
    const cells = this.deferred;
    this.deferred = null;
    if (cells !== null) for (const cell of cells) this.collected(cell);
  }

  /** Calls visit for the address of every open handle. */
  forEachOpen(visit: (addr: number) => void): void {
    for (const addr of this.open.keys()) visit(addr);
  }

  // The backstop: V8 collected a handle that was never disposed. A callback
  // of the registry must not throw, so a block that cannot be freed (freed
  // behind the handle's back, or the Heap was detached) is left alone.
  // While Heap.save writes the image, the free waits (the handle stays open
  // meanwhile): the program did not change the heap, so the save must not
  // see it change.
  private collected(cell: Cell): void {
    if (this.open.get(cell.addr) !== cell) return;
    if (this.heap.saving > 0) {
      (this.deferred ??= []).push(cell);
      return;
    }
    this.close(cell);
    const heap = this.heap;
    const r = heap.reclaimer;
    if (r !== null && r.owns(cell.addr)) return;
    try {
      const size = heap.sizeOf(cell.addr);
      heap.free(cell.addr);
      if (cell.site !== null) this.leaked.push({ addr: cell.addr, size, site: formatStack(cell.site) });
    } catch {
      // documented above: nothing to free
    }
  }
}

/**
 * Owns one block of a heap: dispose() frees it. Made by `heap.handle(addr)`;
 * see there. A handle that is dropped without dispose is a leak the engine's
 * garbage collector bounds: when it collects the handle, the block is freed
 * (and reported in heap.leakedHandles() in debug mode).
 *
 * @example
 * using h = heap.handle(heap.alloc(64));
 * heap.u32[h.addr >>> 2] = 1;
 * // freed at the end of the block
 */
export class HeapHandle {
  private table: HandleTable | null;

  /** @internal Made by Heap.handle (HandleTable.make). */
  constructor(table: HandleTable, private readonly cell: Cell) {
    this.table = table;
  }

  /** The block's address. Throws DisposedError once the handle is disposed (the block may be reused). */
  get addr(): number {
    if (this.table === null) throw new DisposedError(`HeapHandle.addr: the handle was disposed (its block ${hex(this.cell.addr)} was freed)`);
    return this.cell.addr;
  }

  /** True once the handle is disposed. */
  get disposed(): boolean {
    return this.table === null;
  }

  /**
   * Frees the block through heap.free (unless a reclaimer attached to the
   * heap owns it: then it only stops rooting it) and closes the handle;
   * disposing again does nothing. If heap.free throws (the block was freed
   * behind the handle's back), the handle is closed all the same and the
   * error propagates. Cost: that of heap.free plus a Map delete.
   */
  dispose(): void {
    const table = this.table;
    if (table === null) return;
    this.table = null;
    table.release(this.cell);
  }

  /** dispose(), for `using h = heap.handle(addr)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
