// The heap map in a real browser: Debian's Chromium driven by playwright-core
// opens a generated map from a file:// URL, and the test checks the drawn
// cells, the hover tooltips and the canvas pixels against the snapshot, that
// the page loads nothing from the network and throws nothing, and saves a
// screenshot to test-artifacts/heap-map.png.
//
// Needs /usr/bin/chromium (`apt-get install -y chromium`; OFFHEAP_CHROMIUM
// names another binary). Without it the test is skipped, or fails under CI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Page } from "playwright-core";
import { PAGE_SIZE } from "../../src/index.js";
import { heapSnapshot, type HeapSnapshot, type SmallSpanSnapshot, type SpanSnapshot } from "../../src/heap/snapshot.js";
import { heapMapHtml } from "../../src/debug/heap-map.js";
import { sizeClassOf } from "../../src/heap/class-of.js";
import { mixedHeap } from "./mixed-heap.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)); // build/test/debug/ -> repository root
const CHROMIUM = process.env.OFFHEAP_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const skip = HAVE_CHROMIUM || process.env.CI ? false : `${CHROMIUM} not found: install Debian's Chromium with "apt-get install -y chromium" (or set OFFHEAP_CHROMIUM to a Chromium binary)`;
const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() >>> 0)) >>> 0;

const group = (n: number): string => n.toLocaleString("en-US");
const hex = (n: number): string => "0x" + n.toString(16);

// Moves the pointer over page `page`'s cell and returns the tooltip's text once it shows the span starting at `start`.
async function hover(browserPage: Page, page: number, start: number): Promise<string> {
  const at = await browserPage.evaluate((p) => (window as unknown as { heapMap: { cellCenter(p: number): { x: number; y: number } } }).heapMap.cellCenter(p), page);
  await browserPage.mouse.move(at.x, at.y);
  await browserPage.waitForSelector(`#tooltip[data-start-page="${start}"]:not([hidden])`, { timeout: 5000 });
  return (await browserPage.textContent("#tooltip")) ?? "";
}

// The canvas pixels (RGBA) at the centres of the cells of `pages`, read back at once.
async function pixels(browserPage: Page, pages: number[]): Promise<number[][]> {
  return browserPage.evaluate((list) => {
    const map = document.getElementById("map") as HTMLCanvasElement;
    const box = map.getBoundingClientRect();
    const scale = map.width / box.width;
    const data = map.getContext("2d")!.getImageData(0, 0, map.width, map.height).data;
    return list.map((p) => {
      const at = (window as unknown as { heapMap: { cellCenter(p: number): { x: number; y: number } } }).heapMap.cellCenter(p);
      const i = 4 * (Math.floor((at.y - box.top) * scale) * map.width + Math.floor((at.x - box.left) * scale));
      return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    });
  }, pages);
}

test(`the heap map in Chromium: cells, tooltips and pixels match the snapshot (seed ${SEED})`, { skip, timeout: 60_000 }, async () => {
  assert.ok(HAVE_CHROMIUM, `${CHROMIUM} is missing: CI must install Debian's Chromium ("apt-get install -y chromium") for the heap map's browser test`);
  const { heap, large, freedLargePage } = mixedHeap(SEED);
  const snap: HeapSnapshot = heapSnapshot(heap);
  const dir = mkdtempSync(join(tmpdir(), "offheap-heap-map-"));
  const file = join(dir, "heap.html");
  writeFileSync(file, heapMapHtml(snap, { title: `offheap heap map (test, seed ${SEED})` }));
  const containing = (page: number): SpanSnapshot => snap.spans.find((s) => s.startPage <= page && page < s.startPage + s.pages)!;
  const cls208 = sizeClassOf(200);
  const smalls = snap.spans.filter((s): s is SmallSpanSnapshot => s.kind === "small" && s.classIndex === cls208);
  const small = smalls.find((s) => s.liveObjects > 0 && s.freeListObjects + s.cachedObjects > 0) ?? smalls[0];
  assert.ok(small !== undefined, "the mix has spans of 208-byte objects");
  const [largeAddr, largeSize] = [...large][0]!;
  const bigBlock = containing(largeAddr / PAGE_SIZE);
  const freeRun = containing(freedLargePage);
  assert.equal(freeRun.kind, "free");

  // A fresh browser with a fresh profile: launch() (not launchPersistentContext) runs Chromium on
  // a new empty user data directory that Playwright deletes on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    timeout: 30_000,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector("body[data-ready='true']", { timeout: 10_000 });

    const cells = snap.endPage - snap.firstDataPage;
    assert.equal(Number(await page.getAttribute("#map", "data-cell-count")), cells, "one drawn cell per committed data page");
    const [columns, cellPx] = [Number(await page.getAttribute("#map", "data-columns")), Number(await page.getAttribute("#map", "data-cell-px"))];
    const box = (await page.locator("#map").boundingBox())!;
    assert.equal(box.height, Math.ceil(cells / columns) * cellPx, "the canvas holds exactly the rows of cells");

    // Tooltips name what the snapshot says about the span under the pointer.
    const large1 = await hover(page, bigBlock.startPage + 1, bigBlock.startPage);
    assert.ok(large1.includes(`large block · ${group(largeSize)} B requested`), large1);
    assert.ok(large1.includes(`(${bigBlock.pages} pages, `), large1);
    const free1 = await hover(page, freeRun.startPage + freeRun.pages - 1, freeRun.startPage);
    assert.ok(free1.includes(`free run · ${group(freeRun.pages)} pages`), free1);
    const text = await hover(page, small.startPage, small.startPage);
    const free = small.freeListObjects + small.cachedObjects;
    for (const want of [
      `size class ${small.classIndex} · 208 B objects`,
      `objects ${group(small.objects)} · live ${group(small.liveObjects)} · free ${group(free)}`,
      `free: ${group(small.freeListObjects)} on the span's free list, ${group(small.cachedObjects)} cached`,
      `address ${hex(small.startPage * PAGE_SIZE)} – ${hex((small.startPage + small.pages) * PAGE_SIZE)}`,
    ]) assert.ok(text.includes(want), `tooltip ${JSON.stringify(text)} should include ${JSON.stringify(want)}`);

    // The cells are painted, opaque, and owners differ in colour.
    const colours = await pixels(page, [small.startPage, bigBlock.startPage, freeRun.startPage]);
    for (const c of colours) assert.equal(c[3], 255, `cell pixel ${c.join(",")} is opaque`);
    assert.equal(new Set(colours.map((c) => c.join(","))).size, 3, `small, large and free cells differ: ${JSON.stringify(colours)}`);

    mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "test-artifacts", "heap-map.png"), fullPage: true });

    assert.deepEqual(problems, [], "the page logs no error and throws nothing");
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "the page loads nothing from the network");
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
