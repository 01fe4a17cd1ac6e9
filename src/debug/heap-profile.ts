// The pprof entry points of offheap/debug: encodeHeapProfile and
// gzipHeapProfile check the whole profile (check-input.ts) before pprof.ts
// encodes it, since a profile may come from JSON or be built by hand. See
// heap/heap.ts for an overview.

import type { HeapProfile } from "../heap/profile.js";
import { checkHeapProfile } from "./check-input.js";
import { encodeProfile, gzipProfile } from "./pprof.js";

/**
 * The profile as pprof protobuf bytes (not compressed), with the sample
 * types Go's heap profiles use for live memory: `inuse_objects` (count) and
 * `inuse_space` (bytes), period type `space`/`bytes` = the sample interval.
 * Locations are one per distinct frame (function, file, line, column).
 * Cost: O(samples x frames).
 *
 * Throws OffheapTypeError for anything but a HeapProfile or a field of the
 * wrong type (or missing), and OffheapRangeError for a number out of range
 * (NaN, negative, a fraction where an integer belongs); each names the
 * field, e.g. `encodeHeapProfile: profile.samples[3].count must be a finite
 * number >= 0, got NaN`. Nothing is encoded then.
 *
 * @example const bytes = encodeHeapProfile(heap.profile());
 */
export function encodeHeapProfile(profile: HeapProfile): Uint8Array {
  checkHeapProfile("encodeHeapProfile", profile);
  return encodeProfile(profile);
}

/**
 * `encodeHeapProfile` gzipped, as pprof files usually are. Rejects with
 * encodeHeapProfile's errors (naming gzipHeapProfile) for a profile that
 * does not pass its checks.
 *
 * @example await writeFile("heap.pb.gz", await gzipHeapProfile(heap.profile()));
 */
export async function gzipHeapProfile(profile: HeapProfile): Promise<Uint8Array> {
  checkHeapProfile("gzipHeapProfile", profile);
  return gzipProfile(profile);
}
