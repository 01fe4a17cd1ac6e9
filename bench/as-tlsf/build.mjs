// Compiles bench/as-tlsf/tlsf.ts with the assemblyscript devDependency into .bench-cache/ and checks it is TLSF.
//
// Runtime `minimal` = TLSF (std/assembly/rt/tlsf.ts) + a two-color collector
// that only runs when __collect() is called, which nothing here does; heap.alloc
// and heap.free are then TLSF's __alloc/__free with no GC bookkeeping. (`stub`
// would be a bump allocator that never frees; `incremental` adds a GC and a
// shadow stack.) -O3 --noAssert drops checkUsedBlock's assertion from free.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "tlsf.ts");
const CACHE_DIR = join(HERE, "..", "..", ".bench-cache");
const ASC_FLAGS = ["--runtime", "minimal", "-O3", "--noAssert"];

/** Instantiates the compiled WebAssembly.Module; its one import, env.abort, throws (TLSF misuse, size too large). */
export async function instantiateTlsf(wasmModule) {
  let memory = null;
  // An AssemblyScript string: UTF-16 code units, byte length stored 4 bytes before it.
  const text = (ptr) => {
    const byteLength = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, byteLength >>> 1));
  };
  const env = {
    abort(msgPtr, filePtr, line, col) {
      throw new Error(`as-tlsf: ${text(msgPtr)} (${text(filePtr)}:${line}:${col})`);
    },
  };
  const instance = await WebAssembly.instantiate(wasmModule, { env });
  memory = instance.exports.memory;
  return instance.exports;
}

/**
 * Throws unless the module behaves as TLSF: a freed block is handed out again
 * (stub's bump allocator never does), 1,000 freed blocks are all reused without
 * growing memory, addresses are 16-byte aligned, and the text format names
 * TLSF's search/insert functions.
 */
export async function verifyTlsf(wasmBytes, watText) {
  for (const fn of ["~lib/rt/tlsf/searchBlock", "~lib/rt/tlsf/insertBlock"]) {
    if (!watText.includes(fn)) throw new Error(`as-tlsf: compiled module lacks ${fn}`);
  }
  const ex = await instantiateTlsf(await WebAssembly.compile(wasmBytes));
  const p = ex.alloc(64);
  ex.free(p);
  const q = ex.alloc(64);
  if (p !== q) throw new Error(`as-tlsf: freed block not reused (${p} then ${q})`);
  ex.free(q);
  const first = [];
  for (let i = 0; i < 1000; i++) first.push(ex.alloc(100 + i));
  for (const a of first) ex.free(a);
  const pages = ex.memory.buffer.byteLength;
  const low = Math.min(...first);
  const high = Math.max(...first);
  for (let i = 0; i < 1000; i++) {
    const a = ex.alloc(100 + i);
    if (a < low || a > high || a % 16 !== 0) throw new Error(`as-tlsf: unexpected address ${a}`);
  }
  if (ex.memory.buffer.byteLength !== pages) throw new Error("as-tlsf: memory grew although freed blocks fit");
}

/**
 * Returns the path of the verified .wasm, compiling it first unless the cache
 * holds one for this source, compiler version and flags.
 */
export async function buildTlsf({ log = () => {} } = {}) {
  const require = createRequire(import.meta.url);
  const ascVersion = require("assemblyscript/package.json").version;
  const source = await readFile(SOURCE, "utf8");
  const key = createHash("sha256").update([source, ascVersion, ...ASC_FLAGS].join("\0")).digest("hex").slice(0, 12);
  const wasmPath = join(CACHE_DIR, `as-tlsf-${key}.wasm`);
  if (await stat(wasmPath).then(() => true, () => false)) return wasmPath;

  await mkdir(CACHE_DIR, { recursive: true });
  const tmpWasm = `${wasmPath}.${process.pid}.tmp`;
  const watPath = join(CACHE_DIR, `as-tlsf-${key}.wat`);
  const { default: asc } = await import("assemblyscript/asc");
  const t0 = performance.now();
  const result = await asc.main([SOURCE, ...ASC_FLAGS, "-o", tmpWasm, "-t", watPath], {});
  if (result.error) throw new Error(`as-tlsf: asc failed: ${result.error.message}\n${result.stderr}`);
  await verifyTlsf(await readFile(tmpWasm), await readFile(watPath, "utf8"));
  await rename(tmpWasm, wasmPath);
  log(`as-tlsf: compiled with asc ${ascVersion} ${ASC_FLAGS.join(" ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s, verified TLSF reuse -> ${wasmPath}`);
  return wasmPath;
}
