// A stress worker of test/threads.test.ts, in the spirit of mimalloc's
// test-stress: joins the shared heap, allocates, reallocates and frees blocks
// of random sizes, keeps every block it holds patterned and verified, and
// trades blocks with the other workers through a shared slot array
// (Atomics.exchange), so most frees are of blocks another thread allocated.
//
// workerData: { memory, slots (Int32Array), rec (Int32Array), recBase, ctrl
// (Int32Array; ctrl[0] !== 0 asks to stop), seed, iterations (-1: until
// stopped), detach (false: exit holding the slot, for releaseThread) }.
// Posts { ops, allocs, frees, foreignFrees } when done; throws (an 'error'
// event on the Worker) on any mismatch.
//
// Every block it holds is in its record's table (common.mjs); a call that
// moves a block in or out of the table is announced in REC_PEND_* first and
// its result stored right after it returns, with no call or loop between, so
// a terminate() (which V8 delivers only at calls and loop back-edges) cannot
// land between the return and the store.
import { threadId, workerData, parentPort } from "node:worker_threads";
import { Heap, OffheapTypeError } from "../../dist/index.js";
import {
  drawSize, HOLD, PK_ALLOC, PK_CALLOC, PK_FREE, PK_REALLOC, PK_XCHG, REC_HELD, REC_OPS, REC_PEND_ADDR, REC_PEND_KIND,
  REC_PEND_SIZE, REC_STATE, REC_TABLE, REC_THREAD, rng, ST_ATTACHED, ST_DETACHED, ST_DETACHING, ST_DONE, ST_ENDING, ST_STARTED,
  verifyPattern,
  verifyZero, writePattern,
} from "./common.mjs";

const { memory, slots, rec, recBase: R, ctrl, seed, iterations, detach } = workerData;
const T = R + REC_TABLE;
const next = rng(seed);
rec[R + REC_STATE] = ST_STARTED;
const heap = Heap.attach(memory);
rec[R + REC_THREAD] = threadId;
rec[R + REC_STATE] = ST_ATTACHED;
if (heap.threadId !== threadId) throw new Error(`heap.threadId is ${heap.threadId}, worker_threads says ${threadId}`);

const me = `worker ${threadId} (seed ${seed})`;
// Blocks this worker allocated itself, by table entry: a free of any other
// block is a free across threads.
const mine = new Uint8Array(HOLD);
let held = 0;
let ops = 0;
let allocs = 0;
let frees = 0;
let foreignFrees = 0;

function allocInto(i, calloc) {
  const size = drawSize(next);
  rec[R + REC_PEND_SIZE] = size;
  rec[R + REC_PEND_KIND] = calloc ? PK_CALLOC : PK_ALLOC;
  const a = calloc ? heap.calloc(size) : heap.alloc(size);
  rec[T + i] = a;
  rec[R + REC_PEND_KIND] = 0;
  if (calloc) verifyZero(heap, a, size, me);
  writePattern(heap, a, size);
  rec[T + i] = a | 1;
  mine[i] = 1;
  allocs++;
}

/** Frees entry i and closes the gap with the last entry (the parent dedupes a copy caught mid-move). */
function freeEntry(i) {
  const a = rec[T + i] & ~1;
  verifyPattern(heap, a, `${me} before free`);
  rec[R + REC_PEND_ADDR] = a;
  rec[R + REC_PEND_KIND] = PK_FREE;
  rec[T + i] = 0;
  heap.free(a);
  rec[R + REC_PEND_KIND] = 0;
  frees++;
  if (!mine[i]) foreignFrees++;
  const last = --held;
  rec[T + i] = rec[T + last];
  mine[i] = mine[last];
  rec[T + last] = 0;
  rec[R + REC_HELD] = held;
}

function reallocEntry(i) {
  const a = rec[T + i] & ~1;
  const oldSize = verifyPattern(heap, a, `${me} before realloc`);
  const size = drawSize(next);
  rec[R + REC_PEND_ADDR] = a;
  rec[R + REC_PEND_SIZE] = size;
  rec[R + REC_PEND_KIND] = PK_REALLOC;
  rec[T + i] = 0;
  const b = heap.realloc(a, size);
  rec[T + i] = b;
  rec[R + REC_PEND_KIND] = 0;
  verifyPattern(heap, b, `${me} after realloc(${oldSize} -> ${size})`, a, size);
  writePattern(heap, b, size);
  rec[T + i] = b | 1;
  if (b !== a) {
    allocs++;
    frees++;
    if (!mine[i]) foreignFrees++;
    mine[i] = 1;
  }
}

/** Swaps entry i with a random slot; returns true if it came back with a block. */
function exchangeEntry(i) {
  const a = rec[T + i] & ~1;
  const j = Math.floor(next() * slots.length);
  rec[R + REC_PEND_ADDR] = a;
  rec[R + REC_PEND_KIND] = PK_XCHG;
  rec[T + i] = 0;
  const got = Atomics.exchange(slots, j, a);
  rec[T + i] = got === 0 ? 0 : got | 1;
  rec[R + REC_PEND_KIND] = 0;
  mine[i] = 0;
  if (got === 0) return false;
  verifyPattern(heap, got, `${me} taken from slot ${j}`);
  return true;
}

function dropEntry(i) {
  // An exchange that came back empty leaves a hole: close it as freeEntry does.
  const last = --held;
  rec[T + i] = rec[T + last];
  mine[i] = mine[last];
  rec[T + last] = 0;
  rec[R + REC_HELD] = held;
}

for (let n = 0; iterations < 0 || n < iterations; n++) {
  if ((n & 255) === 0 && Atomics.load(ctrl, 0) !== 0) break;
  const x = next();
  if (held === 0 || (x < 0.45 && held < HOLD)) {
    allocInto(held, next() < 0.05);
    rec[R + REC_HELD] = ++held;
  } else if (x < 0.85 || held === HOLD) {
    freeEntry(Math.floor(next() * held));
  } else if (x < 0.9) {
    reallocEntry(Math.floor(next() * held));
  } else {
    const i = Math.floor(next() * held);
    if (!exchangeEntry(i)) dropEntry(i);
  }
  rec[R + REC_OPS] = allocs + frees;
}

// Leave: half of what it holds goes to the slot array, to outlive this
// worker (whatever comes back is freed); the rest is freed here.
rec[R + REC_STATE] = ST_ENDING;
while (held > 0) {
  const i = held - 1;
  if (next() < 0.5 && exchangeEntry(i)) continue;
  if (rec[T + i] === 0) dropEntry(i);
  else freeEntry(i);
}
ops = allocs + frees;
rec[R + REC_OPS] = ops;
if (detach) {
  rec[R + REC_STATE] = ST_DETACHING;
  if (next() < 0.5) heap.detach();
  else heap[Symbol.dispose]();
  rec[R + REC_STATE] = ST_DETACHED;
  let threw = null;
  try {
    heap.alloc(8);
  } catch (e) {
    threw = e;
  }
  if (!(threw instanceof OffheapTypeError)) throw new Error(`${me}: alloc on a detached Heap should throw OffheapTypeError, got ${threw ? threw.stack : "an address"}`);
}
rec[R + REC_STATE] = ST_DONE;
parentPort.postMessage({ ops, allocs, frees, foreignFrees });
