// writeHeapProfile: a heap's live sampled profile written to a pprof file
// (Node only). See heap/heap.ts for an overview.

import { OffheapTypeError } from "../errors.js";
import { Heap } from "../heap/heap.js";
import { gzipProfile } from "./pprof.js";
import { writeFileBytes } from "../common/write-file.js";

/**
 * Writes `heap.profile()` to the file `path` as a gzipped pprof protobuf
 * (`go tool pprof path`, Speedscope); resolves to the bytes written. Node
 * only (node:fs); elsewhere use `encodeHeapProfile(heap.profile())`.
 * Rejects with TypeError for a path that is not a string, a `heap` that is
 * not a Heap or a heap without the profiler, and with the fs error if the
 * file cannot be written. Cost: O(samples) plus one gzip and one write.
 *
 * @example
 * const heap = new Heap({ profile: true });
 * // ... work ...
 * await writeHeapProfile("heap.pb.gz", heap);
 */
export async function writeHeapProfile(path: string, heap: Heap): Promise<number> {
  if (typeof path !== "string") throw new OffheapTypeError(`writeHeapProfile: path must be a string, got ${typeof path}`);
  if (!(heap instanceof Heap)) throw new OffheapTypeError("writeHeapProfile: heap must be a Heap");
  const bytes = await gzipProfile(heap.profile()); // a profile the heap made: nothing to check
  await writeFileBytes("writeHeapProfile", path, bytes);
  return bytes.length;
}
