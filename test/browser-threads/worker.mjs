// A module worker of test/browser-threads.test.ts. It attaches to the page's
// heap, runs a seeded mix of alloc and free with patterns checked before
// every free, trades blocks with the other threads through the mailboxes,
// frees its blocks, then races the other worker freeing the same blocks, and
// detaches. Every step reports to the page by postMessage; any exception is
// posted as { type: "error" } (and the page also listens to onerror).
import { DoubleFreeError, Heap, InvalidAddressError } from "/dist/index.js";
import {
  CTL_OPS, CTL_PHASE, CTL_RACE_READY, drawSize, errorData, hex, PHASES, receive, rng, send, subSeed, verifyPattern, writePattern,
} from "./common.mjs";

/** Operations between two yields to the event loop (so the test can read this worker's progress). */
const CHUNK = 4096;
/** Most blocks this worker holds at once, and most large ones among them. */
const MAX_LIVE = 3000;
const MAX_LIVE_LARGE = 24;
const LARGE_SHARE = 0.012;
const SEND_SHARE = 0.15;
const RECEIVE_SHARE = 0.12;

// A macrotask without setTimeout's clamping.
const channel = new MessageChannel();
const yieldTask = () => new Promise((done) => { channel.port1.onmessage = done; channel.port2.postMessage(0); });

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.type === "start") await start(msg);
    else if (msg.type === "race") race(msg);
    else if (msg.type === "echo") self.postMessage({ type: "echo", memory: msg.memory }); // a new object over the same bytes
    else throw new Error(`worker: unknown message ${JSON.stringify(msg.type)}`);
  } catch (err) {
    self.postMessage({ type: "error", error: errorData(err) });
  }
};

let heap = null;
let w = -1; // 0 or 1; this thread's mailbox is w + 1 (0 is the page's)
let ctl = null;
let mailboxes = null;

const phase = (name) => Atomics.store(ctl, CTL_PHASE + 1 + w, PHASES.indexOf(name));

