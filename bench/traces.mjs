// Real-program traces: replays the committed traces (bench/traces/data/)
// against offheap, AS TLSF and V8 from JS, and against glibc, mimalloc,
// jemalloc and tcmalloc natively, and prints Markdown tables of ns per op.
//
//   node bench/traces.mjs [--only offheap,mimalloc] [--traces python-index,git-log] [--files A.trace,B.trace.gz]
//                         [--runs N] [--timeout S] [--json FILE]
//
// --files replays traces of other programs (recorded with /work/shared/traces:
// tracer.c, then convert.py; gzipped or not), named by their file names:
// alone, only those; with --traces, those and the committed ones named. Each
// file is read and checked (every free of a live slot, every alloc into a
// free one) before any cell runs.
//
// Every cell is its own process, run one at a time (2-core machine): JS
// cells are `node --expose-gc bench/traces/cell.mjs <allocator> <trace>`,
// native ones bench/traces/replay-passes.c (built by native/build.mjs with
// cc into .bench-cache/, skipped with a note without cc or a library). Each replays
// its trace 3 times: pass 1 is the "first pass" (its first 100,000 ops also
// timed alone), pass 3 is "warm". Both languages have a floor: the same loop
// over a bump allocator that never frees; "net" figures subtract it. The
// cells run --runs rounds (default 5), interleaved, and the tables show medians.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { fmtNs, machineInfo, machineLine, markdownTable, median, optionList, parseOptions, runCell } from "./common.mjs";
import { offheapDistUrl } from "./allocators.mjs";
import { buildTlsf } from "./as-tlsf/build.mjs";
import { buildNative, NATIVE_ALLOCATORS, nativeCell, wrongMalloc } from "./native/build.mjs";
import { TRACES } from "./traces/catalog.mjs";
import { committedTracePath, isGzip, loadTrace, traceName, traceStats } from "./traces/trace-file.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CELL_SCRIPT = join(HERE, "traces", "cell.mjs");
const NATIVE_SOURCE = join(HERE, "traces", "replay-passes.c");
const CACHE_DIR = join(HERE, "..", ".bench-cache", "traces");

/** JS columns (cell.mjs; "floor" is the JS loop floor), then native ones (replay-passes.c; "c-floor" is the C loop floor). */
const JS_ALLOCATORS = ["offheap", "as-tlsf", "v8", "floor"];
const ALL = [...JS_ALLOCATORS, ...NATIVE_ALLOCATORS];
const PHASES = [
  { key: "first", title: "First pass (the trace once, in a fresh process)" },
  { key: "warm", title: "Warm (pass 3 of 3 in one process)" },
  { key: "prefix", title: "First 100,000 ops (of the first pass, fresh process)" },
];
const LARGE_LIVE_BYTES = 64 * 2 ** 20;
// Ops of the separately timed start of the first pass, as in traces/cell.mjs and traces/replay-passes.c.
const PREFIX_OPS = 100_000;

function parseArgs(argv) {
  const opts = { only: null, traces: null, files: null, runs: 5, timeoutS: 180, json: null };
  parseOptions(argv, {
    "--only": (value) => (opts.only = optionList(value())),
    "--traces": (value) => (opts.traces = optionList(value())),
    "--files": (value) => (opts.files = optionList(value())),
    "--runs": (value) => (opts.runs = Number(value())),
    "--timeout": (value) => (opts.timeoutS = Number(value())),
    "--json": (value) => (opts.json = value()),
  }, "bench/traces.mjs");
  for (const name of opts.only ?? []) if (!ALL.includes(name)) throw new RangeError(`--only: unknown allocator "${name}" (${ALL.join(", ")})`);
  const names = TRACES.map((t) => t.name);
  for (const name of opts.traces ?? []) if (!names.includes(name)) throw new RangeError(`--traces: unknown trace "${name}" (${names.join(", ")})`);
  if (!(Number.isInteger(opts.runs) && opts.runs >= 1)) throw new RangeError("--runs must be a positive integer");
  if (!(opts.timeoutS > 0)) throw new RangeError("--timeout must be a positive number of seconds");
  return opts;
}

/**
 * The traces to replay: the committed ones (all, or those --traces names)
 * and the files --files names, each { name, kind, program, path }. Throws
 * RangeError for a file that does not exist or whose name is taken.
 */
