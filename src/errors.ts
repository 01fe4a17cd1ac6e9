// Typed errors of offheap. See heap/heap.ts for an overview.
//
// Every failure the heap detects has its own class with a stable `code`, and
// all of them extend OffheapError. Bad arguments (a size that is not a
// non-negative safe integer, a wrong type) throw the standard RangeError and
// TypeError, subclassed only to carry a `code` as Node's own errors do.
// Messages name the API, the value and the rule.

/** Base class of every error offheap throws for a heap condition; `code` is stable across versions. */
export class OffheapError extends Error {
  /** Stable machine-readable code, e.g. `"ERR_OFFHEAP_DOUBLE_FREE"`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The heap cannot grow to serve a request: `maxSize` or the backing memory's limit is reached. The heap stays usable. */
export class OutOfMemoryError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_OUT_OF_MEMORY", message);
  }
}

/** `free`/`realloc` of the start of a block that is not allocated (freed already, or never handed out). */
export class DoubleFreeError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_DOUBLE_FREE", message);
  }
}

/** An address that is not the start of a live block: outside the heap, misaligned, inside a block, or in free pages. */
export class InvalidAddressError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_INVALID_ADDRESS", message);
  }
}

/** `check()` (or an operation) found damaged heap metadata; the message names the broken invariant and the address. */
export class HeapCorruptionError extends OffheapError {
  /** The ID of the broken invariant, as listed in heap/layout.ts (e.g. `"S1"`). */
  readonly invariant: string;
  constructor(invariant: string, message: string) {
    super("ERR_OFFHEAP_HEAP_CORRUPTION", `${message} [invariant ${invariant}]`);
    this.invariant = invariant;
  }
}

/** `Heap.attach` was given memory that does not hold a heap image this version can open. Nothing was changed. */
export class InvalidImageError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_INVALID_IMAGE", message);
  }
}

/**
 * A read past the end of the data: `BufferReader` throws it and leaves its
 * position unchanged, so a caller can wait for more bytes and read again.
 */
export class EndOfDataError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_END_OF_DATA", message);
  }
}

/** A collection was used after `dispose()`: its blocks are freed and the object is unusable. */
export class DisposedError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_DISPOSED", message);
  }
}

/**
 * An iterator over a collection went on after the collection gained or lost
 * entries (which may move entries between slots); the iterator is finished.
 * Updating the value of an existing key does not count.
 */
export class ConcurrentModificationError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_CONCURRENT_MODIFICATION", message);
  }
}

/**
 * A worker the library runs (a Collector's helper thread) did not answer
 * in time: it is stalled from outside, or gone without a word. Nothing was
 * changed; the call can be made again.
 */
export class WorkerTimeoutError extends OffheapError {
  constructor(message: string) {
    super("ERR_OFFHEAP_WORKER_TIMEOUT", message);
  }
}

/** A RangeError with a stable `code`: a numeric argument outside its allowed range. */
export class OffheapRangeError extends RangeError {
  readonly code = "ERR_OFFHEAP_OUT_OF_RANGE";
  constructor(message: string) {
    super(message);
    this.name = "RangeError";
  }
}

/** A TypeError with a stable `code`: an argument of the wrong type. */
export class OffheapTypeError extends TypeError {
  readonly code = "ERR_OFFHEAP_INVALID_ARG_TYPE";
  constructor(message: string) {
    super(message);
    this.name = "TypeError";
  }
}

/** Formats an address as the messages print it: `0x3f08`. */
export function hex(addr: number): string {
  return "0x" + addr.toString(16);
}
