// The heap image format: its version must change whenever its layout does,
// so that Heap.attach refuses (InvalidImageError) an image written by a
// build with another layout instead of misreading it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as layout from "../src/heap/layout.js";
import { N_CLASSES } from "../src/heap/size-classes.js";

// Fingerprint of the layout constants (header words, cache-list words,
// descriptor fields, kinds, bins, page and alignment shifts; from version 9
// on, the size-class table's length too, which sizes the cache regions) of
// each image format version. A change to any of them without a new VERSION
// fails below. (Changing what a word means without renaming or moving it is not
// caught here: bump VERSION for that too.)
const KNOWN_LAYOUTS: Record<number, string> = {
  1: "0x3eb1d912", // the first released format: per-class cache lists (HDR_CACHE)
  2: "0xd9db9917", // HDR_ROOTS: the root directory (roots.ts)
  3: "0xbb48d7e3", // peaks (HDR_PEAK_END_PAGE, HDR_F64_PEAK_LIVE) and HDR_CLASS_USED (stats.ts)
  4: "0x052ee6e3", // CC_SAMPLE_AT: the heap profiler's countdown in each class's cache line (profile.ts)
  5: "0x4a687ff4", // granule states (2 bitmap bits per granule: G_FREE, G_LIVE_DEBUG), HDR_QUARANTINED (debug-trailer.ts), cache lists as arrays (CC_TOP, CC_ARRAY)
  6: "0x317d60d7", // threads: the slot table (HDR_SLOTS, SL_*), the heap lock (HDR_LOCK), HDR_SHARED, cache blocks (KIND_CACHE) (slots.ts)
  7: "0x226a4852", // CC_BASE: a cache list's length at its last fold replaces CC_POPS, so alloc counts nothing (central.ts foldCounts); version 6 images are upgraded (image.ts)
  8: "0x60828e5e", // HDR_F64_LIVE_BOUND: an upper bound of the live bytes since the last peak sample, so the sample sums the counts only above the peak (live-bytes.ts); HDR_CACHE_OBJECTS: the cache lists' cap, 16384 objects in new images; version 6 and 7 images are upgraded, keeping their cap of 4096 (image.ts)
  9: "0xccb46a40", // 78 size classes, up to 64 KiB (N_CLASSES); HDR_N_CLASSES is the image's own count: version 6 to 8 images keep their 71, their lines past them made inert, and other slots' cache blocks released when opened (image.ts)
};

const LAYOUT_NAME = /^(HDR_|CC_|D_|KIND_|DESC_|BITMAP_|GRANULE_|G_|WORD_LIVE_BITS$|HEADER_BYTES$|N_BINS$|PAGE_SHIFT$|ALIGN_SHIFT$|MAGIC$)/;

