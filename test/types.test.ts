// The published types as a user's compiler sees them: consumers compiled with
// the TypeScript compiler API against dist/*.d.ts, resolving the package by
// name from an application's node_modules (a link to this repository) through
// package.json "exports", with skipLibCheck off so that the declarations are
// checked too. A consumer of the public API of all four entry points
// compiles; a consumer that touches any class member marked @internal in
// src/ fails with "Property ... does not exist" (the dist build strips them:
// tsconfig.json "stripInternal"). Needs dist/ (npm test builds it first).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { linkedApp, ROOT } from "./linked-app.js";

const ENTRY_POINTS = ["offheap", "offheap/debug", "offheap/buffers", "offheap/buffers/node", "offheap/collections"];

// A user's strict project: Node's module resolution, Node's types (for offheap/buffers/node).
const OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2024.d.ts", "lib.dom.d.ts"], types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")],
  strict: true, skipLibCheck: false, noEmit: true,
};

// Uses the public API of every entry point, with its types named.
const PUBLIC_CONSUMER = `
import { DoubleFreeError, Heap, type HeapOptions, type HeapStats, JUNK_ALLOC, OffheapError, PAGE_SIZE } from "offheap";
import { BufferList, BufferReader, RangeAllocator, ScalableAllocator } from "offheap/buffers";
import { FrameSplitter } from "offheap/buffers/node";
import { heapMapHtml, writeHeapMap, writeHeapProfile } from "offheap/debug";
import { defineStruct, OffHeapArray, OffHeapMap } from "offheap/collections";

const options: HeapOptions = { maxSize: 1024 * PAGE_SIZE, growAt: 0.75, debug: { stacks: 4, quarantineBytes: 1 << 20 } };
const heap = new Heap(options);
const p: number = heap.alloc(24);
heap.u32[p >>> 2] = 9527;
const s = heap.fromString("hello");
const text: string = heap.readString(s);
heap.setRoot("greeting", s);
heap.free(p);
let code = "";
try { heap.free(p); } catch (e) { if (e instanceof DoubleFreeError && e instanceof OffheapError) code = e.code; }
const stats: HeapStats = heap.stats();
heap.check();
const copy: Heap = Heap.attach(heap.memory, { debug: false });
const html: string = heapMapHtml(heap.snapshot(), { title: "t" });
const mapped: Promise<number> = writeHeapMap("map.html", heap);
const profiled: Promise<number> = writeHeapProfile("heap.pb.gz", new Heap({ profile: true }));
const saved: Promise<number> = heap.save("image.heap");
const loaded: Promise<Heap> = Heap.load("image.heap", { memory: "resizable" });

const buffers = new ScalableAllocator(heap);
const view: Uint8Array = buffers.malloc(16);
const list = new BufferList();
list.push(view);
const word: number = new BufferReader(list).readUint32BE();
const offset: number = new RangeAllocator(64).allocate(8);
const splitter = new FrameSplitter({ prefixBytes: 2 });

const Point = defineStruct({ x: "f64", y: "f64" });
const map = new OffHeapMap(heap, { key: "string", value: Point });
map.set("a", { x: 1, y: 2 });
const array = new OffHeapArray(heap, "f64");
array.push(1.5);
const first: number = array.get(0);
export const used = [text, code, stats.committedBytes, copy, html, mapped, profiled, saved, loaded, word, offset, splitter, map.size, first, JUNK_ALLOC];
`;

interface Internal {
  className: string;
  member: string;
  isStatic: boolean;
  /** The declaring file, relative to the repository root. */
  file: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? tsFiles(path) : e.name.endsWith(".ts") ? [path] : [];
  });
}

/**
 * Members tagged @internal of the exported classes in src/, but for
 * overrides: those stay reachable as the members their base class declares
 * (FrameSplitter's Transform hooks).
 */
function internalMembers(): Internal[] {
  const found: Internal[] = [];
  const bases = new Map<string, string>(); // class -> the class it extends
  for (const path of tsFiles(join(ROOT, "src"))) {
    const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
    for (const node of source.statements) {
      if (!ts.isClassDeclaration(node) || node.name === undefined || !(ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export)) continue;
      const base = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression.getText(source);
      if (base !== undefined) bases.set(node.name.text, base);
      for (const m of node.members) {
        if (m.name === undefined || !ts.getJSDocTags(m).some((t) => t.tagName.text === "internal")) continue;
        const flags = ts.getCombinedModifierFlags(m);
        if (flags & ts.ModifierFlags.Override || ts.isConstructorDeclaration(m)) continue;
        const isStatic = (flags & ts.ModifierFlags.Static) !== 0;
        found.push({ className: node.name.text, member: m.name.getText(source), isStatic, file: relative(ROOT, path).replaceAll("\\", "/") });
      }
    }
  }
  // A class's internal members are its subclasses' too (Heap extends Allocator).
  const inherited: Internal[] = [];
  for (const [sub, base] of bases) {
    for (let b: string | undefined = base; b !== undefined; b = bases.get(b)) {
      for (const m of found) if (m.className === b && !m.isStatic) inherited.push({ ...m, className: sub });
    }
  }
  return [...found, ...inherited];
}

