// What the statistics counters cost on the fast path: builds a copy of dist/
// whose alloc() does not update the two counters kept only for stats()
// (pops, requested bytes), then runs pair64 and batch on both builds through
// the benchmark's own cells, interleaved (ab.mjs), and prints the medians.
// (free()'s push count stays: it bounds the cache, it is not a statistic.)
//
//   npm run build && node bench/counters.mjs [runs, default 5]
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abTable, interleave } from "./ab.mjs";

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

const builds = { "with counters": `${root}dist/index.js`, "without counters": `${bare}/index.js` };
const results = interleave(builds, ["pair64", "batch"], runs);
console.log(`Node ${process.version}; ns/op, median of ${runs} interleaved runs`);
console.log(abTable(results, ["pair64", "batch"]));
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cost = med(results["with counters"].pair64) - med(results["without counters"].pair64);
console.log(cost <= 0.3
  ? `The counters cost nothing measurable: with minus without = ${cost.toFixed(2)} ns/op on pair64 (noise here is about ±0.3).`
  : `The counters cost ${cost.toFixed(2)} ns/op on pair64.`);
