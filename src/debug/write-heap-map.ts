// writeHeapMap: a heap map written to an HTML file (Node only). See
// heap/heap.ts for an overview.

import { OffheapTypeError } from "../errors.js";
import { Heap } from "../heap/heap.js";
import { DEFAULT_TITLE, HEAP_MAP_OPTION_RULES, heapMapPage, type HeapMapOptions } from "./heap-map.js";
import { checkHeapSnapshot } from "./check-input.js";
import { checkOptions } from "../common/options.js";
import { heapSnapshot, SNAPSHOT_FORMAT, type HeapSnapshot } from "../heap/snapshot.js";
import { writeFileBytes } from "../common/write-file.js";

/**
 * Writes the heap map of `source` (a HeapSnapshot, or a Heap, which is
 * snapshotted first) to the file `path` as one self-contained HTML page;
 * resolves to the bytes written. Node only (node:fs). Rejects with
 * TypeError for a path that is not a string, a source that is neither, or a
 * platform without node:fs, with heapMapHtml's errors for a snapshot that
 * does not pass its checks (naming writeHeapMap), and with the fs error
 * (e.g. ENOENT for a missing directory) if the file cannot be written. Cost: heapSnapshot (for a Heap)
 * plus heapMapHtml plus one file write.
 *
 * @example
 * await writeHeapMap("heap.html", heap, { title: "after warm-up" });
 */
export async function writeHeapMap(path: string, source: HeapSnapshot | Heap, options?: HeapMapOptions): Promise<number> {
  const { title = DEFAULT_TITLE } = checkOptions("writeHeapMap", options, HEAP_MAP_OPTION_RULES);
  if (typeof path !== "string") throw new OffheapTypeError(`writeHeapMap: path must be a string, got ${typeof path}`);
  const snapshot = isSnapshot(source) ? source : source instanceof Heap ? heapSnapshot(source) : null;
  if (snapshot === null) throw new OffheapTypeError("writeHeapMap: source must be a HeapSnapshot or a Heap");
  checkHeapSnapshot("writeHeapMap", snapshot);
  const bytes = new TextEncoder().encode(heapMapPage(snapshot, title));
  await writeFileBytes("writeHeapMap", path, bytes);
  return bytes.length;
}

function isSnapshot(x: unknown): x is HeapSnapshot {
  return typeof x === "object" && x !== null && (x as { format?: unknown }).format === SNAPSHOT_FORMAT;
}
