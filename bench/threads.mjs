// Threads benchmark: one heap shared by many workers (DESIGN.md "Threads").
//
//   node bench/threads.mjs [--only single,scaling,handoff,map] [--timeout S] [--json FILE]
//   npm run bench:threads
//
// Sections (workloads and rng as in /work/shared/WORKLOADS.md):
//  single   pair64, batch and churn on a heap with one thread attached, and
//           with a second thread attached but idle (which puts the heap in
//           its shared mode: the price every thread pays once a second joins).
//  scaling  xmm-random60 and churn run by 1, 2 and 4 workers at once, each
//           worker the whole workload: on one shared heap, on a private heap
//           per worker, and with V8's `new Uint8Array` per worker.
//  handoff  one worker allocates 64-byte blocks and passes their addresses
//           through a SharedArrayBuffer ring; another frees them. Peer: the
//           same ring passing plain integers, with no heap.
//  map      a 1,000,000-entry string -> f64 map handed to a worker: an
//           OffHeapMap by address vs postMessage of a JS Map.
//
// Like bench/run.mjs, every measurement is its own process (this file with
// `--cell <name>`), run one after another and killed after --timeout seconds;
// workers are this file too (workerData.role). One process uses one adapter
// class, so workloads.mjs stays monomorphic.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { fmtNs, machineInfo, machineLine, runCell } from "./common.mjs";
import { loadAllocator, OFFHEAP_OPTIONS, offheapDistUrl } from "./allocators.mjs";
import { WORKLOADS, churn, reseed, xmmRandom60 } from "./workloads.mjs";

const SELF = fileURLToPath(import.meta.url);
const WORKER_COUNTS = [1, 2, 4];
// V8 churn costs ~1.4 µs an op (README): its M is cut tenfold to keep the run short; L stays, so the live set is the same.
const CHURN_M = { offheap: 5_000_000, v8: 500_000 };
const HANDOFF_BLOCKS = 2_000_000;
const RING = 4096;
const MAP_ENTRIES = 1_000_000;

const { Heap } = await import(offheapDistUrl());

// The shared-heap peers' adapter: the heap is made or attached by the caller,
// and its view is read afresh on every touch, as bench/allocators.mjs does.
class HeapAdapter {
  constructor(heap) {
    this.heap = heap;
  }
  alloc(sizeBytes) {
    return this.heap.alloc(sizeBytes);
  }
  touch(addr) {
    this.heap.u8[addr] = 1;
  }
  free(addr) {
    this.heap.free(addr);
  }
  slots(n) {
    return new Uint32Array(n);
  }
}

/** Runs a named multi-worker workload on `adapter`; returns { ops, allocs }. */
function runWorkload(name, adapter, kind, scale = 1) {
  reseed();
  if (name === "xmm-random60") {
    const n = Math.round(1_000_000 * scale);
    return { ops: xmmRandom60(adapter, n), allocs: n };
  }
  const l = Math.round(100_000 * scale);
  const m = Math.round(CHURN_M[kind === "v8" ? "v8" : "offheap"] * scale);
  return { ops: churn(adapter, l, m), allocs: l + m };
}

const now = () => process.hrtime.bigint();
const sleepMs = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * Spins until ctrl[i] !== value; sleeps 1 ms at a time only after a long
 * spin, since nobody notifies (a notify per ring item would cost more than
 * the item) and a short spin would put a fast consumer to sleep every time
 * it catches up.
 */
function waitChange(ctrl, i, value) {
  for (let spin = 0; Atomics.load(ctrl, i) === value; spin++) if (spin > 200_000) Atomics.wait(ctrl, i, value, 1);
}

// ---- worker roles -------------------------------------------------------

