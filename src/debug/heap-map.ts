// The heap map: a HeapSnapshot drawn as one self-contained HTML page. See
// heap/heap.ts for an overview.
//
// Every committed data page is one cell of a canvas, in address order, rows
// of a power-of-two number of pages. A cell's hue is the object size of the
// span that owns it (a log scale from 8 B blue to 64 KiB purple), its shade the
// span's live objects over its objects; large blocks are slate, free runs
// light grey. Hovering a span outlines it and shows a tooltip. Beside the
// map: where the committed pages went, per-class bars of live and free
// bytes, and the stats table. The static parts are HTML built here; the
// canvas is drawn by the inline script (heap-map-client.ts) from a compact
// JSON block of 4 numbers per span. Measured: a 2 GiB heap (255,814 pages,
// 186,067 spans) takes 80-100 ms to snapshot and 50-60 ms to render, makes a
// 1.84 MB page, and Chromium loads and draws it in 0.6-0.9 s. No network, no
// Node API: the page works from a file:// URL, and this module runs in
// browsers too.

import { COLOUR, HEAP_MAP_CSS, HEAP_MAP_SCRIPT } from "./heap-map-client.js";
import type { HeapSnapshot } from "../heap/snapshot.js";
import { checkHeapSnapshot } from "./check-input.js";
import { checkOptions, type OptionRules } from "../common/options.js";

/** Options of heapMapHtml. */
export interface HeapMapOptions {
  /** Page title and heading. Default "offheap heap map". */
  title?: string;
}

/** HeapMapOptions.title when it is left out. @internal */
export const DEFAULT_TITLE = "offheap heap map";

/** The types of HeapMapOptions, for checkOptions (common/options.ts). */
export const HEAP_MAP_OPTION_RULES: OptionRules = { title: { type: "string" } };

// Grid of the map: `columns` pages per row, each cell `cellPx` CSS pixels square.
interface MapLayout {
  columns: number;
  cellPx: number;
}

const MAP_WIDTH_PX = 896; // the grid's size budget: the whole map fits in it down to 2 px cells
const MAP_HEIGHT_PX = 640;
const LABEL_PX = 92; // left margin for the row addresses

// Grid for `cells` pages: the power-of-two row length, 16 to 512 pages, that
// gives the biggest cells (at most 28 px) with the whole grid inside the size
// budget; cells stay at least 2 px, so pointing at a page stays possible and
// big heaps scroll instead. 128 pages: 16 x 28 px; 2,000 pages: 64 x 14 px;
// 262,144 pages (2 GiB): 512 x 2 px (1,024 px tall).
function mapLayout(cells: number): MapLayout {
  let best: MapLayout = { columns: 512, cellPx: 2 };
  for (let columns = 16; columns <= 512; columns *= 2) {
    const rows = Math.ceil(Math.max(1, cells) / columns);
    const cellPx = Math.min(28, Math.floor(MAP_WIDTH_PX / columns), Math.floor(MAP_HEIGHT_PX / rows));
    if (cellPx > best.cellPx) best = { columns, cellPx };
  }
  return best;
}

// Hue of a size class's cells: log2 of the object size mapped linearly from
// 8 B (235, blue) through cyan, green, yellow, orange and red to 64 KiB (290,
// purple), about 23 degrees per doubling, so neighbouring classes differ a
// little and sizes 4x apart clearly.
function classHue(objectSize: number): number {
  const t = Math.min(1, Math.max(0, (Math.log2(objectSize) - 3) / 13));
  return Math.round((235 - 305 * t + 360) % 360);
}

/**
 * Renders `snapshot` (from heapSnapshot or heap.snapshot()) as the text of
 * one self-contained HTML file: inline CSS and script, no network access,
 * no Node API. Cost: O(spans + classes); about 10 bytes of HTML per span
 * plus 16 KB.
 *
 * The snapshot may come from JSON or elsewhere: it is checked whole first
 * (check-input.ts, checkHeapSnapshot). Throws OffheapTypeError for what is
 * not a HeapSnapshot or a field of the wrong type, OffheapRangeError for a
 * field out of range (a NaN or negative count, spans that do not tile the
 * committed pages, an unknown kind or class); each names the field, e.g.
 * `heapMapHtml: snapshot.spans[2].pages must be an integer from 1 to 9 (up to
 * endPage), got -1`.
 *
 * In the page: `#map` is the canvas, with `data-cell-count` (cells drawn,
 * one per committed data page) once the script has run; `#tooltip` shows the
 * hovered span; `.class-row[data-class]` are the per-class bars;
 * `#stats-table` has one `tr[data-key]` per statistic.
 *
 * @example
 * const html = heapMapHtml(heapSnapshot(heap), { title: "after warm-up" });
 * document.querySelector("iframe")!.srcdoc = html;
 */
