// One trace cell in its own process: `node --expose-gc bench/traces/cell.mjs <allocator> <trace> [passes]`.
//
// <trace> is a committed trace's name (data/<trace>.trace.gz) or the path of
// a trace file (it holds a "/"; gzipped or not), reported by its file name.
// Replays the trace against one allocator: `passes` passes (default
// 3) in this fresh process, each timed with process.hrtime.bigint(); what is
// left live after a pass is freed, untimed, followed by a full GC. Pass 1 is
// the program's own run ("first pass"), and its first 100,000 ops are timed
// on their own as well (the replay stops there and goes on with a second
// call, so this is still the process's first contact with the trace). The
// last pass is "warm". Prints one JSON line:
//   { allocator, trace, ops, prefixOps, prefixNs, passNs: [...], footprintBytes: [...], residentBytes: [...] }
// footprintBytes[k] is the allocator's peak memory after pass k+1: offheap's
// peakCommittedBytes (never below the true peak), TLSF's wasm memory size (it never shrinks),
// null for V8 and the floor. residentBytes[k], the same allocators' memory
// as the OS holds it after pass k+1 (Linux; else null): see residentBytes.
//
// Allocators: the adapters of ../allocators.mjs: offheap, as-tlsf, v8 and
// "floor", the JS loop floor (a bump through a small pre-touched ring that
// never frees: the harness's own cost).
import { readFileSync } from "node:fs";
import { loadAllocator } from "../allocators.mjs";
import { loadTrace, traceName, tracePath } from "./trace-file.mjs";

// Ops of the separately timed prefix of the first pass (PREFIX_OPS in traces.mjs and replay-passes.c too).
const PREFIX_OPS = 100_000;

// Local copies: V8 does not fold imported bindings into the loop.
const FREE_BIT = 0x80000000;
const SLOT_MASK = 0x7fffffff;

// The timed loop, the same for every allocator: an alloc takes the pair's
// size (0 as 1, as replay.c does), writes one byte into the block and keeps
// its handle in the slot; a free frees the slot's handle and clears it (for
// V8, dropping the reference is the free). Handles are never 0 except the
// floor's ring offset 0, whose free does nothing anyway.
function replay(allocator, pairs, handles, fromOp, toOp) {
  const end = toOp << 1;
  for (let i = fromOp << 1; i < end; i += 2) {
    const word = pairs[i];
    if (word & FREE_BIT) {
      const slot = word & SLOT_MASK;
      allocator.free(handles[slot]);
      handles[slot] = 0;
    } else {
      const block = allocator.alloc(pairs[i + 1] || 1);
      allocator.touch(block);
      handles[word] = block;
    }
  }
}

function freeRest(allocator, handles) {
  for (let slot = 0; slot < handles.length; slot++) {
    const block = handles[slot];
    if (block !== 0) {
      allocator.free(block);
      handles[slot] = 0;
    }
  }
}

function footprintBytes(allocator) {
  if (allocator.heap) return allocator.heap.stats().peakCommittedBytes;
  if (allocator.memory) return allocator.memory.buffer.byteLength;
  return null;
}

// The mappings of this process (/proc/self/smaps): { start, size, rss } each,
// or null where there is no such file.
function mappings() {
  let smaps;
  try {
    smaps = readFileSync("/proc/self/smaps", "utf8");
  } catch {
    return null;
  }
  const out = [];
  for (const line of smaps.split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) out.push({ start: range[1], size: parseInt(range[2], 16) - parseInt(range[1], 16), rss: 0 });
    else if (line.startsWith("Rss:") && out.length > 0) out[out.length - 1].rss = parseInt(line.slice(4), 10) * 1024;
  }
  return out;
}

// The resident bytes of the allocator's memory (offheap's and TLSF's: the
// pages of it the OS holds, as the native replayers' peak RSS counts), or
// null where there are no mappings to read or no one mapping is the memory's.
// The memory is the mapping, new since `before` (the mappings before the
// allocator was made), whose size is its buffer's length: a
// WebAssembly.Memory reserves its maximum and makes the first byteLength
// bytes accessible, a mapping of their own. Neither allocator gives pages
// back to the OS, so after a pass this is the peak so far.
function residentBytes(allocator, before) {
  const buffer = allocator.heap ? allocator.heap.u8.buffer : allocator.memory?.buffer;
  const now = buffer && before ? mappings() : null;
  if (!now) return null;
  const old = new Set(before.map((m) => m.start));
  const found = now.filter((m) => !old.has(m.start) && m.size === buffer.byteLength);
  return found.length === 1 ? found[0].rss : null;
}

function slotCount(pairs) {
  let slots = 0;
  for (let i = 0; i < pairs.length; i += 2) slots = Math.max(slots, (pairs[i] & SLOT_MASK) + 1);
  return slots;
}

function timed(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start);
}

async function runTraceCell(allocatorName, trace, passes) {
  const pairs = loadTrace(tracePath(trace));
  const ops = pairs.length >>> 1;
  const prefixOps = Math.min(PREFIX_OPS, ops);
  const make = await loadAllocator(allocatorName);
  const before = mappings();
  const allocator = await make();
  const handles = allocator.slots(slotCount(pairs));
  const passNs = [];
  const footprints = [];
  const residents = [];
  let prefixNs = 0;
  for (let pass = 0; pass < passes; pass++) {
    globalThis.gc?.();
    if (pass === 0) {
      prefixNs = timed(() => replay(allocator, pairs, handles, 0, prefixOps));
      passNs.push(prefixNs + timed(() => replay(allocator, pairs, handles, prefixOps, ops)));
    } else {
      passNs.push(timed(() => replay(allocator, pairs, handles, 0, ops)));
    }
    footprints.push(footprintBytes(allocator));
    residents.push(residentBytes(allocator, before));
    freeRest(allocator, handles);
  }
  return {
    allocator: allocatorName,
    trace: traceName(trace),
    ops,
    prefixOps,
    prefixNs,
    passNs,
    footprintBytes: footprints,
    residentBytes: residents,
  };
}

const [allocatorName, traceArg, passesArg] = process.argv.slice(2);
if (!allocatorName || !traceArg) {
  console.error("usage: node --expose-gc bench/traces/cell.mjs <offheap|as-tlsf|v8|floor> <trace name | path/FILE.trace[.gz]> [passes]");
  process.exit(2);
}
console.log(JSON.stringify(await runTraceCell(allocatorName, traceArg, passesArg === undefined ? 3 : Number(passesArg))));
