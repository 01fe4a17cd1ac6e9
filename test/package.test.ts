// The built package as users get it: dist/ through package.json "exports",
// loaded by name from CommonJS (require of an ES module) and from ESM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  name: string;
  type: string;
  sideEffects: unknown;
  main: string;
  types: string;
  files: string[];
  engines: { node: string };
  exports: Record<string, Record<string, string> | string>;
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
  // imports; save/load reach node:fs through a dynamic import by variable, on first use.
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
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
      assert.equal(Object.keys(target)[0], "types", `${sub}: "types" must be the first condition`);
      assert.ok(existsSync(`${ROOT}${target.types}`) && existsSync(`${ROOT}${target.default}`), `${sub}: its files exist in dist/`);
    }
  }
  assert.throws(() => run(["--input-type=module", "-e", `await import("${pkg.name}/dist/heap/heap.js")`]), /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  const out = run(["-e", `console.log(require("${pkg.name}/package.json").name)`]);
  assert.equal(out.trim(), pkg.name);
});

test('package.json: ESM, side-effect free but for the "development" entry and the collector guard, exports with types first', () => {
  assert.equal(pkg.type, "module");
  // dist/development.js turns debug mode on as a side effect of its import, and
  // dist/collections/gc-space.js registers the guard that Heap.attach/load put on a Collector's
  // blocks; bundlers drop the code of a file not listed here when none of its exports is used
  // (test/bundler.test.ts).
  assert.deepEqual(pkg.sideEffects, ["./dist/development.js", "./dist/collections/gc-space.js"]);
  const main = pkg.exports["."];
  assert.ok(main && typeof main === "object", 'exports["."] is a conditions object');
  assert.equal(Object.keys(main)[0], "types", '"types" must be the first condition');
  assert.equal(main.types, "./dist/index.d.ts");
  assert.equal(main.default, "./dist/index.js");
  assert.equal(main.development, "./dist/development.js", "the side-effect file is the development entry");
  assert.ok(pkg.files.includes("dist"));
  assert.match(pkg.engines.node, />=\s*20\.19/);
});
