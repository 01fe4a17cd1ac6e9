// Model-based test of the heap: fast-check drives random command sequences
// against a reference model of live [addr, addr+size) intervals, and every
// invariant is checked after every command.
//
// The same model also runs on heaps that a second thread uses (OFFHEAP_SHARED_MODEL_OPS,
// default 150,000): a worker attaches to each new heap, allocates and frees
// a few hundred blocks (its local cache keeps them) and stays attached, so
// this thread runs the shared-mode paths (slots.ts) beside another slot's
// cache, and check() and stats() count both slots.
//
// OFFHEAP_MODEL_OPS sets how many commands to run in all (default 1,000,000,
// what CI runs); OFFHEAP_SEED replays a run: each round prints its seed, and
// a failure prints fast-check's seed and path. OFFHEAP_MODEL_TRACE=1 writes
// every command to stderr as it runs (to find a hang or a crash).

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { writeSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DoubleFreeError, Heap, InvalidAddressError, OutOfMemoryError, PAGE_SIZE } from "../src/index.js";
import { META_BYTES_PER_PAGE } from "../src/heap/layout.js";

const MAX_SIZE = 1 << 20; // a small heap keeps check() cheap and reaches OOM
const TARGET_OPS = Number(process.env.OFFHEAP_MODEL_OPS ?? 1_000_000);
const SHARED_TARGET_OPS = Number(process.env.OFFHEAP_SHARED_MODEL_OPS ?? 150_000);
const BASE_SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

interface Block {
  id: number;
  addr: number;
  size: number;
}

interface Model {
  live: Block[];
  nextId: number;
  allocs: number;
  frees: number;
  requested: number;
  freed: number[]; // recently freed addresses, for deliberate double frees
}

interface Real {
  heap: Heap;
}

let opsRun = 0;

function patternByte(id: number, i: number): number {
  return (id * 131 + i * 7 + 1) & 255;
}

function fill(heap: Heap, b: Block): void {
  const u8 = heap.u8;
  for (let i = 0; i < b.size; i++) u8[b.addr + i] = patternByte(b.id, i);
}

function verifyBytes(heap: Heap, b: Block, from: number, to: number): void {
  const u8 = heap.u8;
  for (let i = from; i < to; i++) {
    if (u8[b.addr + i] !== patternByte(b.id, i)) {
      assert.fail(`block ${b.id} at 0x${b.addr.toString(16)} (${b.size} B): byte ${i} changed`);
    }
  }
}

// What every step checks: alignment, bounds, no overlap, the ends of every
// block intact (whole blocks are verified when they are freed or moved),
// check(), and stats equal to the model's.
function verify(model: Model, real: Real): void {
  const heap = real.heap;
  const sorted = [...model.live].sort((a, b) => a.addr - b.addr);
  const end = heap.stats().committedBytes;
  let prevEnd = 0;
  let liveBytes = 0;
  for (const b of sorted) {
    assert.equal(b.addr % 8, 0, "8-byte aligned");
    assert.ok(b.addr > 0 && b.addr + b.size <= heap.u8.length, "inside the heap");
    assert.ok(b.addr >= prevEnd, `block ${b.id} overlaps the block before it`);
    const usable = heap.sizeOf(b.addr);
    assert.ok(usable >= b.size, "usable size covers the request");
    prevEnd = b.addr + usable;
    liveBytes += usable;
    verifyBytes(heap, b, 0, Math.min(8, b.size));
    verifyBytes(heap, b, Math.max(0, b.size - 8), b.size);
  }
  assert.ok(end > 0);
  heap.check();
  const s = heap.stats();
  assert.equal(s.liveBlocks, model.live.length, "liveBlocks");
  assert.equal(s.liveBytes, liveBytes, "liveBytes");
  assert.equal(s.allocs, model.allocs, "allocs");
  assert.equal(s.frees, model.frees, "frees");
  assert.equal(s.requestedBytes, model.requested, "requestedBytes");
}

// Runs `op`; if it throws OutOfMemoryError, checks that nothing was lost:
// the committed size is the same and free pages did not shrink (the heap may
// have flushed its caches into the page pool while trying; verify() then
// checks that live blocks, contents and counts are as before). Returns
// whether `op` succeeded.
function orOom(real: Real, op: () => void): boolean {
  const before = real.heap.stats();
  try {
    op();
    return true;
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    const after = real.heap.stats();
    assert.equal(after.committedBytes, before.committedBytes, "OutOfMemoryError changed the committed size");
    assert.ok(after.freePageBytes >= before.freePageBytes, "OutOfMemoryError lost free pages");
    assert.ok(after.committedBytes + 4 * PAGE_SIZE > MAX_SIZE - 64 * 1024, "OutOfMemoryError while the heap could still grow");
    return false;
  }
}

abstract class Cmd implements fc.Command<Model, Real> {
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    opsRun++;
    if (process.env.OFFHEAP_MODEL_TRACE) writeSync(2, `${opsRun} ${this.toString()}\n`);
    this.apply(m, r);
    verify(m, r);
  }
  abstract apply(m: Model, r: Real): void;
  abstract toString(): string;
}

