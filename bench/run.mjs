// Benchmark harness: runs every (allocator, workload) cell in its own process and prints one Markdown table.
//
//   node bench/run.mjs [--short] [--only offheap,v8] [--workloads pair64,churn] [--timeout S] [--json FILE]
//
// Cells run one after another (this is a 2-core machine: one core for the
// cell, one for everything else), each as `node --expose-gc bench/cell.mjs
// <allocator> <workload>`, killed after --timeout seconds (then "DNF"). Cells
// are ns per op, one op = one alloc or one free as WORKLOADS.md counts them.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { fmtNs, machineInfo, machineLine, markdownTable, optionList, parseOptions, runCell } from "./common.mjs";
import { ALLOCATORS, offheapDistUrl } from "./allocators.mjs";
import { buildTlsf } from "./as-tlsf/build.mjs";
import { gcTrace } from "./gc-trace.mjs";
import { WORKLOADS } from "./workloads.mjs";

const CELL_SCRIPT = fileURLToPath(new URL("./cell.mjs", import.meta.url));
const CELL_NODE_FLAGS = ["--expose-gc"];

// Targets for offheap from the issue, in ns/op.
const TARGET_NS = { pair64: 5, batch: 16, churn: 40 };

function parseArgs(argv) {
  const opts = { short: false, only: null, workloads: null, timeoutS: null, json: null };
  parseOptions(argv, {
    "--short": () => (opts.short = true),
    "--only": (value) => (opts.only = optionList(value())),
    "--workloads": (value) => (opts.workloads = optionList(value())),
    "--timeout": (value) => (opts.timeoutS = Number(value())),
    "--json": (value) => (opts.json = value()),
  }, "bench/run.mjs");
  for (const name of opts.only ?? []) if (!ALLOCATORS.includes(name)) throw new RangeError(`--only: unknown allocator "${name}" (${ALLOCATORS.join(", ")})`);
  for (const name of opts.workloads ?? []) if (!WORKLOADS[name]) throw new RangeError(`--workloads: unknown workload "${name}" (${Object.keys(WORKLOADS).join(", ")})`);
  if (opts.timeoutS !== null && !(opts.timeoutS > 0)) throw new RangeError("--timeout must be a positive number of seconds");
  opts.timeoutS ??= opts.short ? 15 : 60;
  return opts;
}

/** Runs one cell in a child process; resolves to { status: "ok" | "dnf" | "error", ... }. */
function runCellProcess(allocator, workload, timeoutS) {
  return runCell([...CELL_NODE_FLAGS, CELL_SCRIPT, allocator, workload], timeoutS, { allocator, workload });
}

function fmtCell(r) {
  if (!r) return "–";
  if (r.status === "dnf") return `DNF >${r.timeoutS} s`;
  if (r.status === "error") return "error†";
  const rate = r.allocsPerSec === null ? "" : ` (${(r.allocsPerSec / 1e6).toFixed(1)} M allocs/s)`;
  return `${fmtNs(r.nsPerOp)}${rate}`;
}

