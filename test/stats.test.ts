// heap.stats() (the breakdown, per-class rows, peaks) and formatStats().
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, Heap, type HeapStats, MAX_SMALL_SIZE, N_CLASSES, OutOfMemoryError, PAGE_SIZE } from "../src/index.js";
import { countedLiveBytes } from "../src/heap/live-bytes.js";
import { sizeClassOf } from "../src/heap/class-of.js";
import { count, formatStats, humanBytes } from "../src/heap/format-stats.js";
import { CACHE_MAX_OBJECTS, cacheCapacity, geometry, HDR_CLASS_USED } from "../src/heap/layout.js";
import { KIB, MIB, randInt, rng } from "./helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

// Every identity stats.ts promises, on one HeapStats of `heap`.
function checkConsistent(heap: Heap, s: HeapStats): void {
  assert.equal(s.metadataBytes + s.liveBytes + s.freeObjectBytes + s.spanTailBytes + s.freePageBytes, s.committedBytes,
    "metadata + live + free objects + span tails + free pages == committed");
  let liveBytes = s.largeBytes;
  let liveBlocks = s.largeBlocks;
  let freeBytes = 0;
  let cachedBytes = 0;
  let pages = s.largeBytes / PAGE_SIZE + s.freePageBytes / PAGE_SIZE;
  let tail = 0;
  for (const c of s.classes) {
    assert.equal(c.size, CLASS_SIZE[c.classIndex]);
    assert.equal(c.objectsPerSpan, CLASS_OBJECTS[c.classIndex]);
    assert.equal(c.pages, c.spans * CLASS_PAGES[c.classIndex]!);
    assert.equal(c.liveObjects + c.freeObjects, c.spans * c.objectsPerSpan, `class ${c.classIndex}: live + free == capacity`);
    assert.equal(c.liveBytes, c.liveObjects * c.size);
    assert.equal(c.freeBytes, c.freeObjects * c.size);
    assert.ok(c.cachedObjects >= 0 && c.cachedObjects <= c.freeObjects, `class ${c.classIndex}: cached objects are free objects`);
    assert.equal(c.allocs - c.frees, c.liveObjects, `class ${c.classIndex}: allocs - frees == live`);
    assert.ok(c.requestedBytes <= c.allocs * c.size, `class ${c.classIndex}: requests fit their class`);
    liveBytes += c.liveBytes;
    liveBlocks += c.liveObjects;
    freeBytes += c.freeBytes;
    cachedBytes += c.cachedObjects * c.size;
    pages += c.pages;
    tail += c.pages * PAGE_SIZE - c.spans * c.objectsPerSpan * c.size;
  }
  assert.equal(liveBytes, s.liveBytes, "rows + large == liveBytes");
  assert.equal(liveBlocks, s.liveBlocks, "rows + large == liveBlocks");
  assert.equal(freeBytes, s.freeObjectBytes, "rows' free bytes == freeObjectBytes");
  assert.equal(cachedBytes, s.cachedBytes, "rows' cached objects == cachedBytes");
  assert.equal(tail, s.spanTailBytes, "rows' tails == spanTailBytes");
  assert.equal(pages * PAGE_SIZE, s.committedBytes - s.metadataBytes, "every committed page is a class span's, a large block's or free");
  assert.equal(countedLiveBytes(heap), s.liveBytes, "the counts give the live bytes the spans give");
  if (s.largeBlocks > 0) {
    assert.ok(s.largeRequestedBytes > s.largeBytes - s.largeBlocks * PAGE_SIZE && s.largeRequestedBytes <= s.largeBytes, "large blocks are whole pages");
  }
  const data = s.committedBytes - s.metadataBytes;
  assert.equal(s.fragmentation, data > 0 ? 1 - s.liveBytes / data : 0);
  assert.ok(s.internalFragmentation >= 0 && s.internalFragmentation < 1);
  assert.ok(s.peakCommittedBytes >= s.committedBytes && s.peakCommittedBytes <= s.reservedBytes);
  assert.ok(s.peakLiveBytes >= s.liveBytes && s.peakLiveBytes <= s.peakCommittedBytes - s.metadataBytes);
  assert.ok(s.allocs >= s.largeAllocs);
}

