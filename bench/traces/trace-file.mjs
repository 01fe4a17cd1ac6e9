// Reading a committed trace: a gzipped replay file of little-endian u32 pairs,
// (slot, sizeBytes) for an alloc, (slot | FREE_BIT, 0) for a free (the format
// of /work/shared/traces/convert.py). Used by cell.mjs, the driver, record.sh
// and test/traces.test.ts; nothing here is timed.
//
//   node bench/traces/trace-file.mjs describe FILE.trace.gz   # one JSON line of traceStats
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

/** High bit of a pair's first word: the pair is a free of the slot in the low 31 bits. */
export const FREE_BIT = 0x80000000;
/** Mask of the slot id in a pair's first word. */
export const SLOT_MASK = 0x7fffffff;

/** Directory of the committed traces and their manifest (traces.json). */
export const DATA_DIR = fileURLToPath(new URL("./data/", import.meta.url));

/** The manifest: one entry per committed trace, in table order (record.sh writes it). */
export function readManifest() {
  return JSON.parse(readFileSync(`${DATA_DIR}traces.json`, "utf8"));
}

/** Gunzips `path` into a Uint32Array of pairs (2 words per op). Throws if the length is not a whole number of pairs. */
export function loadTrace(path) {
  const bytes = gunzipSync(readFileSync(path));
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
    console.error("usage: node bench/traces/trace-file.mjs describe FILE.trace.gz");
    process.exit(2);
  }
  console.log(JSON.stringify(traceStats(loadTrace(path))));
}
