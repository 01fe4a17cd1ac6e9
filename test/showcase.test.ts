// The showcase that `npm start` runs (examples/showcase/main.mjs), end to end
// on a small data set, run once (in a `before` hook) for the tests that read
// its output: it exits 0; both sides hold the same data; the data survives
// saving and reloading both ways; under a 32 MiB heap limit the Map dies and
// the OffHeapMap holds every record; each target's verdict agrees with the
// figures printed beside it; the self-contained offheap-report.html holds the
// same figures as the printed output; no temporary file is left behind.
// Timing and memory figures differ between machines, so no test expects a
// given verdict, only one consistent with the figures. Needs dist/ (npm test
// builds it first).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const MAIN = join(ROOT, "examples", "showcase", "main.mjs");
const RECORDS = 20_000;
const LOOKUPS = 50_000;
const LIMIT_RECORDS = 300_000; // about 60 MiB as JS objects: past a 32 MiB heap, cheap off-heap
const RUN_TIMEOUT_MS = 120_000;
const MIB = 1024 * 1024;

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
const fmtInt = (n: number): string => n.toLocaleString("en-US");

/** The cells of a printed table row (columns are 3+ spaces apart). */
const cells = (line: string): string[] => line.split(/ {3,}/).map((c) => c.trim()).filter((c) => c !== "");

/** The cells of the printed table row that starts with `label`. */
function rowCells(stdout: string, label: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(label));
  assert.ok(line !== undefined, `the table has a row "${label}"`);
  return cells(line);
}

/** The rows of every printed table: the lines between a rule of "─" and the next blank line. */
function tableRows(stdout: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("─")) inTable = true;
    else if (line.trim() === "") inTable = false;
    else if (inTable) rows.push(cells(line));
  }
  return rows;
}

/** A printed figure ("4.31 ms", "8.3 MiB", "1.74 M/s") in ms, bytes or per second. */
function figure(text: string): number {
  const m = /^([\d,.]+) (ms|s|B|KiB|MiB|GiB|\/s|k\/s|M\/s)$/.exec(text);
  assert.ok(m !== null, `"${text}" is a printed figure`);
  const unit = { ms: 1, s: 1000, B: 1, KiB: 1024, MiB: MIB, GiB: 1024 * MIB, "/s": 1, "k/s": 1e3, "M/s": 1e6 }[m[2]!]!;
  return Number(m[1]!.replace(/,/g, "")) * unit;
}

interface Step {
  ok: boolean;
  error?: string;
  records?: number;
  bad?: number;
  checked?: number;
  limit?: boolean;
  progress?: number;
  checksum?: number;
  gcCount?: number;
  gcMaxMs?: number;
  heapUsedBytes?: number;
  offHeap?: { committedBytes: number };
  lookupMs?: number;
  ownKeyLookupMs?: number;
  readMs?: number;
  parseMs?: number;
  loadMs?: number;
  openMs?: number;
}

interface Figures {
  results: Record<"map" | "off" | "control" | "loadJson" | "loadImage" | "limitMap" | "limitOff", Step>;
  targets: { label: string; pass: boolean | null; detail: string }[];
}

// What each target's verdict compares: `lhs op rhs`, from the figures printed
// in its detail and, exactly, from the figures in the JSON file.
interface Target {
  label: string;
  detail: RegExp;
  op: "<" | "≤" | "≥";
  printed(m: RegExpExecArray): [number, number];
  exact(r: Figures["results"]): [number, number];
}

const rate = (ms: number): number => LOOKUPS / (ms / 1000);
const TARGETS: Target[] = [
  {
    label: "max GC pause with offheap < 5 ms", detail: /^([\d.,]+ m?s) \(.*; (\d+) of (\d+) pauses ≥ 5 ms\); Map: [\d.,]+ m?s; the keys and names alone, no map: [\d.,]+ m?s \(\d+ GCs\)$/, op: "<",
    printed: (m) => [figure(m[1]!), 5], exact: (r) => [r.off.gcMaxMs!, 5],
  },
  {
    label: "V8 heap + off-heap ≤ ½ of Map's V8 heap", detail: /^([\d.,]+ \w+) vs ([\d.,]+ \w+) \([\d.]+×\)$/, op: "≤",
    printed: (m) => [figure(m[1]!), figure(m[2]!) / 2], exact: (r) => [r.off.heapUsedBytes! + r.off.offHeap!.committedBytes, r.map.heapUsedBytes! / 2],
  },
  {
    label: "lookups ≥ 0.5× Map's speed", detail: /^([\d.,]+ [kM]?\/s) vs ([\d.,]+ [kM]?\/s), Map's best \([\d.]+×\)$/, op: "≥",
    printed: (m) => [figure(m[1]!), figure(m[2]!) / 2], exact: (r) => [rate(r.off.lookupMs!), rate(Math.min(r.map.lookupMs!, r.map.ownKeyLookupMs!)) / 2],
  },
  {
    label: "reload from the image ≥ 10× faster than JSON.parse", detail: /^([\d.,]+ m?s) vs ([\d.,]+ m?s) read \+ parse \([\d.]+×\)$/, op: "≥",
    printed: (m) => [figure(m[2]!), figure(m[1]!) * 10],
    exact: (r) => [r.loadJson.readMs! + r.loadJson.parseMs!, (r.loadImage.loadMs! + r.loadImage.openMs!) * 10],
  },
];
// Printed figures have 3 or 4 significant digits: a comparison within this
// share of the target can go either way after rounding, and is left to the
// exact figures.
const ROUNDING = 0.02;

