// Request size -> size class, derived from the generated table at load.
// See heap.ts for an overview.

import { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, MAX_SMALL_SIZE, N_CLASSES } from "./size-classes.js";
import { ALIGN_SHIFT, MAX_CLASSES } from "./layout.js";

// The header holds per-class words for MAX_CLASSES classes (layout.ts): a
// longer table would write one class's counters over another region.
if (N_CLASSES > MAX_CLASSES) {
  throw new Error(`offheap: the size-class table has ${N_CLASSES} classes; the heap image's header holds ${MAX_CLASSES} (src/heap/layout.ts)`);
}

/** Class of each 8-byte granule count: the class of `size` is CLASS_OF_GRANULE[(size + 7) >>> 3]; size 0 maps to class 1. */
export const CLASS_OF_GRANULE: Uint8Array = (() => {
  const table = new Uint8Array((MAX_SMALL_SIZE >>> ALIGN_SHIFT) + 1);
  let cls = 1;
  for (let g = 0; g < table.length; g++) {
    while (CLASS_SIZE[cls]! < g << ALIGN_SHIFT) cls++;
    table[g] = cls;
  }
  return table;
})();

/** Size class of a request of `sizeBytes` <= MAX_SMALL_SIZE. */
export function sizeClassOf(sizeBytes: number): number {
  return CLASS_OF_GRANULE[(sizeBytes + 7) >>> ALIGN_SHIFT]!;
}

/**
 * Size class that serves a request of `sizeBytes` (a non-negative integer)
 * in an image with cache arrays for classes 1..imageClasses
 * (layout.ts: HDR_N_CLASSES); 0 if the image serves it as whole pages: a
 * size past the table, or past the image's own classes (an older table's).
 */
export function imageClassOf(imageClasses: number, sizeBytes: number): number {
  if (sizeBytes > MAX_SMALL_SIZE) return 0;
  const cls = CLASS_OF_GRANULE[(sizeBytes + 7) >>> ALIGN_SHIFT]!;
  return cls <= imageClasses ? cls : 0;
}

// CLASS_HASHES[k]: FNV-1a hash of classes 1..k of the table.
const CLASS_HASHES = ((): Uint32Array => {
  const hashes = new Uint32Array(N_CLASSES + 1);
  let h = 0x811c9dc5;
  for (let c = 1; c <= N_CLASSES; c++) {
    for (const v of [CLASS_SIZE[c]!, CLASS_PAGES[c]!, CLASS_OBJECTS[c]!]) {
      h = Math.imul(h ^ v, 0x01000193) >>> 0;
    }
    hashes[c] = h;
  }
  return hashes;
})();

/**
 * FNV-1a hash of the first `nClasses` classes of the table, stored in the
 * image (HDR_CLASS_HASH beside HDR_N_CLASSES) so that an image made with
 * another table is refused: one made with the first classes of this one
 * (an older, shorter table) opens.
 */
export function classHash(nClasses: number): number {
  return CLASS_HASHES[nClasses]!;
}
