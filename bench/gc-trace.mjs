// Counts V8 garbage collections during offheap's pair64 address-API loop, seen by `node --trace-gc` in a child.
//
//   node bench/gc-trace.mjs [iterations]   prints "gc during address-API loop: N collections"
//   import { gcTrace } from "./gc-trace.mjs" to get { collections, gcLines, nsPerOp, ... }
//
// The child warms pair64 up at 1/10 size, makes a fresh heap, runs a full GC,
// prints BEGIN_MARKER, runs pair64, prints END_MARKER. --trace-gc writes one
// line per collection to the same stdout, in order, so the lines between the
// markers are the collections during the loop. An allocator whose fast path
// allocates no JS objects shows 0.
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Printed by the child right before the measured loop. */
export const BEGIN_MARKER = "@@gc-trace: begin address-API loop";
/** Printed by the child right after the measured loop, followed by the loop's nanoseconds. */
export const END_MARKER = "@@gc-trace: end address-API loop";
/** A --trace-gc line of any collector: Scavenge, Mark-Compact, (Minor) Mark-Sweep. */
const GC_LINE = /Scavenge|Mark-Compact|Mark-sweep/i;

const SCRIPT = fileURLToPath(import.meta.url);

/**
 * Runs `iterations` pair64 iterations (2 ops each) on offheap ($OFFHEAP_DIST or
 * dist/index.js) in `node --trace-gc` and resolves to { iterations, collections,
 * gcLines, nsPerOp }. Rejects if the child fails or outlives `timeoutMs`.
 */
export function gcTrace({ iterations = 2_000_000, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--trace-gc", "--expose-gc", SCRIPT, "--child", String(iterations)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout.split("\n");
      const begin = lines.indexOf(BEGIN_MARKER);
      const end = lines.findIndex((line) => line.startsWith(END_MARKER));
      if (code !== 0 || begin < 0 || end < begin) {
        const why = signal ? `killed by ${signal} after ${timeoutMs / 1000} s` : `exit code ${code}`;
        const errLines = stderr.trim().split("\n");
        reject(new Error(`gc-trace child failed (${why}): ${errLines.find((l) => /Error/.test(l)) ?? errLines.pop()}`));
        return;
      }
      const gcLines = lines.slice(begin + 1, end).filter((line) => GC_LINE.test(line));
      const ns = Number(lines[end].slice(END_MARKER.length));
      resolve({ iterations, collections: gcLines.length, gcLines, nsPerOp: ns / (2 * iterations) });
    });
  });
}

/** The child side: warm up, then the marked loop. */
async function child(iterations) {
  const { loadAllocator } = await import("./allocators.mjs");
  const { pair64 } = await import("./workloads.mjs");
  const makeAllocator = await loadAllocator("offheap");
  pair64(await makeAllocator(), Math.max(1, Math.round(iterations / 10)));
  const heap = await makeAllocator();
  // Finish any collection that the warm-up or the heap's creation started,
  // so that what follows the marker is caused by the loop.
  globalThis.gc();
  console.log(BEGIN_MARKER);
  const start = process.hrtime.bigint();
  pair64(heap, iterations);
  const ns = process.hrtime.bigint() - start;
  console.log(`${END_MARKER} ${ns}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    await child(Number(args[1]));
  } else {
    try {
      const result = await gcTrace(args[0] ? { iterations: Number(args[0]) } : {});
      for (const line of result.gcLines) console.log(`  ${line.trim()}`);
      console.log(`gc during address-API loop: ${result.collections} collections`);
    } catch (err) {
      console.error(err.message);
      process.exitCode = 1;
    }
  }
}
