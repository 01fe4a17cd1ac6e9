// The calls a program makes per block allocate nothing on V8's heap. A
// value V8 must box costs a 16-byte object per call: a double or a u32 of
// 2^31 or more passed to or returned from a call it did not inline (a
// 2 GiB maxSize handed to the size check, a map's u32 hash seed), so a few
// million calls cause tens of scavenges. Whether V8 inlines a call changes
// from run to run, so the loops (garbage-loops.ts) run in a process where it
// inlines nothing (--no-turbo-inlining): every such value is boxed there.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LOOPS } from "./garbage-loops.js";

const SCRIPT = fileURLToPath(new URL("./garbage-loops.js", import.meta.url));
/** Collections a loop may meet that it did not cause (one that began before it); a leak of 16 bytes a call causes ten times more. */
const TOLERATED = 2;

describe("no JS garbage per call (V8 inlining nothing)", () => {
  for (const name of Object.keys(LOOPS)) {
    test(name, () => {
      const r = spawnSync(process.execPath, ["--no-turbo-inlining", SCRIPT, name], { encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const { collections } = JSON.parse(r.stdout) as { collections: number };
      assert.ok(collections <= TOLERATED, `${collections} V8 collections during the counted run`);
    });
  }
});
