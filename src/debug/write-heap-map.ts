// writeHeapMap: a heap map written to an HTML file. Node only, through a
// dynamic import of node:fs on first use (as heap/image-file.ts), so the
// package still loads in browsers. See heap/heap.ts for an overview.

import { OffheapTypeError } from "../errors.js";
import type { Heap } from "../heap/heap.js";
import { heapMapHtml, type HeapMapOptions } from "./heap-map.js";
import { heapSnapshot, SNAPSHOT_FORMAT, type HeapSnapshot } from "./snapshot.js";

// The slice of node:fs/promises used here, typed locally: src/ is compiled
// without Node's types.
interface Fs {
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

/**
 * Writes the heap map of `source` (a HeapSnapshot, or a Heap, which is
 * snapshotted first) to the file `path` as one self-contained HTML page;
 * resolves to the bytes written. Node only (node:fs). Rejects with
 * TypeError for a path that is not a string, a source that is neither, or a
 * platform without node:fs, and with the fs error (e.g. ENOENT for a missing
 * directory) if the file cannot be written. Cost: heapSnapshot (for a Heap)
 * plus heapMapHtml plus one file write.
 *
 * @example
 * await writeHeapMap("heap.html", heap, { title: "after warm-up" });
 */
export async function writeHeapMap(path: string, source: HeapSnapshot | Heap, options: HeapMapOptions = {}): Promise<number> {
  if (typeof path !== "string") throw new OffheapTypeError(`writeHeapMap: path must be a string, got ${typeof path}`);
  const snapshot = isSnapshot(source) ? source : isHeap(source) ? heapSnapshot(source) : null;
  if (snapshot === null) throw new OffheapTypeError("writeHeapMap: source must be a HeapSnapshot or a Heap");
  const bytes = new TextEncoder().encode(heapMapHtml(snapshot, options));
  const specifier = "node:fs/promises"; // a variable, so bundlers for browsers leave it alone
  let fs: Fs;
  try {
    fs = (await import(specifier)) as Fs;
  } catch {
    throw new OffheapTypeError("writeHeapMap: this platform has no node:fs; use heapMapHtml and save the string yourself");
  }
  await fs.writeFile(path, bytes);
  return bytes.length;
}

function isSnapshot(x: unknown): x is HeapSnapshot {
  return typeof x === "object" && x !== null && (x as { format?: unknown }).format === SNAPSHOT_FORMAT;
}

function isHeap(x: unknown): x is Heap {
  return typeof x === "object" && x !== null && typeof (x as { stats?: unknown }).stats === "function" && (x as { u32?: unknown }).u32 instanceof Uint32Array;
}
