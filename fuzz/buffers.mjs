// Buffers-layer programs (see run.mjs): RangeAllocator (both indexes) and
// BuddyAllocator against exact models, ScalableAllocator and
// RecyclableMemory on a heap, with patterns in every handed-out byte,
// validators after every step, and deliberate misuse that must throw its
// typed error and change nothing.
import { Heap, InvalidAddressError, DoubleFreeError, OffheapRangeError, OffheapTypeError, OutOfMemoryError } from "offheap";
import { BuddyAllocator, RangeAllocator, RecyclableMemory, ScalableAllocator } from "offheap/buffers";
import { CODES, checkPattern, checkWindows, ensure, fillPattern, imageOf, sameImage, sameValue } from "./lib.mjs";

const MIB = 1 << 20;
const { RANGE, TYPE, DOUBLE, INVALID } = CODES;

/** RangeAllocator against a model of its free ranges: every result must be the true best fit. */
export function rangeProgram(p, steps, { index }) {
  const size = p.pick([64, 1000, 4096, 65536, MIB]);
  p.note = `${index} index, region ${size} bytes`;
  const ra = new RangeAllocator(size, { index });
  const shadow = new Uint8Array(size);
  let free = [{ offset: 0, size }]; // the model: free ranges in address order, coalesced
  let pieces = []; // allocated ranges: { offset, size, id, at } (at: pattern index of the first byte)
  let nextId = 1;

  const bestFit = (n) => {
    let best = null;
    for (const r of free) if (r.size >= n && (best === null || r.size < best.size)) best = r;
    return best;
  };
  const modelFree = (offset, n) => {
    free.push({ offset, size: n });
    free.sort((a, b) => a.offset - b.offset);
    const merged = [];
    for (const r of free) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last.offset + last.size === r.offset) last.size += r.size;
      else merged.push({ ...r });
    }
    free = merged;
  };
  const verifyPiece = (q) => checkWindows(shadow, q.offset, q.size, q.id, `range [${q.offset}, ${q.offset + q.size})`, q.at, (lo, hi) => p.int(lo, hi));
  const validate = (full) => {
    ra.check();
    sameValue(ra.blocks(), free, "blocks()");
    ensure(ra.freeSize === free.reduce((s, r) => s + r.size, 0) && ra.rangeCount === free.length, "freeSize or rangeCount disagrees with the free ranges");
    if (full) for (const q of pieces) verifyPiece(q);
  };
  const unchanged = () => {
    const mem = ra.nodes.mem.slice();
    const blocks = ra.blocks();
    const freeSize = ra.freeSize;
    return (kind) => {
      ensure(Buffer.from(mem.buffer).equals(Buffer.from(ra.nodes.mem.slice().buffer)), `misuse "${kind}": the node table changed`);
      sameValue(ra.blocks(), blocks, `misuse "${kind}": blocks()`);
      ensure(ra.freeSize === freeSize, `misuse "${kind}": freeSize changed`);
      ra.check();
    };
  };
  const misuse = (kind, fn, type, code) => p.misuse(kind, fn, type, code, unchanged());

  const ops = [
    [30, "allocate", () => {
      const n = p.size(Math.max(1, size >>> 6), size);
      if (n === 0) return;
      const want = bestFit(n);
      ensure(ra.find(n) === (want === null ? -1 : want.offset), `find(${n}) is not the best fit`);
      const got = ra.allocate(n);
      ensure(got === (want === null ? -1 : want.offset), () => `allocate(${n}) = ${got}, the best fit is ${want === null ? -1 : want.offset}`);
      if (got < 0) return;
      want.offset += n;
      want.size -= n;
      if (want.size === 0) free = free.filter((r) => r !== want);
      const q = { offset: got, size: n, id: nextId++, at: 0 };
      fillPattern(shadow, got, n, q.id);
      pieces.push(q);
    }],
    [25, "free part", () => {
      if (pieces.length === 0) return;
      const i = p.int(0, pieces.length - 1);
      const q = pieces[i];
      verifyPiece(q);
      const from = p.chance(0.5) ? 0 : p.int(0, q.size - 1);
      const to = p.chance(0.5) ? q.size : p.int(from + 1, q.size);
      ra.free(q.offset + from, to - from);
      modelFree(q.offset + from, to - from);
      const rest = [];
      if (from > 0) rest.push({ offset: q.offset, size: from, id: q.id, at: q.at });
      if (to < q.size) rest.push({ offset: q.offset + to, size: q.size - to, id: q.id, at: q.at + to });
      pieces.splice(i, 1, ...rest);
    }],
    [5, "free adjacent pieces", () => {
      pieces.sort((a, b) => a.offset - b.offset);
      const i = pieces.findIndex((q, j) => j + 1 < pieces.length && q.offset + q.size === pieces[j + 1].offset);
      if (i < 0) return;
      const [a, b] = [pieces[i], pieces[i + 1]];
      ra.free(a.offset, a.size + b.size);
      modelFree(a.offset, a.size + b.size);
      pieces.splice(i, 2);
    }],
    [1, "reset", () => {
      ra.reset();
      free = [{ offset: 0, size }];
      pieces = [];
    }],
    [12, "misuse", () => {
      const choice = p.int(0, 4);
      if (choice === 0 && free.length > 0) {
        const r = p.pick(free);
        const at = r.offset + p.int(0, r.size - 1); // a free byte inside the range
        const from = Math.max(0, at - p.int(0, 16));
        const n = Math.min(size - from, at - from + 1 + p.int(0, 16));
        misuse("range: free of a free range (double free)", () => ra.free(from, n), DoubleFreeError, DOUBLE);
      } else if (choice === 1) {
        const [offset, n] = p.pick([[size - 1, 2], [size, 1], [-1, 1], [1.5, 1], [0, size + 1]]);
        misuse("range: free outside the region", () => ra.free(offset, n), InvalidAddressError, INVALID);
      } else if (choice === 2) {
        const bad = p.pick([0, -1, 1.5, NaN, 2 ** 33]);
        const call = p.pick(["allocate", "find", "free"]);
        misuse(`range: ${call} of a bad size`, () => (call === "free" ? ra.free(0, bad) : ra[call](bad)), OffheapRangeError, RANGE);
      } else if (choice === 3) {
        const call = p.pick(["allocate", "find"]);
        misuse(`range: ${call} of a non-number`, () => ra[call]("8"), OffheapTypeError, TYPE);
      } else {
        misuse("range: free at a non-number offset", () => ra.free("0", 1), OffheapTypeError, TYPE);
      }
    }],
  ];
  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    validate(p.step % 16 === 0);
    p.counts.steps++;
  }
}

