// A Collector's steps make little JS garbage, so that the scavenges it
// would bring do not begin inside them (a step is a pause of the program).
// A step reads the clock every 25 us or so (gc-chunk.ts); performance.now()
// allocates its result (16 bytes a read where V8 optimized the caller on
// Node 20, about 64 in Node 24's mid tier, Maglev), so the collector reads
// process.hrtime() through a function V8 inlines, which allocates nothing
// once optimized (gc-chunk.ts: clockMs). On Node 20 that took a cycle of
// the tree below from 16.4 KB of garbage to 4.4, in Maglev from 73.5 to 54.9.
// Measured in Maglev, V8's tier until it optimizes the collector (most of
// bench:gc's run under Node 24), where the garbage differs most: before
// the clock's times were kept in a Float64Array and the sweep's chunks
// bounded by the blocks they free, a cycle of this tree made about 130 KB
// there, 75-80 KB after.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./step-garbage.js", import.meta.url));
const MAJOR = Number(process.versions.node.split(".")[0]);
const skip = MAJOR < 22 ? "Maglev, V8's mid tier, is on by default from Node 22" : false;

test("a Collector cycle in steps of 1 ms makes under 100 KB of JS garbage with Maglev as V8's top tier", { skip }, () => {
  // --max-opt=2: nothing past Maglev. A 64 MiB young generation: no scavenge inside the measured
  // cycles, so V8's heap used only grows across them.
  const r = spawnSync(process.execPath, ["--max-opt=2", "--min-semi-space-size=64", "--max-semi-space-size=64", SCRIPT, "20"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { steps, bytesPerCycle, collections } = JSON.parse(r.stdout) as { steps: number; bytesPerCycle: number; collections: number };
  assert.equal(collections, 0, `V8 collected during the measured cycles, so their garbage was not measured: ${r.stdout}`);
  assert.ok(steps >= 20, `the ten measured cycles took ${steps} steps`);
  assert.ok(bytesPerCycle < 100_000, `${bytesPerCycle} bytes a cycle (${steps} steps in ten cycles)`);
});

test("a Collector cycle in steps of 1 ms makes under 8 KB of JS garbage once V8 has optimized the collector", () => {
  // 60 cycles, the last ten measured: by then V8's top tier runs the steps. A 64 MiB young generation: no scavenge inside the measured cycles.
  const r = spawnSync(process.execPath, ["--min-semi-space-size=64", "--max-semi-space-size=64", SCRIPT, "60"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { steps, bytesPerCycle, collections } = JSON.parse(r.stdout) as { steps: number; bytesPerCycle: number; collections: number };
  assert.equal(collections, 0, `V8 collected during the measured cycles, so their garbage was not measured: ${r.stdout}`);
  assert.ok(steps >= 20, `the ten measured cycles took ${steps} steps`);
  assert.ok(bytesPerCycle < 8_000, `${bytesPerCycle} bytes a cycle (${steps} steps in ten cycles)`);
});
