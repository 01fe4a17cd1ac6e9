// The page of test/browser-threads.test.ts: makes a heap in a shared
// WebAssembly.Memory, hands it to two module workers (worker.mjs) with the
// mailboxes and control words, allocates and frees a little itself while
// they run, then sets up the racing frees, frees what is left in the
// mailboxes and validates the heap. The test reads the outcome from
// window.offheapResult (a promise of plain data; it never rejects).
// Query parameters: seed, ops (alloc + free calls per worker), race (blocks
// in the racing-free round).
import { Heap } from "/dist/index.js";
import { Collector, defineStruct } from "/dist/collections/index.js";
import {
  CTL_OPS, CTL_PHASE, CTL_WORDS, drawSize, hex, MAILBOX_SLOTS, MIB, PHASES, receive, rng, send, subSeed, verifyPattern,
  writePattern,
} from "./common.mjs";

const params = new URL(location.href).searchParams;
const SEED = Number(params.get("seed")) >>> 0;
const OPS = Number(params.get("ops") ?? 200_000);
const RACE = Number(params.get("race") ?? 20_000);
const WORKERS = 2;
/** The page's calls per event-loop turn, its most blocks and most large ones. */
const PAGE_CHUNK = 64;
const PAGE_MAX_LIVE = 300;
const PAGE_MAX_LARGE = 4;

// Made by run() once the page is known to be cross-origin isolated (SharedArrayBuffer exists only then).
let control = null;
let mailboxes = null;
let watcher = null;
const workers = [];
const phase = (name) => Atomics.store(control, CTL_PHASE, PHASES.indexOf(name));

// A worker's failure is reported as its message, the page's own with its stack.
const workerFailure = (message) => Object.assign(new Error(message), { fromWorker: true });
window.offheapResult = run().catch((e) => ({ ok: false, seed: SEED, errors: [e?.fromWorker ? e.message : `page: ${e?.stack || String(e)}`] }));

async function run() {
  const t0 = performance.now();
  if (globalThis.crossOriginIsolated !== true) throw new Error(`the page is not cross-origin isolated (crossOriginIsolated = ${globalThis.crossOriginIsolated}): no shared memory`);
  control = new Int32Array(new SharedArrayBuffer(4 * CTL_WORDS));
  mailboxes = new Int32Array(new SharedArrayBuffer(4 * MAILBOX_SLOTS * (WORKERS + 1)));
  // Answers the test with every thread's progress even when this thread and the workers are stuck.
  watcher = new Worker(new URL("./watcher.mjs", import.meta.url), { type: "module", name: "offheap-watcher" });
  watcher.postMessage({ control });
  const heap = new Heap({ maxSize: 256 * MIB });
  const memory = heap.memory;
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new Error(`new Heap() made ${Object.prototype.toString.call(memory)} over ${Object.prototype.toString.call(memory.buffer ?? memory)}, not a shared WebAssembly.Memory`);
  }

  // Every message of every worker lands in `inbox`; an error from any of them ends the run.
  let fail;
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => {}); // reported by whichever step awaits it
  const inbox = [];
  const waiters = [];
  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const k = inbox.findIndex(waiters[i].match);
      if (k >= 0) {
        waiters[i].done(inbox.splice(k, 1)[0]);
        waiters.splice(i--, 1);
      }
    }
  };
  const message = (w, type) => Promise.race([failed, new Promise((done) => {
    waiters.push({ match: (m) => m.w === w && m.type === type, done });
    deliver();
  })]);
  for (let w = 0; w < WORKERS; w++) {
    const worker = new Worker(new URL("./worker.mjs", import.meta.url), { type: "module", name: `offheap-worker-${w}` });
    worker.onmessage = (e) => {
      if (e.data.type === "error") fail(workerFailure(`worker ${w} threw ${e.data.error.stack || `${e.data.error.name}: ${e.data.error.message}`}`));
      inbox.push({ ...e.data, w });
      deliver();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      fail(workerFailure(`worker ${w}: ${e.message} (${e.filename}:${e.lineno}:${e.colno})`));
    };
    worker.onmessageerror = () => fail(workerFailure(`worker ${w}: a message could not be deserialized`));
    workers.push(worker);
  }
  try {
    return await drive(heap, memory, message, failed, t0);
  } finally {
    for (const worker of [...workers, watcher]) worker.terminate();
  }
}