async function workerMain() {
  const d = workerData;
  if (d.role === "idle") {
    const heap = Heap.attach(d.memory);
    parentPort.postMessage("ready");
    Atomics.wait(d.ctrl, 0, 0);
    heap.detach();
  } else if (d.role === "workload") {
    // kind: "shared" (attach the parent's heap), "private" (a heap of its own), "v8".
    // The workers attach one at a time, before any allocates: Heap.attach
    // can fail while another thread grows the heap, attaching included
    // (InvalidImageError "image needs N bytes but the memory holds M"), a bug
    // the tests report; the benchmark steps around it.
    while (Atomics.load(d.ctrl, 1) !== d.index) waitChange(d.ctrl, 1, Atomics.load(d.ctrl, 1));
    let adapter;
    if (d.kind === "v8") adapter = await (await loadAllocator("v8"))();
    else adapter = new HeapAdapter(d.kind === "shared" ? Heap.attach(d.memory) : new Heap(OFFHEAP_OPTIONS));
    Atomics.add(d.ctrl, 1, 1);
    while (Atomics.load(d.ctrl, 1) < d.count) waitChange(d.ctrl, 1, Atomics.load(d.ctrl, 1));
    runWorkload(d.workload, adapter, d.kind, 0.1); // warm-up on the same allocator: its blocks stay (memory only)
    Atomics.add(d.ctrl, 2, 1);
    waitChange(d.ctrl, 0, 0);
    const start = now();
    const { allocs } = runWorkload(d.workload, adapter, d.kind);
    const end = now();
    parentPort.postMessage({ start, end, allocs });
  } else if (d.role === "producer" || d.role === "consumer") {
    handoffRole(d);
  } else if (d.role === "map-receiver") {
    mapReceiver();
  }
}

// SPSC ring: ctrl[2] = head (items written), ctrl[3] = tail (items taken).
// Each side re-reads the other's counter only when its cached copy says the
// ring is full (producer) or empty (consumer), and the consumer publishes its
// tail once per batch: otherwise every item costs cache-line round trips
// between the cores, and the ring, not the heap, is what gets measured.
function handoffRole(d) {
  const { ctrl, ring, n, withHeap } = d;
  while (Atomics.load(ctrl, 1) !== d.index) waitChange(ctrl, 1, Atomics.load(ctrl, 1)); // one attach at a time, as in "workload"
  const heap = withHeap ? Heap.attach(d.memory) : null;
  Atomics.add(ctrl, 1, 1);
  waitChange(ctrl, 0, 0);
  const start = now();
  if (d.role === "producer") {
    let tail = 0;
    for (let i = 0; i < n; i++) {
      let a = i + 1;
      if (heap !== null) {
        a = heap.alloc(64);
        heap.u8[a] = 1;
      }
      while (i - tail >= RING) {
        tail = Atomics.load(ctrl, 3);
        if (i - tail >= RING) waitChange(ctrl, 3, tail);
      }
      ring[i & (RING - 1)] = a;
      Atomics.store(ctrl, 2, i + 1);
    }
  } else {
    let sink = 0;
    for (let i = 0; i < n;) {
      let head = Atomics.load(ctrl, 2);
      if (head === i) {
        waitChange(ctrl, 2, i);
        head = Atomics.load(ctrl, 2);
      }
      for (; i < head; i++) {
        const a = ring[i & (RING - 1)];
        if (heap !== null) heap.free(a);
        else sink += a;
      }
      Atomics.store(ctrl, 3, i);
    }
    if (sink < 0) console.log(sink);
  }
  const end = now();
  heap?.detach();
  parentPort.postMessage({ start, end });
}

// Gets either { memory, address } or { map } (a structured clone of a JS Map),
// looks up the first key, and reports when that lookup returned.
function mapReceiver() {
  let OffHeapMap = null;
  const ready = import(new URL("collections/index.js", offheapDistUrl()).href).then((m) => (OffHeapMap = m.OffHeapMap));
  ready.then(() => parentPort.postMessage("ready"));
  parentPort.on("message", (msg) => {
    let value;
    let attached = null;
    if (msg.map) value = msg.map.get("key-0");
    else {
      const heap = Heap.attach(msg.memory);
      attached = now();
      value = OffHeapMap.open(heap, msg.address, { key: "string", value: "f64" }).get("key-0");
    }
    parentPort.postMessage({ at: now(), attached, value });
  });
}

// ---- cells (one process each) -------------------------------------------

function spawn(data) {
  const w = new Worker(SELF, { workerData: data });
  const result = new Promise((resolve, reject) => {
    w.once("error", reject);
    w.on("message", (m) => m !== "ready" && resolve(m));
  });
  const ready = new Promise((resolve) => w.on("message", (m) => m === "ready" && resolve()));
  return { worker: w, result, ready };
}

