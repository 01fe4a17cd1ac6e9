// `npm start`: offheap's showcase. Builds one data set, N records of
// { id, name, score, lat, lng } under keys "user:<id>", twice: as a
// Map<string, object> and as an OffHeapMap of records, each in its own Node
// process (worker.mjs), and compares build time, random lookups and
// updates, memory and garbage collection side by side. Then it saves both
// (JSON text, heap image) and times reloading each in a fresh process, and
// shows the heap limit: under --max-old-space-size=256 the Map dies and the
// OffHeapMap holds the data. Prints a table, writes offheap-report.html.
//
//   node examples/showcase/main.mjs [--records N] [--out DIR] [--json FILE] [--keep] ...   (--help lists all)
//
// Steps run one after another, never side by side: this is meant for a
// 2-core machine, and one process's work must not slow the other's figures.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DEFAULT_SEED } from "./data.mjs";
import { fmtBytes, fmtInt, fmtLess, fmtMore, fmtMs, fmtRate, fmtTimes } from "./format.mjs";
import { renderReport } from "./report.mjs";

const WORKER = fileURLToPath(new URL("./worker.mjs", import.meta.url));
const DIST = fileURLToPath(new URL("../../dist/collections/index.js", import.meta.url));
const REPORT_NAME = "offheap-report.html";
const TARGET_RECORDS = 5_000_000;
const TARGET_GC_MAX_MS = 5;
const TARGET_MEMORY_SHARE = 0.5;
const TARGET_LOOKUP_SHARE = 0.5;
const TARGET_RELOAD_SPEEDUP = 10;
// Enough records that the Map needs far more than a 256 MiB heap (about 210 B each).
const MIN_LIMIT_RECORDS = 3_000_000;

const HELP = `Usage: node examples/showcase/main.mjs [options]     (npm start -- [options])

Builds N records as a Map<string, object> and as an OffHeapMap, compares them,
saves and reloads both, shows the V8 heap limit, prints a table and writes ${REPORT_NAME}.

  --records N         records in the data set (default 5,000,000; about 50 s here)
  --lookups N         random-key lookups to time (default 1,000,000)
  --updates N         random-key updates (score += 1) to time (default: as --lookups)
  --seed S            seed of the xorshift32 sequences (default ${DEFAULT_SEED})
  --limit-heap-mb M   --max-old-space-size of the heap-limit step (default 256)
  --limit-records N   records of the heap-limit step (default: --records, at least ${fmtInt(MIN_LIMIT_RECORDS)})
  --out DIR           where to write ${REPORT_NAME} (default: the current directory)
  --json FILE         also write every figure as JSON to FILE
  --keep              keep the JSON file and the heap image (they are deleted by default)
  --timeout S         seconds before a step's process is killed (default 600; 120 for the heap-limit steps)
  --help              this text`;

function parseArgs(argv) {
  const o = {
    records: TARGET_RECORDS, lookups: 1_000_000, updates: -1, seed: DEFAULT_SEED, limitHeapMb: 256, limitRecords: -1,
    out: ".", json: "", keep: false, timeout: 600, help: false,
  };
  const numbers = { "--records": "records", "--lookups": "lookups", "--updates": "updates", "--seed": "seed", "--limit-heap-mb": "limitHeapMb", "--limit-records": "limitRecords", "--timeout": "timeout" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RangeError(`${arg} needs a value (see --help)`);
      return argv[++i];
    };
    if (arg === "--help" || arg === "-h") o.help = true;
    else if (arg === "--keep") o.keep = true;
    else if (arg === "--out") o.out = value();
    else if (arg === "--json") o.json = value();
    else if (arg in numbers) {
      const text = value();
      const n = Number(text.replace(/[_,]/g, ""));
      const min = arg === "--seed" ? 0 : 1;
      if (!Number.isSafeInteger(n) || n < min || (arg === "--seed" && n >= 2 ** 32)) throw new RangeError(`${arg} ${text}: expected an integer${arg === "--seed" ? " in [0, 2^32)" : " ≥ 1"}`);
      o[numbers[arg]] = n;
    } else throw new RangeError(`unknown option ${arg} (see --help)`);
  }
  if (o.updates < 0) o.updates = o.lookups;
  if (o.limitRecords < 0) o.limitRecords = Math.max(o.records, MIN_LIMIT_RECORDS);
  return o;
}

