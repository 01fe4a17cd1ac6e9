// Validators of what the debug tools are given: a HeapProfile (for the pprof
// encoder) and a HeapSnapshot (for the heap map). See heap/heap.ts for an
// overview.
//
// Both may come from outside the heap that made them: read back from JSON,
// filtered or built by hand. Unchecked, a bad field became garbage output
// (a NaN count encoded as 0, a negative one as 2^64 - 5, NaN cells in the
// page), a V8 TypeError ("Cannot convert undefined to a BigInt"), or an
// allocation that ended the process (a class index of 1e9 sized an array by
// it). Each validator walks the whole input once, before anything is built,
// and throws naming the call and the field's path, e.g.
//   encodeHeapProfile: profile.samples[3].stack[0].line must be a non-negative integer, got -1
// OffheapTypeError for a field of the wrong type (or missing), and
// OffheapRangeError for a number or a string outside its range. Cost:
// O(fields); paths are made only for a message.

import { OffheapRangeError, OffheapTypeError } from "../errors.js";
import { describe } from "../common/options.js";
import type { HeapProfile } from "../heap/profile.js";
import type { HeapSnapshot } from "../heap/snapshot.js";

/**
 * What a snapshot of this version's heap holds: its format tag and version,
 * the number of size classes (class indexes are 1 to nClasses) and the
 * largest address range (reservedPages * pageSize). Written out because the
 * debug layer uses the heap's public entry points only, so the heap map
 * bundles none of the heap's code; test/debug/check-input.test.ts checks it
 * against heap/snapshot.ts's SNAPSHOT_FORMAT and SNAPSHOT_VERSION,
 * heap/size-classes.ts's N_CLASSES and heap/layout.ts's MAX_RANGE_BYTES.
 * @internal
 */
export const SNAPSHOT_LIMITS = { format: "offheap-heap-snapshot", version: 1, nClasses: 78, maxRangeBytes: 2 ** 32 } as const;
const { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, nClasses: N_CLASSES, maxRangeBytes: MAX_RANGE_BYTES } = SNAPSHOT_LIMITS;

const COUNT = "a non-negative integer";
const POSITIVE = "a positive integer";
const AMOUNT = "a finite number >= 0";
const SPAN_KINDS = ["small", "large", "free", "cache"];

/**
 * Throws unless `profile` is a HeapProfile: numbers where it has numbers
 * (sampleInterval and line numbers positive or non-negative integers,
 * count and bytes finite and >= 0), strings where it has strings, arrays
 * where it has arrays. `api` names the call in messages. O(samples x frames).
 *
 * @example checkHeapProfile("encodeHeapProfile", JSON.parse(text));
 */
export function checkHeapProfile(api: string, profile: unknown): asserts profile is HeapProfile {
  if (!isRecord(profile)) throw new OffheapTypeError(`${api}: profile must be a HeapProfile (what heap.profile() returns), got ${describe(profile)}`);
  const { sampleInterval, timeMs, estimatedBytes, samples } = profile;
  if (!isCount(sampleInterval, 1)) badNumber(api, "profile.sampleInterval", sampleInterval, POSITIVE);
  if (!isCount(timeMs)) badNumber(api, "profile.timeMs", timeMs, COUNT);
  if (!isAmount(estimatedBytes)) badNumber(api, "profile.estimatedBytes", estimatedBytes, AMOUNT);
  if (!Array.isArray(samples)) badType(api, "profile.samples", samples, "an Array");
  for (let i = 0; i < samples.length; i++) {
    const sample: unknown = samples[i];
    if (!isRecord(sample)) badType(api, `profile.samples[${i}]`, sample, "an object (a ProfileSample)");
    const { address, size, count, bytes, stack } = sample;
    if (!isCount(address)) badNumber(api, `profile.samples[${i}].address`, address, COUNT);
    if (!isCount(size)) badNumber(api, `profile.samples[${i}].size`, size, COUNT);
    if (!isAmount(count)) badNumber(api, `profile.samples[${i}].count`, count, AMOUNT);
    if (!isAmount(bytes)) badNumber(api, `profile.samples[${i}].bytes`, bytes, AMOUNT);
    if (!Array.isArray(stack)) badType(api, `profile.samples[${i}].stack`, stack, "an Array");
    for (let j = 0; j < stack.length; j++) {
      const frame: unknown = stack[j];
      const at = (): string => `profile.samples[${i}].stack[${j}]`;
      if (!isRecord(frame)) badType(api, at(), frame, "an object (a ProfileFrame)");
      const { functionName, file, line, column } = frame;
      if (typeof functionName !== "string") badType(api, `${at()}.functionName`, functionName, "a string");
      if (typeof file !== "string") badType(api, `${at()}.file`, file, "a string");
      if (!isCount(line)) badNumber(api, `${at()}.line`, line, COUNT);
      if (!isCount(column)) badNumber(api, `${at()}.column`, column, COUNT);
    }
  }
}

