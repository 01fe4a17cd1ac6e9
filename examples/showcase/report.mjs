// The showcase's HTML report: one self-contained page (inline CSS and SVG,
// nothing fetched) with the verdicts, bar charts of every figure, the tables
// main.mjs prints, and the machine it ran on. renderReport(model) takes the
// model main.mjs builds and returns the page as a string.

import { fmtBytes, fmtInt, fmtMs, fmtRate } from "./format.mjs";

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const CHART_WIDTH = 640;
const LABEL_WIDTH = 150;
const BAR_WIDTH = 270;
const ROW_HEIGHT = 30;
const BAR_HEIGHT = 18;
// Orange for Map and JSON, blue for offheap; lighter and darker shades for parts of a stacked bar.
const COLORS = { map: "#e07b39", map2: "#f2b58a", off: "#2f6fd0", off2: "#8fb4ea" };

/**
 * A horizontal bar chart. items: [{ label, text, segments: [{ value, cls, name }] }];
 * a bar of stacked segments, its text after it. Items without a finite
 * total get no bar, only their text.
 */
function chart(title, note, items) {
  const total = (it) => it.segments.reduce((s, g) => s + g.value, 0);
  const max = Math.max(0, ...items.map(total).filter(Number.isFinite));
  const height = items.length * ROW_HEIGHT + 8;
  const rows = items.map((it, i) => {
    const y = 4 + i * ROW_HEIGHT;
    let x = LABEL_WIDTH;
    const segs = Number.isFinite(total(it)) && max > 0 ? it.segments.map((g) => {
      const w = Math.max(g.value > 0 ? 1 : 0, (g.value / max) * BAR_WIDTH);
      const rect = `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[g.cls]}"><title>${esc(g.name ?? it.label)}</title></rect>`;
      x += w;
      return rect;
    }).join("") : "";
    return `<text x="${LABEL_WIDTH - 8}" y="${y + 13}" text-anchor="end">${esc(it.label)}</text>${segs}<text x="${(x + 6).toFixed(1)}" y="${y + 13}" class="v">${esc(it.text)}</text>`;
  }).join("");
  const legend = [...new Map(items.flatMap((it) => it.segments.filter((g) => g.name).map((g) => [g.name, g.cls]))).entries()]
    .map(([name, cls]) => `<span class="key"><i style="background:${COLORS[cls]}"></i>${esc(name)}</span>`).join(" ");
  return `<figure><figcaption>${esc(title)} <small>${esc(note)}</small></figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${CHART_WIDTH} ${height}" width="100%" role="img" aria-label="${esc(title)}" font-family="system-ui,sans-serif" font-size="12">${rows}</svg>${legend === "" ? "" : `<div class="legend">${legend}</div>`}</figure>`;
}

const pair = (row, note) => chart(row.chart, note, [
  { label: "Map", text: row.mapText, segments: [{ value: row.map, cls: "map" }] },
  { label: "OffHeapMap", text: row.offText, segments: [{ value: row.off, cls: "off" }] },
]);

