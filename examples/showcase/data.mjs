// The showcase's data set, shared by main.mjs and worker.mjs: what record i
// holds, the seeded random sequences that pick keys for lookups and updates,
// and the check that a reloaded copy holds the right records.
//
// Record i: key "user:<i>", { id: i, name: "name-<i>", score, lat, lng }.
// The three numbers are functions of i; every update adds 1 to score. Both
// sides of the showcase run the same update sequence, so they end with the
// same data, and verify() recomputes what any record must hold by replaying
// that sequence.

/** Fields of a record as `defineStruct` takes them: an id, a name and three numbers. */
export const RECORD_FIELDS = Object.freeze({ id: "u32", name: "string", score: "f64", lat: "f64", lng: "f64" });
/** Root name of the map in the saved heap image. */
export const ROOT_NAME = "records";
export const DEFAULT_SEED = 2463534242;
const UPDATE_SEED_MIX = 0x9e3779b9;
const VERIFY_SEED_MIX = 0x85ebca6b;
/** Records that verify() checks (plus the first and the last). */
export const VERIFY_SAMPLE = 1000;

const KEY_PREFIX = "user:";

/** The map key of record `id`. */
export function keyOf(id) {
  return KEY_PREFIX + id;
}

/** The record id in a key made by keyOf, or NaN. */
export function idOf(key) {
  return key.startsWith(KEY_PREFIX) ? Number(key.slice(KEY_PREFIX.length)) : NaN;
}

/** The name of record `id`. */
export function nameOf(id) {
  return "name-" + id;
}

/** Score of record `id` before any update. */
export function scoreOf(id) {
  return (id % 997) + 0.5;
}

export function latOf(id) {
  return (id % 180) - 89.75;
}

export function lngOf(id) {
  return (id % 360) - 179.5;
}

/**
 * xorshift32 state in a one-element Uint32Array: `nextIndex(s, n)` steps it
 * and returns an integer in [0, n). No allocation per call.
 */
export function rngState(seed) {
  const s = new Uint32Array(1);
  s[0] = seed >>> 0 || 1;
  return s;
}

export function nextIndex(s, n) {
  let x = s[0];
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  s[0] = x;
  return s[0] % n;
}

/** The sequence of record indices that lookups visit. */
export function lookupRng(seed) {
  return rngState(seed);
}

/** The sequence of record indices that updates visit (each adds 1 to score). */
export function updateRng(seed) {
  return rngState(seed ^ UPDATE_SEED_MIX);
}

/**
 * Checks a copy of the data set: `read(key)` returns the record stored under
 * `key` as a plain object, or undefined. Checks VERIFY_SAMPLE random records
 * and the first and last exactly (their score includes every update the
 * seeded sequence gave them) and one key that must be absent. Returns
 * { checked, bad, firstBad } (firstBad: a message, or "").
 */
export function verify(read, records, updates, seed) {
  const ids = new Set([0, records - 1]);
  const pick = rngState(seed ^ VERIFY_SEED_MIX);
  while (ids.size < Math.min(records, VERIFY_SAMPLE + 2)) ids.add(nextIndex(pick, records));
  const bumps = new Map([...ids].map((id) => [id, 0]));
  const u = updateRng(seed);
  for (let j = 0; j < updates; j++) {
    const id = nextIndex(u, records);
    const b = bumps.get(id);
    if (b !== undefined) bumps.set(id, b + 1);
  }
  let bad = 0;
  let firstBad = "";
  const fail = (msg) => {
    bad++;
    if (firstBad === "") firstBad = msg;
  };
  for (const id of ids) {
    const want = { id, name: nameOf(id), score: scoreOf(id) + bumps.get(id), lat: latOf(id), lng: lngOf(id) };
    const got = read(keyOf(id));
    if (got === undefined) {
      fail(`${keyOf(id)} is missing`);
      continue;
    }
    for (const f of Object.keys(want)) {
      if (got[f] !== want[f]) {
        fail(`${keyOf(id)}.${f} is ${JSON.stringify(got[f])}, expected ${JSON.stringify(want[f])}`);
        break;
      }
    }
  }
  if (read(keyOf(records)) !== undefined) fail(`${keyOf(records)} should be absent`);
  return { checked: ids.size + 1, bad, firstBad };
}
