// The collector's helper thread (CollectorOptions.concurrent): a worker that
// marks while the program runs, over the heap's shared WebAssembly.Memory,
// with the same WebAssembly scan as the program's thread (wasm/marker.ts,
// MARK set by a test-and-set on both sides while it exists).
//
// The helper owns a gray stack of its own, in a heap block the directory
// keeps (DIR_HELPER): HELPER_BYTES, laid out as the marker's workspace
// (gc-mark.ts), with the words below in its free header. Its state word
// says who may touch the rest of the block:
//
//   H_STARTING  the worker is not up yet: the block is the program's
//   H_IDLE      the worker sleeps (Atomics.wait): the program's. It may take
//               the entries the helper left (it stopped with a full stack,
//               or was asked to stop), give it entries of its own, and set
//               H_RUN
//   H_RUN       the worker's: it scans until its stack is empty, nearly
//               full, or H_STOP is set, then writes its sp and counts and
//               goes back to H_IDLE
//   H_EXIT      the program asks the worker to end (dispose)
//   H_FAILED    the worker caught an error while scanning (a damaged
//               image): what it held is lost
//   H_HELD      the program holds the image still (check(), Heap.save)
//               and the worker is not up yet: it comes up (its one write
//               outside H_RUN, H_STARTING -> H_IDLE) only once the
//               program's next step has set H_STARTING again. Without it,
//               a worker slow to start changed the image under a save or
//               a check's caller (a fuzz run caught it)
//
// Nothing else is shared: the program never waits for the helper in a step.
// Marking ends in a step that finds its own gray stack empty and the helper
// idle with none (the program does not run during the step, so nothing can
// turn a block gray). The write barrier and gc.alloc's allocate-black set
// MARK with Atomics.or while a helper exists, and the chunk table is sized
// for the largest cover before the helper starts, so it never moves.
//
// If the worker dies (terminated, or an error outside the scan) while it
// held work, the blocks it had popped but not scanned are black with
// unmarked children: the program learns it from the worker's "exit" event
// (a web worker's "error"), abandons the cycle (clears every MARK) and
// starts it again with a new helper. That event is the only sign of death
// it trusts: a helper that is merely slow (more threads than cores) is
// waited for, never written over; only after STOP_TIMEOUT_MS of waiting in
// check(), collect() or dispose() is it given up (WorkerTimeoutError, or
// its block left to it for good).
//
// Workers: Node's worker_threads (its source text eval'd, unref'd), or a
// browser's Worker from a blob: URL; the program's thread spins instead of
// Atomics.wait where it may not block (a page's main thread).

import type { Heap } from "../heap/heap.js";
import * as L from "./gc-layout.js";
import type { GcSpace } from "./gc-space.js";

// Header words of the helper's block (free in the marker's workspace layout: gc-mark.ts).
const H_STATE = 48;
const H_STOP = 49;
const H_SP = 50;
const H_BLOCKS = 52;
const H_BYTES = 53;
/** The token of the worker the block belongs to: a worker that finds another one there has been replaced, and ends. */
const H_OWNER = 54;
export const H_STARTING = 0;
export const H_IDLE = 1;
export const H_RUN = 2;
export const H_EXIT = 3;
export const H_FAILED = 4;
export const H_HELD = 5;
/** Units of work of one scan call of the helper between its looks at H_STOP (about 50-150 us). */
const HELPER_UNITS = 8192;
/** How long dispose() and check() wait for a running helper to stop before they give up (it is far longer than a scan call). */
const STOP_TIMEOUT_MS = 10_000;
/** Owner tokens (H_OWNER): one per worker this thread starts. */
let nextOwner = (Math.random() * 2 ** 30) | 0;

/** What the worker gets: the scan module and memory, and word indexes. */
interface HelperData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  hw: number;
  owner: number;
  dir: number;
  descW: number;
  capacity: number;
  room: number;
  units: number;
  words: { owner: number; state: number; stop: number; sp: number; blocks: number; bytes: number; sliceEnd: number; blocksDone: number; bytesDone: number; chunks: number; cover: number; base: number };
  states: { starting: number; idle: number; run: number; exit: number; failed: number; held: number };
}

