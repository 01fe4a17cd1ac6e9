// The public surface with bad options (issue 10, item 5), as users get it:
// every class and function the five entry points export, loaded from the built
// package (dist/), is called with its options left out, null, not an object,
// and each option of a wrong type, and with something that is not a Heap in
// place of its heap. Each call must throw OffheapTypeError whose message
// starts with the call's name and names the option, and leave the heap as it
// was (same bytes, same live blocks, check() passes).
//
// One table of cases per entry point. The coverage test of an entry fails
// for an exported class or function (or a class's static function) that
// has no case, so a new export cannot skip these checks; one that takes
// neither options nor a heap says why in its case.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Heap } from "../src/index.js";
import { assertSameBytes, snapshot } from "./helpers.js";

const DIST = new URL("../../dist/", import.meta.url); // build/test/ -> dist/
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, DIST).href)) as T;
const main = await load<typeof import("../src/index.js")>("index.js");
const buffers = await load<typeof import("../src/buffers/index.js")>("buffers/index.js");
const bufferStreams = await load<typeof import("../src/buffers/node.js")>("buffers/node.js");
const collections = await load<typeof import("../src/collections/index.js")>("collections/index.js");
const tools = await load<typeof import("../src/debug/index.js")>("debug/index.js");

/** How one public call is tried. */
interface Case {
  /** The call, as its messages begin: `"OffHeapMap.open"`. */
  readonly call: string;
  /** The name the coverage test knows it by, if not `call` (a struct type's functions: `"T.alloc"`). */
  readonly name?: string;
  /** Why it takes neither options nor a heap (error classes, predicates, data arguments): nothing is tried. */
  readonly none?: string;
  /** Calls it with `target` in place of its heap (or of what `targetName` names). */
  readonly withTarget?: (target: unknown) => unknown;
  /** What withTarget replaces, as the message names it. Default "heap". */
  readonly targetName?: string;
  /** Values tried as the target; default NOT_HEAPS. */
  readonly badTargets?: readonly unknown[];
  /** Calls it with `options` as its options object (undefined: left out). */
  readonly withOptions?: (options: unknown) => unknown;
  /** The option named when the options are left out; absent when they may be left out. */
  readonly required?: string;
  /** Options that work; each wrong-typed option is tried on top of them. Default {}. */
  readonly valid?: Readonly<Record<string, unknown>>;
  /** Each option (a dotted path for a nested one) with a value of a wrong type. */
  readonly wrongTypes?: Readonly<Record<string, unknown>>;
  /** What the messages call the options object. Default "options". */
  readonly optionsName?: string;
  /** How a message names the option at `path`. Default `options.${path}`. */
  readonly optionText?: (path: string) => string;
  /** The call returns a promise: its errors are rejections. */
  readonly async?: boolean;
}

/** Not a Heap, from nothing at all to an object with part of a Heap's shape. */
const NOT_HEAPS: readonly unknown[] = [undefined, null, 0, "heap", {}, [], new ArrayBuffer(8), { alloc() {}, free() {} }];
/** Not an options object. */
const NOT_OBJECTS: readonly unknown[] = [42, "fast", true, 7n, Symbol("options"), [1], () => ({})];

const heap = new main.Heap({ maxSize: 16 << 20 });
const MAP_OPTIONS = { key: "u32", value: "f64" } as const;
const someMap = new collections.OffHeapMap(heap, MAP_OPTIONS);
const someArray = new collections.OffHeapArray(heap, "f64");
const Point = collections.defineStruct({ x: "f64", name: "string" });
const point = Point.alloc(heap, { x: 1, name: "p" });
const allocator = new buffers.ScalableAllocator(heap);
const noChunks = (): AsyncIterable<Uint8Array> => (async function* () {})();
const FRAME_WRONG_TYPES = { prefixBytes: "4", littleEndian: 1, lengthIncludesPrefix: "yes", maxFrameBytes: "10", header: "r => 1", memory: 5 };
const MAP_WRONG_TYPES = { key: 1, value: 2, capacity: "8", hashSeed: 7n };