/** The ✓/✗ lines for offheap's targets, computed from the results. */
function targetLines(get, workloads) {
  const lines = [];
  const mark = (ok) => (ok === null ? "–" : ok ? "✓" : "✗");
  for (const w of workloads.filter((w) => TARGET_NS[w] !== undefined)) {
    const off = get("offheap", w);
    const offOk = off?.status === "ok";
    const offText = off ? fmtCell(off) : "not measured";
    lines.push(`${mark(offOk ? off.nsPerOp <= TARGET_NS[w] : off ? false : null)} ${w}: offheap ≤ ${TARGET_NS[w]} ns/op (measured ${offText})`);

    const tlsf = get("as-tlsf", w);
    let half = null;
    if (off && tlsf?.status === "ok") half = offOk && off.nsPerOp <= tlsf.nsPerOp / 2;
    else if (off && tlsf?.status === "dnf") half = offOk;
    lines.push(`${mark(half)} ${w}: offheap at most half of as-tlsf (${offText} vs ${tlsf ? fmtCell(tlsf) : "not measured"})`);

    // A DNF peer ran past the timeout, which a finished offheap cell did not.
    const thing = get("thi.ng", w);
    let faster = null;
    if (off && thing?.status === "ok") faster = offOk && off.nsPerOp < thing.nsPerOp;
    else if (off && thing?.status === "dnf") faster = offOk;
    lines.push(`${mark(faster)} ${w}: offheap faster than thi.ng (${offText} vs ${thing ? fmtCell(thing) : "not measured"})`);
  }
  const off = get("offheap", "churn");
  const profiled = get("offheap-profiled", "churn");
  if (off?.status === "ok" && profiled?.status === "ok") {
    const cost = profiled.nsPerOp / off.nsPerOp - 1;
    lines.push(`${mark(cost <= 0.1)} churn: the heap profiler costs ≤ 10% (measured ${fmtCell(profiled)} vs ${fmtCell(off)}, ${(cost * 100).toFixed(1)}%)`);
  }
  return lines;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const allocators = ALLOCATORS.filter((a) => !opts.only || opts.only.includes(a));
  const workloads = Object.keys(WORKLOADS).filter((w) => (opts.workloads ? opts.workloads.includes(w) : !opts.short || WORKLOADS[w].core));
  const log = (s) => process.stderr.write(`${s}\n`);

  const distUrl = offheapDistUrl();
  const distPath = fileURLToPath(distUrl);
  if (allocators.includes("offheap") && !existsSync(distPath)) {
    log(`offheap: ${distPath} does not exist (run \`npm run build\`, or set OFFHEAP_DIST); its cells will fail`);
  }
  if (allocators.includes("as-tlsf")) await buildTlsf({ log });

  const machine = machineInfo();
  const results = [];
  const runStart = performance.now();
  for (const w of workloads) {
    for (const a of allocators) {
      process.stderr.write(`  ${w} / ${a} ... `);
      const r = await runCellProcess(a, w, opts.timeoutS);
      results.push(r);
      log(`${r.status === "error" ? r.error : fmtCell(r)}  [${r.wallS.toFixed(1)} s]`);
    }
  }
  const get = (a, w) => results.find((r) => r.allocator === a && r.workload === w);

  let trace = null;
  if (allocators.includes("offheap")) {
    try {
      trace = await gcTrace();
    } catch (err) {
      trace = { error: err.message };
    }
  }

  const out = [];
  out.push("## offheap benchmark");
  out.push("");
  out.push(machineLine(machine));
  out.push(`offheap: ${process.env.OFFHEAP_DIST ? `$OFFHEAP_DIST = ${distPath}` : "dist/index.js"}. Each cell: a fresh \`node ${CELL_NODE_FLAGS.join(" ")}\` process, warm-up at 1/10 size, timeout ${opts.timeoutS} s.`);
  out.push("");
  out.push("ns per op (one op = one alloc or one free; workloads as in WORKLOADS.md; lower is better):");
  out.push("");
  out.push(markdownTable(["workload", ...allocators], workloads.map((w) => [w, ...allocators.map((a) => fmtCell(get(a, w)))])));
  const failed = results.filter((r) => r.status === "error");
  if (failed.length) {
    process.exitCode = 1;
    out.push("");
    for (const r of failed) out.push(`† ${r.workload} / ${r.allocator}: ${r.error}`);
  }
  out.push("");
  out.push("GC pauses inside the timed region (PerformanceObserver 'gc'): total ms (max pause ms, collections):");
  out.push("");
  const gcCell = (r) => {
    if (r?.status !== "ok") return "–";
    return r.gc.count === 0 ? "0" : `${r.gc.totalMs.toFixed(1)} (max ${r.gc.maxMs.toFixed(1)}, ${r.gc.count})`;
  };
  out.push(markdownTable(["workload", ...allocators], workloads.map((w) => [w, ...allocators.map((a) => gcCell(get(a, w)))])));
  const targets = allocators.includes("offheap") ? targetLines(get, workloads) : [];
  if (targets.length) {
    out.push("");
    out.push("Targets for offheap (from the issue):");
    out.push("");
    for (const t of targets) out.push(`- ${t}`);
  }
  if (trace) {
    out.push("");
    out.push(trace.error ? `gc during address-API loop: failed (${trace.error})` : `gc during address-API loop: ${trace.collections} collections`);
  }
  out.push("");
  out.push(`(total ${((performance.now() - runStart) / 1000).toFixed(0)} s)`);
  console.log(out.join("\n"));

  if (opts.json) {
    const report = {
      date: new Date().toISOString(),
      machine,
      node: process.version,
      offheapDist: distPath,
      timeoutS: opts.timeoutS,
      results,
      targets,
      gcTrace: trace && { ...trace, gcLines: undefined },
    };
    await writeFile(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