describe("stats: the breakdown", () => {
  test(`byte fields add up to committed, rows to totals, class counts to a model (seed ${SEED})`, () => {
    const next = rng(SEED);
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const live: { addr: number; size: number }[] = [];
    const allocs = new Float64Array(N_CLASSES + 1);
    const frees = new Float64Array(N_CLASSES + 1);
    const requested = new Float64Array(N_CLASSES + 1);
    let largeRequested = 0;
    let largeAllocs = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = next();
      if (live.length > 0 && r < 0.47) {
        const [b] = live.splice(Math.floor(next() * live.length), 1);
        heap.free(b!.addr);
        if (b!.size <= MAX_SMALL_SIZE) frees[sizeClassOf(b!.size)]!++;
        else largeRequested -= b!.size;
      } else if (r < 0.4995) {
        heap.trim();
      } else {
        const size = next() < 0.98 ? randInt(next, 0, 3000) : randInt(next, MAX_SMALL_SIZE + 1, 200_000);
        live.push({ addr: heap.alloc(size), size });
        if (size <= MAX_SMALL_SIZE) {
          const cls = sizeClassOf(size);
          allocs[cls]!++;
          requested[cls]! += size;
        } else {
          largeRequested += size;
          largeAllocs++;
        }
      }
      if (i % 1000 === 999) {
        heap.check();
        const s = heap.stats();
        checkConsistent(heap, s);
        assert.equal(s.largeRequestedBytes, largeRequested);
        assert.equal(s.largeAllocs, largeAllocs);
        for (const c of s.classes) {
          assert.deepEqual([c.allocs, c.frees, c.requestedBytes], [allocs[c.classIndex], frees[c.classIndex], requested[c.classIndex]],
            `class ${c.classIndex}: allocs, frees, requested bytes`);
        }
      }
    }
  });

  test("metadata counts the bitmap and descriptors of data pages only, not of the address range or the metadata pages", () => {
    // Ranges of 1 GiB and more get the same cache lists (cacheCapacity), so
    // with the same pages committed their metadata must be the same bytes:
    // the header, the cache lists, and 288 B per committed data page. The
    // bitmap and descriptors of the metadata pages themselves (2.6 MiB for
    // 2 GiB, 5.2 MiB for 4 GiB) are never written, so the OS backs them
    // with no RAM.
    const sizes = [2 ** 30, 2 ** 31, 2 ** 32].map((maxSize) => {
      const heap = new Heap({ initialSize: 4 * MIB, maxSize });
      for (let i = 0; i < 1000; i++) heap.alloc(16 + (i % 40) * 24);
      heap.check();
      const s = heap.stats();
      return { metadata: s.metadataBytes, data: s.committedBytes - s.metadataBytes };
    });
    assert.deepEqual(sizes.map((x) => x.data), [sizes[0]!.data, sizes[0]!.data, sizes[0]!.data], "the same data pages committed");
    assert.deepEqual(sizes.map((x) => x.metadata), [sizes[0]!.metadata, sizes[0]!.metadata, sizes[0]!.metadata], "the same metadata");
    assert.ok(sizes[0]!.metadata < 1 * MIB, `metadata of a 4 MiB heap: ${sizes[0]!.metadata} bytes`);
  });

  test("metadata counts the cache lists' arrays in the 4 KiB pages they filled, and never less later", () => {
    // A heap with a 2 GiB range has 0.6 MiB of arrays; a new one has written
    // none of their slots (not even the sentinels, formatImage), and the OS
    // backs them with no RAM.
    const heap = new Heap({ initialSize: 4 * MIB, maxSize: 2 ** 31 });
    const totalPages = 2 ** 31 / PAGE_SIZE;
    const g = geometry(totalPages, CACHE_MAX_OBJECTS, N_CLASSES);
    const endPage = g.firstDataPage + (heap.stats().committedBytes - heap.stats().metadataBytes) / PAGE_SIZE;
    const whole = g.firstDataPage * PAGE_SIZE - (totalPages - endPage + g.firstDataPage) * 288;
    const before = heap.stats().metadataBytes;
    const region = g.firstDataPage * PAGE_SIZE - g.cacheOff; // the arrays, padded to a page
    assert.ok(whole - before >= region - 4096, `unwritten arrays left out: ${whole - before} of ${region} bytes`);
    assert.ok(whole - before <= region, "no more than the arrays' region");
    // 4,000 16-byte blocks freed fill 16,000 bytes of their class's array (it holds 4,096).
    const blocks = Array.from({ length: 4000 }, () => heap.alloc(16));
    for (const p of blocks) heap.free(p);
    const after = heap.stats().metadataBytes;
    assert.ok(after - before >= 12 * KIB && after - before <= 20 * KIB && (after - before) % 4096 === 0, `metadata grew by ${after - before} bytes`);
    // trim() empties the lists and gives back pages: what was written stays written.
    const beyondPages = (s: HeapStats) => s.metadataBytes - ((s.committedBytes - s.metadataBytes) / PAGE_SIZE) * 288;
    const written = beyondPages(heap.stats());
    heap.trim();
    assert.equal(beyondPages(heap.stats()), written);
    heap.check();
  });

  test("cached objects are the free objects on a class's cache list; span tails are what no object fits", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 256 * KIB });
    const cls = sizeClassOf(3000); // 3072-byte objects, 8 per 3-page span: 3 * 8192 - 8 * 3072 = 0 tail
    const blocks = Array.from({ length: 5 }, () => heap.alloc(3000));
    heap.free(blocks[0]!);
    heap.free(blocks[1]!);
    let row = heap.stats().classes.find((c) => c.classIndex === cls)!;
    assert.deepEqual([row.liveObjects, row.cachedObjects, row.freeObjects], [3, CLASS_OBJECTS[cls]! - 3, CLASS_OBJECTS[cls]! - 3]);
    heap.trim(); // flushes every cache list into the spans
    const s = heap.stats();
    row = s.classes.find((c) => c.classIndex === cls)!;
    assert.deepEqual([row.liveObjects, row.cachedObjects, row.freeObjects], [3, 0, CLASS_OBJECTS[cls]! - 3]);
    assert.equal(s.cachedBytes, 0);
    assert.equal(s.spanTailBytes, CLASS_PAGES[cls]! * PAGE_SIZE - CLASS_OBJECTS[cls]! * CLASS_SIZE[cls]!);
    const c104 = sizeClassOf(100);
    heap.alloc(100);
    assert.equal(heap.stats().spanTailBytes, s.spanTailBytes + PAGE_SIZE - CLASS_OBJECTS[c104]! * 104, "one 104-byte span adds its tail");
  });

  test("internal fragmentation: exact for large blocks, each class's average request for small ones", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 256 * KIB });
    heap.alloc(72_000); // 9 pages
    let s = heap.stats();
    assert.equal(s.largeRequestedBytes, 72_000);
    assert.equal(s.internalFragmentation, 1 - 72_000 / (9 * PAGE_SIZE));
    const a = heap.alloc(33); // class 40
    heap.alloc(40);
    heap.free(a);
    s = heap.stats();
    // one live 40-byte object counted at the class's average request, (33 + 40) / 2
    assert.equal(s.internalFragmentation, 1 - (72_000 + 36.5) / (9 * PAGE_SIZE + 40));
    assert.equal(new Heap({ maxSize: MIB }).stats().internalFragmentation, 0, "no live blocks: 0");
  });

  test("is a plain JSON-serializable object with finite numbers everywhere", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    heap.alloc(10);
    heap.free(heap.alloc(50_000));
    heap.alloc(70_000);
    const s = heap.stats();
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
    for (const [k, v] of Object.entries(s)) if (k !== "classes") assert.ok(Number.isFinite(v), `${k} is a finite number`);
    for (const row of s.classes) for (const [k, v] of Object.entries(row)) assert.ok(Number.isFinite(v), `classes[].${k} is a finite number`);
    const empty = new Heap({ maxSize: MIB, memory: "resizable", initialSize: 0 });
    empty.trim();
    const e = empty.stats();
    assert.equal(e.committedBytes - e.metadataBytes, 0, "no committed pages after trim");
    assert.equal(e.fragmentation, 0);
    assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
  });
});

