// The heap map's inline stylesheet and browser script, as strings that
// heap-map.ts puts into the page. See heap/heap.ts for an overview.
//
// The script is plain ES2020 in a string rather than a compiled function's
// source: bundlers and coverage tools rewrite functions (esbuild's keepNames
// adds calls to a helper that would not exist in the page), never strings.
// test/debug/heap-map.browser.test.ts runs it in Chromium and fails on any
// page error.
//
// What the script reads from the JSON block `#heap-data` (built by
// heap-map.ts, clientData):
//   pageSize, firstDataPage, cells (pages drawn), columns, cellPx, labelPx
//   spans   flat, 4 numbers per span in page order: pages, code, a, b
//           code > 0: a small span of class `code`, a = live objects,
//                     b = objects on its free list
//           code = -1: a large block, a = requested bytes
//           code = 0: a free run
//   classSize[c], classObjects[c], classHue[c]  per class index
// What it writes for tests and tools: #map[data-cell-count] (cells drawn),
// body[data-ready], #tooltip[data-span] and window.heapMap.cellCenter(page).

/** Colours shared by the static parts (heap-map.ts) and the canvas (the script below). */
export const COLOUR = {
  large: "hsl(228 14% 38%)",
  free: "hsl(220 14% 90%)",
  /** Lightness of a small span's cells: EMPTY_L at no live objects down to EMPTY_L - RANGE_L when full. */
  EMPTY_L: 87,
  RANGE_L: 47,
  SAT: 68,
} as const;

/** Inline CSS of the heap map page. */
export const HEAP_MAP_CSS = String.raw`
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #fff; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 24px 32px; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 2px; font-weight: 600; }
h2 { font-size: 13px; margin: 0 0 10px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.sub { margin: 0 0 16px; color: var(--muted); }
.layout { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.map-panel { flex: 0 1 auto; width: min-content; max-width: 100%; }
aside { flex: 1 1 380px; max-width: 560px; display: flex; flex-direction: column; gap: 20px; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 22px; align-items: center; margin-bottom: 12px; color: var(--muted); }
.legend .item { display: inline-flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; border: 1px solid rgba(0,0,0,.08); }
.ramp { display: inline-block; width: 120px; height: 12px; border-radius: 3px; border: 1px solid rgba(0,0,0,.08); }
.ramp-labels { display: inline-flex; justify-content: space-between; width: 120px; font-size: 11px; }
.ramp-box { display: inline-flex; flex-direction: column; }
.scale { margin: 0 0 10px; color: var(--muted); font-size: 12px; }
.map-wrap { position: relative; overflow-x: auto; }
.map-wrap canvas { display: block; }
#overlay { position: absolute; left: 0; top: 0; cursor: crosshair; }
.composition { display: flex; height: 14px; border-radius: 4px; overflow: hidden; margin: 4px 0 6px; border: 1px solid var(--line); }
.composition i { display: block; height: 100%; }
.composition-key { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); font-size: 12px; margin-bottom: 14px; }
.classes { display: grid; grid-template-columns: auto 1fr auto; gap: 3px 10px; align-items: center; font-variant-numeric: tabular-nums; }
.classes .head { font-size: 11px; color: var(--muted); }
.class-row { display: contents; }
.class-row > * { padding: 1px 0; }
.class-row:hover > * { background: #eef2f6; }
.cname { text-align: right; white-space: nowrap; }
.bar { display: flex; height: 12px; background: #f3f4f6; border-radius: 2px; overflow: hidden; min-width: 120px; }
.bar i { display: block; height: 100%; }
.cnum { white-space: nowrap; color: var(--muted); font-size: 12px; text-align: right; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eaeef2; }
th { text-align: left; font-weight: 500; color: var(--muted); }
td { text-align: right; white-space: nowrap; }
td.exact { color: var(--muted); font-size: 12px; }
#tooltip { position: fixed; z-index: 10; pointer-events: none; max-width: 380px; padding: 8px 10px; border-radius: 6px; background: rgba(22,27,34,.94); color: #f0f3f6; font-size: 12px; line-height: 1.5; box-shadow: 0 6px 18px rgba(0,0,0,.25); font-variant-numeric: tabular-nums; }
#tooltip b { font-weight: 600; }
#tooltip .dot { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
#tooltip .dim { color: #9aa5b1; }
.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
`;

