// The command line as users run it: package.json "bin" (offheap: the Node
// bundle dist/node/cli.js) writing a heap map from an image file, its help,
// and its errors and exit codes for bad arguments and bad files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Heap } from "../src/index.js";
import { MIB } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const CLI = join(ROOT, (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: { offheap: string } }).bin.offheap);
const dir = mkdtempSync(join(tmpdir(), "offheap-cli-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the bin file starts with a shebang (npm links it as the offheap command)", () => {
  assert.ok(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n"));
});

test("offheap map <image> -o <file> writes the heap map of a saved heap", async () => {
  const heap = new Heap({ maxSize: 16 * MIB });
  for (let i = 0; i < 500; i++) heap.alloc(24 + (i % 7) * 100);
  heap.alloc(100_000);
  const image = join(dir, "app.heap");
  await heap.save(image);
  const r = cli("map", image, "-o", "out.html", "--title", "my app");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote out\.html \(\d+ bytes\): \d+ pages, \d+ spans and free runs, 501 live blocks/);
  const html = readFileSync(join(dir, "out.html"), "utf8");
  assert.match(html, /<title>my app<\/title>/);
  assert.match(html, /<canvas id="map"/);
  assert.equal(cli("map", image).status, 0);
  assert.ok(existsSync(`${image}.html`), "the default output is <image-file>.html");
  assert.match(readFileSync(`${image}.html`, "utf8"), /<title>heap map of .*app\.heap<\/title>/);
});

test("--help prints the usage and exits 0", () => {
  for (const args of [["--help"], ["-h"], ["map", "--help"]]) {
    const r = cli(...args);
    assert.equal(r.status, 0, args.join(" "));
    assert.match(r.stdout, /^Usage: offheap map <image-file> \[-o <out\.html>\]/);
  }
});

test("usage errors exit 2 and say what is wrong", () => {
  const cases: [string[], RegExp][] = [
    [[], /offheap: no command given/],
    [["draw", "x.heap"], /offheap: unknown command "draw"/],
    [["map"], /offheap: no image file given/],
    [["map", "a.heap", "b.heap"], /one image file expected/],
    [["map", "a.heap", "--colour"], /unknown option --colour/],
    [["map", "a.heap", "-o"], /-o needs a value/],
    [["map", "a.heap", "--output="], /--output needs a value/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Usage: offheap map/);
  }
});

test("a missing, foreign or damaged image file exits 1 with a clear message and writes nothing", async () => {
  const missing = cli("map", "nope.heap", "-o", "nope.html");
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^offheap map: cannot read nope\.heap: .*ENOENT/);
  writeFileSync(join(dir, "foreign.heap"), "not a heap image at all, just some text that is long enough to be read as a header");
  const foreign = cli("map", "foreign.heap", "-o", "foreign.html");
  assert.equal(foreign.status, 1);
  assert.match(foreign.stderr, /^offheap map: Heap\.load: foreign\.heap is not a heap image this version can open: no heap image magic/);
  const heap = new Heap({ maxSize: 4 * MIB });
  heap.alloc(64);
  await heap.save(join(dir, "good.heap"));
  const bytes = readFileSync(join(dir, "good.heap"));
  bytes[bytes.length - 100]! ^= 0xff;
  writeFileSync(join(dir, "damaged.heap"), bytes);
  const damaged = cli("map", "damaged.heap", "-o", "damaged.html");
  assert.equal(damaged.status, 1);
  assert.match(damaged.stderr, /checksum mismatch/);
  for (const out of ["nope.html", "foreign.html", "damaged.html"]) assert.ok(!existsSync(join(dir, out)), `${out} was not written`);
});
