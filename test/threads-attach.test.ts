// One heap reaching threads as memory objects (DESIGN.md "Threads"): a heap
// given to a thread twice, sent away and back, attached past MAX_SLOTS
// messages, workers attaching and detaching at random; the handshake of an
// idle thread; thread ids; and a Mutex under 4 workers. threads.test.ts
// holds the stress tests, terminated workers and the hand-off of
// collections; threads-harness.ts the seed, the watchdog and the helpers.
//
// Replay with OFFHEAP_SEED=<seed> (printed in the suite's name).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import { Heap, Mutex } from "../src/index.js";
import { MIB } from "./helpers.js";
import { MAX_SLOTS, SL_THREAD, slotWord } from "../src/heap/layout.js";
import {
  C, doing, endHeap, finish, freeBlocks, makeHeap, nextMessage, REPLAY, SCALE, SEED, spawn, THREADS, writeBlocks,
} from "./threads-harness.js";

describe(`threads: memory objects, handshake, ids, Mutex (${REPLAY})`, () => {
  // A memory posted to a thread arrives as a new object each time (structured clone).
  test("a thread given one heap as two memory objects: each Heap keeps working when the other detaches", async () => {
    // Two objects over the same bytes looked like two images: the second Heap's detach() gave
    // back the slot whose caches the first still used (check: S3), and a path switch by one
    // left the other on the plain paths.
    const heap = makeHeap();
    heap.free(heap.alloc(8));
    const w = spawn("alias-worker.mjs", { mode: "twice", memory: heap.memory }, "worker given the heap twice");
    w.worker.postMessage({ memory: heap.memory });
    const [done] = await finish([w], 30_000, () => `${w.name} did not finish`);
    assert.deepEqual(done, { blocks: 400 });
    heap.free(heap.alloc(8)); // the worker's attach put the heap in shared mode; a slow path leaves it
    endHeap(heap, 0, "two objects");
  });

  test("this thread's heap sent away and back: the Heap on the returned object joins the first one's slot, and either may detach", async (t) => {
    const heap = makeHeap();
    const kept = writeBlocks(heap);
    const w = spawn("alias-worker.mjs", { mode: "echo" }, "echoing worker");
    t.after(() => w.worker.terminate());
    w.worker.postMessage(heap.memory);
    const back = (await nextMessage(w, 0)) as WebAssembly.Memory;
    assert.notEqual(back, heap.memory, "a new object over the same bytes");
    const other = Heap.attach(back);
    assert.equal(other.slot, heap.slot, "one thread, one image, one slot");
    assert.equal(other.sharedMode, false);
    const blocks = Array.from({ length: 100 }, () => other.alloc(40));
    for (const a of blocks) heap.free(a); // blocks of either Heap are the image's
    other.detach(); // its slot stays: heap is still on it
    freeBlocks(heap, kept);
    endHeap(heap, 0, "sent and back");
  });

  test("a heap whose memory the program never read, sent away and back: the Heap on the returned object takes a slot of its own, and both run the shared paths meanwhile", async (t) => {
    // Only heap's own code can do this (memoryObject does not list the memory): no probe finds heap.
    const heap = makeHeap();
    const kept = writeBlocks(heap);
    const w = spawn("alias-worker.mjs", { mode: "echo" }, "echoing worker");
    t.after(() => w.worker.terminate());
    w.worker.postMessage(heap.memoryObject);
    const other = Heap.attach((await nextMessage(w, 0)) as WebAssembly.Memory);
    assert.notEqual(other.slot, heap.slot);
    assert.equal(other.sharedMode, true);
    heap.free(heap.alloc(8)); // its trap
    assert.equal(heap.sharedMode, true, "heap switched at its next call");
    const blocks = Array.from({ length: 100 }, () => other.alloc(40));
    for (const a of blocks) heap.free(a);
    // other's memory is listed (the program passed it in): a third object joins other's slot.
    w.worker.postMessage(heap.memoryObject);
    const third = Heap.attach((await nextMessage(w, 1)) as WebAssembly.Memory);
    assert.equal(third.slot, other.slot);
    third.detach();
    other.detach();
    heap.stats(); // a slow path: the thread's last slot goes back to the plain paths
    assert.equal(heap.sharedMode, false);
    freeBlocks(heap, kept);
    endHeap(heap, 0, "unlisted sent and back");
  });

  test("a worker that attaches to each memory it is sent and never detaches holds one slot, past MAX_SLOTS messages", async () => {
    // Its dropped Heaps are either still listed (the probe matches them) or collected (their slot
    // is an orphan to take over): a slot per message would run out after MAX_SLOTS.
    const heap = makeHeap();
    const w = new Worker(new URL("alias-worker.mjs", THREADS), { workerData: { mode: "each" } });
    const threadId = w.threadId;
    const messages = MAX_SLOTS + 20;
    const died = new Promise<never>((_, fail) => w.once("error", fail));
    died.catch(() => {}); // awaited in the race below
    try {
      for (let i = 1; i <= messages; i++) {
        const reply = new Promise<unknown>((done) => w.once("message", done));
        w.postMessage({ memory: heap.memory });
        assert.deepEqual(await Promise.race([reply, died]), { attached: i });
      }
      let slots = 0;
      for (let k = 0; k < MAX_SLOTS; k++) if (heap.u32[slotWord(k) + SL_THREAD] === threadId + 1) slots++;
      assert.equal(slots, 1, "the worker's slots");
    } finally {
      await w.terminate();
    }
    assert.equal(heap.releaseThread(threadId), true);
    heap.free(heap.alloc(8));
    endHeap(heap, 0, "attach per message");
  });

  test("3 workers attach and detach at random through the memory objects they are sent, while this thread allocates: every block survives", async () => {
    // Each message makes a new object over the same bytes; Heaps through any of them are one
    // thread's on one image, and blocks one allocates another verifies and frees.
    const heap = makeHeap();
    const workers = [0, 1, 2].map((i) => spawn("alias-worker.mjs", { mode: "random", memory: heap.memory, seed: C.subSeed(SEED, 300 + i) }, `random attacher ${i}`));
    const answered = workers.map(() => 0);
    const mine: number[] = [];
    const next = C.rng(C.subSeed(SEED, 299));
    const work = setInterval(() => {
      doing("random attachers: the main thread's allocations");
      workers.forEach((w, i) => {
        for (; answered[i]! < w.messages.length && w.messages[answered[i]!] === "more"; answered[i]!++) w.worker.postMessage({ memory: heap.memory });
      });
      for (let i = 0; i < 500; i++) {
        if (mine.length > 300) {
          const a = mine.splice(C.randInt(next, 0, mine.length - 1), 1)[0]!;
          C.verifyPattern(heap, a, "a block of the main thread");
          heap.free(a);
        }
        const size = C.randInt(next, 8, 600);
        const a = heap.alloc(size);
        C.writePattern(heap, a, size);
        mine.push(a);
      }
    }, 1);
    try {
      const done = await finish(workers, 60_000, () => workers.map((w) => `${w.name}: ${w.messages.length} messages`).join("\n"));
      for (const d of done) assert.equal(d.steps, 400);
      assert.ok(done.some((d) => d.objects > 5), `objects per worker: ${done.map((d) => d.objects).join(", ")}`);
    } finally {
      clearInterval(work);
    }
    for (const a of mine) {
      C.verifyPattern(heap, a, "a block of the main thread");
      heap.free(a);
    }
    for (const w of workers) assert.equal(heap.releaseThread(w.threadId), false, `${w.name} detached every Heap: it holds no slot`);
    endHeap(heap, 0, "random attachers");
  });

  test("an idle thread answers a new thread's handshake: Heap.attach does not wait out the 100 ms it gives a running thread", async (t) => {
    // This thread waits for events while each worker attaches (nextMessage sleeps): it runs no heap
    // code, and answers from its event loop (heap/handshake.ts). Unanswered, an attach takes 100 ms.
    const heap = makeHeap();
    heap.free(heap.alloc(8));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const w = spawn("attach-worker.mjs", { memory: heap.memory }, `attaching worker ${i}`);
      t.after(() => w.worker.terminate());
      times.push((await nextMessage(w, 0)).attachMs);
      assert.equal(heap.sharedMode, false, "answered from the event loop, the Heap switches at its next call");
      heap.free(heap.alloc(8));
      assert.equal(heap.sharedMode, true);
      w.worker.postMessage("detach");
      await nextMessage(w, 1);
      await w.exit;
      heap.stats(); // a slow path: the one thread left goes back to the plain paths
      assert.equal(heap.sharedMode, false);
    }
    assert.ok(Math.min(...times) < 80, `Heap.attach took ${times.map((ms) => ms.toFixed(1)).join(", ")} ms`);
    endHeap(heap, 0, "idle answer");
  });

  test("the handshake listener keeps no process alive: one whose main thread made a Heap ends when its work does", () => {
    const dist = new URL("../../dist/index.js", import.meta.url).href;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e",
      `import { Heap } from ${JSON.stringify(dist)}; const heap = new Heap(); heap.free(heap.alloc(8)); ` +
      `await new Promise((done) => setTimeout(done, 50)); console.log("done");`], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.error, undefined, "the process ended by itself");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "done");
  });

  test("thread ids: the main thread's is 0 without loading node:worker_threads; a worker's Heap takes its threadId", async () => {
    // A process whose code never loaded worker_threads: its main thread's Heap must not load it (3-5 ms) to learn its id.
    const dist = new URL("../../dist/index.js", import.meta.url).href;
    const main = spawnSync(process.execPath, ["--input-type=module", "-e",
      `import { Heap } from ${JSON.stringify(dist)}; const id = new Heap().threadId; ` +
      `console.log(JSON.stringify({ id, loaded: process.moduleLoadList.includes("NativeModule worker_threads") }));`], { encoding: "utf8" });
    assert.equal(main.status, 0, main.stderr);
    assert.deepEqual(JSON.parse(main.stdout), { id: 0, loaded: false });
    for (let k = 0; k < 2; k++) {
      const w = spawn("id-worker.mjs", {}, `id worker ${k}`);
      const { heapThreadId, threadId } = await nextMessage(w, 0);
      assert.equal(threadId, w.threadId);
      assert.equal(heapThreadId, threadId, "the worker's Heap has the worker's threadId");
      assert.notEqual(heapThreadId, 0);
      await w.exit;
    }
  });

  test("Mutex: 4 workers increment one counter 100,000 times each under lock(), its Disposable and tryLock()", async () => {
    const rounds = Math.round(100_000 * SCALE);
    const heap = makeHeap(64 * MIB);
    const m = new Mutex(heap);
    {
      using _held = m.lock();
      assert.equal(m.tryLock(), false, "tryLock of a held mutex");
    }
    assert.equal(m.tryLock(), true, "tryLock after the Disposable unlocked");
    m.unlock();
    const counter = heap.calloc(8);
    const workers = [1, 2, 3, 4].map((id) =>
      spawn("mutex-worker.mjs", { memory: heap.memory, mutex: m.address, counter, rounds, id }, `mutex worker ${id}`));
    const done = await finish(workers, 60_000, () => `counter ${heap.u32[counter >>> 2]} of ${4 * rounds}`);
    assert.deepEqual(done.map((d) => d.overlaps), [0, 0, 0, 0], "critical sections that overlapped");
    assert.equal(heap.u32[counter >>> 2], 4 * rounds);
    heap.free(counter);
    m.free();
    endHeap(heap, 0, "Mutex");
  });
});