/** Inline script of the heap map page: draws the canvas, the hover outline and the tooltip. */
export const HEAP_MAP_SCRIPT = String.raw`
(() => {
  "use strict";
  const D = JSON.parse(document.getElementById("heap-data").textContent);
  const S = D.spans, nSpans = S.length / 4, N = D.cells, cols = D.columns, cell = D.cellPx, labelW = D.labelPx;
  const gap = cell >= 6 ? 1 : 0;
  const rows = Math.ceil(N / cols);
  const width = labelW + cols * cell, height = Math.max(1, rows * cell);
  const spanStart = new Float64Array(nSpans);
  const pageSpan = new Int32Array(N);
  for (let i = 0, p = 0; i < nSpans; i++) { spanStart[i] = p; pageSpan.fill(i, p, p + S[4 * i]); p += S[4 * i]; }

  const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const bytes = (n) => {
    if (n < 1024) return n + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = n / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    let s = v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s + " " + units[u];
  };
  const hex = (n) => "0x" + n.toString(16);
  const pct = (x) => (x * 100).toFixed(x > 0 && x < 0.001 ? 2 : 1) + "%";

  const occupancy = (i) => {
    const code = S[4 * i + 1];
    if (code > 0) return S[4 * i + 2] / D.classObjects[code];
    if (code < 0) return S[4 * i + 2] / (S[4 * i] * D.pageSize);
    return 0;
  };
  const colours = new Map();
  const colourOf = (i) => {
    const code = S[4 * i + 1];
    if (code === 0) return D.colour.free;
    if (code < 0) return D.colour.large;
    const level = Math.round(occupancy(i) * 32);
    const key = code * 64 + level;
    let c = colours.get(key);
    if (c === undefined) {
      c = "hsl(" + D.classHue[code] + " " + D.colour.SAT + "% " + (D.colour.EMPTY_L - D.colour.RANGE_L * level / 32).toFixed(1) + "%)";
      colours.set(key, c);
    }
    return c;
  };

  const map = document.getElementById("map"), overlay = document.getElementById("overlay");
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  for (const c of [map, overlay]) {
    c.width = Math.round(width * dpr); c.height = Math.round(height * dpr);
    c.style.width = width + "px"; c.style.height = height + "px";
  }
  const ctx = map.getContext("2d"), octx = overlay.getContext("2d");
  ctx.scale(dpr, dpr); octx.scale(dpr, dpr);

  // Calls fn(x, y, w) for each row segment of span i, in CSS pixels.
  const segments = (i, fn) => {
    const end = spanStart[i] + S[4 * i];
    for (let q = spanStart[i]; q < end; ) {
      const r = Math.floor(q / cols), c = q - r * cols, stop = Math.min(end, (r + 1) * cols);
      fn(labelW + c * cell, r * cell, (stop - q) * cell, stop - q);
      q = stop;
    }
  };

  const draw = (focusClass) => {
    ctx.clearRect(0, 0, width, height);
    let drawn = 0;
    for (let i = 0; i < nSpans; i++) {
      ctx.fillStyle = colourOf(i);
      ctx.globalAlpha = focusClass === undefined || S[4 * i + 1] === focusClass ? 1 : 0.14;
      segments(i, (x, y, w, pages) => { ctx.fillRect(x, y, w - gap, cell - gap); drawn += pages; });
    }
    ctx.globalAlpha = 1;
    // Page boundaries inside multi-page spans, faint, where cells are big enough to show them.
    if (cell >= 8) {
      ctx.fillStyle = "rgba(255,255,255,0.45)";
      for (let i = 0; i < nSpans; i++) {
        if (S[4 * i] < 2) continue;
        segments(i, (x, y, w, pages) => { for (let k = 1; k < pages; k++) ctx.fillRect(x + k * cell - 1, y + 2, 1, cell - gap - 4); });
      }
    }
    ctx.fillStyle = "#59636e";
    ctx.font = "11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
    // A label beside its row when rows are as tall as the text, else from the row's top down.
    ctx.textBaseline = cell >= 12 ? "middle" : "top";
    ctx.textAlign = "right";
    const every = Math.max(1, Math.ceil(18 / cell));
    for (let r = 0; r < rows; r += every) {
      ctx.fillText(hex((D.firstDataPage + r * cols) * D.pageSize), labelW - 8, r * cell + (cell >= 12 ? cell / 2 : 0));
    }
    return drawn;
  };
  map.dataset.cellCount = String(draw(undefined));

  const tip = document.getElementById("tooltip");
  const line = (html) => "<div>" + html + "</div>";
  const describe = (i) => {
    const n = S[4 * i], code = S[4 * i + 1], a = S[4 * i + 2], b = S[4 * i + 3];
    const first = D.firstDataPage + spanStart[i];
    const where = line("pages " + group(first) + (n > 1 ? "–" + group(first + n - 1) : "") + " <span class=dim>(" + group(n) + " page" + (n > 1 ? "s" : "") + ", " + bytes(n * D.pageSize) + ")</span>") +
      line("address " + hex(first * D.pageSize) + " – " + hex((first + n) * D.pageSize));
    const dot = "<span class=dot style=\"background:" + colourOf(i) + "\"></span>";
    if (code > 0) {
      const objects = D.classObjects[code], cached = objects - a - b;
      return line(dot + "<b>size class " + code + " · " + bytes(D.classSize[code]) + " objects</b>") + where +
        line("objects " + group(objects) + " · live " + group(a) + " · free " + group(objects - a)) +
        line("<span class=dim>free: " + group(b) + " on the span's free list, " + group(cached) + " cached</span>") +
        line("occupancy " + pct(a / objects) + " · live " + bytes(a * D.classSize[code]) + ", free " + bytes((objects - a) * D.classSize[code]));
    }
    if (code < 0) {
      return line(dot + "<b>large block · " + group(a) + " B requested</b>") + where +
        line("occupancy " + pct(a / (n * D.pageSize)) + " of its pages · slack " + bytes(n * D.pageSize - a));
    }
    return line(dot + "<b>free run · " + group(n) + " page" + (n > 1 ? "s" : "") + " (" + bytes(n * D.pageSize) + ")</b>") + where;
  };

  let shown = -1;
  const outline = (i) => {
    octx.clearRect(0, 0, width, height);
    if (i < 0) return;
    octx.fillStyle = "rgba(255,255,255,0.22)";
    octx.strokeStyle = "#0b0f14";
    octx.lineWidth = 2;
    segments(i, (x, y, w) => { octx.fillRect(x, y, w - gap, cell - gap); octx.strokeRect(x + 1, y + 1, Math.max(1, w - gap - 2), Math.max(1, cell - gap - 2)); });
  };
  const hide = () => { shown = -1; tip.hidden = true; delete tip.dataset.span; outline(-1); };
  overlay.addEventListener("mousemove", (e) => {
    const r = overlay.getBoundingClientRect();
    const x = e.clientX - r.left - labelW, y = e.clientY - r.top;
    const c = Math.floor(x / cell), row = Math.floor(y / cell), page = row * cols + c;
    if (x < 0 || c >= cols || row < 0 || page >= N) { hide(); return; }
    const i = pageSpan[page];
    if (i !== shown) {
      shown = i;
      tip.innerHTML = describe(i);
      tip.dataset.span = String(i);
      tip.dataset.startPage = String(D.firstDataPage + spanStart[i]);
      tip.hidden = false;
      outline(i);
    }
    const pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(e.clientX + pad, window.innerWidth - w - 4) + "px";
    tip.style.top = (e.clientY + pad + h > window.innerHeight ? e.clientY - pad - h : e.clientY + pad) + "px";
  });
  overlay.addEventListener("mouseleave", hide);

  // Hovering a size class's bar shows only its spans on the map.
  for (const row of document.querySelectorAll(".class-row")) {
    const cls = Number(row.dataset.class);
    row.addEventListener("mouseenter", () => draw(cls));
    row.addEventListener("mouseleave", () => draw(undefined));
  }

  window.heapMap = {
    // Centre of the cell of a page (numbered from address 0) in viewport coordinates, for tests and tools.
    cellCenter(page) {
      const q = page - D.firstDataPage, r = Math.floor(q / cols), c = q - r * cols, b = overlay.getBoundingClientRect();
      return { x: b.left + labelW + c * cell + (cell - gap) / 2, y: b.top + r * cell + (cell - gap) / 2 };
    },
  };
  document.body.dataset.ready = "true";
})();
`;