const meets = (lhs: number, op: Target["op"], rhs: number): boolean => (op === "<" ? lhs < rhs : op === "≤" ? lhs <= rhs : lhs >= rhs);

describe(`npm start: the showcase on ${RECORDS} records`, () => {
  const args = ["--records", String(RECORDS), "--lookups", String(LOOKUPS), "--limit-records", String(LIMIT_RECORDS), "--limit-heap-mb", "32", "--out", ".", "--json", "figures.json"];
  let run: Run;
  before(() => {
    run = showcase(args);
  });
  after(() => rmSync(run.dir, { recursive: true, force: true }));

  const figures = (): Figures => JSON.parse(readFileSync(join(run.dir, "figures.json"), "utf8")) as Figures;

  test("runs all seven steps and exits 0, reporting no failure", () => {
    assert.equal(run.status, 0, `exit status (stderr: ${run.stderr})`);
    for (let i = 1; i <= 7; i++) assert.match(run.stderr, new RegExp(`\\[${i}/7\\]`), `progress of step ${i}`);
    assert.doesNotMatch(run.stderr, /^showcase: /m);
  });

  test("prints the side-by-side table; both sides built every record and looked up the same data", () => {
    assert.match(run.stdout, /Map<string, object> +OffHeapMap<string, record> +offheap vs Map/);
    for (const label of [`build ${fmtInt(RECORDS)} records`, `lookups, ${fmtInt(LOOKUPS)} random keys`, "V8 heap used, after GC", "off-heap bytes (committed)", "RSS, after GC", "GC count", "GC pause, total", "GC pause, max"]) {
      const row = rowCells(run.stdout, label);
      assert.ok(row.length >= 3, `row "${label}" has both sides: ${JSON.stringify(row)}`);
    }
    assert.ok(figure(rowCells(run.stdout, "build")[1]!) > 0);
    assert.ok(figure(rowCells(run.stdout, "lookups,")[2]!) > 0);
    const { map, off } = figures().results;
    assert.equal(map.records, RECORDS);
    assert.equal(off.records, RECORDS);
    assert.equal(off.checksum, map.checksum, "the lookups read the same scores from both maps");
    assert.deepEqual(rowCells(run.stdout, "GC count").slice(1), [fmtInt(map.gcCount!), fmtInt(off.gcCount!)], "the printed GC counts are the measured ones");
  });

  test("saves and reloads the data both ways: every record is back and the sample checks out", () => {
    assert.deepEqual(rowCells(run.stdout, "verified after reload").slice(1), ["1,003 records ✓", "1,003 records ✓"]);
    const results = figures().results;
    for (const step of ["loadJson", "loadImage"] as const) {
      const r = results[step];
      assert.equal(r.ok, true, `${step}: ${r.error ?? ""}`);
      assert.equal(r.records, RECORDS, `${step} reloaded every record`);
      assert.equal(r.bad, 0, `${step}: no wrong record`);
      assert.equal(r.checked, 1003, `${step}: 1,000 random records, the first, the last and an absent key`);
    }
  });

  test("shows the heap limit: the Map dies of V8's heap limit, the OffHeapMap holds every record", () => {
    const { limitMap, limitOff } = figures().results;
    assert.equal(limitMap.ok, false);
    assert.equal(limitMap.limit, true, `the Map hit V8's heap limit: ${limitMap.error ?? ""}`);
    assert.ok(limitMap.progress! > 0 && limitMap.progress! < LIMIT_RECORDS, `it got part of the way: ${limitMap.progress}`);
    assert.equal(limitOff.ok, true, limitOff.error);
    assert.equal(limitOff.records, LIMIT_RECORDS);
    assert.match(run.stdout, new RegExp(`as JS objects \\(Map\\): +crashed: JavaScript heap out of memory after .*, with more than ${fmtInt(limitMap.progress!)} records built`));
    assert.match(run.stdout, new RegExp(`off-heap \\(OffHeapMap\\): +held all ${fmtInt(LIMIT_RECORDS)} records`));
  });

  test("gives each target a verdict that agrees with the figures printed beside it", () => {
    const lines = run.stdout.split("\n").filter((l) => /^ {2}[✓✗?] /.test(l));
    assert.deepEqual(lines.map((l) => cells(l.slice(4))[0]), TARGETS.map((t) => t.label), `one verdict per target:\n${run.stdout}`);
    const { results, targets } = figures();
    TARGETS.forEach((t, i) => {
      const [label, detail] = cells(lines[i]!.slice(4));
      const mark = lines[i]!.slice(2, 3);
      assert.ok(mark === "✓" || mark === "✗", `${label}: computed (every step ran), got ${mark}`);
      const m = t.detail.exec(detail!);
      assert.ok(m !== null, `${label}: the detail "${detail}" gives the figures compared`);
      const [lhs, rhs] = t.printed(m);
      if (Math.abs(lhs / rhs - 1) > ROUNDING) assert.equal(mark === "✓", meets(lhs, t.op, rhs), `${label}: ${mark} for ${detail}`);
      const [exactLhs, exactRhs] = t.exact(results);
      assert.equal(mark === "✓", meets(exactLhs, t.op, exactRhs), `${label}: ${mark} for ${exactLhs} ${t.op} ${exactRhs} (figures.json)`);
      assert.deepEqual(targets[i], { label, pass: mark === "✓", detail }, "figures.json holds the same verdict");
    });
    const gc = TARGETS[0]!.detail.exec(cells(lines[0]!.slice(4))[1]!)!;
    assert.equal(lines[0]!.startsWith("  ✓"), gc[2] === "0", "the GC pause target is met exactly when no pause reached 5 ms");
    assert.equal(Number(gc[3]), results.off.gcCount, "the pauses counted are the GC count");
  });

  test("runs the control, the build loop's strings without a map, and prints its GC figures beside the pause verdict", () => {
    const { control } = figures().results;
    assert.equal(control.ok, true, control.error);
    assert.equal(control.records, RECORDS);
    const detail = cells(run.stdout.split("\n").find((l) => l.includes("max GC pause with offheap"))!.slice(4))[1]!;
    const m = /no map: ([\d.,]+ m?s) \((\d+) GCs\)$/.exec(detail);
    assert.ok(m !== null, detail);
    assert.equal(Number(m[2]), control.gcCount, "the control's GC count");
    assert.ok(Math.abs(figure(m[1]!) - control.gcMaxMs!) <= 0.01 * control.gcMaxMs! + 0.006, `its longest pause: ${m[1]} vs ${control.gcMaxMs}`);
  });

  test("writes a self-contained offheap-report.html with the same figures and says where", () => {
    const path = join(run.dir, "offheap-report.html");
    assert.ok(run.stdout.includes(`Report: ${path}`), "prints the report's path");
    const html = readFileSync(path, "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg /g) ?? []).length >= 10, "bar charts as inline SVG");
    assert.doesNotMatch(html, /<script|<link|<img|\bsrc=|url\(|@import/i, "nothing loaded from elsewhere");
    assert.deepEqual(html.match(/https?:\/\/[^"\s]*/g)?.filter((u) => u !== "http://www.w3.org/2000/svg") ?? [], [], "no address but the SVG namespace");
    const rows = tableRows(run.stdout);
    assert.ok(rows.length >= 17, `both tables printed: ${rows.length} rows`);
    for (const row of rows) for (const cell of row) assert.ok(html.includes(esc(cell)), `the report holds "${cell}" (row ${row[0]})`);
    for (const side of ["as JS objects (Map):", "off-heap (OffHeapMap):"]) {
      const line = run.stdout.split("\n").find((l) => l.trim().startsWith(side))!;
      assert.ok(html.includes(esc(line.slice(line.indexOf(side) + side.length).trim())), `the report holds the heap-limit outcome "${line.trim()}"`);
    }
    for (const line of run.stdout.split("\n").filter((l) => /^ {2}[✓✗] /.test(l))) {
      const [label, detail] = cells(line.slice(4));
      assert.ok(html.includes(`<b>${line.slice(2, 3)}</b>${esc(label!)}:`), `the report gives "${label}" the same verdict`);
      assert.ok(html.includes(esc(detail!)), `the report holds "${detail}"`);
    }
    assert.ok(html.includes(process.version), "names the Node version");
  });

  test("removes its temporary files (JSON text and heap image)", () => {
    assert.deepEqual(readdirSync(run.dir).filter((f) => f.startsWith("offheap-showcase-")), []);
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
