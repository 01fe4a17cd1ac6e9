// offheap/buffers: pooled binary buffers in the style of GoMem — range and
// buddy allocators, a scalable allocator of Uint8Array views drawn from a
// Heap, recyclable memory, buffer lists, a zero-copy reader and a frame
// splitter. Re-exports only; the Node stream Transform is in
// "offheap/buffers/node" so that this entry point bundles for browsers.

export {
  RangeAllocator, MAX_RANGE_BYTES, type RangeAllocatorOptions, type RangeIndexKind, type FreeRange, type RangeTreeShape,
} from "./range-allocator.js";
export { BuddyAllocator, MAX_BUDDY_UNITS, type BuddyAllocatorOptions } from "./buddy-allocator.js";
export { ScalableAllocator, type ScalableAllocatorOptions } from "./scalable-allocator.js";
export { RecyclableMemory } from "./recyclable-memory.js";
export { BufferList } from "./buffer-list.js";
export type { WritableLike } from "./write-to.js";
export { BufferReader, type ReaderSource } from "./buffer-reader.js";
export { FrameParser, splitFrames, DEFAULT_MAX_FRAME_BYTES, type FrameMemory, type FrameSplitterOptions } from "./frame-splitter.js";
export { EndOfDataError } from "../errors.js";
