// Backing memory: the only code that creates, grows or shrinks the buffers a
// heap lives in. See heap/heap.ts for an overview.
//
// Measured on the project's machine (DESIGN.md, "Growth"): typed-array access
// runs at about 2 ns through views of a plain ArrayBuffer, a
// SharedArrayBuffer or a WebAssembly.Memory, and through fixed-length views
// of a growable SharedArrayBuffer; at about 4 ns through any view of a
// resizable ArrayBuffer. Growing a WebAssembly.Memory by 512 MiB takes
// 0.3-2 ms in place, while growing a plain ArrayBuffer by copying took 1.5 s.
// Hence the default, "wasm": a WebAssembly.Memory whose maximum is reserved
// up front by the engine and committed as it grows, with full-speed views.
// It is a shared memory (backed by a SharedArrayBuffer) wherever the platform
// allows one (Node; browsers when cross-origin isolated): growing an
// unshared memory detaches its old buffer, and the first detach anywhere in
// the process makes V8 check every typed-array access from then on, which
// measured 8.7 ns/op against 6.5 on pair64 after one growth. A shared memory
// grows without detaching. Its one limit, like every WebAssembly memory, is
// that it cannot shrink: trim() returns pages to the heap's reserve but not
// to the OS; "resizable" trades access speed for a buffer that shrinks.

import { OutOfMemoryError } from "../errors.js";

/** What `HeapOptions.memory` accepts. */
export type MemoryOption = "wasm" | "resizable" | ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory;

/** True if `x` is memory a heap can live in: an ArrayBuffer, a SharedArrayBuffer or a WebAssembly.Memory. */
export function isMemoryObject(x: unknown): x is ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory {
  return x instanceof ArrayBuffer || x instanceof WebAssembly.Memory || (typeof SharedArrayBuffer !== "undefined" && x instanceof SharedArrayBuffer);
}

/** Granule of WebAssembly.Memory sizes. */
export const WASM_PAGE_SIZE = 65536;

/**
 * A heap's backing memory. `buffer` is replaced when the memory grows (a
 * WebAssembly.Memory detaches its old buffer; a grown SharedArrayBuffer
 * keeps old views at their old length), so callers re-read it after `grow`.
 */
export interface Backing {
  /** The current buffer. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** The object the user sees as `heap.memory`. */
  readonly memory: ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory;
  /** Largest byte length this backing can ever reach. */
  readonly maxByteLength: number;
  /** Makes the buffer at least `byteLength` long; returns false if it cannot. */
  grow(byteLength: number): boolean;
  /** Makes the buffer `byteLength` long if this kind can shrink; returns whether it did. */
  shrink(byteLength: number): boolean;
  /** Makes `buffer` show growth by another thread now (refreshShared). */
  refresh(): void;
}

/**
 * Brings a shared WebAssembly.Memory's `buffer` in this thread up to date
 * with growth by another thread. V8 replaces it when this thread handles
 * the grow's interrupt, which can come after the growing thread's later
 * stores are visible here (a larger committed end in the header, say);
 * `grow(0)` replaces it at once. Other memories need nothing.
 */
export function refreshShared(memory: ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory): void {
  if (memory instanceof WebAssembly.Memory && typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer) memory.grow(0);
}

class WasmBacking implements Backing {
  constructor(readonly memory: WebAssembly.Memory, readonly maxByteLength: number) {}
  get buffer(): ArrayBuffer {
    return this.memory.buffer as ArrayBuffer; // a new object after any grow, by anyone
  }
  grow(byteLength: number): boolean {
    let have = this.memory.buffer.byteLength;
    if (byteLength <= have) return true;
    if (byteLength > this.maxByteLength) return false;
    refreshShared(this.memory); // another thread may have grown it already: grow from its real size
    have = this.memory.buffer.byteLength;
    if (byteLength <= have) return true;
    try {
      this.memory.grow(Math.ceil((byteLength - have) / WASM_PAGE_SIZE));
    } catch {
      return false; // beyond the memory's own maximum, or the engine refused
    }
    return true;
  }
  shrink(): boolean {
    return false;
  }
  refresh(): void {
    refreshShared(this.memory);
  }
}

