// One heap, the page and two Web Workers, in a real browser: Debian's
// Chromium driven by playwright-core loads test/browser-threads/index.html
// from a local HTTP server that sends the cross-origin isolation headers
// (COOP same-origin, COEP require-corp), so `new Heap()` makes a shared
// WebAssembly.Memory. The page hands it to two module workers, which attach,
// run a seeded mix of alloc and free (8 B..2 KiB, some 40..200 KiB blocks),
// write a pattern of address and size over every block and check it before
// every free, and trade blocks through mailboxes (Atomics.exchange on a
// SharedArrayBuffer) so blocks are freed by other threads than the ones that
// allocated them; the page allocates and frees a little meanwhile, on the
// spinning lock of a main thread. Then both workers free the same blocks at
// once (each freed exactly once, the other free throws), detach, and the
// page frees what is left, validates the heap (check) and counts its live
// blocks and calls (stats). Last, on a heap of its own, a Collector frees
// half of a tree: its marks come from the WebAssembly mark loop, compiled
// in the page; then a Collector with a helper thread (a web worker of its
// own) collects a larger tree in steps. page.mjs and worker.mjs describe
// each step.
//
// The page imports the built package (/dist/index.js), so `npm run build`
// must have run (`npm test` does). The seed is printed in the test's name;
// replay with OFFHEAP_SEED=<seed> (each thread draws the same requests
// again; which blocks change threads depends on the scheduling). OFFHEAP_THREADS_SCALE=<factor> scales the
// workers' calls (default 1: 240,000 alloc and free calls per worker).
//
// Needs /usr/bin/chromium (`apt-get install -y chromium`; OFFHEAP_CHROMIUM
// names another binary). Without it the test is skipped, or fails under CI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)); // build/test/ -> repository root
const CHROMIUM = process.env.OFFHEAP_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const skip = HAVE_CHROMIUM || process.env.CI ? false : `${CHROMIUM} not found: install Debian's Chromium with "apt-get install -y chromium" (or set OFFHEAP_CHROMIUM to a Chromium binary)`;
const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() >>> 0)) >>> 0;
const SCALE = Number(process.env.OFFHEAP_THREADS_SCALE ?? 1);
const OPS = Math.round(240_000 * SCALE);
const RACE_BLOCKS = 20_000;
/** How long the page may take, from navigation to its result. */
const RUN_MS = 45_000;
const REPLAY = `seed ${SEED}, replay: OFFHEAP_SEED=${SEED}`;

/** The only folders the server serves: the built package and the page's files. */
const SERVED = ["/dist/", "/test/browser-threads/"];
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".map": "application/json" };