const BUFFERS_CASES: readonly Case[] = [
  { call: "RangeAllocator", withOptions: (o) => new buffers.RangeAllocator(64, o as never), wrongTypes: { index: 1 } },
  {
    call: "BuddyAllocator", withOptions: (o) => new buffers.BuddyAllocator(o as never), required: "units", valid: { units: 16 },
    wrongTypes: { units: "16", unitSize: "8" },
  },
  {
    call: "ScalableAllocator", withTarget: (h) => new buffers.ScalableAllocator(h as never), withOptions: (o) => new buffers.ScalableAllocator(heap, o as never),
    wrongTypes: { initialSize: "64k", maxRegionSize: 4n, debug: "on", "debug.stacks": "all", "debug.quarantineBytes": "4M" },
  },
  {
    call: "RecyclableMemory", withTarget: (a) => new buffers.RecyclableMemory(a as never), targetName: "allocator",
    badTargets: [...NOT_HEAPS, heap, { malloc() {}, freeRange() {} }],
  },
  { call: "BufferList", none: "takes buffers, no options; other arguments are OffheapTypeErrors (test/buffers/buffer-list.test.ts)" },
  { call: "BufferReader", none: "takes its source, no options; other sources are OffheapTypeErrors (test/buffers/buffer-reader.test.ts)" },
  { call: "FrameParser", withOptions: (o) => new buffers.FrameParser(o as never), wrongTypes: FRAME_WRONG_TYPES },
  { call: "splitFrames", withOptions: (o) => buffers.splitFrames(noChunks(), o as never), wrongTypes: FRAME_WRONG_TYPES },
  { call: "EndOfDataError", none: "an error class" },
];

const BUFFER_STREAMS_CASES: readonly Case[] = [
  { call: "FrameSplitter", withOptions: (o) => new bufferStreams.FrameSplitter(o as never), wrongTypes: FRAME_WRONG_TYPES },
];

const COLLECTIONS_CASES: readonly Case[] = [
  { call: "defineStruct", withOptions: (o) => collections.defineStruct({ x: "u8" }, o as never), wrongTypes: { layout: 1 } },
  { call: "isStructType", none: "a predicate over any value" },
  { call: "StructBase", withTarget: (h) => new collections.StructBase(h as never, point) },
  {
    call: "OffHeapArray", withTarget: (h) => new collections.OffHeapArray(h as never, "f64"),
    withOptions: (o) => new collections.OffHeapArray(heap, "f64", o as never), wrongTypes: { capacity: "8", collector: 1 },
  },
  {
    // Each on a heap of its own: one Collector per heap.
    call: "Collector", withTarget: (h) => new collections.Collector(h as never),
    withOptions: (o) => new collections.Collector(new main.Heap(), o as never), wrongTypes: { growth: "1", minBytes: "4", concurrent: "yes" },
  },
  { call: "OffHeapArray.open", withTarget: (h) => collections.OffHeapArray.open(h as never, someArray.address, "f64") },
  {
    call: "OffHeapMap", withTarget: (h) => new collections.OffHeapMap(h as never, MAP_OPTIONS),
    withOptions: (o) => new collections.OffHeapMap(heap, o as never), required: "key", valid: MAP_OPTIONS, wrongTypes: MAP_WRONG_TYPES,
  },
  {
    call: "OffHeapMap.open", withTarget: (h) => collections.OffHeapMap.open(h as never, someMap.address, MAP_OPTIONS),
    withOptions: (o) => collections.OffHeapMap.open(heap, someMap.address, o as never), required: "key", valid: MAP_OPTIONS, wrongTypes: MAP_WRONG_TYPES,
  },
  { call: "ConcurrentModificationError", none: "an error class" },
  { call: "WorkerTimeoutError", none: "an error class" },
  { call: "DisposedError", none: "an error class" },
];

// The functions of a struct type (what defineStruct returns); their values
// objects are tried as options, named "values" and "field x" by messages.
const T = Point.descriptor;
const STRUCT_VALUES = { optionsName: "values", optionText: (path: string) => `field ${path}`, wrongTypes: { x: "1", name: 5 } };
const STRUCT_TYPE_CASES: readonly Case[] = [
  { name: "T", call: T, withTarget: (h) => new Point(h as never, point) },
  { name: "T.at", call: `${T}.at`, withTarget: (h) => Point.at(h as never, point) },
  { name: "T.alloc", call: `${T}.alloc`, withTarget: (h) => Point.alloc(h as never), withOptions: (o) => Point.alloc(heap, o as never), ...STRUCT_VALUES },
  { name: "T.free", call: `${T}.free`, withTarget: (h) => Point.free(h as never, point) },
  { name: "T.freeOwned", call: `${T}.freeOwned`, withTarget: (h) => Point.freeOwned(h as never, point) },
  { name: "T.read", call: `${T}.read`, withTarget: (h) => Point.read(h as never, point) },
  { name: "T.write", call: `${T}.write`, withTarget: (h) => Point.write(h as never, point, {}), withOptions: (o) => Point.write(heap, point, o as never), ...STRUCT_VALUES },
  { name: "T.reset", call: `${T}.reset`, withTarget: (h) => Point.reset(h as never, point), withOptions: (o) => Point.reset(heap, point, o as never), ...STRUCT_VALUES },
  { name: "T.check", call: `${T}.check`, withTarget: (h) => Point.check(h as never, point) },
];

