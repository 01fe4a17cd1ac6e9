// The core workloads of WORKLOADS.md (pair64, batch, churn) in C, against the
// process's malloc, for the native columns of bench/run.mjs. See build.mjs.
//
//   native-workloads <allocator> <workload> [scale]
//
// <allocator> is a label: `c-floor` runs the loop floor (below); any other
// label (glibc, mimalloc, jemalloc, tcmalloc) calls malloc/free, which the
// driver picks with LD_PRELOAD. The program reports which shared object
// defines the malloc it calls (`mallocLib`), so the driver can check that the
// preload took effect.
//
// The same code shape as bench/workloads.mjs and bench/cell.mjs:
// - xorshift32 from seed 2463534242, reseeded before the warm-up and before
//   the timed run; sizes, op counts and orders of rng() calls as there;
// - after each alloc, the byte 1 is written at the block's first address (the
//   JS adapters write heap.u8[addr] = 1); slots are cleared after a free as
//   the JS loop does (`s[i] = 0`);
// - a warm-up run at 1/10 size, then the timed run at full size (or `scale`),
//   timed with CLOCK_MONOTONIC; one JSON line with the fields cell.mjs prints.
//
// Dead code: the program is built with -fno-builtin-malloc -fno-builtin-free,
// so the compiler may not drop a malloc/free pair or the store before a free;
// and each touched byte is read back just before its free and summed into a
// checksum that is printed and checked (it must equal the number of frees:
// every touched byte is 1). The read hits the cache line free is about to
// touch anyway, and the floor reads too.
//
// The loop floor (`c-floor`): the same loops with a bump "allocator" through a
// small ring of memory touched in advance (RING_BYTES) and a free that does
// nothing but the checksum read. What the floor costs is the loop itself: the
// rng, the modulo, the shuffle, the slot array, the touch. bench/allocators.mjs
// has the same floor in JS (`floor`); run.mjs subtracts each language's floor
// from its allocators ("net").
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RNG_SEED 2463534242u
#define WARMUP_SCALE 0.1

// 64 KiB: larger than any block (8191 bytes), small enough to stay in L2.
#define RING_SHIFT 16
#define RING_BYTES (1u << RING_SHIFT)
#define RING_MASK (RING_BYTES - 1)

static uint32_t rng_state = RNG_SEED;

static void reseed(void) { rng_state = RNG_SEED; }

static inline uint32_t rng(void) {
  uint32_t s = rng_state;
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  rng_state = s;
  return s;
}

/** Log-uniform size in 8 … 8191: b = rng() % 10, lo = 8 << b, lo + rng() % lo. */
static inline uint32_t logsize(void) {
  uint32_t lo = 8u << (rng() % 10);
  return lo + rng() % lo;
}

// The allocator under test: malloc/free, or the floor's bump through the ring.
static uint8_t *ring;
static uint32_t ring_top;

static inline __attribute__((always_inline)) uint8_t *bench_alloc(int use_floor, uint32_t size_bytes) {
  if (!use_floor) return malloc(size_bytes);
  uint8_t *p = ring + ring_top;
  ring_top = (ring_top + ((size_bytes + 15) & ~15u)) & RING_MASK;
  return p;
}

// Reads the touched byte into the checksum, then frees.
static inline __attribute__((always_inline)) void bench_free(int use_floor, uint8_t *p, uint64_t *sum) {
  *sum += p[0];
  if (!use_floor) free(p);
}

// Each workload returns its op count (WORKLOADS.md's count) and adds the bytes
// it read back to *checksum. Written once, instantiated for malloc and floor.

static inline __attribute__((always_inline)) long pair64(int use_floor, long n, uint64_t *checksum) {
  uint64_t sum = 0;
  for (long i = 0; i < n; i++) {
    uint8_t *p = bench_alloc(use_floor, 64);
    p[0] = 1;
    bench_free(use_floor, p, &sum);
  }
  *checksum += sum;
  return 2 * n;
}

static inline __attribute__((always_inline)) long batch(int use_floor, long r, long k, uint64_t *checksum) {
  uint8_t **s = calloc(k, sizeof *s);
  uint64_t sum = 0;
  for (long round = 0; round < r; round++) {
    for (long i = 0; i < k; i++) {
      uint8_t *p = bench_alloc(use_floor, 16 + rng() % 1009);
      p[0] = 1;
      s[i] = p;
    }
    for (long i = k - 1; i >= 1; i--) {
      uint32_t j = rng() % (uint32_t)(i + 1);
      uint8_t *t = s[i];
      s[i] = s[j];
      s[j] = t;
    }
    for (long i = 0; i < k; i++) {
      bench_free(use_floor, s[i], &sum);
      s[i] = 0;
    }
  }
  free(s);
  *checksum += sum;
  return 2 * k * r;
}