async function drive(heap, memory, message, failed, t0) {
  const next = rng(subSeed(SEED, 0));
  const own = []; // [addr, size] of the page's blocks
  // The page's calls, those while the workers ran (stress*), and its turns of the event loop: the longest (on the spinning heap lock), and how many took over 20 ms.
  const p = { allocs: 0, frees: 0, stressAllocs: 0, stressFrees: 0, sent: 0, received: 0, ticks: 0, longestTickMs: 0, longestTick: -1, ticksOver20ms: 0 };
  const adopt = (addr, where) => own.push([addr, verifyPattern(heap, addr, -1, where)]);
  const freeOwn = (i, where) => {
    const [addr, size] = own[i];
    own[i] = own[own.length - 1];
    own.pop();
    verifyPattern(heap, addr, size, where);
    heap.free(addr);
    p.frees++;
  };
  const allocOwn = (largeShare) => {
    let size = drawSize(next, largeShare);
    if (size > 32 * 1024 && own.filter(([, s]) => s > 32 * 1024).length >= PAGE_MAX_LARGE) size = 8 + (size & 1023);
    const addr = heap.alloc(size);
    p.allocs++;
    writePattern(heap, addr, size);
    return [addr, size];
  };
  // Some blocks before the workers attach: the page runs the single-thread paths until the first attach switches it.
  for (let i = 0; i < 100; i++) own.push(allocOwn(0.02));

  for (let w = 0; w < WORKERS; w++) {
    workers[w].postMessage({ type: "start", memory, control, boxes: mailboxes, worker: w, seed: SEED, ops: OPS });
  }
  const attached = Promise.all(workers.map((_, w) => message(w, "attached")));
  const stressed = Promise.all(workers.map((_, w) => message(w, "stressDone")));
  let stressOver = false;
  stressed.then(() => (stressOver = true), () => (stressOver = true));

  phase("stress");
  // The page's own share while the workers run: a few calls per turn of the event loop (where the heap lock spins, since the page cannot wait).
  while (!stressOver) {
    const t = performance.now();
    for (let k = 0; k < PAGE_CHUNK; k++) {
      const r = next();
      if (r < 0.1) {
        const addr = receive(mailboxes, 0, next);
        if (addr !== 0) {
          p.received++;
          adopt(addr, "page: block received from a worker");
        }
      } else if (own.length < PAGE_MAX_LIVE && (own.length === 0 || r < 0.55)) {
        const block = allocOwn(0.01);
        if (next() < 0.1) {
          const back = send(mailboxes, 1 + Math.floor(next() * WORKERS), block[0], next);
          p.sent++;
          if (back !== 0) adopt(back, "page: block taken back from a worker's mailbox");
        } else {
          own.push(block);
        }
      } else if (own.length > 0) {
        freeOwn(Math.floor(next() * own.length), "page: before free");
      }
    }
    p.ticks++;
    Atomics.store(control, CTL_OPS, p.allocs + p.frees);
    const ms = performance.now() - t;
    if (ms > p.longestTickMs) [p.longestTickMs, p.longestTick] = [Math.round(ms * 10) / 10, p.ticks - 1];
    if (ms > 20) p.ticksOver20ms++;
    await Promise.race([failed, new Promise((done) => setTimeout(done, 0))]);
  }
  p.stressAllocs = p.allocs - 100;
  p.stressFrees = p.frees;
  const threadIds = (await attached).map((m) => m.threadId);
  const stressMessages = await stressed;
  const tStress = performance.now();
  // The workers wait for the race with every block they held freed: what is live is the page's and the mailboxes' blocks.
  heap.check();

  phase("racing");
  // Racing frees: both workers free the same blocks in the same order.
  const blocks = new Int32Array(new SharedArrayBuffer(4 * RACE));
  const wins = new Int32Array(new SharedArrayBuffer(4 * RACE));
  for (let i = 0; i < RACE; i++) {
    const [addr, size] = allocOwn(i % 97 === 0 ? 1 : 0);
    verifyPattern(heap, addr, size, "page: race block");
    blocks[i] = addr;
  }
  for (let w = 0; w < WORKERS; w++) workers[w].postMessage({ type: "race", blocks, wins });
  const done = await Promise.all(workers.map((_, w) => message(w, "done")));
  const tRace = performance.now();
  const badWins = [];
  for (let i = 0; i < RACE && badWins.length < 10; i++) if (wins[i] !== 1) badWins.push(`block ${hex(blocks[i])} (#${i}) freed ${wins[i]} times`);

  phase("attaching through the memory sent away and back");
  // Structured cloning makes a new WebAssembly.Memory over the same bytes: Heap.attach finds the
  // page's Heap on them and joins its slot, so its detach leaves the page's Heap its caches.
  workers[0].postMessage({ type: "echo", memory });
  const back = (await message(0, "echo")).memory;
  const other = Heap.attach(back);
  const alias = { sameObject: back === memory, sameSlot: other.slot === heap.slot, blocks: 0 };
  for (let i = 0; i < 200; i++) {
    const size = 16 + i;
    const addr = other.alloc(size);
    p.allocs++;
    writePattern(other, addr, size);
    own.push([addr, size]); // freed through the page's Heap below
    alias.blocks++;
  }
  other.detach();

  phase("draining the mailboxes");
  // The workers are detached: what is live is the page's blocks and the ones left in the mailboxes.
  const left = [];
  for (let i = 0; i < mailboxes.length; i++) if (mailboxes[i] !== 0) left.push(Atomics.exchange(mailboxes, i, 0));
  const liveBeforeDrain = heap.stats().liveBlocks;
  const expectedBeforeDrain = own.length + left.length;
  for (const addr of left) adopt(addr, "page: block left in a mailbox");
  while (own.length > 0) freeOwn(own.length - 1, "page: freeing what is left");
  phase("checking");
  heap.check();
  const stats = heap.stats();

  const collector = collectTree();
  const concurrent = await collectConcurrently();
  const counts = stressMessages.map((m) => m.counts);
  const allocs = p.allocs + counts.reduce((s, c) => s + c.allocs, 0);
  const frees = p.frees + counts.reduce((s, c) => s + c.frees, 0) + done.reduce((s, m) => s + m.race.won, 0);
  return {
    ok: true,
    seed: SEED,
    errors: [],
    crossOriginIsolated: globalThis.crossOriginIsolated,
    sharedMemory: memory.buffer instanceof SharedArrayBuffer,
    threadIds,
    workers: counts.map((c, w) => ({ ...c, race: done[w].race })),
    page: p,
    race: { blocks: RACE, badWins },
    inMailboxes: left.length,
    liveBeforeDrain,
    expectedBeforeDrain,
    liveAfter: stats.liveBlocks,
    allocs,
    frees,
    statsAllocs: stats.allocs,
    statsFrees: stats.frees,
    committedMiB: Math.round(stats.committedBytes / MIB),
    alias,
    collector,
    concurrent,
    ms: { stress: Math.round(tStress - t0), race: Math.round(tRace - tStress), total: Math.round(performance.now() - t0) },
  };
}