/** BuddyAllocator against a per-unit ownership model: blocks aligned, disjoint, and -1 only when no aligned block is free. */
export function buddyProgram(p, steps) {
  const units = p.chance(0.3) ? 2 ** p.int(0, 12) : p.int(1, 5000);
  const unitSize = p.pick([1, 8, 64, 100]);
  p.note = `${units} units of ${unitSize} bytes`;
  const b = new BuddyAllocator({ units, unitSize });
  const owner = new Int32Array(units).fill(-1);
  const live = new Map(); // start unit -> { order, id }
  const shadow = new Uint8Array(units * unitSize);
  let nextId = 1;
  let freeUnits = units;

  const orderOf = (n) => (n === 1 ? 0 : 32 - Math.clz32(n - 1));
  const verify = (unit) => {
    const { order, id } = live.get(unit);
    checkPattern(shadow, unit * unitSize, Math.min((1 << order) * unitSize, 4096), id, `buddy block at unit ${unit}`);
  };
  const release = (unit) => {
    verify(unit);
    const { order } = live.get(unit);
    b.free(unit * unitSize);
    owner.fill(-1, unit, unit + (1 << order));
    live.delete(unit);
    freeUnits += 1 << order;
    return order;
  };
  const unchanged = () => {
    const longest = b.longest.slice();
    const orderAt = b.orderAt.slice();
    const nFree = b.freeUnits;
    return (kind) => {
      ensure(Buffer.from(longest).equals(Buffer.from(b.longest)) && Buffer.from(orderAt).equals(Buffer.from(b.orderAt)), `misuse "${kind}": the tables changed`);
      ensure(b.freeUnits === nFree, `misuse "${kind}": freeUnits changed`);
      b.check();
    };
  };
  const misuse = (kind, fn, type, code) => p.misuse(kind, fn, type, code, unchanged());
  const randomLive = () => (live.size === 0 ? -1 : [...live.keys()][p.int(0, live.size - 1)]);

  const ops = [
    [35, "alloc", () => {
      const n = p.chance(0.8) ? p.int(1, Math.min(units, 16)) : p.int(1, units);
      const k = orderOf(n);
      const off = b.alloc(n);
      if (off < 0) {
        for (let s = 0; s + (1 << k) <= units; s += 1 << k) {
          let allFree = true;
          for (let u = s; u < s + (1 << k) && allFree; u++) allFree = owner[u] === -1;
          ensure(!allFree, () => `alloc(${n}) = -1, but the ${1 << k} units at ${s} are free`);
        }
        return;
      }
      const unit = off / unitSize;
      ensure(Number.isInteger(unit) && unit % (1 << k) === 0 && unit + (1 << k) <= units, () => `alloc(${n}) = offset ${off}: not an aligned block of ${1 << k} units inside the arena`);
      for (let u = unit; u < unit + (1 << k); u++) ensure(owner[u] === -1, () => `alloc(${n}) = unit ${unit}, overlapping the live block of unit ${u}`);
      ensure(b.sizeOf(off) === 1 << k, `sizeOf(${off}) is not ${1 << k}`);
      const id = nextId++;
      owner.fill(id, unit, unit + (1 << k));
      live.set(unit, { order: k, id });
      freeUnits -= 1 << k;
      fillPattern(shadow, off, Math.min((1 << k) * unitSize, 4096), id);
    }],
    [30, "free", () => {
      const unit = randomLive();
      if (unit >= 0) release(unit);
    }],
    [1, "reset", () => {
      b.reset();
      owner.fill(-1);
      live.clear();
      freeUnits = units;
    }],
    [14, "misuse", () => {
      const choice = p.int(0, 5);
      const unit = randomLive();
      if (choice === 0 && unit >= 0) {
        release(unit);
        misuse("buddy: double free", () => b.free(unit * unitSize), DoubleFreeError, DOUBLE);
      } else if (choice === 1 && unit >= 0 && live.get(unit).order > 0) {
        const j = p.int(1, (1 << live.get(unit).order) - 1);
        misuse("buddy: free inside a live block", () => b.free((unit + j) * unitSize), InvalidAddressError, INVALID);
      } else if (choice === 2 && unitSize > 1 && unit >= 0) {
        misuse("buddy: free of an offset between units", () => b.free(unit * unitSize + p.int(1, unitSize - 1)), InvalidAddressError, INVALID);
      } else if (choice === 3) {
        const bad = p.pick([units * unitSize, -unitSize, 1.5, NaN, 2 ** 40]);
        misuse("buddy: free outside the arena", () => b.free(bad), InvalidAddressError, INVALID);
      } else if (choice === 4) {
        const [bad, type, code] = p.pick([[0, OffheapRangeError, RANGE], [-1, OffheapRangeError, RANGE], [1.5, OffheapRangeError, RANGE],
          [2 ** 31, OffheapRangeError, RANGE], ["1", OffheapTypeError, TYPE]]);
        misuse("buddy: alloc of a bad unit count", () => b.alloc(bad), type, code);
      } else if (choice === 5) {
        misuse("buddy: free of a non-number", () => b.free(p.pick(["0", null, {}])), OffheapTypeError, TYPE);
      }
    }],
  ];
  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    b.check();
    ensure(b.freeUnits === freeUnits, () => `freeUnits is ${b.freeUnits}, the model has ${freeUnits}`);
    p.counts.steps++;
  }
}

