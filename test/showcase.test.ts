// The showcase that `npm start` runs (examples/showcase/main.mjs), end to end
// on a small data set: it exits 0, prints the side-by-side table and the
// verdicts, writes a self-contained offheap-report.html holding the same
// figures, verifies the data after saving and reloading it both ways,
// shows the heap limit (here 32 MiB), and leaves no temporary files behind.
// Needs dist/ (npm test builds it first).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const MAIN = join(ROOT, "examples", "showcase", "main.mjs");
const RECORDS = 20_000;
const LIMIT_RECORDS = 300_000; // about 60 MiB as JS objects: past a 32 MiB heap, cheap off-heap
const RUN_TIMEOUT_MS = 120_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

/** Runs the showcase in a fresh temporary directory (its cwd and TMPDIR). */
function showcase(args: string[]): Run {
  const dir = mkdtempSync(join(tmpdir(), "showcase-test-"));
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS, env: { ...process.env, TMPDIR: dir },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, dir };
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** The cells of the printed table row that starts with `label` (columns are 3+ spaces apart). */
function rowCells(stdout: string, label: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(label));
  assert.ok(line !== undefined, `the table has a row "${label}"`);
  return line.split(/ {3,}/).map((c) => c.trim()).filter((c) => c !== "");
}

interface Figures {
  results: Record<string, { ok: boolean; records?: number; bad?: number; checked?: number; limit?: boolean; error?: string; gcCount?: number }>;
  targets: { label: string; pass: boolean | null }[];
}

describe(`npm start: the showcase on ${RECORDS} records`, () => {
  const args = ["--records", String(RECORDS), "--lookups", "50000", "--limit-records", String(LIMIT_RECORDS), "--limit-heap-mb", "32", "--out", ".", "--json", "figures.json"];
  let run: Run;

  test("runs to the end and exits 0", () => {
    run = showcase(args);
    assert.equal(run.status, 0, `exit status (stderr: ${run.stderr})`);
    for (let i = 1; i <= 6; i++) assert.match(run.stderr, new RegExp(`\\[${i}/6\\]`), `progress of step ${i}`);
  });

  test("prints the side-by-side table and the verdicts", () => {
    assert.match(run.stdout, /Map<string, object> +OffHeapMap<string, record> +offheap vs Map/);
    for (const label of [`build ${RECORDS.toLocaleString("en-US")} records`, "lookups, 50,000 random keys", "V8 heap used, after GC", "off-heap bytes (committed)", "RSS, after GC", "GC count", "GC pause, total", "GC pause, max"]) {
      const cells = rowCells(run.stdout, label);
      assert.ok(cells.length >= 3, `row "${label}" has both sides: ${JSON.stringify(cells)}`);
    }
    assert.match(rowCells(run.stdout, "build")[1]!, /^[\d.,]+ (ms|s)$/);
    assert.match(rowCells(run.stdout, "lookups,")[2]!, /^[\d.,]+ [Mk]\/s$/);
    const verdicts = run.stdout.split("\n").filter((l) => /^ {2}[✓✗?] /.test(l));
    assert.equal(verdicts.length, 4, `four target verdicts:\n${run.stdout}`);
    for (const v of verdicts) assert.match(v, /^ {2}[✓✗] /, "every verdict is computed (✓ or ✗)");
  });

  test("saves and reloads the data both ways and verifies it", () => {
    const cells = rowCells(run.stdout, "verified after reload");
    assert.deepEqual(cells.slice(1), ["1,003 records ✓", "1,003 records ✓"]);
    const figures = JSON.parse(readFileSync(join(run.dir, "figures.json"), "utf8")) as Figures;
    for (const step of ["map", "off", "loadJson", "loadImage", "limitOff"]) assert.equal(figures.results[step]!.ok, true, `${step}: ${figures.results[step]!.error ?? ""}`);
    for (const step of ["loadJson", "loadImage"]) {
      const r = figures.results[step]!;
      assert.equal(r.records, RECORDS, `${step} reloaded every record`);
      assert.equal(r.bad, 0, `${step}: no wrong record`);
      assert.equal(r.checked, 1003, `${step}: 1,000 random records, the first, the last and an absent key`);
    }
    assert.ok(figures.results.off!.gcCount! >= 0);
  });

  test("shows the heap limit: the Map runs out of memory, the OffHeapMap holds the data", () => {
    const figures = JSON.parse(readFileSync(join(run.dir, "figures.json"), "utf8")) as Figures;
    const limitMap = figures.results.limitMap!;
    assert.equal(limitMap.ok, false);
    assert.equal(limitMap.limit, true, `the Map hit V8's heap limit: ${limitMap.error ?? ""}`);
    assert.equal(figures.results.limitOff!.records, LIMIT_RECORDS);
    assert.match(run.stdout, /as JS objects \(Map\): +crashed: JavaScript heap out of memory/);
    assert.match(run.stdout, new RegExp(`off-heap \\(OffHeapMap\\): +held all ${LIMIT_RECORDS.toLocaleString("en-US")} records`));
  });

  test("writes a self-contained offheap-report.html with the figures and says where", () => {
    const path = join(run.dir, "offheap-report.html");
    assert.ok(run.stdout.includes(`Report: ${path}`), "prints the report's path");
    const html = readFileSync(path, "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg /g) ?? []).length >= 10, "bar charts as inline SVG");
    assert.doesNotMatch(html, /<script|<link|<img|\bsrc=|url\(|@import/i, "nothing loaded from elsewhere");
    assert.deepEqual(html.match(/https?:\/\/[^"\s]*/g)?.filter((u) => u !== "http://www.w3.org/2000/svg") ?? [], [], "no address but the SVG namespace");
    for (const label of [`build ${RECORDS.toLocaleString("en-US")} records`, "lookups, 50,000 random keys", "V8 heap + off-heap", "GC pause, max", "reload", "save (written and synced)"]) {
      for (const cell of rowCells(run.stdout, label)) assert.ok(html.includes(esc(cell)), `the report holds "${cell}" (row ${label})`);
    }
    for (const v of run.stdout.split("\n").filter((l) => /^ {2}[✓✗] /.test(l))) {
      const label = v.slice(4).split(/ {3,}/)[0]!;
      assert.ok(html.includes(esc(label)), `the report holds the verdict "${label}"`);
    }
    assert.ok(html.includes(process.version), "names the Node version");
  });

  test("removes its temporary files (JSON text and heap image)", () => {
    const left = readdirSync(run.dir).filter((f) => f.startsWith("offheap-showcase-"));
    assert.deepEqual(left, []);
    rmSync(run.dir, { recursive: true, force: true });
  });
});

test("--keep keeps the JSON file and the heap image", () => {
  const run = showcase(["--records", "2000", "--lookups", "2000", "--limit-records", String(LIMIT_RECORDS), "--limit-heap-mb", "32", "--keep"]);
  try {
    assert.equal(run.status, 0, run.stderr);
    const kept = /Kept: (\S+), (\S+)\n/.exec(run.stdout);
    assert.ok(kept !== null, "prints the kept files");
    for (const file of [kept[1]!, kept[2]!]) assert.ok(existsSync(file), `${file} exists`);
  } finally {
    rmSync(run.dir, { recursive: true, force: true });
  }
});

test("--help prints the options; a bad option exits 2 naming it", () => {
  const help = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
  for (const option of ["--records", "--out", "--json", "--keep", "--limit-heap-mb"]) assert.ok(help.stdout.includes(option), option);
  const bad = spawnSync(process.execPath, [MAIN, "--records", "lots"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--records lots/);
});