function charts(model) {
  const { rows, results, o } = model;
  const { map, off, loadJson, loadImage, limitMap, limitOff } = results;
  const byChart = new Map(rows.filter((r) => r.chart !== "").map((r) => [r.chart, r]));
  const out = [
    pair(byChart.get("Build time"), "lower is better"),
    chart("Lookups per second", "higher is better", [
      { label: "Map", text: byChart.get("Lookups per second").mapText, segments: [{ value: byChart.get("Lookups per second").map, cls: "map" }] },
      { label: "Map, own key strings", text: map.ok ? fmtRate(o.lookups / (map.ownKeyLookupMs / 1000)) : "–", segments: [{ value: map.ok ? o.lookups / (map.ownKeyLookupMs / 1000) : NaN, cls: "map2" }] },
      { label: "OffHeapMap", text: byChart.get("Lookups per second").offText, segments: [{ value: byChart.get("Lookups per second").off, cls: "off" }] },
    ]),
    pair(byChart.get("Updates per second"), "higher is better"),
    chart("Memory: V8 heap used + off-heap committed", "lower is better", [
      { label: "Map", text: byChart.get("V8 heap + off-heap").mapText, segments: [{ value: map.ok ? map.heapUsedBytes : NaN, cls: "map" }] },
      { label: "OffHeapMap", text: byChart.get("V8 heap + off-heap").offText, segments: off.ok ? [{ value: off.heapUsedBytes, cls: "off2", name: "V8 heap" }, { value: off.offHeap.committedBytes, cls: "off", name: "off-heap (committed)" }] : [{ value: NaN, cls: "off" }] },
    ]),
    pair(byChart.get("RSS"), "resident set size after the run, lower is better"),
    pair(byChart.get("GC pause, total"), "inside the timed work, lower is better"),
    pair(byChart.get("GC pause, max"), "the longest single pause, lower is better"),
    chart("Save", "write and fsync, lower is better", [
      { label: "JSON text", text: map.ok ? fmtMs(map.save.saveMs) : map.error, segments: [{ value: map.ok ? map.save.saveMs : NaN, cls: "map" }] },
      { label: "heap image", text: off.ok ? fmtMs(off.save.saveMs) : off.error, segments: [{ value: off.ok ? off.save.saveMs : NaN, cls: "off" }] },
    ]),
    chart("Reload", "fresh process, file in the page cache, lower is better", [
      { label: "JSON text", text: loadJson.ok ? fmtMs(loadJson.readMs + loadJson.parseMs) : loadJson.error,
        segments: loadJson.ok ? [{ value: loadJson.readMs, cls: "map2", name: "read the file" }, { value: loadJson.parseMs, cls: "map", name: "JSON.parse" }] : [{ value: NaN, cls: "map" }] },
      { label: "heap image", text: loadImage.ok ? fmtMs(loadImage.loadMs + loadImage.openMs) : loadImage.error,
        segments: loadImage.ok ? [{ value: loadImage.loadMs, cls: "off", name: "Heap.load" }, { value: loadImage.openMs, cls: "off2", name: "OffHeapMap.open" }] : [{ value: NaN, cls: "off" }] },
    ]),
    chart(`Records held under --max-old-space-size=${o.limitHeapMb}`, `of ${fmtInt(o.limitRecords)}, higher is better`, [
      { label: "Map", text: limitMap.ok ? `all ${fmtInt(limitMap.records)}` : `crashed after > ${fmtInt(limitMap.progress)}`, segments: [{ value: limitMap.ok ? limitMap.records : limitMap.progress, cls: "map" }] },
      { label: "OffHeapMap", text: limitOff.ok ? `all ${fmtInt(limitOff.records)}` : limitOff.error, segments: [{ value: limitOff.ok ? limitOff.records : 0, cls: "off" }] },
    ]),
  ];
  if (off.ok) out.push(composition(off));
  return out.join("\n");
}

// Where the off-heap bytes go, from heap.stats(): metadata, the map's
// tables (large blocks), each size class's live objects, and free room.
function composition(off) {
  const s = off.offHeap;
  const items = [{ label: "metadata", value: s.metadataBytes }, { label: "hash tables", value: s.largeBytes }];
  for (const c of s.classes) items.push({ label: `${c.size} B blocks ×${fmtInt(c.liveObjects)}`, value: c.size * c.liveObjects });
  items.push({ label: "free", value: Math.max(0, s.committedBytes - s.metadataBytes - s.liveBytes) });
  return chart("Off-heap bytes by use", `${fmtBytes(s.committedBytes)} committed; a key block holds the key and its record, names are string blocks`,
    items.filter((it) => it.value > 0).map((it) => ({ label: it.label, text: fmtBytes(it.value), segments: [{ value: it.value, cls: "off" }] })));
}