describe("stats: peaks", () => {
  test(`peakCommittedBytes is the highest committedBytes ever, through growth and trim (seed ${SEED})`, () => {
    const next = rng(SEED);
    const heap = new Heap({ maxSize: 32 * MIB, initialSize: 64 * KIB, memory: "resizable" });
    // committedBytes is what depends on the committed end page (its pages
    // and their 288 B of bitmap and descriptor) plus the rest of the
    // metadata, which only grows (the cache lists' arrays fill further):
    // the peak is the first at its highest plus the rest as it is now.
    const pageBytes = (s: HeapStats) => ((s.committedBytes - s.metadataBytes) / PAGE_SIZE) * (PAGE_SIZE + 288);
    let max = heap.stats().committedBytes;
    let maxPages = pageBytes(heap.stats());
    assert.equal(heap.stats().peakCommittedBytes, max, "a new heap's peak is its initial size");
    const live: number[] = [];
    let rest = 0;
    for (let i = 0; i < 3000; i++) {
      const r = next();
      if (r < 0.02) heap.trim();
      else if (live.length > 0 && r < 0.5) heap.free(live.splice(Math.floor(next() * live.length), 1)[0]!);
      else live.push(heap.alloc(next() < 0.9 ? randInt(next, 1, 4000) : randInt(next, 40_000, 400_000)));
      const s = heap.stats();
      max = Math.max(max, s.committedBytes);
      maxPages = Math.max(maxPages, pageBytes(s));
      assert.ok(s.committedBytes - pageBytes(s) >= rest, `after op ${i}: the metadata beside the pages' never shrinks`);
      rest = s.committedBytes - pageBytes(s);
      assert.equal(s.peakCommittedBytes, maxPages + rest, `after op ${i}`);
      assert.ok(s.peakCommittedBytes >= max, `after op ${i}: never below the highest committedBytes`);
    }
    for (const p of live) heap.free(p);
    assert.ok(heap.trim() > 0);
    const s = heap.stats();
    assert.ok(s.committedBytes < s.peakCommittedBytes, "trim lowers committed, not its peak");
    assert.equal(s.peakCommittedBytes, maxPages + s.committedBytes - pageBytes(s));
  });

  test("peakLiveBytes is exact for large blocks: each large free is a sample", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const blocks = [100_000, 72_000, 300_000, 66_000].map((n) => heap.alloc(n));
    for (const p of blocks) heap.free(p);
    const pages = [100_000, 72_000, 300_000, 66_000].reduce((sum, n) => sum + Math.ceil(n / PAGE_SIZE), 0);
    const s = heap.stats();
    assert.equal(s.liveBytes, 0);
    assert.equal(s.peakLiveBytes, pages * PAGE_SIZE);
  });

  test("peakLiveBytes of small blocks is sampled before frees pass what the cache lists hold: within one list's capacity", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const cls = sizeClassOf(64);
    const capacity = cacheCapacity(cls, (16 * MIB) / PAGE_SIZE, CACHE_MAX_OBJECTS); // 512 objects
    const blocks = Array.from({ length: 3000 }, () => heap.alloc(64));
    for (const p of blocks) heap.free(p);
    const s = heap.stats();
    assert.equal(s.liveBytes, 0);
    // The frees that stayed on the list before the first overflow were not sampled: at most its capacity.
    assert.ok(s.peakLiveBytes >= (3000 - capacity) * 64, `peak ${s.peakLiveBytes} misses more than ${capacity} objects of 3000`);
    assert.ok(s.peakLiveBytes <= 3000 * 64, "never above the true peak");
    for (let i = 0; i < 3500; i++) heap.alloc(64);
    assert.equal(heap.stats().peakLiveBytes, 3500 * 64, "stats() is a sample");
    heap.alloc(64);
    assert.equal(heap.stats().peakLiveBytes, 3501 * 64, "the peak stats() returned stays recorded");
  });

  test("peakLiveBytes is sampled before a large block shrinks in place", () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const big = heap.alloc(300_000);
    assert.equal(heap.realloc(big, 72_000), big, "shrunk in place");
    const s = heap.stats();
    assert.equal(s.liveBytes, Math.ceil(72_000 / PAGE_SIZE) * PAGE_SIZE);
    assert.equal(s.peakLiveBytes, Math.ceil(300_000 / PAGE_SIZE) * PAGE_SIZE);
  });

  test(`peakLiveBytes never exceeds the true peak, misses less than the cache lists hold, and is at least every value stats() returned (seed ${SEED})`, () => {
    const next = rng(SEED ^ 0x5eed);
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB }); // lists of 8 KiB a class
    const live: number[] = [];
    let liveBytes = 0;
    let truePeak = 0;
    let seen = 0;
    // Phases of 400 operations that mostly allocate or mostly free, so the live bytes rise and fall far.
    for (let i = 0; i < 8000; i++) {
      const freeShare = (i / 400) % 2 < 1 ? 0.3 : 0.75;
      const r = next();
      if (live.length > 0 && r < freeShare) {
        const [p] = live.splice(Math.floor(next() * live.length), 1);
        liveBytes -= heap.sizeOf(p!);
        heap.free(p!);
      } else if (live.length > 0 && r < freeShare + 0.05) {
        const j = Math.floor(next() * live.length);
        const old = heap.sizeOf(live[j]!);
        const size = next() < 0.5 ? randInt(next, 1, 500) : randInt(next, 33_000, 60_000);
        const moved = heap.realloc(live[j]!, size);
        // a moving realloc holds the old block and the new one for a moment
        if (moved !== live[j]) truePeak = Math.max(truePeak, liveBytes + heap.sizeOf(moved));
        liveBytes += heap.sizeOf(moved) - old;
        live[j] = moved;
      } else {
        const p = heap.alloc(next() < 0.97 ? randInt(next, 0, 500) : randInt(next, 33_000, 120_000));
        live.push(p);
        liveBytes += heap.sizeOf(p);
      }
      truePeak = Math.max(truePeak, liveBytes);
      if (next() < 0.01) {
        const s = heap.stats();
        assert.equal(s.liveBytes, liveBytes);
        seen = Math.max(seen, s.liveBytes);
        // What stats.ts allows the peak to miss: what the cache lists can hold (classes without spans have empty lists).
        const listBytes = s.classes.reduce((sum, c) => sum + cacheCapacity(c.classIndex, (4 * MIB) / PAGE_SIZE, CACHE_MAX_OBJECTS) * c.size, 0);
        assert.ok(s.peakLiveBytes >= seen, `op ${i}: peak ${s.peakLiveBytes} below a value stats() returned, ${seen}`);
        assert.ok(s.peakLiveBytes <= truePeak, `op ${i}: peak ${s.peakLiveBytes} above the true peak ${truePeak}`);
        assert.ok(s.peakLiveBytes >= truePeak - listBytes, `op ${i}: peak ${s.peakLiveBytes} misses more of the true peak ${truePeak} than the cache lists hold, ${listBytes}`);
      }
    }
  });

  test("peaks are in the image: an attached copy sees them; a rejected allocation leaves them", () => {
    const heap = new Heap({ maxSize: 2 * MIB, initialSize: 64 * KIB, memory: "resizable" });
    const big = heap.alloc(600_000);
    heap.alloc(100);
    heap.free(big);
    heap.trim();
    const s = heap.stats();
    const copy = Heap.attach(heap.buffer.slice(0));
    assert.deepEqual(copy.stats(), s);
    assert.throws(() => heap.alloc(2 * MIB - PAGE_SIZE), OutOfMemoryError);
    const after = heap.stats();
    assert.deepEqual([after.peakCommittedBytes, after.peakLiveBytes], [s.peakCommittedBytes, s.peakLiveBytes]);
  });

  test("the set of classes used covers every class with counts (countedLiveBytes sums only those)", () => {
    const heap = new Heap({ maxSize: 4 * MIB, initialSize: 64 * KIB });
    for (const n of [1, 100, 5000, 32_768]) heap.free(heap.alloc(n));
    const used = new Set<number>();
    for (let cls = 1; cls <= N_CLASSES; cls++) if ((heap.u32[HDR_CLASS_USED + (cls >>> 5)]! >>> (cls & 31)) & 1) used.add(cls);
    assert.deepEqual([...used], [1, 100, 5000, 32_768].map(sizeClassOf));
  });
});

