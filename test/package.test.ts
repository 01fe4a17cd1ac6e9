// The built package as users get it: dist/ through package.json "exports",
// loaded by name from CommonJS (require of an ES module) and from ESM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
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

test("the package exports only its entry point and package.json", () => {
  assert.throws(() => run(["--input-type=module", "-e", `await import("${pkg.name}/dist/heap/heap.js")`]), /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  const out = run(["-e", `console.log(require("${pkg.name}/package.json").name)`]);
  assert.equal(out.trim(), pkg.name);
});

test("package.json: ESM, side-effect free, exports with types first", () => {
  assert.equal(pkg.type, "module");
  assert.equal(pkg.sideEffects, false);
  const main = pkg.exports["."];
  assert.ok(main && typeof main === "object", 'exports["."] is a conditions object');
  assert.equal(Object.keys(main)[0], "types", '"types" must be the first condition');
  assert.equal(main.types, "./dist/index.d.ts");
  assert.equal(main.default, "./dist/index.js");
  assert.ok(pkg.files.includes("dist"));
  assert.match(pkg.engines.node, />=\s*20\.19/);
});
