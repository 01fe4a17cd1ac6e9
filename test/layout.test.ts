// The heap image format: its version must change whenever its layout does,
// so that Heap.attach refuses (InvalidImageError) an image written by a
// build with another layout instead of misreading it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as layout from "../src/heap/layout.js";

// Fingerprint of the layout constants (header words, cache-list words,
// descriptor fields, kinds, bins, page and alignment shifts) of each image
// format version. A change to any of them without a new VERSION fails
// below. (Changing what a word means without renaming or moving it is not
// caught here: bump VERSION for that too.)
const KNOWN_LAYOUTS: Record<number, string> = {
  1: "0x3eb1d912", // the first released format: per-class cache lists (HDR_CACHE)
  2: "0xd9db9917", // HDR_ROOTS: the root directory (roots.ts)
  3: "0xbb48d7e3", // peaks (HDR_PEAK_END_PAGE, HDR_F64_PEAK_LIVE) and HDR_CLASS_USED (stats.ts)
  4: "0x052ee6e3", // CC_SAMPLE_AT: the heap profiler's countdown in each class's cache line (profile.ts)
};

const LAYOUT_NAME = /^(HDR_|CC_|D_|KIND_|DESC_|BITMAP_|HEADER_BYTES$|N_BINS$|PAGE_SHIFT$|ALIGN_SHIFT$|MAGIC$)/;

function fingerprint(): string {
  const entries = Object.entries(layout)
    .filter(([name, value]) => typeof value === "number" && LAYOUT_NAME.test(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const text = entries.map(([name, value]) => `${name}=${String(value)}`).join(";");
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
  assert.equal(layout.BITMAP_BYTES_PER_PAGE * 8 * layout.ALIGN, layout.PAGE_SIZE, "one bitmap bit per aligned granule");
  for (const totalPages of [2, 8, 512, 2048, 262144, 524288]) {
    const { descOff, firstDataPage } = layout.geometry(totalPages);
    assert.ok(descOff >= layout.BITMAP_OFF + totalPages * layout.BITMAP_BYTES_PER_PAGE, `${totalPages} pages: descriptors after the bitmap`);
    assert.ok(firstDataPage * layout.PAGE_SIZE >= descOff + totalPages * layout.DESC_BYTES, `${totalPages} pages: data after the descriptors`);
    assert.ok((firstDataPage - 1) * layout.PAGE_SIZE < descOff + totalPages * layout.DESC_BYTES, `${totalPages} pages: no page wasted`);
  }
  assert.ok(layout.MAX_RANGE_BYTES <= 2 ** 32, "addresses are u32");
});