// The main entry, "offheap" (dist/index.js), and its tools, "offheap/debug".
const HEAP_WRONG_TYPES = {
  growBy: "1M", growAt: "0.5", debug: "on", "debug.stacks": "all", "debug.quarantineBytes": "4M", profile: 1, "profile.sampleInterval": "64k",
};
const image = new Uint8Array(heap.buffer).slice().buffer;
const ERROR_CLASSES = [
  "OffheapError", "OutOfMemoryError", "DoubleFreeError", "InvalidAddressError", "HeapCorruptionError", "InvalidImageError",
  "EndOfDataError", "DisposedError", "ConcurrentModificationError", "WorkerTimeoutError", "OffheapRangeError", "OffheapTypeError",
];
const MAIN_ENTRY_CASES: readonly Case[] = [
  {
    call: "Heap", withOptions: (o) => new main.Heap(o as never),
    wrongTypes: { ...HEAP_WRONG_TYPES, initialSize: "1M", maxSize: 1n, memory: new Uint8Array(8) },
  },
  {
    call: "Heap.attach", withTarget: (m) => main.Heap.attach(m as never), targetName: "memory",
    badTargets: [undefined, null, 0, "memory", {}, new Uint8Array(8), heap],
    withOptions: (o) => main.Heap.attach(image, o as never), wrongTypes: HEAP_WRONG_TYPES,
  },
  { call: "Heap.load", async: true, withOptions: (o) => main.Heap.load("/nonexistent/offheap.heap", o as never), wrongTypes: { ...HEAP_WRONG_TYPES, memory: 5 } },
  { call: "heapSnapshot", withTarget: (h) => main.heapSnapshot(h as never) },
  { call: "Mutex", withTarget: (h) => new main.Mutex(h as never) },
  { call: "Mutex.open", withTarget: (h) => main.Mutex.open(h as never, 8) },
  { call: "formatStats", withTarget: (st) => main.formatStats(st as never), targetName: "stats", badTargets: [undefined, null, 0, {}, heap] },
  { call: "HeapScope", none: "made by heap.scope(), which takes no arguments" },
  { call: "HeapHandle", none: "made by heap.handle(addr), which takes an address, not options" },
  ...ERROR_CLASSES.map((call) => ({ call, none: "an error class" })),
];
const DEBUG_ENTRY_CASES: readonly Case[] = [
  { call: "heapMapHtml", withOptions: (o) => tools.heapMapHtml(heap.snapshot(), o as never), wrongTypes: { title: 5 } },
  { call: "writeHeapMap", async: true, withOptions: (o) => tools.writeHeapMap("/nonexistent/map.html", heap, o as never), wrongTypes: { title: 5 } },
  { call: "writeHeapProfile", async: true, withTarget: (h) => tools.writeHeapProfile("/nonexistent/heap.pb.gz", h as never) },
  { call: "encodeHeapProfile", withTarget: (p) => tools.encodeHeapProfile(p as never), targetName: "profile", badTargets: [undefined, null, {}, heap] },
  { call: "gzipHeapProfile", async: true, withTarget: (p) => tools.gzipHeapProfile(p as never), targetName: "profile", badTargets: [undefined, null, {}] },
];

/** An entry point (or the functions of a struct type): what it exposes, and its cases. */
interface Surface {
  readonly entry: string;
  /** The names of its classes and functions, as the cases' `name ?? call` give them. */
  readonly calls: readonly string[];
  readonly cases: readonly Case[];
}

/** Exported classes and functions, and the static functions of the classes (`OffHeapMap.open`). */
function exportedCalls(namespace: object): string[] {
  const calls: string[] = [];
  for (const [name, value] of Object.entries(namespace)) {
    if (typeof value !== "function") continue;
    calls.push(name);
    for (const key of Object.getOwnPropertyNames(value)) {
      if (typeof Object.getOwnPropertyDescriptor(value, key)?.value === "function") calls.push(`${name}.${key}`);
    }
  }
  return calls.sort();
}

const SURFACES: readonly Surface[] = [
  { entry: "offheap", calls: exportedCalls(main), cases: MAIN_ENTRY_CASES },
  { entry: "offheap/debug", calls: exportedCalls(tools), cases: DEBUG_ENTRY_CASES },
  { entry: "offheap/buffers", calls: exportedCalls(buffers), cases: BUFFERS_CASES },
  { entry: "offheap/buffers/node", calls: exportedCalls(bufferStreams), cases: BUFFER_STREAMS_CASES },
  { entry: "offheap/collections", calls: exportedCalls(collections), cases: COLLECTIONS_CASES },
  {
    entry: "a struct type (what defineStruct returns)",
    calls: ["T", ...Object.getOwnPropertyNames(Point).filter((k) => typeof (Point as unknown as Record<string, unknown>)[k] === "function").map((k) => `T.${k}`)],
    cases: STRUCT_TYPE_CASES,
  },
];

