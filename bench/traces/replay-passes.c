// Native side of bench/traces.mjs: replays a trace (uncompressed u32 pairs,
// see trace-file.mjs) against this process's malloc/free, or as `c-floor`
// against a bump allocator over a small pre-touched ring that never frees
// (the C loop's own cost, as in ../native/workloads.c). The driver runs it
// plain for glibc and under LD_PRELOAD for mimalloc, jemalloc and tcmalloc,
// built by ../native/build.mjs (-O2 -fno-builtin-malloc -fno-builtin-free:
// the compiler may not drop a malloc/free pair). The loop is the JS
// harness's (cell.mjs): an alloc mallocs the pair's size (0 as 1), writes
// one byte and keeps the pointer in its slot; a free frees the slot's
// pointer and clears it.
//
//   replay-passes <c-floor|glibc|mimalloc|jemalloc|tcmalloc> TRACE [passes]
//
// Pass 1 is timed whole and its first 100,000 ops on their own; after each
// pass what is left is freed, untimed. Prints one JSON line: prefixOps,
// prefixNs, passNs[], peak resident bytes after pass 1 and after the last
// pass (VmHWM) less the resident bytes before pass 1 (the trace and the slot
// table, touched in advance), and the shared object that defines malloc
// (mallocLib), so the driver can check that the preload took effect.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FREE_BIT 0x80000000u
#define SLOT_MASK 0x7fffffffu
#define PREFIX_OPS 100000L
#define RING_BYTES (1u << 16)
#define MAX_PASSES 8

static uint32_t *pairs;
static void **slots;
static unsigned char ring[RING_BYTES + 64];
static uint32_t ring_pos;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *bump_alloc(uint32_t size) {
  void *p = ring + 64 + ring_pos;
  ring_pos = (ring_pos + ((size + 15) & ~15u)) & (RING_BYTES - 1);
  return p;
}
static void bump_free(void *p) { (void)p; }

// One loop per allocator, so neither pays a branch or an indirect call the other lacks.
#define REPLAY(NAME, ALLOC, FREE)                                     \
  static void NAME(long from, long to) {                              \
    for (long i = from; i < to; i++) {                                \
      uint32_t word = pairs[2 * i];                                   \
      if (word & FREE_BIT) {                                          \
        uint32_t s = word & SLOT_MASK;                                \
        FREE(slots[s]);                                               \
        slots[s] = 0;                                                 \
      } else {                                                        \
        uint32_t size = pairs[2 * i + 1];                             \
        unsigned char *p = ALLOC(size ? size : 1);                    \
        *(volatile unsigned char *)p = 1;                             \
        slots[word] = p;                                              \
      }                                                               \
    }                                                                 \
  }
REPLAY(replay_malloc, malloc, free)
REPLAY(replay_floor, bump_alloc, bump_free)

static long resident_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

// The high-water mark of this process's own memory. Not getrusage's ru_maxrss:
// Linux keeps that across execve, so a child of a big parent starts at its size.
static long peak_resident_bytes(void) {
  char line[256];
  long kib = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib * 1024L;
}

int main(int argc, char **argv) {
  int passes = argc > 3 ? atoi(argv[3]) : 3;
  if (argc < 3 || passes < 1 || passes > MAX_PASSES) {
    fprintf(stderr, "usage: replay-passes <c-floor|glibc|mimalloc|jemalloc|tcmalloc> TRACE [passes 1..%d]\n", MAX_PASSES);
    return 2;
  }
  const char *allocator = argv[1], *path = argv[2];
  int use_floor = !strcmp(allocator, "c-floor");
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return 1; }
  fseek(f, 0, SEEK_END);
  long ops = ftell(f) / 8;
  rewind(f);
  pairs = malloc(ops * 8);
  if (fread(pairs, 8, ops, f) != (size_t)ops) { fprintf(stderr, "%s: short read\n", path); return 1; }
  fclose(f);
  uint32_t nslots = 0;
  for (long i = 0; i < ops; i++) if ((pairs[2 * i] & SLOT_MASK) + 1 > nslots) nslots = (pairs[2 * i] & SLOT_MASK) + 1;
  // Zeroed by hand, page by page: malloc + memset would become calloc, whose fresh pages are not resident yet.
  slots = malloc(nslots * sizeof(void *));
  for (uint32_t s = 0; s < nslots; s++) ((void *volatile *)slots)[s] = 0;
  memset(ring, 1, sizeof ring);
  void (*replay)(long, long) = use_floor ? replay_floor : replay_malloc;
  long prefix = ops < PREFIX_OPS ? ops : PREFIX_OPS;
  double pass_ns[MAX_PASSES], prefix_ns = 0;
  long base = resident_bytes(), peak_first = 0;
  for (int pass = 0; pass < passes; pass++) {
    double t0 = now_ns();
    replay(0, prefix);
    double t1 = now_ns();
    replay(prefix, ops);
    double t2 = now_ns();
    pass_ns[pass] = t2 - t0;
    if (pass == 0) { prefix_ns = t1 - t0; peak_first = peak_resident_bytes(); }
    for (uint32_t s = 0; s < nslots; s++)
      if (slots[s]) { if (!use_floor) free(slots[s]); slots[s] = 0; }
  }
  Dl_info info;
  void *sym = dlsym(RTLD_DEFAULT, "malloc");
  const char *lib = sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname : "unknown";
  printf("{\"allocator\":\"%s\",\"ops\":%ld,\"prefixOps\":%ld,\"prefixNs\":%.0f,\"passNs\":[", allocator, ops, prefix, prefix_ns);
  for (int pass = 0; pass < passes; pass++) printf("%s%.0f", pass ? "," : "", pass_ns[pass]);
  printf("],\"footprintBytes\":[%ld,%ld],\"mallocLib\":\"%s\"}\n", peak_first - base, peak_resident_bytes() - base,
         use_floor ? "none (floor)" : lib);
  return 0;
}
