// Collector programs (see run.mjs): a random graph of records under the
// Collector, mutated between incremental steps, against a model of the
// snapshot-at-the-beginning rules (collector.ts): a cycle frees exactly the
// records allocated before it started and unreachable then, from named
// roots, handles, scope pins, a collected array of refs and a collected map
// of records (inserted, reset, deleted, grown and migrated). Every step:
// gc.check(), the contents of every reachable record; every few steps
// heap.check(). Misuse (freeing a collected record, bad budgets) must throw
// its typed error and change nothing.
import { Heap, OffheapRangeError, OffheapTypeError } from "offheap";
import { Collector, defineStruct, OffHeapArray, OffHeapMap } from "offheap/collections";
import { CODES, ensure, imageOf, sameImage } from "./lib.mjs";

const { RANGE, TYPE } = CODES;
const Rec = defineStruct({ a: "ref", b: "ref", value: "u32", name: "string" });
const FIELDS = ["a", "b"];

/** A random graph under a Collector against the model. */
export function collectorProgram(p, steps) {
  const memory = p.pick(["wasm", "resizable"]);
  const debug = p.chance(0.2);
  const growth = p.pick([0, 0, 0.5]); // 0: every step from idle starts a cycle
  // A helper thread marks too (gc-helper.ts): it comes up tens of milliseconds in, and marks
  // between steps while the program mutates the graph; the model's rules are the same.
  const concurrent = memory === "wasm" && p.chance(0.3);
  p.note = `${memory}${debug ? ", debug" : ""}, growth ${growth}${concurrent ? ", concurrent" : ""}`;
  const heap = new Heap({ memory, debug });
  const gc = new Collector(heap, { minBytes: 0, growth, concurrent });
  const all = new Set(); // records not freed yet, by the model's rules
  const roots = new Map(); // name -> record
  const handles = new Map(); // record -> HeapHandle
  const scopes = []; // open scopes, innermost last: { scope, pins: Set }
  let elements = null; // the collected array's elements (records or null), or null while there is none
  let arr = null;
  let map = null; // the collected map, or null while there is none
  const entries = new Map(); // its key -> record
  let atStart = null; // records when the running cycle started
  let reachAtStart = null;
  let serial = 0;
  const cur = Rec.at(heap, 0);

  const reachable = () => {
    const seen = new Set();
    const stack = [...roots.values(), ...handles.keys(), ...scopes.flatMap((s) => [...s.pins])];
    if (elements !== null) for (const r of elements) if (r !== null) stack.push(r);
    stack.push(...entries.values());
    while (stack.length > 0) {
      const r = stack.pop();
      if (seen.has(r)) continue;
      seen.add(r);
      for (const f of FIELDS) if (r[f] !== null) stack.push(r[f]);
    }
    return seen;
  };
  const pickLive = (live) => (live.length === 0 ? null : p.pick(live));
  const make = () => {
    const r = { addr: 0, value: p.int(0, 2 ** 32 - 1), name: p.chance(0.3) ? `r${serial++}` : "", a: null, b: null };
    r.addr = gc.alloc(Rec, { value: r.value, name: r.name });
    all.add(r);
    if (scopes.length > 0) scopes[scopes.length - 1].pins.add(r);
    return r;
  };
  const setField = (r, f, to) => {
    r[f] = to;
    cur.addr = r.addr;
    cur[f] = to === null ? 0 : to.addr;
  };
  // After a step or collect: if a cycle ended, it freed what it started with and could not reach then.
  const ended = (cyclesBefore) => {
    if (gc.stats().cycles === cyclesBefore) return;
    for (const r of atStart) if (!reachAtStart.has(r)) all.delete(r);
    atStart = reachAtStart = null;
  };
  const countAfterCollect = () => {
    for (const r of [...all]) if (!reachable().has(r)) all.delete(r);
    const arrayBlocks = arr === null ? 0 : arr.capacity > 0 ? 2 : 1;
    // the map's header and the tables it names (map-layout.ts: H_TABLE, H_OLD_TABLE, H_NEXT_TABLE)
    const mapBlocks = map === null ? 0 : 1 + [5, 7, 11].filter((k) => heap.u32[(map.address >>> 2) + k] !== 0).length;
    ensure(gc.stats().liveBlocks === all.size + arrayBlocks + mapBlocks,
      () => `after collect(): ${gc.stats().liveBlocks} live blocks, the model has ${all.size} records, ${arrayBlocks} array and ${mapBlocks} map blocks`);
  };
  const verify = () => {
    for (const r of reachable()) {
      ensure(gc.owns(r.addr), () => `a reachable record at 0x${r.addr.toString(16)} is not a collected block`);
      cur.addr = r.addr;
      ensure(cur.value === r.value && cur.name === r.name, () => `the record at 0x${r.addr.toString(16)} holds ${cur.value} "${cur.name}", expected ${r.value} "${r.name}"`);
      for (const f of FIELDS) ensure(cur[f] === (r[f] === null ? 0 : r[f].addr), () => `field ${f} of 0x${r.addr.toString(16)}`);
    }
    if (elements !== null) for (let i = 0; i < elements.length; i++) ensure(arr.get(i) === (elements[i] === null ? 0 : elements[i].addr), () => `array element ${i}`);
    if (map !== null) {
      ensure(map.size === entries.size, () => `the map holds ${map.size} entries, the model ${entries.size}`);
      for (const [k, r] of entries) ensure(map.getRef(k) === r.addr, () => `the map's record of key ${k}`);
      map.check();
    }
  };
  const unchanged = () => {
    gc.check(); // stops a running helper thread (it goes on at the next step), so that the image holds still
    const image = imageOf(heap.buffer);
    return (kind) => {
      sameImage(image, heap.buffer, `misuse "${kind}"`);
      heap.check();
    };
  };

  const ops = [
    [30, "alloc", () => {
      const live = [...reachable()];
      for (let k = p.int(1, 12); k > 0; k--) {
        const r = make();
        const where = p.next();
        const to = pickLive(live);
        if (where < 0.6 && to !== null) setField(to, p.pick(FIELDS), r);
        else if (where < 0.7) {
          const name = `n${p.int(0, 5)}`;
          roots.set(name, r);
          heap.setRoot(name, r.addr);
        } else if (where < 0.8 && elements !== null) {
          arr.push(r.addr);
          elements.push(r);
        }
        if (p.chance(0.3)) setField(r, p.pick(FIELDS), p.chance(0.2) ? r : pickLive(live));
        live.push(r);
      }
    }],
    [20, "relink", () => {
      const live = [...reachable()];
      const r = pickLive(live);
      if (r !== null) setField(r, p.pick(FIELDS), p.chance(0.4) ? null : pickLive(live));
    }],
    [12, "move", () => {
      // Move a reference: copy it into another record, then cut the original
      // (the lost-object pattern when the copy lands in a scanned record).
      const live = [...reachable()].filter((r) => r.a !== null || r.b !== null);
      if (live.length === 0) return;
      const from = p.pick(live);
      const f = from.a !== null && (from.b === null || p.chance(0.5)) ? "a" : "b";
      setField(pickLive([...reachable()]), p.pick(FIELDS), from[f]);
      if (from[f] !== null) setField(from, f, null);
    }],
    [4, "root", () => {
      const name = `n${p.int(0, 5)}`;
      const to = p.chance(0.5) ? null : pickLive([...reachable()]);
      if (to === null) roots.delete(name);
      else roots.set(name, to);
      heap.setRoot(name, to === null ? 0 : to.addr);
    }],
    [4, "handle", () => {
      const live = [...reachable()].filter((r) => !handles.has(r));
      if (handles.size > 0 && p.chance(0.5)) {
        const [r, h] = p.pick([...handles]);
        h.dispose();
        handles.delete(r);
        ensure(gc.owns(r.addr), "disposing a handle freed a collected record");
      } else if (live.length > 0) {
        const r = p.pick(live);
        handles.set(r, heap.handle(r.addr));
      }
    }],
    [4, "scope", () => {
      if (scopes.length > 0 && (scopes.length >= 4 || p.chance(0.5))) {
        const i = p.int(0, scopes.length - 1); // any order
        scopes[i].scope.dispose();
        scopes.splice(i, 1);
      } else {
        scopes.push({ scope: heap.scope(), pins: new Set() });
      }
    }],
    [4, "array", () => {
      if (elements === null) {
        arr = new OffHeapArray(heap, "ref", { collector: gc, capacity: p.pick([0, 0, 4, 100]) });
        heap.setRoot("arr", arr.address);
        elements = [];
      } else if (elements.length > 0 && p.chance(0.6)) {
        const i = p.int(0, elements.length - 1);
        const to = p.chance(0.5) ? null : pickLive([...reachable()]);
        arr.set(i, to === null ? 0 : to.addr);
        elements[i] = to;
      } else if (elements.length > 0 && p.chance(0.7)) {
        arr.pop();
        elements.pop();
      } else {
        arr.clear();
        elements = [];
      }
    }],
    [6, "map", () => {
      if (map === null) {
        if (scopes.length > 0) return; // a scope would pin the header, which the model counts only while the map is rooted
        map = new OffHeapMap(heap, { key: p.pick(["u32", "string"]), value: Rec, collector: gc });
        heap.setRoot("map", map.address);
        return;
      }
      const key = () => (map.keyType === "u32" ? p.int(0, 400) : `k${p.int(0, 400)}`);
      const c = p.next();
      if (c < 0.5) {
        // A burst of inserts and resets (set on a present key resets its record in place), so the table grows and migrates.
        const live = [...reachable()];
        for (let k = p.int(1, 40); k > 0; k--) {
          const kk = key();
          const value = p.int(0, 2 ** 32 - 1);
          const name = p.chance(0.3) ? `m${serial++}` : "";
          map.set(kk, { value, name });
          const old = entries.get(kk);
          if (old !== undefined) Object.assign(old, { value, name, a: null, b: null });
          else {
            const r = { addr: map.getRef(kk), value, name, a: null, b: null };
            entries.set(kk, r);
            all.add(r);
            if (p.chance(0.3)) setField(r, p.pick(FIELDS), pickLive(live));
            if (p.chance(0.3) && live.length > 0) setField(p.pick(live), p.pick(FIELDS), r);
          }
        }
      } else if (c < 0.85) {
        // Deletes: a record lives on while a ref elsewhere reaches it.
        for (let k = p.int(1, 30); k > 0; k--) {
          const kk = entries.size > 0 && p.chance(0.8) ? p.pick([...entries.keys()]) : key();
          ensure(map.delete(kk) === entries.delete(kk), () => `delete(${kk})`);
        }
      } else if (c < 0.95) {
        map.clear();
        entries.clear();
      } else {
        map.dispose();
        heap.setRoot("map", 0);
        map = null;
        entries.clear();
      }
    }],
    [25, "step", () => {
      if (gc.phase === "idle") {
        atStart = new Set(all);
        reachAtStart = reachable();
      }
      const cycles = gc.stats().cycles;
      gc.step(p.pick([0, 0, 0, 0.05])); // with growth 0.5 a step from idle may start no cycle
      ended(cycles);
    }],
    [2, "collect", () => {
      // collect() finishes the cycle in progress and runs a fresh one: exactly the reachable records are left.
      gc.collect();
      atStart = reachAtStart = null;
      countAfterCollect();
    }],
    [3, "misuse", () => {
      const live = [...reachable()];
      const choice = p.int(0, 2);
      if (choice === 0 && live.length > 0) {
        const r = p.pick(live);
        p.misuse("collector: heap.free of a collected record", () => heap.free(r.addr), OffheapTypeError, TYPE, unchanged());
      } else if (choice === 1 && live.length > 0) {
        const r = p.pick(live);
        p.misuse("collector: Type.free of a collected record", () => Rec.free(heap, r.addr), OffheapTypeError, TYPE, unchanged());
      } else {
        p.misuse("collector: step with a bad budget", () => gc.step(p.pick([-1, NaN, Infinity, "1"])), OffheapRangeError, RANGE, unchanged());
      }
    }],
  ];

  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    gc.check();
    verify();
    if (p.step % 20 === 0) heap.check();
    p.counts.steps++;
  }
  p.op = "teardown";
  for (const h of handles.values()) h.dispose();
  handles.clear();
  for (const s of scopes) s.scope.dispose();
  scopes.length = 0;
  for (const name of roots.keys()) heap.setRoot(name, 0);
  roots.clear();
  if (arr !== null) heap.setRoot("arr", 0);
  arr = elements = null;
  if (map !== null) heap.setRoot("map", 0);
  map = null;
  entries.clear();
  gc.collect();
  ensure(gc.stats().liveBlocks === 0 && gc.stats().liveBytes === 0, () => `${gc.stats().liveBlocks} collected blocks left with no roots`);
  gc.check();
  heap.check();
  gc.dispose(); // ends a helper thread now (a dropped heap's would end when V8 collects it)
}