/**
 * The worker's whole program, run from its source text (so that it needs
 * no file of its own next to a bundle): it may use nothing but its
 * argument and the platform, and defines no inner function (a bundler's
 * keepNames would wrap one in a helper the worker does not have).
 */
function helperMain(d: HelperData): void {
  const { hw, capacity, room, units, words: w, states: s } = d;
  const scan = (new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports as { scan: (...a: number[]) => number }).scan;
  const i32 = new Int32Array(d.memory.buffer);
  const dw = d.dir >>> 2;
  const state = hw + w.state;
  // Comes up, after the program's hold if there is one (H_HELD), unless it was disposed or replaced first.
  for (;;) {
    if (Atomics.load(i32, hw + w.owner) !== d.owner) return;
    const was = Atomics.compareExchange(i32, state, s.starting, s.idle);
    if (was === s.starting) break;
    if (was !== s.held) return;
    Atomics.wait(i32, state, s.held);
  }
  Atomics.notify(i32, state);
  for (;;) {
    Atomics.wait(i32, state, s.idle);
    const now = Atomics.load(i32, state);
    // The owner is written before the state: a new worker's state is never taken for this one's.
    if (now === s.exit || Atomics.load(i32, hw + w.owner) !== d.owner) return;
    if (now !== s.run) continue;
    let sp = i32[hw + w.sp]!;
    let blocks = 0;
    let bytes = 0;
    try {
      for (;;) {
        const cover = Atomics.load(i32, dw + w.cover) >>> 0;
        sp = scan(hw, units, sp, capacity, room, i32[dw + w.chunks]! >>> 2, i32[dw + w.base]! >>> 0, cover, d.descW, 1);
        blocks += i32[hw + w.blocksDone]!;
        bytes += i32[hw + w.bytesDone]! >>> 0;
        if ((sp === 0 && i32[hw + w.sliceEnd] === 0) || sp > capacity - room || Atomics.load(i32, hw + w.stop) !== 0) break;
      }
    } catch {
      Atomics.store(i32, state, s.failed);
      Atomics.notify(i32, state);
      return;
    }
    i32[hw + w.sp] = sp;
    i32[hw + w.blocks] = (i32[hw + w.blocks]! + blocks) | 0;
    i32[hw + w.bytes] = (i32[hw + w.bytes]! + bytes) | 0;
    Atomics.compareExchange(i32, state, s.run, s.idle); // H_EXIT set meanwhile stays
    Atomics.notify(i32, state);
  }
}

type NodeWorker = { on(event: "exit" | "error", f: (x: unknown) => void): unknown; unref(): void; terminate(): Promise<number> };
type NodeWorkerCtor = new (src: string, options: { eval: true; workerData: unknown }) => NodeWorker;
type WebWorker = { addEventListener(event: "error", f: () => void): void; postMessage(data: unknown): void; terminate(): void };
type WebPlatform = { Worker: new (url: string) => WebWorker; Blob: new (parts: string[], options: { type: string }) => unknown; URL: { createObjectURL(blob: unknown): string; revokeObjectURL(url: string): void } };

/** The worker, started on `data`: what the program needs of it. */
interface Spawned {
  /** Ends it at once (its "exit" arrives later in Node; a web worker has none). */
  terminate(): Promise<unknown>;
}

/** node:worker_threads' Worker where the platform gives it synchronously (Node 20.16+, 22.3+), else null. */
function nodeWorker(): NodeWorkerCtor | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => { Worker?: NodeWorkerCtor } | undefined } }).process;
  return proc?.getBuiltinModule?.("node:worker_threads")?.Worker ?? null;
}

/** A browser's Worker, Blob and object URLs (a worker from source text), else null. */
function webPlatform(): WebPlatform | null {
  const g = globalThis as Partial<WebPlatform>;
  return typeof g.Worker === "function" && typeof g.Blob === "function" && typeof g.URL?.createObjectURL === "function" ? (g as WebPlatform) : null;
}

/**
 * Starts helperMain on `data` in a worker: Node's worker_threads (eval'd
 * source, unref'd: it keeps no process alive), or a web worker from a blob
 * URL (data posted to it: the module and the shared memory are cloned as
 * themselves). `exited` runs when the worker is gone: Node's "exit", or a
 * web worker's uncaught "error" (its script failed to load, or threw).
 */
