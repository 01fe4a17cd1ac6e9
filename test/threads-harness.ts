// What the threads tests share (threads.test.ts, threads-attach.test.ts):
// the seed, the watchdog that reports a main thread hung in a heap call, and
// the helpers that spawn worker scripts (test/threads/*.mjs, which import
// the built package: \`npm run build\` must have run) and wait for them.
// Each test file runs in its own process, with its own watchdog.
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { Heap, OffheapTypeError } from "../src/index.js";
import type * as Common from "./threads/common.mjs";
import { MIB } from "./helpers.js";

export const THREADS = new URL("../../test/threads/", import.meta.url);
export const C = (await import(new URL("common.mjs", THREADS).href)) as typeof Common;
export const SEED = Number(process.env.OFFHEAP_SEED ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
export const SCALE = Number(process.env.OFFHEAP_THREADS_SCALE ?? 1);
export const REPLAY = `seed ${SEED}, replay: OFFHEAP_SEED=${SEED}`;
export const shared = (words: number) => new Int32Array(new SharedArrayBuffer(4 * words));

// The watchdog (watchdog.mjs) reports and ends a run whose main thread hangs
// in a heap call; `doing` names the call, `watch` the records to print.
const beat = shared(2);
const label = new Uint8Array(new SharedArrayBuffer(800));
const watchdog = new Worker(new URL("watchdog.mjs", THREADS), { workerData: { beat, label, limitMs: 30_000, replay: REPLAY } });
watchdog.unref();
setInterval(() => Atomics.add(beat, 0, 1), 100).unref();
export function doing(what: string): void {
  Atomics.store(beat, 1, new TextEncoder().encodeInto(what.slice(0, 200), label).written);
}
export function watch(records: [string, Int32Array, number][]): void {
  watchdog.postMessage({ records });
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** A worker under watch: its messages, and its exit with any error it threw. */
export interface Watched {
  worker: Worker;
  name: string;
  /** The worker's threadId, kept: worker.threadId reads -1 once it has exited. */
  threadId: number;
  messages: unknown[];
  /** Resolves at exit with the exit code and the error the worker threw, if any. */
  exit: Promise<{ code: number; error: Error | null }>;
}

export function spawn(script: string, workerData: Record<string, unknown>, name: string): Watched {
  const worker = new Worker(new URL(script, THREADS), { workerData });
  const messages: unknown[] = [];
  let error: Error | null = null;
  worker.on("message", (m) => messages.push(m));
  worker.on("error", (e) => (error = e));
  const exit = new Promise<{ code: number; error: Error | null }>((done) => worker.once("exit", (code) => done({ code, error })));
  return { worker, name, threadId: worker.threadId, messages, exit };
}

/** The next message of a watched worker; fails if it exits first. */
export async function nextMessage(w: Watched, index: number): Promise<any> {
  while (w.messages.length <= index) {
    const r = await Promise.race([w.exit, sleep(5).then(() => null)]);
    if (r !== null && w.messages.length <= index) assert.fail(`${w.name} exited (code ${r.code}) before message ${index}: ${r.error?.stack ?? "no error"}`);
  }
  return w.messages[index];
}

/**
 * Waits for every worker to exit cleanly (code 0, no error, a last message),
 * at most `ms` milliseconds; on timeout terminates them and fails with
 * `diagnose()` (what each was doing), since a hang is the failure here.
 */
export async function finish(workers: Watched[], ms: number, diagnose: () => string): Promise<any[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((done) => (timer = setTimeout(() => done("timeout"), ms)));
  const all = Promise.all(workers.map((w) => w.exit));
  const r = await Promise.race([all, timeout]);
  clearTimeout(timer);
  if (r === "timeout") {
    const report = diagnose();
    await Promise.all(workers.map((w) => w.worker.terminate()));
    assert.fail(`workers did not finish within ${ms} ms (${REPLAY}):\n${report}`);
  }
  return workers.map((w, i) => {
    const { code, error } = r[i]!;
    if (error !== null) assert.fail(`${w.name} threw (${REPLAY}): ${error.stack ?? String(error)}`);
    if (code !== 0 || w.messages.length === 0) assert.fail(`${w.name} exited with code ${code} and ${w.messages.length} messages (${REPLAY})`);
    return w.messages[w.messages.length - 1];
  });
}

/** A heap for one test, made on the main thread (thread 0). */
export function makeHeap(maxSize = 512 * MIB): Heap {
  const heap = new Heap({ maxSize, initialSize: MIB });
  assert.equal(heap.threadId, 0);
  return heap;
}

/** Verifies and frees every block left in the slot array; returns how many there were. */
export function freeSlots(heap: Heap, slots: Int32Array, what: string): number {
  doing(`${what}: freeing the blocks left in the slot array`);
  let n = 0;
  for (let j = 0; j < slots.length; j++) {
    const a = slots[j]!;
    if (a === 0) continue;
    C.verifyPattern(heap, a, `${what}: slot ${j}`);
    heap.free(a);
    slots[j] = 0;
    n++;
  }
  return n;
}

/** Allocates 100 blocks of 16 to 115 bytes and fills each with its pattern. */
export function writeBlocks(heap: Heap): number[] {
  return Array.from({ length: 100 }, (_, i) => {
    const a = heap.alloc(16 + i);
    C.writePattern(heap, a, 16 + i);
    return a;
  });
}

/** Verifies and frees the blocks of writeBlocks. */
export function freeBlocks(heap: Heap, blocks: number[]): void {
  blocks.forEach((a, i) => {
    assert.equal(C.verifyPattern(heap, a, `block ${i}`), 16 + i);
    heap.free(a);
  });
}

/** Ends a test: the heap passes check(), holds `live` blocks, and the main thread detaches. */
export function endHeap(heap: Heap, live: number, what: string): void {
  doing(`${what}: check(), stats() and detach() at the end`);
  heap.check();
  assert.equal(heap.stats().liveBlocks, live, `liveBlocks (${REPLAY})`);
  heap.detach();
  assert.throws(() => heap.alloc(8), OffheapTypeError);
}
