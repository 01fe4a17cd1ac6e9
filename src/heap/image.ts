// The image's header: sized (planImage) and written once by a new heap
// (formatImage), checked by every Heap that opens an image (imageProblem). layout.ts draws the image.
// See heap.ts for an overview.

import { InvalidImageError, OffheapRangeError } from "../errors.js";
import { type Backing, type MemoryOption, openBacking, refreshShared, WASM_PAGE_SIZE } from "../memory/backing.js";
import { classHash } from "./class-of.js";
import { checkOption, defaultMaxSize } from "./validate.js";
import { cacheLength } from "./central.js";
import { initCaches, initInertLines, isInertLine } from "./cache-lines.js";
import { initSlots, slotCacheLines } from "./slots.js";
import {
  CACHE_MAX_OBJECTS, CACHE_MIN_OBJECTS, CC_ARRAY, CC_BASE, CC_MAX, CC_PUSHES, CC_SHIFT, cacheCapacity, geometry, HDR_CACHE, HDR_CACHE_OBJECTS, HDR_CLASS_HASH, HDR_DESC_OFF, HDR_END_PAGE, HDR_F64_LIVE_BOUND, HDR_FIRST_DATA_PAGE, HDR_MAGIC, HDR_N_CLASSES, HDR_PAGE_SHIFT,
  HDR_TOTAL_PAGES, HDR_VERSION, HEADER_BYTES, MAGIC, MAX_RANGE_BYTES, OLD_CACHE_MAX_OBJECTS, OLD_N_CLASSES, OLDEST_VERSION, PAGE_SHIFT, PAGE_SIZE, VERSION,
} from "./layout.js";
import { N_CLASSES } from "./size-classes.js";

const MIB = 1 << 20;

/** Writes a new image's header for `totalPages` pages of range (its metadata, geometry(totalPages).firstDataPage pages, must be zero): no pages committed yet, empty caches. */
export function formatImage(u32: Uint32Array, totalPages: number): void {
  const { descOff, cacheOff, firstDataPage } = geometry(totalPages, CACHE_MAX_OBJECTS, N_CLASSES);
  u32[HDR_MAGIC] = MAGIC;
  u32[HDR_VERSION] = VERSION;
  u32[HDR_PAGE_SHIFT] = PAGE_SHIFT;
  u32[HDR_N_CLASSES] = N_CLASSES;
  u32[HDR_CLASS_HASH] = classHash(N_CLASSES);
  u32[HDR_TOTAL_PAGES] = totalPages;
  u32[HDR_FIRST_DATA_PAGE] = firstDataPage;
  u32[HDR_END_PAGE] = firstDataPage;
  u32[HDR_DESC_OFF] = descOff;
  u32[HDR_CACHE_OBJECTS] = CACHE_MAX_OBJECTS;
  initCaches(u32, HDR_CACHE, cacheOff >>> 2, totalPages, CACHE_MAX_OBJECTS, N_CLASSES, true);
  initSlots(u32);
}

