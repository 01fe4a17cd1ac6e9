// One side of the showcase, run by main.mjs in its own process so that one
// side's garbage does not distort the other's figures:
//
//   node --expose-gc worker.mjs <mode> --records N [--lookups N] [--updates N] [--seed S] [--file PATH]
//
// Modes:
//   map            builds a Map<string, object>, times lookups and updates; --file: then writes it as JSON
//   offheap        the same with an OffHeapMap of records; --file: then saves the heap image
//   load-json      reads and parses the JSON file, verifies a sample
//   load-image     loads the heap image, opens the map, verifies a sample
//   strings        the build loop's key and name strings alone, no map: the GC floor of both sides
//   limit-map      builds the Map under a small --max-old-space-size (expected to crash), printing progress
//   limit-offheap  builds the OffHeapMap under the same limit, then times lookups
//
// Prints "progress <records>" lines (limit modes) and a last line of JSON.
// Timed regions contain only the work. A forced GC runs before each region
// and before each memory figure, outside the regions; the GC figures count
// only collections that started inside a region (PerformanceObserver, entry
// type "gc").

import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { performance, PerformanceObserver } from "node:perf_hooks";
import { Heap } from "../../dist/index.js";
import { defineStruct, OffHeapMap } from "../../dist/collections/index.js";
import {
  DEFAULT_SEED, idOf, keyOf, latOf, lngOf, lookupRng, nameOf, nextIndex, RECORD_FIELDS, ROOT_NAME, scoreOf, updateRng, verify,
} from "./data.mjs";

const MIB = 1 << 20;
const PROGRESS_EVERY = 1 << 16;
const JSON_CHUNK = 1 << 16;
// Address range of the heap: room for this many bytes per record (about 95
// are used at 5M records: key, record, name and table slot) plus a margin.
// The image file holds the metadata for the whole range (2%), so it is not
// simply the 4 GiB maximum.
const RANGE_BYTES_PER_RECORD = 192;
const RANGE_MARGIN_BYTES = 64 * MIB;
const MAX_RANGE_BYTES = 2 ** 32;

const Record = defineStruct(RECORD_FIELDS);
const MAP_TYPES = { key: "string", value: Record };

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  const o = { mode, records: 0, lookups: 0, updates: 0, seed: DEFAULT_SEED, file: "" };
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i].replace(/^--/, "");
    if (!(name in o) || name === "mode" || i + 1 >= rest.length) throw new RangeError(`worker.mjs: bad option ${rest[i]}`);
    o[name] = name === "file" ? rest[i + 1] : Number(rest[i + 1]);
  }
  return o;
}

// ---- measurement ----------------------------------------------------------

const gcStartMs = [];
const gcPauseMs = [];
const gcKind = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcStartMs.push(e.startTime);
    gcPauseMs.push(e.duration);
    gcKind.push(e.detail?.kind ?? 0);
  }
}).observe({ entryTypes: ["gc"] });

const windows = [];

const GC_KINDS = { 1: "scavenge", 4: "mark-compact", 8: "incremental marking", 16: "weak callbacks" };

/**
 * Runs `fn` as the timed region `name`, after a forced full GC (outside the
 * region, so a collection that the previous region's garbage made due is
 * not charged to this one); returns its wall time in ms.
 */
function timed(name, fn, countGc = true) {
  globalThis.gc?.();
  const t0 = performance.now();
  fn();
  const t1 = performance.now();
  if (countGc) windows.push([t0, t1, name]);
  return t1 - t0;
}

const inWindow = (t) => windows.find(([a, b]) => t >= a && t <= b);

// Lets the observer deliver pending GC entries.
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

// GC figures over the timed regions: count, total and longest pause (with
// its kind and region), the same per region, and every pause, longest first.
function gcSummary() {
  const all = { count: 0, totalMs: 0, maxMs: 0 };
  const byPhase = {};
  const pauses = [];
  let maxKind = "";
  let maxPhase = "";
  for (let i = 0; i < gcStartMs.length; i++) {
    const w = inWindow(gcStartMs[i]);
    if (w === undefined) continue;
    const ms = gcPauseMs[i];
    const kind = GC_KINDS[gcKind[i]] ?? `kind ${gcKind[i]}`;
    const p = (byPhase[w[2]] ??= { count: 0, totalMs: 0, maxMs: 0 });
    for (const s of [all, p]) {
      s.count++;
      s.totalMs += ms;
      s.maxMs = Math.max(s.maxMs, ms);
    }
    if (ms === all.maxMs) {
      maxKind = kind;
      maxPhase = w[2];
    }
    pauses.push({ ms, kind, phase: w[2], atMs: gcStartMs[i] - w[0] });
  }
  pauses.sort((a, b) => b.ms - a.ms);
  return { gcCount: all.count, gcTotalMs: all.totalMs, gcMaxMs: all.maxMs, gcMaxKind: maxKind, gcMaxPhase: maxPhase, gcByPhase: byPhase, gcPauses: pauses };
}

