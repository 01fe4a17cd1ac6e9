// Heap profiles in pprof's format (profile.proto), the format `go tool
// pprof`, Speedscope and most profile viewers read. See heap.ts for an overview.
//
// The encoding is platform-neutral: pprof-format writes the protobuf, and
// the standard CompressionStream gzips it (Node 18+, every current
// browser). The public entry points (heap-profile.ts) check a profile
// before it gets here; writeHeapProfile (Node only) encodes heap.profile()'s.

import { Profile, StringTable } from "pprof-format";
import type { HeapProfile } from "../heap/profile.js";

/**
 * The profile, which the caller has checked (check-input.ts) or made, as
 * pprof protobuf bytes (heap-profile.ts encodeHeapProfile documents them).
 * One pprof sample per profile sample; its integer values are rounded so
 * that their sums are the profile's totals rounded (see roundingSum).
 * @internal
 */
export function encodeProfile(profile: HeapProfile): Uint8Array {
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

/** encodeProfile gzipped, as pprof files usually are. @internal */
export async function gzipProfile(profile: HeapProfile): Promise<Uint8Array> {
  const stream = new Blob([encodeProfile(profile) as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
