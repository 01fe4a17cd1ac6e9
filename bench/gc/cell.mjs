// One cell of `npm run bench:gc` in its own process: one graph in one world.
//
//   node --expose-gc --max-old-space-size=M bench/gc/cell.mjs <tree|graph> <v8|offheap> '<params JSON>'
//
// Times the workload (tree.mjs, graph.mjs) from the start of its build to the
// end of its last round and prints one JSON line: the wall time; V8's GC
// pauses (PerformanceObserver 'gc', each entry one pause) in both worlds; off
// heap, every gc.step / collect call timed with performance.now() around it
// (and, of the steps of 1 ms or more, how many had a V8 collection begin
// inside them) and the Collector's stats(); the CPU time of the process's
// main thread and of its other threads over the timed region (Linux);
// memory right after the last round (V8 heap used and total, RSS, the
// heap's committed bytes), and V8's heap used after a forced full GC (not
// timed); then a walk of what the roots reach, to check both worlds built
// the same graph and the collector kept exactly that.
import { openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { offheapDistUrl } from "../allocators.mjs";
import { graphOffheap, graphV8 } from "./graph.mjs";
import { treeOffheap, treeV8 } from "./tree.mjs";

/** The off-heap heap's address range: up to 2 GiB every address is a small integer to V8 (options.ts). */
const HEAP_MAX_BYTES = 2 ** 31;
// concurrent: the offheap world with a Collector that marks on a helper thread too (CollectorOptions.concurrent).
const GRAPHS = { tree: { v8: treeV8, offheap: treeOffheap, concurrent: treeOffheap }, graph: { v8: graphV8, offheap: graphOffheap, concurrent: graphOffheap } };
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * CPU ms this process has run so far on its main thread and on all its
 * other threads (V8's platform workers: concurrent marking, parallel
 * scavenging, sweeping, compiling; libuv's pool), from each thread's
 * /proc/self/task/<tid>/schedstat (ns on the CPU, brought up to date at
 * each scheduler tick: a few ms per thread). Threads that exited in
 * between are not counted. null where /proc is not there (not Linux).
 */
function threadCpuMs() {
  let tids;
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return null;
  }
  let main = 0;
  let others = 0;
  for (const tid of tids) {
    let ns;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      continue; // the thread exited
    }
    if (Number(tid) === process.pid) main += ns / 1e6;
    else others += ns / 1e6;
  }
  return { main, others };
}

/**
 * How long this thread has waited for a CPU: runnable, but other threads
 * (V8's compiler and GC workers, a helper, another process) had the cores.
 * The second field of /proc/thread-self/schedstat, in ns, which Linux
 * brings up to date each time the thread gets a CPU back, so it is exact
 * between two steps. Read into a reused buffer and parsed from its bytes,
 * outside the timed call: no string per reading (garbage that would bring
 * V8's scavenges forward). 0 always where the file is not there (not
 * Linux); a VM's host taking the CPU is not in it (the guest cannot see
 * that).
 */
class RunQueueWait {
  constructor() {
    this.buf = new Uint8Array(96);
    try {
      this.fd = openSync("/proc/thread-self/schedstat", "r");
    } catch {
      this.fd = -1;
    }
  }

  get available() {
    return this.fd >= 0;
  }

  /** Ms waited so far. */
  ms() {
    if (this.fd < 0) return 0;
    const b = this.buf;
    const n = readSync(this.fd, b, 0, b.length, 0);
    let i = 0;
    while (i < n && b[i] !== 32) i++; // the first field: ns on the CPU
    let ns = 0;
    for (i++; i < n && b[i] >= 48 && b[i] <= 57; i++) ns = ns * 10 + (b[i] - 48);
    return ns / 1e6;
  }
}

// The control's busy loop: integer arithmetic in registers, no memory, no
// calls. spin() reads the clock only between slices of it of about 20 us:
// performance.now() allocates on Node 20 (a 0.5 ms spin reading it in a
// tight loop made 247 scavenges in 2,000 spins), which would have added V8
// GC time to the offheap world's total.
let spinSink = 0;
function busy(iterations) {
  let x = spinSink | 1;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  spinSink = x;
}

