// The size-class table: generated, checked in, and obeying its rules
// (scripts/gen-size-classes.mjs lists them as R1-R5).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CLASS_OBJECTS, CLASS_PAGES, CLASS_SIZE, Heap, MAX_SMALL_SIZE, N_CLASSES, PAGE_SIZE } from "../src/index.js";
import { MAX_CLASSES } from "../src/heap/layout.js";
import { KIB, MIB } from "./helpers.js";

// build/test/ -> repository root
const ROOT = new URL("../../", import.meta.url);

test("src/heap/size-classes.ts is exactly what scripts/gen-size-classes.mjs generates", async () => {
  const gen = (await import(new URL("scripts/gen-size-classes.mjs", ROOT).href)) as { generate(): string };
  const checkedIn = readFileSync(new URL("src/heap/size-classes.ts", ROOT), "utf8");
  assert.equal(checkedIn, gen.generate(), "run `npm run gen` and commit the result");
});

test("no table with more classes than the header holds can be generated or loaded (R5)", async () => {
  const gen = (await import(new URL("scripts/gen-size-classes.mjs", ROOT).href)) as {
    sizeClasses(): { size: number }[];
    checkRows(rows: unknown[]): void;
  };
  const rows = gen.sizeClasses();
  gen.checkRows(rows);
  // MAX_CLASSES + 1 classes of 8-byte steps below 64 KiB: every other rule holds, R5 does not.
  const tooMany = Array.from({ length: MAX_CLASSES + 1 }, (_, i) => ({ ...rows.at(-1)!, size: i === MAX_CLASSES ? MAX_SMALL_SIZE : 8 + 8 * i, prev: i === 0 ? 0 : 8 * i }));
  assert.throws(() => gen.checkRows(tooMany), /R5: 80 classes, but the image header holds 79/);
  // A built package whose table overflows the header refuses to load.
  const dir = mkdtempSync(join(tmpdir(), "offheap-classes-"));
  try {
    cpSync(new URL("dist", ROOT), dir, { recursive: true });
    const file = join(dir, "heap", "size-classes.js");
    const text = readFileSync(file, "utf8");
    assert.match(text, /export const N_CLASSES = \d+;/);
    writeFileSync(file, text.replace(/export const N_CLASSES = \d+;/, `export const N_CLASSES = ${MAX_CLASSES + 1};`));
    await assert.rejects(import(pathToFileURL(join(dir, "index.js")).href), /size-class table has 80 classes; the heap image's header holds 79/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("classes are multiples of 8, increasing, from 8 B to 32 KiB", () => {
  assert.equal(CLASS_SIZE.length, N_CLASSES + 1);
  assert.equal(CLASS_PAGES.length, N_CLASSES + 1);
  assert.equal(CLASS_OBJECTS.length, N_CLASSES + 1);
  assert.ok(N_CLASSES <= MAX_CLASSES, `${N_CLASSES} classes; the image header holds ${MAX_CLASSES}`);
  assert.equal(CLASS_SIZE[1], 8);
  assert.equal(CLASS_SIZE[N_CLASSES], 64 * KIB);
  assert.equal(MAX_SMALL_SIZE, 64 * KIB);
  for (let c = 1; c <= N_CLASSES; c++) {
    assert.equal(CLASS_SIZE[c]! % 8, 0, `class ${c}`);
    if (c > 1) assert.ok(CLASS_SIZE[c]! > CLASS_SIZE[c - 1]!, `class ${c} is larger than class ${c - 1}`);
  }
});

test("rounding a request up to its class wastes at most 12.5% for classes above 64 B", () => {
  for (let c = 2; c <= N_CLASSES; c++) {
    const size = CLASS_SIZE[c]!;
    const smallest = CLASS_SIZE[c - 1]! + 1; // the smallest request this class serves
    if (size > 64) assert.ok((size - smallest) / size <= 0.125, `class ${size}: a ${smallest}-byte request wastes ${size - smallest}`);
    else assert.ok(size - smallest <= 7, `class ${size}: alignment bounds the waste`);
  }
});

test("span tail waste is at most 12.5% and objects fill each span", () => {
  for (let c = 1; c <= N_CLASSES; c++) {
    const spanBytes = CLASS_PAGES[c]! * PAGE_SIZE;
    assert.equal(CLASS_OBJECTS[c], Math.floor(spanBytes / CLASS_SIZE[c]!), `class ${c} objects`);
    const tail = spanBytes - CLASS_OBJECTS[c]! * CLASS_SIZE[c]!;
    assert.ok(tail / spanBytes <= 0.125, `class ${CLASS_SIZE[c]}: tail ${tail} of ${spanBytes}`);
    // Above 32 KiB one object a span, in the pages a large block of its size would take (gen-size-classes.mjs: R4).
    if (CLASS_SIZE[c]! > 32 * KIB) assert.equal(CLASS_PAGES[c], Math.ceil(CLASS_SIZE[c]! / PAGE_SIZE), `class ${CLASS_SIZE[c]}: pages`);
    else assert.ok(CLASS_OBJECTS[c]! >= 8 || spanBytes >= 64 * KIB, `class ${CLASS_SIZE[c]}: ${CLASS_OBJECTS[c]} objects per span`);
  }
});

test("every size 0..65536 gets the smallest class that holds it; larger sizes get whole pages", () => {
  const heap = new Heap({ maxSize: 8 * MIB, initialSize: 256 * KIB });
  let c = 1;
  for (let n = 0; n <= MAX_SMALL_SIZE; n++) {
    while (CLASS_SIZE[c]! < n) c++;
    const p = heap.alloc(n);
    const got = heap.sizeOf(p);
    if (got !== CLASS_SIZE[c]) assert.fail(`sizeOf(alloc(${n})) is ${got}, expected class ${c} of ${CLASS_SIZE[c]} bytes`);
    heap.free(p);
    if (n % 4096 === 0) heap.check();
  }
  heap.check();
  for (const n of [MAX_SMALL_SIZE + 1, 9 * PAGE_SIZE, 9 * PAGE_SIZE + 1, MIB]) {
    const p = heap.alloc(n);
    assert.equal(heap.sizeOf(p), Math.ceil(n / PAGE_SIZE) * PAGE_SIZE, `sizeOf(alloc(${n}))`);
    heap.free(p);
    heap.check();
  }
});
