// Loads the buffers layer under test from dist/ (the build of src/buffers/).
//
// Each class from the barrel dist/buffers/index.js when it exports it, else
// from its own file; $OFFHEAP_BUFFERS_DIST points at another build's buffers
// folder (Heap then comes from the index.js one folder up).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Folder of the buffers build under test. */
export function buffersDistDir() {
  const override = process.env.OFFHEAP_BUFFERS_DIST;
  return override ? resolve(override) : fileURLToPath(new URL("../../dist/buffers/", import.meta.url));
}

/** The files each class comes from when there is no barrel. */
const FILES = {
  RangeAllocator: "range-allocator.js",
  BuddyAllocator: "buddy-allocator.js",
  ScalableAllocator: "scalable-allocator.js",
  RecyclableMemory: "recyclable-memory.js",
  BufferList: "buffer-list.js",
  BufferReader: "buffer-reader.js",
};

/**
 * The classes named in `names` (keys of FILES, or "Heap"), imported from the
 * build: from the barrel if it exports them, else from their own files.
 * Throws naming a missing file or export.
 */
export async function loadBuffers(names) {
  const dir = buffersDistDir();
  const barrelFile = join(dir, "index.js");
  const barrel = existsSync(barrelFile) ? await import(pathToFileURL(barrelFile).href) : {};
  const lib = {};
  for (const name of names) {
    if (name !== "Heap" && typeof barrel[name] === "function") {
      lib[name] = barrel[name];
      continue;
    }
    const file = name === "Heap" ? join(dir, "..", "index.js") : join(dir, FILES[name]);
    if (!existsSync(file)) throw new Error(`${name}: ${file} does not exist (run \`npx tsc -p tsconfig.json\`)`);
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod[name] !== "function") throw new Error(`${name}: not exported by ${file}`);
    lib[name] = mod[name];
  }
  return lib;
}

/** The files of FILES missing from the build (the driver reports them). */
export function missingFiles() {
  const dir = buffersDistDir();
  return Object.values(FILES).filter((f) => !existsSync(join(dir, f)));
}
