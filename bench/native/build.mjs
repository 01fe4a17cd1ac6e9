// The native columns of bench/run.mjs: builds bench/native/workloads.c with `cc` into .bench-cache/ and says how to run one cell.
//
// One binary serves every native column: `c-floor` runs its loop floor, and
// the mallocs are the process's own (glibc) or one put in front of it with
// LD_PRELOAD. Each cell is its own process, like the JS cells.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "workloads.c");
const CACHE_DIR = join(HERE, "..", "..", ".bench-cache");
const CC = process.env.CC || "cc";
// -fno-builtin-malloc/-free: the compiler may not drop a malloc/free pair, nor the touch before a free.
const CC_FLAGS = ["-O2", "-fno-builtin-malloc", "-fno-builtin-free"];
const LIB_DIR = "/usr/lib/x86_64-linux-gnu";

/** Native columns in table order: the C loop floor, then the mallocs. */
export const NATIVE_ALLOCATORS = ["c-floor", "glibc", "mimalloc", "jemalloc", "tcmalloc"];

/** The workloads workloads.c implements (WORKLOADS.md's core set). */
export const NATIVE_WORKLOADS = ["pair64", "batch", "churn"];

/** LD_PRELOAD library of each preloaded malloc. */
export const NATIVE_PRELOAD = {
  mimalloc: join(LIB_DIR, "libmimalloc.so.2"),
  jemalloc: join(LIB_DIR, "libjemalloc.so.2"),
  tcmalloc: join(LIB_DIR, "libtcmalloc_minimal.so.4"),
};

// The Debian package that installs each library, for the note when it is missing.
const PACKAGE = { mimalloc: "libmimalloc2.0", jemalloc: "libjemalloc2", tcmalloc: "libtcmalloc-minimal4" };

// What the shared object defining `malloc` must be called, as the cell reports it (`mallocLib`).
const EXPECTED_LIB = { glibc: /\/libc\.so/, mimalloc: /libmimalloc/, jemalloc: /libjemalloc/, tcmalloc: /libtcmalloc/ };

function run(file, args) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8" }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout)));
  });
}

/**
 * Returns `{ binary }`, the path of the built program (compiled unless the
 * cache holds one for this source, compiler and flags), or `{ note }` saying
 * why there is none (no compiler; a compile error). `source` and `name` build
 * another program of the same kind (bench/traces/replay-passes.c).
 */
export async function buildNative({ log = () => {}, source: sourcePath = SOURCE, name = "native-workloads" } = {}) {
  let ccVersion;
  try {
    ccVersion = (await run(CC, ["--version"])).split("\n")[0];
  } catch (err) {
    return { note: `native columns skipped: no C compiler (\`${CC} --version\`: ${err.code ?? err.message})` };
  }
  const source = await readFile(sourcePath, "utf8");
  const key = createHash("sha256").update([source, ccVersion, ...CC_FLAGS].join("\0")).digest("hex").slice(0, 12);
  const binary = join(CACHE_DIR, `${name}-${key}`);
  if (await stat(binary).then(() => true, () => false)) return { binary, ccVersion };

  await mkdir(CACHE_DIR, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const t0 = performance.now();
  try {
    await run(CC, [...CC_FLAGS, "-o", tmp, sourcePath, "-ldl"]);
  } catch (err) {
    return { note: `native columns skipped: \`${CC}\` failed on ${sourcePath}: ${(err.stderr || err.message).trim().split("\n")[0]}` };
  }
  await rename(tmp, binary);
  log(`native: compiled with ${ccVersion} ${CC_FLAGS.join(" ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${binary}`);
  return { binary, ccVersion };
}

/**
 * How to run native cell (`allocator`, `workload`; for the trace replayer, the
 * trace's path) with the built `binary`:
 * `{ command, args, env }`, or `{ note }` when its malloc library is missing.
 */
export function nativeCell(binary, allocator, workload) {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const lib = NATIVE_PRELOAD[allocator];
  if (lib) {
    if (!existsSync(lib)) return { note: `${allocator} skipped: ${lib} is missing (Debian: \`apt-get install ${PACKAGE[allocator]}\`)` };
    env.LD_PRELOAD = lib;
  }
  return { command: binary, args: [allocator, workload], env };
}

/** Null if a finished native cell ran on the malloc it names, else why not. */
export function wrongMalloc(result) {
  const want = EXPECTED_LIB[result.allocator];
  if (!want || want.test(result.mallocLib)) return null;
  return `malloc came from ${result.mallocLib}, not ${result.allocator}`;
}
