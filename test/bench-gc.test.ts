// `npm run bench:gc` still runs: bench/gc.mjs --smoke (tiny graphs, a few
// seconds) against the built dist/, every cell finishing, both worlds ending
// with the same graph and the collector keeping exactly what the roots reach.
// The benchmark's targets are not checked here: timings of tiny graphs on a
// test machine say nothing. On Linux, the pause line must carry the steps'
// run-queue waits, so the schedstat reading is exercised.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root

test("bench/gc.mjs --smoke: every cell runs, the same graph in both worlds, the collector keeps what the roots reach", () => {
  assert.ok(existsSync(join(ROOT, "dist", "collections", "index.js")), "dist/ is missing: run \"npm run build\" first (npm test does)");
  const env = { ...process.env };
  delete env.OFFHEAP_DIST; // measure this build
  const r = spawnSync(process.execPath, [join(ROOT, "bench", "gc.mjs"), "--smoke"], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `bench/gc.mjs --smoke exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  for (const graph of ["tree", "graph"]) {
    for (const world of ["v8", "offheap", "concurrent"]) assert.match(r.stdout, new RegExp(`^\\| ${graph} \\| ${world} \\| \\d`, "m"), `no row for ${graph} / ${world}:\n${r.stdout}`);
    for (const world of ["offheap", "concurrent"]) {
      assert.match(r.stdout, new RegExp(`^- ✓ ${graph}, ${world}: both worlds end with the same graph`, "m"), r.stdout);
      assert.match(r.stdout, new RegExp(`^- ✓ ${graph}, ${world}: the collector keeps exactly what the roots reach`, "m"), r.stdout);
      // Linux: each step's run-queue wait is read from /proc/thread-self/schedstat (bench/gc/cell.mjs: RunQueueWait).
      if (process.platform === "linux") {
        assert.match(r.stdout, new RegExp(`^- . ${graph}, ${world}: longest pause .*; the longest step less its run-queue wait \\d+\\.\\d+ ms;`, "m"), r.stdout);
      }
    }
  }
});