function selectTraces(opts) {
  const committed = TRACES.filter((t) => (opts.traces ? opts.traces.includes(t.name) : opts.files === null))
    .map((t) => ({ ...t, path: committedTracePath(t.name) }));
  const files = (opts.files ?? []).map((file) => {
    const path = resolve(file);
    if (!existsSync(path)) throw new RangeError(`--files: ${file} does not exist`);
    return { name: traceName(path), kind: "not in the repository", program: path, path };
  });
  const all = [...committed, ...files];
  for (const [i, t] of all.entries()) {
    if (all.findIndex((u) => u.name === t.name) !== i) throw new RangeError(`--files: ${t.program} is named "${t.name}", as another trace of this run is (rename the file)`);
  }
  return all;
}

/** An uncompressed copy of a trace for the native replayer: the file itself, or, gzipped, its copy in the cache (written once per content). */
function rawTracePath(trace) {
  const file = readFileSync(trace.path);
  if (!isGzip(file)) return trace.path;
  const path = join(CACHE_DIR, `${trace.name}.trace`);
  const stamp = `${path}.source`;
  const key = createHash("sha256").update(file).digest("hex");
  if (!existsSync(path) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== key) {
    writeFileSync(path, gunzipSync(file));
    writeFileSync(stamp, key);
  }
  return path;
}

function runOne(allocator, trace, ctx) {
  const base = { allocator, trace: trace.name };
  // A committed trace goes to the cell by name, another by path (cell.mjs).
  const arg = trace.path === committedTracePath(trace.name) ? trace.name : trace.path;
  if (JS_ALLOCATORS.includes(allocator)) return runCell(["--expose-gc", CELL_SCRIPT, allocator, arg], ctx.timeoutS, base);
  const { command, args, env } = nativeCell(ctx.nativeBin, allocator, ctx.rawPaths.get(trace.name));
  return runCell(args, ctx.timeoutS, base, { command, env }).then((r) => {
    const wrong = r.status === "ok" && wrongMalloc(r);
    return wrong ? { ...r, status: "error", error: wrong } : r;
  });
}

/** ns/op of one phase from one cell result. */
function phaseNs(r, phase) {
  if (phase === "first") return r.passNs[0] / r.ops;
  if (phase === "warm") return r.passNs[r.passNs.length - 1] / r.ops;
  return r.prefixNs / r.prefixOps;
}

/**
 * Per (allocator, trace): medians over runs of each phase and the footprint,
 * or the failure of the first failed run. A floor's phases take the fastest
 * run instead: the floor is the loop's own cost once V8 has compiled it, and
 * a pass too short for that (git-log's 90,131 ops: its third pass read 3.7
 * and 3.8 ns/op in two runs of five, 37-44 in the other three) would make
 * the median floor exceed the allocators' whole cost.
 */