function spawn(data: HelperData, exited: () => void): Spawned {
  const NodeWorker = nodeWorker();
  if (NodeWorker !== null) {
    const worker = new NodeWorker(`(${helperMain.toString()})(process.getBuiltinModule("node:worker_threads").workerData)`, { eval: true, workerData: data });
    worker.unref();
    worker.on("exit", exited);
    worker.on("error", () => {}); // an error ends the worker: "exit" follows
    return worker;
  }
  const web = webPlatform()!;
  const url = web.URL.createObjectURL(new web.Blob([`self.onmessage = (e) => { self.onmessage = null; (${helperMain.toString()})(e.data); };`], { type: "text/javascript" }));
  try {
    const worker = new web.Worker(url);
    worker.addEventListener("error", exited);
    worker.postMessage(data);
    return { terminate: async () => worker.terminate() };
  } finally {
    web.URL.revokeObjectURL(url); // the worker has its script's URL already
  }
}

/** True where a Collector can have a helper thread: Node with worker_threads or a browser's workers, a heap on a shared WebAssembly.Memory. */
export function helperSupported(heap: Heap): boolean {
  return (nodeWorker() !== null || webPlatform() !== null) && heap.memoryObject instanceof WebAssembly.Memory && heap.memoryObject.buffer instanceof SharedArrayBuffer;
}

/**
 * A Collector dropped without dispose(): its helper's worker is told to end
 * (it would otherwise wait on its state word for as long as the process
 * lives; unref'd, it does not keep the process alive).
 */
const orphans = new FinalizationRegistry<{ i32: Int32Array; hw: number; owner: number }>(({ i32, hw, owner }) => {
  if (Atomics.load(i32, hw + H_OWNER) !== owner) return;
  Atomics.store(i32, hw + H_STATE, H_EXIT);
  Atomics.notify(i32, hw + H_STATE);
});

/** The program's side of one helper thread. */
export class MarkHelper {
  /** Word index of the helper's block. */
  readonly hw: number;
  /** Entries its gray stack holds. */
  readonly capacity: number;
  private readonly heap: Heap;
  private readonly i32: Int32Array;
  private worker: Spawned | null;
  /** Set by the worker's "exit" event (an object of its own, so that the listener does not keep this helper from orphans). */
  private readonly life = { exited: false };

  /**
   * Starts the worker on the helper's block at `addr` (HELPER_BYTES, the
   * class sizes written as in the marker's workspace). `module` is the
   * shared scan module; `room` the scan's WS_ROOM.
   */
  constructor(heap: Heap, space: GcSpace, addr: number, module: WebAssembly.Module, room: number, wsGray: number, ws: { sliceEnd: number; blocks: number; bytes: number }) {
    this.heap = heap;
    this.hw = addr >>> 2;
    this.capacity = L.HELPER_BYTES / 4 - wsGray;
    const u32 = heap.u32;
    const owner = (nextOwner = (nextOwner + 1) | 0);
    Atomics.store(this.i32 = new Int32Array((heap.memoryObject as WebAssembly.Memory).buffer), this.hw + H_OWNER, owner);
    Atomics.store(this.i32, this.hw + H_STATE, H_STARTING);
    u32[this.hw + H_STOP] = 0;
    u32[this.hw + H_SP] = 0;
    u32[this.hw + H_BLOCKS] = 0;
    u32[this.hw + H_BYTES] = 0;
    u32[this.hw + ws.sliceEnd] = 0;
    const data: HelperData = {
      module, memory: heap.memoryObject as WebAssembly.Memory, hw: this.hw, owner, dir: space.dir, descW: heap.descW, capacity: this.capacity, room, units: HELPER_UNITS,
      words: {
        owner: H_OWNER, state: H_STATE, stop: H_STOP, sp: H_SP, blocks: H_BLOCKS, bytes: H_BYTES, sliceEnd: ws.sliceEnd, blocksDone: ws.blocks, bytesDone: ws.bytes,
        chunks: L.DIR_CHUNKS, cover: L.DIR_COVER, base: L.DIR_BASE,
      },
      states: { starting: H_STARTING, idle: H_IDLE, run: H_RUN, exit: H_EXIT, failed: H_FAILED, held: H_HELD },
    };
    const life = this.life;
    this.worker = spawn(data, () => {
      life.exited = true;
    });
    orphans.register(this, { i32: this.i32, hw: this.hw, owner }, this);
  }