class Alloc extends Cmd {
  constructor(readonly size: number, readonly zeroed: boolean) {
    super();
  }
  apply(m: Model, r: Real): void {
    let addr = 0;
    if (!orOom(r, () => { addr = this.zeroed ? r.heap.calloc(this.size) : r.heap.alloc(this.size); })) return;
    if (this.zeroed) {
      const u8 = r.heap.u8;
      for (let i = 0; i < r.heap.sizeOf(addr); i++) if (u8[addr + i] !== 0) assert.fail(`calloc: byte ${i} of 0x${addr.toString(16)} is not zero`);
    }
    const b = { id: m.nextId++, addr, size: this.size };
    fill(r.heap, b);
    m.live.push(b);
    m.allocs++;
    m.requested += this.size;
  }
  toString(): string {
    return `${this.zeroed ? "calloc" : "alloc"}(${this.size})`;
  }
}

class Free extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  apply(m: Model, r: Real): void {
    const [b] = m.live.splice(this.pick % m.live.length, 1) as [Block];
    verifyBytes(r.heap, b, 0, b.size);
    r.heap.free(b.addr);
    m.frees++;
    m.freed.push(b.addr);
    if (m.freed.length > 16) m.freed.shift();
  }
  toString(): string {
    return `free(#${this.pick})`;
  }
}

class Realloc extends Cmd {
  constructor(readonly pick: number, readonly size: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  apply(m: Model, r: Real): void {
    const b = m.live[this.pick % m.live.length]!;
    verifyBytes(r.heap, b, 0, b.size);
    let addr = 0;
    if (!orOom(r, () => { addr = r.heap.realloc(b.addr, this.size); })) return;
    m.requested += this.size;
    if (addr !== b.addr) {
      m.allocs++;
      m.frees++;
    }
    const kept = Math.min(b.size, this.size);
    b.addr = addr;
    verifyBytes(r.heap, b, 0, kept);
    b.size = this.size;
    fill(r.heap, b);
  }
  toString(): string {
    return `realloc(#${this.pick}, ${this.size})`;
  }
}

// Copies the image into a new WebAssembly.Memory and carries on with a heap
// attached to the copy: it must behave identically.
class AttachCopy extends Cmd {
  apply(_m: Model, r: Real): void {
    const old = r.heap;
    const bytes = new Uint8Array(old.buffer);
    const memory = new WebAssembly.Memory({ initial: bytes.length / 65536, maximum: MAX_SIZE / 65536 });
    new Uint8Array(memory.buffer).set(bytes);
    r.heap = Heap.attach(memory);
  }
  toString(): string {
    return "attachCopy()";
  }
}

class Trim extends Cmd {
  apply(_m: Model, r: Real): void {
    const before = r.heap.stats();
    const released = r.heap.trim();
    assert.equal(r.heap.stats().committedBytes, before.committedBytes - released - (released / PAGE_SIZE) * META_BYTES_PER_PAGE);
  }
  toString(): string {
    return "trim()";
  }
}

// Deliberate misuse: each must throw its typed error and change nothing.
class Misuse extends Cmd {
  constructor(readonly kind: "double" | "interior" | "outside", readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return this.kind === "double" ? m.freed.length > 0 : this.kind === "interior" ? m.live.some((b) => b.size > 8) : true;
  }
  apply(m: Model, r: Real): void {
    let addr: number;
    let want: (e: unknown) => boolean;
    if (this.kind === "double") {
      addr = m.freed[this.pick % m.freed.length]!;
      if (m.live.some((b) => b.addr === addr)) return; // reused since: not a double free
      want = (e) => e instanceof DoubleFreeError || e instanceof InvalidAddressError;
    } else if (this.kind === "interior") {
      const big = m.live.filter((b) => b.size > 8);
      const b = big[this.pick % big.length]!;
      addr = b.addr + 8 * (1 + (this.pick % Math.floor((b.size - 1) / 8)));
      want = (e) => e instanceof InvalidAddressError;
    } else {
      addr = [4, 2 ** 33, MAX_SIZE * 4, -8, 13][this.pick % 5]!;
      want = (e) => e instanceof InvalidAddressError;
    }
    const before = r.heap.u8.slice();
    assert.throws(() => r.heap.free(addr), want, `free(0x${addr.toString(16)}) must throw`);
    assert.ok(Buffer.compare(before, r.heap.u8) === 0, "a rejected free changed the image");
  }
  toString(): string {
    return `misuse(${this.kind}, ${this.pick})`;
  }
}

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 128 }) },
  { weight: 3, arbitrary: fc.integer({ min: 129, max: 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4097, max: 70_000 }) },
);
const pick = fc.nat({ max: 1 << 20 });
const commands = [
  fc.oneof(
    { weight: 40, arbitrary: fc.tuple(size, fc.integer({ min: 0, max: 9 })).map(([s, z]) => new Alloc(s, z === 0)) },
    { weight: 40, arbitrary: pick.map((p) => new Free(p)) },
    { weight: 12, arbitrary: fc.tuple(pick, size).map(([p, s]) => new Realloc(p, s)) },
    { weight: 1, arbitrary: fc.constant(new AttachCopy()) },
    { weight: 1, arbitrary: fc.constant(new Trim()) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("double", "interior", "outside") as fc.Arbitrary<"double" | "interior" | "outside">, pick).map(([k, p]) => new Misuse(k, p)) },
  ),
];