async function start({ memory, control, boxes, worker, seed, ops }) {
  w = worker;
  ctl = control;
  mailboxes = boxes;
  phase("starting");
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new Error(`worker ${w}: received ${Object.prototype.toString.call(memory)}, not a shared WebAssembly.Memory`);
  }
  heap = Heap.attach(memory);
  phase("attached");
  self.postMessage({ type: "attached", threadId: heap.threadId });

  const next = rng(subSeed(seed, w + 1));
  const me = w + 1;
  const addrs = [];
  const sizes = [];
  let large = 0;
  const n = { allocs: 0, frees: 0, largeAllocs: 0, sent: 0, sentBack: 0, received: 0, freedReceived: 0, bytesChecked: 0 };
  const keep = (addr, size) => {
    addrs.push(addr);
    sizes.push(size);
    if (size > 32 * 1024) large++;
  };
  // An address that came from another thread's mailbox or back from one: checked, then freed at once or kept.
  const adopt = (addr, where) => {
    const size = verifyPattern(heap, addr, -1, where);
    n.bytesChecked += size;
    if (next() < 0.5) {
      heap.free(addr);
      n.frees++;
      n.freedReceived++;
    } else {
      keep(addr, size);
    }
  };

  phase("stress");
  // The live set drifts: a run of mostly allocations, then one of mostly frees, of random lengths.
  let growing = true;
  let runLeft = 0;
  for (let op = 0; n.allocs + n.frees < ops; op++) {
    if ((op & (CHUNK - 1)) === 0) {
      Atomics.store(ctl, CTL_OPS + 1 + w, n.allocs + n.frees);
      await yieldTask();
    }
    if (runLeft-- <= 0) {
      growing = !growing;
      runLeft = 2000 + Math.floor(next() * 20000);
    }
    if (next() < RECEIVE_SHARE) {
      const addr = receive(mailboxes, me, next);
      if (addr !== 0) {
        n.received++;
        adopt(addr, `worker ${w}: block received from another thread`);
      }
    }
    const allocate = addrs.length === 0 || (addrs.length < MAX_LIVE && next() < (growing ? 0.6 : 0.4));
    if (allocate) {
      let size = drawSize(next, LARGE_SHARE);
      if (size > 32 * 1024 && large >= MAX_LIVE_LARGE) size = 8 + (size & 1023);
      const addr = heap.alloc(size);
      n.allocs++;
      if (size > 32 * 1024) n.largeAllocs++;
      if (addr <= 0 || (addr & 7) !== 0) throw new Error(`worker ${w}: alloc(${size}) returned ${addr}`);
      writePattern(heap, addr, size);
      if (next() < SEND_SHARE) {
        const to = next() < 0.8 ? 2 - w : 0; // mostly the other worker, some to the page
        const back = send(mailboxes, to, addr, next);
        n.sent++;
        if (back !== 0) {
          n.sentBack++;
          adopt(back, `worker ${w}: block taken back from ${to === 0 ? "the page" : `worker ${to - 1}`}'s mailbox`);
        }
      } else {
        keep(addr, size);
      }
    } else {
      const i = Math.floor(next() * addrs.length);
      const addr = addrs[i];
      const size = sizes[i];
      addrs[i] = addrs[addrs.length - 1];
      sizes[i] = sizes[sizes.length - 1];
      addrs.pop();
      sizes.pop();
      if (size > 32 * 1024) large--;
      verifyPattern(heap, addr, size, `worker ${w}: before free`);
      n.bytesChecked += size;
      heap.free(addr);
      n.frees++;
    }
  }

  phase("freeing its blocks");
  Atomics.store(ctl, CTL_OPS + 1 + w, n.allocs + n.frees);
  while (addrs.length > 0) {
    const addr = addrs.pop();
    const size = sizes.pop();
    verifyPattern(heap, addr, size, `worker ${w}: freeing its blocks at the end`);
    n.bytesChecked += size;
    heap.free(addr);
    n.frees++;
  }
  phase("waiting for the race");
  self.postMessage({ type: "stressDone", counts: n });
}

// Frees every block of `blocks` (allocated by the page), as the other
// worker does: in rounds of RACE_ROUND blocks, the two workers starting each
// round together at a barrier and freeing its blocks in the same order.
// Nothing is allocated meanwhile, so of the two frees of a block exactly one
// succeeds and the other throws.
const RACE_ROUND = 16;

function race({ blocks, wins }) {
  phase("racing");
  const r = { won: 0, doubleFree: 0, invalidAddress: 0 };
  for (let round = 0; round * RACE_ROUND < blocks.length; round++) {
    barrier(2 * (round + 1));
    const end = Math.min(blocks.length, (round + 1) * RACE_ROUND);
    for (let i = round * RACE_ROUND; i < end; i++) {
      try {
        heap.free(blocks[i]);
        r.won++;
        Atomics.add(wins, i, 1);
      } catch (e) {
        if (e instanceof DoubleFreeError) r.doubleFree++;
        else if (e instanceof InvalidAddressError) r.invalidAddress++;
        else throw new Error(`worker ${w}: racing free of block ${hex(blocks[i])} (#${i}) threw ${e?.name}: ${e?.message}`, { cause: e });
      }
    }
  }
  phase("detaching");
  heap.detach();
  phase("detached");
  self.postMessage({ type: "done", race: r });
}

// Waits until both workers arrived at the barrier the count `target` stands for: a short spin, then Atomics.wait.
function barrier(target) {
  if (Atomics.add(ctl, CTL_RACE_READY, 1) + 1 >= target) {
    Atomics.notify(ctl, CTL_RACE_READY);
    return;
  }
  for (let spins = 0; ; spins++) {
    const seen = Atomics.load(ctl, CTL_RACE_READY);
    if (seen >= target) return;
    if (spins > 2000) Atomics.wait(ctl, CTL_RACE_READY, seen, 5);
  }
}
