// Writes after free (see run.mjs): a program allocates and frees small
// blocks, then stores into the first word of a freed object (where a
// span's free list keeps its link) a random word, or an address in one of
// the image's regions (header, allocation bitmap, page descriptors, the
// last metadata page, a free page, the inside of a live or free block, a
// live block's start, a free object of any class, a misaligned address,
// past the memory). From then on every allocation must return a free object
// of the class asked for, overlapping no live block and inside the data
// pages, or throw HeapCorruptionError. Most programs trim first, so that
// every free object is on its span's free list, and the victim is chosen in
// a span: then check() must report the damage too. Every live block's
// pattern is verified after each allocation.
import { Heap, HeapCorruptionError } from "offheap";
import { CODES, checkWindows, ensure, fillPattern, hex } from "./lib.mjs";

const MIB = 1 << 20;
const PAGE = 8192;
// Header words read here (src/heap/layout.ts): the image's geometry.
const HDR_TOTAL_PAGES = 5;
const HDR_FIRST_DATA_PAGE = 6;
const HDR_END_PAGE = 7;
const HDR_DESC_OFF = 8;

/** Runs one damaged-link program of `steps` steps. */
export function linksProgram(p, steps) {
  const maxSize = p.pick([4, 8, 16]) * MIB;
  const kind = p.pick(["wasm", "arraybuffer", "sab"]);
  const memory = kind === "arraybuffer" ? new ArrayBuffer(maxSize) : kind === "sab" ? new SharedArrayBuffer(maxSize) : kind;
  const heap = new Heap({ maxSize, initialSize: p.int(64, 1024) * 1024, memory, debug: false });
  p.note = `${kind} memory, maxSize ${maxSize >> 20} MiB`;

  const blocks = new Map(); // addr -> { id, size }
  const freed = new Map(); // addr -> size: blocks freed and not handed out again
  let nextId = 1;
  const sizes = [8, 16, 24, 48, 64, 100, 256, 1000, 4096];
  const overlapping = (a, n) => {
    for (const [b, { size }] of blocks) if (a < b + Math.max(8, size) && b < a + Math.max(8, n)) return b;
    return -1;
  };
  const verifyAll = () => {
    for (const [a, b] of blocks) checkWindows(heap.u8, a, b.size, b.id, `block ${hex(a)} (#${b.id}, ${b.size} B)`, 0, (lo, hi) => p.int(lo, hi));
  };
  // An allocation after the damage: a good block, or HeapCorruptionError (then true: the program is over).
  const allocChecked = (n) => {
    let a;
    try {
      a = heap.alloc(n);
    } catch (e) {
      ensure(e instanceof HeapCorruptionError && e.code === CODES.CORRUPT, () => `alloc(${n}) after a damaged link threw ${e?.name}: ${e?.message}`);
      p.event("links: damage reported by alloc");
      return true;
    }
    const first = heap.u32[HDR_FIRST_DATA_PAGE] * PAGE;
    const end = heap.u32[HDR_END_PAGE] * PAGE;
    ensure(a % 8 === 0 && a >= first && a + n <= end, () => `alloc(${n}) returned ${hex(a)}, outside the data pages [${hex(first)}, ${hex(end)}) or misaligned`);
    const other = overlapping(a, n);
    ensure(other < 0, () => `alloc(${n}) returned ${hex(a)}, overlapping the live block at ${hex(other)}`);
    ensure(heap.sizeOf(a) >= n, () => `alloc(${n}) returned ${hex(a)}, a block of ${heap.sizeOf(a)} bytes`);
    const id = nextId++;
    blocks.set(a, { id, size: n });
    freed.delete(a);
    fillPattern(heap.u8, a, n, id);
    verifyAll();
    return false;
  };

  // Build a heap with live and free objects of several classes.
  for (let i = p.int(50, 400); i > 0; i--) {
    const n = p.pick(sizes);
    const a = heap.alloc(n);
    blocks.set(a, { id: nextId, size: n });
    fillPattern(heap.u8, a, n, nextId++);
  }
  for (const a of [...blocks.keys()]) {
    if (p.chance(0.5)) {
      heap.free(a);
      freed.set(a, blocks.get(a).size);
      blocks.delete(a);
    }
  }
  // Trimmed, every free object is on its span's free list (the cache lists are flushed).
  const trimmed = p.chance(0.7);
  if (trimmed) heap.trim();
  heap.check();
  const spanPages = new Set();
  for (const span of heap.snapshot().spans) if (span.kind === "small") for (let i = 0; i < span.pages; i++) spanPages.add(span.startPage + i);
  const victims = [...freed.keys()].filter((a) => spanPages.has(Math.floor(a / PAGE)));
  if (victims.length === 0 || blocks.size === 0) return;

  // The damage: one word written into a freed object's first word.
  const victim = p.pick(victims);
  const victimSize = freed.get(victim);
  const u32 = heap.u32;
  const descOff = u32[HDR_DESC_OFF];
  const firstData = u32[HDR_FIRST_DATA_PAGE] * PAGE;
  const total = u32[HDR_TOTAL_PAGES];
  const liveList = [...blocks.keys()];
  const freeList = [...freed.keys()];
  const targets = [
    ["random word", () => p.int(0, 0xffffffff)],
    ["header", () => p.int(1, PAGE / 8 - 1) * 8],
    ["bitmap", () => PAGE + p.int(0, (descOff - PAGE) / 8 - 1) * 8],
    ["descriptors", () => descOff + p.int(0, total * 4 - 1) * 8],
    ["last metadata page", () => firstData - p.int(1, PAGE / 8) * 8],
    ["past the committed end", () => u32[HDR_END_PAGE] * PAGE + p.int(0, 1000) * 8],
    ["inside a live block", () => { const a = p.pick(liveList); return a + 8 * p.int(0, Math.max(0, (blocks.get(a).size >> 3) - 1)); }],
    ["a live block", () => p.pick(liveList)],
    ["inside a free object", () => p.pick(freeList) + 8 * p.int(1, 4)],
    ["a free object (any class)", () => p.pick(freeList)],
    ["misaligned", () => p.pick(freeList) + p.int(1, 7)],
  ];
  const [what, value] = p.pick(targets);
  const link = value() >>> 0;
  p.op = `damage: link of free object ${hex(victim)} := ${hex(link)} (${what})`;
  if (p.trace) console.log(`  ${p.op}`);
  const old = u32[victim >>> 2];
  u32[victim >>> 2] = link;
  p.event(`links: ${what}`);

  // check() must see it on a span's free list (unless the word written equals the link it replaced).
  if (trimmed && link !== old) {
    let reported = false;
    try {
      heap.check();
    } catch (e) {
      ensure(e instanceof HeapCorruptionError, () => `check() after a damaged link threw ${e?.name}: ${e?.message}`);
      reported = true;
    }
    ensure(reported, () => `check() did not report the link of free object ${hex(victim)} set to ${hex(link)} (${what})`);
  }

  // Then allocations of every size, the victim's class most, until one reports the damage.
  for (p.step = 1; p.step <= steps; p.step++) {
    p.counts.steps++;
    const n = p.chance(0.5) ? victimSize : p.pick(sizes);
    p.op = `alloc(${n}) after the damage`;
    if (allocChecked(n)) return;
  }
}