describe("formatStats", () => {
  // A small heap whose numbers follow from the size classes and the layout.
  function smallHeap(): Heap {
    const heap = new Heap({ maxSize: MIB, initialSize: 96 * KIB });
    heap.alloc(24);
    const b = heap.alloc(20);
    heap.alloc(100);
    heap.alloc(72_000);
    heap.free(b);
    return heap;
  }

  test("golden: a small deterministic heap", () => {
    assert.equal(formatStats(smallHeap().stats()), `\
offheap heap statistics (8 KiB pages)
  live blocks (in use)             73,856   72.1 KiB  3 blocks, 1 large
+ free objects in size classes     16,168   15.8 KiB  3,888 bytes of them on cache lists
+ span tails                           88       88 B  too short for an object
+ free pages (page heap)            8,192    8.0 KiB
+ metadata                         15,744   15.4 KiB  header, bitmap, page descriptors, cache lists
= committed                       114,048  111.4 KiB
  reserved (address range)      1,048,576    1.0 MiB
  peak committed                  114,048  111.4 KiB  pages at their peak, metadata as now
  peak live                        73,880   72.1 KiB  lower bound, sampled on slow paths
  requested since start            72,144   70.5 KiB
  fragmentation                     24.9%             1 - live / committed pages
  internal fragmentation             2.3%             live beyond requested (small: estimated)
  allocs since start                    4             1 large
  frees since start                     1

size classes:
class  size  spans  pages  objs/span  live objs  live bytes  free objs  free bytes  cached  util  allocs  frees  requested
    3    24      1      1        341          1          24        340       8,160      84  0.3%       2      1         44
   13   104      1      1         78          1         104         77       8,008      18  1.3%       1      0        100
large     -      1      9          -          1      73,728          -           -       -     -       1      0     72,000
(large: one span per block; requested is that of the live blocks)
`);
  });

  test(`values match stats(), the summary adds up, and every class-table row has the same length (seed ${SEED})`, () => {
    const next = rng(SEED);
    const heap = new Heap({ maxSize: 64 * MIB, initialSize: 64 * KIB });
    const live: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (live.length > 0 && next() < 0.4) heap.free(live.splice(Math.floor(next() * live.length), 1)[0]!);
      else {
        const r = next();
        live.push(heap.alloc(r < 0.9 ? randInt(next, 0, 2000) : r < 0.995 ? randInt(next, 0, MAX_SMALL_SIZE) : randInt(next, MAX_SMALL_SIZE + 1, MIB)));
      }
    }
    const s = heap.stats();
    const text = formatStats(s);
    assert.deepEqual(formatStats(JSON.parse(JSON.stringify(s)) as HeapStats), text, "formats a JSON round trip the same");
    const lines = text.trimEnd().split("\n");
    const num = (label: string): number => {
      const line = lines.find((l) => l.slice(2).startsWith(label + " "));
      assert.ok(line !== undefined, `a summary line "${label}"`);
      return Number(line.slice(2 + label.length).trim().split(/\s+/)[0]!.replace(/,/g, ""));
    };
    assert.equal(num("live blocks (in use)"), s.liveBytes);
    assert.equal(num("free objects in size classes"), s.freeObjectBytes);
    assert.equal(num("span tails"), s.spanTailBytes);
    assert.equal(num("free pages (page heap)"), s.freePageBytes);
    assert.equal(num("metadata"), s.metadataBytes);
    assert.equal(num("committed"), s.committedBytes);
    assert.equal(num("reserved (address range)"), s.reservedBytes);
    assert.equal(num("peak committed"), s.peakCommittedBytes);
    assert.equal(num("peak live"), s.peakLiveBytes);
    assert.equal(num("requested since start"), s.requestedBytes);
    assert.equal(num("allocs since start"), s.allocs);
    assert.equal(num("frees since start"), s.frees);
    const sum = lines.filter((l) => l.startsWith("+ ") || l.startsWith("  live blocks")).map((l) => Number(l.match(/\s([\d,]+)\s/)![1]!.replace(/,/g, "")));
    assert.equal(sum.reduce((a, b) => a + b, 0), num("committed"), "the + rows add up to the = row");
    // The class table: a header, one row per class, a large row.
    const start = lines.indexOf("size classes:") + 1;
    const table = lines.slice(start, start + 1 + s.classes.length + 1);
    assert.equal(new Set(table.map((l) => l.length)).size, 1, "every row of the class table has the same length");
    const header = table[0]!.trim().split(/\s{2,}/);
    const ends = header.map((h) => table[0]!.indexOf(h) + h.length);
    for (const [i, c] of s.classes.entries()) {
      const row = table[1 + i]!;
      for (const e of ends) assert.ok(e === row.length || row[e] === " ", `row ${i}: column ends at ${e} (right-aligned)`);
      const cells = row.trim().split(/\s+/);
      const get = (name: string) => Number(cells[header.indexOf(name)]!.replace(/[,%]/g, ""));
      assert.deepEqual(
        [get("class"), get("size"), get("spans"), get("pages"), get("objs/span"), get("live objs"), get("live bytes"), get("free objs"),
          get("free bytes"), get("cached"), get("allocs"), get("frees"), get("requested")],
        [c.classIndex, c.size, c.spans, c.pages, c.objectsPerSpan, c.liveObjects, c.liveBytes, c.freeObjects, c.freeBytes,
          c.cachedObjects, c.allocs, c.frees, c.requestedBytes], `row of class ${c.classIndex}`);
      assert.equal(get("util"), Number((100 * c.liveObjects / (c.spans * c.objectsPerSpan)).toFixed(1)));
    }
    assert.match(table.at(-1)!, new RegExp(`^large\\s+-\\s+${count(s.largeBlocks)}\\s+${count(s.largeBytes / PAGE_SIZE)}\\s`));
  });

  test("an empty heap prints the summary and an empty class table", () => {
    const text = formatStats(new Heap({ maxSize: MIB }).stats());
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.at(-2), "size classes:");
    assert.match(lines.at(-1)!, /^class {2}size {2}spans/);
    assert.match(text, /\n {2}allocs since start +0 /);
  });

  test("count and humanBytes", () => {
    assert.deepEqual([0, 7, 999, 1000, 12_345, 1_234_567, -4096, 2 ** 32].map(count),
      ["0", "7", "999", "1,000", "12,345", "1,234,567", "-4,096", "4,294,967,296"]);
    assert.deepEqual([0, 1023, 1024, 1536, 8 * MIB, 2 ** 31, 3 * 2 ** 40].map(humanBytes),
      ["0 B", "1023 B", "1.0 KiB", "1.5 KiB", "8.0 MiB", "2.0 GiB", "3.0 TiB"]);
  });
});
