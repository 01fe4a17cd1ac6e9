// One heap, many workers (DESIGN.md "Threads"): stress with 2, 4 and 8
// workers trading blocks, racing double frees, workers terminated anywhere,
// collections handed over by address, debug quarantines across threads.
// threads-attach.test.ts holds the memory objects, the handshake, thread ids
// and the Mutex; threads-harness.ts the seed, the watchdog and the helpers.
//
// Every run draws from one seed, printed in the suite's name; replay with
// OFFHEAP_SEED=<seed>. Given the seed, everything but thread scheduling is
// the same. OFFHEAP_THREADS_SCALE=<factor> scales the work (default 1).
//
// The worker scripts are plain .mjs files under test/threads/ that import the
// built package (dist/), so `npm run build` must have run; they share
// test/threads/common.mjs (patterns, record layout) with this file.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, heapSnapshot, InvalidAddressError } from "../src/index.js";
import { OffHeapArray, OffHeapMap } from "../src/collections/index.js";
import { hex, MIB } from "./helpers.js";
import { wasmCompareExchange } from "../src/heap/wasm-cas.js";
import { HDR_QUARANTINED } from "../src/heap/layout.js";
import {
  C, doing, endHeap, finish, freeSlots, makeHeap, nextMessage, REPLAY, SCALE, SEED, shared, sleep, spawn, watch, type Watched,
} from "./threads-harness.js";

