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
// Invariant (JS-side, kept by the code below):
//   K1  a cell is in the Map, under its address, exactly while its handle
//       is open and not collected; a block has at most one open handle

import { DisposedError, hex, InvalidAddressError } from "../errors.js";
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

// What the Map and the registry hold of an open handle.
interface Cell {
  readonly addr: number;
  readonly site: Error | null;
}

/** @internal The open handles of one Heap object and their backstop. */
export class HandleTable {
  /** Blocks the backstop freed, when the heap is in debug mode. */
  readonly leaked: LeakedHandle[] = [];
  private readonly open = new Map<number, Cell>();
  private readonly registry = new FinalizationRegistry<Cell>((cell) => this.collected(cell));

  constructor(private readonly heap: Heap) {}

  /** Opens a handle to the live block at addr (Heap.handle documents the errors). */
  make(addr: number): HeapHandle {
    const heap = this.heap;
    heap.checkLive(addr, "Heap.handle");
    if (this.open.has(addr)) {
      throw new InvalidAddressError(`Heap.handle: ${hex(addr)} has an open handle already; a block has one handle at a time (share that handle, or dispose it first)`);
    }
    const cell: Cell = { addr, site: heap.debugOptions === null ? null : new Error("handle site") };
    const handle = new HeapHandle(this, cell);
    this.open.set(addr, cell);
    this.registry.register(handle, cell, cell);
    return handle;
  }

  /** A handle's dispose: drops its root and frees its block, unless a reclaimer owns it. */
  release(cell: Cell): void {
    if (this.open.get(cell.addr) !== cell) return;
    this.open.delete(cell.addr);
    this.registry.unregister(cell);
    const r = this.heap.reclaimer;
    if (r === null || !r.owns(cell.addr)) this.heap.free(cell.addr);
  }

  /** Calls visit for the address of every open handle. */
  forEachOpen(visit: (addr: number) => void): void {
    for (const addr of this.open.keys()) visit(addr);
  }

  // The backstop: V8 collected a handle that was never disposed. A callback
  // of the registry must not throw, so a block that cannot be freed (freed
  // behind the handle's back, or the Heap was detached) is left alone.
  private collected(cell: Cell): void {
    if (this.open.get(cell.addr) !== cell) return;
    this.open.delete(cell.addr);
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
