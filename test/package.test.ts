// The built package as users get it: dist/ through package.json "exports",
// loaded by name from CommonJS (require of an ES module) and from ESM. Node
// matches the "node" condition and loads the bundles in dist/node/
// (scripts/bundle.mjs); other platforms get tsc's modules in dist/.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { linkedApp } from "./linked-app.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  name: string;
  type: string;
  sideEffects: unknown;
  main: string;
  types: string;
  files: string[];
  bin: Record<string, string>;
  engines: { node: string };
  exports: Record<string, Record<string, string | Record<string, string>> | string>;
};

/** The entry points and what Node loads for each: the bundle in dist/node/. */
const SUBPATHS = ["", "/debug", "/buffers", "/buffers/node", "/collections"];
const BUNDLED: Record<string, string> = {
  "": "dist/node/index.js", "/debug": "dist/node/debug/index.js", "/buffers": "dist/node/buffers/index.js",
  "/buffers/node": "dist/node/buffers/node.js", "/collections": "dist/node/collections/index.js",
};

// Uses the package by name, allocates, frees, reads a string, checks errors.
const USE = `
  const heap = new m.Heap({ maxSize: 4 << 20, initialSize: 64 << 10 });
  const p = heap.alloc(24);
  heap.u32[p >>> 2] = 9527;
  const s = heap.fromString("héllo");
  let code = "";
  heap.free(p);
  try { heap.free(p); } catch (e) { code = (e instanceof m.DoubleFreeError && e instanceof m.OffheapError) ? e.code : "wrong class"; }
  heap.check();
  console.log(JSON.stringify({ heap: typeof m.Heap, name: m.Heap.name, p: p > 0 && p % 8 === 0, s: heap.readString(s), code, pageSize: m.PAGE_SIZE }));
`;
const EXPECTED = { heap: "function", name: "Heap", p: true, s: "héllo", code: "ERR_OFFHEAP_DOUBLE_FREE", pageSize: 8192 };

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

test("dist/ holds the files package.json points at", () => {
  for (const file of [pkg.main, pkg.types, "dist/index.js", "dist/index.d.ts"]) {
    assert.ok(existsSync(`${ROOT}${file}`), `${file} exists (run npm run build)`);
  }
});

test('require("offheap") works from CommonJS (require of an ES module)', () => {
  const out = run(["-e", `const m = require(${JSON.stringify(pkg.name)}); ${USE}`]);
  assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), EXPECTED);
});

test('import("offheap") works from an ES module', () => {
  const out = run(["--input-type=module", "-e", `const m = await import(${JSON.stringify(pkg.name)}); ${USE}`]);
  assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), EXPECTED);
});

// Uses each subpath by name: the buffers layer (and its Node stream part) and the collections.
const USE_LAYERS = `
  const heap = new m.Heap({ maxSize: 8 << 20 });
  const alloc = new b.ScalableAllocator(heap);
  const view = alloc.malloc(8);
  view.set([0, 0, 0, 3, 1, 2, 3, 4]);
  const list = new b.BufferList();
  list.push(view.subarray(0, 5), view.subarray(5));
  const reader = new b.BufferReader(list);
  const n = reader.readUint32BE();
  let code = "";
  try { reader.readBytes(9); } catch (e) { code = e instanceof b.EndOfDataError ? e.code : "wrong class"; }
  const Point = c.defineStruct({ x: "f64", y: "f64" });
  const map = new c.OffHeapMap(heap, { key: "string", value: "u32" });
  map.set("a", n);
  console.log(JSON.stringify({ n, code, got: map.get("a"), size: Point.size, transform: typeof s.FrameSplitter, range: new b.RangeAllocator(64).allocate(8), map: d.heapMapHtml(heap.snapshot()).startsWith("<!DOCTYPE html>") }));
`;
const EXPECTED_LAYERS = { n: 3, code: "ERR_OFFHEAP_END_OF_DATA", got: 3, size: 16, transform: "function", range: 0, map: true };

