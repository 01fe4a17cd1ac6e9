// Layers with one direction (DESIGN.md, principle 4): memory/ -> heap/ ->
// the layers above it (buffers/, collections/, debug/), each of which uses
// the heap's public API only. Checked on the sources' imports, and on what
// Node really loads for `import { Heap } from "offheap"`: neither the heap
// map's HTML generator nor pprof-format (they are offheap/debug's).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const SRC = join(ROOT, "src");

/** Every .ts file under dir, as paths relative to src/. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [relative(SRC, join(dir, e.name))] : []);
}

/** The relative imports of a source file (value and type imports alike), resolved to paths relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) {
    out.push(relative(SRC, join(SRC, file, "..", m[1]!)).replace(/\.js$/, ".ts"));
  }
  return out;
}

// What each layer may import, besides its own folder: a prefix of src/.
const ALLOWED: Record<string, string[]> = {
  "memory/": ["errors.ts"],
  "common/": ["errors.ts"],
  "heap/": ["errors.ts", "memory/", "common/"],
  // The layers above the heap use its public entry points: the Heap class, and the types it returns.
  "buffers/": ["errors.ts", "common/", "heap/heap.ts"],
  // And the collector, the hook that lets it own blocks and find scope and handle roots (heap/reclaim.ts).
  "collections/": ["errors.ts", "common/", "heap/heap.ts", "heap/reclaim.ts"],
  "debug/": ["errors.ts", "common/", "heap/heap.ts", "heap/snapshot.ts", "heap/profile.ts"],
};

test("each layer imports only itself and the layers below it, and the heap only through its public entry points", () => {
  const bad: string[] = [];
  for (const file of sources(SRC)) {
    const layer = Object.keys(ALLOWED).find((l) => file.startsWith(l));
    if (layer === undefined) continue; // the entry points (index.ts, development.ts, cli.ts) may import anything
    for (const target of importsOf(file)) {
      if (!target.startsWith(layer) && !ALLOWED[layer]!.some((a) => target === a || (a.endsWith("/") && target.startsWith(a)))) {
        bad.push(`${file} imports ${target}`);
      }
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(importsOf("heap/heap.ts").includes("heap/layout.ts"), "the import scan finds imports");
});

test('import { Heap } from "offheap" loads neither the heap map nor pprof-format', () => {
  // A module hook (node:module register) reports every module Node loads.
  const hooks = `let port; export function initialize(d) { port = d.port; }
    export async function load(url, context, next) { port.postMessage(url); return next(url, context); }`;
  const script = `
    import { register } from "node:module";
    import { MessageChannel } from "node:worker_threads";
    const { port1, port2 } = new MessageChannel();
    const loaded = [];
    port1.on("message", (url) => loaded.push(url));
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}), { data: { port: port2 }, transferList: [port2] });
    const what = process.argv[1];
    const m = await import(what);
    if (m.Heap) { const h = new m.Heap(); h.free(h.alloc(8)); }
    await new Promise((done) => setTimeout(done, 100));
    port1.close();
    console.log(JSON.stringify(loaded));`;
  const loads = (specifier: string): string[] =>
    JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script, specifier], { cwd: ROOT, encoding: "utf8" }).trim().split("\n").at(-1)!) as string[];
  // The heap map is found by a string only its HTML generator holds (src/debug/heap-map.ts), in
  // whichever file it is: tsc's dist/debug/heap-map.js, or a chunk of the Node bundle.
  const holdsHeapMap = (u: string) => u.startsWith("file:") && readFileSync(fileURLToPath(u), "utf8").includes('content="offheap heap map"');
  // By name Node loads the bundle (dist/node/, the "node" condition); by path, tsc's modules, as browsers get them.
  for (const [core, tools, heapFile] of [["offheap", "offheap/debug", /\/dist\/node\/offheap-[A-Z0-9]+\.js$/], [`${ROOT}dist/index.js`, `${ROOT}dist/debug/index.js`, /\/dist\/heap\/heap\.js$/]] as const) {
    const loaded = loads(core);
    assert.ok(loaded.some((u) => heapFile.test(u)), `the hook sees the heap load: ${loaded.join(", ")}`);
    assert.deepEqual(loaded.filter((u) => holdsHeapMap(u) || u.includes("pprof-format")), [], `${core}: nothing of offheap/debug or pprof-format`);
    const both = loads(tools).concat(loaded);
    assert.ok(both.some(holdsHeapMap) && both.some((u) => u.includes("pprof-format")), `${tools} loads both`);
  }
});
