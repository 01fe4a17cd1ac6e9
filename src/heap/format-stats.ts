// HeapStats as an aligned text report, in the manner of jemalloc's
// malloc_stats_print and TCMalloc's MallocExtension::GetStats. See heap.ts
// for an overview; stats.ts defines every number printed here.

import { PAGE_SIZE } from "./layout.js";
import type { HeapStats } from "./stats.js";
import { OffheapTypeError } from "../errors.js";
import { describe } from "../common/options.js";

/**
 * Formats `stats` (from `heap.stats()`, or the same object after a JSON
 * round trip) as plain text: a summary whose byte rows marked `+` add up to
 * the `=` row (committed; a debug heap's quarantine is a row of it while it
 * holds blocks), then the peaks, fragmentation and counts, then one
 * row per size class and a row for large blocks, every column right-aligned
 * with thousands separators. Cost: O(classes); pure, never throws on a
 * HeapStats; OffheapTypeError for anything else.
 *
 * @example
 * console.log(formatStats(heap.stats()));
 * // offheap heap statistics (8 KiB pages)
 * //   live blocks (in use)             41,088  40.1 KiB  3 blocks, 1 large
 * // + free objects in size classes     16,168  15.8 KiB  16,168 bytes of them on cache lists
 * // ... (test/stats.test.ts has a whole report)
 */
export function formatStats(stats: HeapStats): string {
  const s = stats;
  if (typeof s !== "object" || s === null || typeof s.committedBytes !== "number" || !Array.isArray(s.classes)) {
    throw new OffheapTypeError(`formatStats: stats must be a HeapStats (what heap.stats() returns), got ${describe(stats)}`);
  }
  const lines = [`offheap heap statistics (${PAGE_SIZE >>> 10} KiB pages)`];
  const summary: string[][] = [
    ["  live blocks (in use)", count(s.liveBytes), humanBytes(s.liveBytes), `${count(s.liveBlocks)} blocks, ${count(s.largeBlocks)} large`],
    ...(s.quarantinedBytes > 0 ? [["+ debug quarantine", count(s.quarantinedBytes), humanBytes(s.quarantinedBytes), `${count(s.quarantinedBlocks)} freed blocks, not yet reusable`]] : []),
    ["+ free objects in size classes", count(s.freeObjectBytes), humanBytes(s.freeObjectBytes), `${count(s.cachedBytes)} bytes of them on cache lists`],
    ["+ span tails", count(s.spanTailBytes), humanBytes(s.spanTailBytes), "too short for an object"],
    ["+ free pages (page heap)", count(s.freePageBytes), humanBytes(s.freePageBytes), ""],
    ["+ metadata", count(s.metadataBytes), humanBytes(s.metadataBytes), "header, bitmap, page descriptors, cache lists"],
    ["= committed", count(s.committedBytes), humanBytes(s.committedBytes), ""],
    ["  reserved (address range)", count(s.reservedBytes), humanBytes(s.reservedBytes), ""],
    ["  peak committed", count(s.peakCommittedBytes), humanBytes(s.peakCommittedBytes), "pages at their peak, metadata as now"],
    ["  peak live", count(s.peakLiveBytes), humanBytes(s.peakLiveBytes), "lower bound, sampled on slow paths"],
    ["  requested since start", count(s.requestedBytes), humanBytes(s.requestedBytes), ""],
    ["  fragmentation", percent(s.fragmentation), "", "1 - live / committed pages"],
    ["  internal fragmentation", percent(s.internalFragmentation), "", "live beyond requested (small: estimated)"],
    ["  allocs since start", count(s.allocs), "", `${count(s.largeAllocs)} large`],
    ["  frees since start", count(s.frees), "", ""],
  ];
  for (const row of alignRows(summary, [false, true, true, false])) lines.push(row.trimEnd());
  lines.push("", "size classes:");
  const header = ["class", "size", "spans", "pages", "objs/span", "live objs", "live bytes", "free objs", "free bytes",
    "cached", "util", "allocs", "frees", "requested"];
  const table: string[][] = [header];
  for (const c of s.classes) {
    const capacity = c.spans * c.objectsPerSpan;
    table.push([count(c.classIndex), count(c.size), count(c.spans), count(c.pages), count(c.objectsPerSpan),
      count(c.liveObjects), count(c.liveBytes), count(c.freeObjects), count(c.freeBytes), count(c.cachedObjects),
      percent(capacity > 0 ? c.liveObjects / capacity : 0), count(c.allocs), count(c.frees), count(c.requestedBytes)]);
  }
  if (s.largeAllocs > 0) {
    table.push(["large", "-", count(s.largeBlocks), count(s.largeBytes / PAGE_SIZE), "-", count(s.largeBlocks),
      count(s.largeBytes), "-", "-", "-", "-", count(s.largeAllocs), count(s.largeAllocs - s.largeBlocks),
      count(s.largeRequestedBytes)]);
  }
  lines.push(...alignRows(table, header.map(() => true)));
  if (s.largeAllocs > 0) lines.push("(large: one span per block; requested is that of the live blocks)");
  return lines.join("\n") + "\n";
}

/** `n` with a comma every three digits: 1234567 -> "1,234,567". */
export function count(n: number): string {
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.abs(Math.round(n)));
  let out = "";
  for (let i = digits.length; i > 0; i -= 3) out = digits.slice(Math.max(0, i - 3), i) + (out === "" ? "" : "," + out);
  return sign + out;
}

/** Bytes in the largest binary unit that keeps the number at least 1, one decimal: 1536 -> "1.5 KiB", 100 -> "100 B". */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

// Pads every cell to its column's widest, right- or left-aligned, and joins
// the cells of a row with two spaces.
function alignRows(rows: string[][], right: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  "));
}
