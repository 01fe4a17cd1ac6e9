// A/B of two builds of offheap on the core workloads, interleaved: run i of
// every (build, workload) cell happens before run i + 1 of any, so a change
// in the machine's state (another process, thermal limits) lands on both
// builds alike. Prints every run, then the median and best per cell, and the
// median of the per-round ratios B/A.
//
//   node bench/ab.mjs <A dist/index.js> <B dist/index.js> [--runs N] [--workloads pair64,batch,churn] [--names A,B] [--cpu C]
//
// --cpu C runs every cell pinned to CPU C (Linux's taskset). On the bench VM
// the two virtual CPUs are not always equally fast: the same build's pair64
// read 3.5 ns/op on one and 3.5 or 6.0 on the other, by the minute, so an
// unpinned cell lands on either and the runs of one build split in two.
// Pinning puts V8's compiler and GC threads on that CPU too, which the
// timed run of these warm workloads hardly needs; a program's first
// operations do (bench:traces' prefix): there it would measure the wait.
//
// Typical use: keep the previous release's build in .bench-cache and compare:
//   git worktree add /tmp/prev <commit> && (cd /tmp/prev && npm ci && npm run build)
//   node bench/ab.mjs /tmp/prev/dist/index.js dist/index.js --runs 11
// Each cell is bench/cell.mjs in its own process (OFFHEAP_DIST selects the build).
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { machineInfo, machineLine, median } from "./common.mjs";

const CELL = fileURLToPath(new URL("./cell.mjs", import.meta.url));

/** Runs one cell of `dist` (a path to a dist/index.js), pinned to CPU `cpu` if not null, and returns its ns/op. */
export function cellNs(dist, workload, cpu = null) {
  const node = process.env.OFFHEAP_NODE ?? process.execPath;
  const args = ["--expose-gc", CELL, "offheap", workload];
  const [file, argv] = cpu === null ? [node, args] : ["taskset", ["-c", String(cpu), node, ...args]];
  const out = execFileSync(file, argv, {
    env: { ...process.env, OFFHEAP_DIST: resolve(dist) },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1)).nsPerOp;
}

/**
 * Runs `runs` interleaved rounds of every (build, workload) cell; `builds`
 * maps a name to a dist/index.js path. Returns { [name]: { [workload]: ns[] } }.
 */
export function interleave(builds, workloads, runs, onRun = () => {}, cpu = null) {
  const results = Object.fromEntries(Object.keys(builds).map((name) => [name, Object.fromEntries(workloads.map((w) => [w, []]))]));
  for (let i = 0; i < runs; i++) {
    for (const workload of workloads) {
      // Alternate which build goes first, so neither always runs on a machine the other just warmed.
      const order = i % 2 === 0 ? Object.entries(builds) : Object.entries(builds).reverse();
      for (const [name, dist] of order) {
        const ns = cellNs(dist, workload, cpu);
        results[name][workload].push(ns);
        onRun(i, name, workload, ns);
      }
    }
  }
  return results;
}

/** The Markdown table of medians (and bests) per build, and B/A of the medians. */
export function abTable(results, workloads) {
  const names = Object.keys(results);
  const lines = [`| build | ${workloads.join(" | ")} |`, `|---|${workloads.map(() => "--:").join("|")}|`];
  for (const name of names) {
    lines.push(`| ${name} | ${workloads.map((w) => `${median(results[name][w]).toFixed(2)} (best ${Math.min(...results[name][w]).toFixed(2)})`).join(" | ")} |`);
  }
  // Each build against the first, as the median of the ratios of runs made
  // in the same round (adjacent in time, so a slower spell of the machine
  // hits both sides of a ratio): steadier than a ratio of medians.
  const [a] = names;
  for (const b of names.slice(1)) {
    const ratio = (w) => median(results[b][w].map((ns, i) => ns / results[a][w][i]));
    lines.push(`| ${b} / ${a} (paired) | ${workloads.map((w) => ratio(w).toFixed(3)).join(" | ")} |`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const runs = Number(opt("--runs", "7"));
  const workloads = opt("--workloads", "pair64,batch,churn").split(",");
  const [nameA, nameB] = opt("--names", "A,B").split(",");
  const cpuArg = opt("--cpu", null);
  const cpu = cpuArg === null ? null : Number(cpuArg);
  if (args.length !== 2 || !(runs > 0) || (cpu !== null && !(Number.isInteger(cpu) && cpu >= 0))) {
    console.error("usage: node bench/ab.mjs <A dist/index.js> <B dist/index.js> [--runs N] [--workloads pair64,batch,churn] [--names A,B] [--cpu C]");
    process.exit(2);
  }
  console.log(machineLine(machineInfo()));
  console.log(`ns/op, median of ${runs} interleaved runs (best in parentheses)${cpu === null ? "" : `, every cell on CPU ${cpu}`}; ${nameA} = ${args[0]}, ${nameB} = ${args[1]}`);
  const results = interleave({ [nameA]: args[0], [nameB]: args[1] }, workloads, runs, (i, name, w, ns) => {
    process.stderr.write(`run ${i + 1}/${runs} ${name} ${w}: ${ns.toFixed(2)}\n`);
  }, cpu);
  console.log(abTable(results, workloads));
}
