// Recyclable memory: buffers that are freed all at once, GoMem's
// RecyclableMemory. A frame parser takes what it needs with nextN() while it
// works on one message and gives everything back with one recycle().
//
// It remembers address/length pairs in a Float64Array, not the views
// themselves, so remembering costs no JS object and keeps no view alive.

import { OffheapTypeError } from "../errors.js";
import { describe } from "../common/options.js";
import { ScalableAllocator } from "./scalable-allocator.js";

const INITIAL_RECORDS = 16;

/**
 * Buffers from a ScalableAllocator that are remembered and freed together by
 * `recycle()` (or by leaving a `using` block).
 *
 * @example
 * using mem = new RecyclableMemory(new ScalableAllocator(heap));
 * const header = mem.nextN(16);
 * const body = mem.nextN(1024);
 * // ... both are freed when `mem` goes out of scope
 */
export class RecyclableMemory {
  /** The allocator buffers come from and go back to. */
  readonly allocator: ScalableAllocator;
  private records = new Float64Array(2 * INITIAL_RECORDS); // [address, length] pairs
  private count = 0;

  /**
   * Memory drawing on `allocator`, remembering nothing yet. Throws
   * OffheapTypeError if `allocator` is not a ScalableAllocator. O(1).
   */
  constructor(allocator: ScalableAllocator) {
    if (!(allocator instanceof ScalableAllocator)) {
      throw new OffheapTypeError(`RecyclableMemory: allocator must be a ScalableAllocator, got ${describe(allocator)}`);
    }
    this.allocator = allocator;
  }

  /** Number of buffers remembered for the next recycle(). */
  get buffers(): number {
    return this.count;
  }

  /**
   * A new view of `sizeBytes` bytes from the allocator, freed by the next
   * `recycle()`. Errors as `ScalableAllocator.malloc`; nothing is remembered
   * then.
   */
  nextN(sizeBytes: number): Uint8Array {
    const view = this.allocator.malloc(sizeBytes);
    this.remember(view.byteOffset, sizeBytes);
    return view;
  }

  /**
   * Remembers `view` (from the same allocator's `malloc`, or a sub-view of
   * one) to be freed by the next `recycle()`. Ownership passes to this
   * object: do not free the view yourself. Throws InvalidAddressError for a
   * view of other memory or outside the allocator's regions (a foreign
   * view's offset would name another buffer's bytes); nothing is
   * remembered then. An empty view is ignored.
   */
  addRecycleBytes(view: Uint8Array): void {
    if (!(view instanceof Uint8Array)) throw new OffheapTypeError(`RecyclableMemory.addRecycleBytes: expected a Uint8Array`);
    if (view.byteLength === 0) return;
    this.allocator.checkView(view, "RecyclableMemory.addRecycleBytes");
    this.remember(view.byteOffset, view.byteLength);
  }

  /**
   * Frees every remembered buffer. If some cannot be freed (freed already
   * elsewhere: DoubleFreeError), the others are still freed, nothing stays
   * remembered, and the first error is thrown at the end. O(buffers).
   */
  recycle(): void {
    const rec = this.records;
    const n = this.count;
    this.count = 0;
    let first: unknown = null;
    for (let i = 0; i < n; i++) {
      const length = rec[2 * i + 1]!;
      if (length === 0) continue;
      try {
        this.allocator.freeRange(rec[2 * i]!, length, "RecyclableMemory.recycle");
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== null) throw first;
  }

  /** `recycle()`, so that `using mem = new RecyclableMemory(a)` frees on scope exit. */
  [Symbol.dispose](): void {
    this.recycle();
  }

  private remember(address: number, length: number): void {
    let rec = this.records;
    const i = this.count;
    if (2 * i === rec.length) {
      const grown = new Float64Array(rec.length * 2);
      grown.set(rec);
      this.records = rec = grown;
    }
    rec[2 * i] = address;
    rec[2 * i + 1] = length;
    this.count = i + 1;
  }
}