class BufferBacking implements Backing {
  readonly maxByteLength: number;
  constructor(readonly buffer: ArrayBuffer | SharedArrayBuffer, maxByteLength: number) {
    const growable = isGrowable(buffer) ? buffer.maxByteLength : buffer.byteLength;
    this.maxByteLength = Math.min(growable, maxByteLength);
  }
  get memory(): ArrayBuffer | SharedArrayBuffer {
    return this.buffer;
  }
  grow(byteLength: number): boolean {
    const b = this.buffer;
    if (byteLength <= b.byteLength) return true;
    if (byteLength > this.maxByteLength || !isGrowable(b)) return false;
    try {
      if (b instanceof ArrayBuffer) b.resize(byteLength);
      else (b as SharedArrayBuffer & { grow(n: number): void }).grow(byteLength);
    } catch {
      return false;
    }
    return true;
  }
  refresh(): void {} // a growable SharedArrayBuffer's byteLength is current in every thread

  shrink(byteLength: number): boolean {
    const b = this.buffer;
    if (!(b instanceof ArrayBuffer) || !b.resizable || byteLength >= b.byteLength) return false;
    b.resize(byteLength);
    return true;
  }
}

// SharedArrayBuffer exists and may be used: always in Node, in a browser
// only on a cross-origin isolated page.
function sharedMemoryAllowed(): boolean {
  return typeof SharedArrayBuffer === "function" && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}

function isGrowable(b: ArrayBuffer | SharedArrayBuffer): b is (ArrayBuffer | SharedArrayBuffer) & { maxByteLength: number } {
  return (b as { resizable?: boolean }).resizable === true || (b as { growable?: boolean }).growable === true;
}

/**
 * Creates a new, zeroed memory of kind `"wasm"` or `"resizable"` holding
 * `initialBytes` and able to grow to `maxBytes`. Throws OutOfMemoryError if
 * the engine refuses the reservation.
 */
export function createMemory(kind: "wasm" | "resizable", initialBytes: number, maxBytes: number): WebAssembly.Memory | ArrayBuffer {
  try {
    if (kind === "wasm") {
      const maximum = Math.ceil(maxBytes / WASM_PAGE_SIZE);
      const initial = Math.ceil(initialBytes / WASM_PAGE_SIZE);
      return new WebAssembly.Memory({ initial, maximum, shared: sharedMemoryAllowed() });
    }
    return new ArrayBuffer(initialBytes, { maxByteLength: maxBytes });
  } catch (e) {
    const what = kind === "wasm" ? "a WebAssembly.Memory" : "a resizable ArrayBuffer";
    throw new OutOfMemoryError(`Heap: the engine refused ${what} of ${initialBytes} bytes (maximum ${maxBytes}): ${(e as Error).message}`);
  }
}

/**
 * Creates or adopts backing memory of at least `initialBytes`, growable up
 * to `maxBytes` where its kind allows. Throws OutOfMemoryError if the engine
 * refuses the reservation or a given buffer is shorter than `initialBytes`.
 */
export function openBacking(option: MemoryOption, initialBytes: number, maxBytes: number): Backing {
  const memory = option === "wasm" || option === "resizable" ? createMemory(option, initialBytes, maxBytes) : option;
  let backing: Backing;
  if (memory instanceof WebAssembly.Memory) {
    // A memory made here may reserve up to the next WebAssembly page.
    const max = option === "wasm" ? Math.ceil(maxBytes / WASM_PAGE_SIZE) * WASM_PAGE_SIZE : maxBytes;
    backing = new WasmBacking(memory, max);
  } else {
    backing = new BufferBacking(memory, maxBytes);
  }
  if (!backing.grow(initialBytes)) {
    throw new OutOfMemoryError(`Heap: the backing memory cannot hold ${initialBytes} bytes (it has ${backing.buffer.byteLength}, at most ${backing.maxByteLength})`);
  }
  return backing;
}
