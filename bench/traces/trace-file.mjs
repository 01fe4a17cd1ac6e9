// Reading a trace: a replay file of little-endian u32 pairs, (slot,
// sizeBytes) for an alloc, (slot | FREE_BIT, 0) for a free (the format of
// /work/shared/traces/convert.py), gzipped (the committed ones, data/) or as
// convert.py wrote it (a trace of a program not in the repository, given to
// the driver with --files). Used by cell.mjs, the driver, record.sh and
// test/traces.test.ts; nothing here is timed.
//
//   node bench/traces/trace-file.mjs describe FILE.trace[.gz]   # one JSON line of traceStats
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

/** High bit of a pair's first word: the pair is a free of the slot in the low 31 bits. */
export const FREE_BIT = 0x80000000;
/** Mask of the slot id in a pair's first word. */
export const SLOT_MASK = 0x7fffffff;

/** Directory of the committed traces (catalog.mjs says what each is). */
export const DATA_DIR = fileURLToPath(new URL("./data/", import.meta.url));

/** The path of committed trace `name`. */
export const committedTracePath = (name) => `${DATA_DIR}${name}.trace.gz`;

/**
 * How a cell names the trace it is given: a committed trace's name as it
 * is; a path (it holds a "/") by its file name without `.gz` and `.trace`.
 */
export function traceName(nameOrPath) {
  return nameOrPath.includes("/") ? basename(nameOrPath).replace(/\.gz$/, "").replace(/\.trace$/, "") : nameOrPath;
}

/** The file of a trace a cell is given: a path as it is, a committed trace's name in data/. */
export function tracePath(nameOrPath) {
  return nameOrPath.includes("/") ? nameOrPath : committedTracePath(nameOrPath);
}

/** True if `bytes` start with gzip's magic number (1f 8b). */
export const isGzip = (bytes) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Reads `path` into a Uint32Array of pairs (2 words per op), gunzipping it if it is gzipped. Throws if the length is not a whole number of pairs. */
export function loadTrace(path) {
  const file = readFileSync(path);
  const bytes = isGzip(file) ? gunzipSync(file) : file;
  if (bytes.byteLength % 8 !== 0) throw new RangeError(`${path}: ${bytes.byteLength} bytes is not a whole number of 8-byte pairs`);
  // gunzipSync's Buffer may sit at any offset of a shared pool: copy to an aligned buffer.
  const pairs = new Uint32Array(bytes.byteLength >>> 2);
  new Uint8Array(pairs.buffer).set(bytes);
  return pairs;
}

/**
 * One pass over the pairs: ops, allocs, frees, slots (highest slot id + 1)
 * and live bytes (requested sizes; a size of 0 counts as 1, as the replayers
 * allocate it) at the peak and at the end. Throws on a free of a slot that
 * is not live or an alloc into a live slot.
 */
export function traceStats(pairs) {
  const ops = pairs.length >>> 1;
  let slots = 0;
  for (let i = 0; i < pairs.length; i += 2) slots = Math.max(slots, (pairs[i] & SLOT_MASK) + 1);
  const sizes = new Float64Array(slots).fill(-1);
  let allocs = 0;
  let liveBytes = 0;
  let peakLiveBytes = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const word = pairs[i];
    const slot = word & SLOT_MASK;
    if (word & FREE_BIT) {
      if (sizes[slot] < 0) throw new RangeError(`op ${i >>> 1}: free of slot ${slot}, which is not live`);
      liveBytes -= sizes[slot];
      sizes[slot] = -1;
    } else {
      if (sizes[slot] >= 0) throw new RangeError(`op ${i >>> 1}: alloc into slot ${slot}, which is live`);
      const sizeBytes = pairs[i + 1] || 1;
      sizes[slot] = sizeBytes;
      liveBytes += sizeBytes;
      if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
      allocs++;
    }
  }
  return { ops, allocs, frees: ops - allocs, slots, peakLiveBytes, endLiveBytes: liveBytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, path] = process.argv.slice(2);
  if (command !== "describe" || !path) {
    console.error("usage: node bench/traces/trace-file.mjs describe FILE.trace[.gz]");
    process.exit(2);
  }
  console.log(JSON.stringify(traceStats(loadTrace(path))));
}
