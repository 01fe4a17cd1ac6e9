// The collector's wasm mark loop: the module checked in is the one
// wasm/marker.ts compiles to, and it is the loop that marks heaps on a
// WebAssembly.Memory, shared or not, with the JavaScript loop marking the
// rest the same way (the model tests in collector.test.ts run on both).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Heap, HeapCorruptionError } from "../../src/index.js";
import * as layout from "../../src/heap/layout.js";
import * as gcLayout from "../../src/collections/gc-layout.js";
import { Collector, defineStruct } from "../../src/collections/index.js";

// build/test/collections/ -> repository root
const ROOT = new URL("../../../", import.meta.url);

test("src/collections/gc-mark-wasm.ts is exactly what scripts/gen-marker.mjs compiles from wasm/marker.ts", async () => {
  const gen = (await import(new URL("scripts/gen-marker.mjs", ROOT).href)) as { markerModule(): string };
  const checkedIn = readFileSync(new URL("src/collections/gc-mark-wasm.ts", ROOT), "utf8");
  assert.equal(checkedIn, gen.markerModule(), "run `npm run gen:marker` and commit the result");
});

test("wasm/marker.ts reads page descriptors and the collector's bitmaps with the image's layout constants", () => {
  const source = readFileSync(new URL("wasm/marker.ts", ROOT), "utf8");
  const constant = (name: string): number => Number(new RegExp(`^const ${name}: u32 = (\\w+);`, "m").exec(source)?.[1]);
  assert.equal(constant("PAGE_SHIFT"), layout.PAGE_SHIFT);
  assert.equal(constant("DESC_SHIFT"), layout.DESC_SHIFT);
  assert.equal(constant("D_CLASS"), layout.D_CLASS);
  assert.equal(constant("D_NPAGES"), layout.D_NPAGES);
  assert.equal(constant("CHUNK_SHIFT"), gcLayout.CHUNK_SHIFT);
  assert.equal(constant("CHUNK_GRANULE_BYTES"), gcLayout.CHUNK_GRANULE_BYTES);
  assert.equal(constant("EVEN_BITS"), gcLayout.EVEN_BITS);
});

const Node = defineStruct({ left: "ref", right: "ref", value: "u32" });
// Over 512 bytes: marked a slice at a time.
const Wide = defineStruct({ first: "ref", pad: "bytes[1500]", last: "ref" });
// 64 refs: the next level in r0 (scanned next), a Wide in r1, leaves in the rest, which stay gray.
const Comb = defineStruct(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`r${i}`, "ref" as const])));
const LEVELS = 100;
const PER_LEVEL = 1 + 1 + 2 + 62; // the Comb, its Wide and the Wide's 2 Nodes, 62 leaves

// LEVELS levels of a Comb: 6,200 leaves gray at the bottom, more than a JS
// gray segment (4,096) or the wasm loop's workspace (7,936, spilled past
// 5,760) holds. Returns the levels' addresses.
function comb(gc: Collector): number[] {
  const levels = Array.from({ length: LEVELS }, () => gc.alloc(Comb));
  for (let k = 0; k < LEVELS; k++) {
    const fields = Comb.at(gc.heap, levels[k]!) as unknown as Record<string, number>;
    fields.r0 = levels[k + 1] ?? 0;
    const wide = gc.alloc(Wide);
    const w = Wide.at(gc.heap, wide);
    w.first = gc.alloc(Node);
    w.last = gc.alloc(Node);
    fields.r1 = wide;
    for (let i = 2; i < 64; i++) fields[`r${i}`] = gc.alloc(Node);
  }
  return levels;
}

for (const memory of ["wasm", "resizable", "shared"] as const) {
  test(`a comb of 6,600 records is kept whole and its dropped half freed (${memory} memory)`, () => {
    const heap = new Heap({ memory: memory === "shared" ? new WebAssembly.Memory({ initial: 16, maximum: 4096, shared: true }) : memory, maxSize: 256 << 20 });
    const gc = new Collector(heap);
    const levels = comb(gc);
    heap.setRoot("comb", levels[0]!);
    gc.collect();
    assert.equal(gc.stats().liveBlocks, LEVELS * PER_LEVEL);
    Comb.at(heap, levels[LEVELS / 2 - 1]!).r0 = 0;
    gc.collect();
    assert.equal(gc.stats().liveBlocks, (LEVELS / 2) * PER_LEVEL);
    const workspace = heap.u32[(heap.getRoot("offheap.gc") >>> 2) + 4];
    assert.equal(workspace !== 0, memory !== "resizable", "the wasm loop marked the heaps on a WebAssembly.Memory, the JavaScript loop the other");
    gc.check();
    heap.check();
  });
}

test("a chunk table entry damaged to an address past the memory: the wasm loop's collect() throws HeapCorruptionError (C1), as check() does", () => {
  const heap = new Heap({ maxSize: 64 << 20 });
  const gc = new Collector(heap);
  const levels = comb(gc);
  heap.setRoot("comb", levels[0]!);
  const d = heap.getRoot("offheap.gc") >>> 2;
  const table = heap.u32[d + 3]! >>> 2; // DIR_CHUNKS
  heap.u32[table + (levels[0]! >>> 20)] = 0xfff00000; // the bitmaps of the comb's first chunk, far past the memory's end
  assert.throws(() => gc.collect(), (e: unknown) => e instanceof HeapCorruptionError && e.invariant === "C1");
  assert.throws(() => gc.check(), (e: unknown) => e instanceof HeapCorruptionError && e.invariant === "C1");
});