function fingerprint(): string {
  const entries = Object.entries(layout)
    .filter(([name, value]) => typeof value === "number" && LAYOUT_NAME.test(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const text = entries.map(([name, value]) => `${name}=${String(value)}`).join(";") + (layout.VERSION >= 9 ? `;N_CLASSES=${N_CLASSES}` : "");
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return "0x" + h.toString(16).padStart(8, "0");
}

test("the image format VERSION changes whenever the layout constants change", () => {
  const now = fingerprint();
  const version = layout.VERSION;
  const known = KNOWN_LAYOUTS[version];
  if (known === undefined) {
    assert.fail(`VERSION ${version} is new: add \`${version}: "${now}"\` to KNOWN_LAYOUTS in test/layout.test.ts`);
  }
  assert.equal(now, known, `layout.ts constants changed (fingerprint ${now}) but VERSION is still ${version}, whose layout was ${known}: bump VERSION and add \`${version + 1}: "${now}"\` to KNOWN_LAYOUTS`);
  const versions = Object.keys(KNOWN_LAYOUTS).map(Number);
  assert.equal(version, Math.max(...versions), "VERSION is the newest known format");
  assert.equal(new Set(Object.values(KNOWN_LAYOUTS)).size, versions.length, "each version has its own layout");
});

test("the metadata regions fit: bitmap after the header, descriptors after the bitmap, pages after both", () => {
  assert.equal(layout.PAGE_SIZE, 2 ** layout.PAGE_SHIFT);
  assert.equal(layout.PAGE_MASK, layout.PAGE_SIZE - 1);
  assert.equal(layout.ALIGN, 2 ** layout.ALIGN_SHIFT);
  assert.equal(layout.BITMAP_OFF, layout.HEADER_BYTES);
  assert.equal(layout.BITMAP_BYTES_PER_PAGE * 8 * layout.ALIGN, layout.PAGE_SIZE * layout.GRANULE_BITS, "GRANULE_BITS bitmap bits per aligned granule");
  assert.equal(layout.BITMAP_WORDS_PER_PAGE * 4, layout.BITMAP_BYTES_PER_PAGE);
  // The granule at address a: word BITMAP_W + (a >>> GRANULE_WORD_SHIFT), shift (a >>> 2) & GRANULE_SHIFT_MASK.
  assert.equal(2 ** layout.GRANULE_WORD_SHIFT, (32 / layout.GRANULE_BITS) * layout.ALIGN, "one word holds 16 granules");
  for (const a of [0, 8, 16, 120, 128, 8192 + 56]) {
    assert.equal((a >>> 2) & layout.GRANULE_SHIFT_MASK, ((a >>> layout.ALIGN_SHIFT) % 16) * layout.GRANULE_BITS, `shift of granule ${a}`);
  }
  assert.equal(layout.WORD_LIVE_BITS, 0x55555555, "bit 0 of each granule");
  assert.deepEqual([layout.G_NONE, layout.G_LIVE, layout.G_FREE, layout.G_LIVE_DEBUG], [0, 1, 2, 3]);
  assert.equal(layout.G_LIVE & layout.G_LIVE_BIT, layout.G_LIVE_BIT);
  assert.equal(layout.G_LIVE_DEBUG & layout.G_LIVE_BIT, layout.G_LIVE_BIT);
  assert.equal(layout.G_FREE & layout.G_LIVE_BIT, 0);
  for (const totalPages of [2, 8, 512, 2048, 262144, 524288]) {
    const { descOff, cacheOff, firstDataPage } = layout.geometry(totalPages, layout.CACHE_MAX_OBJECTS, N_CLASSES);
    assert.ok(descOff >= layout.BITMAP_OFF + totalPages * layout.BITMAP_BYTES_PER_PAGE, `${totalPages} pages: descriptors after the bitmap`);
    assert.ok(cacheOff >= descOff + totalPages * layout.DESC_BYTES, `${totalPages} pages: cache lists after the descriptors`);
    let words = 0;
    for (let cls = 1; cls <= N_CLASSES; cls++) {
      const n = layout.cacheCapacity(cls, totalPages, layout.CACHE_MAX_OBJECTS);
      assert.ok(n >= layout.CACHE_MIN_OBJECTS && n <= layout.CACHE_MAX_OBJECTS, `${totalPages} pages: class ${cls} holds ${n}`);
      words += 1 + n; // a sentinel and the objects
    }
    const cacheEnd = cacheOff + 4 * words;
    assert.ok(firstDataPage * layout.PAGE_SIZE >= cacheEnd, `${totalPages} pages: data after the cache lists`);
    assert.ok((firstDataPage - 1) * layout.PAGE_SIZE < cacheEnd, `${totalPages} pages: no page wasted`);
    if (totalPages >= 128) assert.ok(4 * words <= 0.006 * totalPages * layout.PAGE_SIZE, `${totalPages} pages: the cache lists take at most 0.6% of the range`);
  }
  assert.ok(layout.MAX_RANGE_BYTES <= 2 ** 32, "addresses are u32");
});

test("the header's regions do not overlap and fit the header page; MAX_CLASSES is what the smallest per-class region holds", () => {
  const regions = [...layout.HEADER_REGIONS].sort((a, b) => a.firstWord - b.firstWord);
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i]!;
    assert.ok(r.words > 0 && r.firstWord + r.words <= layout.HEADER_BYTES / 4, `${r.name} fits the header page`);
    const next = regions[i + 1];
    if (next) assert.ok(r.firstWord + r.words <= next.firstWord, `${r.name} ends before ${next.name} starts`);
  }
  // Every header word constant lies in a region.
  for (const [name, value] of Object.entries(layout)) {
    if (!/^HDR_/.test(name) || typeof value !== "number" || /_WORDS$/.test(name)) continue;
    const word = /^HDR_F64_/.test(name) ? value * 2 : value;
    assert.ok(regions.some((r) => word >= r.firstWord && word < r.firstWord + r.words), `${name} (word ${word}) lies in a region`);
  }
  // The per-class regions hold classes 0..MAX_CLASSES (class 0 unused).
  for (const r of regions.filter((x) => x.perClass > 0)) {
    assert.ok((layout.MAX_CLASSES + 1) * r.perClass <= r.words, `${r.name} holds ${layout.MAX_CLASSES} classes`);
  }
  assert.ok(regions.some((r) => r.perClass > 0 && (layout.MAX_CLASSES + 2) * r.perClass > r.words), "MAX_CLASSES is the largest that fits");
  assert.equal(layout.MAX_CLASSES, 79, "79 classes: the f64 class counters (80 f64 words each) and the cache lines (8 words a class) bound it");
});
