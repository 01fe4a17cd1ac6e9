// What the statistics counters cost on the fast path: builds a copy of dist/
// whose alloc() does not update the two counters kept only for stats()
// (pops, requested bytes), then runs pair64 and batch on both builds through
// the benchmark's own cells, interleaved, and prints the best of N runs.
// (free()'s push count stays: it bounds the cache, it is not a statistic.)
//
//   npm run build && node bench/counters.mjs [runs, default 5]
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const runs = Number(process.argv[2] ?? 5);
const bare = `${root}.bench-cache/no-counters`;

const COUNTERS = [
  "u32[cw + CC_POPS] = (u32[cw + CC_POPS] + 1) | 0;",
  "u32[cw + CC_REQUESTED] = (u32[cw + CC_REQUESTED] + sizeBytes) | 0;",
];

rmSync(bare, { recursive: true, force: true });
cpSync(`${root}dist`, bare, { recursive: true });
const file = `${bare}/heap/heap.js`;
let code = readFileSync(file, "utf8");
const start = code.indexOf("    alloc(sizeBytes) {");
const end = code.indexOf("    allocSlow(", start);
let fast = code.slice(start, end);
for (const line of COUNTERS) {
  if (!fast.includes(line)) throw new Error(`bench/counters.mjs: alloc() no longer contains \`${line}\`; update COUNTERS`);
  fast = fast.replace(line, "");
}
writeFileSync(file, code.slice(0, start) + fast + code.slice(end));

function cell(dist, workload) {
  const out = execFileSync(process.execPath, ["--expose-gc", `${root}bench/cell.mjs`, "offheap", workload], {
    env: { ...process.env, OFFHEAP_DIST: dist },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1)).nsPerOp;
}

const builds = { "with counters": `${root}dist/index.js`, "without counters": `${bare}/index.js` };
const best = {};
for (let i = 0; i < runs; i++) {
  for (const [name, dist] of Object.entries(builds)) {
    for (const workload of ["pair64", "batch"]) {
      const key = `${name}/${workload}`;
      best[key] = Math.min(best[key] ?? Infinity, cell(dist, workload));
    }
  }
}
console.log(`Node ${process.version}; ns/op, best of ${runs} interleaved runs`);
console.log("| build | pair64 | batch |\n|---|--:|--:|");
for (const name of Object.keys(builds)) {
  console.log(`| ${name} | ${best[`${name}/pair64`].toFixed(2)} | ${best[`${name}/batch`].toFixed(2)} |`);
}
const cost = best["with counters/pair64"] - best["without counters/pair64"];
console.log(cost <= 0.3
  ? `The counters cost nothing measurable: with minus without = ${cost.toFixed(2)} ns/op on pair64 (noise here is about ±0.3).`
  : `The counters cost ${cost.toFixed(2)} ns/op on pair64.`);
