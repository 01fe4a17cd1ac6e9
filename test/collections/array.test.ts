// OffHeapArray: model-based tests against a JS array (random pushes, pops,
// sets, reserves, clears and re-opens on a copy of the image) for scalar
// and record elements, with check() and heap.check() after every step;
// then the errors. OFFHEAP_SEED replays a run.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/index.js";
import { defineStruct, DisposedError, OffHeapArray, type ElementType } from "../../src/collections/index.js";
import { expectError, expectRejected, MIB } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const MAX_SIZE = 32 * MIB;

const Rec = defineStruct({ x: "f64", label: "string", n: "u16", flag: "bool", raw: "bytes[4]", big: "u64" });
const fullRec = (v: unknown): unknown => {
  const r = { x: 0, label: "", n: 0, flag: false, raw: new Uint8Array(4), big: 0n, ...(v as object) };
  const raw = new Uint8Array(4);
  raw.set(r.raw);
  return { ...r, raw, n: r.n & 0xffff };
};

interface Kind {
  name: string;
  type: ElementType;
  arb: fc.Arbitrary<unknown>;
  /** The value get() gives back for `v` (typed-array conversion). */
  plain(v: unknown): unknown;
}

const KINDS: Kind[] = [
  { name: "f64", type: "f64", arb: fc.double(), plain: (v) => v },
  { name: "i32", type: "i32", arb: fc.integer(), plain: (v) => v },
  { name: "u8", type: "u8", arb: fc.integer({ min: -300, max: 300 }), plain: (v) => (v as number) & 255 },
  { name: "f32", type: "f32", arb: fc.float(), plain: (v) => Math.fround(v as number) },
  { name: "i64", type: "i64", arb: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), plain: (v) => v },
  {
    name: "record", type: Rec, plain: fullRec,
    arb: fc.record({ x: fc.double(), label: fc.string({ maxLength: 12 }), n: fc.nat({ max: 70000 }), flag: fc.boolean(), raw: fc.uint8Array({ maxLength: 4 }), big: fc.bigUint64Array({ minLength: 1, maxLength: 1 }).map((a) => a[0]!) }, { requiredKeys: [] }),
  },
];

interface Model {
  kind: Kind;
  items: unknown[];
}
interface Real {
  heap: Heap;
  arr: OffHeapArray<ElementType>;
}

let steps = 0;

function plainOf(v: unknown): unknown {
  return v !== null && typeof v === "object" && "toObject" in v ? (v as { toObject(): unknown }).toObject() : v;
}

function verify(m: Model, r: Real, full = false): void {
  steps++;
  r.arr.check();
  r.heap.check();
  assert.equal(r.arr.length, m.items.length);
  assert.ok(r.arr.capacity >= r.arr.length);
  if (full) assert.deepEqual(r.arr.toArray(), m.items.map((v) => m.kind.plain(v)));
  else if (m.items.length > 0) assert.deepEqual(plainOf(r.arr.get(m.items.length - 1)), m.kind.plain(m.items.at(-1)));
}

const cmd = <A extends unknown[]>(name: string, pre: (m: Model) => boolean, run: (m: Model, r: Real, ...a: A) => void) =>
  (...a: A): fc.Command<Model, Real> => ({
    check: pre,
    run: (m, r) => {
      run(m, r, ...a);
      verify(m, r);
    },
    toString: () => `${name}(${a.map((x) => fc.stringify(x)).join(", ")})`,
  });

const push = cmd("push", () => true, (m, r, v: unknown) => {
  assert.equal(r.arr.push(v as never), m.items.push(v));
});
const pushMany = cmd("pushMany", () => true, (m, r, n: number, seed: number) => {
  for (const v of fc.sample(m.kind.arb, { seed, numRuns: n })) {
    r.arr.push(v as never);
    m.items.push(v);
  }
});
const pop = cmd("pop", () => true, (m, r) => {
  assert.deepEqual(r.arr.pop(), m.items.length === 0 ? undefined : m.kind.plain(m.items.pop()));
});
const set = cmd("set", (m) => m.items.length > 0, (m, r, pick: number, v: unknown) => {
  const i = pick % m.items.length;
  r.arr.set(i, v as never);
  m.items[i] = v;
  assert.deepEqual(plainOf(r.arr.get(i)), m.kind.plain(v));
});
const reserve = cmd("reserve", () => true, (m, r, n: number) => {
  r.arr.reserve(n);
  assert.ok(r.arr.capacity >= n);
});
const clear = cmd("clear", () => true, (m, r) => {
  r.arr.clear();
  m.items.length = 0;
  assert.equal(r.heap.stats().liveBlocks, 1, "clear leaves only the header block");
});
const reopen = cmd("reopenCopy", () => true, (m, r) => {
  const bytes = new Uint8Array(r.heap.buffer);
  const memory = new WebAssembly.Memory({ initial: bytes.length / 65536, maximum: MAX_SIZE / 65536 });
  new Uint8Array(memory.buffer).set(bytes);
  r.heap = Heap.attach(memory);
  r.arr = OffHeapArray.open(r.heap, r.arr.address, m.kind.type);
  verify(m, r, true);
  assert.deepEqual([...r.arr].map(plainOf), m.items.map((v) => m.kind.plain(v)));
});

