// One buffers-benchmark cell in its own process:
//   node --expose-gc bench/buffers/cell.mjs <group> <suite> <impl> <repMs> <reps> <warmMs>
//
// Builds the suite's run(n) once (one allocator, reused across iterations as
// Go's b.N loop reuses it), then warms up and calibrates: n grows until a run
// takes about repMs, following the run time down as the JIT tiers up, for at
// least warmMs; then collects garbage and times `reps` runs at that n with
// process.hrtime.bigint(). Prints one JSON line: { nsPerOp (best
// rep), medianNsPerOp, n, reps, sink }. ns per op = ns per body iteration,
// Go's ns/op; garbage collection inside a rep is part of its time.
import { escapedLength, findSuite } from "./suites.mjs";
import { loadBuffers } from "./lib.mjs";

const MAX_N = 2 ** 30;

function timeRun(run, n) {
  const start = process.hrtime.bigint();
  const sink = run(n);
  return { ns: Number(process.hrtime.bigint() - start), sink };
}

async function runCell(groupId, suiteName, impl, repMs, reps, warmMs) {
  const { group, suite } = findSuite(groupId, suiteName);
  if (impl === "js" ? !suite.js : !group.impls.includes(impl)) throw new RangeError(`${groupId}/${suiteName}: no implementation "${impl}"`);
  const lib = impl === "js" ? {} : await loadBuffers(group.needs);
  const run = suite.make(impl, lib);

  // Warm-up and calibration together: n doubles while a run is short, then
  // follows the latest run's time (which drops as the JIT tiers up), until
  // warmMs have passed and the last three runs were at about repMs.
  let sink = 0;
  const warmStart = performance.now();
  const repNs = repMs * 1e6;
  let n = 1;
  let settled = 0;
  while (settled < 3 || performance.now() - warmStart < warmMs) {
    const t = timeRun(run, n);
    sink += t.sink;
    if (t.ns < repNs / 8 && n < MAX_N) {
      n *= 2;
      settled = 0;
    } else {
      n = Math.max(1, Math.min(MAX_N, Math.round((n * repNs) / Math.max(t.ns, 1))));
      settled++;
    }
  }
  globalThis.gc?.();

  const nsPerOp = [];
  for (let r = 0; r < reps; r++) {
    const t = timeRun(run, n);
    sink += t.sink;
    nsPerOp.push(t.ns / n);
  }
  const sorted = [...nsPerOp].sort((a, b) => a - b);
  return {
    group: groupId,
    suite: suiteName,
    impl,
    n,
    reps,
    nsPerOp: sorted[0],
    medianNsPerOp: sorted[sorted.length >> 1],
    repsNsPerOp: nsPerOp,
    sink,
    escaped: escapedLength(),
  };
}

const [groupId, suiteName, impl, repMs, reps, warmMs] = process.argv.slice(2);
if (!groupId || !suiteName || !impl) {
  console.error("usage: node --expose-gc bench/buffers/cell.mjs <group> <suite> <impl> [repMs] [reps] [warmMs]");
  process.exit(2);
}
console.log(JSON.stringify(await runCell(groupId, suiteName, impl, Number(repMs ?? 200), Number(reps ?? 5), Number(warmMs ?? 300))));
