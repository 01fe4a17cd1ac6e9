// Import time of the package in Node: tsc's modules (dist/, what browser
// bundlers get) against the Node bundle (dist/node/, scripts/bundle.mjs,
// what Node loads by name), side by side in one run.
//
//   npm run bench:import                     # build, then 21 rounds (about 10 s)
//   node bench/import.mjs [--runs N] [--cpu C]
//
// Each measurement is a fresh `node` process that times `await import()` of
// the entries with performance.now() and prints it: the reading, compiling,
// linking and evaluating of the package's files, without Node's own start.
// Two sets of entries: "offheap" alone, and the five entry points a program
// using everything loads ("offheap", /debug, /buffers, /buffers/node,
// /collections; pprof-format, which /debug imports, is the same in both).
// Rounds are interleaved (round i of every cell before round i + 1, the
// order of the two builds alternating) so that a change in the machine's
// state lands on both alike; the table shows the median and the best of
// each cell, and the median of the per-round ratios tsc / bundle. --cpu C
// pins every process to CPU C (Linux's taskset), as in ab.mjs.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { machineInfo, machineLine, markdownTable, median, parseOptions } from "./common.mjs";

const ROOT = new URL("../", import.meta.url);
const BUILDS = { "tsc modules (dist/)": "dist/", "bundle (dist/node/)": "dist/node/" };
const SETS = {
  "offheap": ["index.js"],
  "all five entry points": ["index.js", "debug/index.js", "buffers/index.js", "buffers/node.js", "collections/index.js"],
};

let runs = 21;
let cpu = null;
parseOptions(process.argv.slice(2), {
  "--runs": (v) => (runs = Number(v())),
  "--cpu": (v) => (cpu = Number(v())),
}, "bench/import.mjs");
if (!(Number.isInteger(runs) && runs > 0) || (cpu !== null && !(Number.isInteger(cpu) && cpu >= 0))) {
  throw new RangeError("--runs needs a positive integer, --cpu a CPU number");
}
for (const dir of Object.values(BUILDS)) {
  if (!existsSync(new URL(`${dir}index.js`, ROOT))) throw new Error(`bench/import.mjs: ${dir}index.js is missing: run "npm run build" first`);
}

/** Milliseconds one fresh process takes to import `files` (URLs), all at once as a program's first imports would. */
function importMs(files) {
  const script = `const t0 = performance.now(); await Promise.all(${JSON.stringify(files)}.map((f) => import(f))); console.log(performance.now() - t0);`;
  const args = ["--input-type=module", "-e", script];
  const [file, argv] = cpu === null ? [process.execPath, args] : ["taskset", ["-c", String(cpu), process.execPath, ...args]];
  return Number(execFileSync(file, argv, { encoding: "utf8" }).trim());
}

console.log(machineLine(machineInfo()));
console.log(`ms to import, median of ${runs} fresh processes per cell, interleaved (best in parentheses)${cpu === null ? "" : `, every process on CPU ${cpu}`}`);
const ms = Object.fromEntries(Object.keys(SETS).map((set) => [set, Object.fromEntries(Object.keys(BUILDS).map((b) => [b, []]))]));
for (let i = 0; i < runs; i++) {
  for (const [set, entries] of Object.entries(SETS)) {
    const order = i % 2 === 0 ? Object.entries(BUILDS) : Object.entries(BUILDS).reverse();
    for (const [build, dir] of order) {
      const t = importMs(entries.map((e) => new URL(`${dir}${e}`, ROOT).href));
      ms[set][build].push(t);
      process.stderr.write(`run ${i + 1}/${runs} ${set}, ${build}: ${t.toFixed(1)} ms\n`);
    }
  }
}
const [a, b] = Object.keys(BUILDS);
const rows = Object.keys(SETS).map((set) => [
  set,
  ...[a, b].map((build) => `${median(ms[set][build]).toFixed(1)} (${Math.min(...ms[set][build]).toFixed(1)})`),
  `${median(ms[set][a].map((t, i) => t / ms[set][b][i])).toFixed(2)}×`,
]);
console.log(markdownTable(["entries", a, b, "tsc / bundle (paired)"], rows));