/** Serves SERVED from the repository with the headers that make a page cross-origin isolated; `refused` collects requests it answered with 404. */
function serve(refused: string[]): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = resolve(ROOT, "." + path);
    const ok = req.method === "GET" && SERVED.some((s) => path.startsWith(s)) && file.startsWith(ROOT.replace(/[\\/]$/, "") + sep) &&
      existsSync(file) && statSync(file).isFile() && TYPES[extname(file)] !== undefined;
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "no-store",
    };
    if (!ok) {
      refused.push(`${req.method} ${req.url}`);
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)]! }).end(readFileSync(file));
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => done({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

/** What every thread was doing when the run did not finish, from watcher.mjs (which never touches the heap); each read has 2 s, since a thread may be stuck. */
async function progress(page: Page): Promise<string> {
  const within = <T>(p: Promise<T>): Promise<T | string> => Promise.race([p, new Promise<string>((done) => setTimeout(done, 2000, "no answer in 2 s (busy or stuck)"))]);
  const shown = (p: Promise<unknown>) => within(p).catch((e: Error) => `cannot read: ${e.message.split("\n")[0]}`);
  const watcher = page.workers().find((w) => w.url().endsWith("/watcher.mjs"));
  const threads = watcher === undefined ? "no watcher worker" : await shown(watcher.evaluate(() => (globalThis as unknown as { offheapProgress?(): string }).offheapProgress?.() ?? "no control words yet"));
  return `${threads}\nthe page's main thread answers: ${await shown(page.evaluate(() => "yes"))}`;
}

interface WorkerCounts {
  allocs: number; frees: number; largeAllocs: number; sent: number; sentBack: number; received: number; freedReceived: number; bytesChecked: number;
  race: { won: number; doubleFree: number; invalidAddress: number };
}
interface Result {
  ok: boolean; seed: number; errors: string[]; crossOriginIsolated: boolean; sharedMemory: boolean; threadIds: number[];
  workers: WorkerCounts[];
  page: { allocs: number; frees: number; stressAllocs: number; stressFrees: number; sent: number; received: number; ticks: number; longestTickMs: number; longestTick: number; ticksOver20ms: number };
  race: { blocks: number; badWins: string[] };
  inMailboxes: number; liveBeforeDrain: number; expectedBeforeDrain: number; liveAfter: number;
  allocs: number; frees: number; statsAllocs: number; statsFrees: number; committedMiB: number;
  alias: { sameObject: boolean; sameSlot: boolean; blocks: number };
  collector: { sharedMemory: boolean; wasmLoop: boolean; whole: number; half: number };
  concurrent: { helperMarked: boolean; whole: number; half: number };
  ms: { stress: number; race: number; total: number };
}

test(`one heap, the page and two workers in Chromium: alloc, free across threads, racing frees (${REPLAY})`, { skip, timeout: 90_000 }, async (t) => {
  assert.ok(HAVE_CHROMIUM, `${CHROMIUM} is missing: CI must install Debian's Chromium ("apt-get install -y chromium") for the browser threads test`);
  assert.ok(existsSync(join(ROOT, "dist", "index.js")), `${join(ROOT, "dist", "index.js")} is missing: run "npm run build" first (npm test does)`);
  const refused: string[] = [];
  const { server, origin } = await serve(refused);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    timeout: 30_000,
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.stack ?? e.message}`));
    page.on("crash", () => problems.push("the page crashed"));
    // The page's console event also carries its workers' messages.
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()} (${m.location().url}): ${m.text()}`); });

    const url = `${origin}/test/browser-threads/index.html?seed=${SEED}&ops=${OPS}&race=${RACE_BLOCKS}`;
    const started = Date.now();
    await page.goto(url, { waitUntil: "load", timeout: 10_000 });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      page.evaluate(() => (window as unknown as { offheapResult: Promise<unknown> }).offheapResult) as Promise<Result>,
      new Promise<"timeout">((done) => (timer = setTimeout(done, RUN_MS, "timeout"))),
    ]).finally(() => clearTimeout(timer));
    if (outcome === "timeout") assert.fail(`the page gave no result in ${RUN_MS / 1000} s (${REPLAY})\n${await progress(page)}\n${problems.join("\n")}`);
    if (typeof outcome !== "object" || outcome === null) assert.fail(`the page set no window.offheapResult (got ${String(outcome)}): it failed before its run started\n${problems.join("\n")}`);
    const r = outcome;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(`${REPLAY}: ${seconds} s in the page (stress ${r.ms?.stress} ms, race ${r.ms?.race} ms)`);

    assert.deepEqual(r.errors, [], `the page and the workers run without an error (${REPLAY})`);
    assert.deepEqual(problems, [], `no page error, crash, or console error or warning (${REPLAY})`);
    assert.deepEqual(refused, [], "every request the page made was served (no module outside dist/ and test/browser-threads/)");
    t.diagnostic(`page ${JSON.stringify(r.page)}; ${r.inMailboxes} blocks left in the mailboxes; ${r.committedMiB} MiB committed`);
    for (const [w, c] of r.workers.entries()) t.diagnostic(`worker ${w} (thread ${r.threadIds[w]}): ${JSON.stringify(c)}`);

    assert.equal(r.crossOriginIsolated, true, "the page is cross-origin isolated");
    assert.equal(r.sharedMemory, true, "new Heap() made a shared WebAssembly.Memory");
    assert.equal(new Set(r.threadIds).size, 2, `the workers' Heaps have their own thread ids (${r.threadIds.join(", ")})`);
    for (const [w, c] of r.workers.entries()) {
      assert.ok(c.allocs + c.frees >= OPS, `worker ${w} made ${c.allocs + c.frees} alloc and free calls, at least ${OPS}`);
      assert.ok(c.largeAllocs > 0, `worker ${w} allocated large blocks`);
      assert.ok(c.received > 0 && c.freedReceived > 0, `worker ${w} received blocks from another thread (${c.received}) and freed some at once (${c.freedReceived})`);
    }
    assert.ok(r.page.stressAllocs > 0 && r.page.stressFrees > 0, `the page allocated (${r.page.stressAllocs}) and freed (${r.page.stressFrees}) while the workers ran`);

    // Racing frees: every block freed by exactly one worker; the other free threw DoubleFreeError or InvalidAddressError.
    assert.deepEqual(r.race.badWins, [], "each raced block is freed exactly once");
    const [a, b] = r.workers.map((c) => c.race) as [WorkerCounts["race"], WorkerCounts["race"]];
    assert.equal(a.won + b.won, RACE_BLOCKS, "the two workers' successful frees add up to the raced blocks");
    for (const x of [a, b]) assert.equal(x.won + x.doubleFree + x.invalidAddress, RACE_BLOCKS, `each failed racing free threw DoubleFreeError or InvalidAddressError (${JSON.stringify(x)})`);

    assert.deepEqual(r.alias, { sameObject: false, sameSlot: true, blocks: 200 },
      "the memory sent to a worker and back is a new object; a Heap on it joins the page's slot, and its blocks are freed through the page's Heap after it detached");
    assert.equal(r.liveBeforeDrain, r.expectedBeforeDrain, "after the workers detached, stats().liveBlocks counts the page's blocks and those left in the mailboxes");
    assert.equal(r.liveAfter, 0, "stats().liveBlocks is 0 once every block is freed");
    assert.equal(r.statsAllocs, r.allocs, "stats().allocs counts every alloc of every thread");
    assert.equal(r.statsFrees, r.frees, "stats().frees counts every successful free of every thread");
    assert.deepEqual(r.collector, { sharedMemory: true, wasmLoop: true, whole: 4095, half: 2048 },
      "a Collector on a shared heap marks with the WebAssembly loop and frees the dropped half of a 4,095-record tree");
    assert.deepEqual(r.concurrent, { helperMarked: true, whole: 131_071, half: 65_536 },
      "a concurrent Collector's helper (a web worker) marks blocks, and the cycle after the right half of a 131,071-record tree is dropped frees it");
  } finally {
    await browser.close();
    await new Promise((done) => server.close(done));
  }
});