test('the subpaths "offheap/debug", "offheap/buffers", "offheap/buffers/node" and "offheap/collections" load from ESM and CommonJS', () => {
  const names = ["", "/debug", "/buffers", "/collections", "/buffers/node"].map((sub) => JSON.stringify(pkg.name + sub));
  const esm = run(["--input-type=module", "-e", `const [m, d, b, c, s] = await Promise.all([${names.map((n) => `import(${n})`).join(", ")}]); ${USE_LAYERS}`]);
  assert.deepEqual(JSON.parse(esm.trim().split("\n").at(-1)!), EXPECTED_LAYERS);
  const cjs = run(["-e", `const [m, d, b, c, s] = [${names.map((n) => `require(${n})`).join(", ")}]; ${USE_LAYERS}`]);
  assert.deepEqual(JSON.parse(cjs.trim().split("\n").at(-1)!), EXPECTED_LAYERS);
});

test("the browser entry points import no Node built-in", () => {
  // Everything but dist/buffers/node.js (the Node stream Transform) must be free of static node:
  // imports; save/load reach node:fs through a dynamic import by variable, on first use. The
  // bundles in dist/node/ are Node's alone (the "node" condition) and not walked.
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (path !== `${ROOT}dist/node`) walk(path);
      }
      else if (path.endsWith(".js") && !path.endsWith("buffers/node.js") && /from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/.test(readFileSync(path, "utf8"))) bad.push(path);
    }
  };
  walk(`${ROOT}dist`);
  assert.deepEqual(bad, []);
});

test("the package exports only its entry points and package.json", () => {
  assert.deepEqual(Object.keys(pkg.exports), [".", "./debug", "./buffers", "./buffers/node", "./collections", "./package.json"]);
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === "object") {
      assert.deepEqual(Object.keys(target).filter((k) => k !== "development"), ["types", "node", "default"], `${sub}: "types" first, then "node", then tsc's modules`);
      const node = target.node as Record<string, string>;
      const files = [target.types, target.default, node.default, target.development, node.development].filter((f) => f !== undefined) as string[];
      for (const file of files) assert.ok(existsSync(`${ROOT}${file}`), `${sub}: ${file} exists`);
      assert.equal(node.default, (target.default as string).replace("./dist/", "./dist/node/"), `${sub}: Node's bundle of the same entry`);
      assert.equal(node.development, (target.development as string | undefined)?.replace("./dist/", "./dist/node/"), `${sub}: Node's "development" twin`);
    }
  }
  assert.throws(() => run(["--input-type=module", "-e", `await import("${pkg.name}/dist/heap/heap.js")`]), /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  const out = run(["-e", `console.log(require("${pkg.name}/package.json").name)`]);
  assert.equal(out.trim(), pkg.name);
});

test('package.json: ESM, side-effect free but for the "development" entry, the collector guard and the Node bundle, exports with types first', () => {
  assert.equal(pkg.type, "module");
  // dist/development.js turns debug mode on as a side effect of its import, and
  // dist/collections/gc-space.js registers the guard that Heap.attach/load put on a Collector's
  // blocks; bundlers drop the code of a file not listed here when none of its exports is used
  // (test/bundler.test.ts). In the Node bundle those statements sit in whichever file esbuild
  // puts them, so all of dist/node/ is listed (scripts/bundle.mjs).
  assert.deepEqual(pkg.sideEffects, ["./dist/development.js", "./dist/collections/gc-space.js", "./dist/node/**"]);
  const main = pkg.exports["."];
  assert.ok(main && typeof main === "object", 'exports["."] is a conditions object');
  assert.equal(Object.keys(main)[0], "types", '"types" must be the first condition');
  assert.equal(main.types, "./dist/index.d.ts");
  assert.deepEqual(main.node, { development: "./dist/node/development.js", default: "./dist/node/index.js" });
  assert.equal(main.default, "./dist/index.js");
  assert.equal(main.development, "./dist/development.js", "the side-effect file is the development entry");
  assert.deepEqual(pkg.bin, { offheap: "./dist/node/cli.js" });
  assert.ok(pkg.files.includes("dist"));
  assert.match(pkg.engines.node, />=\s*20\.19/);
});

// The Node bundle (dist/node/, scripts/bundle.mjs): what Node resolves, that
// the entries share one copy of each class and of module state, and that
// stack traces still start in the user's code.