describe(`threads (${REPLAY})`, () => {
  // A share of the 5,000,000 alloc+free operations the file promises; the
  // terminate test adds the rest.
  const STRESS_OPS = Math.round(2_000_000 * SCALE);

  for (const [k, workers] of [2, 4, 8].entries()) {
    test(`stress: ${workers} workers trade blocks through a slot array, some exit holding their slot, new ones start`, async (t) => {
      const seed = C.subSeed(SEED, 100 + k);
      const next = C.rng(seed);
      const heap = makeHeap();
      const slots = shared(256);
      const ctrl = shared(1);
      const total = workers * 3; // each running worker is replaced twice as it exits
      const rec = shared(C.REC_WORDS * total);
      const perWorker = STRESS_OPS / total; // iterations are about one alloc or free each
      const running = new Map<Watched, number>(); // worker -> its record's base
      const failures: unknown[] = [];
      const stats = { ops: 0, foreignFrees: 0, released: 0 };
      let spawned = 0;

      const launch = (): void => {
        const n = spawned++;
        const detach = next() < 0.75;
        const w = spawn("stress-worker.mjs", {
          memory: heap.memory, slots, rec, recBase: n * C.REC_WORDS, ctrl, seed: C.subSeed(seed, n),
          iterations: Math.round(perWorker * (0.5 + next())), detach,
        }, `stress worker #${n} (${detach ? "detaches" : "exits attached"})`);
        running.set(w, n * C.REC_WORDS);
        watch([...running].map(([x, base]) => [x.name, rec, base]));
        void w.exit.then(async () => {
          running.delete(w);
          const [result] = await finish([w], 1, () => "");
          stats.ops += result.ops;
          stats.foreignFrees += result.foreignFrees;
          // A worker that detached gave its slot back; one that did not keeps it until released.
          doing(`stress ${workers}: releaseThread(${w.threadId}) after ${w.name} exited`);
          assert.equal(heap.releaseThread(w.threadId), !detach, `releaseThread(${w.threadId}) of ${w.name}`);
          if (!detach) stats.released++;
          if (spawned < total) launch();
        }).catch((e) => failures.push(e));
      };
      for (let i = 0; i < workers; i++) launch();
      const deadline = Date.now() + 120_000;
      while ((running.size > 0 || spawned < total) && failures.length === 0) {
        if (Date.now() > deadline) {
          const report = [...running].map(([w, base]) => `${w.name}: ${C.describeRecord(rec, base)}`);
          await Promise.all([...running.keys()].map((w) => w.worker.terminate()));
          assert.fail(`stress with ${workers} workers did not finish in 120 s (${REPLAY}):\n${report.join("\n")}`);
        }
        await sleep(10);
      }
      if (failures.length > 0) {
        await Promise.all([...running.keys()].map((w) => w.worker.terminate()));
        throw failures[0];
      }
      for (let n = 0; n < total; n++) {
        assert.equal(rec[n * C.REC_WORDS + C.REC_HELD], 0, `worker #${n} ended holding blocks`);
      }
      const left = freeSlots(heap, slots, `stress ${workers}`);
      endHeap(heap, 0, `stress ${workers}`);
      t.diagnostic(`${workers} workers, ${total} in all: ${stats.ops} allocs+frees, ${stats.foreignFrees} frees of another worker's blocks, ` +
        `${left} blocks outlived their workers in the slot array, ${stats.released} threads released`);
    });
  }

  describe("racing double frees: of two frees of one block exactly one succeeds", () => {
    // On a shared WebAssembly.Memory the shared paths exchange with a WebAssembly instruction
    // (heap/wasm-cas.ts), on a SharedArrayBuffer with Atomics.compareExchange: both race here.
    // "realloc": racer 1 moves the block with realloc instead of freeing it. A realloc that lost
    // the race to the free used to throw after it had allocated and filled the new block, which
    // stayed allocated with nobody holding it (found by an acceptance run: up to 8 a run).
    for (const [allocBy, memory, realloc] of [["main", "wasm", false], ["racers", "wasm", false], ["racers", "sab", false], ["main", "wasm", true]] as const) {
      const who = `${allocBy === "main" ? "the main thread allocated every block" : "one of the two racers allocated each block"} (${memory === "wasm" ? "a shared WebAssembly.Memory" : "a SharedArrayBuffer"})` +
        (realloc ? ", one racer moving it with realloc" : "");
      test(who, async (t) => {
        const seed = C.subSeed(SEED, realloc ? 203 : allocBy === "main" ? 200 : memory === "wasm" ? 201 : 202);
        const rounds = Math.round(4000 * SCALE);
        const heap = memory === "wasm" ? makeHeap(256 * MIB) : new Heap({ memory: new SharedArrayBuffer(256 * MIB), initialSize: MIB });
        const blocks = shared(rounds);
        const reallocTo = realloc ? shared(rounds) : undefined;
        if (allocBy === "main") {
          const next = C.rng(seed);
          for (let r = 0; r < rounds; r++) {
            const size = C.drawSize(next);
            blocks[r] = heap.alloc(size);
            C.writePattern(heap, blocks[r]!, size);
            // A size of the other kind (small or large), so that realloc always moves the block.
            if (reallocTo !== undefined) reallocTo[r] = size > 32 * 1024 ? 16 : 40_000;
          }
        }
        const results = shared(2 * rounds);
        const ctrl = shared(2);
        const racers = [0, 1].map((role) =>
          spawn("race-worker.mjs", { memory: heap.memory, ctrl, blocks, results, role, seed, allocBy, reallocTo }, `racer ${role}`));
        const done = await finish(racers, 60_000, () => `round ${results.findIndex((v) => v === 0) >>> 1} of ${rounds}; barrier ${ctrl[0]}/${ctrl[1]}`);
        for (const d of done) assert.deepEqual(d.errors, [], "frees that threw something else");
        const bad: string[] = [];
        const tally = { doubleFree: 0, invalidAddress: 0, wonBy0: 0, wonBy1: 0 };
        for (let r = 0; r < rounds; r++) {
          const a = results[2 * r]!;
          const b = results[2 * r + 1]!;
          const loser = a === C.RES_OK ? b : a;
          if ((a === C.RES_OK) === (b === C.RES_OK) || (loser !== C.RES_DOUBLE_FREE && loser !== C.RES_INVALID_ADDRESS)) {
            if (bad.length < 10) bad.push(`round ${r}, block ${hex(blocks[r]!)}: racer 0 got ${a}, racer 1 got ${b}`);
            continue;
          }
          if (loser === C.RES_DOUBLE_FREE) tally.doubleFree++;
          else tally.invalidAddress++;
          if (a === C.RES_OK) tally.wonBy0++;
          else tally.wonBy1++;
        }
        assert.deepEqual(bad, [], `outcomes (1 ok, 2 DoubleFreeError, 3 InvalidAddressError, 4 other; ${REPLAY})`);
        endHeap(heap, 0, `double frees (${who})`);
        t.diagnostic(`${rounds} rounds: the loser got DoubleFreeError ${tally.doubleFree} times, InvalidAddressError ${tally.invalidAddress}; ` +
          `racer 0 won ${tally.wonBy0}, racer 1 ${tally.wonBy1}`);
      });
    }
  });

  test("check() while workers alloc and free: the others wait, so it never reports a change in flight as damage", async (t) => {
    // Their fast paths change their caches and granules without the lock;
    // before check() made them wait and looked again, about one check in a
    // hundred here threw HeapCorruptionError (S2, S3) on a sound heap.
    const seed = C.subSeed(SEED, 250);
    const heap = makeHeap(256 * MIB);
    const ctrl = shared(3);
    const workers = [0, 1, 2].map((n) => spawn("churn-worker.mjs", { memory: heap.memory, ctrl, seed: C.subSeed(seed, n) }, `churn worker ${n}`));
    for (const deadline = Date.now() + 30_000; Atomics.load(ctrl, 1) < workers.length;) {
      if (Date.now() > deadline) {
        Atomics.store(ctrl, 0, 1);
        await finish(workers, 10_000, () => "the churn workers did not start");
        assert.fail(`the churn workers did not all start (${REPLAY})`);
      }
      await sleep(1);
    }
    // At least 300 checks, while the workers make at least 2,000,000 operations (or for 30 s).
    const minChecks = Math.round(300 * Math.min(1, SCALE));
    const minOps = Math.round(2_000_000 * Math.min(1, SCALE));
    let checks = 0;
    try {
      for (const until = Date.now() + 30_000; (checks < minChecks || Atomics.load(ctrl, 2) * 256 < minOps) && Date.now() < until; checks++) {
        doing(`concurrent check() ${checks}`);
        heap.check();
        if (checks % 16 === 0) await sleep(1); // let the workers' messages and errors through
      }
    } finally {
      Atomics.store(ctrl, 0, 1);
    }
    const done = await finish(workers, 60_000, () => "the churn workers did not stop");
    endHeap(heap, 0, "concurrent check()");
    t.diagnostic(`${checks} checks while 3 workers made ${done.reduce((n, d) => n + d.ops, 0)} allocs and frees`);
  });

  test("terminate(): workers killed at random moments are released; the others finish; every block is accounted for", async (t) => {
    const seed = C.subSeed(SEED, 300);
    const next = C.rng(seed);
    const trials = Math.max(4, Math.round(30 * SCALE));
    const heap = makeHeap();
    const slots = shared(128);
    const tally = { ops: 0, kills: 0, released: 0, leaks: 0, candidatesLive: 0, pending: new Map<string, number>() };
    for (let trial = 0; trial < trials; trial++) {
      const ctrl = shared(1);
      const rec = shared(C.REC_WORDS * 4);
      const what = `trial ${trial}`;
      const start = (n: number): Watched => spawn("stress-worker.mjs", {
        memory: heap.memory, slots, rec, recBase: n * C.REC_WORDS, ctrl, seed: C.subSeed(seed, trial * 4 + n), iterations: -1, detach: true,
      }, `${what} worker #${n}`);
      const workers = [0, 1, 2].map(start);
      watch([0, 1, 2, 3].map((i) => [`${what} worker #${i}`, rec, i * C.REC_WORDS]));
      // Some kills land while the victim imports the package or attaches,
      // some after the others were told to stop (inside their last frees or detach).
      const early = next() < 0.25;
      const stopFirst = !early && next() < 0.2;
      if (early) await sleep(C.randInt(next, 0, 40));
      else {
        // Starting takes 50-200 ms here; time the kill from when all run their loops.
        for (let i = 0; i < 3000 && [0, 1, 2].some((i) => rec[i * C.REC_WORDS + C.REC_STATE]! < C.ST_ATTACHED); i++) await sleep(1);
        await sleep(C.randInt(next, 2, 60));
      }
      if (stopFirst) {
        Atomics.store(ctrl, 0, 1);
        await sleep(C.randInt(next, 0, 3));
      }
      const victims = next() < 0.25 ? [0, 1] : [C.randInt(next, 0, 2)];
      for (const v of victims) {
        const w = workers[v]!;
        if (await Promise.race([w.worker.terminate().then(() => false), sleep(10_000).then(() => true)])) {
          w.worker.unref(); // so that the failed run can still exit
          assert.fail(`${what}: terminate() of ${w.name} did not finish in 10 s; it was ${C.describeRecord(rec, v * C.REC_WORDS)} (${REPLAY})`);
        }
        const state = rec[v * C.REC_WORDS + C.REC_STATE]!;
        doing(`${what}: releaseThread(${w.threadId}) of ${w.name}, killed ${C.describeRecord(rec, v * C.REC_WORDS)}`);
        let released: boolean;
        try {
          released = heap.releaseThread(w.threadId);
        } catch (e) {
          assert.fail(`${what}: releaseThread(${w.threadId}) of ${w.name}, killed ${C.describeRecord(rec, v * C.REC_WORDS)}, threw (${REPLAY}): ${(e as Error).stack}`);
        }
        // Attached and not inside detach(): the thread holds a slot. Before
        // attach returned or inside detach, either answer is right.
        if (state === C.ST_ATTACHED || state === C.ST_ENDING) assert.equal(released, true, `${w.name} killed ${C.describeRecord(rec, v * C.REC_WORDS)}`);
        if (state === C.ST_DETACHED || state === C.ST_DONE) assert.equal(released, false, `${w.name} killed after detach`);
        if (released) tally.released++;
        tally.kills++;
        const kind = C.PK_NAMES[rec[v * C.REC_WORDS + C.REC_PEND_KIND]!]!;
        tally.pending.set(kind, (tally.pending.get(kind) ?? 0) + 1);
      }
      // A newcomer may take a released slot while the survivors still run.
      workers.push(start(3));
      await sleep(C.randInt(next, 10, 40));
      Atomics.store(ctrl, 0, 1);
      const survivors = workers.filter((_, i) => !victims.includes(i));
      const results = await finish(survivors, 30_000, () =>
        workers.map((w, i) => `${w.name}${victims.includes(i) ? " (killed)" : ""}: ${C.describeRecord(rec, i * C.REC_WORDS)}`).join("\n"));
      for (const r of results) tally.ops += r.ops;
      const found = accountAfterKills(heap, slots, rec, workers.length, victims, what);
      tally.leaks += found.leaks;
      tally.candidatesLive += found.candidatesLive;
      doing(`${what}: check() after accounting`);
      heap.check();
      assert.equal(heap.stats().liveBlocks, 0, `${what}: liveBlocks after freeing every block accounted for (${REPLAY})`);
    }
    endHeap(heap, 0, "terminate");
    t.diagnostic(`${trials} trials, ${tally.kills} kills (${tally.released} released with a slot); killed in: ` +
      `${[...tally.pending].map(([k, n]) => `${k} ${n}`).join(", ")}; ${tally.candidatesLive} blocks a killed worker was giving up were still live, ` +
      `${tally.leaks} blocks leaked by an interrupted allocation; ${tally.ops} allocs+frees by the survivors`);
  });

  test("hand-off by address: a worker's OffHeapMap and OffHeapArray are opened and read in place by the main thread", async () => {
    const seed = C.subSeed(SEED, 400);
    const entries = Math.round(20_000 * SCALE);
    const heap = makeHeap();
    const w = spawn("handoff-worker.mjs", { memory: heap.memory, seed, entries }, "hand-off worker");
    const { map: mapAddr, array: arrayAddr } = await nextMessage(w, 0);
    const map = OffHeapMap.open(heap, mapAddr, { key: "string", value: "f64" });
    const array = OffHeapArray.open(heap, arrayAddr, "u32");
    assert.equal(map.size, entries);
    assert.equal(array.length, entries);
    for (let i = 0; i < entries; i++) {
      const e = C.handoffEntry(seed, i);
      if (map.get(e.key) !== e.value) assert.fail(`map.get(${e.key}) is ${map.get(e.key)}, the worker set ${e.value}`);
      if (array.get(i) !== e.element) assert.fail(`array.get(${i}) is ${array.get(i)}, the worker pushed ${e.element}`);
    }
    map.check();
    array.check();
    // Writes by this thread reach the worker through the same blocks.
    map.set("from-main", 42.5);
    array.push(777);
    w.worker.postMessage({ key: "from-main" });
    const [seen] = await finish([w], 30_000, () => `${w.name} did not answer`);
    assert.deepEqual(seen, { fromMain: 42.5, length: entries + 1, last: 777 });
    map.dispose();
    array.dispose();
    endHeap(heap, 0, "hand-off");
  });

  test("a thread's Heaps on one image switch paths together: none runs the plain paths while another thread uses the heap", async (t) => {
    // Heaps of one thread on one image share its slot and its caches' traps. The first to take
    // its trap switched alone and took the traps away, and the others went on with the plain
    // paths, whose bitmap stores can undo another thread's exchange on the same word.
    const heap = makeHeap();
    const sibling = Heap.attach(heap.memory);
    sibling.free(sibling.alloc(8));
    heap.free(heap.alloc(8));
    const w = spawn("attach-worker.mjs", { memory: heap.memory }, "attaching worker");
    t.after(() => w.worker.terminate()); // on a failure, the worker waits for a message that never comes
    await nextMessage(w, 0);
    heap.free(heap.alloc(8)); // its trap: this Heap switches to the shared paths
    assert.equal(heap.sharedMode, true, "the Heap that took the trap");
    assert.equal(heap.casWord, wasmCompareExchange(heap.memory), "its exchange is the WebAssembly instruction");
    assert.equal(sibling.sharedMode, true, "the other Heap on the same image");
    assert.equal(sibling.alloc, heap.alloc);
    assert.equal(sibling.free, heap.free);
    // A Heap that joins the slot now runs the shared paths, as do the others.
    const late = Heap.attach(heap.memory);
    assert.equal(late.sharedMode, true);
    w.worker.postMessage("detach");
    assert.equal(await nextMessage(w, 1), "detached");
    await w.exit;
    sibling.stats(); // a slow path: the last thread left goes back to the plain paths, every Heap of it
    for (const [name, h] of [["heap", heap], ["sibling", sibling], ["late", late]] as const) {
      assert.equal(h.sharedMode, false, `${name} is back on the plain paths`);
      assert.equal(h.alloc, Heap.prototype.alloc, name);
    }
    late.detach();
    sibling.detach();
    endHeap(heap, 0, "siblings");
  });

  test("a debug worker's quarantine stays its own while other threads attach, and releaseThread releases it when it is gone", async (t) => {
    // Every Heap.attach released (or, in debug mode, adopted) every block waiting in any
    // quarantine, the running debug worker's too: its blocks were allocated to others while it
    // still watched them for writes after free, and it then reported false D2 damage. Found by an
    // acceptance run. A quarantined block's trailer now names the slot of the Heap that holds it.
    const heap = makeHeap();
    const count = 50;
    const debug = spawn("quarantine-worker.mjs", { memory: heap.memory, count }, "debug worker");
    t.after(() => debug.worker.terminate()); // on a failure, it waits for messages that never come
    const { blocks } = await nextMessage(debug, 0);
    assert.equal(heap.u32[HDR_QUARANTINED], count, "the debug worker's quarantine");
    const plain = spawn("attach-worker.mjs", { memory: heap.memory }, "plain worker");
    t.after(() => plain.worker.terminate());
    await nextMessage(plain, 0);
    const mine = Heap.attach(heap.memory, { debug: true }); // a debug Heap of this thread: it adopts none of them either
    assert.equal(heap.u32[HDR_QUARANTINED], count, "attaching took none of them");
    debug.worker.postMessage("verify");
    assert.deepEqual(await nextMessage(debug, 1), { ok: true, error: null });
    for (const b of blocks) assert.throws(() => heap.free(b), DoubleFreeError, "not allocated to anyone else");
    await debug.worker.terminate();
    assert.equal(heap.releaseThread(debug.threadId), true);
    assert.equal(heap.u32[HDR_QUARANTINED], 0, "releaseThread released the dead worker's quarantine");
    plain.worker.postMessage("detach");
    assert.equal(await nextMessage(plain, 1), "detached");
    await plain.exit;
    mine.detach();
    endHeap(heap, 0, "a debug worker's quarantine");
  });

  test("a debug Heap that adopts a dead worker's quarantine by releaseThread keeps it within its own quarantineBytes", async (t) => {
    // It adopted all of it and held it past its bound until its next free (found by a probe helper).
    const heap = makeHeap();
    const count = 50; // 50 blocks of 40,000 bytes: about 2 MB in the worker's 64 MiB quarantine
    const debug = spawn("quarantine-worker.mjs", { memory: heap.memory, count }, "debug worker");
    t.after(() => debug.worker.terminate());
    await nextMessage(debug, 0);
    const limit = 400_000;
    const mine = Heap.attach(heap.memory, { debug: { quarantineBytes: limit } });
    await debug.worker.terminate();
    assert.equal(mine.releaseThread(debug.threadId), true);
    const kept = heap.u32[HDR_QUARANTINED]!;
    assert.ok(kept > 0 && kept * 40_000 <= limit, `${kept} blocks kept in a quarantine of ${limit} bytes`);
    assert.ok(mine.stats().quarantinedBytes <= limit, `${mine.stats().quarantinedBytes} quarantined bytes`);
    mine.check();
    mine.detach();
    endHeap(heap, 0, "an adopted quarantine");
  });
});