/**
 * Throws unless `snapshot` is a HeapSnapshot this version draws: format
 * and version 1; a power-of-two pageSize; firstDataPage <= endPage <=
 * reservedPages, the range at most 4 GiB; spans that tile
 * [firstDataPage, endPage) in order, each of a known kind with counts that
 * add up (a small span's objects = live + free-list + cached, its class
 * index 1 to N_CLASSES); class rows of non-negative integers; stats an
 * object whose numbers are finite and >= 0. `api` names the call.
 * O(spans + classes + stats).
 *
 * @example checkHeapSnapshot("heapMapHtml", JSON.parse(text));
 */
export function checkHeapSnapshot(api: string, snapshot: unknown): asserts snapshot is HeapSnapshot {
  if (!isRecord(snapshot) || snapshot.format !== SNAPSHOT_FORMAT) {
    throw new OffheapTypeError(`${api}: expected a HeapSnapshot (format "${SNAPSHOT_FORMAT}"), got ${describeSnapshot(snapshot)}`);
  }
  const { version, pageSize, firstDataPage, endPage, reservedPages, spans, classes, stats } = snapshot;
  if (version !== SNAPSHOT_VERSION) badNumber(api, "snapshot.version", version, `${SNAPSHOT_VERSION} (the version this offheap reads)`);
  if (!isCount(pageSize, 1) || !Number.isInteger(Math.log2(pageSize))) badNumber(api, "snapshot.pageSize", pageSize, "a power of two");
  const maxPages = Math.floor(MAX_RANGE_BYTES / pageSize);
  if (!isCount(firstDataPage) || firstDataPage > maxPages) badNumber(api, "snapshot.firstDataPage", firstDataPage, `an integer from 0 to ${maxPages}`);
  if (!isCount(endPage, firstDataPage) || endPage > maxPages) badNumber(api, "snapshot.endPage", endPage, `an integer from firstDataPage (${firstDataPage}) to ${maxPages}`);
  if (!isCount(reservedPages, endPage) || reservedPages > maxPages) {
    badNumber(api, "snapshot.reservedPages", reservedPages, `an integer from endPage (${endPage}) to ${maxPages} (4 GiB)`);
  }
  if (!Array.isArray(spans)) badType(api, "snapshot.spans", spans, "an Array");
  let page = firstDataPage;
  for (let i = 0; i < spans.length; i++) page = checkSpan(api, i, spans[i], page, endPage, pageSize);
  if (page !== endPage) throw new OffheapRangeError(`${api}: snapshot.spans end at page ${page}, not at endPage (${endPage}): they must tile [firstDataPage, endPage)`);
  if (!Array.isArray(classes)) badType(api, "snapshot.classes", classes, "an Array");
  for (let i = 0; i < classes.length; i++) {
    const row: unknown = classes[i];
    if (!isRecord(row)) badType(api, `snapshot.classes[${i}]`, row, "an object (a ClassSnapshot)");
    if (!isCount(row.classIndex, 1) || row.classIndex > N_CLASSES) badNumber(api, `snapshot.classes[${i}].classIndex`, row.classIndex, `an integer from 1 to ${N_CLASSES}`);
    if (!isCount(row.objectSize, 1)) badNumber(api, `snapshot.classes[${i}].objectSize`, row.objectSize, POSITIVE);
    for (const key of ["spans", "pages", "objects", "liveObjects", "freeObjects", "cachedObjects", "liveBytes", "freeBytes"]) {
      if (!isCount(row[key])) badNumber(api, `snapshot.classes[${i}].${key}`, row[key], COUNT);
    }
  }
  if (!isRecord(stats)) badType(api, "snapshot.stats", stats, "an object (HeapStats)");
  if (!isCount(stats.liveBytes)) badNumber(api, "snapshot.stats.liveBytes", stats.liveBytes, COUNT);
  if (!isCount(stats.liveBlocks)) badNumber(api, "snapshot.stats.liveBlocks", stats.liveBlocks, COUNT);
  checkStatNumbers(api, stats, "snapshot.stats");
}