const INTERNALS = internalMembers();

interface Diagnostic {
  code: number;
  line: number;
  /** "file:line: TScode: message", the file relative to the repository root or the application. */
  text: string;
}

function diagnostics(program: ts.Program, app: string, file?: string): Diagnostic[] {
  const source = file === undefined ? undefined : program.getSourceFile(file);
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file === undefined || d.start === undefined) return { code: d.code, line: 0, text: message };
    const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
    const name = d.file.fileName.startsWith(ROOT) ? relative(ROOT, d.file.fileName) : relative(app, d.file.fileName);
    return { code: d.code, line, text: `${name}:${line}: TS${d.code}: ${message}` };
  });
}

describe("published types (dist/*.d.ts through package.json, skipLibCheck off)", () => {
  const { dir: app, remove } = linkedApp("offheap-types-");
  const publicFile = join(app, "public.mts");
  const internalFile = join(app, "internal.mts");
  let publicDiagnostics: Diagnostic[] = [];
  let internalDiagnostics: Diagnostic[] = [];
  // The line of internal.mts that touches each member of INTERNALS.
  const lineOf = new Map<Internal, number>();

  before(() => {
    writeFileSync(publicFile, PUBLIC_CONSUMER);
    const host = ts.createCompilerHost(OPTIONS);
    const first = ts.createProgram([publicFile], OPTIONS, host);
    publicDiagnostics = diagnostics(first, app);

    // Which entry point exports each class, from the public consumer's imports.
    const checker = first.getTypeChecker();
    const entryOf = new Map<string, number>();
    for (const statement of first.getSourceFile(publicFile)!.statements) {
      if (!ts.isImportDeclaration(statement)) continue;
      const entry = ENTRY_POINTS.indexOf((statement.moduleSpecifier as ts.StringLiteral).text);
      const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
      if (module === undefined) continue; // reported among publicDiagnostics
      for (const name of checker.getExportsOfModule(module).map((s) => s.name)) if (!entryOf.has(name)) entryOf.set(name, entry);
    }
    const lines = ENTRY_POINTS.map((e, i) => `import * as e${i} from ${JSON.stringify(e)};`);
    const classes = new Map<string, string>(); // class name -> expression of its constructor
    for (const m of INTERNALS) {
      const entry = entryOf.get(m.className);
      if (entry === undefined) continue; // not published: its test is skipped
      if (!classes.has(m.className)) {
        classes.set(m.className, `e${entry}.${m.className}`);
        lines.push(`declare const instance${m.className}: InstanceType<typeof e${entry}.${m.className}>;`);
      }
      lines.push(`${m.isStatic ? classes.get(m.className) : `instance${m.className}`}.${m.member};`);
      lineOf.set(m, lines.length);
    }
    writeFileSync(internalFile, lines.join("\n") + "\n");
    const second = ts.createProgram([internalFile], OPTIONS, host, first);
    internalDiagnostics = diagnostics(second, app, internalFile);
  });

  after(remove);

  test("a consumer of the public API of all four entry points compiles", () => {
    assert.deepEqual(publicDiagnostics.map((d) => d.text), []);
  });

  test("the scan finds the @internal members of Heap", () => {
    const heap = INTERNALS.filter((m) => m.className === "Heap").map((m) => m.member);
    for (const member of ["commit", "growStepPages", "endPage", "descW", "firstDataPage", "totalPages", "growAt"]) {
      assert.ok(heap.includes(member), `Heap.${member} is tagged @internal in src/heap/heap.ts or allocator.ts (found: ${heap.join(", ")})`);
    }
  });

  for (const m of INTERNALS) {
    const name = `${m.className}${m.isStatic ? "." : "#"}${m.member}`;
    test(`${name} (@internal in ${m.file}) is not in the published types`, (t) => {
      const line = lineOf.get(m);
      if (line === undefined) {
        t.skip(`no entry point exports ${m.className}`);
        return;
      }
      const type = `${m.isStatic ? "typeof " : ""}${m.className}`;
      const found = internalDiagnostics.filter((d) => d.line === line);
      assert.equal(found.length, 1, `one error where internal.mts touches ${name}: ${found.map((d) => d.text).join("; ") || "none"}`);
      assert.ok([2339, 2551].includes(found[0]!.code), found[0]!.text); // 2551 is 2339 with a "Did you mean" suggestion
      assert.ok(found[0]!.text.includes(`Property '${m.member}' does not exist on type '${type}`), found[0]!.text);
    });
  }

  test("the consumer that touches internal members has no other error", () => {
    const touching = new Set(lineOf.values());
    assert.deepEqual(internalDiagnostics.filter((d) => !touching.has(d.line)).map((d) => d.text), []);
  });
});
