// The allocators the benchmark compares, each behind the adapter interface workloads.mjs expects.
//
// loadAllocator(name) imports only what that allocator needs and returns a
// factory; every call of the factory makes a fresh allocator (a fresh heap,
// pool or wasm instance), so a workload's blocks are released when it ends.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Column order of the results table. */
export const ALLOCATORS = ["offheap", "offheap-profiled", "v8", "thi.ng", "as-tlsf", "floor"];

/** Byte size of the JS loop floor's ring (as RING_BYTES in native/workloads.c): larger than any block, small enough for L2. */
export const FLOOR_RING_BYTES = 1 << 16;

/** Options every offheap heap in the benchmark is created with. */
export const OFFHEAP_OPTIONS = { initialSize: 1 << 20, maxSize: 2 ** 31 };

/** Byte size of each thi.ng MemPool: it cannot grow; the ArrayBuffer commits pages only when touched. */
export const THING_POOL_BYTES = 2 ** 31;

/** URL of the offheap build under test: $OFFHEAP_DIST if set (e.g. a stub), else ../dist/node/index.js, the bundle Node loads for "offheap" (scripts/bundle.mjs). */
export function offheapDistUrl() {
  const override = process.env.OFFHEAP_DIST;
  return override ? pathToFileURL(resolve(override)).href : new URL("../dist/node/index.js", import.meta.url).href;
}

// offheap: addresses into heap.u8 & co. The views are replaced when the heap
// grows, so they are read from the heap on every access, never cached.
// offheap-profiled: the same heap with the sampling heap profiler on
// (default interval, 512 KiB), to measure what profiling costs.
class OffheapAdapter {
  constructor(Heap, extraOptions) {
    this.heap = new Heap({ ...OFFHEAP_OPTIONS, ...extraOptions });
  }
  alloc(sizeBytes) {
    return this.heap.alloc(sizeBytes);
  }
  touch(addr) {
    this.heap.u8[addr] = 1;
  }
  put24(addr, i, x) {
    const heap = this.heap;
    heap.i32[addr >>> 2] = i;
    heap.f64[(addr + 8) >>> 3] = x;
  }
  free(addr) {
    this.heap.free(addr);
  }
  slots(n) {
    return new Uint32Array(n); // addresses are u32
  }
}

// v8: the garbage-collected heap. An allocation is a new Uint8Array; free is
// a no-op, and the workload dropping its reference lets the GC reclaim it.
const F64_SCRATCH = new Float64Array(1);
const F64_SCRATCH_BYTES = new Uint8Array(F64_SCRATCH.buffer);

class V8Adapter {
  alloc(sizeBytes) {
    return new Uint8Array(sizeBytes);
  }
  touch(block) {
    block[0] = 1;
  }
  // A Uint8Array has no int32/float64 view of its own; making one (a DataView
  // or a second typed array) would be a second allocation, so write the bytes.
  put24(block, i, x) {
    block[0] = i;
    block[1] = i >>> 8;
    block[2] = i >>> 16;
    block[3] = i >>> 24;
    F64_SCRATCH[0] = x;
    const b = F64_SCRATCH_BYTES;
    block[8] = b[0];
    block[9] = b[1];
    block[10] = b[2];
    block[11] = b[3];
    block[12] = b[4];
    block[13] = b[5];
    block[14] = b[6];
    block[15] = b[7];
  }
  free(block) {}
  slots(n) {
    return new Array(n).fill(0);
  }
}

// Peers that hand out addresses into views they own (this.u8/i32/f64). A
// process uses one subclass only, so the calls stay monomorphic.
class ViewAdapter {
  touch(addr) {
    this.u8[addr] = 1;
  }
  put24(addr, i, x) {
    this.i32[addr >>> 2] = i;
    this.f64[(addr + 8) >>> 3] = x;
  }
  slots(n) {
    return new Uint32Array(n); // addresses are u32
  }
}

// thi.ng: @thi.ng/malloc MemPool over one fixed ArrayBuffer. compact: false
// skips the pass over the whole free list that compaction adds to every free
// (its free already walks the used list); split: true reuses big free blocks.
class ThingAdapter extends ViewAdapter {
  constructor(MemPool) {
    super();
    this.pool = new MemPool({ size: THING_POOL_BYTES, align: 8, compact: false, split: true });
    const buf = this.pool.buf;
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
  }
  alloc(sizeBytes) {
    const addr = this.pool.malloc(sizeBytes);
    if (addr === 0) throw new RangeError(`thi.ng MemPool.malloc(${sizeBytes}) failed: pool of ${THING_POOL_BYTES} bytes is full`);
    return addr;
  }
  free(addr) {
    this.pool.free(addr);
  }
}

// as-tlsf: AssemblyScript's TLSF in wasm, called through its exports. Only
// alloc can grow the memory, and a grow detaches the old buffer (its views read
// length 0), so the views are checked and rebuilt right after alloc.
class TlsfAdapter extends ViewAdapter {
  constructor(exports) {
    super();
    this.wasmAlloc = exports.alloc;
    this.wasmFree = exports.free;
    this.memory = exports.memory;
    this.refreshViews();
  }
  refreshViews() {
    const buf = this.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
  }
  alloc(sizeBytes) {
    const addr = this.wasmAlloc(sizeBytes) >>> 0;
    if (this.u8.length === 0) this.refreshViews();
    return addr;
  }
  free(addr) {
    this.wasmFree(addr);
  }
}

// floor: the loop floor, what a workload costs with no allocator. alloc bumps
// an offset through a small ring touched in advance (each block 16-byte
// aligned, wrapping round; only a block's first bytes are ever written), free
// does nothing. The same as the C floor `c-floor` in native/workloads.c;
// run.mjs subtracts it from the JS columns ("net").
const FLOOR_RING_MASK = FLOOR_RING_BYTES - 1;

class FloorAdapter extends ViewAdapter {
  constructor() {
    super();
    // 16 spare bytes: put24 writes up to addr + 15.
    const buf = new ArrayBuffer(FLOOR_RING_BYTES + 16);
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
    this.u8.fill(1);
    this.top = 0;
  }
  alloc(sizeBytes) {
    const addr = this.top;
    this.top = (addr + ((sizeBytes + 15) & ~15)) & FLOOR_RING_MASK;
    return addr;
  }
  free(addr) {}
}

/**
 * Loads allocator `name` (one of ALLOCATORS) and returns an async factory of
 * fresh adapters. Throws if the allocator cannot be loaded (e.g. no dist/ yet).
 */
export async function loadAllocator(name) {
  switch (name) {
    case "offheap": {
      const { Heap } = await import(offheapDistUrl());
      return async () => new OffheapAdapter(Heap, {});
    }
    case "offheap-profiled": {
      const { Heap } = await import(offheapDistUrl());
      return async () => new OffheapAdapter(Heap, { profile: true });
    }
    case "v8":
      return async () => new V8Adapter();
    case "thi.ng": {
      const { MemPool } = await import("@thi.ng/malloc");
      return async () => new ThingAdapter(MemPool);
    }
    case "as-tlsf": {
      const { buildTlsf, instantiateTlsf } = await import("./as-tlsf/build.mjs");
      const wasmModule = await WebAssembly.compile(await readFile(await buildTlsf()));
      return async () => new TlsfAdapter(await instantiateTlsf(wasmModule));
    }
    case "floor":
      return async () => new FloorAdapter();
    default:
      throw new RangeError(`unknown allocator "${name}" (expected one of ${ALLOCATORS.join(", ")})`);
  }
}
