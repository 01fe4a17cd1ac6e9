// One benchmark cell in its own process: `node --expose-gc bench/cell.mjs <allocator> <workload> [scale]`.
//
// Runs the workload once at 1/10 size on a fresh allocator (warm-up: JIT tiers,
// wasm tier-up), collects garbage, then runs it at full size (or `scale`) on
// another fresh allocator, timed with process.hrtime.bigint(). GC pauses inside
// the timed region come from a PerformanceObserver on 'gc' entries. Prints one
// JSON line: { allocator, workload, ops, ms, nsPerOp, allocsPerSec, gc, rssMiB }.
import { PerformanceObserver, performance } from "node:perf_hooks";
import { loadAllocator } from "./allocators.mjs";
import { WORKLOADS, reseed } from "./workloads.mjs";

const WARMUP_SCALE = 0.1;

/** Runs one cell in this process and returns its result object. */
async function runCell(allocatorName, workloadName, scale = 1) {
  const workload = WORKLOADS[workloadName];
  if (!workload) throw new RangeError(`unknown workload "${workloadName}" (expected one of ${Object.keys(WORKLOADS).join(", ")})`);
  const makeAllocator = await loadAllocator(allocatorName);

  reseed();
  workload.run(await makeAllocator(), scale * WARMUP_SCALE);

  const allocator = await makeAllocator();
  globalThis.gc?.();
  const gcEntries = [];
  const observer = new PerformanceObserver((list) => gcEntries.push(...list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });

  reseed();
  const perfStart = performance.now();
  const start = process.hrtime.bigint();
  const ops = workload.run(allocator, scale);
  const ns = Number(process.hrtime.bigint() - start);
  const perfEnd = performance.now();

  // GC entries reach JS asynchronously: let the queued ones arrive.
  await new Promise((done) => setTimeout(done, 50));
  gcEntries.push(...observer.takeRecords());
  observer.disconnect();
  const pauses = gcEntries.filter((e) => e.startTime >= perfStart && e.startTime <= perfEnd).map((e) => e.duration);

  return {
    allocator: allocatorName,
    workload: workloadName,
    scale,
    ops,
    ms: ns / 1e6,
    nsPerOp: ns / ops,
    // Every op of xmm-random60 is an allocation; XMM reports that suite in allocs/s.
    allocsPerSec: workloadName === "xmm-random60" ? ops / (ns / 1e9) : null,
    gc: {
      count: pauses.length,
      totalMs: pauses.reduce((sum, d) => sum + d, 0),
      maxMs: pauses.reduce((max, d) => Math.max(max, d), 0),
    },
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

const [allocatorName, workloadName, scaleArg] = process.argv.slice(2);
if (!allocatorName || !workloadName) {
  console.error("usage: node --expose-gc bench/cell.mjs <allocator> <workload> [scale]");
  process.exit(2);
}
console.log(JSON.stringify(await runCell(allocatorName, workloadName, scaleArg === undefined ? 1 : Number(scaleArg))));