/** Why the header in u32 is not an image this build can open, in a memory of `byteLength` bytes; "" if it is one. */
export function imageProblem(u32: Uint32Array, byteLength: number): string {
  if (u32[HDR_MAGIC] !== MAGIC) return "the memory does not hold an offheap heap image (bad magic number)";
  const version = u32[HDR_VERSION]!;
  if (!(version >= OLDEST_VERSION && version <= VERSION)) return `image format version ${version} is not supported (this build reads versions ${OLDEST_VERSION} to ${VERSION})`;
  if (u32[HDR_PAGE_SHIFT] !== PAGE_SHIFT) return `image page size ${2 ** u32[HDR_PAGE_SHIFT]!} differs from ${PAGE_SIZE}`;
  // An image made with the first classes of this build's table (an older, shorter one) opens; its cache arrays are for those.
  const nClasses = u32[HDR_N_CLASSES]!;
  if (!(nClasses >= 1 && nClasses <= N_CLASSES) || u32[HDR_CLASS_HASH] !== classHash(nClasses)) return "image was made with a different size-class table";
  if (version < VERSION && nClasses !== OLD_N_CLASSES) return `a version ${version} image has ${nClasses} size classes, not ${OLD_N_CLASSES}`;
  const total = u32[HDR_TOTAL_PAGES]!;
  // Versions 6 and 7 did not record the lists' cap (upgradeImage does).
  const maxObjects = version < 8 ? OLD_CACHE_MAX_OBJECTS : u32[HDR_CACHE_OBJECTS]!;
  if (!(maxObjects >= CACHE_MIN_OBJECTS && maxObjects <= CACHE_MAX_OBJECTS)) return `image cache lists hold up to ${maxObjects} objects, outside [${CACHE_MIN_OBJECTS}, ${CACHE_MAX_OBJECTS}]`;
  const { descOff, cacheOff, firstDataPage } = geometry(total, maxObjects, nClasses);
  if (u32[HDR_DESC_OFF] !== descOff || u32[HDR_FIRST_DATA_PAGE] !== firstDataPage) return "image geometry does not match its page count";
  for (let cls = 1, w = cacheOff >>> 2; cls <= nClasses; w += 1 + cacheCapacity(cls, total, maxObjects), cls++) {
    const cw = HDR_CACHE + (cls << CC_SHIFT);
    if (u32[cw + CC_ARRAY] !== w || u32[cw + CC_MAX] !== cacheCapacity(cls, total, maxObjects)) return `class ${cls}'s cache list is not where the geometry puts it`;
  }
  // Older versions left the lines past their table zero (upgradeImage makes them inert).
  for (let cls = nClasses + 1; version === VERSION && cls <= N_CLASSES; cls++) {
    if (!isInertLine(u32, HDR_CACHE, cls)) return `class ${cls}, past the image's ${nClasses} classes, has a cache list`;
  }
  const end = u32[HDR_END_PAGE]!;
  if (end < firstDataPage || end > total) return `committed end page ${end} is outside [${firstDataPage}, ${total}]`;
  if (end * PAGE_SIZE > byteLength) return `image needs ${end * PAGE_SIZE} bytes but the memory holds ${byteLength}`;
  return "";
}

// How many times currentImageProblem reads a shared memory's length again.
const REFRESHES = 64;

/**
 * imageProblem of the image whose header `u32` views, in memory now
 * `byteLength()` long; if that seems wrong, read again after `refresh()`,
 * up to REFRESHES times: another thread may have grown a shared memory
 * since this one last read its length (openImage, Heap.check). A grower
 * writes the committed end only after its grow returned, so an end past
 * the length read here is a length not yet seen in this thread: the stress
 * test's worker saw one once after a single refresh (seed 926066765).
 * Damage stays damage and costs the retries.
 */
export function currentImageProblem(u32: Uint32Array, byteLength: () => number, refresh: () => void): string {
  let problem = imageProblem(u32, byteLength());
  for (let i = 0; problem !== "" && i < REFRESHES; i++) {
    refresh();
    problem = imageProblem(u32, byteLength());
  }
  return problem;
}

/**
 * The Backing of the image that `memory` holds, for Heap.attach to open:
 * checks its header (imageProblem) and brings an older version up to date
 * in place (upgradeImage); `oldCaches` is true then if other slots' cache
 * blocks have that version's lines, which the opening Heap must release
 * (only a copy of the image can have them: `copy`, no other thread runs on
 * it). Throws InvalidImageError, naming `api`, for memory that holds no
 * image this version opens, or an older image that other threads use; it
 * is unchanged then.
 */
export function openImage(memory: ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory, api: string, copy: boolean): { backing: Backing; oldCaches: boolean } {
  const bufferOf = () => (memory instanceof WebAssembly.Memory ? memory.buffer : memory);
  const buffer = bufferOf();
  if (buffer.byteLength < HEADER_BYTES) throw new InvalidImageError(`${api}: ${buffer.byteLength} bytes is too short for a heap image`);
  const u32 = new Uint32Array(buffer, 0, HEADER_BYTES >>> 2);
  // Another thread may grow a shared memory between reading its length and its header: read the length again, up to date.
  const problem = currentImageProblem(u32, () => bufferOf().byteLength, () => refreshShared(memory));
  if (problem !== "") throw new InvalidImageError(`${api}: ${problem}`);
  const oldCaches = u32[HDR_VERSION]! < VERSION && slotCacheLines(u32).some((lines) => lines !== HDR_CACHE);
  if (oldCaches && !copy) {
    throw new InvalidImageError(`${api}: a version ${u32[HDR_VERSION]} image is upgraded by the first thread that opens it, but other threads' slots are in use in this shared memory; open a copy (Heap.load, or an unshared buffer), or attach before the other threads do`);
  }
  upgradeImage(bufferOf());
  return { backing: openBacking(memory, u32[HDR_END_PAGE]! * PAGE_SIZE, u32[HDR_TOTAL_PAGES]! * PAGE_SIZE), oldCaches };
}

