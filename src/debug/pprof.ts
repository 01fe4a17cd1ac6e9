// Heap profiles in pprof's format (profile.proto), the format `go tool
// pprof`, Speedscope and most profile viewers read. See heap.ts for an overview.
//
// The encoding is platform-neutral: pprof-format writes the protobuf, and
// the standard CompressionStream gzips it (Node 18+, every current
// browser). Writing the file is Heap.writeHeapProfile's job (Node only).

import { Profile, StringTable } from "pprof-format";
import type { HeapProfile } from "../heap/profile.js";
import { OffheapTypeError } from "../errors.js";
import { describe } from "../common/options.js";

/**
 * The profile as pprof protobuf bytes (not compressed), with the sample
 * types Go's heap profiles use for live memory: `inuse_objects` (count) and
 * `inuse_space` (bytes), period type `space`/`bytes` = the sample interval.
 * Locations are one per distinct frame (function, file, line, column).
 * One pprof sample per profile sample; its integer values are rounded so
 * that their sums are the profile's totals rounded (see roundingSum).
 * Throws OffheapTypeError for anything but a HeapProfile.
 */
export function encodeHeapProfile(profile: HeapProfile): Uint8Array {
  checkProfile("encodeHeapProfile", profile);
  const strings = new StringTable();
  const functions = new Map<string, number>(); // "name\0file" -> function id
  const locations = new Map<string, number>(); // frame key -> location id
  const fnList: { id: number; name: number; systemName: number; filename: number }[] = [];
  const locList: { id: number; line: { functionId: number; line: number; column: number }[] }[] = [];
  const objects = roundingSum();
  const space = roundingSum();
  const samples = profile.samples.map((s) => {
    const locationId: number[] = [];
    for (const f of s.stack) {
      const fnKey = `${f.functionName}\0${f.file}`;
      let fnId = functions.get(fnKey);
      if (fnId === undefined) {
        fnId = fnList.length + 1;
        functions.set(fnKey, fnId);
        const name = strings.dedup(f.functionName);
        fnList.push({ id: fnId, name, systemName: name, filename: strings.dedup(f.file) });
      }
      const locKey = `${fnKey}\0${f.line}\0${f.column}`;
      let locId = locations.get(locKey);
      if (locId === undefined) {
        locId = locList.length + 1;
        locations.set(locKey, locId);
        locList.push({ id: locId, line: [{ functionId: fnId, line: f.line, column: f.column }] });
      }
      locationId.push(locId);
    }
    return { locationId, value: [objects(s.count), space(s.bytes)] };
  });
  const encoded = new Profile({
    sampleType: [
      { type: strings.dedup("inuse_objects"), unit: strings.dedup("count") },
      { type: strings.dedup("inuse_space"), unit: strings.dedup("bytes") },
    ],
    periodType: { type: strings.dedup("space"), unit: strings.dedup("bytes") },
    period: profile.sampleInterval,
    timeNanos: BigInt(profile.timeMs) * 1_000_000n,
    sample: samples,
    location: locList,
    function: fnList,
    stringTable: strings,
  });
  return encoded.encode();
}

// pprof's values are integers, and a sample's weights (1/p allocations,
// size/p bytes) are not. Rounded one by one, the errors add up rather than
// cancel: the samples of one size have the same fraction (a 100-byte
// sample at a 4 KiB interval stands for 41.46 allocations, written as 41),
// so a site's and the whole profile's inuse_objects fell short by 0.46 a
// sample, about 1%. (Go's runtime/pprof truncates once per stack-and-size
// record, and pprof's Scale rounds each value: neither keeps the total.)
// This rounds the running sum instead: each value is the rounded sum so
// far less what was written, so the written values add up to the rounded
// total, each is within 1 of its weight, and a weight of at least 1 (every
// count) is written as at least 1.
function roundingSum(): (x: number) => number {
  let exact = 0;
  let written = 0;
  return (x) => {
    exact += x;
    const v = Math.round(exact) - written;
    written += v;
    return v;
  };
}

// Throws OffheapTypeError naming `api` unless `profile` has the shape of a HeapProfile.
function checkProfile(api: string, profile: unknown): void {
  const p = profile as Partial<HeapProfile> | null;
  if (typeof p !== "object" || p === null || typeof p.sampleInterval !== "number" || !Array.isArray(p.samples)) {
    throw new OffheapTypeError(`${api}: profile must be a HeapProfile (what heap.profile() returns), got ${describe(profile)}`);
  }
}

/** `encodeHeapProfile` gzipped, as pprof files usually are. Rejects with OffheapTypeError for anything but a HeapProfile. */
export async function gzipHeapProfile(profile: HeapProfile): Promise<Uint8Array> {
  checkProfile("gzipHeapProfile", profile);
  const stream = new Blob([encodeHeapProfile(profile) as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