function summarize(results, allocator, trace) {
  const mine = results.filter((r) => r.allocator === allocator && r.trace === trace);
  if (mine.length === 0) return null;
  const bad = mine.find((r) => r.status !== "ok");
  if (bad) return bad;
  const out = { status: "ok", runs: mine.length };
  const pick = allocator.endsWith("floor") ? (xs) => Math.min(...xs) : median;
  for (const { key } of PHASES) out[key] = pick(mine.map((r) => phaseNs(r, key)));
  const fp = mine.map((r) => r.footprintBytes[0]);
  out.footprintBytes = fp.every((x) => x !== null) ? median(fp) : null;
  const resident = mine.map((r) => r.residentBytes?.[0] ?? null);
  out.residentBytes = resident.every((x) => x !== null) ? median(resident) : null;
  return out;
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

function fmtResult(s, phase) {
  if (!s) return "–";
  if (s.status === "dnf") return `DNF >${s.timeoutS} s`;
  if (s.status === "error") return "error†";
  return fmtNs(s[phase]);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s) => process.stderr.write(`${s}\n`);
  const traces = selectTraces(opts);
  mkdirSync(CACHE_DIR, { recursive: true });

  let allocators = ALL.filter((a) => !opts.only || opts.only.includes(a));
  const notes = [];
  if (allocators.includes("offheap") && !existsSync(fileURLToPath(offheapDistUrl()))) {
    log(`offheap: ${fileURLToPath(offheapDistUrl())} does not exist (run \`npm run build\`); its cells will fail`);
  }
  if (allocators.includes("as-tlsf")) await buildTlsf({ log });
  let nativeBin = null;
  if (allocators.some((a) => NATIVE_ALLOCATORS.includes(a))) {
    const built = await buildNative({ log, source: NATIVE_SOURCE, name: "replay-passes" });
    nativeBin = built.binary ?? null;
    if (built.note) notes.push(built.note);
  }
  allocators = allocators.filter((a) => {
    if (!NATIVE_ALLOCATORS.includes(a)) return true;
    if (!nativeBin) return false;
    const missing = nativeCell(nativeBin, a, "").note;
    if (missing) notes.push(missing);
    return !missing;
  });
  for (const n of notes) log(n);

  log("trace stats ...");
  const stats = Object.fromEntries(traces.map((t) => {
    const pairs = loadTrace(t.path); // its errors name the file
    try {
      return [t.name, traceStats(pairs)];
    } catch (err) {
      throw new RangeError(`${t.path}: not a valid trace: ${err.message}`);
    }
  }));

  const machine = machineInfo();
  // The native replayer's uncompressed copies, made (or checked against the cache) once per trace, not per cell.
  const rawPaths = new Map(allocators.some((a) => NATIVE_ALLOCATORS.includes(a)) ? traces.map((t) => [t.name, rawTracePath(t)]) : []);
  const ctx = { timeoutS: opts.timeoutS, nativeBin, rawPaths };
  const results = [];
  const runStart = performance.now();
  for (let run = 1; run <= opts.runs; run++) {
    for (const t of traces) {
      for (const a of allocators) {
        process.stderr.write(`  [${run}/${opts.runs}] ${t.name} / ${a} ... `);
        const r = await runOne(a, t, ctx);
        results.push(r);
        log(r.status === "ok" ? `first ${fmtNs(phaseNs(r, "first"))}, warm ${fmtNs(phaseNs(r, "warm"))}, 100k ${fmtNs(phaseNs(r, "prefix"))} ns/op  [${r.wallS.toFixed(1)} s]` : `${r.status} ${r.error ?? ""}  [${r.wallS.toFixed(1)} s]`);
      }
    }
  }
  const get = (a, t) => summarize(results, a, t);
  const net = (a, floor, t, phase) => {
    const s = get(a, t);
    const f = get(floor, t);
    return s?.status === "ok" && f?.status === "ok" ? s[phase] - f[phase] : null;
  };
  const ratio = (x, y) => (x === null || y === null || y <= 0 || x < 0 ? null : x / y);
  const fmtRatio = (r) => (r === null ? "–" : `${r.toFixed(2)}×`);
  const fmtNet = (x) => (x === null ? "–" : fmtNs(Math.max(x, 0)));

  const out = [];
  out.push("## offheap on real-program traces");
  out.push("");
  out.push(machineLine(machine));
  out.push(`Date: ${new Date().toISOString().slice(0, 10)}. Runs per cell: ${opts.runs}${opts.runs > 1 ? " (medians; the floors' fastest run)" : ""}. Each cell: a fresh process, 3 passes, timeout ${opts.timeoutS} s.`);
  for (const n of notes) out.push(n);
  out.push("");
  out.push(markdownTable(
    ["trace", "kind", "program", "ops", "allocs", "peak live MiB"],
    traces.map((t) => {
      const s = stats[t.name];
      return [t.name, t.kind, t.program, s.ops.toLocaleString("en-US"), s.allocs.toLocaleString("en-US"), mib(s.peakLiveBytes)];
    }),
    3,
  ));
  const jsCols = allocators.filter((a) => JS_ALLOCATORS.includes(a));
  const nativeCols = allocators.filter((a) => NATIVE_ALLOCATORS.includes(a));
  for (const { key, title } of PHASES) {
    out.push("");
    out.push(`### ${title}: ns per op (one op = one alloc or one free)`);
    out.push("");
    out.push(markdownTable(
      ["trace", "ops", ...jsCols, ...nativeCols, "offheap net", "TLSF net", "mimalloc net", "offheap/TLSF net", "offheap/mimalloc net"],
      traces.map((t) => {
        const ops = key === "prefix" ? Math.min(PREFIX_OPS, stats[t.name].ops) : stats[t.name].ops;
        const offNet = net("offheap", "floor", t.name, key);
        const tlsfNet = net("as-tlsf", "floor", t.name, key);
        const miNet = net("mimalloc", "c-floor", t.name, key);
        return [
          t.name,
          ops.toLocaleString("en-US"),
          ...[...jsCols, ...nativeCols].map((a) => fmtResult(get(a, t.name), key)),
          fmtNet(offNet),
          fmtNet(tlsfNet),
          fmtNet(miNet),
          fmtRatio(ratio(offNet, tlsfNet)),
          fmtRatio(ratio(offNet, miNet)),
        ];
      }),
    ));
  }
  // A table of one memory figure (key: footprintBytes or residentBytes) per trace and allocator, with its note.
  const memoryTable = (title, cols, key, note) => {
    out.push("", `### ${title} in the first pass: MiB (× peak live bytes)`, "");
    out.push(markdownTable(
      ["trace", "peak live MiB", ...cols],
      traces.map((t) => {
        const live = stats[t.name].peakLiveBytes;
        return [t.name, mib(live), ...cols.map((a) => {
          const s = get(a, t.name);
          return s?.status === "ok" && s[key] != null ? `${mib(s[key])} (${(s[key] / live).toFixed(2)}×)` : "–";
        })];
      }),
    ));
    out.push("", note);
  };
  const fpCols = allocators.filter((a) => a !== "v8" && !a.endsWith("floor"));
  memoryTable("Peak footprint", fpCols, "footprintBytes",
    "offheap: `heap.stats().peakCommittedBytes` (metadata included); as-tlsf: the wasm memory's size; native: peak RSS (VmHWM) less the RSS before pass 1. The replayers write one byte per block, so the untouched pages of large blocks do not count natively.");
  const residentCols = fpCols.filter((a) => traces.some((t) => get(a, t.name)?.residentBytes != null));
  if (residentCols.length) {
    memoryTable("Resident", residentCols, "residentBytes",
      "The pages of the allocator's memory that the OS holds after the first pass (its mapping's Rss in /proc/self/smaps), counted as the native columns above are: neither allocator gives pages back, so this is their peak. Pages committed but never written (cached objects never handed out, the untouched pages of large blocks, metadata for pages not in use) are not resident.");
  }
  const failed = results.filter((r) => r.status === "error");
  if (failed.length) {
    process.exitCode = 1;
    out.push("");
    for (const r of failed) out.push(`† ${r.trace} / ${r.allocator}: ${r.error}`);
  }

  const targets = [];
  const mark = (ok) => (ok === null ? "–" : ok ? "✓" : "✗");
  const check = (label, x, y, limit) => {
    const r = ratio(x, y);
    targets.push(`${mark(r === null ? null : r <= limit)} ${label} ≤ ${limit}× (measured ${fmtRatio(r)}: ${fmtNet(x)} vs ${fmtNet(y)} ns/op net)`);
  };
  if (allocators.includes("offheap")) {
    for (const t of traces) {
      const n = t.name;
      check(`${n}: first pass, offheap / TLSF net`, net("offheap", "floor", n, "first"), net("as-tlsf", "floor", n, "first"), 1.0);
      check(`${n}: warm, offheap / TLSF net`, net("offheap", "floor", n, "warm"), net("as-tlsf", "floor", n, "warm"), 0.6);
      check(`${n}: warm, offheap / mimalloc net`, net("offheap", "floor", n, "warm"), net("mimalloc", "c-floor", n, "warm"), 1.5);
      check(`${n}: first 100k ops, offheap / TLSF net`, net("offheap", "floor", n, "prefix"), net("as-tlsf", "floor", n, "prefix"), 1.0);
      const off = get("offheap", n);
      const tlsf = get("as-tlsf", n);
      if (off?.status === "ok" && tlsf?.status === "ok") {
        const resident = off.residentBytes != null && tlsf.residentBytes != null ? `; resident ${mib(off.residentBytes)} vs ${mib(tlsf.residentBytes)}` : "";
        targets.push(`${mark(off.footprintBytes <= tlsf.footprintBytes)} ${n}: footprint offheap ≤ TLSF (${mib(off.footprintBytes)} vs ${mib(tlsf.footprintBytes)} MiB${resident})`);
      }
      const live = stats[n].peakLiveBytes;
      if (off?.status === "ok" && live > LARGE_LIVE_BYTES) {
        targets.push(`${mark(off.footprintBytes <= 1.2 * live)} ${n}: footprint offheap ≤ 1.2× peak live (${(off.footprintBytes / live).toFixed(2)}×)`);
      }
    }
    out.push("");
    out.push("Targets for offheap (issue 12):");
    out.push("");
    for (const t of targets) out.push(`- ${t}`);
  }
  out.push("");
  // Other processes on a 2-core machine skew every cell; the load average at both ends shows whether they ran.
  out.push(`(total ${((performance.now() - runStart) / 1000).toFixed(0)} s; load average ${os.loadavg()[0].toFixed(2)} at the end)`);
  console.log(out.join("\n"));

  if (opts.json) {
    const report = { date: new Date().toISOString(), machine, node: process.version, runs: opts.runs, traces: traces.map((t) => ({ ...t, ...stats[t.name] })), results, targets };
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