/**
 * Brings an image that imageProblem accepted up to VERSION, in place, before
 * any Heap opens it. Version 6 kept each cache list's pops since its last
 * fold in word CC_BASE (then CC_POPS), and its length at that fold only as
 * CC_MAX - CC_LIMIT (which a trap overwrites): the length is n + pops -
 * pushes, its counts unchanged otherwise. Versions 6 and 7 had no
 * live-bytes bound (HDR_F64_LIVE_BOUND, in words they left zero): it
 * becomes +Infinity, so the next peak sample sums the counts and sets it.
 * Nor did they record their cache lists' cap (HDR_CACHE_OBJECTS): theirs,
 * OLD_CACHE_MAX_OBJECTS, stays, and with it their geometry. Versions 6 to
 * 8 had 71 size classes (up to 32 KiB): they keep them (HDR_N_CLASSES),
 * with their geometry, and slot 0's lines of the classes after them become
 * inert, so that those sizes are served as pages. Other slots' cache
 * blocks have those versions' lines, too few: the opening Heap releases
 * them (openImage: oldCaches). Damaged counts stay damaged, for check() to
 * name. O(slots * classes).
 */
export function upgradeImage(buffer: ArrayBuffer | SharedArrayBuffer): void {
  const u32 = new Uint32Array(buffer);
  const version = u32[HDR_VERSION]!;
  if (version === VERSION) return;
  if (version === 6) {
    for (const lines of slotCacheLines(u32)) {
      for (let cls = 1; cls <= OLD_N_CLASSES; cls++) {
        const cw = lines + (cls << CC_SHIFT);
        u32[cw + CC_BASE] = cacheLength(u32, cw) + u32[cw + CC_BASE]! - u32[cw + CC_PUSHES]!;
      }
    }
  }
  if (version < 8) {
    new Float64Array(buffer, 0, HEADER_BYTES >>> 3)[HDR_F64_LIVE_BOUND] = Infinity;
    u32[HDR_CACHE_OBJECTS] = OLD_CACHE_MAX_OBJECTS; // their geometry's
  }
  initInertLines(u32, HDR_CACHE, OLD_N_CLASSES);
  u32[HDR_VERSION] = VERSION;
}

/**
 * The size of a new heap's image: its range in pages, from `maxSize`
 * (bounded by what `memory` can hold, and by WebAssembly pages for a
 * WebAssembly memory), and the pages committed first, from `initialSize`
 * (all of a fixed ArrayBuffer). Throws RangeError for sizes out of range
 * or a range that the metadata would fill.
 */
export function planImage(memory: MemoryOption, maxSize: number | undefined, initialSize: number | undefined): { totalPages: number; initialPages: number } {
  let maxBytes = checkOption("maxSize", maxSize, 0, MAX_RANGE_BYTES, defaultMaxSize(memory));
  if (typeof memory === "object" && !(memory instanceof WebAssembly.Memory)) {
    maxBytes = Math.min(maxBytes, (memory as { maxByteLength?: number }).maxByteLength ?? memory.byteLength);
  }
  if (memory === "wasm" || memory instanceof WebAssembly.Memory) maxBytes -= maxBytes % WASM_PAGE_SIZE;
  const totalPages = Math.floor(maxBytes / PAGE_SIZE);
  const { firstDataPage } = geometry(totalPages, CACHE_MAX_OBJECTS, N_CLASSES);
  if (totalPages < firstDataPage + 1) {
    throw new OffheapRangeError(`Heap: maxSize ${maxBytes} leaves no room for pages after ${firstDataPage * PAGE_SIZE} bytes of metadata`);
  }
  const dataPages = totalPages - firstDataPage;
  const fixed = memory instanceof ArrayBuffer && !memory.resizable;
  const initialPages = fixed ? dataPages : Math.min(dataPages, Math.max(1, Math.ceil(checkOption("initialSize", initialSize, 0, MAX_RANGE_BYTES, MIB) / PAGE_SIZE)));
  return { totalPages, initialPages };
}
