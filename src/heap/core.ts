// The state every heap layer works on. See heap.ts for an overview.

/**
 * What the page heap, the central lists and the validators need of a heap:
 * its views and the word index of page descriptor 0. All of it is a cache
 * of the image: `descW` and `firstDataPage` are fixed for the heap's life,
 * the views are replaced after growth, and `endPage` mirrors HDR_END_PAGE.
 */
export interface Core {
  u8: Uint8Array;
  u32: Uint32Array;
  f64: Float64Array;
  /** Word index of page descriptor 0. */
  readonly descW: number;
  readonly firstDataPage: number;
  readonly totalPages: number;
  /** Most objects a cache list holds (HDR_CACHE_OBJECTS): with totalPages, the cache lists' geometry. */
  readonly cacheObjects: number;
  /** Classes with cache arrays in this image (HDR_N_CLASSES): larger classes are served as pages. */
  readonly imageClasses: number;
  /** Word index of this Heap's slot's cache lines (layout.ts: SL_CACHE). */
  readonly cacheW: number;
  /** This Heap's slot in the slot table (slots.ts). */
  readonly slot: number;
  /** Committed end page (exclusive); mirrors HDR_END_PAGE. */
  endPage: number;
  /** Makes the backing memory hold pages [0, endPage); false if it cannot. */
  commit(endPage: number): boolean;
  /** Pages to grow by, beyond the need, when the heap grows (growth policy). */
  growStepPages(): number;
}
