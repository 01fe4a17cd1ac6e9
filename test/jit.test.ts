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
import { ALLOC_CASES, FREE_CASES } from "./jit-loops.js";

const SCRIPT = fileURLToPath(new URL("./jit-loops.js", import.meta.url));

function stillOptimized(kind: "free" | "alloc", name: string): void {
  const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--no-concurrent-recompilation", SCRIPT, kind, name], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout) as { before: boolean; after: boolean };
  assert.ok(before, "the loop was not optimized before the case (the test would prove nothing)");
  assert.ok(after, `V8 deoptimized the loop where ${kind} met the case`);
}

describe("a loop with free() inlined stays optimized when free meets a slow case", () => {
  for (const name of Object.keys(FREE_CASES)) test(name, () => stillOptimized("free", name));
});

describe("a loop with alloc() inlined stays optimized when alloc meets a slow case", () => {
  for (const name of Object.keys(ALLOC_CASES)) test(name, () => stillOptimized("alloc", name));
});