function htmlTable(headers, rows, numeric) {
  const th = headers.map((h, i) => `<th${numeric[i] ? ' class="n"' : ""}>${esc(h)}</th>`).join("");
  const tr = rows.map((r) => `<tr>${r.map((v, i) => `<td${numeric[i] ? ' class="n"' : ""}>${esc(v)}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1180px;padding:0 1rem;color:#1d2430;background:#fff}
h1{font-size:1.7rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde2ea;padding-bottom:.25rem}
.sub{color:#5a6472;margin:0 0 1rem}
.targets{list-style:none;padding:0;margin:0}.targets li{padding:.35rem .6rem;border-radius:6px;margin:.25rem 0;background:#f4f6f9}
.targets b{display:inline-block;width:1.4rem}.pass b{color:#16803c}.fail b{color:#c0392b}.unknown b{color:#8a6d00}
.targets span{color:#5a6472}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem 2rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.2rem}figcaption small{font-weight:400;color:#6a7482}
svg text{fill:#1d2430}svg text.v{fill:#3b4452}
.legend{font-size:12px;color:#5a6472}.key{margin-right:1rem}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:14px}th,td{padding:.3rem .8rem;border-bottom:1px solid #e6e9ee;text-align:left;vertical-align:top}
th{background:#f4f6f9}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#5a6472;font-size:13.5px;max-width:980px}code{font-size:13px;background:#f1f3f6;padding:0 .25rem;border-radius:3px}
`;

/** The report page for the model main.mjs builds (see main.mjs: meta, o, rows, persist, limit, targets, targetRecords, results). */
export function renderReport(model) {
  const { meta, o, rows, persist, limit, targets } = model;
  const cls = (p) => (p === true ? "pass" : p === false ? "fail" : "unknown");
  const markOf = (p) => (p === true ? "✓" : p === false ? "✗" : "?");
  const load = (l) => l.map((x) => x.toFixed(2)).join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>offheap showcase: ${esc(fmtInt(o.records))} records</title><style>${CSS}</style></head>
<body>
<h1>offheap showcase</h1>
<p class="sub">${esc(fmtInt(o.records))} records <code>{ id: u32, name: string, score, lat, lng: f64 }</code> under keys <code>"user:&lt;id&gt;"</code>,
as a <code>Map&lt;string, object&gt;</code> and as an <code>OffHeapMap</code> of records (<code>defineStruct</code>), each in its own Node process.
${esc(fmtInt(o.lookups))} lookups and ${esc(fmtInt(o.updates))} updates of random keys (xorshift32, seed ${esc(o.seed)}).</p>

<h2>Targets</h2>
<p class="note">Set for ${esc(fmtInt(model.targetRecords))} records on the project's 2-core test machine${o.records === model.targetRecords ? "" : `; this run has ${esc(fmtInt(o.records))}`}. Computed from this run's figures.</p>
<ul class="targets">
${targets.map((t) => `<li class="${cls(t.pass)}"><b>${markOf(t.pass)}</b>${esc(t.label)}: <span>${esc(t.detail)}</span></li>`).join("\n")}
</ul>

<h2>Figures</h2>
<div class="grid">
${charts(model)}
</div>

<h2>Side by side</h2>
${htmlTable(["", "Map<string, object>", "OffHeapMap<string, record>", "offheap vs Map"], rows.map((r) => [r.label, r.mapText, r.offText, r.vs]), [false, true, true, false])}
${[["Map<string, object>", model.results.map], ["OffHeapMap", model.results.off]].filter(([, r]) => !r.ok).map(([name, r]) => `<p class="note">${esc(name)} failed: ${esc(r.error)}</p>`).join("\n")}
<h2>Save and reload the same data</h2>
${htmlTable(["", "JSON text", "heap image", "image vs JSON"], persist.rows, [false, false, false, false])}
<h2>Heap limit: <code>node --max-old-space-size=${esc(o.limitHeapMb)}</code>, ${esc(fmtInt(o.limitRecords))} records</h2>
${htmlTable(["", "outcome"], [["as JS objects (Map)", limit.map], ["off-heap (OffHeapMap)", limit.off]], [false, false])}

<h2>How it was measured</h2>
<ul class="note">
<li>Each side runs in its own process (<code>node --expose-gc examples/showcase/worker.mjs</code>), one after the other. Keys are made as strings per call (<code>"user:" + id</code>), as they would arrive from outside, on both sides.</li>
<li>OffHeapMap side: <code>map.getOrInsertRef(key)</code> and a record cursor (<code>Record.at(heap, addr)</code>, moved with <code>cur.addr = map.getRef(key)</code>) write and read fields without an object per record.</li>
<li>"Map given its own key strings" is Map's best case: the lookups use the very string objects stored as keys (hashes cached, equal by identity). The lookups target compares OffHeapMap with the faster of Map's two figures. This extra run's collections are not in the GC figures.</li>
<li>Before each timed region (build, lookups, updates) a forced full GC clears what the previous region left, so no region is charged for another's garbage. GC figures count the collections that started inside the regions (<code>PerformanceObserver</code>, entry type <code>gc</code>). V8 heap is <code>process.memoryUsage().heapUsed</code> after a forced GC at the end; off-heap is <code>heap.stats().committedBytes</code>.</li>
<li>Save: the Map as the JSON of <code>Array.from(map)</code> (stringified in chunks of 65,536 entries: the same bytes as one <code>JSON.stringify</code>, in less time and memory) and <code>heap.save(path)</code>, each written and synced. Reload: a fresh process reads and parses the JSON (making a Map of the parsed entries would cost more on top and is not timed), or runs <code>Heap.load</code> and <code>OffHeapMap.open(heap, heap.getRoot("records"), …)</code>; both then check 1,000 random records, the first and the last (every field; the score after all its updates) and that an absent key is absent. Past about 5.8 million records the JSON text no longer fits in one V8 string and cannot be parsed at all.</li>
<li>Heap limit: the same build in a process started with <code>--max-old-space-size</code>; V8 aborts the Map's process when its heap is full (the report shows how far it got), while the OffHeapMap's records live in a WebAssembly memory outside V8's heap.</li>
<li>Figures move by ±10% or more between runs on a shared machine; single GC pauses can be stretched by other processes.</li>
</ul>

<h2>Machine</h2>
${htmlTable(["", ""], [
  ["Node", meta.node], ["OS", meta.platform], ["CPU", `${meta.cpu} (${meta.cores} cores)`], ["RAM", fmtBytes(meta.memoryBytes)],
  ["load average before / after", `${load(meta.loadBefore)} / ${load(meta.loadAfter)}`], ["run", `${meta.date}, ${fmtMs(meta.wallMs)}`],
], [false, false])}
</body></html>
`;
}