/**
 * After a terminate trial (every worker gone): frees every block the slot
 * array and the killed workers' records hold, verifying the complete ones,
 * then settles the one operation each killed worker was inside.
 *
 * A killed worker's announced operation leaves at most one block in doubt:
 * the block it was giving up (free, realloc, exchange: its address is in the
 * record; it is freed here if still live) and the block it was getting
 * (alloc, calloc, realloc: the address never came back, so a live block of
 * that request's usable size may remain; exchange: a patterned block). Those
 * are found with heapSnapshot and sizeOf; any other live block fails.
 * Returns the counts of each.
 */
function accountAfterKills(heap: Heap, slots: Int32Array, rec: Int32Array, n: number, victims: number[], what: string) {
  doing(`${what}: freeing every block accounted for`);
  const known = new Map<number, string>();
  const hold = (a: number, where: string) => {
    const other = known.get(a);
    if (other !== undefined) assert.fail(`${what}: block ${hex(a)} is held twice, by ${other} and by ${where} (${REPLAY})`);
    known.set(a, where);
  };
  const checked = new Set<number>();
  for (let j = 0; j < slots.length; j++) {
    if (slots[j] === 0) continue;
    hold(slots[j]!, `slot ${j}`);
    checked.add(slots[j]!);
    slots[j] = 0;
  }
  const giving: { addr: number; kind: number; who: string }[] = [];
  const getting: { usable: number; patterned: boolean; who: string }[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * C.REC_WORDS;
    const who = `worker #${i} (${C.describeRecord(rec, base)})`;
    if (!victims.includes(i)) {
      assert.equal(rec[base + C.REC_STATE], C.ST_DONE, `${what}: ${who}`);
      assert.equal(rec[base + C.REC_HELD], 0, `${what}: ${who} ended holding blocks`);
      continue;
    }
    const mine = new Set<number>(); // freeEntry's move can leave one entry twice
    for (let e = 0; e < C.HOLD; e++) {
      const entry = rec[base + C.REC_TABLE + e]!;
      const a = entry & ~1;
      if (a === 0 || mine.has(a)) continue;
      mine.add(a);
      hold(a, `killed ${who}`);
      if (entry & 1) checked.add(a);
    }
    const kind = rec[base + C.REC_PEND_KIND]!;
    if (kind === C.PK_FREE || kind === C.PK_REALLOC || kind === C.PK_XCHG) giving.push({ addr: rec[base + C.REC_PEND_ADDR]!, kind, who });
    if (kind === C.PK_ALLOC || kind === C.PK_CALLOC || kind === C.PK_REALLOC) {
      // The usable size a request of this size gets, asked of the heap itself.
      const p = heap.alloc(rec[base + C.REC_PEND_SIZE]!);
      getting.push({ usable: heap.sizeOf(p), patterned: false, who });
      heap.free(p);
    }
    if (kind === C.PK_XCHG) getting.push({ usable: -1, patterned: true, who });
  }
  for (const [a, where] of known) {
    if (checked.has(a)) C.verifyPattern(heap, a, `${what}: ${where}`);
    heap.free(a);
  }
  let candidatesLive = 0;
  for (const g of giving) {
    if (known.has(g.addr)) continue; // it moved on before the kill (into a slot, or freed and allocated again)
    try {
      heap.sizeOf(g.addr);
    } catch (e) {
      if (e instanceof InvalidAddressError || e instanceof DoubleFreeError) continue; // the free got through
      throw e;
    }
    if (g.kind === C.PK_XCHG) C.verifyPattern(heap, g.addr, `${what}: block ${g.who} was handing off`);
    heap.free(g.addr);
    candidatesLive++;
  }
  // Whatever is still live must be a block an interrupted call was getting.
  let leaks = 0;
  if (heap.stats().liveBlocks > 0) {
    const snap = heapSnapshot(heap);
    for (const s of snap.spans) {
      const addrs: number[] = [];
      if (s.kind === "large") addrs.push(s.startPage * snap.pageSize);
      else if (s.kind === "small" && s.liveObjects > 0) for (let k = 0; k < s.objects; k++) addrs.push(s.startPage * snap.pageSize + k * s.objectSize);
      for (const a of addrs) {
        let usable: number;
        try {
          usable = heap.sizeOf(a);
        } catch {
          continue;
        }
        const match = getting.findIndex((g) => (g.patterned ? patternOk(heap, a) : g.usable === usable));
        if (match < 0) {
          assert.fail(`${what}: live block ${hex(a)} (${usable} usable bytes) that no record explains; interrupted calls: ` +
            `${JSON.stringify(getting)} (${REPLAY})`);
        }
        getting.splice(match, 1);
        heap.free(a);
        leaks++;
      }
    }
  }
  return { leaks, candidatesLive };
}

function patternOk(heap: Heap, a: number): boolean {
  try {
    C.verifyPattern(heap, a, "");
    return true;
  } catch {
    return false;
  }
}