// ---- child processes --------------------------------------------------------

let current = null; // the running child, killed on Ctrl-C

/**
 * Runs worker.mjs in a new Node process; resolves to its last JSON line plus
 * { ok: true, wallMs }, or to { ok: false, error, limit, progress, ... } (limit: it
 * ran into one of V8's limits; progress: the last "progress" count it printed).
 * A child that outlives `timeoutS` is killed.
 */
function runWorker(nodeFlags, args, timeoutS) {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...nodeFlags, WORKER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    current = child;
    let out = "";
    let err = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (s) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (err = (err + s).slice(-100_000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.on("error", (e) => {
      clearTimeout(timer);
      done({ ok: false, wallMs: 0, error: `cannot start ${process.execPath}: ${e.message}`, limit: false, progress: 0 });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = null;
      const wallMs = performance.now() - t0;
      const lines = out.split("\n");
      const json = lines.findLast((l) => l.startsWith("{"));
      const progress = Number(lines.findLast((l) => l.startsWith("progress "))?.slice(9) ?? 0);
      if (!timedOut && code === 0 && json !== undefined) return done({ ok: true, wallMs, ...JSON.parse(json) });
      const limit = limitHit(err);
      const why = timedOut ? `did not finish in ${timeoutS} s (killed)` : limit !== ""
        ? limit : `${signal ?? `exit code ${code}`}: ${errorLine(err)}`;
      done({ ok: false, wallMs, error: why, limit: limit !== "", timedOut, exit: signal ?? code, progress });
    });
  });
}

// The line of a child's stderr that names its uncaught error ("InvalidImageError: Heap.load: ...").
function errorLine(stderr) {
  const lines = stderr.trim().split("\n");
  return lines.find((l) => /^[A-Z]\w*(Error|Exception)\b/.test(l)) ?? lines.at(-1) ?? "no output";
}

// Which of V8's limits a child's stderr shows it ran into, or "".
function limitHit(stderr) {
  if (/heap out of memory|Reached heap limit/i.test(stderr)) return "JavaScript heap out of memory";
  if (/Map maximum size exceeded/.test(stderr)) return "RangeError: Map maximum size exceeded (a JS Map holds at most 2^24 entries)";
  if (/Invalid string length|ERR_STRING_TOO_LONG/.test(stderr)) return "the JSON text is longer than V8's maximum string length";
  return "";
}

function step(i, total, text) {
  process.stderr.write(`[${i}/${total}] ${text} … `);
}

function stepDone(r, extra = "") {
  process.stderr.write(`${r.ok ? "" : r.error}${r.ok ? fmtMs(r.wallMs) : r.wallMs > 0 ? `, ${fmtMs(r.wallMs)}` : ""}${extra}\n`);
}

// ---- the model the table and the report are drawn from ------------------------