describe("OffHeapArray model", () => {
  for (const [i, kind] of KINDS.entries()) {
    const seed = (SEED + i) >>> 0;
    test(`${kind.name} elements behave as an Array (seed ${seed}; replay: OFFHEAP_SEED=${SEED})`, () => {
      steps = 0;
      const commands = [
        fc.oneof(
          { weight: 30, arbitrary: kind.arb.map((v) => push(v)) },
          { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 10, max: 200 }), fc.nat()).map(([n, s]) => pushMany(n, s)) },
          { weight: 15, arbitrary: fc.constant(null).map(() => pop()) },
          { weight: 15, arbitrary: fc.tuple(fc.nat(), kind.arb).map(([p, v]) => set(p, v)) },
          { weight: 2, arbitrary: fc.nat({ max: 600 }).map((n) => reserve(n)) },
          { weight: 1, arbitrary: fc.constant(null).map(() => clear()) },
          { weight: 2, arbitrary: fc.constant(null).map(() => reopen()) },
        ),
      ];
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 150, size: "max" }), (cmds) => {
          const setup = () => {
            const heap = new Heap({ initialSize: 256 << 10, maxSize: MAX_SIZE });
            return { model: { kind, items: [] } as Model, real: { heap, arr: new OffHeapArray(heap, kind.type) } };
          };
          fc.modelRun(setup, cmds);
        }),
        { seed, numRuns: 15 },
      );
      console.log(`${kind.name}: ${steps} steps checked`);
    });
  }
});

describe("OffHeapArray API", () => {
  test("push and set with record values whose getter changes the array: the getter runs first", () => {
    // They read the array's length and data before the values: a getter that pushed, popped or
    // disposed left a dangling string, a write past the length, or a read of the freed header.
    const heap = new Heap({ maxSize: 64 * MIB });
    const R = defineStruct({ s: "string", n: "u32" });
    const a = new OffHeapArray(heap, R);
    a.push({ s: "0" });
    a.push({ get s() { for (let i = 0; i < 100; i++) a.push({ s: `in${i}`, n: i }); return "outer"; }, n: 999 });
    assert.equal(a.length, 102);
    assert.deepEqual(R.read(heap, a.addrOf(101)), { s: "outer", n: 999 });
    a.check();
    expectError(() => a.set(101, { get s() { a.pop(); a.pop(); return "x"; } }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "index"); // the getter's pops happened first
    assert.equal(a.length, 100);
    a.check();
    const b = new OffHeapArray(heap, R);
    expectError(() => b.push({ get s() { b.dispose(); return "x"; } }), DisposedError, "ERR_OFFHEAP_DISPOSED");
    heap.check();
    a.dispose();
    assert.equal(heap.stats().liveBlocks, 0);
  });

  test("indexes out of range throw RangeError and change nothing", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const a = new OffHeapArray(heap, "u32");
    a.push(1);
    for (const i of [-1, 1, 1.5, NaN, 2 ** 32]) {
      expectRejected(heap, () => a.get(i), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "index");
      expectRejected(heap, () => a.set(i, 3), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "index");
    }
    expectRejected(heap, () => a.push("1" as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "push");
    const r = new OffHeapArray(heap, Rec);
    expectRejected(heap, () => r.push({ label: 3 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "label");
    expectRejected(heap, () => r.push({ raw: new Uint8Array(5) }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "bytes[4]");
    expectError(() => new OffHeapArray(heap, "u7" as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "u7");
  });

  test("records: addrOf with a cursor reads and writes in place; growth keeps the values", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const pts = new OffHeapArray(heap, Rec, { capacity: 2 });
    for (let i = 0; i < 1000; i++) pts.push({ x: i, label: `p${i}` });
    const cur = Rec.at(heap, 0);
    let sum = 0;
    for (let i = 0; i < pts.length; i++) {
      cur.addr = pts.addrOf(i);
      sum += cur.x;
      cur.n = i;
    }
    assert.equal(sum, (999 * 1000) / 2);
    assert.equal(pts.get(500).n, 500);
    assert.equal(pts.get(999).label, "p999");
    pts.check();
    pts.dispose();
    assert.equal(heap.stats().liveBlocks, 0, "dispose frees the records' strings too");
    expectError(() => pts.length, DisposedError, "ERR_OFFHEAP_DISPOSED", "OffHeapArray.length");
    // Disposed is the first error a call reports, before its values are read (fuzz seed 1892783805).
    expectError(() => pts.push(0 as never), DisposedError, "ERR_OFFHEAP_DISPOSED", "OffHeapArray.push");
    expectError(() => pts.set(0, 0 as never), DisposedError, "ERR_OFFHEAP_DISPOSED", "OffHeapArray.set");
  });

  test("open checks the header and the element type", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const a = new OffHeapArray(heap, "f64");
    a.push(2.5);
    expectError(() => OffHeapArray.open(heap, a.address, "f32"), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "f32");
    expectError(() => OffHeapArray.open(heap, heap.alloc(32), "f64"), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "not the header");
    expectError(() => OffHeapArray.open(heap, 12345, "f64"), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    assert.equal(OffHeapArray.open(heap, a.address, "f64").get(0), 2.5);
    // A header whose fields would send get/set past its element block is refused, as check() refuses it.
    const w = a.address >>> 2;
    for (const [field, value, id] of [[2, 1 << 20, "A2"], [3, 1 << 20, "A2"], [5, 4, "A1"]] as const) {
      const saved = heap.u32[w + field]!;
      heap.u32[w + field] = value;
      expectError(() => OffHeapArray.open(heap, a.address, "f64"), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", id, "OffHeapArray.open");
      heap.u32[w + field] = saved;
    }
    a.check();
  });
});