export function heapMapHtml(snapshot: HeapSnapshot, options?: HeapMapOptions): string {
  const { title = DEFAULT_TITLE } = checkOptions("heapMapHtml", options, HEAP_MAP_OPTION_RULES);
  checkHeapSnapshot("heapMapHtml", snapshot);
  return heapMapPage(snapshot, title);
}

/**
 * heapMapHtml after its checks: the page of a snapshot that checkHeapSnapshot
 * has passed. For writeHeapMap, which checks under its own name.
 * @internal
 */
export function heapMapPage(snapshot: HeapSnapshot, title: string): string {
  const cells = snapshot.endPage - snapshot.firstDataPage;
  const layout = mapLayout(cells);
  const ps = snapshot.pageSize;
  const st = snapshot.stats;
  const sub = `${bytes(cells * ps)} of pages committed (pages ${group(snapshot.firstDataPage)}–${group(snapshot.endPage - 1)}) · ` +
    `${bytes(snapshot.reservedPages * ps)} reserved · ${bytes(st.liveBytes)} live in ${group(st.liveBlocks)} blocks · ` +
    `${group(snapshot.spans.length)} spans and free runs`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="offheap heap map">
<title>${esc(title)}</title>
<style>${HEAP_MAP_CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="sub">${esc(sub)}</p>
<div class="layout">
<section class="panel map-panel" aria-label="heap map">
${legend(layout, ps)}
<div class="map-wrap"><canvas id="map" role="img" aria-label="one cell per page of the heap, coloured by owner" data-pages="${cells}" data-columns="${layout.columns}" data-cell-px="${layout.cellPx}" data-first-page="${snapshot.firstDataPage}"></canvas><canvas id="overlay" aria-hidden="true"></canvas></div>
<noscript><p class="note">The map is drawn by a script; the tables beside it work without one.</p></noscript>
</section>
<aside>
<section class="panel" aria-label="size classes">
<h2>Committed pages</h2>
${composition(snapshot)}
<h2>Size classes: live and free bytes</h2>
${classBars(snapshot)}
</section>
<section class="panel" aria-label="statistics">
<h2>Statistics</h2>
${statsTable(snapshot)}
</section>
</aside>
</div>
<div id="tooltip" role="tooltip" hidden></div>
<script type="application/json" id="heap-data">${json(clientData(snapshot, layout))}</script>
<script>${HEAP_MAP_SCRIPT}</script>
</body>
</html>
`;
}

// The compact form the script draws from (heap-map-client.ts describes it).
function clientData(s: HeapSnapshot, layout: MapLayout): object {
  const spans = new Array<number>(s.spans.length * 4);
  let maxClass = 0;
  for (const span of s.spans) if (span.kind === "small") maxClass = Math.max(maxClass, span.classIndex);
  const classSize = new Array<number>(maxClass + 1).fill(0);
  const classObjects = new Array<number>(maxClass + 1).fill(0);
  const hue = new Array<number>(maxClass + 1).fill(0);
  let k = 0;
  for (const span of s.spans) {
    spans[k++] = span.pages;
    if (span.kind === "small") {
      spans[k++] = span.classIndex;
      spans[k++] = span.liveObjects;
      spans[k++] = span.freeListObjects;
      classSize[span.classIndex] = span.objectSize;
      classObjects[span.classIndex] = span.objects;
      hue[span.classIndex] = classHue(span.objectSize);
    } else {
      spans[k++] = span.kind === "large" ? -1 : 0;
      spans[k++] = span.kind === "large" ? span.requestedBytes : 0;
      spans[k++] = 0;
    }
  }
  return {
    pageSize: s.pageSize, firstDataPage: s.firstDataPage, cells: s.endPage - s.firstDataPage,
    columns: layout.columns, cellPx: layout.cellPx, labelPx: LABEL_PX,
    spans, classSize, classObjects, classHue: hue, colour: COLOUR,
  };
}

// The class hues from 8 B to 64 KiB, a stop per doubling (CSS interpolates in RGB, so stops must be close).
const SIZE_GRADIENT = `linear-gradient(90deg, ${Array.from({ length: 14 }, (_, k) => `hsl(${classHue(8 << k)} ${COLOUR.SAT}% 52%)`).join(", ")})`;

function legend(layout: MapLayout, pageSize: number): string {
  const shade = (l: number): string => `hsl(${classHue(64)} ${COLOUR.SAT}% ${l}%)`;
  return `<div class="legend">
<span class="item"><span class="ramp-box"><span class="ramp" style="background:${SIZE_GRADIENT}"></span><span class="ramp-labels"><span>8 B</span><span>64 KiB</span></span></span>small span: hue = object size</span>
<span class="item"><span class="ramp-box"><span class="ramp" style="background:linear-gradient(90deg, ${shade(COLOUR.EMPTY_L)}, ${shade(COLOUR.EMPTY_L - COLOUR.RANGE_L)})"></span><span class="ramp-labels"><span>empty</span><span>full</span></span></span>shade = live / objects</span>
<span class="item"><span class="swatch" style="background:${COLOUR.large}"></span>large block</span>
<span class="item"><span class="swatch" style="background:${COLOUR.free}"></span>free pages</span>
</div>
<p class="scale">One cell per ${bytes(pageSize)} page; ${layout.columns} pages (${bytes(layout.columns * pageSize)}) per row, labelled with the row's first address. Metadata pages (header, bitmap, descriptors) come before the first row and are not drawn.</p>`;
}

// One stacked bar: the committed data pages split into small spans, large blocks and free runs.
function composition(s: HeapSnapshot): string {
  let small = 0;
  let large = 0;
  let free = 0;
  for (const span of s.spans) {
    if (span.kind === "small") small += span.pages;
    else if (span.kind === "large") large += span.pages;
    else free += span.pages;
  }
  const total = Math.max(1, small + large + free);
  const parts: [string, string, number][] = [["small spans", SIZE_GRADIENT, small], ["large blocks", COLOUR.large, large], ["free pages", COLOUR.free, free]];
  const bar = parts.map(([name, bg, n]) => n === 0 ? "" : `<i style="width:${(100 * n / total).toFixed(3)}%;background:${bg}" title="${name}: ${group(n)} pages"></i>`).join("");
  const key = parts.map(([name, bg, n]) =>
    `<span data-part="${name}"><span class="swatch" style="background:${bg}"></span> ${name} ${bytes(n * s.pageSize)} (${percent(n / total)})</span>`).join("");
  return `<div class="composition">${bar}</div><div class="composition-key">${key}</div>`;
}

function classBars(s: HeapSnapshot): string {
  if (s.classes.length === 0) return `<p class="note">No size class owns a span.</p>`;
  const max = Math.max(...s.classes.map((c) => c.liveBytes + c.freeBytes));
  const rows = s.classes.map((c) => {
    const hue = classHue(c.objectSize);
    const live = (100 * c.liveBytes / max).toFixed(3);
    const free = (100 * c.freeBytes / max).toFixed(3);
    const title = `class ${c.classIndex} (${bytes(c.objectSize)} objects): ${group(c.spans)} span${c.spans === 1 ? "" : "s"} of ${group(c.pages)} page${c.pages === 1 ? "" : "s"}, ` +
      `${group(c.objects)} objects, ${group(c.liveObjects)} live, ${group(c.freeObjects)} free (${group(c.cachedObjects)} cached)`;
    return `<div class="class-row" data-class="${c.classIndex}" data-live-bytes="${c.liveBytes}" data-free-bytes="${c.freeBytes}" title="${esc(title)}">` +
      `<span class="cname">${bytes(c.objectSize)}</span>` +
      `<span class="bar"><i style="width:${live}%;background:hsl(${hue} ${COLOUR.SAT}% 48%)"></i><i style="width:${free}%;background:hsl(${hue} ${COLOUR.SAT}% 85%)"></i></span>` +
      `<span class="cnum">${bytes(c.liveBytes)} / ${bytes(c.freeBytes)}</span></div>`;
  });
  return `<div class="classes"><span class="head">object size</span><span class="head">live (dark) and free (light) bytes</span><span class="head">live / free</span>\n${rows.join("\n")}</div>`;
}

// Every number in stats, nested objects flattened to "a.b"; arrays (the
// per-class rows) are shown by the bars instead. Keys ending in "Bytes" are
// shown in binary units with the exact count beside.
function statsTable(s: HeapSnapshot): string {
  const rows: string[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(obj)) {
      const name = prefix + key;
      if (typeof value === "number") {
        const isBytes = /Bytes$/.test(key);
        const shown = isBytes ? bytes(value) : /ratio|fraction|fragmentation|utili[sz]ation/i.test(key) && value >= 0 && value <= 1
          ? percent(value) : Number.isInteger(value) ? group(value) : value.toFixed(3);
        rows.push(`<tr data-key="${esc(name)}"><th>${esc(label(name))}</th><td>${esc(shown)}</td><td class="exact">${isBytes ? group(value) : ""}</td></tr>`);
      } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        walk(value as Record<string, unknown>, name + ".");
      }
    }
  };
  walk(s.stats as unknown as Record<string, unknown>, "");
  return `<table id="stats-table"><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

// "peak.freePageBytes" -> "peak: free page bytes"
function label(name: string): string {
  return name.split(".").map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase()).join(": ");
}

// A byte count in binary units: "512 B", "1.5 KiB", "24 MiB".
function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  let s = v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return `${s} ${units[u]}`;
}

// An integer with thousands separators: "1,234,567".
function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// JSON that is safe inside a <script> element: no "</script", "<!--" or line separators.
function json(value: unknown): string {
  return JSON.stringify(value).replace(/[<\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