test('Node resolves "offheap" and each subpath to the bundle in dist/node/, and --conditions=development to its development entry', () => {
  const resolve = (conditions: string[]) =>
    JSON.parse(run([...conditions, "--input-type=module", "-e", `console.log(JSON.stringify(${JSON.stringify(SUBPATHS.map((s) => pkg.name + s))}.map((n) => import.meta.resolve(n))))`])) as string[];
  const expected = SUBPATHS.map((s) => new URL(BUNDLED[s]!, `file://${ROOT}`).href);
  assert.deepEqual(resolve([]), expected);
  assert.deepEqual(resolve(["--conditions=development"]), [new URL("dist/node/development.js", `file://${ROOT}`).href, ...expected.slice(1)]);
  const required = run(["-e", `console.log(require.resolve(${JSON.stringify(pkg.name)}))`]).trim();
  assert.equal(required, join(ROOT, "dist/node/index.js"), "require() reaches the bundle too");
});

test("dist/node/: shared chunks named offheap-<hash>.js, none empty, source maps that point at src/", () => {
  const chunks = readdirSync(`${ROOT}dist/node`).filter((f) => /^offheap-[A-Z0-9]+\.js$/.test(f));
  assert.ok(chunks.length > 0, "the entries share chunks");
  for (const file of [...Object.values(BUNDLED), "dist/node/development.js", "dist/node/cli.js", ...chunks.map((c) => `dist/node/${c}`)]) {
    const text = readFileSync(`${ROOT}${file}`, "utf8");
    assert.ok(text.trim().length > 0, `${file} is not empty`);
    assert.ok(text.endsWith(`//# sourceMappingURL=${file.split("/").at(-1)}.map\n`), `${file} links its source map`);
    const map = JSON.parse(readFileSync(`${ROOT}${file}.map`, "utf8")) as { sources: string[] };
    for (const source of map.sources) assert.ok(fileURLToPath(new URL(source, `file://${ROOT}${file}`)).startsWith(join(ROOT, "src")), `${file}.map: ${source} is under src/`);
  }
  const main = readFileSync(`${ROOT}dist/node/offheap-${chunks[0]!.slice(8)}`, "utf8");
  assert.ok(!/\b__name\(/.test(main), "no keepNames wrappers");
});

// Classes and module state are shared across the entries: a Collector from offheap/collections
// collects a Heap from offheap (with its helper thread, whose code runs from its source text),
// errors thrown by one entry are instances of the classes another exports, the heap map of
// offheap/debug draws the heap, and the classes keep their names.
const SHARED = `
  const [m, c, b, d] = await Promise.all(["", "/collections", "/buffers", "/debug"].map((s) => import(${JSON.stringify(pkg.name)} + s)));
  const Node = c.defineStruct({ left: "ref", right: "ref", value: "u32" });
  const heap = new m.Heap({ maxSize: 64 << 20 });
  const gc = new c.Collector(heap, { concurrent: true });
  const grow = (depth) => depth === 0 ? 0 : gc.alloc(Node, { left: grow(depth - 1), right: grow(depth - 1), value: depth });
  heap.setRoot("tree", grow(14));
  gc.alloc(Node, { value: 0 }); // garbage
  for (let i = 0; i < 100 && gc.stats().helperMarkedBlocks === 0; i++) {
    await new Promise((r) => setTimeout(r, 20)); // the helper's worker comes up asynchronously
    gc.collect();
  }
  const stats = gc.stats();
  let freeCode = "", disposedCode = "", endCode = "";
  try { heap.free(heap.getRoot("tree")); } catch (e) { freeCode = e instanceof m.OffheapTypeError ? e.code : "wrong class"; }
  gc.dispose();
  try { gc.collect(); } catch (e) { disposedCode = e instanceof m.DisposedError && e instanceof m.OffheapError ? e.code : "wrong class"; }
  try { new b.BufferReader(new b.BufferList()).readByte(); } catch (e) { endCode = e instanceof m.EndOfDataError && e instanceof m.OffheapError ? e.code : "wrong class"; }
  console.log(JSON.stringify({
    live: stats.liveBlocks, helper: stats.helperMarkedBlocks > 0, freeCode, disposedCode, endCode,
    same: c.DisposedError === m.DisposedError && b.EndOfDataError === m.EndOfDataError,
    map: d.heapMapHtml(heap.snapshot()).startsWith("<!DOCTYPE html>"),
    names: [m.Heap, m.Mutex, c.Collector, c.OffHeapMap, c.OffHeapArray, b.BufferList].map((f) => f.name),
  }));
`;

test("the entries share classes and state: a Collector over a Heap, errors across entries, the heap map", () => {
  const out = run(["--input-type=module", "-e", SHARED]);
  assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), {
    live: 2 ** 14 - 1, helper: true, freeCode: "ERR_OFFHEAP_INVALID_ARG_TYPE", disposedCode: "ERR_OFFHEAP_DISPOSED", endCode: "ERR_OFFHEAP_END_OF_DATA",
    same: true, map: true, names: ["Heap", "Mutex", "Collector", "OffHeapMap", "OffHeapArray", "BufferList"],
  });
});

