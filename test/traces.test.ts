// Real programs as an oracle: replays committed allocation traces
// (bench/traces/data/, recorded from real programs by bench/traces/record.sh)
// against a Heap. Every block gets its slot id in its first word and the
// slot's low byte in its last byte (past the first word); both are checked when the block is freed
// and for every live block at the end, so two blocks that overlap, or a block
// handed out while live, fail here. heap.check() runs along the way.
// OFFHEAP_TRACES (comma-separated paths of convert.py's replay files,
// gzipped or not) adds traces of programs not in the repository.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Heap } from "../src/index.js";

const DATA = fileURLToPath(new URL("../../bench/traces/data/", import.meta.url)); // build/test/ -> bench/traces/data/
const FREE_BIT = 0x80000000;
const SLOT_MASK = 0x7fffffff;
const CHECK_EVERY_OPS = 50_000;

/** Traces of programs not in the repository, replayed whole with the same checks: OFFHEAP_TRACES=a.trace,b.trace.gz npm test. */
const EXTRA_TRACES = (process.env.OFFHEAP_TRACES ?? "").split(",").filter((path) => path !== "").map((path) => resolve(path));

/** The first `maxOps` (slot, size) pairs of a committed trace (by name) or of a trace file (a path: gzipped or not). */
function readTrace(nameOrPath: string, maxOps: number): Uint32Array {
  const file = readFileSync(nameOrPath.includes("/") ? nameOrPath : `${DATA}${nameOrPath}.trace.gz`);
  const bytes = file[0] === 0x1f && file[1] === 0x8b ? gunzipSync(file) : file;
  assert.equal(bytes.byteLength % 8, 0, `${nameOrPath}: ${bytes.byteLength} bytes is not a whole number of 8-byte pairs`);
  const ops = Math.min(bytes.byteLength >>> 3, maxOps);
  const pairs = new Uint32Array(ops * 2);
  new Uint8Array(pairs.buffer).set(bytes.subarray(0, ops * 8));
  return pairs;
}

function writeMarks(heap: Heap, addr: number, sizeBytes: number, slot: number): void {
  if (sizeBytes >= 4) heap.u32[addr >>> 2] = slot;
  if (sizeBytes !== 4) heap.u8[addr + sizeBytes - 1] = slot & 0xff; // past the first word, or the only mark of a 1-3 byte block
}

function checkMarks(heap: Heap, addr: number, sizeBytes: number, slot: number, when: string): void {
  if (sizeBytes >= 4) assert.equal(heap.u32[addr >>> 2], slot, `${when}: slot ${slot}'s first word (block ${addr}, ${sizeBytes} bytes) was overwritten`);
  if (sizeBytes !== 4) assert.equal(heap.u8[addr + sizeBytes - 1], slot & 0xff, `${when}: slot ${slot}'s last byte (block ${addr}, ${sizeBytes} bytes) was overwritten`);
}

function replayChecked(name: string, maxOps: number): { ops: number; peakLive: number } {
  const pairs = readTrace(name, maxOps);
  const ops = pairs.length >>> 1;
  let slots = 0;
  for (let i = 0; i < pairs.length; i += 2) slots = Math.max(slots, (pairs[i]! & SLOT_MASK) + 1);
  const addrs = new Uint32Array(slots);
  const sizes = new Uint32Array(slots);
  const heap = new Heap({ initialSize: 1 << 20, maxSize: 1 << 30 });
  let live = 0;
  let peakLive = 0;
  for (let op = 0; op < ops; op++) {
    const word = pairs[2 * op]!;
    const slot = word & SLOT_MASK;
    if (word & FREE_BIT) {
      assert.notEqual(addrs[slot], 0, `op ${op}: the trace frees slot ${slot}, which is not live`);
      checkMarks(heap, addrs[slot]!, sizes[slot]!, slot, `${name} op ${op} (free)`);
      heap.free(addrs[slot]!);
      addrs[slot] = 0;
      live--;
    } else {
      const sizeBytes = pairs[2 * op + 1]! || 1;
      const addr = heap.alloc(sizeBytes);
      assert.ok(addr > 0 && addr % 8 === 0, `op ${op}: alloc(${sizeBytes}) returned ${addr}`);
      assert.ok(heap.sizeOf(addr) >= sizeBytes, `op ${op}: sizeOf(${addr}) = ${heap.sizeOf(addr)} < ${sizeBytes}`);
      writeMarks(heap, addr, sizeBytes, slot);
      addrs[slot] = addr;
      sizes[slot] = sizeBytes;
      peakLive = Math.max(peakLive, ++live);
    }
    if (op % CHECK_EVERY_OPS === CHECK_EVERY_OPS - 1) heap.check();
  }
  for (let slot = 0; slot < slots; slot++) if (addrs[slot] !== 0) checkMarks(heap, addrs[slot]!, sizes[slot]!, slot, `${name} end`);
  heap.check();
  assert.equal(heap.stats().liveBlocks, live, "live blocks == the trace's live slots");
  for (let slot = 0; slot < slots; slot++) if (addrs[slot] !== 0) heap.free(addrs[slot]!);
  heap.check();
  assert.equal(heap.stats().liveBlocks, 0, "every block freed");
  return { ops, peakLive };
}

describe("traces: real programs' allocations replayed against a heap", () => {
  test("git log -p (every op: large and small blocks, growth)", () => {
    const { ops, peakLive } = replayChecked("git-log", Infinity);
    assert.ok(ops > 80_000 && peakLive > 500, `replayed ${ops} ops, ${peakLive} blocks live at most`);
  });

  for (const path of EXTRA_TRACES) {
    test(`${path} (OFFHEAP_TRACES: every op)`, () => {
      const { ops } = replayChecked(path, Infinity);
      assert.ok(ops > 0, `${path} holds no operation`);
    });
  }

  test("CPython, large live set (first 400,000 ops)", () => {
    const { ops, peakLive } = replayChecked("python-index", 400_000);
    assert.equal(ops, 400_000);
    assert.ok(peakLive > 50_000, `${peakLive} blocks live at most`);
  });
});