function machine(o) {
  const cpus = os.cpus();
  return {
    node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`, cpu: cpus[0]?.model.trim() ?? "unknown CPU",
    cores: cpus.length, memoryBytes: os.totalmem(), date: new Date().toISOString(), loadBefore: os.loadavg(), loadAfter: [],
    options: { records: o.records, lookups: o.lookups, updates: o.updates, seed: o.seed, limitHeapMb: o.limitHeapMb, limitRecords: o.limitRecords },
  };
}

const perS = (count, ms) => count / (ms / 1000);

/** Rows of the side-by-side comparison: label, the two cells as text, offheap vs Map, and raw values for charts. */
function comparison(o, map, off) {
  const row = (label, chart, get, fmt, vs) => {
    const m = map.ok ? get(map, "map") : NaN;
    const f = off.ok ? get(off, "off") : NaN;
    return { label, chart, map: m, off: f, mapText: map.ok ? (Number.isNaN(m) ? "–" : fmt(m)) : "–", offText: off.ok ? (Number.isNaN(f) ? "–" : fmt(f)) : "–", vs: vs(m, f) };
  };
  const less = (better, worse) => (m, f) => fmtLess(m, f, better, worse);
  const committed = (r, side) => (side === "off" ? r.offHeap.committedBytes : NaN);
  const offLookupRate = off.ok ? perS(o.lookups, off.lookupMs) : NaN;
  return [
    row(`build ${fmtInt(o.records)} records`, "Build time", (r) => r.buildMs, fmtMs, less("faster", "slower")),
    row(`lookups, ${fmtInt(o.lookups)} random keys`, "Lookups per second", (r) => perS(o.lookups, r.lookupMs), fmtRate, fmtMore),
    row("  Map given its own key strings", "", (r, s) => (s === "map" ? perS(o.lookups, r.ownKeyLookupMs) : NaN), fmtRate,
      (m) => (fmtMore(m, offLookupRate) === "" ? "" : `offheap above: ${fmtMore(m, offLookupRate)}`)),
    row(`updates (score += 1), ${fmtInt(o.updates)}`, "Updates per second", (r) => perS(o.updates, r.updateMs), fmtRate, fmtMore),
    row("V8 heap used, after GC", "V8 heap used", (r) => r.heapUsedBytes, fmtBytes, less("less", "more")),
    row("off-heap bytes (committed)", "", committed, fmtBytes, () => ""),
    row("V8 heap + off-heap", "V8 heap + off-heap", (r, s) => r.heapUsedBytes + (s === "off" ? r.offHeap.committedBytes : 0), fmtBytes, less("less", "more")),
    row("RSS, after GC", "RSS", (r) => r.rssBytes, fmtBytes, less("less", "more")),
    row("GC count", "", (r) => r.gcCount, fmtInt, () => ""),
    row("GC pause, total", "GC pause, total", (r) => r.gcTotalMs, fmtMs, less("shorter", "longer")),
    row("GC pause, max", "GC pause, max", (r) => r.gcMaxMs, fmtMs, less("shorter", "longer")),
  ];
}

function verdicts(o, map, off, control, loadJson, loadImage) {
  const t = (label, pass, detail) => ({ label, pass, detail });
  const out = [];
  out.push(off.ok
    ? t(`max GC pause with offheap < ${TARGET_GC_MAX_MS} ms`, off.gcMaxMs < TARGET_GC_MAX_MS, `${fmtMs(off.gcMaxMs)} (${off.gcMaxKind} during ${off.gcMaxPhase}; ${off.gcPauses.filter((p) => p.ms >= TARGET_GC_MAX_MS).length} of ${off.gcCount} pauses ≥ ${TARGET_GC_MAX_MS} ms); Map: ${map.ok ? fmtMs(map.gcMaxMs) : map.error}; the keys and names alone, no map: ${control.ok ? `${fmtMs(control.gcMaxMs)} (${control.gcCount} GCs)` : control.error}`)
    : t(`max GC pause with offheap < ${TARGET_GC_MAX_MS} ms`, null, off.error));
  const offTotal = off.ok ? off.heapUsedBytes + off.offHeap.committedBytes : NaN;
  out.push(off.ok && map.ok
    ? t("V8 heap + off-heap ≤ ½ of Map's V8 heap", offTotal <= TARGET_MEMORY_SHARE * map.heapUsedBytes, `${fmtBytes(offTotal)} vs ${fmtBytes(map.heapUsedBytes)} (${fmtTimes(offTotal / map.heapUsedBytes)})`)
    : t("V8 heap + off-heap ≤ ½ of Map's V8 heap", null, off.ok ? `Map: ${map.error}` : off.error));
  // Against the faster of Map's two figures: keys made per call, or its own key strings.
  const offRate = off.ok ? perS(o.lookups, off.lookupMs) : NaN;
  const mapRate = map.ok ? perS(o.lookups, Math.min(map.lookupMs, map.ownKeyLookupMs)) : NaN;
  out.push(off.ok && map.ok
    ? t("lookups ≥ 0.5× Map's speed", offRate >= TARGET_LOOKUP_SHARE * mapRate, `${fmtRate(offRate)} vs ${fmtRate(mapRate)}, Map's best (${fmtTimes(offRate / mapRate)})`)
    : t("lookups ≥ 0.5× Map's speed", null, off.ok ? `Map: ${map.error}` : off.error));
  const imageMs = loadImage.ok ? loadImage.loadMs + loadImage.openMs : NaN;
  const jsonMs = loadJson.ok ? loadJson.readMs + loadJson.parseMs : NaN;
  out.push(loadImage.ok && loadJson.ok
    ? t(`reload from the image ≥ ${TARGET_RELOAD_SPEEDUP}× faster than JSON.parse`, jsonMs >= TARGET_RELOAD_SPEEDUP * imageMs, `${fmtMs(imageMs)} vs ${fmtMs(jsonMs)} read + parse (${fmtTimes(jsonMs / imageMs)})`)
    : t(`reload from the image ≥ ${TARGET_RELOAD_SPEEDUP}× faster than JSON.parse`, null, loadImage.ok ? `JSON: ${loadJson.error}` : loadImage.error));
  return out;
}

