// Benchmark of the buffers layer: GoMem's suites (WORKLOADS.md, "GoMem suites")
// against GoMem's published figures and in-run JS baselines.
//
//   node bench/buffers.mjs [--short] [--only SUBSTRING] [--json [FILE]] [--timeout S]
//
// Every (suite, implementation) cell is its own `node --expose-gc
// bench/buffers/cell.mjs ...` process, run one at a time (2-core machine), so
// the JIT state of one cell cannot skew another; see bench/buffers/cell.mjs for
// the timing loop. --only keeps the suites whose "group/Suite" name contains
// SUBSTRING (case-insensitive; commas separate alternatives). --json prints
// the results as JSON instead of Markdown, or writes them to FILE.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { fmtNs, machineInfo, machineLine, markdownTable, runCell } from "./common.mjs";
import { buffersDistDir, missingFiles } from "./buffers/lib.mjs";
import { GOMEM_MACHINE, GROUPS } from "./buffers/suites.mjs";

const CELL_SCRIPT = fileURLToPath(new URL("./buffers/cell.mjs", import.meta.url));
const CELL_NODE_FLAGS = ["--expose-gc"];

// Timing per cell: a run lasts about repMs, warm-up warmMs, best of `reps` runs.
const FULL = { repMs: 100, reps: 7, warmMs: 250, timeoutS: 30 };
const SHORT = { repMs: 25, reps: 3, warmMs: 40, timeoutS: 10 };

// Targets from the issue, ns per body iteration.
const RANGE_TARGET_NS = 40;
const RANGE_TARGET_SUITES = ["Allocate", "AllocateSmall", "AllocateLarge", "Random"];
const MALLOC_TARGET_NS = 60;
const GOMEM_SPEEDUP_TARGET = 100;
const GOMEM_SPEEDUP_SUITES = ["MallocLarge", "MemoryPressure"];

function parseArgs(argv) {
  const opts = { short: false, only: null, json: null, timeoutS: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RangeError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--short") opts.short = true;
    else if (arg === "--only") opts.only = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
    else if (arg === "--json") opts.json = i + 1 < argv.length && !argv[i + 1].startsWith("--") ? argv[++i] : "-";
    else if (arg === "--timeout") opts.timeoutS = Number(value());
    else throw new RangeError(`unknown option ${arg} (see the first lines of bench/buffers.mjs)`);
  }
  if (opts.timeoutS !== null && !(opts.timeoutS > 0)) throw new RangeError("--timeout must be a positive number of seconds");
  return opts;
}

/** Runs one cell in a child process; resolves to { status: "ok" | "dnf" | "error", ... }. */
function runCellProcess(group, suite, impl, timing) {
  const args = [...CELL_NODE_FLAGS, CELL_SCRIPT, group, suite, impl, String(timing.repMs), String(timing.reps), String(timing.warmMs)];
  return runCell(args, timing.timeoutS, { group, suite, impl });
}

function fmtCell(r) {
  if (!r) return "–";
  if (r.status === "dnf") return `DNF >${r.timeoutS} s`;
  if (r.status === "error") return "error†";
  return fmtNs(r.nsPerOp);
}

/** "3.2× faster" / "1.5× slower" for ours against a reference time. */
function fmtRatio(ours, ref) {
  if (ours?.status !== "ok" || !(ref > 0)) return "–";
  const x = ref / ours.nsPerOp;
  return x >= 1 ? `${x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US")}× faster` : `${(1 / x).toFixed(1)}× slower`;
}

function groupTable(group, suites, get) {
  const impls = group.impls;
  const ours = impls.length > 1 ? impls : ["offheap"];
  const header = ["suite", ...ours, "JS baseline", ...ours.map((i) => `${impls.length > 1 ? `${i} ` : ""}vs JS`), ...group.gomemColumns];
  const rows = suites.map((s) => {
    const js = s.js ? get(group.id, s.name, "js") : null;
    const jsNs = js?.status === "ok" ? js.nsPerOp : null;
    return [
      s.name,
      ...ours.map((i) => fmtCell(get(group.id, s.name, i))),
      s.js ? fmtCell(js) : "–",
      ...ours.map((i) => fmtRatio(get(group.id, s.name, i), jsNs)),
      ...s.gomem.map(fmtNs),
    ];
  });
  return markdownTable(header, rows);
}