  /** The worker's "exit" came: it runs no more. */
  get exited(): boolean {
    return this.life.exited;
  }

  /** The state word (H_STARTING ... H_HELD). */
  state(): number {
    return Atomics.load(this.i32, this.hw + H_STATE);
  }

  /** True if the helper is gone: its worker exited, or failed while scanning. */
  gone(): boolean {
    return this.exited || this.state() === H_FAILED;
  }

  /** While H_IDLE: the entries on its stack, and whether a large block's slices are left. */
  sp(): number {
    return this.heap.u32[this.hw + H_SP]!;
  }

  setSp(sp: number): void {
    this.heap.u32[this.hw + H_SP] = sp;
  }

  /**
   * While H_IDLE: adds the blocks and bytes it marked since the last call
   * to `to` (the marker's counts), and zeroes them. Allocates nothing: it
   * runs at every chunk of a step that finds the helper idle.
   */
  takeCounts(to: { markedBlocks: number; markedBytes: number; helperBlocks: number }): void {
    const u32 = this.heap.u32;
    const blocks = u32[this.hw + H_BLOCKS]!;
    to.markedBlocks += blocks;
    to.markedBytes += u32[this.hw + H_BYTES]!;
    to.helperBlocks += blocks;
    u32[this.hw + H_BLOCKS] = 0;
    u32[this.hw + H_BYTES] = 0;
  }

  /** Lets a worker that await(true) held before it came up come up (H_HELD -> H_STARTING): the program's next step. */
  release(): void {
    // A load first: balance() calls this before every chunk, and a compare-exchange is a locked instruction.
    const i32 = this.i32, w = this.hw + H_STATE;
    if (Atomics.load(i32, w) === H_HELD && Atomics.compareExchange(i32, w, H_HELD, H_STARTING) === H_HELD) Atomics.notify(i32, w);
  }

  /** From H_IDLE: the helper scans what its stack holds. */
  run(): void {
    Atomics.store(this.i32, this.hw + H_STATE, H_RUN);
    Atomics.notify(this.i32, this.hw + H_STATE);
  }

  /**
   * Waits until the helper is not H_RUN: asked to stop first if `stop`
   * (and held, if its worker is not up yet, until release()), else until
   * it runs out of work. Returns false if it still runs after
   * STOP_TIMEOUT_MS (a worker stalled from outside: nothing may be written
   * over it then). Blocks the thread (Atomics.wait), or spins where it
   * may not block.
   */
  await(stop: boolean): boolean {
    const i32 = this.i32;
    if (stop) {
      Atomics.store(i32, this.hw + H_STOP, 1);
      Atomics.compareExchange(i32, this.hw + H_STATE, H_STARTING, H_HELD); // a worker not up yet waits for release()
    }
    const until = performance.now() + STOP_TIMEOUT_MS;
    let ok = true;
    while (Atomics.load(i32, this.hw + H_STATE) === H_RUN && !this.exited) {
      const left = until - performance.now();
      if (left <= 0) {
        ok = false;
        break;
      }
      try {
        Atomics.wait(i32, this.hw + H_STATE, H_RUN, Math.min(left, 50));
      } catch {
        // A browser's main thread may not block: it spins on the state word instead.
      }
    }
    if (stop) Atomics.store(i32, this.hw + H_STOP, 0);
    return ok;
  }

  /** Ends the worker (from H_IDLE, H_STARTING, H_HELD or H_FAILED, or after it exited). */
  exit(): void {
    orphans.unregister(this);
    Atomics.store(this.i32, this.hw + H_STATE, H_EXIT);
    Atomics.notify(this.i32, this.hw + H_STATE);
    // A web worker lives on after its script returns; one still scanning (stalled) must stop too.
    void this.worker?.terminate();
    this.worker = null;
  }

  /** @internal Tests: ends the worker at once, whatever it is doing (Node: resolves once its "exit" came). */
  kill(): Promise<unknown> {
    return this.worker!.terminate();
  }
}
