// `npm run bench:traces -- --files ...` replays traces of programs that are
// not in the repository: a replay file as /work/shared/traces/convert.py
// writes it and a gzipped one run through the driver against the built
// dist/ and the JS floor, one round, each named by its file; a file that
// frees a slot it never filled is refused, by op, before any cell runs.
// Timings are not checked: a 3,000-op trace on a test machine says nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const FREE_BIT = 0x80000000;

/** A small valid trace: allocs into the lowest free slot (as convert.py numbers them), frees of random live ones. */
function makeTrace(ops: number): Uint32Array {
  const pairs = new Uint32Array(ops * 2);
  const live: number[] = [];
  const free: number[] = [];
  let next = 0;
  let x = 12345;
  for (let op = 0; op < ops; op++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (live.length > 0 && x % 100 < 45) {
      const slot = live.splice(x % live.length, 1)[0]!;
      free.push(slot);
      pairs[2 * op] = (slot | FREE_BIT) >>> 0;
    } else {
      free.sort((a, b) => a - b);
      const slot = free.length > 0 ? free.shift()! : next++;
      live.push(slot);
      pairs[2 * op] = slot;
      pairs[2 * op + 1] = [8, 24, 100, 700, 5000, 70_000][x % 6]!;
    }
  }
  return pairs;
}

function runDriver(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.OFFHEAP_DIST; // measure this build
  const r = spawnSync(process.execPath, [join(ROOT, "bench", "traces.mjs"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("bench/traces.mjs --files: traces not in the repository, raw and gzipped, run and are named by their files; a broken one is refused", () => {
  assert.ok(existsSync(join(ROOT, "dist", "index.js")), "dist/ is missing: run \"npm run build\" first (npm test does)");
  const dir = mkdtempSync(join(tmpdir(), "offheap-traces-"));
  try {
    const bytes = new Uint8Array(makeTrace(3000).buffer);
    writeFileSync(join(dir, "mine.trace"), bytes);
    writeFileSync(join(dir, "theirs.trace.gz"), gzipSync(bytes));
    const ok = runDriver(["--files", `${join(dir, "mine.trace")},${join(dir, "theirs.trace.gz")}`, "--only", "offheap,floor", "--runs", "1", "--timeout", "60"]);
    assert.equal(ok.status, 0, `the driver exited with ${ok.status}:\n${ok.stdout}\n${ok.stderr}`);
    for (const name of ["mine", "theirs"]) {
      assert.match(ok.stdout, new RegExp(`^\\| ${name} \\| not in the repository \\| .*\\| 3,000 \\|`, "m"), ok.stdout);
      assert.match(ok.stdout, new RegExp(`^\\| ${name} \\| 3,000 \\| [\\d,.]+ \\| [\\d,.]+ \\|`, "m"), `no timed row for ${name}:\n${ok.stdout}`);
    }
    assert.doesNotMatch(ok.stdout, /python-index|git-log/, "--files alone replays only the files");
    if (process.platform === "linux") {
      // Resident pages are read from /proc/self/smaps: fewer than the committed ones (the heap's first MiB is mostly never written).
      const [, committedPart = "", residentPart = ""] = ok.stdout.split(/^### (?:Peak footprint|Resident) in the first pass.*$/m);
      const figure = (part: string) => Number(new RegExp(`^\\| mine \\| [\\d.]+ \\| ([\\d.]+) \\(`, "m").exec(part)?.[1]);
      const committed = figure(committedPart);
      const resident = figure(residentPart);
      assert.ok(resident > 0 && resident < committed, `resident ${resident} MiB, committed ${committed} MiB:\n${ok.stdout}`);
    }

    writeFileSync(join(dir, "broken.trace"), new Uint8Array(new Uint32Array([0, 16, 7 | FREE_BIT, 0]).buffer));
    const bad = runDriver(["--files", join(dir, "broken.trace"), "--only", "floor", "--runs", "1"]);
    assert.equal(bad.status, 1, `a broken trace must fail the run:\n${bad.stdout}\n${bad.stderr}`);
    assert.match(bad.stderr, /broken\.trace: not a valid trace: op 1: free of slot 7, which is not live/);
    assert.doesNotMatch(bad.stderr, /\[1\/1\]/, "no cell runs before the files are checked");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