// The blocks still live at the end are handed back in *live (l of them): the
// caller frees them untimed (the JS cell drops its whole heap instead).
static inline __attribute__((always_inline)) long churn(int use_floor, long l, long m, uint64_t *checksum, uint8_t ***live) {
  uint8_t **s = calloc(l, sizeof *s);
  uint64_t sum = 0;
  for (long i = 0; i < l; i++) {
    uint8_t *p = bench_alloc(use_floor, logsize());
    p[0] = 1;
    s[i] = p;
  }
  for (long i = 0; i < m; i++) {
    uint32_t j = rng() % (uint32_t)l;
    bench_free(use_floor, s[j], &sum);
    uint8_t *p = bench_alloc(use_floor, logsize());
    p[0] = 1;
    s[j] = p;
  }
  *live = s;
  *checksum += sum;
  return l + 2 * m;
}

// One noinline instance per (workload, allocator), so each loop is compiled
// for its allocator alone, as V8 compiles a cell's loop for its one adapter.
#define INSTANCES(NAME, FLOOR)                                                                                  \
  static __attribute__((noinline)) long pair64_##NAME(long n, uint64_t *c) { return pair64(FLOOR, n, c); }     \
  static __attribute__((noinline)) long batch_##NAME(long r, long k, uint64_t *c) { return batch(FLOOR, r, k, c); } \
  static __attribute__((noinline)) long churn_##NAME(long l, long m, uint64_t *c, uint8_t ***live) {            \
    return churn(FLOOR, l, m, c, live);                                                                         \
  }
INSTANCES(malloc, 0)
INSTANCES(floor, 1)

/** Math.max(1, Math.round(count * scale)), as workloads.mjs scales a count. */
static long scaled(long count, double scale) {
  long n = (long)(count * scale + 0.5);
  return n < 1 ? 1 : n;
}

/** Runs workload `w` at `scale`; returns the op count and adds frees to *frees. */
static long run(const char *w, int use_floor, double scale, uint64_t *checksum, long *frees) {
  if (!strcmp(w, "pair64")) {
    long n = scaled(20000000, scale);
    *frees += n;
    return use_floor ? pair64_floor(n, checksum) : pair64_malloc(n, checksum);
  }
  if (!strcmp(w, "batch")) {
    long r = scaled(300, scale), k = 10000;
    *frees += r * k;
    return use_floor ? batch_floor(r, k, checksum) : batch_malloc(r, k, checksum);
  }
  if (!strcmp(w, "churn")) {
    long l = scaled(100000, scale), m = scaled(5000000, scale);
    uint8_t **live;
    *frees += m;
    long ops = use_floor ? churn_floor(l, m, checksum, &live) : churn_malloc(l, m, checksum, &live);
    if (!use_floor)
      for (long i = 0; i < l; i++) free(live[i]);
    free(live);
    return ops;
  }
  return -1;
}

static double rss_mib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * 4096.0 / (1 << 20);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: native-workloads <c-floor|glibc|mimalloc|jemalloc|tcmalloc> <pair64|batch|churn> [scale]\n");
    return 2;
  }
  const char *allocator = argv[1], *workload = argv[2];
  double scale = argc > 3 ? atof(argv[3]) : 1.0;
  int use_floor = !strcmp(allocator, "c-floor");
  if (!(scale > 0)) {
    fprintf(stderr, "Error: native-workloads: scale must be > 0 (got %s)\n", argv[3]);
    return 2;
  }

  // The ring is touched in advance, so the floor never takes a page fault.
  ring = malloc(RING_BYTES);
  memset(ring, 0, RING_BYTES);

  uint64_t checksum = 0;
  long frees = 0;
  reseed();
  if (run(workload, use_floor, scale * WARMUP_SCALE, &checksum, &frees) < 0) {
    fprintf(stderr, "Error: native-workloads: unknown workload \"%s\" (expected pair64, batch or churn)\n", workload);
    return 2;
  }

  reseed();
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long ops = run(workload, use_floor, scale, &checksum, &frees);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);

  if (checksum != (uint64_t)frees) {
    fprintf(stderr, "Error: native-workloads: checksum %llu, expected %ld (one touched byte 1 per free)\n",
            (unsigned long long)checksum, frees);
    return 1;
  }

  // Which shared object defines the malloc this program calls (LD_PRELOAD's, or libc's).
  Dl_info info;
  void *sym = dlsym(RTLD_DEFAULT, "malloc");
  const char *lib = sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname : "unknown";

  printf("{\"allocator\":\"%s\",\"workload\":\"%s\",\"scale\":%g,\"ops\":%ld,\"ms\":%.3f,\"nsPerOp\":%.4f,"
         "\"allocsPerSec\":null,\"gc\":{\"count\":0,\"totalMs\":0,\"maxMs\":0},\"rssMiB\":%.1f,"
         "\"checksum\":%llu,\"mallocLib\":\"%s\"}\n",
         allocator, workload, scale, ops, ns / 1e6, ns / ops, rss_mib(), (unsigned long long)checksum,
         use_floor ? "none (floor)" : lib);
  return 0;
}