/** The ✓/✗ lines for the targets of the suites that ran. */
function targetLines(selected, get) {
  const lines = [];
  const ran = (g, s) => selected.some((x) => x.group.id === g && x.suite.name === s);
  const mark = (ok) => (ok ? "✓" : "✗");
  const okNs = (r) => (r?.status === "ok" ? r.nsPerOp : Infinity);
  for (const index of ["treap", "avl"]) {
    for (const s of RANGE_TARGET_SUITES.filter((s) => ran("range", s))) {
      const r = get("range", s, index);
      lines.push(`${mark(okNs(r) <= RANGE_TARGET_NS)} range ${s} (${index}): ≤ ${RANGE_TARGET_NS} ns/op (measured ${fmtCell(r)})`);
    }
  }
  if (ran("scalable", "Malloc")) {
    const r = get("scalable", "Malloc", "offheap");
    lines.push(`${mark(okNs(r) <= MALLOC_TARGET_NS)} scalable Malloc: ≤ ${MALLOC_TARGET_NS} ns/op (measured ${fmtCell(r)})`);
  }
  for (const name of GOMEM_SPEEDUP_SUITES.filter((s) => ran("scalable", s))) {
    const s = GROUPS.find((g) => g.id === "scalable").suites.find((x) => x.name === name);
    const r = get("scalable", name, "offheap");
    const limit = s.gomem[0] / GOMEM_SPEEDUP_TARGET;
    lines.push(`${mark(okNs(r) <= limit)} scalable ${name}: ≥ ${GOMEM_SPEEDUP_TARGET}× faster than GoMem's ${fmtNs(s.gomem[0])}, i.e. ≤ ${fmtNs(limit)} ns/op (measured ${fmtCell(r)}, ${fmtRatio(r, s.gomem[0])})`);
  }
  for (const { suite } of selected.filter((x) => x.group.id === "reader")) {
    const r = get("reader", suite.name, "offheap");
    const js = get("reader", suite.name, "js");
    lines.push(`${mark(okNs(r) < okNs(js))} reader ${suite.name}: faster than its Buffer.concat baseline (${fmtCell(r)} vs ${fmtCell(js)} ns/op)`);
  }
  return lines;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const timing = { ...(opts.short ? SHORT : FULL) };
  if (opts.timeoutS !== null) timing.timeoutS = opts.timeoutS;
  const log = (s) => process.stderr.write(`${s}\n`);

  const selected = [];
  for (const group of GROUPS) {
    for (const suite of group.suites) {
      const key = `${group.id}/${suite.name}`.toLowerCase();
      if (!opts.only || opts.only.some((o) => key.includes(o))) selected.push({ group, suite });
    }
  }
  if (selected.length === 0) throw new RangeError(`--only ${opts.only.join(",")}: no suite matches (names are group/Suite: ${GROUPS.map((g) => `${g.id}/${g.suites[0].name}`).join(", ")}, ...)`);
  const missing = missingFiles();
  if (missing.length) log(`${buffersDistDir()}: missing ${missing.join(", ")} (run \`npx tsc -p tsconfig.json\`); those cells will fail`);

  const machine = machineInfo();
  const results = [];
  const runStart = performance.now();
  for (const { group, suite } of selected) {
    for (const impl of [...group.impls, ...(suite.js ? ["js"] : [])]) {
      process.stderr.write(`  ${group.id}/${suite.name} / ${impl} ... `);
      const r = await runCellProcess(group.id, suite.name, impl, timing);
      results.push(r);
      log(`${r.status === "error" ? r.error : fmtCell(r)}  [${r.wallS.toFixed(1)} s]`);
    }
  }
  const get = (g, s, i) => results.find((r) => r.group === g && r.suite === s && r.impl === i);
  const targets = targetLines(selected, get);
  const failed = results.filter((r) => r.status !== "ok");
  if (failed.length) process.exitCode = 1;
  const totalS = (performance.now() - runStart) / 1000;

  if (opts.json) {
    const report = { date: new Date().toISOString(), machine, node: process.version, buffersDist: buffersDistDir(), timing, gomemMachine: GOMEM_MACHINE, results, targets, totalS };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (opts.json === "-") process.stdout.write(text);
    else await writeFile(opts.json, text);
    if (opts.json === "-") return;
  }

  const out = [];
  out.push("## offheap buffers benchmark (GoMem suites)");
  out.push("");
  out.push(machineLine(machine));
  out.push(`Each cell: a fresh \`node ${CELL_NODE_FLAGS.join(" ")}\` process; ${timing.warmMs} ms warm-up, then the best of ${timing.reps} runs of about ${timing.repMs} ms${opts.short ? " (--short)" : ""}.`);
  out.push(`ns/op is Go's: ns per iteration of the suite's body (lower is better). GoMem columns: GoMem's published figures, **measured on a different machine** (${GOMEM_MACHINE}): compare shapes; compare ratios only against the JS baseline, measured here in the same run.`);
  for (const group of GROUPS) {
    const suites = selected.filter((x) => x.group === group).map((x) => x.suite);
    if (suites.length === 0) continue;
    out.push("");
    out.push(`### ${group.title}`);
    out.push("");
    out.push(group.note);
    out.push("");
    out.push(groupTable(group, suites, get));
  }
  if (failed.length) {
    out.push("");
    for (const r of failed) out.push(`† ${r.group}/${r.suite} / ${r.impl}: ${r.status === "dnf" ? `did not finish in ${r.timeoutS} s` : r.error}`);
  }
  if (targets.length) {
    out.push("");
    out.push("Targets (from the issue):");
    out.push("");
    for (const t of targets) out.push(`- ${t}`);
  }
  out.push("");
  out.push(`(total ${totalS.toFixed(0)} s)`);
  console.log(out.join("\n"));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
