// offheap/debug: tools over a heap, kept out of the core so that
// `import { Heap } from "offheap"` loads neither the heap map's HTML nor the
// pprof encoder (pprof-format). Re-exports only; see heap/heap.ts for an overview.

export { heapMapHtml, type HeapMapOptions } from "./heap-map.js";
export { writeHeapMap } from "./write-heap-map.js";
export { encodeHeapProfile, gzipHeapProfile } from "./heap-profile.js";
export { writeHeapProfile } from "./write-heap-profile.js";