// Checks spans[i], which must start at `page`; returns the page after it.
function checkSpan(api: string, i: number, span: unknown, page: number, endPage: number, pageSize: number): number {
  const at = (): string => `snapshot.spans[${i}]`;
  if (!isRecord(span)) badType(api, at(), span, "an object (a SpanSnapshot)");
  const { kind, startPage, pages } = span;
  if (typeof kind !== "string") badType(api, `${at()}.kind`, kind, "a string");
  if (!SPAN_KINDS.includes(kind)) throw new OffheapRangeError(`${api}: ${at()}.kind must be one of ${SPAN_KINDS.map((k) => `"${k}"`).join(", ")}, got "${kind}"`);
  if (startPage !== page) badNumber(api, `${at()}.startPage`, startPage, `${page}, where the span before it ends`);
  if (!isCount(pages, 1) || pages > endPage - page) badNumber(api, `${at()}.pages`, pages, `an integer from 1 to ${endPage - page} (up to endPage)`);
  if (kind === "small") {
    const { classIndex, objectSize, objects, liveObjects, freeListObjects, cachedObjects } = span;
    if (!isCount(classIndex, 1) || classIndex > N_CLASSES) badNumber(api, `${at()}.classIndex`, classIndex, `an integer from 1 to ${N_CLASSES}`);
    if (!isCount(objectSize, 1)) badNumber(api, `${at()}.objectSize`, objectSize, POSITIVE);
    if (!isCount(objects, 1)) badNumber(api, `${at()}.objects`, objects, POSITIVE);
    if (!isCount(liveObjects) || liveObjects > objects) badNumber(api, `${at()}.liveObjects`, liveObjects, `an integer from 0 to objects (${objects})`);
    const free = objects - liveObjects;
    if (!isCount(freeListObjects) || freeListObjects > free) badNumber(api, `${at()}.freeListObjects`, freeListObjects, `an integer from 0 to objects - liveObjects (${free})`);
    if (cachedObjects !== free - freeListObjects) badNumber(api, `${at()}.cachedObjects`, cachedObjects, `objects - liveObjects - freeListObjects (${free - freeListObjects})`);
  } else if (kind === "large") {
    const maxBytes = pages * pageSize;
    if (!isCount(span.requestedBytes) || span.requestedBytes > maxBytes) badNumber(api, `${at()}.requestedBytes`, span.requestedBytes, `an integer from 0 to pages * pageSize (${maxBytes})`);
  }
  return page + pages;
}

// Every number in `stats` and the objects inside it (the heap map shows them
// all) must be finite and >= 0; arrays (per-class rows) are not shown.
function checkStatNumbers(api: string, stats: Record<string, unknown>, path: string): void {
  for (const key of Object.keys(stats)) {
    const value = stats[key];
    if (typeof value === "number") {
      if (!isAmount(value)) badNumber(api, `${path}.${key}`, value, AMOUNT);
    } else if (isRecord(value)) {
      checkStatNumbers(api, value, `${path}.${key}`);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// An integer from `min` to 2^53 - 1.
function isCount(value: unknown, min = 0): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min;
}

// A finite number >= 0 (NaN fails both comparisons).
function isAmount(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value < Infinity;
}

// The error for a field that should be a number meeting `rule`.
function badNumber(api: string, path: string, value: unknown, rule: string): never {
  if (typeof value !== "number") throw new OffheapTypeError(`${api}: ${path} must be ${rule}, got ${describe(value)}`);
  throw new OffheapRangeError(`${api}: ${path} must be ${rule}, got ${value}`);
}

function badType(api: string, path: string, value: unknown, what: string): never {
  throw new OffheapTypeError(`${api}: ${path} must be ${what}, got ${describe(value)}`);
}

// What a value that should be a HeapSnapshot is, for the error message.
function describeSnapshot(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const format = (value as { format?: unknown }).format;
  return format === undefined ? "an object without a format field" : `an object of format ${JSON.stringify(format)}`;
}