const mark = (pass) => (pass === true ? "✓" : pass === false ? "✗" : "?");

function verified(r) {
  if (!r.ok) return r.error;
  return r.bad === 0 ? `${fmtInt(r.checked)} records ✓` : `✗ ${r.bad} of ${fmtInt(r.checked)} wrong: ${r.firstBad}`;
}

function persistence(map, off, loadJson, loadImage) {
  const rows = [];
  // A failed step's error shows in its first row; its other rows show "–".
  const cell = (r, f, first = false) => (r.ok ? f(r) : first ? r.error : "–");
  rows.push(["file", cell(map, (r) => fmtBytes(r.save.fileBytes), true), cell(off, (r) => fmtBytes(r.save.fileBytes), true), ""]);
  rows.push(["save (written and synced)", cell(map, (r) => fmtMs(r.save.saveMs)), cell(off, (r) => fmtMs(r.save.saveMs)), map.ok && off.ok ? fmtLess(map.save.saveMs, off.save.saveMs, "faster", "slower") : ""]);
  const jsonMs = loadJson.ok ? loadJson.readMs + loadJson.parseMs : NaN;
  const imageMs = loadImage.ok ? loadImage.loadMs + loadImage.openMs : NaN;
  rows.push(["reload", cell(loadJson, (r) => `${fmtMs(jsonMs)} (read ${fmtMs(r.readMs)} + JSON.parse ${fmtMs(r.parseMs)})`, true),
    cell(loadImage, (r) => `${fmtMs(imageMs)} (Heap.load ${fmtMs(r.loadMs)} + open ${fmtMs(r.openMs)})`, true), fmtLess(jsonMs, imageMs, "faster", "slower")]);
  rows.push(["what the reload gives", cell(loadJson, () => "an array of [key, record] (new Map(entries) not timed)"), cell(loadImage, () => "the OffHeapMap, ready"), ""]);
  rows.push(["peak RSS of the reload", cell(loadJson, (r) => fmtBytes(r.peakRssBytes)), cell(loadImage, (r) => fmtBytes(r.peakRssBytes)), loadJson.ok && loadImage.ok ? fmtLess(loadJson.peakRssBytes, loadImage.peakRssBytes, "less", "more") : ""]);
  rows.push(["verified after reload", loadJson.ok ? verified(loadJson) : "–", loadImage.ok ? verified(loadImage) : "–", ""]);
  return { rows };
}

function heapLimit(limitMap, limitOff) {
  const map = limitMap.ok
    ? `held all ${fmtInt(limitMap.records)} records (${fmtMs(limitMap.buildMs)}); the limit was not reached`
    : `${limitMap.limit ? `crashed: ${limitMap.error}` : `failed: ${limitMap.error}`} after ${fmtMs(limitMap.wallMs)}, with more than ${fmtInt(limitMap.progress)} records built`;
  const off = limitOff.ok
    ? `held all ${fmtInt(limitOff.records)} records: V8 heap ${fmtBytes(limitOff.heapUsedBytes)}, off-heap ${fmtBytes(limitOff.committedBytes)}; ${fmtRate(perS(limitOff.lookups, limitOff.lookupMs))} lookups`
    : `failed: ${limitOff.error}`;
  return { map, off };
}

