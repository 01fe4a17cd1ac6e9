// The package through a real bundler (esbuild), resolved by name from an
// application's node_modules as a user's bundler resolves it, so that
// package.json "exports" and "sideEffects" are what decide: under the
// "development" export condition every heap is in debug mode (dist/
// development.js sets the default as a side effect of its import, which
// "sideEffects" must keep), under the default conditions it is off, and a
// consumer bundles only the part of the package it imports. esbuild with
// platform "node" matches the "node" condition and bundles the Node bundle
// (dist/node/) instead of tsc's modules. Each bundle is run in a child Node
// process. Needs dist/ (npm test builds it first).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { build, type Platform } from "esbuild";
import { linkedApp, ROOT } from "./linked-app.js";

// A string that only the heap-map HTML generator (src/debug/heap-map.ts) holds.
const HEAP_MAP_MARKER = 'content="offheap heap map"';

const { dir: app, remove } = linkedApp("offheap-bundle-");
after(remove);

interface Bundle {
  /** The bundle's path. */
  path: string;
  text: string;
  /** Files that put code into the bundle, relative to the repository root (dependencies under node_modules/). */
  files: string[];
}

let bundles = 0;

/** Bundles `source` (an ES module of the application) for `platform`, with `conditions` or esbuild's default ones. */
async function bundle(source: string, platform: Platform, conditions?: string[]): Promise<Bundle> {
  const n = bundles++;
  const entry = join(app, `entry-${n}.mjs`);
  const path = join(app, `bundle-${n}.mjs`);
  writeFileSync(entry, source);
  const result = await build({
    absWorkingDir: app, entryPoints: [entry], outfile: path, bundle: true, format: "esm", platform, metafile: true, logLevel: "silent",
    ...(conditions === undefined ? {} : { conditions }),
  });
  assert.deepEqual([...result.errors, ...result.warnings].map((m) => m.text), [], "esbuild reports nothing");
  const inputs = Object.values(result.metafile.outputs)[0]!.inputs;
  const files = Object.entries(inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => relative(ROOT, resolve(app, k)).replaceAll("\\", "/"));
  return { path, text: readFileSync(path, "utf8"), files };
}

// Allocates a block and reports whether debug mode is on, by what a user
// sees of it: a new block filled with JUNK_ALLOC, and leaks() answering.
const DEBUG_PROBE = `
  import { Heap, JUNK_ALLOC } from "offheap";
  const heap = new Heap({ maxSize: 4 << 20, initialSize: 64 << 10 });
  const p = heap.alloc(24);
  const junk = heap.u8.subarray(p, p + 24).every((b) => b === JUNK_ALLOC);
  let leaks;
  try { leaks = heap.leaks().length; } catch (e) { leaks = e.code; }
  console.log(JSON.stringify({ junk, leaks }));
`;
const DEBUG_ON = { junk: true, leaks: 1 };
const DEBUG_OFF = { junk: false, leaks: "ERR_OFFHEAP_INVALID_ARG_TYPE" };

function runBundle(b: Bundle): unknown {
  const out = execFileSync(process.execPath, [b.path], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

describe("esbuild: debug mode follows the export condition", () => {
  for (const platform of ["node", "browser", "neutral"] as const) {
    // Platform node bundles dist/node/ (its heap in a shared chunk), the others tsc's dist/heap/ modules.
    const dir = platform === "node" ? "dist/node/" : "dist/";
    const bundled = (b: Bundle) => {
      assert.ok(b.files.some((f) => (platform === "node" ? /^dist\/node\/offheap-[A-Z0-9]+\.js$/ : /^dist\/heap\/heap\.js$/).test(f)), `the heap comes from ${dir}: ${b.files.join(", ")}`);
      assert.equal(b.files.some((f) => f.startsWith("dist/node/")), platform === "node", `dist/node/ is bundled for platform node only: ${b.files.join(", ")}`);
    };

    test(`platform ${platform}, conditions ["development"]: every heap is in debug mode`, async () => {
      const b = await bundle(DEBUG_PROBE, platform, ["development"]);
      bundled(b);
      assert.ok(b.files.includes(`${dir}development.js`), `${dir}development.js is bundled: ${b.files.join(", ")}`);
      assert.deepEqual(runBundle(b), DEBUG_ON);
    });

    test(`platform ${platform}, default conditions: debug mode is off`, async () => {
      const b = await bundle(DEBUG_PROBE, platform);
      bundled(b);
      assert.ok(!b.files.includes(`${dir}development.js`), `${dir}development.js is not bundled`);
      assert.deepEqual(runBundle(b), DEBUG_OFF);
    });
  }
});

describe("esbuild: a consumer bundles what it imports", () => {
  test("importing only PAGE_SIZE bundles none of the heap; importing heapMapHtml bundles the heap map", async () => {
    const constant = await bundle(`import { PAGE_SIZE } from "offheap"; console.log(PAGE_SIZE);`, "browser");
    assert.ok(!constant.files.includes("dist/heap/heap.js"), `files bundled: ${constant.files.join(", ")}`);
    assert.ok(!constant.text.includes(HEAP_MAP_MARKER));
    assert.equal(execFileSync(process.execPath, [constant.path], { encoding: "utf8" }).trim(), "8192");
    const map = await bundle(`import { heapMapHtml } from "offheap/debug"; console.log(typeof heapMapHtml);`, "browser");
    assert.ok(map.text.includes(HEAP_MAP_MARKER), "the marker finds the heap map where it is bundled");
  });

  test("importing only Heap bundles neither the heap-map HTML generator nor pprof-format", async () => {
    const b = await bundle(`import { Heap } from "offheap"; console.log(new Heap().alloc(8) > 0);`, "browser");
    assert.ok(!b.text.includes(HEAP_MAP_MARKER), "the heap-map HTML generator is not bundled");
    assert.deepEqual(b.files.filter((f) => f.includes("node_modules/pprof-format/")), [], "pprof-format is not bundled");
  });
});