// An application resolving "offheap" by name under --conditions=development: debug mode is on
// for heaps made without a `debug` option (development.js's flag reaches the heap in the shared
// chunk), and leak sites, a debug heap's profile samples and a buffer allocator's leaks start at
// the application's own lines, not in the bundle's files.
const LEAKY_APP = `import { Heap } from "offheap";
import { ScalableAllocator } from "offheap/buffers";
import { OffHeapMap } from "offheap/collections";

function leakBlock(heap) { return heap.alloc(40); }
function leakBuffer(alloc) { return alloc.malloc(24); }
function fillMap(heap) { const map = new OffHeapMap(heap, { key: "string", value: "u32" }); map.set("a", 1); return map; }

const heap = new Heap({ maxSize: 8 << 20, profile: { sampleInterval: 1 } });
leakBlock(heap);
const alloc = new ScalableAllocator(heap);
leakBuffer(alloc);
fillMap(heap);
const first = (site) => site.trim().split("\\n")[0];
console.log(JSON.stringify({
  resolved: import.meta.resolve("offheap"),
  debug: heap.debugOptions !== null,
  block: first(heap.leaks().find((l) => l.bytes === 40).site),
  buffer: first(alloc.leaks()[0].site),
  map: heap.leaks().map((l) => first(l.site)).filter((l) => l.includes("fillMap")).length > 0,
  sample: heap.profile().samples.map((s) => s.stack[0]).find((f) => f.functionName === "leakBlock"),
}));
`;

const { dir: app, remove } = linkedApp("offheap-package-");
after(remove);

test("through the bundle in debug mode, a leak site's stack starts at the application's line", () => {
  writeFileSync(join(app, "app.mjs"), LEAKY_APP);
  const out = execFileSync(process.execPath, ["--conditions=development", "app.mjs"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const r = JSON.parse(out.trim().split("\n").at(-1)!) as { resolved: string; debug: boolean; block: string; buffer: string; map: boolean; sample?: { file: string; line: number } };
  assert.equal(r.resolved, new URL("dist/node/development.js", `file://${ROOT}`).href, "the application loads the bundle");
  assert.ok(r.debug, "debug mode is on by the development condition");
  assert.match(r.block, /^at leakBlock \(file:\/\/.*\/app\.mjs:5:\d+\)$/);
  assert.match(r.buffer, /^at leakBuffer \(file:\/\/.*\/app\.mjs:6:\d+\)$/);
  assert.ok(r.map, "the map's blocks are grouped under the application's fillMap");
  assert.ok(r.sample !== undefined && r.sample.file.endsWith("/app.mjs") && r.sample.line === 5, `the profile's sample starts at leakBlock: ${JSON.stringify(r.sample)}`);
});

test("the CLI (package.json bin) runs from the bundle", () => {
  assert.ok(readFileSync(`${ROOT}${pkg.bin.offheap}`, "utf8").startsWith("#!/usr/bin/env node\n"));
  const r = spawnSync(`${ROOT}${pkg.bin.offheap}`, ["--help"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: offheap map <image-file>/);
});