// ---- text output --------------------------------------------------------------

function table(headers, rows, align) {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (r) => r.map((v, c) => (align[c] === "r" ? String(v).padStart(widths[c]) : String(v).padEnd(widths[c]))).join("   ").trimEnd();
  return [line(headers), widths.map((w) => "─".repeat(w)).join("   "), ...rows.map(line)].join("\n");
}

function printText(model) {
  const { meta, o, rows, persist, limit, targets } = model;
  const out = [];
  out.push("");
  out.push(`offheap showcase: ${fmtInt(o.records)} records { id: u32, name: string, score, lat, lng: f64 } under keys "user:<id>"`);
  out.push(`Node ${meta.node}, ${meta.platform}, ${meta.cpu} (${meta.cores} cores), ${fmtBytes(meta.memoryBytes)} RAM, load average ${meta.loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  out.push("");
  out.push(table(["", "Map<string, object>", "OffHeapMap<string, record>", "offheap vs Map"], rows.map((r) => [r.label, r.mapText, r.offText, r.vs]), ["l", "r", "r", "l"]));
  for (const [name, r] of [["Map<string, object>", model.results.map], ["OffHeapMap", model.results.off]]) if (!r.ok) out.push(`  ${name} failed: ${r.error}`);
  out.push("");
  out.push(table(["save and reload the same data", "JSON text", "heap image", "image vs JSON"], persist.rows, ["l", "l", "l", "l"]));
  out.push("");
  out.push(`Heap limit: node --max-old-space-size=${o.limitHeapMb}, ${fmtInt(o.limitRecords)} records`);
  out.push(`  as JS objects (Map):   ${limit.map}`);
  out.push(`  off-heap (OffHeapMap): ${limit.off}`);
  out.push("");
  out.push(`Targets (set for ${fmtInt(TARGET_RECORDS)} records on the project's 2-core test machine${o.records === TARGET_RECORDS ? "" : `; this run has ${fmtInt(o.records)}`}):`);
  const w = Math.max(...targets.map((t) => t.label.length));
  for (const t of targets) out.push(`  ${mark(t.pass)} ${t.label.padEnd(w)}   ${t.detail}`);
  out.push("");
  process.stdout.write(out.join("\n") + "\n");
}

// ---- main -----------------------------------------------------------------------

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (!existsSync(DIST)) {
    process.stderr.write(`showcase: ${DIST} is missing; build the package first (npm run build; npm start does it)\n`);
    return 1;
  }
  const tmp = mkdtempSync(join(os.tmpdir(), "offheap-showcase-"));
  const jsonFile = join(tmp, "records.json");
  const imageFile = join(tmp, "records.heap");
  const cleanup = () => {
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    current?.kill("SIGKILL");
    cleanup();
    process.exit(130);
  });
  try {
    const meta = machine(o);
    const t0 = performance.now();
    const common = ["--records", o.records, "--lookups", o.lookups, "--updates", o.updates, "--seed", o.seed].map(String);
    const limitFlags = [`--max-old-space-size=${o.limitHeapMb}`, "--expose-gc"];
    const limitTimeout = Math.min(o.timeout, 120);
    process.stderr.write(`offheap showcase: ${fmtInt(o.records)} records, ${fmtInt(o.lookups)} lookups, ${fmtInt(o.updates)} updates, seed ${o.seed}; each step in its own process\n`);
    step(1, 7, "Map<string, object>: build, lookups, updates, then write it as JSON");
    const map = await runWorker(["--expose-gc"], ["map", ...common, "--file", jsonFile], o.timeout);
    stepDone(map);
    step(2, 7, "OffHeapMap: build, lookups, updates, then heap.save");
    const off = await runWorker(["--expose-gc"], ["offheap", ...common, "--file", imageFile], o.timeout);
    stepDone(off);
    step(3, 7, "control: the build loop's key and name strings alone, no map (the GC floor of both sides)");
    const control = await runWorker(["--expose-gc"], ["strings", ...common], o.timeout);
    stepDone(control);
    step(4, 7, "reload the JSON: read, JSON.parse, verify");
    const loadJson = map.ok ? await runWorker([], ["load-json", ...common, "--file", jsonFile], o.timeout) : { ok: false, wallMs: 0, error: "no JSON file (the Map step failed)" };
    stepDone(loadJson);
    step(5, 7, "reload the image: Heap.load, OffHeapMap.open, verify");
    const loadImage = off.ok ? await runWorker([], ["load-image", ...common, "--file", imageFile], o.timeout) : { ok: false, wallMs: 0, error: "no image (the OffHeapMap step failed)" };
    stepDone(loadImage);
    const limitArgs = ["--records", o.limitRecords, "--lookups", o.lookups, "--seed", o.seed].map(String);
    step(6, 7, `heap limit: ${fmtInt(o.limitRecords)} records in a Map under --max-old-space-size=${o.limitHeapMb}`);
    const limitMap = await runWorker(limitFlags, ["limit-map", ...limitArgs], limitTimeout);
    stepDone(limitMap, limitMap.ok ? "" : ` (expected; more than ${fmtInt(limitMap.progress)} records were built)`);
    step(7, 7, `heap limit: ${fmtInt(o.limitRecords)} records in an OffHeapMap under --max-old-space-size=${o.limitHeapMb}`);
    const limitOff = await runWorker(limitFlags, ["limit-offheap", ...limitArgs], limitTimeout);
    stepDone(limitOff);
    meta.loadAfter = os.loadavg();
    meta.wallMs = performance.now() - t0;

    const rows = comparison(o, map, off);
    const persist = persistence(map, off, loadJson, loadImage);
    const limit = heapLimit(limitMap, limitOff);
    const targets = verdicts(o, map, off, control, loadJson, loadImage);
    const model = { meta, o, rows, persist, limit, targets, targetRecords: TARGET_RECORDS, results: { map, off, control, loadJson, loadImage, limitMap, limitOff } };
    printText(model);

    const reportPath = resolve(o.out, REPORT_NAME);
    mkdirSync(o.out, { recursive: true });
    await writeFile(reportPath, renderReport(model));
    if (o.json !== "") await writeFile(resolve(o.json), JSON.stringify({ machine: meta, targets, results: model.results }, null, 2) + "\n");
    process.stdout.write(`Report: ${reportPath}\n`);
    if (o.json !== "") process.stdout.write(`Figures as JSON: ${resolve(o.json)}\n`);
    if (o.keep) process.stdout.write(`Kept: ${jsonFile}, ${imageFile}\n`);
    process.stdout.write(`Whole run: ${fmtMs(meta.wallMs)}; load average now ${meta.loadAfter.map((l) => l.toFixed(2)).join(" ")}\n`);

    // Failures of the offheap side, or data that did not survive a reload, fail the run;
    // the Map or JSON running into one of V8's limits is a finding, not a failure.
    const broken = [off, loadImage, limitOff].filter((r) => !r.ok).map((r) => r.error);
    for (const r of [loadJson, loadImage]) if (r.ok && (r.bad > 0 || r.records !== o.records)) broken.push(`reload check: ${verified(r)}, ${fmtInt(r.records)} records`);
    if (map.ok && off.ok && (map.checksum !== off.checksum || map.ownChecksum !== off.checksum)) broken.push(`the two sides' lookups disagree (${map.checksum} vs ${off.checksum})`);
    if (!map.ok && !map.limit) broken.push(`Map step: ${map.error}`);
    if (map.ok && !loadJson.ok && !loadJson.limit) broken.push(`JSON reload: ${loadJson.error}`);
    for (const b of broken) process.stderr.write(`showcase: ${b}\n`);
    return broken.length === 0 ? 0 : 1;
  } finally {
    cleanup();
  }
}

process.exitCode = await main();