// A Collector with a helper thread (concurrent: a web worker from a blob
// URL, marking over the heap's shared memory) on a tree of 131,071 records:
// cycles in steps, the page yielding between them, until the helper has
// marked blocks (it comes up asynchronously); then the right half dropped
// and one more cycle in steps.
async function collectConcurrently() {
  const heap = new Heap({ maxSize: 256 * MIB });
  const gc = new Collector(heap, { concurrent: true, minBytes: 0, growth: 0 });
  const Node = defineStruct({ left: "ref", right: "ref", value: "u32" });
  const nodes = [];
  for (let i = 0; i < 131_071; i++) nodes.push(gc.alloc(Node, { value: i }));
  const cur = Node.at(heap, 0);
  for (let i = 1; i < nodes.length; i++) {
    cur.addr = nodes[(i - 1) >>> 1];
    if (i % 2 === 1) cur.left = nodes[i];
    else cur.right = nodes[i];
  }
  heap.setRoot("tree", nodes[0]);
  const cycle = async () => {
    gc.startCycle();
    while (!gc.step(1)) await new Promise((r) => setTimeout(r, 0));
  };
  let cycles = 0;
  for (; cycles < 100 && gc.stats().helperMarkedBlocks === 0; cycles++) await cycle();
  const whole = gc.stats().liveBlocks;
  Node.at(heap, nodes[0]).right = 0;
  await cycle();
  gc.check();
  heap.check();
  const result = { helperMarked: gc.stats().helperMarkedBlocks > 0, whole, half: gc.stats().liveBlocks };
  gc.dispose();
  return result;
}

// The Collector in the browser, on a heap of its own (a shared memory here):
// a binary tree of 4,095 records, its right half dropped, one collect()
// each. Its marks come from the WebAssembly loop, whose module the page
// compiles at once (new WebAssembly.Module), if the directory has its
// workspace (gc-layout.ts: DIR_WORKSPACE, word 4).
function collectTree() {
  const heap = new Heap({ maxSize: 64 * MIB });
  const gc = new Collector(heap);
  const Node = defineStruct({ left: "ref", right: "ref", value: "u32" });
  const tree = (depth) => {
    const node = gc.alloc(Node, { value: depth });
    if (depth > 1) Node.write(heap, node, { left: tree(depth - 1), right: tree(depth - 1) });
    return node;
  };
  const root = tree(12);
  heap.setRoot("tree", root);
  gc.collect();
  const whole = gc.stats().liveBlocks;
  Node.at(heap, root).right = 0;
  gc.collect();
  gc.check();
  heap.check();
  return {
    sharedMemory: heap.memory.buffer instanceof SharedArrayBuffer,
    wasmLoop: heap.u32[(heap.getRoot("offheap.gc") >>> 2) + 4] !== 0,
    whole,
    half: gc.stats().liveBlocks,
  };
}
