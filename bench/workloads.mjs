// The benchmark workloads of /work/shared/WORKLOADS.md, written once against an allocator adapter.
//
// An adapter (see allocators.mjs) has:
//   alloc(sizeBytes) -> handle     (an address, or a Uint8Array for the v8 peer)
//   touch(handle)                  writes the byte 1 at the block's first address
//   put24(handle, i, x)            writes int32 i at +0 and float64 x at +8
//   free(handle)
//   slots(n) -> array of n handles (Uint32Array of addresses, or a JS Array)
// Every process uses exactly one adapter class, so the calls below stay monomorphic.
// Dropping a slot's handle (`s[i] = 0`) is the v8 peer's "free"; for address
// allocators it is one extra store, which a C program would make too.

/** The xorshift32 seed every workload starts from. */
export const RNG_SEED = 2463534242;

// xorshift32 state, held as int32 bits; rng() returns it as uint32.
let rngState = RNG_SEED | 0;

/** Restarts the random sequence at RNG_SEED (each workload run starts with this). */
export function reseed() {
  rngState = RNG_SEED | 0;
}

/** Next xorshift32 value, an integer in [0, 2**32). */
export function rng() {
  let s = rngState;
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  rngState = s;
  return s >>> 0;
}

/** Log-uniform size in 8 … 8191: b = rng() % 10, lo = 8 << b, lo + rng() % lo. */
export function logsize() {
  const lo = 8 << (rng() % 10);
  return lo + (rng() % lo);
}

/** pair64: n times alloc(64), write, free. Returns the op count 2n. */
export function pair64(a, n) {
  for (let i = 0; i < n; i++) {
    const p = a.alloc(64);
    a.touch(p);
    a.free(p);
  }
  return 2 * n;
}

/** batch: r rounds of k allocs of 16 + rng() % 1009, Fisher-Yates shuffle, free all. Returns 2kr. */
export function batch(a, r, k) {
  const s = a.slots(k);
  for (let round = 0; round < r; round++) {
    for (let i = 0; i < k; i++) {
      const p = a.alloc(16 + (rng() % 1009));
      a.touch(p);
      s[i] = p;
    }
    for (let i = k - 1; i >= 1; i--) {
      const j = rng() % (i + 1);
      const t = s[i];
      s[i] = s[j];
      s[j] = t;
    }
    for (let i = 0; i < k; i++) {
      a.free(s[i]);
      s[i] = 0;
    }
  }
  return 2 * k * r;
}

/** churn: fill l slots with alloc(logsize()), then m times replace a random slot. Returns l + 2m. */
export function churn(a, l, m) {
  const s = a.slots(l);
  for (let i = 0; i < l; i++) {
    const p = a.alloc(logsize());
    a.touch(p);
    s[i] = p;
  }
  for (let i = 0; i < m; i++) {
    const j = rng() % l;
    a.free(s[j]);
    const p = a.alloc(logsize());
    a.touch(p);
    s[j] = p;
  }
  return l + 2 * m;
}

/** xmm-alloc24: n allocs of 24 bytes, kept, each written with an int32 and a float64. Returns n. */
export function xmmAlloc24(a, n) {
  const s = a.slots(n);
  for (let i = 0; i < n; i++) {
    const p = a.alloc(24);
    a.put24(p, i, i + 0.5);
    s[i] = p;
  }
  return n;
}

/** xmm-random60 (one worker): n allocs of 1 + rng() % 60 bytes, kept. Returns n. */
export function xmmRandom60(a, n) {
  const s = a.slots(n);
  for (let i = 0; i < n; i++) {
    const p = a.alloc(1 + (rng() % 60));
    a.touch(p);
    s[i] = p;
  }
  return n;
}

/** xmm-large85k: n allocs of 87,405 bytes; after all of them, free all but every third. Returns ops. */
export function xmmLarge85k(a, n) {
  const s = a.slots(n);
  for (let i = 0; i < n; i++) {
    const p = a.alloc(87405);
    a.touch(p);
    s[i] = p;
  }
  let frees = 0;
  for (let i = 0; i < n; i++) {
    if (i % 3 !== 0) {
      a.free(s[i]);
      s[i] = 0;
      frees++;
    }
  }
  return n + frees;
}

const scaled = (count, scale) => Math.max(1, Math.round(count * scale));

/**
 * The workloads by name, as run by cell.mjs. `run(adapter, scale)` runs the
 * workload at `scale` (1 = as WORKLOADS.md defines it, 0.1 = warm-up) and returns
 * the op count. `core`: one of WORKLOADS.md's core workloads (the `--short` set).
 */
export const WORKLOADS = {
  pair64: { core: true, run: (a, f) => pair64(a, scaled(20_000_000, f)) },
  batch: { core: true, run: (a, f) => batch(a, scaled(300, f), 10_000) },
  churn: { core: true, run: (a, f) => churn(a, scaled(100_000, f), scaled(5_000_000, f)) },
  "xmm-alloc24": { core: false, run: (a, f) => xmmAlloc24(a, scaled(1_000_000, f)) },
  "xmm-random60": { core: false, run: (a, f) => xmmRandom60(a, scaled(1_000_000, f)) },
  "xmm-large85k": { core: false, run: (a, f) => xmmLarge85k(a, scaled(10_000, f)) },
};
