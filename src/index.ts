// offheap: a TCMalloc/Go-style memory manager inside an ArrayBuffer or
// WebAssembly.Memory. Re-exports only; see heap/heap.ts for an overview.
// Tools (heap map, pprof files) are in offheap/debug.

export { Heap } from "./heap/heap.js";
export { Mutex } from "./heap/lock.js";
export { HeapScope } from "./heap/scope.js";
export { HeapHandle, type LeakedHandle } from "./heap/handles.js";
export type { HeapOptions, AttachOptions, LoadOptions } from "./heap/options.js";
export { type DebugOptions, type LeakSite, JUNK_ALLOC, POISON, CANARY } from "./common/debug-kit.js";
export type { ProfileOptions, HeapProfile, ProfileSample, ProfileFrame } from "./heap/profile.js";
export {
  heapSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type HeapSnapshot, type SpanSnapshot, type SmallSpanSnapshot,
  type LargeSpanSnapshot, type FreeRunSnapshot, type CacheBlockSnapshot, type ClassSnapshot,
} from "./heap/snapshot.js";
export type { HeapStats, ClassStats } from "./heap/stats.js";
export { formatStats } from "./heap/format-stats.js";
export type { MemoryOption } from "./memory/backing.js";
export {
  OffheapError, OutOfMemoryError, DoubleFreeError, InvalidAddressError, HeapCorruptionError, InvalidImageError, EndOfDataError,
  DisposedError, ConcurrentModificationError, WorkerTimeoutError,
  OffheapRangeError, OffheapTypeError,
} from "./errors.js";
export { CLASS_SIZE, CLASS_PAGES, CLASS_OBJECTS, N_CLASSES, MAX_SMALL_SIZE } from "./heap/size-classes.js";
export { PAGE_SIZE } from "./heap/layout.js";
