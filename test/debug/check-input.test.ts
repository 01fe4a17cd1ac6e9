// The debug tools' input checks (check-input.ts) through the public entry
// points of offheap/debug: a profile or a snapshot with one field broken
// (missing, of the wrong type, NaN, negative, out of range, inconsistent)
// is refused with OffheapTypeError or OffheapRangeError naming the call and
// the field, and nothing is encoded, rendered or written; the real thing,
// also after a JSON round trip, passes.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Heap, OffheapRangeError, OffheapTypeError, type HeapProfile } from "../../src/index.js";
import { encodeHeapProfile, gzipHeapProfile, heapMapHtml, writeHeapMap } from "../../src/debug/index.js";
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type HeapSnapshot } from "../../src/heap/snapshot.js";
import { N_CLASSES } from "../../src/heap/size-classes.js";
import { MAX_RANGE_BYTES } from "../../src/heap/layout.js";
import { SNAPSHOT_LIMITS } from "../../src/debug/check-input.js";
import { expectError, MIB } from "../helpers.js";
import { mixedHeap } from "./mixed-heap.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() >>> 0)) >>> 0;
const TYPE = [OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE"] as const;
const RANGE = [OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE"] as const;

// Plain JSON data, to break one field of a copy at a time.
type Json = Record<string, any>;
/** A broken field: its path as messages name it, how to break it in a copy, and the error. */
type Case = [path: string, breakIt: (copy: Json) => void, error: typeof TYPE | typeof RANGE];

/** A JSON copy of `value` with `breakIt` applied (after the copy, so it may set NaN). */
function brokenCopy<T>(value: T, breakIt: (copy: Json) => void): T {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  breakIt(copy);
  return copy as T;
}

describe("encodeHeapProfile and gzipHeapProfile", () => {
  const heap = new Heap({ maxSize: 64 * MIB, profile: { sampleInterval: 4096 } });
  for (let i = 0; i < 400; i++) heap.alloc(1000 + i);
  const profile = heap.profile();
  const S = "profile.samples[1]";
  const F = `${S}.stack[0]`;
  const CASES: Case[] = [
    ["profile.sampleInterval", (p) => (p.sampleInterval = Number.NaN), RANGE],
    ["profile.sampleInterval", (p) => (p.sampleInterval = -1), RANGE],
    ["profile.sampleInterval", (p) => (p.sampleInterval = "4096"), TYPE],
    ["profile.timeMs", (p) => delete p.timeMs, TYPE],
    ["profile.timeMs", (p) => (p.timeMs = 1.5), RANGE],
    ["profile.estimatedBytes", (p) => (p.estimatedBytes = -1), RANGE],
    ["profile.samples", (p) => (p.samples = { length: 1 }), TYPE],
    [S, (p) => (p.samples[1] = null), TYPE],
    [`${S}.address`, (p) => delete p.samples[1].address, TYPE],
    [`${S}.size`, (p) => (p.samples[1].size = 2.5), RANGE],
    [`${S}.count`, (p) => (p.samples[1].count = Number.NaN), RANGE],
    [`${S}.bytes`, (p) => (p.samples[1].bytes = -5), RANGE],
    [`${S}.stack`, (p) => (p.samples[1].stack = "f:1"), TYPE],
    [F, (p) => (p.samples[1].stack[0] = null), TYPE],
    [`${F}.functionName`, (p) => (p.samples[1].stack[0].functionName = 5), TYPE],
    [`${F}.file`, (p) => delete p.samples[1].stack[0].file, TYPE],
    [`${F}.line`, (p) => (p.samples[1].stack[0].line = -1), RANGE],
    [`${F}.column`, (p) => (p.samples[1].stack[0].column = "3"), TYPE],
  ];

  test("a real profile, and the same after a JSON round trip, encode", async () => {
    assert.ok(profile.samples.length > 2 && profile.samples[1]!.stack.length > 0, "the profile has samples with stacks");
    const copy = JSON.parse(JSON.stringify(profile)) as HeapProfile;
    assert.deepEqual(encodeHeapProfile(copy), encodeHeapProfile(profile));
    assert.deepEqual((await gzipHeapProfile(copy)).subarray(0, 2), Uint8Array.of(0x1f, 0x8b));
  });

  test("a profile with one field broken is refused, naming the call and the field", async () => {
    for (const [path, breakIt, [type, code]] of CASES) {
      const bad = brokenCopy(profile, breakIt);
      expectError(() => encodeHeapProfile(bad), type, code, `encodeHeapProfile: ${path} must be`);
      await assert.rejects(gzipHeapProfile(bad), (e: Error) => e instanceof type && e.message.startsWith(`gzipHeapProfile: ${path} must be`), path);
    }
  });
});

test("the snapshot limits written out in check-input.ts are the heap's", () => {
  assert.deepEqual(SNAPSHOT_LIMITS, { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, nClasses: N_CLASSES, maxRangeBytes: MAX_RANGE_BYTES });
});

describe("heapMapHtml and writeHeapMap", () => {
  const snap = mixedHeap(SEED).heap.snapshot();
  const small = snap.spans.findIndex((s) => s.kind === "small");
  const large = snap.spans.findIndex((s) => s.kind === "large");
  const last = snap.spans.length - 1;
  const SP = (i: number): string => `snapshot.spans[${i}]`;
  const CASES: Case[] = [
    ["snapshot.version", (s) => (s.version = 2), RANGE],
    ["snapshot.pageSize", (s) => (s.pageSize = 3000), RANGE],
    ["snapshot.pageSize", (s) => delete s.pageSize, TYPE],
    ["snapshot.firstDataPage", (s) => (s.firstDataPage = -1), RANGE],
    ["snapshot.endPage", (s) => (s.endPage = s.firstDataPage - 1), RANGE],
    ["snapshot.endPage", (s) => (s.endPage = "9"), TYPE],
    ["snapshot.reservedPages", (s) => (s.reservedPages = s.endPage - 1), RANGE],
    ["snapshot.reservedPages", (s) => (s.reservedPages = 2 ** 40), RANGE],
    ["snapshot.spans", (s) => (s.spans = null), TYPE],
    [SP(last), (s) => (s.spans[last] = null), TYPE],
    [`${SP(small)}.kind`, (s) => (s.spans[small].kind = "tiny"), RANGE],
    [`${SP(small)}.kind`, (s) => (s.spans[small].kind = 1), TYPE],
    [`${SP(1)}.startPage`, (s) => (s.spans[1].startPage += 1), RANGE],
    [`${SP(small)}.pages`, (s) => (s.spans[small].pages = 0), RANGE],
    [`${SP(last)}.pages`, (s) => (s.spans[last].pages += 1), RANGE],
    [`${SP(small)}.classIndex`, (s) => (s.spans[small].classIndex = N_CLASSES + 1), RANGE],
    [`${SP(small)}.objectSize`, (s) => delete s.spans[small].objectSize, TYPE],
    [`${SP(small)}.liveObjects`, (s) => (s.spans[small].liveObjects = s.spans[small].objects + 1), RANGE],
    [`${SP(small)}.freeListObjects`, (s) => (s.spans[small].freeListObjects = -1), RANGE],
    [`${SP(small)}.cachedObjects`, (s) => (s.spans[small].cachedObjects += 1), RANGE],
    [`${SP(large)}.requestedBytes`, (s) => (s.spans[large].requestedBytes = s.spans[large].pages * s.pageSize + 1), RANGE],
    ["snapshot.spans end at page", (s) => s.spans.pop(), RANGE],
    ["snapshot.classes", (s) => delete s.classes, TYPE],
    ["snapshot.classes[0].classIndex", (s) => (s.classes[0].classIndex = 0), RANGE],
    ["snapshot.classes[0].liveBytes", (s) => (s.classes[0].liveBytes = -1), RANGE],
    ["snapshot.stats", (s) => delete s.stats, TYPE],
    ["snapshot.stats.liveBlocks", (s) => (s.stats.liveBlocks = 0.5), RANGE],
    ["snapshot.stats.fragmentation", (s) => (s.stats.fragmentation = -0.5), RANGE],
  ];

  test("a real snapshot, and the same after a JSON round trip, render the same page", () => {
    assert.ok(small >= 0 && large >= 0, "the mix has small and large spans");
    assert.equal(heapMapHtml(JSON.parse(JSON.stringify(snap)) as HeapSnapshot), heapMapHtml(snap));
  });

  test(`a snapshot with one field broken is refused, naming the call and the field; no file is written (seed ${SEED})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "offheap-check-input-"));
    try {
      for (const [path, breakIt, [type, code]] of CASES) {
        const bad = brokenCopy(snap, breakIt);
        expectError(() => heapMapHtml(bad), type, code, `heapMapHtml: ${path}`);
        const file = join(dir, "map.html");
        await assert.rejects(writeHeapMap(file, bad), (e: Error) => e instanceof type && e.message.startsWith(`writeHeapMap: ${path}`), path);
        assert.equal(existsSync(file), false, `${path}: no file`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
