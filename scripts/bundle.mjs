// Bundles the package for Node: every entry point of tsc's output (dist/)
// that package.json names under the "node" export condition or in "bin",
// bundled by esbuild in one build with code splitting into dist/node/. Node
// then reads and links about a dozen files on import instead of tsc's 42
// modules (see bench/import.mjs). Browser bundlers keep tsc's modules (the
// conditions after "node"), which they tree-shake file by file.
// `npm run build` runs it after tsc.
//
// Rules, checked below; the script refuses to finish when one is broken:
//   B1 every Node target in package.json is dist/node/<path> for a tsc
//      module dist/<path>, and every JavaScript target of "exports" under
//      the other conditions has its Node twin, so both resolve to the same
//      API;
//   B2 one build with splitting: a module reached from several entries is
//      in one shared chunk (offheap-<hash>.js), so each class and each
//      piece of module state (heap/debug.ts's debugDefaults, which
//      development.js sets) exists once whichever entries a program loads;
//   B3 no chunk is empty. esbuild puts a module that only re-exports into a
//      chunk of its own, with no code, when two entries reach it
//      (evanw/esbuild#2922): development.js's `export * from "./index.js"`
//      did that to index.js. The build reads development.js with index.js's
//      re-exports written in place of that line (same directory, so the
//      paths hold), and index.js is reached from "." alone;
//   B4 every function and class an entry exports has its own name (.name,
//      util.inspect, stack frames): esbuild renames a class that names
//      itself in its body (Heap.name was "_Heap"), which bundle-fix.mjs's
//      restoreClassNames undoes;
//   B5 top-level consts stay const: esbuild writes them as var, which V8
//      does not fold (pair64 7.4 -> 11.0 ns/op, batch 23.6 -> 30.2, churn 55
//      -> 67 in bench/ab.mjs), and bundle-fix.mjs's restoreConst writes
//      const again wherever the file never assigns the names; the check is
//      that no module's destructured constants (`{ PAGE_SHIFT, … } =
//      layout`) are left as var.
//
// The code is tsc's JavaScript unchanged but for the module wrapping (and
// B4, B5): no minifying (stack traces stay readable; src/common/debug-kit.ts
// and src/heap/profile.ts find offheap's own frames by the chunk name), no
// lowering (esbuild's default target keeps every class field and private
// name as tsc wrote it), so V8 runs the same allocator (bench/ab.mjs
// compares the two). Source maps are linked and chain through tsc's maps to
// src/, which the package ships. Dependencies (pprof-format) and Node's
// built-ins stay imports.
//
// package.json "sideEffects" lists "./dist/node/**": which chunk holds
// development.js's `debugDefaults.debug = true` or collections/gc-space.js's
// guard registration depends on how esbuild splits, so every bundle file is
// marked as having side effects, and a bundler (esbuild matches "node" when
// its platform is node) never drops one.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { restoreClassNames, restoreConst, shiftMap } from "./bundle-fix.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const OUT = "dist/node";
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** The JavaScript targets of a package.json "exports" value, as [condition path, file]. */
function targets(value, path = []) {
  if (typeof value === "string") return value.endsWith(".js") ? [[path, value]] : [];
  return Object.entries(value).flatMap(([k, v]) => targets(v, [...path, k]));
}

// B1: the entries are what package.json points Node at.
const all = targets(pkg.exports);
const nodeTargets = [...all.filter(([path]) => path.includes("node")).map(([, f]) => f), ...Object.values(pkg.bin)];
const entries = new Set();
for (const target of nodeTargets) {
  if (!target.startsWith(`./${OUT}/`)) throw new Error(`bundle.mjs: B1 broken: Node target ${target} is not under ./${OUT}/`);
  entries.add(`dist/${target.slice(OUT.length + 3)}`);
}
for (const [path, target] of all) {
  if (!path.includes("node") && !entries.has(target.slice(2))) {
    throw new Error(`bundle.mjs: B1 broken: exports ${path.join(".")} → ${target} has no Node twin ./${OUT}/${target.slice(7)}`);
  }
}

// B3: development.js with index.js's re-exports in place of its `export *`.
const REEXPORT = 'export * from "./index.js";';
const inlineIndex = {
  name: "inline-index",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]development\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes(REEXPORT)) throw new Error(`bundle.mjs: B3: dist/development.js no longer says ${REEXPORT}`);
      const index = readFileSync(join(root, "dist/index.js"), "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, "");
      return { contents: text.replace(REEXPORT, index.trim()), loader: "js", resolveDir: join(root, "dist") };
    });
  },
};

rmSync(join(root, OUT), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [...entries],
  outbase: "dist",
  outdir: OUT,
  bundle: true,
  splitting: true, // B2
  chunkNames: "offheap-[hash]",
  format: "esm",
  platform: "node", // node:* stay imports
  packages: "external", // pprof-format stays an import of the installed package
  sourcemap: "linked",
  sourcesContent: false, // the maps point at src/, which the package ships
  metafile: true,
  logLevel: "warning",
  plugins: [inlineIndex],
});

// B3: every output holds code or is an entry.
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith(".map") || out.entryPoint !== undefined) continue;
  const code = Object.values(out.inputs).reduce((n, i) => n + i.bytesInOutput, 0);
  if (code === 0) throw new Error(`bundle.mjs: B3 broken: chunk ${file} holds no code (from ${Object.keys(out.inputs).join(", ") || "nothing"})`);
}

const files = Object.keys(result.metafile.outputs).filter((f) => !f.endsWith(".map"));

// B4, B5: the rewrites, each file's source map shifted with it.
for (const file of files) {
  const path = join(root, file);
  const { text, edits } = restoreConst(restoreClassNames(readFileSync(path, "utf8")));
  writeFileSync(path, text);
  writeFileSync(`${path}.map`, shiftMap(readFileSync(`${path}.map`, "utf8"), edits));
  if (/^(?:var|const) [\w$]+ = class _/m.test(text)) throw new Error(`bundle.mjs: B4 broken: ${file} still renames a class`);
  const layoutVar = /^var \{[^}]*\} = \w+_exports;/m.exec(text);
  if (layoutVar !== null) throw new Error(`bundle.mjs: B5 broken: ${file} destructures constants into vars: ${layoutVar[0].slice(0, 80)}`);
}
for (const entry of entries) {
  if (entry === "dist/cli.js") continue; // runs the command line; it exports nothing
  const m = await import(new URL(`../${OUT}/${entry.slice(5)}`, import.meta.url).href);
  for (const [key, value] of Object.entries(m)) {
    if (typeof value === "function" && value.name !== key) throw new Error(`bundle.mjs: B4 broken: ${entry}'s export ${key} is named "${value.name}" in the bundle`);
  }
}
console.log(`bundle.mjs: ${entries.size} entries → ${files.length} files in ${relative(root, join(root, OUT))}/ (${files.length - entries.size} shared chunks)`);