/** Iterations of busy() per ms on this machine now: the fastest of 5 timed runs. */
function calibrate() {
  let best = 0;
  for (let k = 0; k < 5; k++) {
    const t0 = performance.now();
    busy(2_000_000);
    best = Math.max(best, 2_000_000 / (performance.now() - t0));
  }
  return best;
}

/**
 * Runs busy() in slices of about 20 us until `ms` have passed; returns how
 * long it took. Each slice is sized from the rate the last one ran at
 * (`perMs` iterations a ms, calibrate()'s, for the first), and the last
 * from what is left: under Node 24 busy() ran 3-5x slower in these short
 * calls than in calibrate()'s long ones (which V8 optimizes on the stack),
 * and fixed slices ended 1 in 5 of the controls past 1 ms.
 */
function spin(ms, perMs) {
  const t0 = performance.now();
  let t = t0;
  let rate = perMs;
  while (t - t0 < ms) {
    const iterations = Math.max(1, Math.round(Math.min(0.02, ms - (t - t0)) * rate));
    busy(iterations);
    const now = performance.now();
    if (now > t) rate = iterations / (now - t);
    t = now;
  }
  return t - t0;
}

/** A Collector's phases (gc.phase), as the long steps record them: "idle" is a step that started a cycle. */
const PHASES = ["idle", "mark", "sweep"];

/** Count, sum, longest and number of pauses of at least 1 ms. */
class Pauses {
  count = 0;
  totalMs = 0;
  maxMs = 0;
  over1ms = 0;

  durations = [];

  add(ms) {
    this.durations.push(ms);
    this.count++;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (ms >= 1) this.over1ms++;
  }
}