// The second thread: attaches to each heap it is sent (detaching from the
// last), allocates and frees blocks of the sizes the model uses, and tells
// the test it is done through word 0 of `ctl`.
// ctl: word 0 is 0 while the worker works, then 1 (done) or 2 (it threw:
// word 1 is the length of the error's text, UTF-8 from byte 8), so that an
// exception in the worker fails the test with its message instead of
// leaving the main thread to time out.
const CTL_BYTES = 4096;
if (!isMainThread) {
  const ctlBuffer = (workerData as { ctl: SharedArrayBuffer }).ctl;
  const ctl = new Int32Array(ctlBuffer);
  let heap: Heap | null = null;
  parentPort!.on("message", (m: { memory: WebAssembly.Memory; seed: number } | null) => {
    let state = 1;
    try {
      heap?.detach();
      heap = null;
      if (m !== null) {
        heap = Heap.attach(m.memory);
        let x = m.seed | 1;
        const blocks: number[] = [];
        for (let i = 0; i < 300; i++) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          blocks.push(heap.alloc((x >>> 0) % 600));
        }
        for (const b of blocks) heap.free(b);
      }
    } catch (e) {
      const text = new TextEncoder().encode(e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e));
      const n = Math.min(text.length, CTL_BYTES - 8);
      new Uint8Array(ctlBuffer, 8, n).set(text.subarray(0, n));
      ctl[1] = n;
      state = 2;
    }
    Atomics.store(ctl, 0, state);
    Atomics.notify(ctl, 0);
  });
}

// Runs model rounds until `target` commands ran; `newHeap` makes each run's heap.
function runModel(target: number, newHeap: () => Heap): void {
  let round = 0;
  const start = opsRun;
  while (opsRun - start < target) {
    const seed = (BASE_SEED + round++) >>> 0;
    console.log(`model round ${round}: seed ${seed} (replay: OFFHEAP_SEED=${BASE_SEED} OFFHEAP_MODEL_OPS=${TARGET_OPS}), ${opsRun - start} ops so far`);
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 2000, size: "max" }), (cmds) => {
        const setup = () => {
          const heap = newHeap();
          const s = heap.stats();
          return {
            model: { live: [], nextId: 1, allocs: s.allocs, frees: s.frees, requested: s.requestedBytes, freed: [] } as Model,
            real: { heap },
          };
        };
        fc.modelRun(setup, cmds);
      }),
      { seed, numRuns: 50 },
    );
  }
  console.log(`model: ${opsRun - start} operations checked`);
}

if (isMainThread) {
  test(`model: ${TARGET_OPS} random heap operations against a reference model`, { timeout: 30 * 60_000 }, () => {
    const start = opsRun;
    runModel(TARGET_OPS, () => new Heap({ initialSize: 64 << 10, maxSize: MAX_SIZE }));
    assert.ok(opsRun - start >= TARGET_OPS);
  });

  test(`model: ${SHARED_TARGET_OPS} operations on heaps another thread uses`, { timeout: 30 * 60_000 }, async () => {
    const ctl = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
    const worker = new Worker(new URL(import.meta.url), { workerData: { ctl: ctl.buffer } });
    // Sends the worker a heap (or null: detach) and waits until it is done with it.
    const send = (m: { memory: WebAssembly.Memory; seed: number } | null): void => {
      Atomics.store(ctl, 0, 0);
      worker.postMessage(m);
      // "not-equal" is an answer too: the worker may finish before this
      // thread reaches the wait (under load, this thread can be descheduled
      // right after postMessage). Only a word still 0 after 20 s is silence.
      const woke = Atomics.wait(ctl, 0, 0, 20_000);
      const state = Atomics.load(ctl, 0);
      if (state === 0) workerFailure = `the worker did not answer on heap ${n} (Atomics.wait returned "${woke}")`;
      if (state === 2) {
        const text = new TextDecoder().decode(new Uint8Array(ctl.buffer, 8, ctl[1]).slice());
        workerFailure = `the worker threw on heap ${n} (seed ${m?.seed}): ${text}`;
      }
      if (state !== 1) assert.fail(workerFailure);
    };
    // fast-check reports a throw in a model's setup without its message: this keeps it.
    let workerFailure = "";
    let n = 0;
    try {
      const start = opsRun;
      try {
        runModel(SHARED_TARGET_OPS, () => {
          const heap = new Heap({ initialSize: 64 << 10, maxSize: MAX_SIZE });
          send({ memory: heap.memory as WebAssembly.Memory, seed: BASE_SEED + n++ });
          return heap;
        });
      } catch (e) {
        if (workerFailure !== "") assert.fail(workerFailure);
        throw e;
      }
      assert.ok(opsRun - start >= SHARED_TARGET_OPS);
      send(null);
    } finally {
      await worker.terminate();
    }
  });
}