// A heap for the buffers layer: memory whose views survive growth.
function buffersHeap(p) {
  const kind = p.pick(["wasm", "resizable", "sab"]);
  const maxSize = p.pick([8, 16, 32]) * MIB;
  return { heap: new Heap({ maxSize, initialSize: 256 * 1024, memory: kind === "sab" ? new SharedArrayBuffer(maxSize) : kind }), kind, maxSize };
}

/**
 * ScalableAllocator (and, with `recyclable`, RecyclableMemory over it) on a
 * heap shared with blocks the program allocates directly.
 */
export function scalableProgram(p, steps, { recyclable }) {
  const { heap, kind, maxSize } = buffersHeap(p);
  const initialSize = p.pick([256, 4096, 65536]);
  const debug = p.chance(0.3) ? { quarantineBytes: p.pick([0, 4096, 65536]), stacks: p.pick([false, 8]) } : false;
  const sa = new ScalableAllocator(heap, { initialSize, maxRegionSize: p.pick([initialSize, 65536, MIB, 4 * MIB]), debug });
  const mem = recyclable ? new RecyclableMemory(sa) : null;
  p.note = `${kind} memory, maxSize ${maxSize >> 20} MiB, initialSize ${initialSize}${debug ? `, debug ${JSON.stringify(debug)}` : ""}`;
  let pieces = []; // live ranges: { view, id, at } (at: pattern index of view[0])
  let remembered = []; // pieces owned by `mem` (freed by recycle)
  let nRemembered = 0;
  const freed = []; // views freed earlier
  const direct = new Map(); // heap blocks the program allocated itself: addr -> { id, size }
  let nextId = 1;

  const verifyPiece = (q) => checkWindows(q.view, 0, q.view.length, q.id, `view at 0x${q.view.byteOffset.toString(16)} (${q.view.length} B)`, q.at, (lo, hi) => p.int(lo, hi));
  const verifyAll = () => {
    for (const q of pieces) verifyPiece(q);
    for (const q of remembered) verifyPiece(q);
    for (const [a, { id, size }] of direct) checkPattern(heap.u8, a, size, id, `heap block 0x${a.toString(16)}`);
  };
  const inUse = () => [...pieces, ...remembered].reduce((s, q) => s + q.view.length, 0);
  const validate = (full) => {
    sa.check();
    heap.check();
    ensure(sa.inUse === inUse(), () => `inUse is ${sa.inUse}, the program holds ${inUse()} bytes`);
    if (mem !== null) ensure(mem.buffers === nRemembered, () => `buffers is ${mem.buffers}, the program remembered ${nRemembered}`);
    if (full) verifyAll();
  };
  const take = (fn, n) => {
    try {
      return fn(n);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      p.event("buffers: out of memory (expected)");
      return null;
    }
  };
  const track = (view, list) => {
    if (view === null || view.length === 0) return;
    const q = { view, id: nextId++, at: 0 };
    fillPattern(view, 0, view.length, q.id);
    list.push(q);
  };
  const unchanged = () => {
    const image = imageOf(heap.buffer);
    const totals = [sa.totalMalloc, sa.totalFree, sa.regions, sa.size, mem?.buffers];
    return (kind) => {
      sameImage(image, heap.buffer, `misuse "${kind}"`);
      sameValue([sa.totalMalloc, sa.totalFree, sa.regions, sa.size, mem?.buffers], totals, `misuse "${kind}": the allocator's totals`);
      sa.check();
      heap.check();
    };
  };
  const misuse = (kind, fn, type, code, alternatives) => p.misuse(kind, fn, type, code, unchanged(), alternatives);
  // True if [off, off + n) of the heap overlaps no live piece and no direct block.
  const unowned = (off, n) => [...pieces, ...remembered].every((q) => off + n <= q.view.byteOffset || q.view.byteOffset + q.view.length <= off) &&
    [...direct].every(([a, d]) => off + n <= a || a + Math.max(8, d.size) <= off);
  const size = () => (p.chance(0.9) ? p.size(512, 8192) : p.int(8193, 300_000));

  const ops = [
    [25, "malloc", () => track(take((n) => sa.malloc(n), size()), pieces)],
    [20, "free part", () => {
      if (pieces.length === 0) return;
      const i = p.int(0, pieces.length - 1);
      const q = pieces[i];
      verifyPiece(q);
      const n = q.view.length;
      const from = p.chance(0.5) ? 0 : p.int(0, n - 1);
      const to = p.chance(0.5) ? n : p.int(from + 1, n);
      const part = q.view.subarray(from, to);
      if (p.chance(0.3) && to === n && from > 0) {
        const kept = sa.freeRest(q.view, from);
        ensure(kept.length === from && kept.byteOffset === q.view.byteOffset, "freeRest returned the wrong view");
      } else {
        sa.free(part);
      }
      freed.push(part);
      if (freed.length > 32) freed.shift();
      const rest = [];
      if (from > 0) rest.push({ view: q.view.subarray(0, from), id: q.id, at: q.at });
      if (to < n) rest.push({ view: q.view.subarray(to), id: q.id, at: q.at + to });
      pieces.splice(i, 1, ...rest);
    }],
    [4, "borrow", () => {
      const v = take((n) => sa.borrow(n), p.int(0, 5000));
      if (v !== null) v.fill(0xee);
    }],
    [6, "heap block", () => {
      if (direct.size > 20 && p.chance(0.7)) {
        const [a, { id, size: n }] = [...direct][p.int(0, direct.size - 1)];
        checkPattern(heap.u8, a, n, id, `heap block 0x${a.toString(16)}`);
        heap.free(a);
        direct.delete(a);
        return;
      }
      const n = p.int(1, 3000);
      const a = take((m) => heap.alloc(m), n);
      if (a === null) return;
      const id = nextId++;
      fillPattern(heap.u8, a, n, id);
      direct.set(a, { id, size: n });
    }],
    [1, "recycle", () => {
      mem?.recycle(); // first: after sa.recycle() its records would name free ranges
      sa.recycle();
      pieces = [];
      remembered = [];
      nRemembered = 0;
    }],
    [2, "trim", () => {
      sa.trim();
      verifyAll();
    }],
    [mem === null ? 0 : 12, "nextN", () => {
      const v = take((n) => mem.nextN(n), size());
      if (v === null) return;
      nRemembered++;
      track(v, remembered);
    }],
    [mem === null ? 0 : 4, "addRecycleBytes", () => {
      if (pieces.length === 0) return;
      const [q] = pieces.splice(p.int(0, pieces.length - 1), 1);
      mem.addRecycleBytes(q.view);
      nRemembered++;
      remembered.push(q);
    }],
    [mem === null ? 0 : 3, "recycle memory", () => {
      for (const q of remembered) verifyPiece(q);
      if (p.chance(0.5)) mem.recycle();
      else mem[Symbol.dispose]();
      remembered = [];
      nRemembered = 0;
    }],
    [14, "misuse", () => misuseStep()],
  ];

  const misuseStep = () => {
    const choice = p.int(0, 6);
    if (choice === 0 && freed.length > 0) {
      const v = p.pick(freed);
      if (v.length === 0 || !unowned(v.byteOffset, v.length)) return;
      const part = v.subarray(p.int(0, v.length - 1));
      misuse("scalable: free of a freed range", () => sa.free(part), DoubleFreeError, DOUBLE, [[InvalidAddressError, INVALID]]);
    } else if (choice === 1) {
      misuse("scalable: free of a view of other memory", () => sa.free(new Uint8Array(p.int(1, 64))), InvalidAddressError, INVALID);
    } else if (choice === 2 && direct.size > 0) {
      const [a, { size: n }] = [...direct][p.int(0, direct.size - 1)];
      misuse("scalable: free of heap memory outside its regions", () => sa.free(heap.bytes(a, n)), InvalidAddressError, INVALID);
    } else if (choice === 3) {
      misuse("scalable: free of a non-view", () => sa.free(p.pick(["x", null, new Uint16Array(4), [1, 2]])), OffheapTypeError, TYPE);
    } else if (choice === 4) {
      const bad = p.pick([-1, 1.5, NaN, 2 ** 32, "8"]);
      const call = p.pick(mem === null ? ["malloc", "borrow"] : ["malloc", "borrow", "nextN"]);
      const [type, code] = typeof bad === "number" ? [OffheapRangeError, RANGE] : [OffheapTypeError, TYPE];
      misuse(`scalable: ${call} of a bad size`, () => (call === "nextN" ? mem.nextN(bad) : sa[call](bad)), type, code);
    } else if (choice === 5 && pieces.length > 0) {
      const q = p.pick(pieces);
      misuse("scalable: freeRest past the view", () => sa.freeRest(q.view, p.pick([q.view.length + 1, -1, 0.5])), OffheapRangeError, RANGE);
    } else if (choice === 6 && mem !== null) {
      if (p.chance(0.5) || remembered.length === 0) {
        misuse("recyclable: addRecycleBytes of a non-view", () => mem.addRecycleBytes(p.pick(["x", 5, new Uint16Array(2)])), OffheapTypeError, TYPE);
        return;
      }
      // A remembered buffer freed behind the memory's back: recycle frees the rest, then reports
      // it (InvalidAddressError if that free emptied its region and the region went back to the heap).
      const q = remembered.splice(p.int(0, remembered.length - 1), 1)[0];
      sa.free(q.view);
      p.misuse("recyclable: recycle of a buffer freed elsewhere", () => mem.recycle(), DoubleFreeError, DOUBLE, () => {
        remembered = [];
        nRemembered = 0;
        validate(true);
      }, [[InvalidAddressError, INVALID]]);
    }
  };

  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    validate(p.step % 16 === 0);
    p.counts.steps++;
  }
  p.op = "teardown";
  verifyAll();
  sa[Symbol.dispose]();
  for (const a of direct.keys()) heap.free(a);
  heap.check();
  ensure(heap.stats().liveBlocks === 0, "blocks left in the heap after dispose");
}
