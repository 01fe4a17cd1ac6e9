// The sampling heap profiler: unbiased estimates by allocation site, samples
// removed by free and realloc, samples on pages of their own, the countdown
// kept in the image, and pprof output that decodes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { Heap, OffheapRangeError, OffheapTypeError, PAGE_SIZE, type HeapProfile } from "../src/index.js";
import { encodeHeapProfile, gzipHeapProfile, writeHeapProfile } from "../src/debug/index.js";
import { expectError, MIB } from "./helpers.js";

const INTERVAL = 4096;

function allocSmallThings(heap: Heap, out: number[]): void {
  for (let i = 0; i < 20_000; i++) out.push(heap.alloc(100));
}
function allocBigThings(heap: Heap, out: number[]): void {
  for (let i = 0; i < 2_000; i++) out.push(heap.alloc(1000));
}
function allocInDebug(heap: Heap, out: number[]): void {
  for (let i = 0; i < 1000; i++) out.push(heap.alloc(64));
}
const bytesAt = (p: HeapProfile, fn: string) =>
  p.samples.filter((s) => s.stack.some((f) => f.functionName.includes(fn))).reduce((n, s) => n + s.bytes, 0);

describe("heap profile", () => {
  test("off by default: nothing is wrapped and profile() says how to turn it on", () => {
    const heap = new Heap({ maxSize: 4 * MIB });
    assert.equal(Object.hasOwn(heap, "alloc"), false);
    assert.equal(Object.hasOwn(new Heap({ maxSize: 4 * MIB, profile: true }), "alloc"), false, "the profiler lives in the plain methods");
    expectError(() => heap.profile(), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "{ profile: true }");
    expectError(() => new Heap({ maxSize: 4 * MIB, profile: { sampleInterval: 0 } }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "sampleInterval");
    expectError(() => new Heap({ maxSize: 4 * MIB, profile: { sampleInterval: 64 * MIB + 1 } }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "sampleInterval");
  });

  test("a sampled small block gets pages of its own; free, realloc and stats see a large block", () => {
    const heap = new Heap({ maxSize: 64 * MIB, profile: { sampleInterval: INTERVAL } });
    const blocks: number[] = [];
    allocSmallThings(heap, blocks);
    const samples = heap.profile().samples;
    assert.ok(samples.length > 200, `${samples.length} samples`);
    for (const s of samples) {
      assert.equal(s.size, 100);
      assert.equal(s.address % PAGE_SIZE, 0);
      assert.equal(heap.sizeOf(s.address), PAGE_SIZE);
    }
    assert.equal(heap.stats().largeBlocks, samples.length);
    // Contents survive a realloc of a sample, which ends the sample.
    const first = samples[0]!.address;
    heap.u8.fill(7, first, first + 100);
    const moved = heap.realloc(first, 200);
    assert.deepEqual([...heap.u8.subarray(moved, moved + 100)], new Array(100).fill(7));
    assert.equal(heap.profile().samples.some((s) => s.address === first), false);
    blocks[blocks.indexOf(first)] = moved;
    heap.check();
    for (const b of blocks) heap.free(b);
    assert.equal(heap.profile().samples.length, 0);
    assert.equal(heap.stats().largeBlocks, 0);
    heap.check();
  });

  test("large blocks are sampled too, and an in-place realloc keeps the sample with its new size", () => {
    const heap = new Heap({ maxSize: 256 * MIB, profile: { sampleInterval: 64 * 1024 } });
    const blocks: number[] = [];
    for (let i = 0; i < 500; i++) blocks.push(heap.alloc(100_000));
    const p = heap.profile();
    // p = 1 - exp(-100000 / 65536) = 0.78 per block
    assert.ok(p.samples.length > 330 && p.samples.length < 450, `${p.samples.length} samples`);
    assert.ok(Math.abs(p.estimatedBytes - 50_000_000) / 50_000_000 < 0.1, `estimate ${p.estimatedBytes}`);
    const last = blocks[blocks.length - 1]!;
    if (p.samples.some((s) => s.address === last)) {
      assert.equal(heap.realloc(last, 120_000), last, "the last block grows in place");
      assert.equal(heap.profile().samples.find((s) => s.address === last)!.size, 120_000);
    }
    heap.check();
  });

  test("the countdown is in the image: a heap without the profiler attached to a profiled heap's image turns it off", () => {
    const memory = new ArrayBuffer(32 * MIB);
    const profiled = new Heap({ memory, profile: { sampleInterval: 256 } });
    const kept: number[] = [];
    for (let i = 0; i < 100; i++) kept.push(profiled.alloc(64));
    const sampled = profiled.stats().largeBlocks;
    assert.ok(sampled > 5);
    const plain = Heap.attach(memory);
    for (let i = 0; i < 10_000; i++) plain.free(plain.alloc(64));
    assert.equal(plain.stats().largeBlocks, sampled, "no small block became a large one");
    plain.check();
    const again = Heap.attach(memory, { profile: { sampleInterval: 256 } });
    for (let i = 0; i < 1000; i++) kept.push(again.alloc(64));
    assert.ok(again.profile().samples.length > 50, "a profiled heap attached later samples again");
    again.check();
  });

  test("estimates live bytes by allocation site without bias, and frees remove samples", () => {
    const heap = new Heap({ maxSize: 64 * MIB, profile: { sampleInterval: INTERVAL } });
    const small: number[] = [];
    const big: number[] = [];
    allocSmallThings(heap, small);
    allocBigThings(heap, big);
    const p = heap.profile();
    assert.equal(p.sampleInterval, INTERVAL);
    // 4 MB allocated at a mean of one sample per 4 KiB: about 1000 samples, so a few % of error.
    for (const [fn, want] of [["allocSmallThings", 2_000_000], ["allocBigThings", 2_000_000]] as const) {
      const got = bytesAt(p, fn);
      assert.ok(Math.abs(got - want) / want < 0.2, `${fn}: estimated ${Math.round(got)} bytes, allocated ${want}`);
    }
    assert.ok(Math.abs(p.estimatedBytes - 4_000_000) / 4_000_000 < 0.15, `total estimate ${p.estimatedBytes}`);
    for (const s of p.samples) {
      assert.ok(s.count >= 1 && Math.abs(s.bytes - s.size * s.count) < 1e-6);
      assert.equal(heap.sizeOf(s.address) >= s.size, true, "a sample is a live block");
    }
    for (const a of small) heap.free(a);
    for (let i = 0; i < big.length; i += 2) big[i] = heap.realloc(big[i]!, 3000);
    const after = heap.profile();
    assert.equal(bytesAt(after, "allocSmallThings"), 0, "freed blocks leave the profile");
    assert.ok(bytesAt(after, "allocBigThings") < bytesAt(p, "allocBigThings"), "reallocated blocks are no longer samples of their first site");
    heap.check();
  });

  test("works on top of debug mode, and samples start at the caller, not in the debug heap's calls", () => {
    const heap = new Heap({ maxSize: 16 * MIB, debug: true, profile: { sampleInterval: 256 } });
    const blocks: number[] = [];
    allocInDebug(heap, blocks);
    assert.ok(heap.profile().samples.length > 50);
    // The debug heap's alloc runs through heap/debug.ts, common/debug-kit.ts and heap/allocator.ts
    // (Heap.coreAlloc) before the sampler: none of them is a sample's first frame.
    for (const s of heap.profile().samples) assert.equal(s.stack[0]?.functionName, "allocInDebug", JSON.stringify(s.stack[0]));
    for (const b of blocks) heap.free(b);
    assert.equal(heap.profile().samples.length, 0);
    heap.check();
  });

  test("pprof output: gzipped protobuf that decodes to inuse_objects/inuse_space samples with the stacks", async () => {
    const heap = new Heap({ maxSize: 64 * MIB, profile: { sampleInterval: INTERVAL } });
    allocBigThings(heap, []);
    const profile = heap.profile();
    const decoded = Profile.decode(encodeHeapProfile(profile));
    const str = (i: number | bigint) => decoded.stringTable.strings[Number(i)]!;
    assert.deepEqual(decoded.sampleType.map((t) => [str(t.type), str(t.unit)]), [["inuse_objects", "count"], ["inuse_space", "bytes"]]);
    assert.equal(Number(decoded.period), INTERVAL);
    assert.equal(decoded.sample.length, profile.samples.length);
    const total = decoded.sample.reduce((n, s) => n + Number(s.value[1]), 0);
    assert.ok(Math.abs(total - profile.estimatedBytes) < decoded.sample.length, "inuse_space sums to the estimate");
    const names = new Set(decoded.function.map((f) => str(f.name)));
    assert.ok(names.has("allocBigThings"), [...names].join(", "));
    const leaf = decoded.location.find((l) => l.id === decoded.sample[0]!.locationId[0])!;
    assert.ok(leaf.line.length === 1 && Number(leaf.line[0]!.line) > 0);

    const gz = await gzipHeapProfile(profile);
    assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
    const dir = mkdtempSync(join(tmpdir(), "offheap-pprof-"));
    try {
      const path = join(dir, "heap.pb.gz");
      assert.equal(await writeHeapProfile(path, heap), readFileSync(path).length);
      assert.equal(Profile.decode(gunzipSync(readFileSync(path))).sample.length, profile.samples.length);
      await assert.rejects(writeHeapProfile(path, {} as Heap), (e: Error) => e instanceof OffheapTypeError && /heap must be a Heap/.test(e.message));
      await assert.rejects(writeHeapProfile(path, new Heap({ maxSize: 4 * MIB })), (e: Error) => e instanceof OffheapTypeError && /profiler is off/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("pprof output: the integer counts and bytes add up to the profile's totals, rounded once", () => {
    // At INTERVAL, a 100-byte sample stands for 41.46 allocations: rounded one by one, 41 each,
    // so the site lost 0.46 objects a sample.
    const heap = new Heap({ maxSize: 64 * MIB, profile: { sampleInterval: INTERVAL } });
    allocSmallThings(heap, []);
    allocBigThings(heap, []);
    const profile = heap.profile();
    const decoded = Profile.decode(encodeHeapProfile(profile));
    assert.equal(decoded.sample.length, profile.samples.length);
    let objects = 0;
    let space = 0;
    for (const [i, s] of decoded.sample.entries()) {
      const [n, bytes] = [Number(s.value[0]), Number(s.value[1])];
      assert.ok(Math.abs(n - profile.samples[i]!.count) < 1 && n >= 1, `sample ${i}: ${n} objects for ${profile.samples[i]!.count}`);
      assert.ok(Math.abs(bytes - profile.samples[i]!.bytes) < 1, `sample ${i}: ${bytes} bytes for ${profile.samples[i]!.bytes}`);
      objects += n;
      space += bytes;
    }
    assert.equal(objects, Math.round(profile.samples.reduce((n, s) => n + s.count, 0)), "inuse_objects: the profile's total");
    assert.equal(space, Math.round(profile.estimatedBytes), "inuse_space: the profile's estimate");
  });
});
