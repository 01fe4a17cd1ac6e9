// Heap snapshots against the image and against a model of the live blocks,
// the heap map's HTML checked as text (the browser test draws it), and
// writeHeapMap.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Heap, HeapCorruptionError, OffheapTypeError, PAGE_SIZE } from "../../src/index.js";
import { heapSnapshot, type HeapSnapshot, type SpanSnapshot } from "../../src/heap/snapshot.js";
import { heapMapHtml } from "../../src/debug/heap-map.js";
import { writeHeapMap } from "../../src/debug/write-heap-map.js";
import { sizeClassOf } from "../../src/heap/class-of.js";
import { cacheLength } from "../../src/heap/central.js";
import { CLASS_OBJECTS, CLASS_SIZE, N_CLASSES } from "../../src/heap/size-classes.js";
import { CC_SHIFT, D_NPAGES, DESC_SHIFT } from "../../src/heap/layout.js";
import { MIB, assertSameBytes, expectError, snapshot as imageBytes } from "../helpers.js";
import { MIX, mixedHeap } from "./mixed-heap.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() >>> 0)) >>> 0;
const dir = mkdtempSync(join(tmpdir(), "offheap-snapshot-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

// The span holding each page, indexed by page - firstDataPage.
function spanOfPage(snap: HeapSnapshot): SpanSnapshot[] {
  const out: SpanSnapshot[] = [];
  for (const s of snap.spans) for (let k = 0; k < s.pages; k++) out.push(s);
  return out;
}

describe("heapSnapshot", () => {
  test(`agrees with the image, stats() and a model of the live blocks (seed ${SEED})`, () => {
    const { heap, live, large, freedLargePage } = mixedHeap(SEED);
    heap.check();
    const before = imageBytes(heap);
    const snap = heapSnapshot(heap);
    assertSameBytes(before, imageBytes(heap), "heapSnapshot must not change the image");
    const stats = heap.stats();
    assert.deepEqual(snap.stats, stats);
    assert.deepEqual([snap.pageSize, snap.firstDataPage, snap.endPage, snap.reservedPages],
      [PAGE_SIZE, heap.firstDataPage, heap.endPage, heap.totalPages]);

    // The spans tile the committed data pages in order.
    let next = snap.firstDataPage;
    for (const s of snap.spans) {
      assert.equal(s.startPage, next, "spans are contiguous and in page order");
      assert.ok(s.pages >= 1);
      next += s.pages;
    }
    assert.equal(next, snap.endPage, "spans end at the committed end");

    // Every small span's objects are live, on its free list or cached; pages and kinds add up to stats().
    const byPage = spanOfPage(snap);
    const at = (addr: number): SpanSnapshot => byPage[Math.floor(addr / PAGE_SIZE) - snap.firstDataPage]!;
    let freePages = 0;
    let largePages = 0;
    let liveSmall = 0;
    const cachedPerClass = new Array<number>(N_CLASSES + 1).fill(0);
    for (const s of snap.spans) {
      if (s.kind === "free") freePages += s.pages;
      else if (s.kind === "large") largePages += s.pages;
      else if (s.kind === "small") {
        assert.equal(s.objectSize, CLASS_SIZE[s.classIndex]);
        assert.equal(s.objects, CLASS_OBJECTS[s.classIndex]);
        assert.equal(s.liveObjects + s.freeListObjects + s.cachedObjects, s.objects, `span at page ${s.startPage}`);
        assert.ok(s.freeListObjects >= 0 && s.cachedObjects >= 0);
        liveSmall += s.liveObjects;
        cachedPerClass[s.classIndex]! += s.cachedObjects;
      }
    }
    assert.equal(freePages * PAGE_SIZE, stats.freePageBytes);
    assert.equal(largePages * PAGE_SIZE, stats.largeBytes);
    assert.equal(liveSmall + snap.spans.filter((s) => s.kind === "large").length, stats.liveBlocks);
    for (let cls = 1; cls <= N_CLASSES; cls++) assert.equal(cachedPerClass[cls], cacheLength(heap.u32, heap.cacheW + (cls << CC_SHIFT)), `class ${cls}'s cached objects`);
    assert.ok(cachedPerClass.some((n) => n > 0), "the mix leaves objects on cache lists");
    assert.ok(snap.spans.some((s) => s.kind === "small" && s.freeListObjects > 0), "and on span free lists");

    // Live objects per span and per class match the model.
    const modelLive = new Map<SpanSnapshot, number>();
    for (const addr of live.keys()) modelLive.set(at(addr), (modelLive.get(at(addr)) ?? 0) + 1);
    for (const s of snap.spans) if (s.kind === "small") assert.equal(s.liveObjects, modelLive.get(s) ?? 0, `live objects of the span at page ${s.startPage}`);
    for (const [addr, size] of large) {
      const s = at(addr);
      assert.deepEqual(s, { kind: "large", startPage: addr / PAGE_SIZE, pages: Math.ceil(size / PAGE_SIZE), requestedBytes: size });
    }
    assert.equal(at(freedLargePage * PAGE_SIZE).kind, "free", "the freed large block's pages are a free run");

    // Class rows: the sums of their spans, and stats()'s rows.
    assert.deepEqual(snap.classes.map((c) => [c.classIndex, c.objectSize, c.spans, c.liveObjects, c.freeObjects]),
      stats.classes.map((c) => [c.classIndex, c.size, c.spans, c.liveObjects, c.freeObjects]));
    for (const c of snap.classes) {
      const spans = snap.spans.filter((s) => s.kind === "small" && s.classIndex === c.classIndex);
      assert.equal(c.pages, spans.reduce((n, s) => n + s.pages, 0));
      assert.equal(c.objects, c.liveObjects + c.freeObjects);
      assert.equal(c.liveObjects, [...live.values()].filter((size) => sizeClassOf(size) === c.classIndex).length);
      assert.equal(c.liveBytes, c.liveObjects * c.objectSize);
      assert.equal(c.freeBytes, c.freeObjects * c.objectSize);
    }
    assert.equal(snap.classes.length, MIX.length, "every class of the mix has spans");

    assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap, "a snapshot survives JSON");
  });

  test("a heap saved and loaded again has the same snapshot", async () => {
    const { heap } = mixedHeap(SEED);
    const path = join(dir, "mixed.heap");
    await heap.save(path);
    const again = await Heap.load(path);
    assert.deepEqual(heapSnapshot(again), heapSnapshot(heap));
  });

  test("a fresh heap is one free run; a trimmed empty heap has no spans", () => {
    const heap = new Heap({ maxSize: 8 * MIB, initialSize: 64 * 1024, memory: "resizable" });
    const snap = heapSnapshot(heap);
    assert.deepEqual(snap.spans, [{ kind: "free", startPage: heap.firstDataPage, pages: 8 }]);
    assert.deepEqual(snap.classes, []);
    heap.trim();
    assert.deepEqual(heapSnapshot(heap).spans, []);
    assert.match(heapMapHtml(heapSnapshot(heap)), /No size class owns a span/);
  });

  test("damaged descriptors throw HeapCorruptionError instead of looping", () => {
    const { heap } = mixedHeap(1);
    const copy = Heap.attach(heap.buffer.slice(0));
    copy.u32[copy.descW + (copy.firstDataPage << DESC_SHIFT) + D_NPAGES] = 0;
    expectError(() => heapSnapshot(copy), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "damaged metadata", "0 pages", "invariant P1");
  });
});

describe("heapMapHtml", () => {
  test("one self-contained page: no external resource, the title escaped, the data and tables present", () => {
    const { heap } = mixedHeap(2);
    const snap = heapSnapshot(heap);
    const html = heapMapHtml(snap, { title: `<script>alert("x")</script> & co` });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /https?:\/\/|<link\b|<script[^>]*\bsrc=|<img\b|@import|url\(/i, "no network or external resources");
    assert.ok(html.includes("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; co"), "the title is escaped");
    assert.equal(html.match(/<script>/g)?.length, 1, "only the page's own inline script");
    const data = JSON.parse(/<script type="application\/json" id="heap-data">(.*?)<\/script>/s.exec(html)![1]!) as { spans: number[]; cells: number };
    assert.equal(data.spans.length, 4 * snap.spans.length);
    assert.equal(data.cells, snap.endPage - snap.firstDataPage);
    assert.equal(html.match(/class="class-row"/g)?.length, snap.classes.length);
    for (const c of snap.classes) assert.ok(html.includes(`data-class="${c.classIndex}" data-live-bytes="${c.liveBytes}" data-free-bytes="${c.freeBytes}"`));
    assert.match(html, /<tr data-key="liveBytes"><th>live bytes<\/th><td>[\d.]+ [KM]iB<\/td><td class="exact">[\d,]+<\/td><\/tr>/);
    assert.match(html, /<tr data-key="liveBlocks"><th>live blocks<\/th><td>[\d,]+<\/td>/);
  });

  test("refuses what is not a snapshot", () => {
    expectError(() => heapMapHtml({} as HeapSnapshot), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "heapMapHtml", "without a format field");
    expectError(() => heapMapHtml(null as unknown as HeapSnapshot), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "got null");
  });
});

describe("writeHeapMap", () => {
  test("writes the page for a heap or a snapshot and resolves to its length", async () => {
    const { heap } = mixedHeap(3);
    const fromHeap = join(dir, "heap.html");
    const fromSnapshot = join(dir, "snapshot.html");
    const n = await writeHeapMap(fromHeap, heap, { title: "mixed" });
    assert.equal(statSync(fromHeap).size, n);
    assert.equal(await writeHeapMap(fromSnapshot, heapSnapshot(heap), { title: "mixed" }), n);
    assert.equal(readFileSync(fromSnapshot, "utf8"), readFileSync(fromHeap, "utf8"));
    await assert.rejects(writeHeapMap(42 as unknown as string, heap), (e: Error) => e instanceof OffheapTypeError && /path must be a string/.test(e.message));
    await assert.rejects(writeHeapMap(fromHeap, {} as HeapSnapshot), (e: Error) => e instanceof OffheapTypeError && /HeapSnapshot or a Heap/.test(e.message));
    await assert.rejects(writeHeapMap(join(dir, "missing", "x.html"), heap), /ENOENT/);
  });
});