/** Collects the pauses of both collectors by phase ("build", "rounds") of a workload. */
class Meter {
  constructor(stepMs) {
    this.stepMs = stepMs;
    this.v8Entries = [];
    this.phases = []; // { name, start, end, steps: Pauses }
    this.steps = new Pauses();
    this.control = new Pauses();
    this.longSteps = []; // [start, ms, waited ms, phase] of every step of 1 ms or more, flat (phase: PHASES' index, the collector's when the step began)
    this.waits = new RunQueueWait();
    this.longestOnCpu = 0; // the longest step less the time its thread waited for a CPU inside it
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.v8Entries.push({ start: e.startTime, ms: e.duration, kind: GC_KINDS[e.detail?.kind] ?? "other" });
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** The timed region starts. */
  begin() {
    this.cpuAtStart = threadCpuMs();
    this.start = this.phaseStart = performance.now();
  }

  /** CPU ms of the main thread and of the others since begin(), or null (threadCpuMs). */
  cpuSinceBegin() {
    const now = threadCpuMs();
    const then = this.cpuAtStart;
    return now && then ? { main: now.main - then.main, others: now.others - then.others } : null;
  }

  /** Ends a phase (after each round too: the observer's entries are delivered while the event loop runs). */
  async phaseEnd(name) {
    const end = performance.now();
    this.phases.push({ name, start: this.phaseStart, end, steps: this.steps });
    this.steps = new Pauses();
    await tick();
    this.phaseStart = performance.now();
  }

  /**
   * Returns step(): gc.step(stepMs), timed. The Collector's own pacer
   * (growth 1, minBytes 4 MiB: Go's defaults) decides when a cycle starts;
   * an idle collector with no cycle due returns at once.
   *
   * After each step that did work (took 0.1 ms or more), a control: the
   * same process runs a busy loop for as long as that step took, up to
   * 0.95 of the budget (where a step aims to end), reading the clock
   * every 20 us, and its own length is recorded. The loop touches no
   * memory and calls nothing, so one that ends past the budget shows what
   * the machine adds to a pause (the VM descheduled, an interrupt, V8's
   * helper threads on the other core): the floor under the steps' longest.
   */
  stepper(gc) {
    const stepMs = this.stepMs;
    const perMs = calibrate();
    const waits = this.waits;
    return () => {
      const phase = PHASES.indexOf(gc.phase);
      const w0 = waits.ms();
      const t0 = performance.now();
      const done = gc.step(stepMs);
      const t1 = performance.now();
      const waited = Math.min(t1 - t0, waits.ms() - w0);
      this.steps.add(t1 - t0);
      if (t1 - t0 - waited > this.longestOnCpu) this.longestOnCpu = t1 - t0 - waited;
      if (t1 - t0 >= 1) this.longSteps.push(t0, t1 - t0, waited, phase);
      if (t1 - t0 >= 0.1) this.control.add(spin(Math.min(t1 - t0, 0.95 * stepMs), perMs));
      return done;
    };
  }

  /**
   * Finishes the cycle in progress, in steps (timed with the rounds). A
   * step that did less than a tenth of its budget (the rest of the cycle's
   * marking is the helper thread's) is followed by a 1 ms sleep, as a
   * program's next frame or tick would come: spinning on step() would
   * count thousands of microsecond calls as collection time, and take the
   * second core from the helper.
   */
  async finishCycle(step) {
    for (;;) {
      const t0 = performance.now();
      if (step()) return;
      if (performance.now() - t0 < 0.1 * this.stepMs) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * After the timed region: one whole cycle (gc.collect()), so that the
   * walk that follows can check the collector kept exactly what the roots
   * reach. Untimed, as the V8 world's forced full GC before its heap-used
   * figure; returns its ms, which the table prints apart.
   */
  settle(gc) {
    const t0 = performance.now();
    gc.collect();
    return performance.now() - t0;
  }

  /** Totals by phase name, and over the whole run: V8's pauses and the collector's steps. */
  summary() {
    const byName = {};
    const all = { v8: new Pauses(), steps: new Pauses(), v8Kinds: {} };
    const { durations: _, ...control } = this.control;
    for (const p of this.phases) {
      const mine = (byName[p.name] ??= { ms: 0, v8: new Pauses(), steps: new Pauses() });
      mine.ms += p.end - p.start;
      for (const e of this.v8Entries) {
        if (e.start < p.start || e.start >= p.end) continue;
        mine.v8.add(e.ms);
        all.v8.add(e.ms);
        all.v8Kinds[e.kind] = (all.v8Kinds[e.kind] ?? 0) + 1;
      }
      for (const ms of p.steps.durations) {
        mine.steps.add(ms);
        all.steps.add(ms);
      }
    }
    const sorted = all.steps.durations.sort((a, b) => a - b);
    const at = (q) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    all.stepPercentiles = { p50: at(0.5), p99: at(0.99) };
    for (const p of [all.v8, all.steps, ...Object.values(byName).flatMap((x) => [x.v8, x.steps])]) delete p.durations;
    return { phases: byName, ...all, control, longSteps: this.longStepsSummary() };
  }

  /**
   * The steps of 1 ms or more, split by whether a V8 collection began
   * inside them (its pause is then part of the step's time): how many did,
   * and the longest of those that did not. Of those that did not, how many
   * took under 1 ms less the time the thread waited for a CPU inside them
   * (RunQueueWait), and the others: their count and the longest of them
   * less its wait (on Linux; null elsewhere). Over all steps, the longest
   * less its wait.
   */
  longStepsSummary() {
    let withV8Gc = 0;
    let longestWithout = 0;
    let underButForWait = 0;
    let longestOnCpuWithout = 0;
    const byPhase = Object.fromEntries(PHASES.map((p) => [p, 0]));
    const l = this.longSteps;
    for (let i = 0; i < l.length; i += 4) {
      const start = l[i];
      const ms = l[i + 1];
      byPhase[PHASES[l[i + 3]]]++;
      if (this.v8Entries.some((e) => e.start >= start && e.start <= start + ms)) {
        withV8Gc++;
        continue;
      }
      longestWithout = Math.max(longestWithout, ms);
      if (ms - l[i + 2] < 1) underButForWait++;
      else longestOnCpuWithout = Math.max(longestOnCpuWithout, ms - l[i + 2]);
    }
    const count = l.length / 4;
    const waits = this.waits.available;
    return {
      count, byPhase, withV8Gc, longestWithout,
      underButForWait: waits ? underButForWait : null, onCpu: waits ? count - withV8Gc - underButForWait : null, longestOnCpuWithout: waits ? longestOnCpuWithout : null,
      longestOnCpu: waits ? this.longestOnCpu : null,
    };
  }
}

async function loadLib(concurrent) {
  const distUrl = offheapDistUrl();
  const { Heap } = await import(distUrl);
  const collections = new URL("./collections/index.js", distUrl).href;
  const { Collector, defineStruct } = await import(collections);
  if (typeof Collector !== "function") throw new TypeError(`bench/gc/cell.mjs: ${collections} exports no Collector (a build from before the collector)`);
  return { Collector, defineStruct, newHeap: () => new Heap({ maxSize: HEAP_MAX_BYTES }), collectorOptions: concurrent ? { concurrent: true } : undefined };
}

async function main() {
  const [graph, world, paramsJson] = process.argv.slice(2);
  const run = GRAPHS[graph]?.[world];
  if (!run) throw new RangeError(`bench/gc/cell.mjs: unknown cell "${graph}" / "${world}" (graphs: ${Object.keys(GRAPHS).join(", ")}; worlds: v8, offheap, concurrent)`);
  if (typeof globalThis.gc !== "function") throw new TypeError("bench/gc/cell.mjs: run with node --expose-gc");
  const params = JSON.parse(paramsJson);
  const meter = new Meter(params.stepMs);
  const lib = world === "v8" ? null : await loadLib(world === "concurrent");
  globalThis.gc();
  await tick();

  const result = lib !== null ? await run(params, lib, meter) : await run(params, meter);
  const wallMs = performance.now() - meter.start;
  const cpuMs = meter.cpuSinceBegin();
  const mem = process.memoryUsage();
  const peakRss = peakRssBytes();
  const own = result.memory();
  const settleMs = result.settle?.() ?? null;
  globalThis.gc();
  await tick();
  meter.observer.disconnect();
  const liveHeapUsed = process.memoryUsage().heapUsed;
  const summary = meter.summary();
  const collector = own.collector ?? null;
  console.log(JSON.stringify({
    graph, world, params, wallMs, cpuMs, ...summary,
    memory: { heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, rss: mem.rss, peakRss, committedBytes: own.committedBytes ?? null, liveHeapUsed },
    collector,
    settleMs,
    markedBlocks: collector?.markedBlocks ?? null,
    markMobjPerS: programMarkRate(collector),
    verify: result.verify(),
  }));
}

/**
 * The process's peak resident set so far (Linux's VmHWM), in bytes, or null
 * elsewhere: V8's heapTotal after the last round is what its last
 * collection left, while the heap's committed bytes are its peak (a
 * WebAssembly.Memory never shrinks), so the peaks of both processes are the
 * like-for-like figure.
 */
function peakRssBytes() {
  try {
    const kib = /^VmHWM:\s*(\d+) kB$/m.exec(readFileSync("/proc/self/status", "latin1"))?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/**
 * The program's thread's mark rate: a helper thread's blocks are not marked in markMs. None where
 * the program marked under 1% of the blocks (a helper marks what the steps hand it): the few it
 * scanned, over the time its steps spent handing work, are no rate.
 */
function programMarkRate(collector) {
  if (!collector || !(collector.markMs > 0)) return null;
  const own = collector.markedBlocks - (collector.helperMarkedBlocks ?? 0);
  return own >= collector.markedBlocks / 100 ? own / collector.markMs / 1000 : null;
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