/** Memory after a forced full GC. */
function memory() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { heapUsedBytes: m.heapUsed, rssBytes: m.rss, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

function emit(result) {
  writeSync(1, JSON.stringify(result) + "\n");
}

// ---- the two sides ----------------------------------------------------------

function buildMap(n, progress) {
  const m = new Map();
  for (let i = 0; i < n; i++) {
    m.set(keyOf(i), { id: i, name: nameOf(i), score: scoreOf(i), lat: latOf(i), lng: lngOf(i) });
    if (progress && (i & (PROGRESS_EVERY - 1)) === 0) writeSync(1, `progress ${i}\n`);
  }
  return m;
}

function mapLookups(m, n, count, seed) {
  const s = lookupRng(seed);
  let sum = 0;
  for (let j = 0; j < count; j++) sum += m.get(keyOf(nextIndex(s, n))).score;
  return sum;
}

// Map's best case: the keys are the map's own string objects, whose hashes
// V8 has cached and which compare by identity.
function mapLookupsOwnKeys(m, own, n, count, seed) {
  const s = lookupRng(seed);
  let sum = 0;
  for (let j = 0; j < count; j++) sum += m.get(own[nextIndex(s, n)]).score;
  return sum;
}

function mapUpdates(m, n, count, seed) {
  const s = updateRng(seed);
  for (let j = 0; j < count; j++) m.get(keyOf(nextIndex(s, n))).score += 1;
}

function newHeap(n) {
  const range = Math.ceil((n * RANGE_BYTES_PER_RECORD + RANGE_MARGIN_BYTES) / (64 * MIB)) * 64 * MIB;
  return new Heap({ maxSize: Math.min(MAX_RANGE_BYTES, range) });
}

// getOrInsertRef inserts a zeroed record and returns its address; a cursor
// (one accessor object, moved with cur.addr = ...) writes the fields.
function buildOffHeap(heap, n, seed, progress) {
  const m = new OffHeapMap(heap, { ...MAP_TYPES, hashSeed: seed >>> 0 });
  const cur = Record.at(heap, 0);
  for (let i = 0; i < n; i++) {
    cur.addr = m.getOrInsertRef(keyOf(i));
    cur.id = i;
    cur.name = nameOf(i);
    cur.score = scoreOf(i);
    cur.lat = latOf(i);
    cur.lng = lngOf(i);
    if (progress && (i & (PROGRESS_EVERY - 1)) === 0) writeSync(1, `progress ${i}\n`);
  }
  return m;
}

// The build loop with no map at all: the same key and name strings and the
// same numbers. Each string is stored (into a small ring, so V8 cannot elide
// it) and soon dropped, as the OffHeapMap build drops them once copied. Its
// collections are the floor of either side's: what the caller's own strings
// cost V8, whatever holds the records.
function buildNothing(n) {
  const ring = new Array(256).fill("");
  let sum = 0;
  for (let i = 0; i < n; i++) {
    ring[i & 254] = keyOf(i);
    ring[(i & 254) + 1] = nameOf(i);
    sum += scoreOf(i) + latOf(i) + lngOf(i);
  }
  return sum + ring.length;
}

function offHeapLookups(m, cur, n, count, seed) {
  const s = lookupRng(seed);
  let sum = 0;
  for (let j = 0; j < count; j++) {
    cur.addr = m.getRef(keyOf(nextIndex(s, n)));
    sum += cur.score;
  }
  return sum;
}

function offHeapUpdates(m, cur, n, count, seed) {
  const s = updateRng(seed);
  for (let j = 0; j < count; j++) {
    cur.addr = m.getRef(keyOf(nextIndex(s, n)));
    cur.score += 1;
  }
}

// ---- modes ------------------------------------------------------------------

async function runMap(o) {
  const base = memory();
  let m;
  const buildMs = timed("build", () => (m = buildMap(o.records, false)));
  let checksum = 0;
  const lookupMs = timed("lookups", () => (checksum = mapLookups(m, o.records, o.lookups, o.seed)));
  // Not part of the side-by-side work, so its GCs are not counted.
  let own = Array.from(m.keys());
  let ownChecksum = 0;
  const ownKeyLookupMs = timed("lookups with own keys", () => (ownChecksum = mapLookupsOwnKeys(m, own, o.records, o.lookups, o.seed)), false);
  own = null;
  const updateMs = timed("updates", () => mapUpdates(m, o.records, o.updates, o.seed));
  await settle();
  const result = { mode: o.mode, records: m.size, buildMs, lookupMs, ownKeyLookupMs, updateMs, checksum, ownChecksum, baseHeapUsedBytes: base.heapUsedBytes, ...memory(), ...gcSummary() };
  if (o.file !== "") {
    const t0 = performance.now();
    const fileBytes = writeJson(m, o.file);
    result.save = { saveMs: performance.now() - t0, fileBytes };
  }
  emit(result);
}

// Writes the map as the JSON text of Array.from(m) (an array of [key, record]
// pairs, the usual way to serialize a Map), stringified in chunks of
// JSON_CHUNK entries: the same bytes as one JSON.stringify, in less than half
// the time and memory at 5M records, and no single string past V8's length
// limit. Synced to disk, as heap.save does. Returns the file's length.
function writeJson(m, path) {
  const fd = openSync(path, "w");
  try {
    let bytes = 0;
    let chunk = [];
    const flush = () => {
      const text = JSON.stringify(chunk);
      bytes += writeAll(fd, (bytes === 0 ? "[" : ",") + text.slice(1, -1));
      chunk = [];
    };
    for (const entry of m) {
      chunk.push(entry);
      if (chunk.length === JSON_CHUNK) flush();
    }
    if (chunk.length > 0) flush();
    bytes += writeAll(fd, bytes === 0 ? "[]" : "]");
    fsyncSync(fd);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd, text) {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
  return bytes.length;
}

async function runOffHeap(o) {
  const base = memory();
  const heap = newHeap(o.records);
  let m;
  const buildMs = timed("build", () => (m = buildOffHeap(heap, o.records, o.seed, false)));
  const cur = Record.at(heap, 0);
  let checksum = 0;
  const lookupMs = timed("lookups", () => (checksum = offHeapLookups(m, cur, o.records, o.lookups, o.seed)));
  const updateMs = timed("updates", () => offHeapUpdates(m, cur, o.records, o.updates, o.seed));
  await settle();
  const stats = heap.stats();
  const result = {
    mode: o.mode, records: m.size, buildMs, lookupMs, updateMs, checksum, baseHeapUsedBytes: base.heapUsedBytes, ...memory(), ...gcSummary(),
    offHeap: { committedBytes: stats.committedBytes, liveBytes: stats.liveBytes, metadataBytes: stats.metadataBytes, reservedBytes: stats.reservedBytes, liveBlocks: stats.liveBlocks, classes: stats.classes.map((c) => ({ size: c.size, liveObjects: c.liveObjects })), largeBytes: stats.largeBytes },
  };
  if (o.file !== "") {
    heap.setRoot(ROOT_NAME, m.address);
    const t0 = performance.now();
    const fileBytes = await heap.save(o.file);
    result.save = { saveMs: performance.now() - t0, fileBytes };
  }
  emit(result);
}

// Times reading and parsing only: making a Map of the entries would come on
// top. Array.from(map) kept insertion order, so entry i holds record i.
async function runLoadJson(o) {
  const t0 = performance.now();
  const text = await readFile(o.file, "utf8");
  const t1 = performance.now();
  const entries = JSON.parse(text);
  const t2 = performance.now();
  const check = verify((k) => {
    const e = entries[idOf(k)];
    return e !== undefined && e[0] === k ? e[1] : undefined;
  }, o.records, o.updates, o.seed);
  emit({ mode: o.mode, records: entries.length, readMs: t1 - t0, parseMs: t2 - t1, ...check, ...memory() });
}

async function runLoadImage(o) {
  const t0 = performance.now();
  const heap = await Heap.load(o.file);
  const t1 = performance.now();
  const m = OffHeapMap.open(heap, heap.getRoot(ROOT_NAME), MAP_TYPES);
  const t2 = performance.now();
  const cur = Record.at(heap, 0);
  const check = verify((k) => {
    const a = m.getRef(k);
    if (a === 0) return undefined;
    cur.addr = a;
    return cur.toObject();
  }, o.records, o.updates, o.seed);
  emit({ mode: o.mode, records: m.size, loadMs: t1 - t0, openMs: t2 - t1, ...check, ...memory() });
}

async function runStrings(o) {
  let sum = 0;
  const buildMs = timed("build", () => (sum = buildNothing(o.records)));
  await settle();
  emit({ mode: o.mode, records: o.records, buildMs, sum, ...gcSummary() });
}

async function runLimitMap(o) {
  const t0 = performance.now();
  const m = buildMap(o.records, true);
  emit({ mode: o.mode, records: m.size, buildMs: performance.now() - t0, ...memory() });
}

async function runLimitOffHeap(o) {
  const heap = newHeap(o.records);
  let m;
  const buildMs = timed("build", () => (m = buildOffHeap(heap, o.records, o.seed, true)));
  const cur = Record.at(heap, 0);
  let checksum = 0;
  const lookupMs = timed("lookups", () => (checksum = offHeapLookups(m, cur, o.records, o.lookups, o.seed)));
  await settle();
  emit({ mode: o.mode, records: m.size, buildMs, lookupMs, lookups: o.lookups, checksum, committedBytes: heap.stats().committedBytes, ...memory(), ...gcSummary() });
}

const MODES = { map: runMap, offheap: runOffHeap, strings: runStrings, "load-json": runLoadJson, "load-image": runLoadImage, "limit-map": runLimitMap, "limit-offheap": runLimitOffHeap };

const opts = parseArgs(process.argv.slice(2));
const run = MODES[opts.mode];
if (run === undefined) throw new RangeError(`worker.mjs: unknown mode ${opts.mode} (${Object.keys(MODES).join(", ")})`);
if (!(Number.isSafeInteger(opts.records) && opts.records > 0)) throw new RangeError(`worker.mjs: --records must be a positive integer`);
await run(opts);
