// A program's loop that V8 optimized with free() inlined stays optimized
// when free first meets one of its slow cases (a large block, a full cache
// list, free(0), misuse), and one with alloc() inlined when alloc first
// meets its own (a large block, a class's first block, a refill). Were a
// slow case's call site without type feedback, V8 would deoptimize the
// call and the loop there, and run them in its slower tiers until it
// optimized them again: python-lines' replay ran tens of thousands of
// operations that way after its first large free (allocator.ts:
// freeRest). Against the build before freeRest, three of the free cases
// fail; the alloc cases pass on both and guard alloc's slow path. The
// loops (jit-loops.ts) run in a process with V8's test intrinsics, which
// tell whether a function is optimized, and with V8 optimizing on the
// program's thread, so that it does when asked.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ALLOC_CASES, CASE_STARTS, FREE_CASES, MARK_CASES, WASM_MARK_CASES } from "./jit-loops.js";

const SCRIPT = fileURLToPath(new URL("./jit-loops.js", import.meta.url));

function stillOptimized(kind: "free" | "alloc" | "mark" | "mark-wasm", name: string): void {
  const marking = kind === "mark" || kind === "mark-wasm";
  const trace = marking ? ["--trace-deopt"] : [];
  const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--no-concurrent-recompilation", ...trace, SCRIPT, kind, name], { encoding: "utf8", timeout: 60_000, maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `${r.error ?? ""} ${r.stderr}`); // (--trace-deopt prints megabytes on Node 24: hence the maxBuffer)
  const lines = r.stdout.trim().split("\n");
  const { before, after, spilled } = JSON.parse(lines.at(-1)!) as { before: boolean; after: boolean; spilled?: boolean };
  const loop = kind === "mark" ? "markJs" : kind === "mark-wasm" ? "markWasm" : "the loop";
  if (marking) {
    // V8 may optimize the loop again within the case's cycle, so its status alone could miss a deoptimization;
    // the wasm driver also deoptimized run (gc-cycle.ts; Collector.run then), which V8 had inlined it into.
    const during = lines.slice(lines.indexOf(CASE_STARTS));
    assert.ok(during.length > 1, "the case did not run");
    const deopt = kind === "mark" ? /deoptimizing .*<JSFunction markJs / : /deoptimizing .*<JSFunction (markWasm|markSome|run) /;
    assert.deepEqual(during.filter((l) => deopt.test(l)), [], `V8 deoptimized ${loop} in the case's cycle`);
  }
  if (kind === "mark-wasm") assert.equal(spilled, WASM_MARK_CASES[name]!.spills, "the case's marking did not take the path it is about");
  assert.ok(before, "the loop was not optimized before the case (the test would prove nothing)");
  assert.ok(after, `V8 deoptimized ${loop} where ${kind} met the case`);
}

describe("a loop with free() inlined stays optimized when free meets a slow case", () => {
  for (const name of Object.keys(FREE_CASES)) test(name, () => stillOptimized("free", name));
});

describe("a loop with alloc() inlined stays optimized when alloc meets a slow case", () => {
  for (const name of Object.keys(ALLOC_CASES)) test(name, () => stillOptimized("alloc", name));
});

// The collector's JavaScript mark loop likewise (gc-prime.ts; it marks
// heaps whose memory is not a WebAssembly.Memory): optimized on a small
// tree, it must stay optimized when a cycle first fills a gray segment or
// scans a block in slices. Without the first Collector's priming cycles
// both cases deoptimized it, and the rest of that step's chunk ran in V8's
// interpreter: 0.5-0.9 ms of a 1 ms step (bench:gc's graph).
describe("the collector's mark loop stays optimized when it first meets a rare path", () => {
  for (const name of Object.keys(MARK_CASES)) test(name, () => stillOptimized("mark", name));
});

// The WebAssembly loop's driver likewise (gc-mark.ts: markWasm, on a
// WebAssembly.Memory): optimized in the middle of a first cycle, as V8
// does in a program's first long one, it must stay optimized when the
// cycle ends inside a step and when the workspace spills to JS segments
// and fills from them. Without gc-prime.ts's wasm cycles, bench:gc's graph
// deoptimized the driver and Collector.run at the first of those, in steps
// of 1.2-2.4 ms.
describe("the collector's wasm mark driver stays optimized when it first meets a rare path", () => {
  for (const name of Object.keys(WASM_MARK_CASES)) test(name, () => stillOptimized("mark-wasm", name));
});