/** single:<workload>:<alone|idle-peer> — ns per op on the main thread. */
async function cellSingle(workload, mode) {
  const heap = new Heap(OFFHEAP_OPTIONS);
  const ctrl = new Int32Array(new SharedArrayBuffer(8));
  let peer = null;
  if (mode === "idle-peer") {
    peer = spawn({ role: "idle", memory: heap.memory, ctrl });
    await peer.ready;
  }
  const adapter = new HeapAdapter(heap);
  reseed();
  WORKLOADS[workload].run(adapter, 0.1);
  globalThis.gc?.();
  reseed();
  const start = now();
  const ops = WORKLOADS[workload].run(adapter, 1);
  const ns = Number(now() - start);
  if (peer) {
    Atomics.store(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  }
  return { ops, nsPerOp: ns / ops };
}

/**
 * A new heap's memory, the main thread detached from it: the workers are then
 * the only threads attached, and one worker alone runs the single-thread paths.
 */
function madeAndLeft() {
  const heap = new Heap(OFFHEAP_OPTIONS);
  heap.detach();
  return heap.memory;
}

/** scaling:<workload>:<shared|private|v8>:<W> — allocs/s in total and per worker. */
async function cellScaling(workload, kind, count) {
  const memory = kind === "shared" ? madeAndLeft() : undefined;
  const ctrl = new Int32Array(new SharedArrayBuffer(12));
  const workers = [];
  for (let i = 0; i < count; i++) workers.push(spawn({ role: "workload", kind, workload, memory, ctrl, count, index: i }));
  while (Atomics.load(ctrl, 2) < count) await sleepMs(5); // every worker warmed up
  Atomics.store(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
  const results = await Promise.all(workers.map((w) => w.result));
  const start = results.reduce((m, r) => (r.start < m ? r.start : m), results[0].start);
  const end = results.reduce((m, r) => (r.end > m ? r.end : m), results[0].end);
  const allocs = results.reduce((s, r) => s + r.allocs, 0);
  return {
    totalAllocsPerSec: allocs / (Number(end - start) / 1e9),
    perWorker: results.map((r) => r.allocs / (Number(r.end - r.start) / 1e9)),
    committedMiB: memory ? Heap.attach(memory).stats().committedBytes / 2 ** 20 : null,
  };
}

/** handoff:<heap|ring-only> — ns per block passed from one worker to the other. */
async function cellHandoff(variant) {
  const withHeap = variant === "heap";
  const memory = withHeap ? madeAndLeft() : undefined;
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  const ring = new Int32Array(new SharedArrayBuffer(4 * RING));
  const base = { ctrl, ring, n: HANDOFF_BLOCKS, withHeap, memory };
  const pair = [spawn({ ...base, role: "producer", index: 0 }), spawn({ ...base, role: "consumer", index: 1 })];
  while (Atomics.load(ctrl, 1) < 2) await sleepMs(5);
  Atomics.store(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
  const [p, c] = await Promise.all(pair.map((w) => w.result));
  const ns = Number((c.end > p.end ? c.end : p.end) - (c.start < p.start ? c.start : p.start));
  return { nsPerBlock: ns / HANDOFF_BLOCKS, liveAfter: memory ? Heap.attach(memory).stats().liveBlocks : null };
}

/** map:<offheap|js> — time from hand-off to the worker's first lookup, and memory. */
async function cellMap(variant) {
  const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
  globalThis.gc?.();
  const rss0 = rssMiB();
  let heap = null;
  let map;
  if (variant === "offheap") {
    const { OffHeapMap } = await import(new URL("collections/index.js", offheapDistUrl()).href);
    heap = new Heap(OFFHEAP_OPTIONS);
    map = new OffHeapMap(heap, { key: "string", value: "f64" });
  } else map = new Map();
  for (let i = 0; i < MAP_ENTRIES; i++) map.set(`key-${i}`, i * 0.5);
  globalThis.gc?.();
  const rssBuilt = rssMiB();
  const receiver = spawn({ role: "map-receiver" });
  await receiver.ready;
  globalThis.gc?.();
  const rssBefore = rssMiB();
  const start = now();
  receiver.worker.postMessage(heap ? { memory: heap.memory, address: map.address } : { map });
  const { at, attached, value } = await receiver.result;
  if (value !== 0) throw new Error(`the worker read ${value} for key-0, not 0`);
  const rssAfter = rssMiB();
  await receiver.worker.terminate();
  return {
    firstLookupMs: Number(at - start) / 1e6,
    attachMs: attached === null ? null : Number(attached - start) / 1e6,
    buildRssMiB: rssBuilt - rss0,
    handoffRssMiB: rssAfter - rssBefore,
    committedMiB: heap ? heap.stats().committedBytes / 2 ** 20 : null,
  };
}

async function cellMain(name) {
  const [section, ...args] = name.split(":");
  let r;
  if (section === "single") r = await cellSingle(args[0], args[1]);
  else if (section === "scaling") r = await cellScaling(args[0], args[1], Number(args[2]));
  else if (section === "handoff") r = await cellHandoff(args[0]);
  else if (section === "map") r = await cellMap(args[0]);
  else throw new RangeError(`unknown cell ${name}`);
  console.log(JSON.stringify({ cell: name, ...r }));
  process.exit(0); // idle workers and the map receiver would keep the process alive
}

// ---- driver -------------------------------------------------------------

const SECTIONS = {
  single: ["pair64", "batch", "churn"].flatMap((w) => [`single:${w}:alone`, `single:${w}:idle-peer`]),
  scaling: ["xmm-random60", "churn"].flatMap((w) => ["shared", "private", "v8"].flatMap((k) => WORKER_COUNTS.map((n) => `scaling:${w}:${k}:${n}`))),
  handoff: ["handoff:heap", "handoff:ring-only"],
  map: ["map:offheap", "map:js"],
};

function parseArgs(argv) {
  const opts = { only: Object.keys(SECTIONS), timeoutS: 90, json: null, cell: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RangeError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--only") opts.only = value().split(",").filter(Boolean);
    else if (arg === "--timeout") opts.timeoutS = Number(value());
    else if (arg === "--json") opts.json = value();
    else if (arg === "--cell") opts.cell = value();
    else throw new RangeError(`unknown option ${arg} (see the first lines of bench/threads.mjs)`);
  }
  for (const s of opts.only) if (!SECTIONS[s]) throw new RangeError(`--only: unknown section "${s}" (${Object.keys(SECTIONS).join(", ")})`);
  return opts;
}

const mps = (x) => `${(x / 1e6).toFixed(2)} M`;
const table = (header, rows) =>
  [header, header.map((_, i) => (i === 0 ? "---" : "--:")), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");

function report(get, opts, machine, totalS) {
  const out = ["## offheap threads benchmark", "", machineLine(machine), ""];
  const fail = (r) => (r.status === "dnf" ? `DNF >${r.timeoutS} s` : "error†");
  if (opts.only.includes("single")) {
    out.push("### 1. One thread (ns per op, one op = one alloc or one free; lower is better)", "");
    out.push(table(["workload", "heap with 1 thread attached", "+ a 2nd thread attached, idle (shared mode)", "shared / alone"],
      ["pair64", "batch", "churn"].map((w) => {
        const a = get(`single:${w}:alone`);
        const b = get(`single:${w}:idle-peer`);
        const cell = (r) => (r.status === "ok" ? fmtNs(r.nsPerOp) : fail(r));
        return [w, cell(a), cell(b), a.status === "ok" && b.status === "ok" ? `${(b.nsPerOp / a.nsPerOp).toFixed(2)}x` : "–"];
      })), "");
  }
  if (opts.only.includes("scaling")) {
    out.push("### 2. Workers at once, each running the whole workload (allocs/s; higher is better)", "");
    out.push(`The main thread makes the shared heap and detaches, so the workers are the only threads attached. Total = all workers' allocs / wall time from the common start to the last finish; per worker = each one's own rate (min-max). churn: L = 100,000, M = ${CHURN_M.offheap.toLocaleString("en-US")} (V8: M = ${CHURN_M.v8.toLocaleString("en-US")}); allocs = L + M. xmm-random60: 1,000,000 allocs per worker, kept.`, "");
    const kinds = [["shared", "one shared heap"], ["private", "a private Heap per worker"], ["v8", "V8 new Uint8Array"]];
    for (const w of ["xmm-random60", "churn"]) {
      const rows = WORKER_COUNTS.map((n) => [String(n), ...kinds.flatMap(([k]) => {
        const r = get(`scaling:${w}:${k}:${n}`);
        if (r.status !== "ok") return [fail(r), ""];
        return [mps(r.totalAllocsPerSec), `${mps(Math.min(...r.perWorker))}–${mps(Math.max(...r.perWorker))}`];
      })]);
      const scale = (k) => {
        const a = get(`scaling:${w}:${k}:1`);
        const b = get(`scaling:${w}:${k}:2`);
        return a.status === "ok" && b.status === "ok" ? `${(b.totalAllocsPerSec / a.totalAllocsPerSec).toFixed(2)}x` : "–";
      };
      rows.push(["scaling 1→2 (total)", ...kinds.flatMap(([k]) => [scale(k), ""])]);
      out.push(`**${w}**`, "");
      out.push(table(["workers", ...kinds.flatMap(([, label]) => [`${label}: total`, "per worker"])], rows), "");
      const mem = get(`scaling:${w}:shared:4`);
      if (mem.status === "ok") out.push(`Shared heap committed after 4 workers: ${mem.committedMiB.toFixed(0)} MiB.`, "");
    }
  }
  if (opts.only.includes("handoff")) {
    out.push(`### 3. Producer/consumer across threads (${HANDOFF_BLOCKS.toLocaleString("en-US")} blocks of 64 B through a ${RING}-slot SharedArrayBuffer ring)`, "");
    const h = get("handoff:heap");
    const r = get("handoff:ring-only");
    const cell = (x) => (x.status === "ok" ? fmtNs(x.nsPerBlock) : fail(x));
    out.push(table(["variant", "ns per block"], [
      ["worker A allocs + writes, worker B frees (shared heap)", cell(h)],
      ["the ring alone (integers, no heap)", cell(r)],
    ]), "");
    if (h.status === "ok") out.push(`Live blocks after the run: ${h.liveAfter} (every block freed by the other thread).`, "");
  }
  if (opts.only.includes("map")) {
    out.push(`### 4. A ${MAP_ENTRIES.toLocaleString("en-US")}-entry string → f64 map handed to a worker`, "");
    const o = get("map:offheap");
    const j = get("map:js");
    const row = (label, x, how) => x.status !== "ok" ? [label, fail(x), "", "", ""] : [label, how,
      `${x.firstLookupMs.toFixed(1)} ms${x.attachMs === null ? "" : ` (${x.attachMs.toFixed(1)} ms of it until Heap.attach returned)`}`,
      x.committedMiB === null ? "–" : `${x.committedMiB.toFixed(0)} MiB`, `${x.buildRssMiB.toFixed(0)} MiB`, `${x.handoffRssMiB.toFixed(0)} MiB`];
    out.push(table(["map", "hand-off", "time to the worker's first lookup", "heap committed", "RSS delta: build", "RSS delta: hand-off"], [
      row("OffHeapMap", o, "postMessage of heap.memory + address; Heap.attach, OffHeapMap.open"),
      row("JS Map", j, "postMessage(map) (structured clone)"),
    ]), "");
    out.push("RSS deltas are of the whole process (both threads), after a GC; the receiving worker was started and loaded before the clock started.", "");
  }
  out.push(`(total ${totalS.toFixed(0)} s)`);
  return out.join("\n");
}

async function driverMain() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.cell) return cellMain(opts.cell);
  const machine = machineInfo();
  const results = new Map();
  const t0 = performance.now();
  for (const s of opts.only) {
    for (const cell of SECTIONS[s]) {
      process.stderr.write(`  ${cell} ... `);
      const r = await runCell(["--expose-gc", SELF, "--cell", cell], opts.timeoutS, { cell });
      results.set(cell, r);
      process.stderr.write(`${r.status === "ok" ? "ok" : r.status === "dnf" ? "DNF" : r.error}  [${r.wallS.toFixed(1)} s]\n`);
      if (r.status === "error") process.exitCode = 1;
    }
  }
  console.log(report((c) => results.get(c), opts, machine, (performance.now() - t0) / 1000));
  const failed = [...results.values()].filter((r) => r.status === "error");
  for (const r of failed) console.log(`† ${r.cell}: ${r.error}`);
  if (opts.json) await writeFile(opts.json, `${JSON.stringify({ date: new Date().toISOString(), machine, results: [...results.values()] }, null, 2)}\n`);
}

if (isMainThread) {
  driverMain().catch((err) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  });
} else {
  await workerMain();
}