/** `options` with the option at `path` (one level of nesting: "debug.stacks") set to `value`. */
function withOption(options: Readonly<Record<string, unknown>>, path: string, value: unknown): Record<string, unknown> {
  const [outer, inner] = path.split(".") as [string, string | undefined];
  if (inner === undefined) return { ...options, [outer]: value };
  return { ...options, [outer]: { ...(options[outer] as object | undefined), [inner]: value } };
}

/**
 * `fn` must throw (or, for an async call, reject with) OffheapTypeError
 * beginning with `call` and naming `what`, and change nothing in the heap.
 */
async function expectTypeError(c: Case, what: string, fn: () => unknown, tried: string): Promise<void> {
  const h = heap as unknown as Heap;
  const liveBlocks = heap.stats().liveBlocks; // first: stats() brings the peak-usage words up to date
  const before = snapshot(h);
  const label = `${c.call} with ${tried}`;
  const validate = (e: unknown): true => {
    assert.ok(e instanceof main.OffheapTypeError, `${label}: expected an OffheapTypeError naming ${what}, got ${String(e)}`);
    assert.equal(e.code, "ERR_OFFHEAP_INVALID_ARG_TYPE", label);
    assert.ok(e.message.startsWith(`${c.call}: `), `${label}: the message ${JSON.stringify(e.message)} does not begin with the call`);
    assert.ok(e.message.includes(what), `${label}: the message ${JSON.stringify(e.message)} does not name ${what}`);
    return true;
  };
  const message = `${label}: expected an OffheapTypeError naming ${what}, got no error`;
  if (c.async === true) await assert.rejects(async () => fn(), validate, message);
  else assert.throws(fn, validate, message);
  assertSameBytes(before, snapshot(h), label);
  assert.equal(heap.stats().liveBlocks, liveBlocks, `${label}: live blocks changed`);
  heap.check();
}

/** A value as a test label shows it: plain objects and arrays as JSON (functions and bigints marked), other objects by class. */
function show(value: unknown): string {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return `a ${value.constructor.name}`;
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "function" ? "[function]" : typeof v === "bigint" ? `${v}n` : v));
  return json ?? String(value);
}

async function tryCase(c: Case): Promise<void> {
  if (c.none !== undefined) return;
  assert.ok(c.withTarget !== undefined || c.withOptions !== undefined, `${c.call}: a case tries a target, options, or says why neither`);
  if (c.withTarget !== undefined) {
    const target = c.targetName ?? "heap";
    for (const bad of c.badTargets ?? NOT_HEAPS) await expectTypeError(c, target, () => c.withTarget!(bad), `${target} ${show(bad)}`);
  }
  const withOptions = c.withOptions;
  if (withOptions === undefined) return;
  const options = c.optionsName ?? "options";
  const optionText = c.optionText ?? ((path: string) => `options.${path}`);
  if (c.required !== undefined) await expectTypeError(c, optionText(c.required), () => withOptions(undefined), `${options} left out`);
  else if (c.async !== true) assert.doesNotThrow(() => withOptions(undefined), `${c.call}: ${options} may be left out`);
  if (c.async !== true) assert.doesNotThrow(() => withOptions(c.valid ?? {}), `${c.call}: the valid ${options} ${show(c.valid ?? {})} work`);
  await expectTypeError(c, options, () => withOptions(null), `${options} null`);
  for (const bad of NOT_OBJECTS) await expectTypeError(c, options, () => withOptions(bad), `${options} ${show(bad)}`);
  for (const [path, value] of Object.entries(c.wrongTypes ?? {})) {
    const wrong = withOption(c.valid ?? {}, path, value);
    await expectTypeError(c, optionText(path), () => withOptions(wrong), `${options} ${path}: ${show(value)}`);
  }
}

for (const surface of SURFACES) {
  describe(surface.entry, () => {
    test("every class and function has a case", () => {
      const covered = new Set(surface.cases.map((c) => c.name ?? c.call));
      assert.deepEqual(surface.calls.filter((call) => !covered.has(call)), [], `${surface.entry}: calls without a case`);
      assert.deepEqual([...covered].filter((name) => !surface.calls.includes(name)), [], `${surface.entry}: cases of calls it does not export`);
    });
    for (const c of surface.cases) test(c.none === undefined ? c.call : `${c.call} (nothing to try: ${c.none})`, async () => tryCase(c));
  });
}

test("the shared objects the cases use are intact", () => {
  allocator.check();
  someMap.check();
  someArray.check();
  Point.check(heap, point);
  heap.check();
});
